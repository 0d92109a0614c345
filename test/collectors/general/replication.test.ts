import { describe, expect, it } from 'vitest';
import {
  REPLICATION_QUERY,
  replicationSamples,
} from '../../../src/collectors/general/replication.js';

describe('REPLICATION_QUERY', () => {
  it('reads pg_stat_replication and the lag in bytes only on a primary', () => {
    expect(REPLICATION_QUERY).toContain('FROM pg_stat_replication');
    expect(REPLICATION_QUERY).toMatch(
      /CASE WHEN NOT pg_is_in_recovery\(\)\s+THEN pg_wal_lsn_diff\(pg_current_wal_lsn\(\), replay_lsn\)/,
    );
    for (const column of ['write_lag', 'flush_lag', 'replay_lag']) {
      expect(REPLICATION_QUERY).toContain(`extract(epoch FROM ${column})::float8`);
    }
  });
});

describe('replicationSamples', () => {
  it('gives the lags per standby and kind, "" for a NULL client_addr, nothing for NULLs', () => {
    const remote = { application_name: 'walreceiver', client_addr: '10.0.0.2' };
    const local = { application_name: 'standby_b', client_addr: '' };
    expect(
      replicationSamples([
        { ...remote, lag_bytes: '4096', write_lag: 0.001, flush_lag: '0.002', replay_lag: 0.5 },
        {
          application_name: 'standby_b',
          client_addr: null,
          lag_bytes: null,
          write_lag: null,
          flush_lag: null,
          replay_lag: 3,
        },
      ]),
    ).toEqual({
      bytes: [{ labels: remote, value: 4096 }],
      seconds: [
        { labels: { ...remote, kind: 'write' }, value: 0.001 },
        { labels: { ...remote, kind: 'flush' }, value: 0.002 },
        { labels: { ...remote, kind: 'replay' }, value: 0.5 },
        { labels: { ...local, kind: 'replay' }, value: 3 },
      ],
    });
  });

  it('gives nothing for no standby or an all-NULL row', () => {
    const none = { bytes: [], seconds: [] };
    expect(replicationSamples([])).toEqual(none);
    expect(
      replicationSamples([
        {
          application_name: null,
          client_addr: null,
          lag_bytes: null,
          write_lag: null,
          flush_lag: null,
          replay_lag: null,
        },
      ]),
    ).toEqual(none);
  });
});
