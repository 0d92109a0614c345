/**
 * The run pipeline with a fake database and a fake push (the collectors'
 * SQL is proven against real servers in the integration suite): planning
 * checks, the grouping key of down runs, privileges, the series limit, the
 * collection deadline, and what leaves the process.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { COLLECTOR_TABLE } from '../src/collectors/index.js';
import type { Collector } from '../src/collectors/types.js';
import type { Database, QueryOptions } from '../src/db.js';
import { ConfigError, SecretError } from '../src/errors.js';
import { createLogger } from '../src/logger.js';
import type { Delivery } from '../src/pushgateway.js';
import { RefreshCache } from '../src/refresh.js';
import { plan, run, type RunDependencies } from '../src/run.js';
import type { SecretSource } from '../src/secrets.js';
import type { DatabaseSecret } from '../src/target.js';
import { parseExposition, select } from './harness/exposition.js';

const base = {
  POSTGRESQL_HOST: 'db.internal',
  POSTGRESQL_PASSWORD: 'env-password-123',
  PUSHGATEWAY_URL: 'http://gw:9091',
};

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'run-test-'));
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function queriesFile(text: string): string {
  const file = path.join(tmp, `q-${Math.random().toString(36).slice(2)}.yml`);
  fs.writeFileSync(file, text);
  return file;
}

function planError(env: Record<string, string>, collectors?: Collector[]): ConfigError {
  try {
    plan(env, collectors);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

/** A database that answers every query with `rows` (or what `answer` says). */
function fakeDb(
  options: {
    rows?: readonly Record<string, unknown>[];
    privileges?: boolean;
    answer?: (sql: string, options?: QueryOptions) => Promise<unknown[]>;
  } = {},
): Database & { closed: number } {
  const db = {
    serverVersion: 170_000,
    startedAt: 1_700_000_000_000,
    privileges: { pg_read_all_stats: options.privileges ?? true },
    closed: 0,
    query: <Row>(sql: string, queryOptions?: QueryOptions) =>
      (options.answer?.(sql, queryOptions) ?? Promise.resolve(options.rows ?? [])) as Promise<
        Row[]
      >,
    close: () => {
      db.closed += 1;
      return Promise.resolve();
    },
  };
  return db;
}

/** A collector pushing one gauge of `series` samples, under `family`. */
function gauge(name: string, family = `test_${name}`, series = 1): Collector {
  const definition = { name: family, help: 'Test.', labelNames: ['n'] };
  return {
    name,
    families: [definition],
    collect({ metrics }) {
      metrics.gauge(
        definition,
        Array.from({ length: series }, (_, i) => ({ labels: { n: String(i) }, value: i })),
      );
      return Promise.resolve();
    },
  };
}

interface Ran {
  readonly pushes: Delivery[];
  readonly lines: string[];
  readonly summary?: Awaited<ReturnType<typeof run>>;
  readonly error?: unknown;
}

async function runWith(
  env: Record<string, string>,
  deps: RunDependencies & { db?: Database } = {},
): Promise<Ran> {
  const pushes: Delivery[] = [];
  const lines: string[] = [];
  const log = createLogger({ write: (line) => lines.push(line) });
  const db = deps.db ?? fakeDb();
  try {
    const summary = await run(plan(env, deps.collectors), {
      // Each run from a cold cache: tests here share one target (test/refresh.test.ts has the warm ones).
      refreshCache: new RefreshCache(),
      connect: () => Promise.resolve(db),
      deliver: (delivery) => {
        pushes.push(delivery);
        return Promise.resolve();
      },
      log,
      ...deps,
    });
    return { pushes, lines, summary };
  } catch (error) {
    return { pushes, lines, error };
  }
}

function pushedSamples(ran: Ran) {
  expect(ran.pushes).toHaveLength(1);
  return parseExposition(ran.pushes[0]!.body);
}

describe('plan', () => {
  it.each([
    [
      'COLLECTORS_ENABLE',
      'no_such_collector',
      /unknown collector "no_such_collector"; known: uptime, lock/,
    ],
    ['COLLECTORS_DISABLE', 'locks', /unknown collector "locks"/],
  ])('refuses %s=%s, naming the variable', (name, value, message) => {
    const error = planError({ ...base, [name]: value });
    expect(error.variable).toBe(name);
    expect(error.message).toMatch(message);
  });

  it.each([
    ['mode', 'postgresql_lock'],
    ['database', 'postgresql_stat_activity'],
    ['type', 'postgresql_stat_bgwriter'],
    ['version', 'postgresql_version_info'],
    ['collector', 'postgresql_exporter_collector_success'],
  ])('refuses a grouping label named like a label of a pushed family: %s', (label, family) => {
    const error = planError({ ...base, PUSHGATEWAY_GROUPING_LABELS: `${label}=x` });
    expect(error.variable).toBe('PUSHGATEWAY_GROUPING_LABELS');
    expect(error.message).toContain(`"${label}" is also a label of`);
    // The first family with that label is named; for "version" it is build_info when
    // version_info is off, so only check that some family is named.
    expect(error.message).toMatch(/postgresql_[a-z_]+/);
    if (label === 'mode') expect(error.message).toContain(family);
  });

  it('takes a grouping label no family uses', () => {
    expect(
      plan({ ...base, PUSHGATEWAY_GROUPING_LABELS: 'env=prod,team=db' }).target.labels,
    ).toEqual({ env: 'prod', team: 'db' });
  });

  const customQuery = (metric: string, labels = '[shop]') => `
queries:
  - name: orders
    sql: SELECT 'a' AS shop, 1 AS n
    labels: ${labels}
    metrics:
      - column: n
        name: ${metric}
        help: Orders.
`;

  it.each([
    ['postgresql_up', 'the exporter itself'],
    ['postgresql_lock', 'collector lock'],
    ['postgresql_statement_calls_total', 'collector statements'],
  ])(
    'refuses a custom metric named like a built-in family (%s), naming file, query and field',
    (metric, owner) => {
      const file = queriesFile(customQuery(metric));
      const error = planError({ ...base, CUSTOM_QUERIES_FILE: file });
      expect(error.variable).toBe('CUSTOM_QUERIES_FILE');
      expect(error.message).toContain(file);
      expect(error.message).toContain('query "orders"');
      expect(error.message).toContain('field "metrics[0].name"');
      expect(error.message).toContain(owner);
    },
  );

  it("refuses a custom metric in the exporter's own namespace (postgresql_exporter_build_info)", () => {
    const file = queriesFile(customQuery('postgresql_exporter_build_info'));
    expect(planError({ ...base, CUSTOM_QUERIES_FILE: file }).message).toMatch(
      /metrics\[0\]\.name.*reserved/,
    );
  });

  it.each([
    ['job', '[shop, job]', {}, 'PUSHGATEWAY_JOB'],
    ['instance', '[instance]', {}, 'PUSHGATEWAY_INSTANCE'],
    ['app', '[app]', {}, 'PUSHGATEWAY_GROUPING_LABELS'],
    ['team', '[team]', { PUSHGATEWAY_GROUPING_LABELS: 'team=db' }, 'PUSHGATEWAY_GROUPING_LABELS'],
  ])('refuses a custom label named like the grouping label %s', (label, labels, extra, owner) => {
    const file = queriesFile(customQuery('shop_orders', labels));
    const error = planError({ ...base, ...extra, CUSTOM_QUERIES_FILE: file });
    expect(error.message).toContain(`"${label}" is a grouping label (set by ${owner})`);
    expect(error.message).toMatch(/field "labels\[\d\]"/);
  });

  it('refuses collectors that would push one family twice, before any I/O', () => {
    const error = planError(base, [gauge('a', 'same_family'), gauge('b', 'same_family')]);
    expect(error.message).toContain('same_family is pushed by collector a and by collector b');
  });

  it('refuses a collector declaring the up family', () => {
    expect(planError(base, [gauge('a', 'postgresql_up')]).message).toContain('the exporter itself');
  });
});

describe('run: one collector cannot break the push of the others', () => {
  it('a collector writing a family it does not declare (here postgresql_up) fails alone', async () => {
    const rogue: Collector = {
      name: 'rogue',
      families: [],
      collect({ metrics }) {
        metrics.gauge({ name: 'postgresql_up', help: 'x', labelNames: [] }, [
          { labels: {}, value: 7 },
        ]);
        return Promise.resolve();
      },
    };
    const ran = await runWith(base, { collectors: [rogue, gauge('good')] });
    expect(ran.error).toBeUndefined();
    const pushed = pushedSamples(ran);
    expect(select(pushed, 'postgresql_up')).toEqual([expect.objectContaining({ value: 1 })]);
    expect(select(pushed, 'test_good')).toHaveLength(1);
    expect(ran.summary?.collectors.map((c) => [c.name, c.ok])).toEqual([
      ['rogue', false],
      ['good', true],
    ]);
    expect(ran.summary?.collectors[0]?.error).toContain('not among its families');
  });

  it('a collector that throws half-way pushes none of its families', async () => {
    const half: Collector = {
      name: 'half',
      families: [{ name: 'test_half', help: 'x', labelNames: [] }],
      collect({ metrics }) {
        metrics.gauge({ name: 'test_half', help: 'x', labelNames: [] }, [{ labels: {}, value: 1 }]);
        return Promise.reject(new Error('boom'));
      },
    };
    const ran = await runWith(base, { collectors: [half, gauge('good')] });
    const pushed = pushedSamples(ran);
    expect(select(pushed, 'test_half')).toHaveLength(0);
    expect(select(pushed, 'test_good')).toHaveLength(1);
    expect(
      select(pushed, 'postgresql_exporter_collector_success').map((s) => [
        s.labels.collector,
        s.value,
      ]),
    ).toEqual([
      ['half', 0],
      ['good', 1],
    ]);
  });
});

describe('run: the series limit', () => {
  it('a collector past COLLECTOR_MAX_SERIES fails alone, with a self-metric; the rest is pushed', async () => {
    const ran = await runWith(
      { ...base, COLLECTOR_MAX_SERIES: '100' },
      { collectors: [gauge('big', 'test_big', 101), gauge('fits', 'test_fits', 100)] },
    );
    expect(ran.error).toBeUndefined();
    const pushed = pushedSamples(ran);
    expect(select(pushed, 'test_big')).toHaveLength(0);
    expect(select(pushed, 'test_fits')).toHaveLength(100);
    expect(
      select(pushed, 'postgresql_exporter_collector_series_limit_exceeded').map((s) => [
        s.labels.collector,
        s.value,
      ]),
    ).toEqual([
      ['big', 1],
      ['fits', 0],
    ]);
    const big = ran.summary?.collectors.find((c) => c.name === 'big');
    expect(big).toMatchObject({ ok: false, overLimit: true });
    expect(big?.error).toMatch(/more than 100 series \(COLLECTOR_MAX_SERIES\)/);
  });

  it('a custom query reads at most the limit plus one row, and fails past it', async () => {
    const file = queriesFile(`
queries:
  - name: runaway
    sql: SELECT g AS n FROM generate_series(1, 1000000) g
    metrics:
      - column: n
        name: shop_n
        help: N.
`);
    const asked: (number | undefined)[] = [];
    const db = fakeDb({
      answer: (_sql, options) => {
        asked.push(options?.maxRows);
        return Promise.resolve(Array.from({ length: options?.maxRows ?? 0 }, (_, n) => ({ n })));
      },
    });
    const ran = await runWith(
      {
        ...base,
        CUSTOM_QUERIES_FILE: file,
        COLLECTOR_MAX_SERIES: '500',
        // Every built-in collector on by default: only the custom query runs.
        COLLECTORS_DISABLE: COLLECTOR_TABLE.filter((e) => e.enabled)
          .map((e) => e.collector.name)
          .join(','),
      },
      { db },
    );
    expect(asked).toEqual([501]);
    expect(ran.summary?.collectors).toEqual([
      expect.objectContaining({ name: 'custom_runaway', ok: false, overLimit: true }),
    ]);
  });
});

describe('run: privileges', () => {
  it('without pg_read_all_stats, the collectors that need it are not run, and the run says so', async () => {
    const ran = await runWith(
      { ...base, COLLECTORS_ENABLE: 'statements' },
      { db: fakeDb({ privileges: false }) },
    );
    expect(ran.summary?.missingPrivileges).toEqual(['pg_read_all_stats']);
    const notRun = ran.summary?.collectors
      .filter((c) => !c.ok)
      .map((c) => c.name)
      .sort();
    expect(notRun).toEqual(['replication', 'stat_activity', 'statements', 'transaction_age']);
    for (const c of ran.summary?.collectors.filter((o) => !o.ok) ?? []) {
      expect(c.error).toMatch(/lacks the privileges of pg_read_all_stats \(GRANT pg_monitor/);
    }
    const pushed = pushedSamples(ran);
    expect(select(pushed, 'postgresql_stat_activity')).toHaveLength(0);
    expect(select(pushed, 'postgresql_exporter_role_privilege')).toEqual([
      expect.objectContaining({ labels: { privilege: 'pg_read_all_stats' }, value: 0 }),
    ]);
    const line = JSON.parse(ran.lines.at(-1)!) as Record<string, unknown>;
    expect(line).toMatchObject({ message: 'run', missingPrivileges: ['pg_read_all_stats'] });
  });

  it('with it, the self-metric is 1 and nothing is missing', async () => {
    const ran = await runWith(base, { db: fakeDb({ privileges: true }) });
    expect(ran.summary?.missingPrivileges).toEqual([]);
    expect(select(pushedSamples(ran), 'postgresql_exporter_role_privilege')[0]?.value).toBe(1);
  });
});

describe('run: the collection deadline', () => {
  it('collectors not started by the collection deadline fail as "not run"; the push still happens', async () => {
    const slow: Collector = {
      name: 'slow',
      families: [],
      collect: () => new Promise((resolve) => setTimeout(resolve, 400)),
    };
    // 900 ms in all: the push keeps a third (300 ms), collection ends at 600 ms.
    const ran = await runWith(base, {
      collectors: [slow, slow, gauge('late')].map((c, i) => ({ ...c, name: `${c.name}${i}` })),
      deadline: Date.now() + 900,
    });
    expect(ran.error).toBeUndefined();
    expect(ran.summary?.collectors.map((c) => [c.name, c.ok])).toEqual([
      ['slow0', true],
      ['slow1', true],
      ['late2', false],
    ]);
    expect(ran.summary?.collectors[2]?.error).toMatch(/not run: the time budget/);
    expect(ran.pushes).toHaveLength(1);
  });
});

describe('run: the grouping key does not depend on whether the secret was read', () => {
  const secret: DatabaseSecret = {
    username: 'monitor',
    password: 'secret-password-456',
    host: 'ignored.example',
    port: 6432,
    dbname: 'orders',
  };
  const source = (fail: boolean): SecretSource => ({
    get: () =>
      fail ? Promise.reject(new Error('AccessDeniedException: no')) : Promise.resolve(secret),
    invalidate: () => undefined,
  });
  const withSecret = { PUSHGATEWAY_URL: base.PUSHGATEWAY_URL, POSTGRESQL_SECRET_ID: 'db-secret' };

  it('host from the environment, port and database from the secret: a secret outage fails loudly, pushing nothing', async () => {
    const env = { ...withSecret, POSTGRESQL_HOST: 'db.internal' };
    const good = await runWith(env, { secrets: source(false) });
    expect(good.pushes[0]?.key.labels.instance).toBe('db.internal:6432/orders');
    const down = await runWith(env, { secrets: source(true) });
    expect(down.error).toBeInstanceOf(SecretError);
    expect((down.error as Error).message).toMatch(
      /AccessDeniedException.*set PUSHGATEWAY_INSTANCE/,
    );
    expect(down.pushes).toHaveLength(0);
    expect(JSON.parse(down.lines.at(-1)!)).toMatchObject({
      level: 'error',
      message: 'secret error',
    });
  });

  it.each([
    ['PUSHGATEWAY_INSTANCE', { PUSHGATEWAY_INSTANCE: 'orders-primary' }],
    [
      'host, port and database',
      { POSTGRESQL_HOST: 'db.internal', POSTGRESQL_PORT: '6432', POSTGRESQL_DATABASE: 'orders' },
    ],
  ])('with %s set, a down run replaces exactly the group a good run replaces', async (_, extra) => {
    const env = { ...withSecret, ...extra };
    const good = await runWith(env, { secrets: source(false) });
    const down = await runWith(env, { secrets: source(true) });
    expect(down.error).toBeUndefined();
    expect(down.summary?.up).toBe(false);
    expect(down.summary?.downReason).toContain('AccessDeniedException');
    expect(down.pushes[0]?.key).toEqual(good.pushes[0]?.key);
    expect(select(pushedSamples(down), 'postgresql_up')[0]?.value).toBe(0);
  });
});

describe('run: what leaves the process', () => {
  it('a huge connection error is cut in the reason and the log line', async () => {
    const ran = await runWith(base, {
      connect: () => Promise.reject(new Error(`FATAL: ${'x'.repeat(1_000_000)}`)),
    });
    expect(ran.summary?.up).toBe(false);
    expect(ran.summary?.downReason?.length).toBeLessThan(1_100);
    expect(ran.summary?.downReason).toMatch(/more characters\)$/);
    expect(ran.lines.join('\n').length).toBeLessThan(10_000);
  });

  it('a secret in a connection error, collector error or pushed value is redacted', async () => {
    const password = base.POSTGRESQL_PASSWORD;
    const leaky: Collector = {
      name: 'leaky',
      families: [{ name: 'test_leak', help: 'x', labelNames: ['text'] }],
      async collect({ metrics, db }) {
        await db.query('SELECT 1');
        metrics.gauge({ name: 'test_leak', help: 'x', labelNames: ['text'] }, [
          { labels: { text: `ALTER ROLE x PASSWORD '${password}'` }, value: 1 },
        ]);
      },
    };
    const failing: Collector = {
      name: 'failing',
      families: [],
      collect: () => Promise.reject(new Error(`bad password ${password}`)),
    };
    const ran = await runWith(base, { collectors: [leaky, failing] });
    const everything = [ran.pushes[0]?.body ?? '', ...ran.lines, JSON.stringify(ran.summary)].join(
      '\n',
    );
    expect(everything).not.toContain(password);
    expect(ran.pushes[0]?.body).toContain('[REDACTED]');
  });

  it('a Pushgateway password with a stray % neither throws URIError nor leaks', async () => {
    const url = 'http://user:p%zz-50%25-secret@gw:9091';
    const ran = await runWith({ ...base, PUSHGATEWAY_URL: url });
    expect(ran.error).toBeUndefined();
    expect(ran.lines.join('\n')).not.toContain('p%zz');
    const failed = await runWith(
      { ...base, PUSHGATEWAY_URL: url },
      { deliver: () => Promise.reject(new Error('refused for p%zz-50%-secret')) },
    );
    expect((failed.error as Error).message).toContain('refused for');
    expect(failed.lines.join('\n')).not.toContain('p%zz-50%-secret');
  });

  it('logs the awsRequestId given to the logger on every line', async () => {
    const lines: string[] = [];
    await runWith(base, {
      log: createLogger({ write: (l) => lines.push(l), fields: { awsRequestId: 'req-42' } }),
    });
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(JSON.parse(line)).toMatchObject({ awsRequestId: 'req-42' });
  });
});

describe('run: a collector on a session of its own (Collector.ownSession)', () => {
  /** A collector that records which session it ran on, and waits on it. */
  function onSession(name: string, ownSession: boolean, seen: string[]): Collector {
    const family = { name: `test_${name}`, help: 'Test.', labelNames: [] } as const;
    return {
      name,
      families: [family],
      ownSession,
      async collect({ db, metrics }) {
        const [row] = await db.query<{ lane: string }>('SELECT lane');
        seen.push(`${name}@${row?.lane ?? '?'}`);
        metrics.gauge(family, [{ labels: {}, value: 1 }]);
      },
    };
  }

  function connectByLane(opened: string[], fail = false): NonNullable<RunDependencies['connect']> {
    return (_target, options) => {
      const lane = options.lane ?? 'main';
      opened.push(`${lane} keep=${options.keepSeconds}`);
      if (fail && lane !== 'main') return Promise.reject(new Error('too many connections'));
      return Promise.resolve(fakeDb({ answer: () => Promise.resolve([{ lane }]) }));
    };
  }

  it('runs beside the others on a second kept session, and pushes in the collectors order', async () => {
    const seen: string[] = [];
    const opened: string[] = [];
    const ran = await runWith(base, {
      collectors: [
        onSession('first', false, seen),
        onSession('slow', true, seen),
        onSession('last', false, seen),
      ],
      connect: connectByLane(opened),
    });
    expect(opened).toEqual(['main keep=300', 'slow#0 keep=300', 'slow#1 keep=300']);
    expect(seen.sort()).toEqual(['first@main', 'last@main', 'slow@slow#0']);
    expect(ran.summary?.collectors.map((c) => [c.name, c.ok])).toEqual([
      ['first', true],
      ['slow', true],
      ['last', true],
    ]);
    const body = ran.pushes[0]?.body ?? '';
    expect(body.indexOf('test_first')).toBeLessThan(body.indexOf('test_slow'));
    expect(body.indexOf('test_slow')).toBeLessThan(body.indexOf('test_last'));
  });

  it('runs on the run session when connections are not kept, or its own cannot be opened', async () => {
    for (const [env, fail] of [
      [{ ...base, POSTGRESQL_KEEP_CONNECTION_SECONDS: '0' }, false],
      [base, true],
    ] as const) {
      const seen: string[] = [];
      const opened: string[] = [];
      const ran = await runWith(env, {
        collectors: [onSession('slow', true, seen)],
        connect: connectByLane(opened, fail),
      });
      expect(seen).toEqual(['slow@main']);
      expect(ran.summary?.collectorErrors).toBe(0);
    }
  });
});
