import type { Collector } from '../types.js';
import { minutesSince, typeSamples, type Sample } from '../metric.js';

export const STAT_BGWRITER_METRIC = {
  name: 'postgresql_stat_bgwriter',
  help: 'Statistics about the background writer processes activity',
  labelNames: ['type'],
} as const;

/** The seed's `type` values, in its order. */
export const BGWRITER_TYPES = [
  'checkpoints_timed',
  'checkpoints_req',
  'checkpoint_write_time',
  'checkpoint_sync_time',
  'buffers_checkpoint',
  'buffers_clean',
  'maxwritten_clean',
  'buffers_backend',
  'buffers_backend_fsync',
  'buffers_alloc',
  'last_stats_reset_min',
] as const;

/** Before 17 every value is a column of pg_stat_bgwriter. */
export const STAT_BGWRITER_QUERY_BEFORE_17 = `
SELECT
  checkpoints_timed::float8,
  checkpoints_req::float8,
  checkpoint_write_time::float8,
  checkpoint_sync_time::float8,
  buffers_checkpoint::float8,
  buffers_clean::float8,
  maxwritten_clean::float8,
  buffers_backend::float8,
  buffers_backend_fsync::float8,
  buffers_alloc::float8,
  ${minutesSince('stats_reset')} AS last_stats_reset_min
FROM pg_stat_bgwriter`;

/**
 * PostgreSQL 17 moved the checkpoint counters to pg_stat_checkpointer and
 * dropped buffers_backend and buffers_backend_fsync; pg_stat_io (16+) holds
 * them now: writes and fsyncs of shared relation buffers by every process
 * other than the checkpointer and the background writer. The seed's `type`
 * values are kept; last_stats_reset_min is the background writer's reset.
 */
export const STAT_BGWRITER_QUERY_17 = `
SELECT
  c.num_timed::float8 AS checkpoints_timed,
  c.num_requested::float8 AS checkpoints_req,
  c.write_time::float8 AS checkpoint_write_time,
  c.sync_time::float8 AS checkpoint_sync_time,
  c.buffers_written::float8 AS buffers_checkpoint,
  b.buffers_clean::float8,
  b.maxwritten_clean::float8,
  io.writes AS buffers_backend,
  io.fsyncs AS buffers_backend_fsync,
  b.buffers_alloc::float8,
  ${minutesSince('b.stats_reset')} AS last_stats_reset_min
FROM pg_stat_bgwriter b
CROSS JOIN pg_stat_checkpointer c
CROSS JOIN (
  SELECT coalesce(sum(writes), 0)::float8 AS writes, coalesce(sum(fsyncs), 0)::float8 AS fsyncs
  FROM pg_stat_io
  WHERE object = 'relation' AND backend_type NOT IN ('checkpointer', 'background writer')
) io`;

export function statBgwriterQuery(serverVersion: number): string {
  return serverVersion >= 170_000 ? STAT_BGWRITER_QUERY_17 : STAT_BGWRITER_QUERY_BEFORE_17;
}

export type StatBgwriterRow = Readonly<Record<string, number | string | null>>;

/** One sample per type; last_stats_reset_min only when stats_reset is set. */
export function statBgwriterSamples(rows: readonly StatBgwriterRow[]): Sample<'type'>[] {
  const row = rows[0];
  return row === undefined ? [] : typeSamples<'type'>(row, BGWRITER_TYPES, {});
}

export const statBgwriter: Collector = {
  name: 'stat_bgwriter',
  families: [STAT_BGWRITER_METRIC],
  async collect({ db, metrics, serverVersion }) {
    const rows = await db.query<StatBgwriterRow>(statBgwriterQuery(serverVersion));
    metrics.gauge(STAT_BGWRITER_METRIC, statBgwriterSamples(rows));
  },
};
