import type { Collector } from '../types.js';
import { toNumber, type MetricDefinition, type Sample } from '../metric.js';

/** One row of pg_stat_io per backend type, object and context. */
export type StatIoLabel = 'backend_type' | 'object' | 'context';

const LABELS = ['backend_type', 'object', 'context'] as const;

export const STAT_IO_READS_METRIC = {
  name: 'postgresql_stat_io_reads_total',
  help: 'Read operations by backend type, object and context (pg_stat_io.reads): on PostgreSQL 16 and 17 one per block of op_bytes, from 18 one per operation, which may read several blocks.',
  labelNames: LABELS,
} as const;

export const STAT_IO_WRITES_METRIC = {
  name: 'postgresql_stat_io_writes_total',
  help: 'Write operations by backend type, object and context (pg_stat_io.writes): on PostgreSQL 16 and 17 one per block of op_bytes, from 18 one per operation.',
  labelNames: LABELS,
} as const;

export const STAT_IO_WRITEBACKS_METRIC = {
  name: 'postgresql_stat_io_writebacks_total',
  help: 'Blocks the process asked the kernel to write out to permanent storage (pg_stat_io.writebacks).',
  labelNames: LABELS,
} as const;

export const STAT_IO_EXTENDS_METRIC = {
  name: 'postgresql_stat_io_extends_total',
  help: 'Relation extend operations by backend type, object and context (pg_stat_io.extends): on PostgreSQL 16 and 17 one per block of op_bytes, from 18 one per operation.',
  labelNames: LABELS,
} as const;

export const STAT_IO_HITS_METRIC = {
  name: 'postgresql_stat_io_hits_total',
  help: 'Times a wanted block was found in a buffer (pg_stat_io.hits).',
  labelNames: LABELS,
} as const;

export const STAT_IO_EVICTIONS_METRIC = {
  name: 'postgresql_stat_io_evictions_total',
  help: 'Times a block was written out or dropped from a buffer to make it available for another use (pg_stat_io.evictions).',
  labelNames: LABELS,
} as const;

export const STAT_IO_REUSES_METRIC = {
  name: 'postgresql_stat_io_reuses_total',
  help: 'Times an existing buffer of a ring (bulkread, bulkwrite, vacuum) was reused (pg_stat_io.reuses).',
  labelNames: LABELS,
} as const;

export const STAT_IO_FSYNCS_METRIC = {
  name: 'postgresql_stat_io_fsyncs_total',
  help: 'fsync calls by backend type, object and context (pg_stat_io.fsyncs).',
  labelNames: LABELS,
} as const;

export const STAT_IO_READ_BYTES_METRIC = {
  name: 'postgresql_stat_io_read_bytes_total',
  help: 'Bytes read (pg_stat_io.read_bytes from PostgreSQL 18; on 16 and 17 reads × op_bytes, exact there, as every read is one block of op_bytes).',
  labelNames: LABELS,
} as const;

export const STAT_IO_WRITE_BYTES_METRIC = {
  name: 'postgresql_stat_io_write_bytes_total',
  help: 'Bytes written (pg_stat_io.write_bytes from PostgreSQL 18; on 16 and 17 writes × op_bytes, exact there, as every write is one block of op_bytes).',
  labelNames: LABELS,
} as const;

export const STAT_IO_EXTEND_BYTES_METRIC = {
  name: 'postgresql_stat_io_extend_bytes_total',
  help: 'Bytes by which relations were extended (pg_stat_io.extend_bytes from PostgreSQL 18; on 16 and 17 extends × op_bytes, exact there, as every extend is one block of op_bytes).',
  labelNames: LABELS,
} as const;

export const STAT_IO_READ_SECONDS_METRIC = {
  name: 'postgresql_stat_io_read_seconds_total',
  help: 'Time spent in read operations, in seconds; 0 unless track_io_timing is on (track_wal_io_timing for object wal) (pg_stat_io.read_time).',
  labelNames: LABELS,
} as const;

export const STAT_IO_WRITE_SECONDS_METRIC = {
  name: 'postgresql_stat_io_write_seconds_total',
  help: 'Time spent in write operations, in seconds; 0 unless track_io_timing is on (track_wal_io_timing for object wal) (pg_stat_io.write_time).',
  labelNames: LABELS,
} as const;

export const STAT_IO_WRITEBACK_SECONDS_METRIC = {
  name: 'postgresql_stat_io_writeback_seconds_total',
  help: 'Time spent in writeback operations, in seconds; 0 unless track_io_timing is on (pg_stat_io.writeback_time).',
  labelNames: LABELS,
} as const;

export const STAT_IO_EXTEND_SECONDS_METRIC = {
  name: 'postgresql_stat_io_extend_seconds_total',
  help: 'Time spent in extend operations, in seconds; 0 unless track_io_timing is on (pg_stat_io.extend_time).',
  labelNames: LABELS,
} as const;

export const STAT_IO_FSYNC_SECONDS_METRIC = {
  name: 'postgresql_stat_io_fsync_seconds_total',
  help: 'Time spent in fsync operations, in seconds; 0 unless track_io_timing is on (track_wal_io_timing for object wal) (pg_stat_io.fsync_time).',
  labelNames: LABELS,
} as const;

/**
 * How a family's value comes from a row: a count as it is, a time from
 * milliseconds to seconds, bytes from the byte column (18) or from the count
 * times op_bytes (16, 17: a row with op_bytes).
 */
export type StatIoFamily =
  | { readonly definition: MetricDefinition<StatIoLabel>; readonly count: string }
  | { readonly definition: MetricDefinition<StatIoLabel>; readonly milliseconds: string }
  | {
      readonly definition: MetricDefinition<StatIoLabel>;
      readonly bytes: string;
      /** The count whose operations op_bytes sizes, on 16 and 17. */
      readonly of: string;
    };

/** Every family and the column of pg_stat_io that gives it. */
export const STAT_IO_FAMILIES: readonly StatIoFamily[] = [
  { definition: STAT_IO_READS_METRIC, count: 'reads' },
  { definition: STAT_IO_WRITES_METRIC, count: 'writes' },
  { definition: STAT_IO_WRITEBACKS_METRIC, count: 'writebacks' },
  { definition: STAT_IO_EXTENDS_METRIC, count: 'extends' },
  { definition: STAT_IO_HITS_METRIC, count: 'hits' },
  { definition: STAT_IO_EVICTIONS_METRIC, count: 'evictions' },
  { definition: STAT_IO_REUSES_METRIC, count: 'reuses' },
  { definition: STAT_IO_FSYNCS_METRIC, count: 'fsyncs' },
  { definition: STAT_IO_READ_BYTES_METRIC, bytes: 'read_bytes', of: 'reads' },
  { definition: STAT_IO_WRITE_BYTES_METRIC, bytes: 'write_bytes', of: 'writes' },
  { definition: STAT_IO_EXTEND_BYTES_METRIC, bytes: 'extend_bytes', of: 'extends' },
  { definition: STAT_IO_READ_SECONDS_METRIC, milliseconds: 'read_time' },
  { definition: STAT_IO_WRITE_SECONDS_METRIC, milliseconds: 'write_time' },
  { definition: STAT_IO_WRITEBACK_SECONDS_METRIC, milliseconds: 'writeback_time' },
  { definition: STAT_IO_EXTEND_SECONDS_METRIC, milliseconds: 'extend_time' },
  { definition: STAT_IO_FSYNC_SECONDS_METRIC, milliseconds: 'fsync_time' },
];

/**
 * PostgreSQL 16 and 17: reads, writes and extends count blocks of op_bytes
 * (always BLCKSZ); there are no byte columns. Times are in milliseconds.
 */
export const STAT_IO_QUERY_BEFORE_18 = `
SELECT
  backend_type,
  object,
  context,
  reads::float8,
  writes::float8,
  writebacks::float8,
  extends::float8,
  hits::float8,
  evictions::float8,
  reuses::float8,
  fsyncs::float8,
  op_bytes::float8,
  read_time::float8,
  write_time::float8,
  writeback_time::float8,
  extend_time::float8,
  fsync_time::float8
FROM pg_stat_io`;

/**
 * PostgreSQL 18 dropped op_bytes and added read_bytes, write_bytes and
 * extend_bytes (a read may now span several blocks), and rows of object 'wal'.
 */
export const STAT_IO_QUERY_18 = `
SELECT
  backend_type,
  object,
  context,
  reads::float8,
  writes::float8,
  writebacks::float8,
  extends::float8,
  hits::float8,
  evictions::float8,
  reuses::float8,
  fsyncs::float8,
  read_bytes::float8,
  write_bytes::float8,
  extend_bytes::float8,
  read_time::float8,
  write_time::float8,
  writeback_time::float8,
  extend_time::float8,
  fsync_time::float8
FROM pg_stat_io`;

export function statIoQuery(serverVersion: number): string {
  return serverVersion >= 180_000 ? STAT_IO_QUERY_18 : STAT_IO_QUERY_BEFORE_18;
}

export type StatIoRow = Readonly<Record<string, number | string | null>> & {
  readonly backend_type: string | null;
  readonly object: string | null;
  readonly context: string | null;
};

/** A row's value of `family`; undefined (no sample) where PostgreSQL says NULL. */
export function statIoValue(row: StatIoRow, family: StatIoFamily): number | undefined {
  if ('count' in family) return toNumber(row[family.count]);
  if ('milliseconds' in family) {
    const ms = toNumber(row[family.milliseconds]);
    return ms === undefined ? undefined : ms / 1000;
  }
  if (!('op_bytes' in row)) return toNumber(row[family.bytes]);
  const count = toNumber(row[family.of]);
  const opBytes = toNumber(row.op_bytes);
  return count === undefined || opBytes === undefined ? undefined : count * opBytes;
}

/**
 * The samples of each family, by family name. A NULL cell means the operation
 * does not apply to that backend type, object and context: no sample, not 0.
 */
export function statIoSamples(rows: readonly StatIoRow[]): Map<string, Sample<StatIoLabel>[]> {
  const samples = new Map<string, Sample<StatIoLabel>[]>(
    STAT_IO_FAMILIES.map((family) => [family.definition.name, []]),
  );
  for (const row of rows) {
    const { backend_type, object, context } = row;
    if (backend_type === null || object === null || context === null) continue;
    const labels = { backend_type, object, context };
    for (const family of STAT_IO_FAMILIES) {
      const value = statIoValue(row, family);
      if (value !== undefined) samples.get(family.definition.name)?.push({ labels, value });
    }
  }
  return samples;
}

export const statIo: Collector = {
  name: 'stat_io',
  families: STAT_IO_FAMILIES.map((family) => family.definition),
  minServerVersion: 160_000,
  async collect({ db, metrics, serverVersion }) {
    const samples = statIoSamples(await db.query<StatIoRow>(statIoQuery(serverVersion)));
    for (const { definition } of STAT_IO_FAMILIES) {
      metrics.counter(definition, samples.get(definition.name) ?? []);
    }
  },
};
