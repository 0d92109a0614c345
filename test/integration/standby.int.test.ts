/**
 * The recovery and replication collectors against a real streaming chain of
 * the project's major (test/harness/standby.ts): primary → standby → cascade,
 * each read as the pg_monitor-only role through the same connect() the
 * handler uses. The standby-side families carry real replay positions and
 * times, the primary's per-standby families follow a standby that is paused
 * while the primary writes, and a full run on a standby pushes with no
 * collector failing.
 */
import { Registry } from 'prom-client';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { checkpointer } from '../../src/collectors/general/checkpointer.js';
import { recovery } from '../../src/collectors/general/recovery.js';
import { replication } from '../../src/collectors/general/replication.js';
import { replicationSlots } from '../../src/collectors/general/replication_slots.js';
import { WAL_COUNTERS, wal } from '../../src/collectors/general/wal.js';
import { COLLECTOR_TABLE } from '../../src/collectors/index.js';
import { DEFAULT_COLLECTOR_OPTIONS, supports, type Collector } from '../../src/collectors/types.js';
import type { Database } from '../../src/db.js';
import { closeKeptConnection, collect, type RunSummary } from '../../src/run.js';
import { collectOnce } from '../harness/collect.js';
import { connectMonitor, pushgatewayMetrics, runEnv, servers } from '../harness/context.js';
import {
  parseExposition,
  onlyValue,
  select,
  type ParsedExposition,
} from '../harness/exposition.js';
import { eventually, sleep } from '../harness/ports.js';
import type { PostgresServer } from '../harness/postgres.js';
import {
  CASCADE,
  STANDBY,
  startReplicationChain,
  type ReplicationChain,
} from '../harness/standby.js';

/** How long replay and replies may take on a loaded machine. */
const CATCH_UP_MS = 30_000;

let chain: ReplicationChain | undefined;
/** The pg_monitor-only role's connections, by server. */
let onPrimary: Database;
let onStandby: Database;
let onCascade: Database;
/** A superuser on the primary, for writing. */
let primaryAdmin: pg.Client;
let standbyAdmin: pg.Client;

const { major } = servers().postgres;

function monitorOn(server: PostgresServer): Promise<Database> {
  const { monitorUser, monitorPassword } = chain!;
  return connectMonitor('postgres', { ...server, monitorUser, monitorPassword });
}

async function run(collector: Collector, db: Database): Promise<ParsedExposition> {
  const registry = await collectOnce(collector, { db, serverVersion: db.serverVersion });
  return parseExposition(await registry.metrics());
}

/** The value of the only sample of `name` with `labels`. */
const value = onlyValue;

/** The primary's current WAL position. */
async function primaryLsn(): Promise<string> {
  const { rows } = await primaryAdmin.query<{ lsn: string }>('SELECT pg_current_wal_lsn() AS lsn');
  return rows[0]!.lsn;
}

/** Whether the standby has replayed the primary's WAL up to `lsn`. */
async function standbyReplayed(lsn: string): Promise<boolean> {
  const { rows } = await standbyAdmin.query<{ done: boolean }>(
    'SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), $1) >= 0 AS done',
    [lsn],
  );
  return rows[0]!.done;
}

/** Inserts rows with `id` on the primary; returns the bytes of WAL written (well over 100 kB). */
async function writeOnPrimary(id: number): Promise<number> {
  const start = await primaryLsn();
  await primaryAdmin.query(
    "INSERT INTO probe SELECT $1, repeat('x', 100) FROM generate_series(1, 5000)",
    [id],
  );
  const { rows } = await primaryAdmin.query<{ bytes: string }>(
    'SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1) AS bytes',
    [start],
  );
  const bytes = Number(rows[0]!.bytes);
  expect(bytes).toBeGreaterThan(100_000);
  return bytes;
}

/** Runs quietly: collect() logs its summary line to stdout. */
async function quietly<T>(body: () => Promise<T>): Promise<T> {
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    return await body();
  } finally {
    spy.mockRestore();
  }
}

/** What afterAll closes, also when beforeAll fails halfway. */
const toClose: (() => Promise<void>)[] = [];

async function opened<T extends Database | pg.Client>(connection: Promise<T>): Promise<T> {
  const c = await connection;
  toClose.push(() => ('close' in c ? c.close() : c.end()));
  return c;
}

beforeAll(async () => {
  chain = await startReplicationChain(servers().postgres.binDir);
  onPrimary = await opened(monitorOn(chain.primary));
  onStandby = await opened(monitorOn(chain.standby));
  onCascade = await opened(monitorOn(chain.cascade));
  primaryAdmin = await opened(chain.primary.client());
  standbyAdmin = await opened(chain.standby.client());
  await primaryAdmin.query('CREATE TABLE probe (id int, payload text)');
  // Read on the standbys to see the replay; the monitoring role reads no table otherwise.
  await primaryAdmin.query(`GRANT SELECT ON probe TO ${chain.monitorUser}`);
}, 120_000);

afterAll(async () => {
  await closeKeptConnection();
  for (const close of toClose) await close();
  await chain?.stop();
}, 60_000);

describe(`a streaming standby of PostgreSQL ${major}`, () => {
  it('the chain: every server of the project major, both standbys in recovery', () => {
    expect([chain!.primary.major, chain!.standby.major, chain!.cascade.major]).toEqual([
      major,
      major,
      major,
    ]);
    expect(onStandby.serverVersion).toBe(onPrimary.serverVersion);
  });

  it('recovery: 1 on the standbys, replay lags caught up after a write on the primary', async () => {
    expect(value(await run(recovery, onPrimary), 'postgresql_in_recovery')).toBe(0);
    const written = Date.now();
    await primaryAdmin.query("INSERT INTO probe SELECT 1, 'recovery' FROM generate_series(1, 100)");
    const lsn = await primaryLsn();
    for (const db of [onStandby, onCascade]) {
      await eventually(async () => {
        const metrics = await run(recovery, db);
        expect(value(metrics, 'postgresql_in_recovery')).toBe(1);
        // The insert's commit was replayed here: it is visible, and the lags follow it.
        const rows = await db.query<{ n: string }>('SELECT count(*) AS n FROM probe WHERE id = 1');
        expect(rows[0]?.n).toBe('100');
        expect(value(metrics, 'postgresql_replay_lag_bytes')).toBe(0);
        const seconds = value(metrics, 'postgresql_replay_lag_seconds');
        // now() - the commit's time on the primary (one clock), so since the insert at most.
        expect(seconds).toBeGreaterThanOrEqual(-1);
        expect(seconds).toBeLessThanOrEqual((Date.now() - written) / 1000 + 1);
        expect(seconds).toBeLessThan(60);
      }, CATCH_UP_MS);
    }
    expect(await standbyReplayed(lsn)).toBe(true);
  });

  it('recovery: with replay paused on the standby, both lags grow; resumed, they fall back', async () => {
    await eventually(async () => {
      expect(await standbyReplayed(await primaryLsn())).toBe(true);
    });
    await standbyAdmin.query('SELECT pg_wal_replay_pause()');
    let writtenBytes: number;
    try {
      writtenBytes = await writeOnPrimary(5);
      // Received, not replayed: the lag in bytes is at least the write.
      let first = 0;
      let firstAt = 0;
      await eventually(async () => {
        const metrics = await run(recovery, onStandby);
        firstAt = Date.now();
        expect(value(metrics, 'postgresql_replay_lag_bytes')).toBeGreaterThanOrEqual(writtenBytes);
        first = value(metrics, 'postgresql_replay_lag_seconds');
      }, CATCH_UP_MS);
      const rows = await onStandby.query<{ n: string }>(
        'SELECT count(*) AS n FROM probe WHERE id = 5',
      );
      expect(rows[0]?.n).toBe('0');
      // No commit replayed meanwhile: the lag in seconds grows with the clock.
      await sleep(1_500);
      const later = value(await run(recovery, onStandby), 'postgresql_replay_lag_seconds');
      expect(later - first).toBeGreaterThanOrEqual(1);
      expect(later - first).toBeLessThanOrEqual((Date.now() - firstAt) / 1000 + 1);
    } finally {
      await standbyAdmin.query('SELECT pg_wal_replay_resume()');
    }
    await eventually(async () => {
      const metrics = await run(recovery, onStandby);
      expect(value(metrics, 'postgresql_replay_lag_bytes')).toBe(0);
      expect(value(metrics, 'postgresql_replay_lag_seconds')).toBeLessThan(60);
      const rows = await onStandby.query<{ n: string }>(
        'SELECT count(*) AS n FROM probe WHERE id = 5',
      );
      expect(rows[0]?.n).toBe('5000');
    }, CATCH_UP_MS);
  });

  it('replication and replication_slots on the primary: the standby, its lag while paused, caught up after', async () => {
    const standbyLabels = { application_name: STANDBY.applicationName, client_addr: '127.0.0.1' };
    const slotLabels = { slot_name: STANDBY.slot, slot_type: 'physical' };
    const before = await run(replication, onPrimary);
    // One series per standby: the cascade streams from the standby, not from here.
    expect(select(before, 'postgresql_replication_lag_bytes').map((s) => s.labels)).toEqual([
      standbyLabels,
    ]);
    expect(value(before, 'postgresql_replication_lag_bytes', standbyLabels)).toBeGreaterThanOrEqual(
      0,
    );
    const slotsBefore = await run(replicationSlots, onPrimary);
    expect(select(slotsBefore, 'postgresql_replication_slot_active')).toEqual([
      { name: 'postgresql_replication_slot_active', labels: slotLabels, value: 1 },
    ]);
    expect(
      value(slotsBefore, 'postgresql_replication_slot_retained_wal_bytes', slotLabels),
    ).toBeGreaterThanOrEqual(0);

    // With the standby stopped, its replay position and its slot stay behind the write.
    await eventually(async () => {
      expect(await standbyReplayed(await primaryLsn())).toBe(true);
    });
    const start = await primaryLsn();
    let writtenBytes: number;
    chain!.standby.pause();
    try {
      writtenBytes = await writeOnPrimary(2);
      const paused = await run(replication, onPrimary);
      expect(
        value(paused, 'postgresql_replication_lag_bytes', standbyLabels),
      ).toBeGreaterThanOrEqual(writtenBytes);
      const slots = await run(replicationSlots, onPrimary);
      expect(value(slots, 'postgresql_replication_slot_active', slotLabels)).toBe(1);
      expect(
        value(slots, 'postgresql_replication_slot_retained_wal_bytes', slotLabels),
      ).toBeGreaterThanOrEqual(writtenBytes);
    } finally {
      chain!.standby.resume();
    }

    // Resumed, it replays the write and reports it: the lag falls below what was written.
    await eventually(async () => {
      const { rows } = await primaryAdmin.query<{ replayed: boolean }>(
        'SELECT pg_wal_lsn_diff(replay_lsn, $1) >= $2 AS replayed FROM pg_stat_replication WHERE application_name = $3',
        [start, writtenBytes, STANDBY.applicationName],
      );
      expect(rows[0]?.replayed).toBe(true);
      const metrics = await run(replication, onPrimary);
      const lag = value(metrics, 'postgresql_replication_lag_bytes', standbyLabels);
      expect(lag).toBeGreaterThanOrEqual(0);
      expect(lag).toBeLessThan(writtenBytes);
      const slots = await run(replicationSlots, onPrimary);
      expect(
        value(slots, 'postgresql_replication_slot_retained_wal_bytes', slotLabels),
      ).toBeLessThan(writtenBytes);
    }, CATCH_UP_MS);

    // While WAL keeps coming, the write, flush and replay lags are known.
    await eventually(async () => {
      await primaryAdmin.query("INSERT INTO probe VALUES (3, 'lag')");
      const metrics = await run(replication, onPrimary);
      const lags = select(metrics, 'postgresql_replication_lag_seconds');
      expect(lags.map((s) => s.labels.kind).sort()).toEqual(['flush', 'replay', 'write']);
      for (const sample of lags) {
        expect(sample.labels).toMatchObject(standbyLabels);
        expect(sample.value).toBeGreaterThanOrEqual(0);
        expect(sample.value).toBeLessThan(60);
      }
    }, CATCH_UP_MS);
  });

  it('replication and replication_slots on the standby: the cascade, without primary-only lag bytes', async () => {
    const cascadeSlot = { slot_name: CASCADE.slot, slot_type: 'physical' };
    // The copy left out the primary's slot: the standby has only the cascade's.
    const slots = await run(replicationSlots, onStandby);
    expect(select(slots, 'postgresql_replication_slot_active')).toEqual([
      { name: 'postgresql_replication_slot_active', labels: cascadeSlot, value: 1 },
    ]);
    // From the standby's received WAL (pg_current_wal_lsn() fails in recovery).
    const retained = value(slots, 'postgresql_replication_slot_retained_wal_bytes', cascadeSlot);
    expect(retained).toBeGreaterThanOrEqual(0);
    expect(retained).toBeLessThan(64 * 1024 * 1024);

    await eventually(async () => {
      await primaryAdmin.query("INSERT INTO probe VALUES (4, 'cascade')");
      const metrics = await run(replication, onStandby);
      // pg_current_wal_lsn() is not called in recovery: no lag in bytes here.
      expect(select(metrics, 'postgresql_replication_lag_bytes')).toEqual([]);
      const lags = select(metrics, 'postgresql_replication_lag_seconds');
      expect(lags.map((s) => s.labels.kind).sort()).toEqual(['flush', 'replay', 'write']);
      for (const sample of lags) {
        expect(sample.labels).toMatchObject({
          application_name: CASCADE.applicationName,
          client_addr: '127.0.0.1',
        });
        expect(sample.value).toBeGreaterThanOrEqual(0);
        expect(sample.value).toBeLessThan(60);
      }
    }, CATCH_UP_MS);

    // The end of the chain: no standby, no slot.
    expect((await run(replication, onCascade)).samples).toEqual([]);
    expect((await run(replicationSlots, onCascade)).samples).toEqual([]);
  });

  it('checkpointer on the standby: a CHECKPOINT is a restartpoint (17+ counts them apart)', async () => {
    const count = (metrics: ParsedExposition, name: string, kind: string) =>
      value(metrics, name, { kind });
    const before = await run(checkpointer, onStandby);
    // A checkpoint of the primary replayed here lets the standby's CHECKPOINT do a restartpoint.
    await primaryAdmin.query('CHECKPOINT');
    const lsn = await primaryLsn();
    await eventually(async () => {
      expect(await standbyReplayed(lsn)).toBe(true);
    }, CATCH_UP_MS);
    await standbyAdmin.query('CHECKPOINT');
    await eventually(async () => {
      const after = await run(checkpointer, onStandby);
      if (major >= 17) {
        const restartpoints = 'postgresql_checkpointer_restartpoints_total';
        for (const kind of ['requested', 'done']) {
          expect(count(after, restartpoints, kind), kind).toBeGreaterThan(
            count(before, restartpoints, kind),
          );
        }
      } else {
        // Before 17 a restartpoint counts as a requested checkpoint; there is no restartpoints family.
        const checkpoints = 'postgresql_checkpointer_checkpoints_total';
        expect(count(after, checkpoints, 'requested')).toBeGreaterThan(
          count(before, checkpoints, 'requested'),
        );
        expect(after.type.has('postgresql_checkpointer_restartpoints_total')).toBe(false);
      }
    }, CATCH_UP_MS);
  });

  it('wal on the standby: every counter from pg_stat_wal (14+), none on 13', async () => {
    if (!supports(wal, onStandby.serverVersion)) {
      expect(major).toBe(13);
      return;
    }
    const metrics = await run(wal, onStandby);
    for (const [, definition] of WAL_COUNTERS) {
      expect(value(metrics, definition.name), definition.name).toBeGreaterThanOrEqual(0);
    }
  });

  it('every collector of the table runs on both standbys as the pg_monitor role', async () => {
    for (const db of [onStandby, onCascade]) {
      const errors: string[] = [];
      const registries: Registry[] = [];
      for (const { collector } of COLLECTOR_TABLE) {
        if (!supports(collector, db.serverVersion)) continue;
        try {
          registries.push(
            await collectOnce(collector, {
              db,
              serverVersion: db.serverVersion,
              options: DEFAULT_COLLECTOR_OPTIONS,
            }),
          );
        } catch (error) {
          errors.push(`${collector.name}: ${String(error)}`);
        }
      }
      expect(errors).toEqual([]);
      const metrics = parseExposition(await Registry.merge(registries).metrics());
      expect(value(metrics, 'postgresql_in_recovery')).toBe(1);
    }
  });

  it('a full run on the standby pushes every collector without an error; on the primary, the standby', async () => {
    const allOn = COLLECTOR_TABLE.filter((e) => !e.enabled).map((e) => e.collector.name);
    for (const [server, inRecovery] of [
      [chain!.standby, 1],
      [chain!.primary, 0],
    ] as const) {
      const env = runEnv({
        POSTGRESQL_HOST: server.host,
        POSTGRESQL_PORT: String(server.port),
        POSTGRESQL_USERNAME: chain!.monitorUser,
        POSTGRESQL_PASSWORD: chain!.monitorPassword,
        COLLECTORS_ENABLE: allOn.join(','),
      });
      const summary: RunSummary = await quietly(() => collect(env));
      expect(summary.up).toBe(true);
      expect(summary.collectors.filter((c) => !c.ok)).toEqual([]);
      expect(summary.collectorErrors).toBe(0);
      expect(summary.missingPrivileges).toEqual([]);
      expect(summary.skipped).toEqual(
        COLLECTOR_TABLE.map((e) => e.collector)
          .filter((c) => !supports(c, onPrimary.serverVersion))
          .map((c) => c.name),
      );
      expect(summary.skipped.includes('wal')).toBe(major === 13);
      // Every collector of the table ran (the per-database ones after the others).
      expect(summary.collectors.map((c) => c.name).sort()).toEqual(
        COLLECTOR_TABLE.map((e) => e.collector.name)
          .filter((n) => !summary.skipped.includes(n))
          .sort(),
      );

      const all = parseExposition(await pushgatewayMetrics());
      const pushed = {
        ...all,
        samples: all.samples.filter((s) => s.labels.job === env.PUSHGATEWAY_JOB),
      };
      expect(value(pushed, 'postgresql_up')).toBe(1);
      expect(value(pushed, 'postgresql_in_recovery')).toBe(inRecovery);
      expect(
        select(pushed, 'postgresql_exporter_collector_success').filter((s) => s.value !== 1),
      ).toEqual([]);
      const standbys = select(pushed, 'postgresql_replication_lag_bytes').map(
        (s) => s.labels.application_name,
      );
      // The standby's only standby is the cascade, whose lag in bytes it cannot know.
      expect(standbys).toEqual(inRecovery === 1 ? [] : [STANDBY.applicationName]);
      expect(select(pushed, 'postgresql_replay_lag_bytes')).toHaveLength(inRecovery);
    }
  });
});
