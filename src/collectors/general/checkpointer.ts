import type { Collector } from '../types.js';
import { single, toNumber, type Sample } from '../metric.js';

export const CHECKPOINTS_METRIC = {
  name: 'postgresql_checkpointer_checkpoints_total',
  help: 'Checkpoints by why they were started: timed (checkpoint_timeout) or requested (pg_stat_checkpointer num_timed, num_requested; before PostgreSQL 17 pg_stat_bgwriter checkpoints_timed, checkpoints_req).',
  labelNames: ['kind'],
} as const;

export const CHECKPOINT_BUFFERS_WRITTEN_METRIC = {
  name: 'postgresql_checkpointer_buffers_written_total',
  help: 'Shared buffers written during checkpoints and restartpoints (pg_stat_checkpointer.buffers_written; before PostgreSQL 17 pg_stat_bgwriter.buffers_checkpoint).',
  labelNames: [],
} as const;

export const CHECKPOINT_WRITE_TIME_METRIC = {
  name: 'postgresql_checkpointer_write_time_seconds_total',
  help: 'Time spent writing files to disk during checkpoints and restartpoints, in seconds (pg_stat_checkpointer.write_time; before PostgreSQL 17 pg_stat_bgwriter.checkpoint_write_time).',
  labelNames: [],
} as const;

export const CHECKPOINT_SYNC_TIME_METRIC = {
  name: 'postgresql_checkpointer_sync_time_seconds_total',
  help: 'Time spent syncing files to disk during checkpoints and restartpoints, in seconds (pg_stat_checkpointer.sync_time; before PostgreSQL 17 pg_stat_bgwriter.checkpoint_sync_time).',
  labelNames: [],
} as const;

export const RESTARTPOINTS_METRIC = {
  name: 'postgresql_checkpointer_restartpoints_total',
  help: 'Restartpoints (checkpoints of a standby): timed, requested, and done (pg_stat_checkpointer restartpoints_timed, restartpoints_req, restartpoints_done). PostgreSQL 17 and later.',
  labelNames: ['kind'],
} as const;

/** Before 17 the checkpoint counters are in pg_stat_bgwriter; there are no restartpoint counters. */
export const CHECKPOINTER_QUERY_BEFORE_17 = `
SELECT
  checkpoints_timed::float8 AS timed,
  checkpoints_req::float8 AS requested,
  buffers_checkpoint::float8 AS buffers_written,
  (checkpoint_write_time / 1000)::float8 AS write_time_seconds,
  (checkpoint_sync_time / 1000)::float8 AS sync_time_seconds
FROM pg_stat_bgwriter`;

/** PostgreSQL 17 moved them to pg_stat_checkpointer and added the restartpoints. */
export const CHECKPOINTER_QUERY_17 = `
SELECT
  num_timed::float8 AS timed,
  num_requested::float8 AS requested,
  buffers_written::float8 AS buffers_written,
  (write_time / 1000)::float8 AS write_time_seconds,
  (sync_time / 1000)::float8 AS sync_time_seconds,
  restartpoints_timed::float8 AS restartpoints_timed,
  restartpoints_req::float8 AS restartpoints_requested,
  restartpoints_done::float8 AS restartpoints_done
FROM pg_stat_checkpointer`;

export function checkpointerQuery(serverVersion: number): string {
  return serverVersion >= 170_000 ? CHECKPOINTER_QUERY_17 : CHECKPOINTER_QUERY_BEFORE_17;
}

export const CHECKPOINT_KINDS = ['timed', 'requested'] as const;
export const RESTARTPOINT_KINDS = ['timed', 'requested', 'done'] as const;

export type CheckpointerRow = Readonly<Record<string, number | string | null>>;

/** A NULL (or, before 17, absent) column gives no sample. */
export function checkpointerSamples(rows: readonly CheckpointerRow[]) {
  const row = rows[0];
  const kinds = (kinds: readonly string[], prefix: string): Sample<'kind'>[] =>
    kinds.flatMap((kind) => {
      const value = toNumber(row?.[`${prefix}${kind}`]);
      return value === undefined ? [] : [{ labels: { kind }, value }];
    });
  return {
    checkpoints: kinds(CHECKPOINT_KINDS, ''),
    buffersWritten: single(row?.buffers_written),
    writeTime: single(row?.write_time_seconds),
    syncTime: single(row?.sync_time_seconds),
    restartpoints: kinds(RESTARTPOINT_KINDS, 'restartpoints_'),
  };
}

export const checkpointer: Collector = {
  name: 'checkpointer',
  families: [
    CHECKPOINTS_METRIC,
    CHECKPOINT_BUFFERS_WRITTEN_METRIC,
    CHECKPOINT_WRITE_TIME_METRIC,
    CHECKPOINT_SYNC_TIME_METRIC,
    RESTARTPOINTS_METRIC,
  ],
  async collect({ db, metrics, serverVersion }) {
    const samples = checkpointerSamples(
      await db.query<CheckpointerRow>(checkpointerQuery(serverVersion)),
    );
    metrics.counter(CHECKPOINTS_METRIC, samples.checkpoints);
    // prom-client reads an unlabelled family without samples as 0: leave such a family out.
    if (samples.buffersWritten.length > 0)
      metrics.counter(CHECKPOINT_BUFFERS_WRITTEN_METRIC, samples.buffersWritten);
    if (samples.writeTime.length > 0)
      metrics.counter(CHECKPOINT_WRITE_TIME_METRIC, samples.writeTime);
    if (samples.syncTime.length > 0) metrics.counter(CHECKPOINT_SYNC_TIME_METRIC, samples.syncTime);
    // The family exists from 17 on only.
    if (serverVersion >= 170_000) metrics.counter(RESTARTPOINTS_METRIC, samples.restartpoints);
  },
};
