/**
 * Every collector against a real PostgreSQL of the project's major, through
 * the same connect() the handler uses. The database is made to move (a new
 * database, a held lock, a session idle in transaction, rollbacks, a
 * checkpoint) and the samples must follow.
 */
import { collectOnce } from '../harness/collect.js';
import { Registry } from 'prom-client';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COLLECTOR_TABLE } from '../../src/collectors/index.js';
import { DEFAULT_COLLECTOR_OPTIONS, supports } from '../../src/collectors/types.js';
import { LOCK_MODES } from '../../src/collectors/general/lock.js';
import { ACTIVITY_STATES } from '../../src/collectors/general/stat_activity.js';
import { BGWRITER_TYPES } from '../../src/collectors/general/stat_bgwriter.js';
import { STAT_DATABASE_TYPES } from '../../src/collectors/general/stat_database.js';
import { CONFLICT_TYPES } from '../../src/collectors/general/stat_database_conflicts.js';
import type { Database } from '../../src/db.js';
import { parseExposition, select, type ParsedExposition } from '../harness/exposition.js';
import { connectMonitor, servers, superuser, uniqueJob } from '../harness/context.js';
import { eventually, sleep } from '../harness/ports.js';

let db: Database;
let admin: pg.Client;
const database = uniqueJob('moving').replace('-', '_');

async function collectAll(): Promise<ParsedExposition> {
  const registries: Registry[] = [];
  // Every collector, also those off by default, as long as the server supports it.
  for (const { collector } of COLLECTOR_TABLE) {
    if (!supports(collector, db.serverVersion)) continue;
    const registry = await collectOnce(collector, {
      db,
      serverVersion: db.serverVersion,
      options: DEFAULT_COLLECTOR_OPTIONS,
    });
    registries.push(registry);
  }
  return parseExposition(await Registry.merge(registries).metrics());
}

beforeAll(async () => {
  admin = await superuser();
  await admin.query(`CREATE DATABASE ${database}`);
  await admin.query(`CREATE TABLE IF NOT EXISTS public.${database}_example (id int)`);
  db = await connectMonitor();
});

afterAll(async () => {
  await db.close();
  await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => undefined);
  await admin.query(`DROP TABLE IF EXISTS public.${database}_example`);
  await admin.end();
});

describe(`collectors on PostgreSQL ${servers().postgres.major}`, () => {
  it('reads the server version', () => {
    expect(Math.floor(db.serverVersion / 10_000)).toBe(servers().postgres.major);
  });

  it('all run without error and cover every database', async () => {
    const metrics = await collectAll();
    // Other test files create and drop databases in parallel: check the stable ones.
    for (const datname of ['postgres', 'template0', 'template1', database]) {
      expect(
        select(metrics, 'postgresql_lock', { database: datname }).map((s) => s.labels.mode),
      ).toEqual(expect.arrayContaining([...LOCK_MODES]));
      expect(
        select(metrics, 'postgresql_stat_activity', { database: datname }).map(
          (s) => s.labels.state,
        ),
      ).toEqual(expect.arrayContaining([...ACTIVITY_STATES]));
      const types = select(metrics, 'postgresql_stat_database', { database: datname }).map(
        (s) => s.labels.type,
      );
      expect(types).toEqual(
        expect.arrayContaining(STAT_DATABASE_TYPES.filter((t) => t !== 'last_stats_reset_min')),
      );
      expect(
        select(metrics, 'postgresql_stat_database_conflicts', { database: datname }).map(
          (s) => s.labels.type,
        ),
      ).toEqual([...CONFLICT_TYPES]);
    }
    // The shared-objects row of pg_stat_database never becomes a label.
    for (const sample of metrics.samples) {
      if ('database' in sample.labels)
        expect(['', 'None', 'null']).not.toContain(sample.labels.database);
    }
    expect(select(metrics, 'postgresql_uptime')).toEqual([
      { name: 'postgresql_uptime', labels: {}, value: 0 },
    ]);
    // The business example counts the connected database's (postgres) tables.
    expect(
      select(metrics, 'postgresql_business_user_tables', { schema: 'public' })[0]?.value,
    ).toBeGreaterThanOrEqual(1);
    const { rows } = await admin.query<{ max: string }>(
      "SELECT current_setting('max_connections') AS max",
    );
    expect(select(metrics, 'postgresql_max_connections')[0]?.value).toBe(Number(rows[0]!.max));
    expect(select(metrics, 'postgresql_reserved_connections')[0]?.value).toBeGreaterThanOrEqual(3);
  });

  it("keeps the seed's eleven stat_bgwriter types, also on 17+ from pg_stat_checkpointer", async () => {
    const before = await collectAll();
    const types = select(before, 'postgresql_stat_bgwriter').map((s) => s.labels.type);
    // A fresh cluster has a stats_reset for the background writer, so all 11 are there.
    expect(types.sort()).toEqual([...BGWRITER_TYPES].sort());
    const requested = (m: ParsedExposition) =>
      select(m, 'postgresql_stat_bgwriter', { type: 'checkpoints_req' })[0]?.value ?? NaN;
    await admin.query('CHECKPOINT');
    await eventually(async () => {
      expect(requested(await collectAll())).toBeGreaterThan(requested(before));
    });
  });

  it('follows a held lock and a session idle in transaction', async () => {
    const holder = await superuser(database);
    try {
      await holder.query('CREATE TABLE held (id int)');
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE held IN ACCESS EXCLUSIVE MODE');
      // The holder is now idle in transaction, holding the lock.
      const during = await collectAll();
      expect(
        select(during, 'postgresql_lock', { database, mode: 'accessexclusivelock' })[0]?.value,
      ).toBeGreaterThanOrEqual(1);
      expect(
        select(during, 'postgresql_stat_activity', { database, state: 'idle in transaction' })[0]
          ?.value,
      ).toBe(1);
      expect(
        select(during, 'postgresql_stat_database', { database, type: 'numbackends' })[0]?.value,
      ).toBe(1);
      // Ages grow while the session waits.
      await sleep(1_100);
      const later = await collectAll();
      expect(
        select(later, 'postgresql_oldest_idle_in_transaction_seconds', { database })[0]?.value,
      ).toBeGreaterThanOrEqual(1);
      expect(
        select(later, 'postgresql_oldest_transaction_seconds', { database })[0]?.value,
      ).toBeGreaterThanOrEqual(1);

      await holder.query('ROLLBACK');
      const after = await collectAll();
      expect(
        select(after, 'postgresql_lock', { database, mode: 'accessexclusivelock' })[0]?.value,
      ).toBe(0);
      expect(
        select(after, 'postgresql_stat_activity', { database, state: 'idle in transaction' })[0]
          ?.value,
      ).toBe(0);
      expect(select(after, 'postgresql_stat_activity', { database, state: 'idle' })[0]?.value).toBe(
        1,
      );
      expect(
        select(after, 'postgresql_oldest_idle_in_transaction_seconds', { database })[0]?.value,
      ).toBe(0);
    } finally {
      await holder.end();
    }
  });

  it('counts rollbacks in xact_rollback', async () => {
    const rollbacks = (m: ParsedExposition) =>
      select(m, 'postgresql_stat_database', { database, type: 'xact_rollback' })[0]?.value ?? NaN;
    const before = rollbacks(await collectAll());
    const session = await superuser(database);
    try {
      for (let i = 0; i < 3; i += 1) {
        await session.query('BEGIN');
        await session.query('SELECT 1');
        await session.query('ROLLBACK');
      }
    } finally {
      await session.end(); // a backend flushes its statistics when it exits
    }
    await eventually(async () => {
      expect(rollbacks(await collectAll())).toBeGreaterThanOrEqual(before + 3);
    });
  });
});
