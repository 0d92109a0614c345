/**
 * The Lambda handler end to end: real PostgreSQL → collectors → real
 * Pushgateway, read back from the Pushgateway's /metrics.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { handler } from '../../handlers/collect.js';
import { LOCK_MODES } from '../../src/collectors/general/lock.js';
import { ACTIVITY_STATES } from '../../src/collectors/general/stat_activity.js';
import { supports, type Collector } from '../../src/collectors/types.js';
import { COLLECTORS } from '../../src/collectors/index.js';
import { ConfigError, PushError } from '../../src/errors.js';
import { collect, type RunSummary } from '../../src/run.js';
import { SEED_FAMILIES } from '../fixtures/seed-families.js';
import { parseExposition, select } from '../harness/exposition.js';
import { pushgatewayMetrics, runEnv, servers, superuser, uniqueJob } from '../harness/context.js';
import { freePort } from '../harness/ports.js';
import { startPostgres } from '../harness/postgres.js';

/** What the Pushgateway holds for one job. */
async function pushed(job: string) {
  const all = parseExposition(await pushgatewayMetrics());
  return {
    ...all,
    samples: all.samples.filter((s) => s.labels.job === job && !s.name.startsWith('push_')),
  };
}

/** Runs with stdout captured; returns the summary (or error) and the lines written. */
async function captured<T>(
  run: () => Promise<T>,
): Promise<{ result?: T; error?: unknown; lines: string[] }> {
  const lines: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    return { result: await run(), lines };
  } catch (error) {
    return { error, lines };
  } finally {
    spy.mockRestore();
  }
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('handler', () => {
  it('pushes every seed family with its exact labels and help text', async () => {
    const env = runEnv();
    for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
    const { result, lines } = await captured(() => handler());
    const summary = result as RunSummary;
    expect(summary.up).toBe(true);
    expect(summary.collectorErrors).toBe(0);
    expect(summary.collectors.map((c) => c.name)).toEqual(
      COLLECTORS.filter((c) => supports(c, summary.serverVersion!)).map((c) => c.name),
    );

    const metrics = await pushed(env.PUSHGATEWAY_JOB!);
    expect(summary.series).toBe(metrics.samples.length);
    const { postgres } = servers();
    const grouping = {
      job: env.PUSHGATEWAY_JOB!,
      instance: `${postgres.host}:${postgres.port}/postgres`,
      app: 'prometheus-postgresql-exporter',
    };
    for (const [name, help, labelNames] of SEED_FAMILIES) {
      const samples = select(metrics, name);
      expect(samples.length, name).toBeGreaterThan(0);
      if (help !== null) expect(metrics.help.get(name)).toBe(help);
      expect(metrics.type.get(name)).toBe('gauge');
      for (const sample of samples) {
        expect(Object.keys(sample.labels).sort()).toEqual(
          [...labelNames, ...Object.keys(grouping)].sort(),
        );
        expect(sample.labels).toMatchObject(grouping);
      }
    }
    expect(select(metrics, 'postgresql_up')[0]?.value).toBe(1);

    // Other test files create databases in parallel: check the ones always there.
    for (const datname of ['postgres', 'template0', 'template1']) {
      expect(select(metrics, 'postgresql_lock', { database: datname })).toHaveLength(
        LOCK_MODES.length,
      );
      expect(
        select(metrics, 'postgresql_stat_activity', { database: datname }).length,
      ).toBeGreaterThanOrEqual(ACTIVITY_STATES.length);
    }

    // One JSON line per run, and no password in it.
    const logged = lines.join('');
    expect(logged.trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(logged)).toMatchObject({
      level: 'info',
      message: 'run',
      up: true,
      collectorErrors: 0,
    });
    expect(logged).not.toContain(postgres.monitorPassword);
  });

  it('replaces the group on every push (PUT): a dropped database disappears', async () => {
    const env = runEnv();
    const shortLived = uniqueJob('short').replace('-', '_');
    const admin = await superuser();
    await admin.query(`CREATE DATABASE ${shortLived}`);
    await captured(() => collect(env));
    expect(
      select(await pushed(env.PUSHGATEWAY_JOB!), 'postgresql_lock', { database: shortLived }),
    ).toHaveLength(8);
    await admin.query(`DROP DATABASE ${shortLived}`);
    await admin.end();
    await captured(() => collect(env));
    expect(
      select(await pushed(env.PUSHGATEWAY_JOB!), 'postgresql_lock', { database: shortLived }),
    ).toHaveLength(0);
  });

  it('accepts grouping values with slashes, spaces and unicode', async () => {
    const instance = 'prod / eu-west-1 / Zürich ✓';
    const env = runEnv({
      PUSHGATEWAY_INSTANCE: instance,
      PUSHGATEWAY_GROUPING_LABELS: 'team=a/b c,app=x',
    });
    const { result } = await captured(() => collect(env));
    expect(result?.instance).toBe(instance);
    const up = select(await pushed(env.PUSHGATEWAY_JOB!), 'postgresql_up')[0];
    expect(up?.labels).toMatchObject({ instance, team: 'a/b c', app: 'x' });
  });

  it('pushes postgresql_up 0 when PostgreSQL is stopped, into the same group, and succeeds', async () => {
    const own = await startPostgres({ binDir: servers().postgres.binDir });
    const env = runEnv({
      POSTGRESQL_PORT: String(own.port),
      POSTGRESQL_USERNAME: own.user,
      POSTGRESQL_PASSWORD: own.password,
    });
    const job = env.PUSHGATEWAY_JOB!;
    const first = await captured(() => collect(env));
    expect(first.result?.up).toBe(true);
    expect(select(await pushed(job), 'postgresql_stat_database').length).toBeGreaterThan(0);

    await own.stop();
    const started = Date.now();
    const second = await captured(() => collect(env));
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(second.error).toBeUndefined();
    expect(second.result).toMatchObject({
      up: false,
      series: 3,
      collectorErrors: 0,
      collectors: [],
    });
    expect(second.result?.downReason).toMatch(/ECONNREFUSED/);
    const after = await pushed(job);
    // The group was replaced: postgresql_up 0 and the self-metrics, no stale numbers.
    expect(after.samples.map((s) => s.name).sort()).toEqual([
      'postgresql_exporter_build_info',
      'postgresql_exporter_run_duration_seconds',
      'postgresql_up',
    ]);
    expect(select(after, 'postgresql_up')[0]).toMatchObject({
      value: 0,
      labels: { instance: `127.0.0.1:${own.port}/postgres` },
    });
    expect(second.lines.join('')).not.toContain(own.password);
  });

  it('pushes postgresql_up 0 when the login is refused, and logs no password', async () => {
    const wrong = 'wrong-Password-123';
    const env = runEnv({ POSTGRESQL_PASSWORD: wrong });
    const { result, lines } = await captured(() => collect(env));
    expect(result?.up).toBe(false);
    expect(result?.downReason).toMatch(/password authentication failed/);
    expect(select(await pushed(env.PUSHGATEWAY_JOB!), 'postgresql_up')[0]?.value).toBe(0);
    expect(lines.join('')).not.toContain(wrong);
    expect(JSON.stringify(result)).not.toContain(wrong);
  });

  it('pushes postgresql_up 0 for a database that does not exist', async () => {
    const env = runEnv({ POSTGRESQL_DATABASE: 'no_such_db' });
    const { result } = await captured(() => collect(env));
    expect(result?.up).toBe(false);
    expect(result?.downReason).toMatch(/does not exist/);
  });

  it("keeps one collector's failure from stopping the others", async () => {
    const broken: Collector = {
      name: 'broken',
      families: [],
      async collect({ db }) {
        await db.query('SELECT * FROM no_such_view');
      },
    };
    const env = runEnv();
    const { result, lines } = await captured(() =>
      collect(env, { collectors: [COLLECTORS[0]!, broken, ...COLLECTORS.slice(1)] }),
    );
    expect(result?.collectorErrors).toBe(1);
    const outcome = result?.collectors.find((c) => c.name === 'broken');
    expect(outcome?.ok).toBe(false);
    expect(outcome?.error).toMatch(/no_such_view/);
    const metrics = await pushed(env.PUSHGATEWAY_JOB!);
    for (const [name] of SEED_FAMILIES)
      expect(select(metrics, name).length, name).toBeGreaterThan(0);
    expect(JSON.parse(lines.join(''))).toMatchObject({ collectorErrors: 1 });
  });

  it.each([
    ['POSTGRESQL_PORT', 'not-a-port'],
    ['PUSHGATEWAY_URL', 'pushgateway:9091'],
  ])('stops before any I/O on a bad %s, naming it', async (name, value) => {
    const env = runEnv({ [name]: value });
    const { error, lines } = await captured(() => collect(env));
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe(name);
    expect(lines.join('')).toContain(name);
    expect((await pushed(env.PUSHGATEWAY_JOB!)).samples).toHaveLength(0);
  });

  it('fails the invocation, naming the Pushgateway, when it cannot be reached', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const env = runEnv({ PUSHGATEWAY_URL: url });
    // Retried until the deadline: give it 2 s, not the default 60.
    const { error, lines } = await captured(() => collect(env, { deadline: Date.now() + 2_000 }));
    expect(error).toBeInstanceOf(PushError);
    expect((error as Error).message).toContain(`Pushgateway ${url}/`);
    expect(JSON.parse(lines.join(''))).toMatchObject({ level: 'error', message: 'push failed' });
  });

  it("ends before Lambda's timeout: the deadline comes from getRemainingTimeInMillis", async () => {
    const env = runEnv({ PUSHGATEWAY_URL: `http://127.0.0.1:${await freePort()}` });
    for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
    const started = Date.now();
    const { error } = await captured(() =>
      handler(undefined, { getRemainingTimeInMillis: () => 2_000 }),
    );
    const took = Date.now() - started;
    expect(error).toBeInstanceOf(PushError);
    expect((error as Error).message).toMatch(/after \d+ attempts/);
    // Within the 2 s Lambda would give (the run aims 0.5 s before; slack for a loaded machine).
    expect(took).toBeLessThan(2_000);
    // It retried (pauses of 200 and 400 ms) and stopped when another pause would not fit.
    expect(took).toBeGreaterThan(550);
  });

  it("logs the invocation's awsRequestId on its line", async () => {
    const env = runEnv();
    for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
    const { lines } = await captured(() =>
      handler(undefined, { getRemainingTimeInMillis: () => 20_000, awsRequestId: 'req-7f3a' }),
    );
    expect(JSON.parse(lines.join(''))).toMatchObject({ message: 'run', awsRequestId: 'req-7f3a' });
  });

  it('fails the invocation when the Pushgateway refuses the push', async () => {
    // A label name the Pushgateway rejects in the body is not possible from
    // config, so push to a path it does not serve.
    const env = runEnv({ PUSHGATEWAY_URL: `${servers().pushgatewayUrl}/not-here` });
    const { error } = await captured(() => collect(env));
    expect(error).toBeInstanceOf(PushError);
    expect((error as PushError).status).toBe(404);
  });
});
