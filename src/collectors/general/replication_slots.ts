import type { Collector } from '../types.js';
import { toNumber, type Sample } from '../metric.js';

export const REPLICATION_SLOT_ACTIVE_METRIC = {
  name: 'postgresql_replication_slot_active',
  help: 'Whether a replication slot is in use by a connection: 1 or 0 (pg_replication_slots.active).',
  labelNames: ['slot_name', 'slot_type'],
} as const;

export const REPLICATION_SLOT_RETAINED_WAL_METRIC = {
  name: 'postgresql_replication_slot_retained_wal_bytes',
  help: 'Bytes of WAL a replication slot keeps from removal: from its restart_lsn to the current WAL position (pg_current_wal_lsn(), on a standby pg_last_wal_receive_lsn()). No sample for a slot that has not reserved WAL.',
  labelNames: ['slot_name', 'slot_type'],
} as const;

/** pg_current_wal_lsn() fails during recovery: the CASE only calls it on a primary. */
export const REPLICATION_SLOTS_QUERY = `
SELECT
  slot_name,
  slot_type,
  CASE WHEN active THEN 1 ELSE 0 END::float8 AS active,
  pg_wal_lsn_diff(
    CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() ELSE pg_current_wal_lsn() END,
    restart_lsn
  )::float8 AS retained_wal_bytes
FROM pg_replication_slots`;

export interface ReplicationSlotRow {
  readonly slot_name: string | null;
  readonly slot_type: string | null;
  readonly active: number | string | null;
  readonly retained_wal_bytes: number | string | null;
}

type SlotLabel = 'slot_name' | 'slot_type';

export function replicationSlotsSamples(rows: readonly ReplicationSlotRow[]): {
  active: Sample<SlotLabel>[];
  retained: Sample<SlotLabel>[];
} {
  const active: Sample<SlotLabel>[] = [];
  const retained: Sample<SlotLabel>[] = [];
  for (const row of rows) {
    if (row.slot_name === null) continue;
    const labels = { slot_name: row.slot_name, slot_type: row.slot_type ?? '' };
    const isActive = toNumber(row.active);
    if (isActive !== undefined) active.push({ labels, value: isActive });
    const bytes = toNumber(row.retained_wal_bytes);
    if (bytes !== undefined) retained.push({ labels, value: bytes });
  }
  return { active, retained };
}

export const replicationSlots: Collector = {
  name: 'replication_slots',
  families: [REPLICATION_SLOT_ACTIVE_METRIC, REPLICATION_SLOT_RETAINED_WAL_METRIC],
  async collect({ db, metrics }) {
    const samples = replicationSlotsSamples(
      await db.query<ReplicationSlotRow>(REPLICATION_SLOTS_QUERY),
    );
    metrics.gauge(REPLICATION_SLOT_ACTIVE_METRIC, samples.active);
    metrics.gauge(REPLICATION_SLOT_RETAINED_WAL_METRIC, samples.retained);
  },
};
