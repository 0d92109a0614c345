import type { Collector } from '../types.js';
import { single, type MetricDefinition } from '../metric.js';

export const WAL_RECORDS_METRIC = {
  name: 'postgresql_wal_records_total',
  help: 'WAL records generated (pg_stat_wal.wal_records).',
  labelNames: [],
} as const;

export const WAL_FPI_METRIC = {
  name: 'postgresql_wal_fpi_total',
  help: 'WAL full page images generated (pg_stat_wal.wal_fpi).',
  labelNames: [],
} as const;

export const WAL_BYTES_METRIC = {
  name: 'postgresql_wal_bytes_total',
  help: 'Bytes of WAL generated (pg_stat_wal.wal_bytes).',
  labelNames: [],
} as const;

export const WAL_BUFFERS_FULL_METRIC = {
  name: 'postgresql_wal_buffers_full_total',
  help: 'Times WAL data was written to disk because the WAL buffers were full (pg_stat_wal.wal_buffers_full).',
  labelNames: [],
} as const;

export const WAL_WRITES_METRIC = {
  name: 'postgresql_wal_writes_total',
  help: 'Times WAL buffers were written to disk (pg_stat_wal.wal_write; from PostgreSQL 18 the writes of pg_stat_io rows with object wal).',
  labelNames: [],
} as const;

export const WAL_SYNCS_METRIC = {
  name: 'postgresql_wal_syncs_total',
  help: 'Times WAL files were synced to disk (pg_stat_wal.wal_sync; from PostgreSQL 18 the fsyncs of pg_stat_io rows with object wal).',
  labelNames: [],
} as const;

export const WAL_WRITE_TIME_METRIC = {
  name: 'postgresql_wal_write_time_seconds_total',
  help: 'Time spent writing WAL to disk, in seconds; 0 unless track_wal_io_timing is on (pg_stat_wal.wal_write_time; from PostgreSQL 18 pg_stat_io write_time of object wal).',
  labelNames: [],
} as const;

export const WAL_SYNC_TIME_METRIC = {
  name: 'postgresql_wal_sync_time_seconds_total',
  help: 'Time spent syncing WAL files to disk, in seconds; 0 unless track_wal_io_timing is on (pg_stat_wal.wal_sync_time; from PostgreSQL 18 pg_stat_io fsync_time of object wal).',
  labelNames: [],
} as const;

/** Each family and the column of the query that gives it. */
export const WAL_COUNTERS: readonly (readonly [column: string, MetricDefinition<never>])[] = [
  ['records', WAL_RECORDS_METRIC],
  ['fpi', WAL_FPI_METRIC],
  ['bytes', WAL_BYTES_METRIC],
  ['buffers_full', WAL_BUFFERS_FULL_METRIC],
  ['writes', WAL_WRITES_METRIC],
  ['syncs', WAL_SYNCS_METRIC],
  ['write_time_seconds', WAL_WRITE_TIME_METRIC],
  ['sync_time_seconds', WAL_SYNC_TIME_METRIC],
];

/** PostgreSQL 14 to 17: every counter is a column of pg_stat_wal (times in ms). */
export const WAL_QUERY_BEFORE_18 = `
SELECT
  wal_records::float8 AS records,
  wal_fpi::float8 AS fpi,
  wal_bytes::float8 AS bytes,
  wal_buffers_full::float8 AS buffers_full,
  wal_write::float8 AS writes,
  wal_sync::float8 AS syncs,
  (wal_write_time / 1000)::float8 AS write_time_seconds,
  (wal_sync_time / 1000)::float8 AS sync_time_seconds
FROM pg_stat_wal`;

/**
 * PostgreSQL 18 dropped wal_write, wal_sync, wal_write_time and wal_sync_time
 * from pg_stat_wal; pg_stat_io counts WAL I/O in its rows with object 'wal'
 * (every backend type, contexts 'normal' and 'init'), summed here.
 */
export const WAL_QUERY_18 = `
SELECT
  w.wal_records::float8 AS records,
  w.wal_fpi::float8 AS fpi,
  w.wal_bytes::float8 AS bytes,
  w.wal_buffers_full::float8 AS buffers_full,
  io.writes,
  io.syncs,
  io.write_time_seconds,
  io.sync_time_seconds
FROM pg_stat_wal w
CROSS JOIN (
  SELECT
    coalesce(sum(writes), 0)::float8 AS writes,
    coalesce(sum(fsyncs), 0)::float8 AS syncs,
    (coalesce(sum(write_time), 0) / 1000)::float8 AS write_time_seconds,
    (coalesce(sum(fsync_time), 0) / 1000)::float8 AS sync_time_seconds
  FROM pg_stat_io
  WHERE object = 'wal'
) io`;

export function walQuery(serverVersion: number): string {
  return serverVersion >= 180_000 ? WAL_QUERY_18 : WAL_QUERY_BEFORE_18;
}

export type WalRow = Readonly<Record<string, number | string | null>>;

/** The samples of each family, by column; a NULL column gives none. */
export function walSamples(rows: readonly WalRow[]): Map<string, ReturnType<typeof single>> {
  const row = rows[0];
  return new Map(WAL_COUNTERS.map(([column]) => [column, single(row?.[column])]));
}

export const wal: Collector = {
  name: 'wal',
  families: [
    WAL_RECORDS_METRIC,
    WAL_FPI_METRIC,
    WAL_BYTES_METRIC,
    WAL_BUFFERS_FULL_METRIC,
    WAL_WRITES_METRIC,
    WAL_SYNCS_METRIC,
    WAL_WRITE_TIME_METRIC,
    WAL_SYNC_TIME_METRIC,
  ],
  minServerVersion: 140_000,
  async collect({ db, metrics, serverVersion }) {
    const samples = walSamples(await db.query<WalRow>(walQuery(serverVersion)));
    for (const [column, definition] of WAL_COUNTERS) {
      const values = samples.get(column) ?? [];
      // prom-client reads an unlabelled family without samples as 0: leave such a family out.
      if (values.length > 0) metrics.counter(definition, values);
    }
  },
};
