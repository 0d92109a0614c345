/**
 * Per-index statistics of every visited database (pg_stat_user_indexes):
 * size, scans, tuples read and fetched, and on 16+ the last scan. The
 * largest INDEXES_LIMIT indexes of each database: an unused index is found
 * by its scans staying flat, and the large ones are those worth dropping.
 */
import type { Collector } from '../types.js';
import { toNumber, type MetricDefinition, type Sample } from '../metric.js';
import { unlockedSize } from './tables.js';

type IndexLabel = 'database' | 'schema' | 'table' | 'index';
const LABELS: readonly IndexLabel[] = ['database', 'schema', 'table', 'index'];

const metric = (name: string, help: string): MetricDefinition<IndexLabel> => ({
  name,
  help,
  labelNames: LABELS,
});

export const INDEX_SIZE_METRIC = metric(
  'postgresql_index_size_bytes',
  'Disk space of the index, in bytes (pg_relation_size); no sample while a session holds or awaits an ACCESS EXCLUSIVE lock on it.',
);
export const INDEX_SCANS_METRIC = metric(
  'postgresql_index_scans_total',
  'Scans started on the index (idx_scan); flat over weeks means unused.',
);
export const INDEX_TUPLES_READ_METRIC = metric(
  'postgresql_index_tuples_read_total',
  'Index entries returned by scans of the index (idx_tup_read).',
);
export const INDEX_TUPLES_FETCHED_METRIC = metric(
  'postgresql_index_tuples_fetched_total',
  'Live table rows fetched by simple scans of the index (idx_tup_fetch).',
);
export const INDEX_LAST_SCAN_METRIC = metric(
  'postgresql_index_last_scan_timestamp_seconds',
  'When the index was last scanned, in Unix seconds; no sample if never (last_idx_scan, PostgreSQL 16+).',
);

/** The largest `$1` indexes of the database; ties by name, so the choice is stable. */
export function indexesQuery(serverVersion: number): string {
  const lastScan =
    serverVersion >= 160_000 ? 'extract(epoch FROM s.last_idx_scan)::float8' : 'NULL::float8';
  return `
SELECT s.schemaname, s.relname, s.indexrelname,
  ${unlockedSize('s.indexrelid', 'pg_relation_size')}::float8 AS size_bytes,
  s.idx_scan, s.idx_tup_read, s.idx_tup_fetch,
  ${lastScan} AS last_idx_scan
FROM pg_stat_user_indexes s
ORDER BY size_bytes DESC NULLS LAST, s.schemaname, s.relname, s.indexrelname
LIMIT $1`;
}

export interface IndexRow {
  readonly schemaname: string;
  readonly relname: string;
  readonly indexrelname: string;
  readonly size_bytes: number | null;
  readonly idx_scan: string | null;
  readonly idx_tup_read: string | null;
  readonly idx_tup_fetch: string | null;
  readonly last_idx_scan: number | null;
}

function samples(
  database: string,
  rows: readonly IndexRow[],
  column: keyof IndexRow,
): Sample<IndexLabel>[] {
  const out: Sample<IndexLabel>[] = [];
  for (const row of rows) {
    const value = toNumber(row[column]);
    if (value === undefined) continue;
    out.push({
      labels: { database, schema: row.schemaname, table: row.relname, index: row.indexrelname },
      value,
    });
  }
  return out;
}

export const indexes: Collector = {
  name: 'indexes',
  scope: 'database',
  families: [
    INDEX_SIZE_METRIC,
    INDEX_SCANS_METRIC,
    INDEX_TUPLES_READ_METRIC,
    INDEX_TUPLES_FETCHED_METRIC,
    INDEX_LAST_SCAN_METRIC,
  ],
  async collect({ db, serverVersion, metrics, options, database }) {
    const rows = await db.query<IndexRow>(indexesQuery(serverVersion), {
      params: [options.indexesLimit],
    });
    metrics.gauge(INDEX_SIZE_METRIC, samples(database, rows, 'size_bytes'));
    metrics.counter(INDEX_SCANS_METRIC, samples(database, rows, 'idx_scan'));
    metrics.counter(INDEX_TUPLES_READ_METRIC, samples(database, rows, 'idx_tup_read'));
    metrics.counter(INDEX_TUPLES_FETCHED_METRIC, samples(database, rows, 'idx_tup_fetch'));
    metrics.gauge(INDEX_LAST_SCAN_METRIC, samples(database, rows, 'last_idx_scan'));
  },
};
