/**
 * The fault suite: real PostgreSQL and Pushgateway processes, faults injected
 * by stopping, pausing (SIGSTOP) or restarting them, holding locks, a proxy
 * answering 500 or too slowly, and Secrets Manager stubbed at the SDK. Every
 * case asserts the outcome rule, its time bound, and that no password shows
 * in any log line, error or summary.
 *
 * Outcome rules: PostgreSQL down, slow or refusing → postgresql_up 0 and the
 * self-metrics are pushed, the invocation succeeds. Pushgateway unreachable
 * after retries → the invocation fails, naming it. Bad configuration → fails
 * before any I/O, naming the variable.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { COLLECTORS } from '../../src/collectors/index.js';
import type { Collector } from '../../src/collectors/types.js';
import { SAFETY_MARGIN_MS } from '../../src/budget.js';
import { ConfigError, PushError } from '../../src/errors.js';
import { collect, type RunDependencies, type RunSummary } from '../../src/run.js';
import { secretsManagerSource } from '../../src/secrets.js';
import { closeKeptConnection } from '../../src/db.js';
import { pushgatewayMetrics, runEnv, servers, superuser } from '../harness/context.js';
import { parseExposition, select } from '../harness/exposition.js';
import { eventually, freePort } from '../harness/ports.js';
import { startPostgres, type PostgresServer } from '../harness/postgres.js';
import { startProxy, type Proxy } from '../harness/proxy.js';
import { startHostileHttp, type HostileHttp } from '../harness/hostile-http.js';
import { startHostilePostgres, type HostilePostgres } from '../harness/hostile-postgres.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const PASSWORDS = new Set<string>();

interface Outcome {
  readonly summary?: RunSummary;
  readonly error?: unknown;
  readonly ms: number;
  readonly lines: string[];
}

/** One run, timed, stdout captured; fails the test if any password leaked. */
async function run(env: Record<string, string>, deps: RunDependencies = {}): Promise<Outcome> {
  for (const [name, value] of Object.entries(env)) if (/PASSWORD/.test(name)) PASSWORDS.add(value);
  const lines: string[] = [];
  const spy = vi
    .spyOn(process.stdout, 'write')
    .mockImplementation((chunk) => lines.push(String(chunk)) > 0);
  const started = Date.now();
  let outcome: Outcome;
  try {
    outcome = { summary: await collect(env, deps), ms: Date.now() - started, lines };
  } catch (error) {
    outcome = { error, ms: Date.now() - started, lines };
  } finally {
    spy.mockRestore();
  }
  const visible = [
    ...lines,
    JSON.stringify(outcome.summary ?? {}),
    outcome.error instanceof Error
      ? `${outcome.error.message} ${outcome.error.stack ?? ''}`
      : String(outcome.error),
    // Everything the Pushgateway holds, of every test so far: no secret may leave in a pushed value.
    await pushgatewayMetrics(),
  ].join('\n');
  for (const password of [
    ...PASSWORDS,
    servers().postgres.password,
    servers().postgres.monitorPassword,
  ]) {
    for (const form of [
      password,
      encodeURIComponent(password),
      JSON.stringify(password).slice(1, -1),
    ]) {
      expect(visible).not.toContain(form);
    }
  }
  return outcome;
}

async function pushed(job: string) {
  const all = parseExposition(await pushgatewayMetrics());
  return { ...all, samples: all.samples.filter((s) => s.labels.job === job) };
}

/** The run succeeded and pushed postgresql_up 0 with the self-metrics. */
async function expectDown(outcome: Outcome, job: string, reason: RegExp) {
  expect(outcome.error).toBeUndefined();
  expect(outcome.summary?.up).toBe(false);
  expect(outcome.summary?.downReason).toMatch(reason);
  const metrics = await pushed(job);
  expect(select(metrics, 'postgresql_up')[0]?.value).toBe(0);
  expect(select(metrics, 'postgresql_exporter_build_info')).toHaveLength(1);
  expect(select(metrics, 'postgresql_stat_database')).toHaveLength(0);
  expect(JSON.parse(outcome.lines.join(''))).toMatchObject({ level: 'info', up: false });
}

const inSeconds = (s: number) => Date.now() + s * 1000;

describe('PostgreSQL faults', () => {
  let own: PostgresServer;
  beforeAll(async () => {
    own = await startPostgres({ binDir: servers().postgres.binDir });
  });
  afterAll(async () => {
    await own.stop();
  });
  const ownEnv = (extra: Record<string, string> = {}) =>
    runEnv({
      POSTGRESQL_PORT: String(own.port),
      POSTGRESQL_USERNAME: own.user,
      POSTGRESQL_PASSWORD: own.password,
      ...extra,
    });

  it('connection refused: up 0 at once', async () => {
    const env = runEnv({ POSTGRESQL_PORT: String(await freePort()) });
    const outcome = await run(env);
    await expectDown(outcome, env.PUSHGATEWAY_JOB!, /ECONNREFUSED/);
    expect(outcome.ms).toBeLessThan(2_000);
  });

  it('accepting TCP but never answering (SIGSTOP): up 0 after the connect timeout', async () => {
    const env = ownEnv({ POSTGRESQL_CONNECT_TIMEOUT_MS: '1000' });
    own.pause();
    try {
      const outcome = await run(env);
      await expectDown(outcome, env.PUSHGATEWAY_JOB!, /timeout/i);
      expect(outcome.ms).toBeGreaterThanOrEqual(900);
      expect(outcome.ms).toBeLessThan(2_500);
    } finally {
      own.resume();
    }
  });

  it('never answering with little Lambda time left: the connect is cut to the budget', async () => {
    // Default connect timeout 5 s, but only 3 s of budget: the run still pushes in time.
    const env = ownEnv();
    own.pause();
    try {
      const outcome = await run(env, { deadline: inSeconds(3) });
      await expectDown(outcome, env.PUSHGATEWAY_JOB!, /timeout/i);
      expect(outcome.ms).toBeLessThan(3_000 + SAFETY_MARGIN_MS);
    } finally {
      own.resume();
    }
  });

  it('wrong password: up 0, the password nowhere', async () => {
    const env = ownEnv({ POSTGRESQL_PASSWORD: 'Wr0ng-Passw0rd-in-fault-test' });
    const outcome = await run(env);
    await expectDown(outcome, env.PUSHGATEWAY_JOB!, /password authentication failed/);
    expect(outcome.ms).toBeLessThan(2_000);
  });

  it('a database that does not exist: up 0', async () => {
    const env = ownEnv({ POSTGRESQL_DATABASE: 'no_such_database' });
    const outcome = await run(env);
    await expectDown(outcome, env.PUSHGATEWAY_JOB!, /does not exist/);
    expect(outcome.ms).toBeLessThan(2_000);
  });

  it('restarted mid-run: the collectors after it fail, the rest is pushed; the next run is whole', async () => {
    const restarter: Collector = {
      name: 'restart_server',
      families: [],
      async collect() {
        await own.restart();
      },
    };
    const env = ownEnv();
    const collectors = [COLLECTORS[0]!, restarter, ...COLLECTORS.slice(1)];
    const outcome = await run(env, { collectors });
    expect(outcome.error).toBeUndefined();
    expect(outcome.summary?.up).toBe(true);
    const failed = outcome.summary!.collectors.filter((c) => !c.ok).map((c) => c.name);
    // Those on a session of their own (database_size) open it after the restart, and work.
    expect(failed).toEqual(
      COLLECTORS.slice(1)
        .filter((c) => c.ownSession !== true)
        .map((c) => c.name),
    );
    const metrics = await pushed(env.PUSHGATEWAY_JOB!);
    expect(select(metrics, 'postgresql_uptime')).toHaveLength(1);
    expect(
      select(metrics, 'postgresql_exporter_collector_success', { collector: 'lock' })[0]?.value,
    ).toBe(0);
    expect(outcome.ms).toBeLessThan(15_000);

    const next = await run(env);
    expect(next.summary).toMatchObject({ up: true, collectorErrors: 0 });
  });

  it('a query blocked past statement_timeout fails its collector only, in time', async () => {
    const admin = await own.client();
    await admin.query('CREATE TABLE IF NOT EXISTS blocked (id int)');
    const holder = await own.client();
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE blocked IN ACCESS EXCLUSIVE MODE');
    const reader: Collector = {
      name: 'reads_blocked_table',
      families: [],
      async collect({ db }) {
        await db.query('SELECT count(*) FROM blocked');
      },
    };
    try {
      const env = ownEnv({ POSTGRESQL_STATEMENT_TIMEOUT_MS: '500' });
      const outcome = await run(env, { collectors: [reader, ...COLLECTORS] });
      expect(outcome.summary?.up).toBe(true);
      expect(outcome.summary?.collectorErrors).toBe(1);
      expect(outcome.summary?.collectors[0]).toMatchObject({
        name: 'reads_blocked_table',
        ok: false,
      });
      expect(outcome.summary?.collectors[0]?.error).toMatch(/statement timeout/);
      expect(outcome.summary?.collectors[0]?.durationMs).toBeLessThan(1_500);
      const metrics = await pushed(env.PUSHGATEWAY_JOB!);
      expect(
        select(metrics, 'postgresql_lock', { mode: 'accessexclusivelock' }).some(
          (s) => s.value > 0,
        ),
      ).toBe(true);
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
      await admin.end();
    }
  });

  it('a view or permission missing fails that collector only', async () => {
    const admin = await superuser();
    await admin.query('CREATE TABLE IF NOT EXISTS not_granted (id int)');
    await admin.end();
    const reader: Collector = {
      name: 'reads_not_granted',
      families: [],
      async collect({ db }) {
        await db.query('SELECT count(*) FROM not_granted');
      },
    };
    const env = runEnv(); // the pg_monitor-only role
    const outcome = await run(env, { collectors: [reader, ...COLLECTORS] });
    expect(outcome.summary?.collectorErrors).toBe(1);
    expect(outcome.summary?.collectors[0]?.error).toMatch(/permission denied/);
    expect(
      select(await pushed(env.PUSHGATEWAY_JOB!), 'postgresql_stat_database').length,
    ).toBeGreaterThan(0);
  });

  it('two runs at once: both succeed; three connections are kept (one for the run, two for sizes), none with keep 0', async () => {
    const count = async (name: string) => {
      const admin = await superuser();
      try {
        const { rows } = await admin.query<{ n: string }>(
          'SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1',
          [name],
        );
        return Number(rows[0]?.n);
      } finally {
        await admin.end();
      }
    };
    for (const keep of ['300', '0']) {
      const name = `fault-concurrent-runs-${keep}`;
      const env = runEnv({
        POSTGRESQL_APPLICATION_NAME: name,
        POSTGRESQL_KEEP_CONNECTION_SECONDS: keep,
      });
      const started = Date.now();
      const [a, b] = await Promise.all([run(env), run(env)]);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(a.summary).toMatchObject({ up: true, collectorErrors: 0 });
      expect(b.summary).toMatchObject({ up: true, collectorErrors: 0 });
      // The second run's connections are closed at once; a closed backend may take a moment to
      // leave the view. Kept: the run's connection and database_size's two.
      await eventually(async () => {
        expect(await count(name)).toBe(keep === '0' ? 0 : 3);
      });
    }
    await closeKeptConnection();
    await eventually(async () => {
      expect(await count('fault-concurrent-runs-300')).toBe(0);
    });
  });

  it('a kept connection to a server that stopped answering: given up after a second, then up 0 in time', async () => {
    const env = ownEnv({ POSTGRESQL_CONNECT_TIMEOUT_MS: '1000' });
    expect((await run(env)).summary).toMatchObject({ up: true, collectorErrors: 0 });
    own.pause();
    try {
      const outcome = await run(env);
      await expectDown(outcome, env.PUSHGATEWAY_JOB!, /timeout/i);
      // One second for the kept connection's check, one for a new connect.
      expect(outcome.ms).toBeGreaterThanOrEqual(1_900);
      expect(outcome.ms).toBeLessThan(3_500);
    } finally {
      own.resume();
    }
    expect((await run(env)).summary).toMatchObject({ up: true, collectorErrors: 0 });
  });
});

describe('hostile PostgreSQL answers', () => {
  let hostile: HostilePostgres | undefined;
  afterEach(async () => {
    await hostile?.stop();
    hostile = undefined;
  });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'faults-'));
  afterAll(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  const queries = (name: string, text: string) => {
    const file = path.join(tmp, `${name}.yml`);
    fs.writeFileSync(file, text);
    return file;
  };

  it('a 1 MB error at login: up 0 with a reason of at most about 1,000 characters', async () => {
    hostile = await startHostilePostgres({
      errorOnStartup: { bytes: 1024 * 1024, prefix: 'password authentication failed ' },
    });
    const env = runEnv({ POSTGRESQL_HOST: hostile.host, POSTGRESQL_PORT: String(hostile.port) });
    const outcome = await run(env);
    await expectDown(
      outcome,
      env.PUSHGATEWAY_JOB!,
      /password authentication failed x+… \(\d+ more characters\)/,
    );
    expect(outcome.summary!.downReason!.length).toBeLessThan(1_100);
    expect(outcome.lines.join('').length).toBeLessThan(5_000);
    expect(outcome.ms).toBeLessThan(2_000);
  });

  it('a 1 MB error from a custom query: that collector fails with a short error', async () => {
    const env = runEnv({
      CUSTOM_QUERIES_FILE: queries(
        'huge_error',
        `
queries:
  - name: huge_error
    sql: SELECT repeat('x', 1000000)::int AS n
    metrics:
      - column: n
        name: app_n
        help: N.
`,
      ),
    });
    const outcome = await run(env);
    const failed = outcome.summary?.collectors.find((c) => c.name === 'custom_huge_error');
    expect(failed?.ok).toBe(false);
    expect(failed?.error).toMatch(/invalid input syntax for type integer/);
    expect(failed!.error!.length).toBeLessThan(1_100);
    expect(outcome.lines.join('').length).toBeLessThan(20_000);
  });

  it('a custom query of a million rows: fails alone at the series limit, in time, within memory; the rest is pushed', async () => {
    const env = runEnv({
      CUSTOM_QUERIES_FILE: queries(
        'million',
        `
queries:
  - name: million
    sql: SELECT g::text AS id, g::float8 AS n FROM generate_series(1, 1000000) g
    labels: [id]
    metrics:
      - column: n
        name: app_million
        help: A runaway query.
`,
      ),
    });
    const before = process.memoryUsage().rss;
    const outcome = await run(env);
    expect(outcome.error).toBeUndefined();
    const failed = outcome.summary?.collectors.find((c) => c.name === 'custom_million');
    expect(failed).toMatchObject({ ok: false, overLimit: true });
    expect(failed?.error).toMatch(/more than 20000 rows .*COLLECTOR_MAX_SERIES/);
    // The rows past the limit were never read: no 1M-row result in memory.
    expect(process.memoryUsage().rss - before).toBeLessThan(200 * 1024 * 1024);
    expect(outcome.ms).toBeLessThan(10_000);
    const metrics = await pushed(env.PUSHGATEWAY_JOB!);
    expect(select(metrics, 'app_million')).toHaveLength(0);
    expect(select(metrics, 'postgresql_stat_database').length).toBeGreaterThan(0);
    expect(
      select(metrics, 'postgresql_exporter_collector_series_limit_exceeded', {
        collector: 'custom_million',
      })[0]?.value,
    ).toBe(1);
  });
});

describe('grouping values', () => {
  it('with slashes, spaces and unicode reach the Pushgateway intact, in time', async () => {
    const instance = 'prod / eu-west-1 / Zürich ✓ 数据库';
    const env = runEnv({
      PUSHGATEWAY_INSTANCE: instance,
      PUSHGATEWAY_GROUPING_LABELS: 'team=a/b c',
    });
    const outcome = await run(env);
    expect(outcome.summary).toMatchObject({ up: true, instance });
    expect(outcome.ms).toBeLessThan(2_000);
    const up = select(await pushed(env.PUSHGATEWAY_JOB!), 'postgresql_up')[0];
    expect(up?.labels).toMatchObject({ instance, team: 'a/b c' });
  });
});

describe('Pushgateway faults', () => {
  let proxy: Proxy | undefined;
  afterEach(async () => {
    await proxy?.stop();
    proxy = undefined;
  });

  it('refused: retried until the budget, then the invocation fails naming it', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const outcome = await run(runEnv({ PUSHGATEWAY_URL: url }), { deadline: inSeconds(3) });
    expect(outcome.error).toBeInstanceOf(PushError);
    expect((outcome.error as Error).message).toMatch(
      new RegExp(`^push to Pushgateway ${url}/ failed: .*ECONNREFUSED.*\\(after \\d+ attempts\\)$`),
    );
    expect(outcome.ms).toBeLessThan(3_000 + SAFETY_MARGIN_MS);
    expect(outcome.ms).toBeGreaterThan(1_000); // it did keep trying
    expect(JSON.parse(outcome.lines.join(''))).toMatchObject({
      level: 'error',
      message: 'push failed',
    });
  });

  it('an outage costs PUSHGATEWAY_TIMEOUT_MS, not the rest of the Lambda time', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const outcome = await run(runEnv({ PUSHGATEWAY_URL: url, PUSHGATEWAY_TIMEOUT_MS: '1500' }), {
      deadline: inSeconds(30),
    });
    expect(outcome.error).toBeInstanceOf(PushError);
    expect((outcome.error as Error).message).toMatch(/\(after \d+ attempts\)/);
    expect(outcome.ms).toBeLessThan(1_500 + 1_500);
  });

  it('a 401 echoing the request headers: no form of the credentials in the error or the log', async () => {
    let echo: HostileHttp | undefined = await startHostileHttp({ status: 401, echoHeaders: true });
    try {
      const password = 'Pgw-Secret:pass%word';
      PASSWORDS.add(password);
      const outcome = await run(
        runEnv({
          PUSHGATEWAY_URL: echo.url,
          PUSHGATEWAY_USERNAME: 'ops',
          PUSHGATEWAY_PASSWORD: password,
        }),
      );
      expect(outcome.error).toBeInstanceOf(PushError);
      const header = echo.stats.requests[0]?.headers.authorization ?? '';
      expect(header).toBe(`Basic ${Buffer.from(`ops:${password}`).toString('base64')}`);
      const visible = [(outcome.error as Error).message, ...outcome.lines].join('\n');
      expect(visible).not.toContain(header.slice('Basic '.length));
      expect(visible).toContain('[REDACTED]');
    } finally {
      await echo.stop();
      echo = undefined;
    }
  });

  it('a 500 of 400 MB: only its start is read, the connection is dropped', async () => {
    const huge = await startHostileHttp({ status: 500, body: { bytes: 400 * 1024 * 1024 } });
    try {
      const before = process.memoryUsage().rss;
      const outcome = await run(
        runEnv({ PUSHGATEWAY_URL: huge.url, PUSHGATEWAY_TIMEOUT_MS: '3000' }),
      );
      expect(outcome.error).toBeInstanceOf(PushError);
      expect((outcome.error as Error).message.length).toBeLessThan(1_500);
      expect(huge.stats.responses.length).toBeGreaterThan(1); // retried, each cut short
      for (const response of huge.stats.responses) {
        expect(response.bytesWritten).toBeLessThan(64 * 1024 * 1024);
      }
      expect(process.memoryUsage().rss - before).toBeLessThan(200 * 1024 * 1024);
    } finally {
      await huge.stop();
    }
  });

  it('500 then 200: the retry gets the metrics through', async () => {
    proxy = await startProxy(servers().pushgatewayUrl, (n) =>
      n === 1 ? { status: 500, body: 'storage hiccup' } : { forward: true },
    );
    const env = runEnv({ PUSHGATEWAY_URL: proxy.url });
    const outcome = await run(env, { deadline: inSeconds(10) });
    expect(outcome.error).toBeUndefined();
    expect(proxy.requests.map((r) => r.method)).toEqual(['PUT', 'PUT']);
    expect(select(await pushed(env.PUSHGATEWAY_JOB!), 'postgresql_up')[0]?.value).toBe(1);
    expect(outcome.ms).toBeLessThan(3_000);
  });

  it('400: not retried, the invocation fails with the answer', async () => {
    proxy = await startProxy(servers().pushgatewayUrl, () => ({ status: 400, body: 'bad labels' }));
    const outcome = await run(runEnv({ PUSHGATEWAY_URL: proxy.url }), { deadline: inSeconds(10) });
    expect(outcome.error).toBeInstanceOf(PushError);
    expect((outcome.error as Error).message).toContain('answered HTTP 400: bad labels');
    expect(proxy.requests).toHaveLength(1);
  });

  it('slower than the budget: the invocation fails before the deadline', async () => {
    proxy = await startProxy(servers().pushgatewayUrl, () => ({ forward: true, delayMs: 30_000 }));
    const outcome = await run(runEnv({ PUSHGATEWAY_URL: proxy.url }), { deadline: inSeconds(3) });
    expect(outcome.error).toBeInstanceOf(PushError);
    expect((outcome.error as Error).message).toMatch(/no answer within \d+ ms/);
    expect(outcome.ms).toBeLessThan(3_000 + SAFETY_MARGIN_MS);
  });
});

describe('Secrets Manager faults (stubbed at the SDK)', () => {
  const sm = mockClient(SecretsManagerClient);
  afterEach(() => sm.reset());
  const secretEnv = (extra: Record<string, string | undefined> = {}) =>
    runEnv({
      POSTGRESQL_SECRET_ID: 'prod/db',
      POSTGRESQL_USERNAME: undefined,
      POSTGRESQL_PASSWORD: undefined,
      ...extra,
    });

  it.each([
    [
      'missing',
      () =>
        sm.on(GetSecretValueCommand).rejects(
          Object.assign(new Error('Secrets Manager can’t find the specified secret.'), {
            name: 'ResourceNotFoundException',
          }),
        ),
      /can’t find the specified secret/,
    ],
    [
      'malformed JSON',
      () =>
        sm.on(GetSecretValueCommand).resolves({ SecretString: '{"username": "u", "password": ' }),
      /not valid JSON/,
    ],
    [
      'throttled',
      () =>
        sm
          .on(GetSecretValueCommand)
          .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' })),
      /Rate exceeded/,
    ],
    [
      'never answering',
      () => sm.on(GetSecretValueCommand).callsFake(() => new Promise(() => undefined)),
      /no answer within/,
    ],
  ])(
    '%s, with the group known from POSTGRESQL_HOST: up 0 pushed, invocation succeeds',
    async (_case, arrange, reason) => {
      arrange();
      const env = secretEnv();
      const outcome = await run(env, { secrets: secretsManagerSource(), deadline: inSeconds(8) });
      await expectDown(outcome, env.PUSHGATEWAY_JOB!, reason);
      expect(outcome.summary?.downReason).toContain('prod/db');
      expect(outcome.ms).toBeLessThan(6_000);
    },
  );

  it('the secret carries port and database: a secret outage never pushes up 0 to another group', async () => {
    const { postgres } = servers();
    const secret = {
      username: postgres.monitorUser,
      password: postgres.monitorPassword,
      host: 'not-used.example',
      port: postgres.port,
      dbname: 'postgres',
    };
    // POSTGRESQL_HOST set, port and database from the secret (every RDS secret has them).
    const env = secretEnv({ POSTGRESQL_PORT: undefined, POSTGRESQL_DATABASE: undefined });
    sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(secret) });
    const good = await run(env, { secrets: secretsManagerSource() });
    expect(good.summary).toMatchObject({
      up: true,
      instance: `${postgres.host}:${postgres.port}/postgres`,
    });
    sm.reset();
    sm.on(GetSecretValueCommand).rejects(new Error('AccessDeniedException'));
    const down = await run(env, { secrets: secretsManagerSource() });
    // The good run's group keeps its numbers, and no other group appears: the invocation fails.
    expect((down.error as Error).message).toMatch(/AccessDeniedException.*PUSHGATEWAY_INSTANCE/);
    const groups = new Set(
      (await pushed(env.PUSHGATEWAY_JOB!)).samples.map((s) => s.labels.instance),
    );
    expect([...groups]).toEqual([`${postgres.host}:${postgres.port}/postgres`]);
  });

  it('with PUSHGATEWAY_INSTANCE, a secret outage replaces the same group with up 0', async () => {
    const { postgres } = servers();
    const env = secretEnv({
      PUSHGATEWAY_INSTANCE: 'orders-primary',
      POSTGRESQL_PORT: undefined,
      POSTGRESQL_DATABASE: undefined,
    });
    sm.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({
        username: postgres.monitorUser,
        password: postgres.monitorPassword,
        port: postgres.port,
        dbname: 'postgres',
      }),
    });
    expect((await run(env, { secrets: secretsManagerSource() })).summary?.up).toBe(true);
    sm.reset();
    sm.on(GetSecretValueCommand).rejects(new Error('AccessDeniedException'));
    const down = await run(env, { secrets: secretsManagerSource() });
    await expectDown(down, env.PUSHGATEWAY_JOB!, /AccessDeniedException/);
    const ups = select(await pushed(env.PUSHGATEWAY_JOB!), 'postgresql_up');
    expect(ups.map((s) => [s.labels.instance, s.value])).toEqual([['orders-primary', 0]]);
  });

  it('with no way to know the group: the invocation fails naming the secret', async () => {
    sm.on(GetSecretValueCommand).rejects(new Error('AccessDeniedException'));
    const env = secretEnv({ POSTGRESQL_HOST: undefined });
    const outcome = await run(env, { secrets: secretsManagerSource() });
    expect((outcome.error as Error).message).toMatch(
      /could not read secret prod\/db: AccessDeniedException/,
    );
    expect((await pushed(env.PUSHGATEWAY_JOB!)).samples).toHaveLength(0);
  });
});

describe('bad configuration', () => {
  it('fails before any I/O, naming the variable, within milliseconds', async () => {
    const env = runEnv({ POSTGRESQL_PORT: '99999' });
    const outcome = await run(env);
    expect(outcome.error).toBeInstanceOf(ConfigError);
    expect((outcome.error as ConfigError).variable).toBe('POSTGRESQL_PORT');
    expect(outcome.ms).toBeLessThan(500);
    expect((await pushed(env.PUSHGATEWAY_JOB!)).samples).toHaveLength(0);
  });
});
