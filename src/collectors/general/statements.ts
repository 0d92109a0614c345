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
  help: "Times the statement was executed, for the top statements by total execution time (pg_stat_statements.calls; top-level and nested summed). query is the normalized text with every string constant replaced by '?' and comments removed, whitespace collapsed, cut to 200 characters.",
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
 * the limit, on `limit` rows only: runs of ASCII whitespace collapsed (a run
 * with a line break to one line break, as a `--` comment ends there and
 * maskQueryLiterals must see where; tabs and spaces to one space; "C"
 * collation, so that no non-ASCII character, an identifier character to the
 * PostgreSQL lexer, is taken for whitespace), then cut to QUERY_LABEL_LENGTH
 * characters. The string constants in it are masked by normalizeQuery.
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
  left(
    btrim(
      regexp_replace(
        regexp_replace(query COLLATE "C", E'[[:space:]]*[\\n\\r][[:space:]]*', E'\\n', 'g'),
        '[[:blank:]]+', ' ', 'g'),
      E' \\n'),
    ${QUERY_LABEL_LENGTH}) AS query,
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

/** What every string constant becomes in the query label. */
const LITERAL_PLACEHOLDER = "'?'";

/** A masked stretch of query text, [start, end): a string constant, or a comment. */
interface MaskedSpan {
  start: number;
  end: number;
  literal: boolean;
}

const DOLLAR = 0x24;
const AMPERSAND = 0x26;
const QUOTE = 0x27;
const DOUBLE_QUOTE = 0x22;
const STAR = 0x2a;
const DASH = 0x2d;
const SLASH = 0x2f;
const BACKSLASH = 0x5c;
const LINE_FEED = 0x0a;
const CARRIAGE_RETURN = 0x0d;

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/**
 * The PostgreSQL lexer's ident_start (and dolq_start): a letter, `_`, or any
 * non-ASCII character (every byte of a multibyte character is >= 0x80 there).
 */
function isIdentStart(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c >= 0x80;
}

/** dolq_cont: ident_start or a digit; no `$`. */
function isTagChar(c: number): boolean {
  return isIdentStart(c) || isDigit(c);
}

/** ident_cont: dolq_cont or `$`, so `a$$b$$` is one identifier, not a dollar quote. */
function isIdentChar(c: number): boolean {
  return isTagChar(c) || c === DOLLAR;
}

/**
 * The end of a quoted token whose body starts at `i`: the index just past the
 * closing `quote`, or `sql.length` if it is not closed. A doubled `quote` is one
 * `quote` of the body; with `backslashEscapes` (E'...', or '...' when
 * standard_conforming_strings is off) a backslash escapes the character after it.
 */
function quotedEnd(sql: string, i: number, quote: number, backslashEscapes: boolean): number {
  const n = sql.length;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (c === quote) {
      if (sql.charCodeAt(i + 1) !== quote) return i + 1;
      i += 2;
    } else if (c === BACKSLASH && backslashEscapes) {
      i += 2;
    } else {
      i += 1;
    }
  }
  return n;
}

/**
 * The end of a dollar-quoted body that starts at `i` and is closed by `tag`
 * (`$$` or `$name$`): just past the first occurrence of `tag`, or `sql.length`.
 * Linear: a comparison started at a `$` fails at the latest at the next `$`,
 * as the tag has none but its first and last character.
 */
function dollarQuotedEnd(sql: string, i: number, tag: string): number {
  const n = sql.length;
  for (; i < n; i += 1) {
    if (sql.charCodeAt(i) !== DOLLAR) continue;
    let k = 1;
    while (k < tag.length && i + k < n && sql.charCodeAt(i + k) === tag.charCodeAt(k)) k += 1;
    if (k === tag.length) return i + k;
  }
  return n;
}

/**
 * The string constants and comments of `sql` as PostgreSQL's lexer (scan.l)
 * splits it, in order, with standard_conforming_strings on or off (a setting
 * of the session that ran the statement, which pg_stat_statements does not
 * keep). One pass; every step consumes at least one character and looks at
 * each character a bounded number of times.
 */
function maskedSpans(sql: string, standardConformingStrings: boolean): MaskedSpan[] {
  const spans: MaskedSpan[] = [];
  const n = sql.length;
  const literal = (start: number, end: number) => {
    spans.push({ start, end, literal: true });
    return end;
  };
  let i = 0;
  while (i < n) {
    const c = sql.charCodeAt(i);
    const next = sql.charCodeAt(i + 1); // NaN past the end
    if (c === DASH && next === DASH) {
      // -- to the end of the line (\n or \r), or of the text.
      let j = i + 2;
      while (j < n && sql.charCodeAt(j) !== LINE_FEED && sql.charCodeAt(j) !== CARRIAGE_RETURN) {
        j += 1;
      }
      spans.push({ start: i, end: j, literal: false });
      i = j;
    } else if (c === SLASH && next === STAR) {
      // /* ... */, nested, or to the end of the text.
      let depth = 1;
      let j = i + 2;
      while (j < n && depth > 0) {
        const d = sql.charCodeAt(j);
        const e = sql.charCodeAt(j + 1);
        if (d === SLASH && e === STAR) {
          depth += 1;
          j += 2;
        } else if (d === STAR && e === SLASH) {
          depth -= 1;
          j += 2;
        } else {
          j += 1;
        }
      }
      spans.push({ start: i, end: j, literal: false });
      i = j;
    } else if (c === QUOTE) {
      i = literal(i, quotedEnd(sql, i + 1, QUOTE, !standardConformingStrings));
    } else if (c === DOUBLE_QUOTE) {
      i = quotedEnd(sql, i + 1, DOUBLE_QUOTE, false); // an identifier: kept
    } else if (c === DOLLAR) {
      if (isDigit(next)) {
        // $1: a parameter, kept.
        i += 2;
        while (i < n && isDigit(sql.charCodeAt(i))) i += 1;
      } else {
        let j = i + 1;
        if (isIdentStart(next)) {
          j += 1;
          while (j < n && isTagChar(sql.charCodeAt(j))) j += 1;
        }
        if (sql.charCodeAt(j) === DOLLAR) {
          const tag = sql.slice(i, j + 1);
          i = literal(i, dollarQuotedEnd(sql, j + 1, tag));
        } else {
          i += 1; // a lone $: the lexer gives back all but it
        }
      }
    } else if (isIdentStart(c)) {
      const lower = c | 0x20;
      if (lower === 0x65 && next === QUOTE) {
        // E'...': backslash escapes whatever the setting.
        i = literal(i, quotedEnd(sql, i + 2, QUOTE, true));
      } else if ((lower === 0x62 || lower === 0x78) && next === QUOTE) {
        // B'...', X'...': never backslash escapes.
        i = literal(i, quotedEnd(sql, i + 2, QUOTE, false));
      } else if (lower === 0x75 && next === AMPERSAND && sql.charCodeAt(i + 2) === QUOTE) {
        // U&'...': an error with standard_conforming_strings off; as '...' with it on.
        i = literal(i, quotedEnd(sql, i + 3, QUOTE, false));
      } else if (lower === 0x75 && next === AMPERSAND && sql.charCodeAt(i + 2) === DOUBLE_QUOTE) {
        i = quotedEnd(sql, i + 3, DOUBLE_QUOTE, false); // U&"...": an identifier, kept
      } else {
        // A keyword or identifier (N'...' is N, then '...').
        i += 1;
        while (i < n && isIdentChar(sql.charCodeAt(i))) i += 1;
      }
    } else if (isDigit(c)) {
      // A number: a `$` after it can open a dollar quote, unlike after an identifier.
      i += 1;
      while (i < n && isDigit(sql.charCodeAt(i))) i += 1;
    } else {
      i += 1;
    }
  }
  return spans;
}

/** Two lists of spans, each in order, as one list in order of start. */
function mergeByStart(x: readonly MaskedSpan[], y: readonly MaskedSpan[]): MaskedSpan[] {
  const merged: MaskedSpan[] = [];
  let i = 0;
  let j = 0;
  for (;;) {
    const p = x[i];
    const q = y[j];
    if (p !== undefined && (q === undefined || p.start <= q.start)) {
      merged.push(p);
      i += 1;
    } else if (q !== undefined) {
      merged.push(q);
      j += 1;
    } else {
      return merged;
    }
  }
}

/**
 * `sql` with every string constant replaced by `'?'` and every comment by a
 * space, so that no text of a constant or comment is left in it:
 *
 * - '...' (with '' inside), E'...' (with backslash escapes), U&'...',
 *   B'...' and X'...' each become `'?'`, prefix included (N'...' is the
 *   keyword N and a '...': `N'?'`);
 * - a dollar-quoted string, `$$...$$` or `$tag$...$tag$` (a tag being an
 *   identifier without `$` that does not start with a digit), becomes `'?'`
 *   too: one placeholder for every kind of string constant, so that the
 *   label tells only that a constant was there;
 * - a constant the text ends inside (the text is cut before it arrives)
 *   is masked to the end: `'?'` all the same;
 * - a `--` comment (to the end of the line) and a slash-star comment
 *   (nested) become a space, as they are whitespace to PostgreSQL; an
 *   unclosed one takes the rest of the text;
 * - kept as they are: "quoted identifiers" (a quote in one opens nothing),
 *   `$1` parameters, keywords, unquoted identifiers (`$` in them is theirs),
 *   numbers, operators and whitespace.
 *
 * It follows PostgreSQL's lexer, and as a statement may have run with
 * standard_conforming_strings off (a backslash in '...' then escapes the next
 * character), it lexes the text both ways and masks what either way finds:
 * both `'a\'` and `'a\' b'` are masked whole. Never throws; one linear pass
 * each way, no regular expression.
 */
export function maskQueryLiterals(sql: string): string {
  const parts: string[] = [];
  let copied = 0;
  let current: MaskedSpan | undefined;
  const emit = (span: MaskedSpan) => {
    parts.push(sql.slice(copied, span.start), span.literal ? LITERAL_PLACEHOLDER : ' ');
    copied = span.end;
  };
  // The union of the spans of both ways: an overlapping span widens the current one.
  for (const span of mergeByStart(maskedSpans(sql, true), maskedSpans(sql, false))) {
    if (current !== undefined && span.start < current.end) {
      current.end = Math.max(current.end, span.end);
      current.literal ||= span.literal;
    } else {
      if (current !== undefined) emit(current);
      current = { ...span };
    }
  }
  if (current !== undefined) emit(current);
  parts.push(sql.slice(copied));
  return parts.join('');
}

/**
 * The query label: string constants and comments masked (maskQueryLiterals;
 * first, as a constant may hold whitespace), whitespace collapsed, cut to
 * QUERY_LABEL_LENGTH characters (code points).
 */
export function normalizeQuery(query: string): string {
  return Array.from(maskQueryLiterals(query).replace(/\s+/g, ' ').trim())
    .slice(0, QUERY_LABEL_LENGTH)
    .join('');
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
