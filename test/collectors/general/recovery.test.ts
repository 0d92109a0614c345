import { collectOnce } from '../../harness/collect.js';
import { describe, expect, it } from 'vitest';
import {
  RECOVERY_QUERY,
  recovery,
  recoverySamples,
} from '../../../src/collectors/general/recovery.js';
import { DEFAULT_COLLECTOR_OPTIONS } from '../../../src/collectors/types.js';

describe('RECOVERY_QUERY', () => {
  it('computes the lags only in recovery', () => {
    expect(RECOVERY_QUERY).toContain('pg_is_in_recovery()');
    expect(RECOVERY_QUERY).toContain('pg_last_xact_replay_timestamp()');
    expect(RECOVERY_QUERY).toContain(
      'pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())',
    );
    expect(RECOVERY_QUERY.match(/CASE WHEN pg_is_in_recovery\(\)/g)).toHaveLength(3);
  });
});

describe('recoverySamples', () => {
  it('gives 0 and no lags on a primary', () => {
    expect(
      recoverySamples([{ in_recovery: 0, replay_lag_seconds: null, replay_lag_bytes: null }]),
    ).toEqual({
      inRecovery: [{ labels: {}, value: 0 }],
      replayLagSeconds: [],
      replayLagBytes: [],
    });
  });

  it('gives 1 and both lags on a standby', () => {
    expect(
      recoverySamples([{ in_recovery: 1, replay_lag_seconds: 2.5, replay_lag_bytes: '8192' }]),
    ).toEqual({
      inRecovery: [{ labels: {}, value: 1 }],
      replayLagSeconds: [{ labels: {}, value: 2.5 }],
      replayLagBytes: [{ labels: {}, value: 8192 }],
    });
  });

  it('gives nothing for no row or an all-NULL row', () => {
    const none = { inRecovery: [], replayLagSeconds: [], replayLagBytes: [] };
    expect(recoverySamples([])).toEqual(none);
    expect(
      recoverySamples([{ in_recovery: null, replay_lag_seconds: null, replay_lag_bytes: null }]),
    ).toEqual(none);
  });
});

describe('recovery', () => {
  it('leaves the lag families out on a primary (an unlabelled family would read 0)', async () => {
    const row = { in_recovery: 0, replay_lag_seconds: null, replay_lag_bytes: null };
    const registry = await collectOnce(recovery, {
      db: { query: <Row>() => Promise.resolve([row] as Row[]) },
      serverVersion: 180_000,
      options: DEFAULT_COLLECTOR_OPTIONS,
    });
    expect((await registry.getMetricsAsJSON()).map((m) => m.name)).toEqual([
      'postgresql_in_recovery',
    ]);
  });
});
