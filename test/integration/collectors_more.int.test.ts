/**
 * The collectors added after the seed's, against a real PostgreSQL of the
 * project's major, as the pg_monitor-only role through the same connect() the
 * handler uses. State is arranged as superuser (a replication slot, a
 * checkpoint, a statement run a few times, a database without
 * pg_stat_statements) and the samples must follow.
 */
import { collectOnce } from '../harness/collect.js';
import { Registry } from 'prom-client';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archiver } from '../../src/collectors/general/archiver.js';
import { checkpointer } from '../../src/collectors/general/checkpointer.js';
import { databaseSize } from '../../src/collectors/general/database_size.js';
import { recovery } from '../../src/collectors/general/recovery.js';
import { replication } from '../../src/collectors/general/replication.js';
import { replicationSlots } from '../../src/collectors/general/replication_slots.js';
import { statements } from '../../src/collectors/general/statements.js';
import { version } from '../../src/collectors/general/version.js';
import { WAL_COUNTERS, wal } from '../../src/collectors/general/wal.js';
import { wraparound } from '../../src/collectors/general/wraparound.js';
import { COLLECTOR_TABLE } from '../../src/collectors/index.js';
import {
  DEFAULT_COLLECTOR_OPTIONS,
  supports,
  type Collector,
  type CollectorOptions,
} from '../../src/collectors/types.js';
import type { Database } from '../../src/db.js';
import {
  parseExposition,
  onlyValue,
  select,
  type ParsedExposition,
} from '../harness/exposition.js';
import { connectMonitor, servers, superuser, uniqueJob } from '../harness/context.js';
import { eventually } from '../harness/ports.js';

const OPTIONS: CollectorOptions = { ...DEFAULT_COLLECTOR_OPTIONS, statementsLimit: 5 };

let db: Database;
let admin: pg.Client;
/** A database created without pg_stat_statements. */
const bare = uniqueJob('bare').replace('-', '_');

/** Connects as the pg_monitor-only role. */

async function run(
  collector: Collector,
  options: CollectorOptions = OPTIONS,
  database: Database = db,
): Promise<ParsedExposition> {
  const registry = await collectOnce(collector, {
    db: database,
    serverVersion: database.serverVersion,
    options,
  });
  return parseExposition(await registry.metrics());
}

/** The value of the only sample of `name` with `labels`. */
const value = onlyValue;

beforeAll(async () => {
  admin = await superuser();
  await admin.query(`CREATE DATABASE ${bare}`);
  db = await connectMonitor();
});

afterAll(async () => {
  await db.close();
  await admin.query(`DROP DATABASE IF EXISTS ${bare} WITH (FORCE)`).catch(() => undefined);
  await admin.end();
});

describe(`more collectors on PostgreSQL ${servers().postgres.major}`, () => {
  it('every collector of the table the server supports runs as the pg_monitor role', async () => {
    const errors: string[] = [];
    const registries: Registry[] = [];
    for (const { collector } of COLLECTOR_TABLE) {
      if (!supports(collector, db.serverVersion)) continue;
      try {
        const registry = await collectOnce(collector, {
          db,
          serverVersion: db.serverVersion,
          options: OPTIONS,
        });
        registries.push(registry);
      } catch (error) {
        errors.push(`${collector.name}: ${String(error)}`);
      }
    }
    expect(errors).toEqual([]);
    // Counters end in _total, and every family ending in _total is a counter.
    const metrics = parseExposition(await Registry.merge(registries).metrics());
    for (const [name, type] of metrics.type) {
      if (name.endsWith('_total')) expect(type, name).toBe('counter');
      if (type === 'counter') expect(name).toMatch(/_total$/);
    }
    expect(supports(wal, db.serverVersion)).toBe(servers().postgres.major >= 14);
  });

  it('database_size: every database, postgres larger than 0', async () => {
    const metrics = await run(databaseSize);
    expect(
      value(metrics, 'postgresql_database_size_bytes', { database: 'postgres' }),
    ).toBeGreaterThan(0);
    for (const database of ['template0', 'template1', bare]) {
      expect(
        value(metrics, 'postgresql_database_size_bytes', { database }),
        database,
      ).toBeGreaterThan(0);
    }
  });

  it('recovery: a primary, without replay lags', async () => {
    const metrics = await run(recovery);
    expect(value(metrics, 'postgresql_in_recovery')).toBe(0);
    expect(select(metrics, 'postgresql_replay_lag_seconds')).toEqual([]);
    expect(select(metrics, 'postgresql_replay_lag_bytes')).toEqual([]);
  });

  it('replication_slots: an inactive physical slot and the WAL it retains', async () => {
    const slot = uniqueJob('slot').replace('-', '_');
    await admin.query('SELECT pg_create_physical_replication_slot($1, true)', [slot]);
    try {
      const metrics = await run(replicationSlots);
      const labels = { slot_name: slot, slot_type: 'physical' };
      expect(value(metrics, 'postgresql_replication_slot_active', labels)).toBe(0);
      expect(
        value(metrics, 'postgresql_replication_slot_retained_wal_bytes', labels),
      ).toBeGreaterThanOrEqual(0);
    } finally {
      await admin.query('SELECT pg_drop_replication_slot($1)', [slot]);
    }
    const after = await run(replicationSlots);
    expect(select(after, 'postgresql_replication_slot_active', { slot_name: slot })).toEqual([]);
  });

  it('replication: no standby, no samples', async () => {
    const metrics = await run(replication);
    expect(select(metrics, 'postgresql_replication_lag_bytes')).toEqual([]);
    expect(select(metrics, 'postgresql_replication_lag_seconds')).toEqual([]);
  });

  it('wal: counters from pg_stat_wal, writes and syncs also on 18 (pg_stat_io); none on 13', async () => {
    if (!supports(wal, db.serverVersion)) {
      // PostgreSQL 13 has no pg_stat_wal: the run skips the collector by version.
      expect(servers().postgres.major).toBe(13);
      const { rows } = await admin.query<{ n: string }>(
        "SELECT count(*) AS n FROM pg_catalog.pg_class WHERE relname = 'pg_stat_wal'",
      );
      expect(rows[0]?.n).toBe('0');
      return;
    }
    await admin.query('CREATE TEMP TABLE wal_probe AS SELECT generate_series(1, 1000) AS id');
    const metrics = await run(wal);
    expect(value(metrics, 'postgresql_wal_records_total')).toBeGreaterThan(0);
    expect(value(metrics, 'postgresql_wal_bytes_total')).toBeGreaterThan(0);
    for (const [, definition] of WAL_COUNTERS) {
      expect(value(metrics, definition.name), definition.name).toBeGreaterThanOrEqual(0);
      expect(metrics.type.get(definition.name)).toBe('counter');
    }
    // The harness's setup (and initdb) wrote WAL to disk.
    expect(value(metrics, 'postgresql_wal_writes_total')).toBeGreaterThan(0);
  });

  it('archiver: nothing archived (archive_mode off)', async () => {
    const metrics = await run(archiver);
    expect(value(metrics, 'postgresql_archiver_archived_total')).toBe(0);
    expect(value(metrics, 'postgresql_archiver_failed_total')).toBe(0);
    expect(select(metrics, 'postgresql_archiver_last_archive_age_seconds')).toEqual([]);
  });

  it('checkpointer: a CHECKPOINT counts as requested', async () => {
    const requested = (m: ParsedExposition) =>
      value(m, 'postgresql_checkpointer_checkpoints_total', { kind: 'requested' });
    const before = await run(checkpointer);
    expect(
      value(before, 'postgresql_checkpointer_checkpoints_total', { kind: 'timed' }),
    ).toBeGreaterThanOrEqual(0);
    for (const name of [
      'postgresql_checkpointer_buffers_written_total',
      'postgresql_checkpointer_write_time_seconds_total',
      'postgresql_checkpointer_sync_time_seconds_total',
    ]) {
      expect(value(before, name), name).toBeGreaterThanOrEqual(0);
    }
    const restartpoints = select(before, 'postgresql_checkpointer_restartpoints_total');
    if (servers().postgres.major >= 17) {
      expect(restartpoints.map((s) => s.labels.kind)).toEqual(['timed', 'requested', 'done']);
    } else {
      expect(restartpoints).toEqual([]);
      expect(before.type.has('postgresql_checkpointer_restartpoints_total')).toBe(false);
    }
    await admin.query('CHECKPOINT');
    await eventually(async () => {
      expect(requested(await run(checkpointer))).toBeGreaterThan(requested(before));
    });
  });

  it('wraparound: ages per database and autovacuum_freeze_max_age', async () => {
    const metrics = await run(wraparound);
    expect(value(metrics, 'postgresql_database_xid_age', { database: 'postgres' })).toBeGreaterThan(
      0,
    );
    expect(
      value(metrics, 'postgresql_database_xid_age', { database: 'template0' }),
    ).toBeGreaterThan(0);
    expect(
      value(metrics, 'postgresql_database_mxid_age', { database: 'template0' }),
    ).toBeGreaterThanOrEqual(0);
    const { rows } = await admin.query<{ setting: string }>(
      "SELECT current_setting('autovacuum_freeze_max_age') AS setting",
    );
    expect(value(metrics, 'postgresql_autovacuum_freeze_max_age')).toBe(Number(rows[0]!.setting));
  });

  it('version: server_version and server_version_num', async () => {
    const metrics = await run(version);
    const { rows } = await admin.query<{ server_version: string }>('SHOW server_version');
    const { rows: num } = await admin.query<{ server_version_num: string }>(
      'SHOW server_version_num',
    );
    expect(select(metrics, 'postgresql_version_info')).toEqual([
      {
        name: 'postgresql_version_info',
        labels: { version: rows[0]!.server_version },
        value: 1,
      },
    ]);
    expect(value(metrics, 'postgresql_server_version_num')).toBe(
      Number(num[0]!.server_version_num),
    );
    expect(value(metrics, 'postgresql_server_version_num')).toBe(db.serverVersion);
  });

  it('statements: the top statements, with a probe run three times', async () => {
    // A table of its own gives the probe its own queryid (column aliases do not count).
    const probe = uniqueJob('statements_probe').replace('-', '_');
    await admin.query(`CREATE TABLE public.${probe} (id int)`);
    try {
      for (let i = 0; i < 3; i += 1) {
        // The sleep puts it among the top statements by total time.
        await admin.query(`SELECT count(*), pg_sleep(0.1) FROM public.${probe}`);
      }
      const top5 = await run(statements);
      expect(value(top5, 'postgresql_statements_available')).toBe(1);
      const calls = select(top5, 'postgresql_statement_calls_total');
      expect(calls.length).toBeGreaterThanOrEqual(1);
      expect(calls.length).toBeLessThanOrEqual(5);
      expect(select(top5, 'postgresql_statement_exec_time_seconds_total')).toHaveLength(
        calls.length,
      );

      const all = await run(statements, { ...OPTIONS, statementsLimit: 100 });
      const probeCalls = select(all, 'postgresql_statement_calls_total').filter(
        (s) =>
          s.labels.query?.startsWith('SELECT count(*), pg_sleep(') &&
          s.labels.query.includes(probe),
      );
      expect(probeCalls).toHaveLength(1);
      const labels = probeCalls[0]!.labels;
      expect(labels).toMatchObject({ database: 'postgres', user: servers().postgres.user });
      expect(labels.queryid).toMatch(/^-?\d+$/);
      expect(labels.query).toBe(`SELECT count(*), pg_sleep($1) FROM public.${probe}`);
      expect(probeCalls[0]!.value).toBeGreaterThanOrEqual(3);
      expect(value(all, 'postgresql_statement_exec_time_seconds_total', labels)).toBeGreaterThan(
        0.25,
      );
      expect(value(all, 'postgresql_statement_rows_total', labels)).toBeGreaterThanOrEqual(3);
    } finally {
      await admin.query(`DROP TABLE IF EXISTS public.${probe}`);
    }
  });

  it('statements: available 0 and nothing else without the extension', async () => {
    const bareDb = await connectMonitor(bare);
    try {
      const metrics = await run(statements, OPTIONS, bareDb);
      expect(metrics.samples).toEqual([
        { name: 'postgresql_statements_available', labels: {}, value: 0 },
      ]);
    } finally {
      await bareDb.close();
    }
  });
});
