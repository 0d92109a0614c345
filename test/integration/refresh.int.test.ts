/**
 * Refresh intervals through the real run, against the project's PostgreSQL
 * (as the pg_monitor-only role) and Pushgateway, with the clock injected: a
 * warm process pushes database_size's last collection again until its
 * interval is up, per target, never while PostgreSQL is down, never after
 * the server changed under it.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { selectCollectors } from '../../src/collectors/index.js';
import { supports } from '../../src/collectors/types.js';
import { openSession, type Database } from '../../src/db.js';
import { silentLogger } from '../../src/logger.js';
import { RefreshCache } from '../../src/refresh.js';
import {
  closeKeptConnection,
  collect,
  type RunDependencies,
  type RunSummary,
} from '../../src/run.js';
import {
  connectMonitor,
  pushgatewayMetrics,
  runEnv,
  servers,
  superuser,
} from '../harness/context.js';
import { parseExposition, select } from '../harness/exposition.js';

const T0 = Date.UTC(2026, 11, 1, 12);
const SIZE = 'postgresql_database_size_bytes';
const AGE = 'postgresql_exporter_collector_age_seconds';
/** The collectors with a default interval (300 s). */
const REFRESHED = ['database_size', 'tables', 'indexes'];
/** Sizes only: the per-database collectors every run, so the cache holds sizes alone. */
const SIZES_ONLY = 'tables=0,indexes=0';

const created: string[] = [];
afterAll(async () => {
  // The connection kept for the target of another database holds it open.
  await closeKeptConnection();
  const admin = await superuser();
  try {
    for (const name of created) await admin.query(`DROP DATABASE IF EXISTS ${name}`);
  } finally {
    await admin.end();
  }
});

/** A new database on the project's server, dropped after the file. */
async function createDatabase(): Promise<string> {
  const name = `refresh_${randomBytes(4).toString('hex')}`;
  created.push(name);
  const admin = await superuser();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return name;
}

/** What the Pushgateway now holds of the group of `job` (and `instance`, when given). */
async function pushed(job: string, instance?: string) {
  const all = parseExposition(await pushgatewayMetrics());
  return {
    ...all,
    samples: all.samples.filter(
      (s) => s.labels.job === job && (instance === undefined || s.labels.instance === instance),
    ),
  };
}

type Pushed = Awaited<ReturnType<typeof pushed>>;

/** database → size, as pushed. */
const sizes = (metrics: Pushed): Record<string, number> =>
  Object.fromEntries(select(metrics, SIZE).map((s) => [s.labels.database ?? '', s.value]));

const ages = (metrics: Pushed): Record<string, number> =>
  Object.fromEntries(select(metrics, AGE).map((s) => [s.labels.collector ?? '', s.value]));

/** One run of `env` at `at` on the injected clock. */
function runAt(
  env: Record<string, string>,
  at: number,
  deps: RunDependencies = {},
): Promise<RunSummary> {
  return collect(env, { log: silentLogger(), now: () => at, ...deps });
}

describe('refresh intervals, warm process', () => {
  it('reads the server start time in the run setup, as pg_postmaster_start_time()', async () => {
    const admin = await superuser();
    const db = await connectMonitor();
    try {
      const { rows } = await admin.query<{ ms: number }>(
        'SELECT (extract(epoch FROM pg_postmaster_start_time()) * 1000)::float8 AS ms',
      );
      expect(db.startedAt).toBe(rows[0]!.ms);
      expect(db.startedAt).toBeLessThan(Date.now());
      expect(db.startedAt).toBeGreaterThan(Date.now() - 24 * 3_600_000);
    } finally {
      await db.close();
      await admin.end();
    }
  });

  it('pushes the same sizes again within 300 s, though a database was created; after, the new one', async () => {
    const env = runEnv();
    const job = env.PUSHGATEWAY_JOB!;
    const first = await runAt(env, T0);
    expect(first.collectorErrors).toBe(0);
    const firstPush = await pushed(job);
    const before = sizes(firstPush);
    expect(before.postgres).toBeGreaterThan(0);
    const enabled = selectCollectors()
      .filter((c) => supports(c, first.serverVersion!))
      .map((c) => c.name);
    expect(ages(firstPush)).toEqual(Object.fromEntries(enabled.map((name) => [name, 0])));

    const name = await createDatabase();
    const second = await runAt(env, T0 + 60_000);
    const secondPush = await pushed(job);
    // Identical, not only without the new database: no size was read again.
    expect(sizes(secondPush)).toEqual(before);
    expect(sizes(secondPush)[name]).toBeUndefined();
    expect(ages(secondPush)).toEqual(
      Object.fromEntries(enabled.map((n) => [n, REFRESHED.includes(n) ? 60 : 0])),
    );
    expect(
      select(secondPush, 'postgresql_exporter_collector_success', { collector: 'database_size' })[0]
        ?.value,
    ).toBe(1);
    expect(second.collectors.find((c) => c.name === 'database_size')).toMatchObject({
      ok: true,
      cached: true,
      ageSeconds: 60,
    });
    // Collected afresh by the others: the new database is in every other per-database family.
    expect(select(secondPush, 'postgresql_lock', { database: name })).toHaveLength(8);

    const third = await runAt(env, T0 + 300_000);
    const thirdPush = await pushed(job);
    expect(sizes(thirdPush)[name]).toBeGreaterThan(0);
    expect(ages(thirdPush).database_size).toBe(0);
    expect(third.collectors.find((c) => c.name === 'database_size')?.cached).toBeUndefined();
  });

  it('keeps two targets apart: another database of the same server has its own sizes', async () => {
    const other = await createDatabase();
    const job = runEnv().PUSHGATEWAY_JOB!;
    const only = { PUSHGATEWAY_JOB: job, COLLECTOR_REFRESH_SECONDS: SIZES_ONLY };
    const envA = runEnv({ ...only, POSTGRESQL_DATABASE: 'postgres' });
    const envB = runEnv({ ...only, POSTGRESQL_DATABASE: other });
    const { postgres } = servers();
    const instanceA = `${postgres.host}:${postgres.port}/postgres`;
    const instanceB = `${postgres.host}:${postgres.port}/${other}`;
    const cache = new RefreshCache();

    await runAt(envA, T0, { refreshCache: cache });
    const sizesA = sizes(await pushed(job, instanceA));
    const late = await createDatabase();
    // B's first run, inside A's interval: collected, with the database A has not seen.
    await runAt(envB, T0 + 60_000, { refreshCache: cache });
    const pushedB = await pushed(job, instanceB);
    expect(sizes(pushedB)[late]).toBeGreaterThan(0);
    expect(ages(pushedB).database_size).toBe(0);
    // A again: its own cached sizes, not B's.
    await runAt(envA, T0 + 120_000, { refreshCache: cache });
    const pushedA = await pushed(job, instanceA);
    expect(sizes(pushedA)).toEqual(sizesA);
    expect(ages(pushedA).database_size).toBe(120);
    expect(cache.entries).toBe(2);
  });

  it('pushes nothing cached while PostgreSQL is down, and the cached sizes once it is back', async () => {
    const env = runEnv();
    const job = env.PUSHGATEWAY_JOB!;
    const cache = new RefreshCache();
    await runAt(env, T0, { refreshCache: cache });
    const before = sizes(await pushed(job));
    expect(Object.keys(before).length).toBeGreaterThan(0);

    // The same target, its server not answering (a wrong port: nothing listens there).
    const down = await runAt(env, T0 + 60_000, {
      refreshCache: cache,
      connect: (target, options, password) =>
        openSession({ ...target, port: 1 }, options, password),
    });
    expect(down.up).toBe(false);
    const downPush = await pushed(job);
    expect(select(downPush, 'postgresql_up')[0]?.value).toBe(0);
    expect(select(downPush, SIZE)).toEqual([]);
    expect(select(downPush, AGE)).toEqual([]);

    // Back, and the same server: its sizes are still within their interval.
    await runAt(env, T0 + 120_000, { refreshCache: cache });
    const backPush = await pushed(job);
    expect(sizes(backPush)).toEqual(before);
    expect(ages(backPush).database_size).toBe(120);
  });

  it('collects afresh when the server changed under the target (another start time)', async () => {
    const env = runEnv();
    const job = env.PUSHGATEWAY_JOB!;
    const cache = new RefreshCache();
    await runAt(env, T0, { refreshCache: cache });
    const name = await createDatabase();
    // A restart or failover, as the run sees it: the same address, another postmaster start.
    const restarted: RunDependencies['connect'] = async (target, options, password) => {
      const db: Database = await openSession(target, options, password);
      return { ...db, startedAt: db.startedAt + 60_000 };
    };
    const after = await runAt(env, T0 + 60_000, { refreshCache: cache, connect: restarted });
    const afterPush = await pushed(job);
    expect(sizes(afterPush)[name]).toBeGreaterThan(0);
    expect(ages(afterPush).database_size).toBe(0);
    expect(after.collectors.find((c) => c.name === 'database_size')?.cached).toBeUndefined();
  });

  it('COLLECTOR_REFRESH_SECONDS=database_size=0 sizes every run', async () => {
    const env = runEnv({ COLLECTOR_REFRESH_SECONDS: `database_size=0,${SIZES_ONLY}` });
    const job = env.PUSHGATEWAY_JOB!;
    const cache = new RefreshCache();
    await runAt(env, T0, { refreshCache: cache });
    const name = await createDatabase();
    await runAt(env, T0 + 1_000, { refreshCache: cache });
    const push = await pushed(job);
    expect(sizes(push)[name]).toBeGreaterThan(0);
    expect(ages(push).database_size).toBe(0);
    expect(cache.entries).toBe(0);
  });
});
