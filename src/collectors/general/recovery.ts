import type { Collector } from '../types.js';
import { single } from '../metric.js';

export const IN_RECOVERY_METRIC = {
  name: 'postgresql_in_recovery',
  help: 'Whether the server is in recovery, i.e. a standby: 1 or 0 (pg_is_in_recovery()).',
  labelNames: [],
} as const;

export const REPLAY_LAG_SECONDS_METRIC = {
  name: 'postgresql_replay_lag_seconds',
  help: 'On a standby, seconds since the last replayed transaction was committed on the primary (now() - pg_last_xact_replay_timestamp()); it also grows while the primary is idle. No sample on a primary or before the first replayed transaction.',
  labelNames: [],
} as const;

export const REPLAY_LAG_BYTES_METRIC = {
  name: 'postgresql_replay_lag_bytes',
  help: 'On a standby, bytes of WAL received but not yet replayed (pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())). No sample on a primary or when no WAL was received by streaming.',
  labelNames: [],
} as const;

/** The lags are NULL on a primary, so they give no sample there. */
export const RECOVERY_QUERY = `
SELECT
  CASE WHEN pg_is_in_recovery() THEN 1 ELSE 0 END::float8 AS in_recovery,
  CASE WHEN pg_is_in_recovery()
    THEN extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END::float8
    AS replay_lag_seconds,
  CASE WHEN pg_is_in_recovery()
    THEN pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) END::float8
    AS replay_lag_bytes`;

export interface RecoveryRow {
  readonly in_recovery: number | string | null;
  readonly replay_lag_seconds: number | string | null;
  readonly replay_lag_bytes: number | string | null;
}

export function recoverySamples(rows: readonly RecoveryRow[]) {
  const row = rows[0];
  return {
    inRecovery: single(row?.in_recovery),
    replayLagSeconds: single(row?.replay_lag_seconds),
    replayLagBytes: single(row?.replay_lag_bytes),
  };
}

export const recovery: Collector = {
  name: 'recovery',
  families: [IN_RECOVERY_METRIC, REPLAY_LAG_SECONDS_METRIC, REPLAY_LAG_BYTES_METRIC],
  async collect({ db, metrics }) {
    const samples = recoverySamples(await db.query<RecoveryRow>(RECOVERY_QUERY));
    // prom-client reads an unlabelled family without samples as 0: leave such a family out.
    if (samples.inRecovery.length > 0) metrics.gauge(IN_RECOVERY_METRIC, samples.inRecovery);
    if (samples.replayLagSeconds.length > 0)
      metrics.gauge(REPLAY_LAG_SECONDS_METRIC, samples.replayLagSeconds);
    if (samples.replayLagBytes.length > 0)
      metrics.gauge(REPLAY_LAG_BYTES_METRIC, samples.replayLagBytes);
  },
};
