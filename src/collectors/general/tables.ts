/**
 * Per-table statistics of every visited database (pg_stat_user_tables and
 * pg_statio_user_tables): size, live and dead tuples, scans, row changes,
 * vacuum and analyze counts and times. The largest TABLES_LIMIT tables of
 * each database, so the series count stays bounded.
 */
import type { Collector } from '../types.js';
import { toNumber, type MetricDefinition, type MetricWriter, type Sample } from '../metric.js';

type TableLabel = 'database' | 'schema' | 'table';
const LABELS: readonly TableLabel[] = ['database', 'schema', 'table'];

/**
 * `size(relid)`, NULL while a session holds or awaits an ACCESS EXCLUSIVE
 * lock on the relation.
 */
export function unlockedSize(
  relid: string,
  size: 'pg_total_relation_size' | 'pg_relation_size' = 'pg_total_relation_size',
): string {
  // pg_total_relation_size() takes ACCESS SHARE on the relation: behind a
  // migration's ACCESS EXCLUSIVE it would wait until statement_timeout and
  // fail the whole database. Such a relation is left without a size instead.
  return `CASE WHEN EXISTS (
    SELECT 1 FROM pg_locks l
    WHERE l.locktype = 'relation' AND l.relation = ${relid} AND l.mode = 'AccessExclusiveLock'
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  ) THEN NULL ELSE ${size}(${relid}) END`;
}

interface Column {
  /** The query's column. */
  readonly column: string;
  /** Its SQL expression (over pg_stat_user_tables s and pg_statio_user_tables io). */
  readonly sql: string;
  readonly kind: 'gauge' | 'counter';
  readonly metric: MetricDefinition<TableLabel>;
  /** Lowest server_version_num with the column. */
  readonly since?: number;
}

const metric = (name: string, help: string): MetricDefinition<TableLabel> => ({
  name,
  help,
  labelNames: LABELS,
});

const epoch = (column: string) => `extract(epoch FROM s.${column})::float8`;
const seconds = (column: string) => `(s.${column} / 1000)::float8`;

/** Every family, each from one column; `since` where a major added it. */
// prettier-ignore
export const TABLE_COLUMNS: readonly Column[] = [
  { column: 'size_bytes', sql: `${unlockedSize('s.relid')}::float8`, kind: 'gauge', metric: metric('postgresql_table_size_bytes', 'Disk space of the table with its indexes and TOAST, in bytes (pg_total_relation_size); no sample while a session holds or awaits an ACCESS EXCLUSIVE lock on it.') },
  { column: 'n_live_tup', sql: 's.n_live_tup', kind: 'gauge', metric: metric('postgresql_table_live_tuples', 'Estimated live rows (n_live_tup).') },
  { column: 'n_dead_tup', sql: 's.n_dead_tup', kind: 'gauge', metric: metric('postgresql_table_dead_tuples', 'Estimated dead rows, not yet vacuumed (n_dead_tup).') },
  { column: 'n_mod_since_analyze', sql: 's.n_mod_since_analyze', kind: 'gauge', metric: metric('postgresql_table_rows_modified_since_analyze', 'Rows changed since the table was last analyzed (n_mod_since_analyze).') },
  { column: 'n_ins_since_vacuum', sql: 's.n_ins_since_vacuum', kind: 'gauge', metric: metric('postgresql_table_rows_inserted_since_vacuum', 'Rows inserted since the table was last vacuumed (n_ins_since_vacuum).') },
  { column: 'seq_scan', sql: 's.seq_scan', kind: 'counter', metric: metric('postgresql_table_seq_scans_total', 'Sequential scans of the table (seq_scan).') },
  { column: 'seq_tup_read', sql: 's.seq_tup_read', kind: 'counter', metric: metric('postgresql_table_seq_tuples_read_total', 'Rows read by sequential scans (seq_tup_read).') },
  { column: 'idx_scan', sql: 's.idx_scan', kind: 'counter', metric: metric('postgresql_table_index_scans_total', 'Index scans on the table (idx_scan).') },
  { column: 'idx_tup_fetch', sql: 's.idx_tup_fetch', kind: 'counter', metric: metric('postgresql_table_index_tuples_fetched_total', 'Live rows fetched by index scans (idx_tup_fetch).') },
  { column: 'n_tup_ins', sql: 's.n_tup_ins', kind: 'counter', metric: metric('postgresql_table_rows_inserted_total', 'Rows inserted (n_tup_ins).') },
  { column: 'n_tup_upd', sql: 's.n_tup_upd', kind: 'counter', metric: metric('postgresql_table_rows_updated_total', 'Rows updated (n_tup_upd).') },
  { column: 'n_tup_del', sql: 's.n_tup_del', kind: 'counter', metric: metric('postgresql_table_rows_deleted_total', 'Rows deleted (n_tup_del).') },
  { column: 'n_tup_hot_upd', sql: 's.n_tup_hot_upd', kind: 'counter', metric: metric('postgresql_table_rows_hot_updated_total', 'Rows updated without an index change, heap-only (n_tup_hot_upd).') },
  { column: 'vacuum_count', sql: 's.vacuum_count', kind: 'counter', metric: metric('postgresql_table_vacuums_total', 'Manual vacuums, not VACUUM FULL (vacuum_count).') },
  { column: 'autovacuum_count', sql: 's.autovacuum_count', kind: 'counter', metric: metric('postgresql_table_autovacuums_total', 'Vacuums by the autovacuum daemon (autovacuum_count).') },
  { column: 'analyze_count', sql: 's.analyze_count', kind: 'counter', metric: metric('postgresql_table_analyzes_total', 'Manual analyzes (analyze_count).') },
  { column: 'autoanalyze_count', sql: 's.autoanalyze_count', kind: 'counter', metric: metric('postgresql_table_autoanalyzes_total', 'Analyzes by the autovacuum daemon (autoanalyze_count).') },
  { column: 'last_vacuum', sql: epoch('last_vacuum'), kind: 'gauge', metric: metric('postgresql_table_last_vacuum_timestamp_seconds', 'When the table was last vacuumed by hand, in Unix seconds; no sample if never (last_vacuum).') },
  { column: 'last_autovacuum', sql: epoch('last_autovacuum'), kind: 'gauge', metric: metric('postgresql_table_last_autovacuum_timestamp_seconds', 'When autovacuum last vacuumed the table, in Unix seconds; no sample if never (last_autovacuum).') },
  { column: 'last_analyze', sql: epoch('last_analyze'), kind: 'gauge', metric: metric('postgresql_table_last_analyze_timestamp_seconds', 'When the table was last analyzed by hand, in Unix seconds; no sample if never (last_analyze).') },
  { column: 'last_autoanalyze', sql: epoch('last_autoanalyze'), kind: 'gauge', metric: metric('postgresql_table_last_autoanalyze_timestamp_seconds', 'When autovacuum last analyzed the table, in Unix seconds; no sample if never (last_autoanalyze).') },
  { column: 'last_seq_scan', sql: epoch('last_seq_scan'), kind: 'gauge', since: 160_000, metric: metric('postgresql_table_last_seq_scan_timestamp_seconds', 'When a sequential scan last read the table, in Unix seconds; no sample if never (last_seq_scan, PostgreSQL 16+).') },
  { column: 'last_idx_scan', sql: epoch('last_idx_scan'), kind: 'gauge', since: 160_000, metric: metric('postgresql_table_last_index_scan_timestamp_seconds', 'When an index scan last read the table, in Unix seconds; no sample if never (last_idx_scan, PostgreSQL 16+).') },
  { column: 'total_vacuum_time', sql: seconds('total_vacuum_time'), kind: 'counter', since: 180_000, metric: metric('postgresql_table_vacuum_seconds_total', 'Time spent vacuuming the table by hand, in seconds (total_vacuum_time, PostgreSQL 18+).') },
  { column: 'total_autovacuum_time', sql: seconds('total_autovacuum_time'), kind: 'counter', since: 180_000, metric: metric('postgresql_table_autovacuum_seconds_total', 'Time autovacuum spent vacuuming the table, in seconds (total_autovacuum_time, PostgreSQL 18+).') },
  { column: 'total_analyze_time', sql: seconds('total_analyze_time'), kind: 'counter', since: 180_000, metric: metric('postgresql_table_analyze_seconds_total', 'Time spent analyzing the table by hand, in seconds (total_analyze_time, PostgreSQL 18+).') },
  { column: 'total_autoanalyze_time', sql: seconds('total_autoanalyze_time'), kind: 'counter', since: 180_000, metric: metric('postgresql_table_autoanalyze_seconds_total', 'Time autovacuum spent analyzing the table, in seconds (total_autoanalyze_time, PostgreSQL 18+).') },
  { column: 'heap_blks_read', sql: 'io.heap_blks_read', kind: 'counter', metric: metric('postgresql_table_blocks_read_total', "Blocks of the table's heap read from disk or the OS cache (heap_blks_read).") },
  { column: 'heap_blks_hit', sql: 'io.heap_blks_hit', kind: 'counter', metric: metric('postgresql_table_blocks_hit_total', "Blocks of the table's heap found in shared buffers (heap_blks_hit).") },
];

/** The columns a server of this version has. */
export function tableColumns(serverVersion: number): Column[] {
  return TABLE_COLUMNS.filter((c) => serverVersion >= (c.since ?? 0));
}

/**
 * The largest `$1` tables of the database, with every column of this major.
 * A table whose size is unknown (locked) sorts last; ties by name, so the
 * choice is the same every run.
 */
export function tablesQuery(serverVersion: number): string {
  const columns = tableColumns(serverVersion)
    .map((c) => `${c.sql} AS ${c.column}`)
    .join(',\n  ');
  return `
SELECT s.schemaname, s.relname,
  ${columns}
FROM pg_stat_user_tables s
JOIN pg_statio_user_tables io ON io.relid = s.relid
ORDER BY size_bytes DESC NULLS LAST, s.schemaname, s.relname
LIMIT $1`;
}

export type TableRow = Readonly<Record<string, unknown>> & {
  readonly schemaname: string;
  readonly relname: string;
};

/** Each column's family, one sample per table; NULL (never, or locked) gives none. */
export function writeTableSamples(
  metrics: MetricWriter,
  database: string,
  rows: readonly TableRow[],
  serverVersion: number,
): void {
  for (const column of tableColumns(serverVersion)) {
    const samples: Sample<TableLabel>[] = [];
    for (const row of rows) {
      const value = toNumber(row[column.column]);
      if (value === undefined) continue;
      samples.push({ labels: { database, schema: row.schemaname, table: row.relname }, value });
    }
    if (column.kind === 'gauge') metrics.gauge(column.metric, samples);
    else metrics.counter(column.metric, samples);
  }
}

export const tables: Collector = {
  name: 'tables',
  scope: 'database',
  families: TABLE_COLUMNS.map((c) => c.metric),
  async collect({ db, serverVersion, metrics, options, database }) {
    const rows = await db.query<TableRow>(tablesQuery(serverVersion), {
      params: [options.tablesLimit],
    });
    writeTableSamples(metrics, database, rows, serverVersion);
  },
};
