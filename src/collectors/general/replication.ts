import type { Collector } from '../types.js';
import { toNumber, type Sample } from '../metric.js';

export const REPLICATION_LAG_BYTES_METRIC = {
  name: 'postgresql_replication_lag_bytes',
  help: 'Per connected standby, bytes of WAL written on this primary but not yet replayed by the standby (pg_wal_lsn_diff(pg_current_wal_lsn(), pg_stat_replication.replay_lsn)). No sample when this server is itself in recovery.',
  labelNames: ['application_name', 'client_addr'],
} as const;

export const REPLICATION_LAG_SECONDS_METRIC = {
  name: 'postgresql_replication_lag_seconds',
  help: 'Per connected standby, the time between flushing recent WAL locally and the standby reporting it written, flushed or replayed (pg_stat_replication.write_lag, flush_lag, replay_lag, in kind). No sample while unknown.',
  labelNames: ['application_name', 'client_addr', 'kind'],
} as const;

export const LAG_KINDS = ['write', 'flush', 'replay'] as const;

/**
 * One row per WAL sender. client_addr is NULL for a standby connected over a
 * Unix socket: the label is then empty. pg_current_wal_lsn() fails during
 * recovery (a cascading standby): the CASE only calls it on a primary.
 */
export const REPLICATION_QUERY = `
SELECT
  coalesce(application_name, '') AS application_name,
  coalesce(host(client_addr), '') AS client_addr,
  CASE WHEN NOT pg_is_in_recovery()
    THEN pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) END::float8 AS lag_bytes,
  extract(epoch FROM write_lag)::float8 AS write_lag,
  extract(epoch FROM flush_lag)::float8 AS flush_lag,
  extract(epoch FROM replay_lag)::float8 AS replay_lag
FROM pg_stat_replication`;

export interface ReplicationRow {
  readonly application_name: string | null;
  readonly client_addr: string | null;
  readonly lag_bytes: number | string | null;
  readonly write_lag: number | string | null;
  readonly flush_lag: number | string | null;
  readonly replay_lag: number | string | null;
}

type StandbyLabel = 'application_name' | 'client_addr';

export function replicationSamples(rows: readonly ReplicationRow[]): {
  bytes: Sample<StandbyLabel>[];
  seconds: Sample<StandbyLabel | 'kind'>[];
} {
  const bytes: Sample<StandbyLabel>[] = [];
  const seconds: Sample<StandbyLabel | 'kind'>[] = [];
  for (const row of rows) {
    const labels = {
      application_name: row.application_name ?? '',
      client_addr: row.client_addr ?? '',
    };
    const lag = toNumber(row.lag_bytes);
    if (lag !== undefined) bytes.push({ labels, value: lag });
    for (const kind of LAG_KINDS) {
      const value = toNumber(row[`${kind}_lag`]);
      if (value !== undefined) seconds.push({ labels: { ...labels, kind }, value });
    }
  }
  return { bytes, seconds };
}

export const replication: Collector = {
  name: 'replication',
  families: [REPLICATION_LAG_BYTES_METRIC, REPLICATION_LAG_SECONDS_METRIC],
  // Without it, other roles' sessions (or statements) are hidden: the numbers would be low.
  needs: ['pg_read_all_stats'],
  async collect({ db, metrics }) {
    const samples = replicationSamples(await db.query<ReplicationRow>(REPLICATION_QUERY));
    metrics.gauge(REPLICATION_LAG_BYTES_METRIC, samples.bytes);
    metrics.gauge(REPLICATION_LAG_SECONDS_METRIC, samples.seconds);
  },
};
