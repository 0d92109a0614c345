/**
 * Declarative business metrics: a YAML file of SQL queries, each turned into a
 * collector of its own (`custom_<name>`), so a query that fails at run time
 * counts as that collector's failure only. The file is checked when it is
 * loaded; every error names the file, the query and the field.
 *
 *   queries:
 *     - name: open_orders
 *       sql: SELECT warehouse, count(*) AS orders FROM orders GROUP BY warehouse
 *       labels: [warehouse]
 *       metrics:
 *         - column: orders
 *           name: shop_open_orders
 *           type: gauge
 *           help: Orders not shipped yet, by warehouse.
 *       min_server_version: 14      # optional: a major (14) or a server_version_num (140005)
 *       max_server_version: 17      # optional, inclusive
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { toNumber, type MetricDefinition, type Sample } from './collectors/metric.js';
import type { Collector } from './collectors/types.js';
import { CustomQueriesError, SeriesLimitError } from './errors.js';
import { ENV } from './config.js';

export interface CustomMetric {
  readonly column: string;
  readonly name: string;
  readonly type: 'gauge' | 'counter';
  readonly help: string;
}

export interface CustomQuery {
  readonly name: string;
  readonly sql: string;
  readonly labels: readonly string[];
  readonly metrics: readonly CustomMetric[];
  readonly minServerVersion: number | undefined;
  readonly maxServerVersion: number | undefined;
}

const QUERY_NAME = /^[a-z_][a-z0-9_]*$/;
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const QUERY_FIELDS = [
  'name',
  'sql',
  'labels',
  'metrics',
  'min_server_version',
  'max_server_version',
];
const METRIC_FIELDS = ['column', 'name', 'type', 'help'];
/**
 * Names the exporter or the Pushgateway push: a custom metric may not take
 * them, nor anything that could be one of them later.
 */
const RESERVED_PREFIXES = [
  'postgresql_exporter_',
  'push_time_seconds',
  'push_failure_time_seconds',
];

/** What a custom query's names may not collide with, from the rest of the run. */
export interface Reserved {
  /** Family name → who pushes it (a built-in collector, the run). */
  readonly families: ReadonlyMap<string, string>;
  /** Grouping label name → where it is set (PUSHGATEWAY_JOB, PUSHGATEWAY_GROUPING_LABELS, …). */
  readonly labels: ReadonlyMap<string, string>;
}

type Fields = Record<string, unknown>;

const isMapping = (value: unknown): value is Fields =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${JSON.stringify(value)}`;
}

/**
 * Checks and reads the text of a custom-queries file. Pure; `file` only names
 * the file in messages.
 */
export function parseCustomQueries(file: string, text: string): CustomQuery[] {
  let document: unknown;
  try {
    document = parse(text);
  } catch (error) {
    throw new CustomQueriesError(
      `${file}: not valid YAML: ${(error as Error).message.split('\n')[0] ?? ''}`,
    );
  }
  if (!isMapping(document) || !Array.isArray(document.queries)) {
    throw new CustomQueriesError(`${file}: expected a mapping with a "queries" list`);
  }
  const unknownTop = Object.keys(document).filter((key) => key !== 'queries');
  if (unknownTop.length > 0) {
    throw new CustomQueriesError(
      `${file}: unknown field "${unknownTop[0] ?? ''}" (expected only "queries")`,
    );
  }
  const queries: CustomQuery[] = [];
  const queryNames = new Set<string>();
  const metricNames = new Map<string, string>();

  document.queries.forEach((entry: unknown, index) => {
    const name = isMapping(entry) && typeof entry.name === 'string' ? entry.name : undefined;
    const where = name === undefined ? `query #${index + 1}` : `query "${name}"`;
    const fail = (field: string, problem: string): never => {
      throw new CustomQueriesError(`${file}: ${where}: field "${field}": ${problem}`);
    };
    if (!isMapping(entry))
      return fail('queries', `expected a mapping, got ${describeValue(entry)}`);
    for (const key of Object.keys(entry)) {
      if (!QUERY_FIELDS.includes(key))
        fail(key, `unknown field (expected ${QUERY_FIELDS.join(', ')})`);
    }
    if (name === undefined || !QUERY_NAME.test(name)) {
      fail('name', `must be lower_snake_case, got ${describeValue(entry.name)}`);
    }
    if (queryNames.has(name as string)) fail('name', 'is used by another query');
    queryNames.add(name as string);
    if (typeof entry.sql !== 'string' || entry.sql.trim() === '') {
      fail('sql', `must be an SQL statement, got ${describeValue(entry.sql)}`);
    }

    const labels = entry.labels ?? [];
    if (!Array.isArray(labels))
      return fail('labels', `must be a list of column names, got ${describeValue(labels)}`);
    labels.forEach((label: unknown, i) => {
      if (typeof label !== 'string' || !LABEL_NAME.test(label) || label.startsWith('__')) {
        fail(
          `labels[${i}]`,
          `must be a column name usable as a label, got ${describeValue(label)}`,
        );
      }
    });
    if (new Set(labels).size !== labels.length) fail('labels', 'names a column twice');

    if (!Array.isArray(entry.metrics) || entry.metrics.length === 0) {
      return fail('metrics', `must be a non-empty list, got ${describeValue(entry.metrics)}`);
    }
    const metrics = entry.metrics.map((metric: unknown, i): CustomMetric => {
      const at = (field: string) => `metrics[${i}].${field}`;
      if (!isMapping(metric))
        return fail(`metrics[${i}]`, `expected a mapping, got ${describeValue(metric)}`);
      for (const key of Object.keys(metric)) {
        if (!METRIC_FIELDS.includes(key))
          fail(at(key), `unknown field (expected ${METRIC_FIELDS.join(', ')})`);
      }
      const { column, name: metricName, type = 'gauge', help } = metric;
      if (typeof column !== 'string' || column === '')
        fail(at('column'), `must be a column name, got ${describeValue(column)}`);
      if ((labels as string[]).includes(column as string))
        fail(at('column'), `"${String(column)}" is also a label`);
      if (typeof metricName !== 'string' || !METRIC_NAME.test(metricName)) {
        fail(at('name'), `must be a Prometheus metric name, got ${describeValue(metricName)}`);
      }
      if (RESERVED_PREFIXES.some((p) => (metricName as string).startsWith(p))) {
        fail(at('name'), `"${String(metricName)}" is reserved for the exporter's own metrics`);
      }
      const previous = metricNames.get(metricName as string);
      if (previous !== undefined)
        fail(at('name'), `"${String(metricName)}" is also defined by ${previous}`);
      metricNames.set(metricName as string, where);
      if (type !== 'gauge' && type !== 'counter')
        fail(at('type'), `must be gauge or counter, got ${describeValue(type)}`);
      if (type === 'counter' && !(metricName as string).endsWith('_total')) {
        fail(at('name'), 'a counter\'s name must end in "_total"');
      }
      if (typeof help !== 'string' || help.trim() === '')
        fail(at('help'), `must be a sentence, got ${describeValue(help)}`);
      return {
        column: column as string,
        name: metricName as string,
        type: type as 'gauge' | 'counter',
        help: (help as string).trim(),
      };
    });

    const version = (field: string): number | undefined => {
      const value = entry[field];
      if (value === undefined || value === null) return undefined;
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 9) {
        return fail(
          field,
          `must be a major version (14) or a server_version_num (140005), got ${describeValue(value)}`,
        );
      }
      return value < 1000 ? value * 10_000 : value;
    };
    const minServerVersion = version('min_server_version');
    // A major as the upper bound includes all its minor releases.
    const maxRaw = entry.max_server_version;
    const maxServerVersion =
      typeof maxRaw === 'number' && maxRaw < 1000
        ? (version('max_server_version') ?? 0) + 9_999
        : version('max_server_version');
    if (
      minServerVersion !== undefined &&
      maxServerVersion !== undefined &&
      minServerVersion > maxServerVersion
    ) {
      fail('max_server_version', 'is below min_server_version');
    }
    queries.push({
      name: name as string,
      sql: entry.sql as string,
      labels: labels as string[],
      metrics,
      minServerVersion,
      maxServerVersion,
    });
  });
  return queries;
}

/** A column value as label text: NULL is empty, a date its ISO form, an object its JSON. */
function labelValue(raw: unknown): string {
  if (raw === null || raw === undefined) return '';
  if (raw instanceof Date) return raw.toISOString();
  if (typeof raw === 'string') return raw;
  if (typeof raw === 'number' || typeof raw === 'boolean' || typeof raw === 'bigint') {
    return raw.toString();
  }
  return JSON.stringify(raw);
}

/** The families a query pushes, one per metric column. */
function familiesOf(query: CustomQuery): MetricDefinition<string>[] {
  return query.metrics.map((m) => ({ name: m.name, help: m.help, labelNames: query.labels }));
}

/**
 * Refuses names that would collide with the rest of the run: a metric named
 * like a built-in or self family (its merge would fail, or its series mix
 * with another's), a label named like a grouping label (`job`, `instance`,
 * PUSHGATEWAY_GROUPING_LABELS: the Pushgateway refuses the whole push, or
 * overwrites the value). The message names the file, the query and the field.
 */
export function checkReserved(file: string, queries: readonly CustomQuery[], reserved: Reserved) {
  for (const query of queries) {
    const where = `${file}: query "${query.name}"`;
    query.labels.forEach((label, i) => {
      const owner = reserved.labels.get(label);
      if (owner !== undefined) {
        throw new CustomQueriesError(
          `${where}: field "labels[${i}]": "${label}" is a grouping label (set by ${owner}); ` +
            'rename the column (e.g. SELECT x AS other_name)',
        );
      }
    });
    query.metrics.forEach((metric, i) => {
      const owner = reserved.families.get(metric.name);
      if (owner !== undefined) {
        throw new CustomQueriesError(
          `${where}: field "metrics[${i}].name": "${metric.name}" is already pushed by ${owner}`,
        );
      }
    });
  }
}

/** The collector of one custom query: one sample per row and metric column. */
export function customQueryCollector(query: CustomQuery): Collector {
  return {
    name: `custom_${query.name}`,
    ...(query.minServerVersion === undefined ? {} : { minServerVersion: query.minServerVersion }),
    ...(query.maxServerVersion === undefined ? {} : { maxServerVersion: query.maxServerVersion }),
    families: familiesOf(query),
    async collect({ db, metrics, options }) {
      // At most as many rows as the series limit allows, plus one to know it was passed:
      // the rest is never read, so a runaway query costs no memory.
      const maxRows = Math.floor(options.maxSeries / query.metrics.length);
      const rows = await db.query<Record<string, unknown>>(query.sql, { maxRows: maxRows + 1 });
      if (rows.length > maxRows) {
        throw new SeriesLimitError(
          `more than ${maxRows} rows (${options.maxSeries} series with ${query.metrics.length} ` +
            `metric column(s), ${ENV.collectorMaxSeries}); nothing of this query is pushed`,
        );
      }
      const first = rows[0];
      if (first !== undefined) {
        for (const column of [...query.labels, ...query.metrics.map((m) => m.column)]) {
          if (!Object.hasOwn(first, column))
            throw new Error(`column "${column}" is not in the query's result`);
        }
      }
      for (const metric of query.metrics) {
        const samples: Sample<string>[] = [];
        for (const row of rows) {
          const value = toNumber(row[metric.column]);
          if (value === undefined) continue;
          const labels: Record<string, string> = {};
          for (const label of query.labels) {
            const raw = row[label];
            labels[label] = labelValue(raw);
          }
          samples.push({ labels, value });
        }
        const definition = { name: metric.name, help: metric.help, labelNames: query.labels };
        if (metric.type === 'counter') metrics.counter(definition, samples);
        else metrics.gauge(definition, samples);
      }
    },
  };
}

const loaded = new Map<string, { mtimeMs: number; queries: CustomQuery[] }>();

/** The largest custom-queries file read: a file of queries, not a data set. */
export const MAX_FILE_BYTES = 1024 * 1024;

/**
 * The collectors of a custom-queries file, checked against `reserved`. A
 * relative path is taken from the function's root (LAMBDA_TASK_ROOT on
 * Lambda, else the working directory). Read once per container while the
 * file is unchanged.
 */
export function loadCustomQueries(file: string, reserved: Reserved): Collector[] {
  const full = path.resolve(process.env.LAMBDA_TASK_ROOT ?? process.cwd(), file);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(full);
  } catch {
    throw new CustomQueriesError(`${file}: no such file (looked at ${full})`);
  }
  if (!stat.isFile()) throw new CustomQueriesError(`${file}: not a file (looked at ${full})`);
  if (stat.size > MAX_FILE_BYTES) {
    throw new CustomQueriesError(
      `${file}: ${stat.size} bytes, more than the ${MAX_FILE_BYTES} a custom-queries file may have`,
    );
  }
  let queries = loaded.get(full)?.mtimeMs === stat.mtimeMs ? loaded.get(full)?.queries : undefined;
  if (queries === undefined) {
    queries = parseCustomQueries(file, fs.readFileSync(full, 'utf8'));
    loaded.set(full, { mtimeMs: stat.mtimeMs, queries });
  }
  checkReserved(file, queries, reserved);
  return queries.map(customQueryCollector);
}
