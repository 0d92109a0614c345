import { MAX_STATEMENTS_LIMIT } from '../../config.js';
import type { Collector } from '../types.js';
import { toNumber, type Sample } from '../metric.js';

export const STATEMENTS_AVAILABLE_METRIC = {
  name: 'postgresql_statements_available',
  help: 'Whether the pg_stat_statements extension is installed in the connected database: 1 or 0. The postgresql_statement_* families are only pushed when it is.',
  labelNames: [],
} as const;

const STATEMENT_LABELS = ['queryid', 'database', 'user', 'query'] as const;
export type StatementLabel = (typeof STATEMENT_LABELS)[number];

export const STATEMENT_CALLS_METRIC = {
  name: 'postgresql_statement_calls_total',
  help: 'Times the statement was executed, for the top statements by total execution time (pg_stat_statements.calls; top-level and nested summed). query is the normalized text, whitespace collapsed, cut to 200 characters.',
  labelNames: STATEMENT_LABELS,
} as const;

export const STATEMENT_EXEC_TIME_METRIC = {
  name: 'postgresql_statement_exec_time_seconds_total',
  help: 'Time spent executing the statement, in seconds, for the top statements by total execution time (pg_stat_statements.total_exec_time).',
  labelNames: STATEMENT_LABELS,
} as const;

export const STATEMENT_ROWS_METRIC = {
  name: 'postgresql_statement_rows_total',
  help: 'Rows retrieved or affected by the statement, for the top statements by total execution time (pg_stat_statements.rows).',
  labelNames: STATEMENT_LABELS,
} as const;

/** Where the extension is installed in the connected database, if it is; and its version. */
export const STATEMENTS_EXTENSION_QUERY = `
SELECT n.nspname, e.extversion
FROM pg_extension e
JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE e.extname = 'pg_stat_statements'`;

export const QUERY_LABEL_LENGTH = 200;

/** A SQL identifier in double quotes, embedded double quotes doubled. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * The column of total execution time in milliseconds: total_exec_time from
 * extension version 1.8 (PostgreSQL 13), total_time before (an extension not
 * updated after pg_upgrade).
 */
export function execTimeColumn(extversion: string | null | undefined): string {
  const match = /^(\d+)\.(\d+)/.exec(extversion ?? '');
  if (match === null) return 'total_exec_time';
  const major = Number(match[1]);
  const minor = Number(match[2]);
  return major > 1 || (major === 1 && minor >= 8) ? 'total_exec_time' : 'total_time';
}

/**
 * The top `limit` statements by total execution time, one row per (queryid,
 * database, user): from 14 on the view has a row for top-level and one for
 * nested execution of the same query, summed here. Statements of a database
 * or role that no longer exists are left out. The text is shortened after
 * the limit, on `limit` rows only.
 */
export function statementsQuery(schema: string, limit: number, extversion?: string | null): string {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_STATEMENTS_LIMIT) {
    throw new RangeError(
      `statements limit must be an integer 1..${MAX_STATEMENTS_LIMIT}: ${limit}`,
    );
  }
  const view = `${quoteIdentifier(schema)}.pg_stat_statements`;
  return `
SELECT
  queryid::text AS queryid,
  datname,
  rolname,
  left(btrim(regexp_replace(query, '[[:space:]]+', ' ', 'g')), ${QUERY_LABEL_LENGTH}) AS query,
  calls,
  exec_time_seconds,
  rows
FROM (
  SELECT s.queryid, d.datname, r.rolname, s.query, s.calls, s.exec_time_seconds, s.rows
  FROM (
    SELECT
      queryid,
      dbid,
      userid,
      min(query) AS query,
      sum(calls)::float8 AS calls,
      (sum(${execTimeColumn(extversion)}) / 1000)::float8 AS exec_time_seconds,
      sum(rows)::float8 AS rows
    FROM ${view}
    WHERE queryid IS NOT NULL
    GROUP BY queryid, dbid, userid
  ) s
  JOIN pg_database d ON d.oid = s.dbid
  JOIN pg_roles r ON r.oid = s.userid
  ORDER BY s.exec_time_seconds DESC, s.queryid
  LIMIT ${limit}
) top
ORDER BY exec_time_seconds DESC, queryid`;
}

export interface StatementsExtensionRow {
  readonly nspname: string;
  readonly extversion: string | null;
}

export interface StatementRow {
  readonly queryid: string | null;
  readonly datname: string | null;
  readonly rolname: string | null;
  readonly query: string | null;
  readonly calls: number | string | null;
  readonly exec_time_seconds: number | string | null;
  readonly rows: number | string | null;
}

/** Whitespace collapsed, cut to QUERY_LABEL_LENGTH characters (code points). */
export function normalizeQuery(query: string): string {
  return Array.from(query.replace(/\s+/g, ' ').trim()).slice(0, QUERY_LABEL_LENGTH).join('');
}

export function statementsSamples(rows: readonly StatementRow[]): {
  calls: Sample<StatementLabel>[];
  execTime: Sample<StatementLabel>[];
  rows: Sample<StatementLabel>[];
} {
  const samples = {
    calls: [] as Sample<StatementLabel>[],
    execTime: [] as Sample<StatementLabel>[],
    rows: [] as Sample<StatementLabel>[],
  };
  for (const row of rows) {
    if (row.queryid === null) continue;
    const labels = {
      queryid: row.queryid,
      database: row.datname ?? '',
      user: row.rolname ?? '',
      query: normalizeQuery(row.query ?? ''),
    };
    const add = (list: Sample<StatementLabel>[], value: unknown) => {
      const n = toNumber(value);
      if (n !== undefined) list.push({ labels, value: n });
    };
    add(samples.calls, row.calls);
    add(samples.execTime, row.exec_time_seconds);
    add(samples.rows, row.rows);
  }
  return samples;
}

export const statements: Collector = {
  name: 'statements',
  families: [
    STATEMENTS_AVAILABLE_METRIC,
    STATEMENT_CALLS_METRIC,
    STATEMENT_EXEC_TIME_METRIC,
    STATEMENT_ROWS_METRIC,
  ],
  // Without it, other roles' sessions (or statements) are hidden: the numbers would be low.
  needs: ['pg_read_all_stats'],
  async collect({ db, metrics, options }) {
    const [extension] = await db.query<StatementsExtensionRow>(STATEMENTS_EXTENSION_QUERY);
    if (extension === undefined) {
      metrics.gauge(STATEMENTS_AVAILABLE_METRIC, [{ labels: {}, value: 0 }]);
      return;
    }
    const rows = await db.query<StatementRow>(
      statementsQuery(extension.nspname, options.statementsLimit, extension.extversion),
    );
    const samples = statementsSamples(rows);
    metrics.gauge(STATEMENTS_AVAILABLE_METRIC, [{ labels: {}, value: 1 }]);
    metrics.counter(STATEMENT_CALLS_METRIC, samples.calls);
    metrics.counter(STATEMENT_EXEC_TIME_METRIC, samples.execTime);
    metrics.counter(STATEMENT_ROWS_METRIC, samples.rows);
  },
};
