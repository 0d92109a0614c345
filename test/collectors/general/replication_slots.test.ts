import { describe, expect, it } from 'vitest';
import {
  REPLICATION_SLOTS_QUERY,
  replicationSlotsSamples,
} from '../../../src/collectors/general/replication_slots.js';

describe('REPLICATION_SLOTS_QUERY', () => {
  it('measures from the received WAL in recovery and the current WAL otherwise', () => {
    expect(REPLICATION_SLOTS_QUERY).toContain(
      'CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() ELSE pg_current_wal_lsn() END',
    );
    expect(REPLICATION_SLOTS_QUERY).toContain('restart_lsn');
    expect(REPLICATION_SLOTS_QUERY).toContain('FROM pg_replication_slots');
  });
});

describe('replicationSlotsSamples', () => {
  it('gives active per slot, and retained WAL only where restart_lsn is set', () => {
    const physical = { slot_name: 'standby_1', slot_type: 'physical' };
    const logical = { slot_name: 'cdc', slot_type: 'logical' };
    expect(
      replicationSlotsSamples([
        { ...physical, active: 1, retained_wal_bytes: '16777216' },
        { ...logical, active: 0, retained_wal_bytes: null },
      ]),
    ).toEqual({
      active: [
        { labels: physical, value: 1 },
        { labels: logical, value: 0 },
      ],
      retained: [{ labels: physical, value: 16_777_216 }],
    });
  });

  it('gives nothing for no row or an all-NULL row', () => {
    const none = { active: [], retained: [] };
    expect(replicationSlotsSamples([])).toEqual(none);
    expect(
      replicationSlotsSamples([
        { slot_name: null, slot_type: null, active: null, retained_wal_bytes: null },
      ]),
    ).toEqual(none);
  });
});
