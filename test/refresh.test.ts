/**
 * Refresh intervals: the cache on its own (due or not, one part per target,
 * invalidated by a restart or another version, the byte cap, the sweep), the
 * plan's intervals (defaults, COLLECTOR_REFRESH_SECONDS, names checked), and
 * the run with a fake database and push and an injected clock (what is
 * pushed again, its age and success, what a failure, a down run and a
 * restart do, a fan-out target caching nothing).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Collector } from '../src/collectors/types.js';
import type { Database } from '../src/db.js';
import { ConfigError } from '../src/errors.js';
import { collectFleet } from '../src/fleet/fleet.js';
import { planFleet } from '../src/fleet/plan.js';
import { collectTargetEvent } from '../src/fleet/target_event.js';
import { silentLogger } from '../src/logger.js';
import type { Delivery } from '../src/pushgateway.js';
import {
  MAX_CACHE_BYTES,
  RefreshCache,
  refreshAfterMs,
  refreshKey,
  type Collection,
  type ServerIdentity,
} from '../src/refresh.js';
import { plan, run, type RunDependencies, type RunSummary } from '../src/run.js';
import type { GroupingKey, PostgresTarget } from '../src/target.js';
import { parseExposition, select } from './harness/exposition.js';

const T0 = Date.UTC(2026, 11, 1);
const SERVER: ServerIdentity = { version: 170_000, startedAt: T0 - 86_400_000 };

const collection = (text: string, collectedAt = T0, durationMs = 5): Collection => ({
  text,
  collectedAt,
  durationMs,
});

describe('refreshAfterMs', () => {
  it('is the interval less a tenth of it, at most 30 s early', () => {
    expect(refreshAfterMs(1)).toBe(900);
    expect(refreshAfterMs(60)).toBe(54_000);
    expect(refreshAfterMs(300)).toBe(270_000);
    expect(refreshAfterMs(3_600)).toBe(3_570_000);
    expect(refreshAfterMs(86_400)).toBe(86_370_000);
  });
});

describe('RefreshCache', () => {
  it('reuses a collection until its interval is up, then not', () => {
    const cache = new RefreshCache();
    cache.target('a', SERVER, T0).keep('sizes', 300, 's', collection('x 1\n'));
    const at = (ms: number) => cache.target('a', SERVER, T0 + ms).reuse('sizes', 300, 's');
    expect(at(0)).toEqual(collection('x 1\n'));
    expect(at(60_000)?.text).toBe('x 1\n');
    expect(at(269_999)?.text).toBe('x 1\n');
    expect(at(270_000)).toBeUndefined();
    // A clock that went back: collected afresh, never reused from the future.
    expect(cache.target('a', SERVER, T0 - 1).reuse('sizes', 300, 's')).toBeUndefined();
  });

  it('uses the interval of the run asking: a shorter one makes it due sooner', () => {
    const cache = new RefreshCache();
    cache.target('a', SERVER, T0).keep('sizes', 300, 's', collection('x 1\n'));
    expect(cache.target('a', SERVER, T0 + 60_000).reuse('sizes', 60, 's')).toBeUndefined();
  });

  it('does not reuse a collection of another shape (families, options)', () => {
    const cache = new RefreshCache();
    cache.target('a', SERVER, T0).keep('sizes', 300, 'shape-1', collection('x 1\n'));
    const part = cache.target('a', SERVER, T0 + 1_000);
    expect(part.reuse('sizes', 300, 'shape-2')).toBeUndefined();
    expect(part.reuse('sizes', 300, 'shape-1')?.text).toBe('x 1\n');
  });

  it('keeps each target apart: one never gets another one’s collection', () => {
    const cache = new RefreshCache();
    cache.target('a', SERVER, T0).keep('sizes', 300, 's', collection('a 1\n'));
    expect(cache.target('b', SERVER, T0 + 1_000).reuse('sizes', 300, 's')).toBeUndefined();
    cache.target('b', SERVER, T0 + 1_000).keep('sizes', 300, 's', collection('b 2\n', T0 + 1_000));
    expect(cache.target('a', SERVER, T0 + 2_000).reuse('sizes', 300, 's')?.text).toBe('a 1\n');
    expect(cache.target('b', SERVER, T0 + 2_000).reuse('sizes', 300, 's')?.text).toBe('b 2\n');
    expect(cache.entries).toBe(2);
  });

  it.each([
    ['restarted (another start time)', { ...SERVER, startedAt: SERVER.startedAt + 1 }],
    ['upgraded (another version)', { ...SERVER, version: 170_001 }],
  ])('drops all of a target when its server was %s, and keeps other targets', (_, server) => {
    const cache = new RefreshCache();
    cache.target('a', SERVER, T0).keep('sizes', 300, 's', collection('a 1\n'));
    cache.target('a', SERVER, T0).keep('tables', 300, 's', collection('t 1\n'));
    cache.target('b', SERVER, T0).keep('sizes', 300, 's', collection('b 1\n'));
    const bytes = cache.bytes;
    const part = cache.target('a', server, T0 + 1_000);
    expect(part.reuse('sizes', 300, 's')).toBeUndefined();
    expect(part.reuse('tables', 300, 's')).toBeUndefined();
    expect(cache.bytes).toBe(bytes - 8);
    // Back on the first server's identity: nothing comes back.
    expect(cache.target('a', SERVER, T0 + 2_000).reuse('sizes', 300, 's')).toBeUndefined();
    expect(cache.target('b', SERVER, T0 + 2_000).reuse('sizes', 300, 's')?.text).toBe('b 1\n');
  });

  it('forgets a collection that is dropped (a failed collection)', () => {
    const cache = new RefreshCache();
    cache.target('a', SERVER, T0).keep('sizes', 300, 's', collection('a 1\n'));
    cache.target('a', SERVER, T0 + 1_000).drop('sizes');
    expect(cache.target('a', SERVER, T0 + 2_000).reuse('sizes', 300, 's')).toBeUndefined();
    expect(cache.bytes).toBe(0);
  });

  it('holds at most maxBytes: a newcomer that does not fit is not cached, nothing else evicted', () => {
    const cache = new RefreshCache({ maxBytes: 100 });
    const a = cache.target('a', SERVER, T0);
    expect(a.keep('sizes', 300, 's', collection('x'.repeat(60)))).toBe(true);
    expect(cache.target('b', SERVER, T0).keep('sizes', 300, 's', collection('y'.repeat(41)))).toBe(
      false,
    );
    expect(cache.target('b', SERVER, T0).reuse('sizes', 300, 's')).toBeUndefined();
    expect(cache.bytes).toBe(60);
    expect(a.reuse('sizes', 300, 's')?.text).toHaveLength(60);
    // Exactly at the cap fits; bytes, not characters, count.
    expect(cache.target('b', SERVER, T0).keep('sizes', 300, 's', collection('é'.repeat(20)))).toBe(
      true,
    );
    expect(cache.bytes).toBe(100);
    // A replacement frees what it replaces first.
    expect(a.keep('sizes', 300, 's', collection('z'.repeat(60)))).toBe(true);
    expect(cache.bytes).toBe(100);
    expect(new RefreshCache().target('a', SERVER, T0).keep('big', 1, 's', collection(''))).toBe(
      true,
    );
    expect(MAX_CACHE_BYTES).toBe(16 * 1024 * 1024);
  });

  it('makes room when full by dropping collections whose interval is up', () => {
    const cache = new RefreshCache({ maxBytes: 100 });
    cache.target('a', SERVER, T0).keep('sizes', 60, 's', collection('x'.repeat(80)));
    const later = T0 + 54_000;
    expect(
      cache.target('b', SERVER, later).keep('sizes', 300, 's', collection('y'.repeat(80), later)),
    ).toBe(true);
    expect(cache.bytes).toBe(80);
    expect(cache.entries).toBe(1);
  });

  it('sweeps collections whose interval is up and targets not run for idleMs', () => {
    const cache = new RefreshCache({ idleMs: 3_600_000 });
    cache.target('gone', SERVER, T0).keep('day', 86_400, 's', collection('g 1\n'));
    cache.target('short', SERVER, T0).keep('minute', 60, 's', collection('s 1\n'));
    cache.target('busy', SERVER, T0).keep('day', 86_400, 's', collection('b 1\n'));
    expect(cache.entries).toBe(3);
    // Two minutes on: the 60 s collection can never be pushed again.
    cache.target('busy', SERVER, T0 + 120_000);
    expect(cache.entries).toBe(2);
    expect(cache.bytes).toBe(8);
    // An hour on: the target not run since is forgotten, the one still run keeps its own.
    cache.target('busy', SERVER, T0 + 1_800_000);
    cache.target('busy', SERVER, T0 + 3_600_000);
    expect(cache.entries).toBe(1);
    expect(cache.target('busy', SERVER, T0 + 3_660_000).reuse('day', 86_400, 's')?.text).toBe(
      'b 1\n',
    );
    expect(cache.target('gone', SERVER, T0 + 3_660_000).reuse('day', 86_400, 's')).toBeUndefined();
  });

  it('clear() forgets everything', () => {
    const cache = new RefreshCache();
    cache.target('a', SERVER, T0).keep('sizes', 300, 's', collection('a 1\n'));
    cache.clear();
    expect(cache.bytes).toBe(0);
    expect(cache.target('a', SERVER, T0).reuse('sizes', 300, 's')).toBeUndefined();
  });
});

describe('refreshKey', () => {
  const url = new URL('http://gw:9091/prefix');
  const key: GroupingKey = { job: 'j', labels: { instance: 'i', app: 'a' } };
  const address: PostgresTarget = {
    host: 'db',
    port: 5432,
    database: 'postgres',
    user: 'monitor',
    password: 'the-password-123',
    ssl: 'disable',
  };

  it('differs in any of the Pushgateway, the group and what is read; never holds a credential', () => {
    const base = refreshKey(url, key, address);
    expect(refreshKey(new URL('http://gw:9091/prefix'), key, { ...address })).toBe(base);
    // The password (which rotates) is no part of it.
    expect(refreshKey(url, key, { ...address, password: 'other' })).toBe(base);
    const others = [
      refreshKey(new URL('http://gw2:9091/prefix'), key, address),
      refreshKey(new URL('http://gw:9091/other'), key, address),
      refreshKey(url, { ...key, job: 'k' }, address),
      refreshKey(url, { ...key, labels: { instance: 'i2', app: 'a' } }, address),
      refreshKey(url, { ...key, labels: { instance: 'i', app: 'b' } }, address),
      refreshKey(url, key, { ...address, host: 'db2' }),
      refreshKey(url, key, { ...address, port: 5433 }),
      refreshKey(url, key, { ...address, database: 'app' }),
      refreshKey(url, key, { ...address, user: 'other' }),
    ];
    expect(new Set([base, ...others]).size).toBe(others.length + 1);
    const withCredentials = refreshKey(
      new URL('http://u:gw-secret-1@gw:9091/prefix'),
      key,
      address,
    );
    expect(withCredentials).toBe(base);
    expect(base).not.toContain('the-password-123');
  });
});

// ---------------------------------------------------------------------------
// The plan's intervals.

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'refresh-test-'));
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

const base = {
  POSTGRESQL_HOST: 'db.internal',
  POSTGRESQL_PASSWORD: 'env-password-123',
  PUSHGATEWAY_URL: 'http://gw:9091',
};

function planError(env: Record<string, string>, collectors?: Collector[]): ConfigError {
  try {
    plan(env, collectors);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

const customFile = () => {
  const file = path.join(tmp, `q-${Math.random().toString(36).slice(2)}.yml`);
  fs.writeFileSync(
    file,
    'queries:\n  - name: orders\n    sql: SELECT 1 AS n\n    metrics:\n' +
      '      - { column: n, name: shop_orders, help: Orders. }\n',
  );
  return file;
};

describe('plan: refresh intervals', () => {
  it('gives database_size, tables and indexes 300 s by default and every other collector none', () => {
    expect(plan(base).refreshSeconds).toEqual(
      new Map([
        ['database_size', 300],
        ['tables', 300],
        ['indexes', 300],
      ]),
    );
  });

  it('takes COLLECTOR_REFRESH_SECONDS over the defaults; 0 means every run', () => {
    const intervals = plan({
      ...base,
      COLLECTOR_REFRESH_SECONDS: 'database_size=0,tables=0,indexes=0,stat_database=120',
    }).refreshSeconds;
    expect(intervals).toEqual(new Map([['stat_database', 120]]));
  });

  it('gives a custom query an interval by its collector name', () => {
    const file = customFile();
    const intervals = plan({
      ...base,
      CUSTOM_QUERIES_FILE: file,
      COLLECTOR_REFRESH_SECONDS: 'custom_orders=600',
    }).refreshSeconds;
    expect(intervals).toEqual(
      new Map([
        ['database_size', 300],
        ['tables', 300],
        ['indexes', 300],
        ['custom_orders', 600],
      ]),
    );
  });

  it('accepts a built-in collector that is switched off, and gives it nothing', () => {
    const runPlan = plan({
      ...base,
      COLLECTORS_DISABLE: 'database_size,tables,indexes',
      COLLECTOR_REFRESH_SECONDS: 'database_size=600',
    });
    expect(runPlan.refreshSeconds).toEqual(new Map());
  });

  it('refuses an unknown name, naming the variable and the known names (custom ones too)', () => {
    const error = planError({
      ...base,
      CUSTOM_QUERIES_FILE: customFile(),
      COLLECTOR_REFRESH_SECONDS: 'database_size=300, custom_order=60',
    });
    expect(error.variable).toBe('COLLECTOR_REFRESH_SECONDS');
    expect(error.message).toMatch(
      /^COLLECTOR_REFRESH_SECONDS: unknown collector "custom_order"; known: uptime, lock, .*, custom_orders$/,
    );
    expect(planError({ ...base, COLLECTOR_REFRESH_SECONDS: '__proto__=5' }).message).toMatch(
      /unknown collector "__proto__"/,
    );
  });

  it('refuses an unknown name in a fleet once, as a ConfigError of the deployment', () => {
    const file = path.join(tmp, 'targets.yml');
    fs.writeFileSync(file, 'targets:\n  - name: a\n    host: db-a\n    username: monitor\n');
    expect(() =>
      planFleet({
        TARGETS_FILE: file,
        PUSHGATEWAY_URL: 'http://gw:9091',
        COLLECTOR_REFRESH_SECONDS: 'sizes=300',
      }),
    ).toThrow(ConfigError);
    const fleetPlan = planFleet({
      TARGETS_FILE: file,
      PUSHGATEWAY_URL: 'http://gw:9091',
      COLLECTOR_REFRESH_SECONDS: 'lock=30',
    });
    expect(fleetPlan.fileTargets[0]?.plan.refreshSeconds).toEqual(
      new Map([
        ['lock', 30],
        ['database_size', 300],
        ['tables', 300],
        ['indexes', 300],
      ]),
    );
  });
});

// ---------------------------------------------------------------------------
// The run.

const SIZE = { name: 'test_size_bytes', help: 'Test.', labelNames: ['database'] } as const;
const TICKS = { name: 'test_ticks_total', help: 'Test.', labelNames: [] } as const;

/** A collector of sizes whose values the test sets; counts its collections. */
function sizes(name = 'sizes') {
  const state = { calls: 0, values: { postgres: 100 } as Record<string, number>, fail: false };
  const collector: Collector = {
    name,
    families: [SIZE],
    collect({ metrics }) {
      state.calls += 1;
      if (state.fail) return Promise.reject(new Error('sizes failed'));
      metrics.gauge(
        SIZE,
        Object.entries(state.values).map(([database, value]) => ({ labels: { database }, value })),
      );
      return Promise.resolve();
    },
  };
  return { collector, state };
}

/** A collector run every run: a counter that goes up each time. */
function ticks() {
  const state = { calls: 0 };
  const collector: Collector = {
    name: 'ticks',
    families: [TICKS],
    collect({ metrics }) {
      state.calls += 1;
      metrics.counter(TICKS, [{ labels: {}, value: state.calls }]);
      return Promise.resolve();
    },
  };
  return { collector, state };
}

function fakeDb(startedAt = SERVER.startedAt, privileges = true): Database {
  return {
    serverVersion: SERVER.version,
    startedAt,
    privileges: { pg_read_all_stats: privileges },
    query: () => Promise.resolve([]),
    close: () => Promise.resolve(),
  };
}

interface Ran {
  readonly summary: RunSummary;
  readonly body: string;
  readonly metrics: ReturnType<typeof parseExposition>;
}

/** One run at `at` on the clock, with `cache`, pushing to a fake Pushgateway. */
async function runAt(
  env: Record<string, string>,
  collectors: Collector[],
  cache: RefreshCache,
  at: number,
  deps: RunDependencies & { db?: Database } = {},
): Promise<Ran> {
  const pushes: Delivery[] = [];
  const db = deps.db ?? fakeDb();
  const summary = await run(plan(env, collectors), {
    connect: () => Promise.resolve(db),
    deliver: (delivery) => {
      pushes.push(delivery);
      return Promise.resolve();
    },
    log: silentLogger(),
    refreshCache: cache,
    now: () => at,
    ...deps,
  });
  expect(pushes).toHaveLength(1);
  const body = pushes[0]!.body;
  return { summary, body, metrics: parseExposition(body) };
}

const byCollector = (metrics: Ran['metrics'], family: string): Record<string, number> =>
  Object.fromEntries(select(metrics, family).map((s) => [s.labels.collector ?? '', s.value]));

const sizeLines = (body: string) =>
  body.split('\n').filter((line) => line.startsWith('test_size_bytes'));

describe('run with a refresh interval', () => {
  const env = { ...base, COLLECTOR_REFRESH_SECONDS: 'sizes=300' };

  it('pushes the cached collection again until the interval is up, with its age', async () => {
    const cache = new RefreshCache();
    const s = sizes();
    const t = ticks();
    const first = await runAt(env, [s.collector, t.collector], cache, T0);
    expect(sizeLines(first.body)).toEqual(['test_size_bytes{database="postgres"} 100']);
    expect(byCollector(first.metrics, 'postgresql_exporter_collector_age_seconds')).toEqual({
      sizes: 0,
      ticks: 0,
    });
    const firstDuration = first.summary.collectors.find((c) => c.name === 'sizes')!.durationMs;

    // A database appears; 60 s later the interval is not up: the same numbers are pushed.
    s.state.values = { postgres: 150, shop: 7 };
    const second = await runAt(env, [s.collector, t.collector], cache, T0 + 60_000);
    expect(s.state.calls).toBe(1);
    expect(t.state.calls).toBe(2);
    expect(sizeLines(second.body)).toEqual(sizeLines(first.body));
    expect(select(second.metrics, 'test_ticks_total')[0]?.value).toBe(2);
    expect(byCollector(second.metrics, 'postgresql_exporter_collector_age_seconds')).toEqual({
      sizes: 60,
      ticks: 0,
    });
    expect(byCollector(second.metrics, 'postgresql_exporter_collector_success')).toEqual({
      sizes: 1,
      ticks: 1,
    });
    expect(
      byCollector(second.metrics, 'postgresql_exporter_collector_duration_seconds').sizes,
    ).toBe(firstDuration / 1_000);
    expect(second.summary.collectors.find((c) => c.name === 'sizes')).toEqual({
      name: 'sizes',
      ok: true,
      durationMs: firstDuration,
      cached: true,
      ageSeconds: 60,
    });
    expect(second.summary.series).toBe(first.summary.series);

    // Five minutes on: collected afresh.
    const third = await runAt(env, [s.collector, t.collector], cache, T0 + 300_000);
    expect(s.state.calls).toBe(2);
    expect(sizeLines(third.body).sort()).toEqual([
      'test_size_bytes{database="postgres"} 150',
      'test_size_bytes{database="shop"} 7',
    ]);
    expect(byCollector(third.metrics, 'postgresql_exporter_collector_age_seconds').sizes).toBe(0);
    expect(third.summary.collectors.find((c) => c.name === 'sizes')?.cached).toBeUndefined();
  });

  it('keeps the order of the families in the push, cached or not', async () => {
    const cache = new RefreshCache();
    const s = sizes();
    const t = ticks();
    const first = await runAt(env, [t.collector, s.collector], cache, T0);
    const second = await runAt(env, [t.collector, s.collector], cache, T0 + 60_000);
    const families = (body: string) => body.split('\n').filter((l) => l.startsWith('# TYPE'));
    expect(families(second.body)).toEqual(families(first.body));
  });

  it('pushes nothing of a failed collection and forgets the one before', async () => {
    const cache = new RefreshCache();
    const s = sizes();
    await runAt(env, [s.collector], cache, T0);
    s.state.fail = true;
    const failed = await runAt(env, [s.collector], cache, T0 + 300_000);
    expect(sizeLines(failed.body)).toEqual([]);
    expect(byCollector(failed.metrics, 'postgresql_exporter_collector_success')).toEqual({
      sizes: 0,
    });
    expect(byCollector(failed.metrics, 'postgresql_exporter_collector_age_seconds')).toEqual({});
    expect(cache.entries).toBe(0);
    // Within the interval of the lost collection: still collected, nothing old comes back.
    s.state.fail = false;
    s.state.values = { postgres: 200 };
    const next = await runAt(env, [s.collector], cache, T0 + 310_000);
    expect(s.state.calls).toBe(3);
    expect(sizeLines(next.body)).toEqual(['test_size_bytes{database="postgres"} 200']);
  });

  it('does not cache a collection over the series limit', async () => {
    const cache = new RefreshCache();
    const s = sizes();
    s.state.values = { a: 1, b: 2, c: 3 };
    const over = await runAt({ ...env, COLLECTOR_MAX_SERIES: '2' }, [s.collector], cache, T0);
    expect(over.summary.collectors[0]).toMatchObject({ ok: false, overLimit: true });
    expect(cache.entries).toBe(0);
    await runAt({ ...env, COLLECTOR_MAX_SERIES: '2' }, [s.collector], cache, T0 + 60_000);
    expect(s.state.calls).toBe(2);
  });

  it('pushes nothing cached while PostgreSQL is down', async () => {
    const cache = new RefreshCache();
    const s = sizes();
    await runAt(env, [s.collector], cache, T0);
    const down = await runAt(env, [s.collector], cache, T0 + 60_000, {
      connect: () => Promise.reject(new Error('connect ECONNREFUSED 10.0.0.1:5432')),
    });
    expect(down.summary.up).toBe(false);
    expect(sizeLines(down.body)).toEqual([]);
    expect(select(down.metrics, 'postgresql_up')[0]?.value).toBe(0);
    expect(select(down.metrics, 'postgresql_exporter_collector_age_seconds')).toEqual([]);
    // Back, the same server (not restarted): its collection is still good until the interval is up.
    const back = await runAt(env, [s.collector], cache, T0 + 120_000);
    expect(s.state.calls).toBe(1);
    expect(byCollector(back.metrics, 'postgresql_exporter_collector_age_seconds').sizes).toBe(120);
  });

  it('collects afresh after a restart or failover (another start time)', async () => {
    const cache = new RefreshCache();
    const s = sizes();
    await runAt(env, [s.collector], cache, T0);
    s.state.values = { postgres: 1 };
    const restarted = await runAt(env, [s.collector], cache, T0 + 60_000, {
      db: fakeDb(T0 + 30_000),
    });
    expect(s.state.calls).toBe(2);
    expect(sizeLines(restarted.body)).toEqual(['test_size_bytes{database="postgres"} 1']);
    expect(byCollector(restarted.metrics, 'postgresql_exporter_collector_age_seconds').sizes).toBe(
      0,
    );
  });

  it('does not push a cached collection of a collector whose privileges the role lost', async () => {
    const cache = new RefreshCache();
    const s = sizes();
    const needy: Collector = { ...s.collector, needs: ['pg_read_all_stats'] };
    await runAt(env, [needy], cache, T0);
    const lost = await runAt(env, [needy], cache, T0 + 60_000, {
      db: fakeDb(SERVER.startedAt, false),
    });
    expect(sizeLines(lost.body)).toEqual([]);
    expect(lost.summary.collectors[0]).toMatchObject({ ok: false });
    expect(cache.entries).toBe(0);
  });

  it('says in the summary when a collection did not fit under the byte cap, and collects it every run', async () => {
    const cache = new RefreshCache({ maxBytes: 10 });
    const s = sizes();
    const first = await runAt(env, [s.collector], cache, T0);
    expect(first.summary.collectors[0]).toMatchObject({ name: 'sizes', ok: true, cacheFull: true });
    await runAt(env, [s.collector], cache, T0 + 60_000);
    expect(s.state.calls).toBe(2);
  });

  it('keeps targets apart: another instance, job or database gets its own collection', async () => {
    const cache = new RefreshCache();
    const s = sizes();
    await runAt(env, [s.collector], cache, T0);
    for (const other of [
      { PUSHGATEWAY_INSTANCE: 'other' },
      { PUSHGATEWAY_JOB: 'other' },
      { POSTGRESQL_DATABASE: 'app' },
      { PUSHGATEWAY_GROUPING_LABELS: 'team=x' },
    ]) {
      await runAt({ ...env, ...other }, [s.collector], cache, T0 + 60_000);
    }
    expect(s.state.calls).toBe(5);
  });
});

describe('a fleet with refresh intervals', () => {
  it('caches per target, inline: each target pushes its own numbers again', async () => {
    const file = path.join(tmp, 'fleet.yml');
    fs.writeFileSync(
      file,
      'targets:\n' +
        '  - name: a\n    host: db-a\n    username: monitor\n' +
        '  - name: b\n    host: db-b\n    username: monitor\n',
    );
    const calls: string[] = [];
    const collector: Collector = {
      name: 'sizes',
      families: [SIZE],
      collect({ metrics, db }) {
        const host = (db as Database & { host: string }).host;
        calls.push(host);
        metrics.gauge(SIZE, [{ labels: { database: host }, value: calls.length }]);
        return Promise.resolve();
      },
    };
    const cache = new RefreshCache();
    const fleetRun = async (at: number): Promise<Record<string, string[]>> => {
      const pushes: Delivery[] = [];
      await collectFleet(
        {
          TARGETS_FILE: file,
          PUSHGATEWAY_URL: 'http://gw:9091',
          COLLECTOR_REFRESH_SECONDS: 'sizes=300',
        },
        {
          collectors: [collector],
          log: silentLogger(),
          connect: (target) => Promise.resolve({ ...fakeDb(), host: target.host }),
          deliver: (delivery) => {
            pushes.push(delivery);
            return Promise.resolve();
          },
          listGroups: () => Promise.resolve([]),
          deleteGroup: () => Promise.resolve(),
          refreshCache: cache,
          now: () => at,
        },
      );
      return Object.fromEntries(
        pushes
          .filter((p) => p.key.labels.instance !== undefined)
          .map((p) => [p.key.labels.instance ?? '', sizeLines(p.body)]),
      );
    };
    const first = await fleetRun(T0);
    expect(calls.sort()).toEqual(['db-a', 'db-b']);
    const second = await fleetRun(T0 + 60_000);
    expect(calls).toHaveLength(2);
    expect(second).toEqual(first);
    expect(second.a).toEqual([expect.stringMatching(/^test_size_bytes\{database="db-a"\} [12]$/)]);
    expect(second.b).toEqual([expect.stringMatching(/^test_size_bytes\{database="db-b"\} [12]$/)]);
  });

  it('caches nothing in the per-target function (fan-out): every collector every run', async () => {
    const s = sizes();
    const cache = new RefreshCache();
    const event = {
      target: {
        name: 'orders',
        host: 'orders.internal',
        port: 5432,
        database: 'orders',
        username: 'monitor',
        credentials: { kind: 'env', variable: 'ORDERS_PASSWORD' },
        ssl: 'require',
        labels: {},
        collectors: { enable: [], disable: [] },
        source: 'file',
      },
      notAfter: Date.now() + 60_000,
    };
    const summaries: unknown[] = [];
    for (const at of [T0, T0 + 60_000]) {
      summaries.push(
        await collectTargetEvent(
          {
            TARGETS_FILE: 'targets/fleet.yml',
            FLEET_MODE: 'fanout',
            FLEET_TARGET_FUNCTION: 'svc-collectTarget',
            PUSHGATEWAY_URL: 'http://gw:9091',
            ORDERS_PASSWORD: 'orders-password-1',
            COLLECTOR_REFRESH_SECONDS: 'sizes=300',
          },
          JSON.parse(JSON.stringify(event)),
          {
            collectors: [s.collector],
            log: silentLogger(),
            connect: () => Promise.resolve(fakeDb()),
            deliver: () => Promise.resolve(),
            refreshCache: cache,
            now: () => at,
          },
        ),
      );
    }
    expect(summaries).toHaveLength(2);
    expect(s.state.calls).toBe(2);
    expect(cache.entries).toBe(0);
  });
});
