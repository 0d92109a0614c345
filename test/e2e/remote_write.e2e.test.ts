/**
 * Remote write, end to end: a real Prometheus (Debian's 2.42) with its
 * remote-write receiver on and basic auth in front of every endpoint,
 * scraping nothing. A run with REMOTE_WRITE_URL alone writes there: the
 * seed's PromQL and the dashboard's queries answer from the written data,
 * the grouping labels are series labels and the samples carry the run's
 * collection time. A target that goes down writes `postgresql_up 0` and
 * ends its other series at once. With the Pushgateway too, both get the
 * same series. A duplicate or out-of-order sample (400), a wrong path or a
 * receiver that is off (404) and a refused password (401) are reported
 * clearly, once, and no secret is ever in a log line, summary or error. A
 * bearer token goes through a reverse proxy that wants it; refused and
 * echoed back, it is redacted.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import util from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeKeptConnection } from '../../src/db.js';
import { createLogger } from '../../src/logger.js';
import { collect, type RunDependencies, type RunSummary } from '../../src/run.js';
import type { SinkOutcome } from '../../src/sinks.js';
import { SEED_FAMILIES } from '../fixtures/seed-families.js';
import { runEnv, servers, superuser, uniqueJob } from '../harness/context.js';
import { ALERTS, concreteQuery, panelQueries, pushgatewayOnly } from '../harness/dashboard.js';
import { parseExposition, select } from '../harness/exposition.js';
import { freePort, listenOnLoopback, sleep } from '../harness/ports.js';
import { DEFAULT_MAJOR, postgresBinDir, startPostgres } from '../harness/postgres.js';
import { startProxy } from '../harness/proxy.js';
import {
  startPrometheus,
  type InstantSample,
  type PrometheusServer,
} from '../harness/prometheus.js';

const USER = 'rw-writer';
const PASSWORD = `rw-${randomBytes(12).toString('base64url')}`;
/** A tenant header's value, as Mimir or Cortex want it: a secret like the password. */
const TENANT = `tenant-${randomBytes(9).toString('hex')}`;
const APP = 'prometheus-postgresql-exporter';
/** What the bearer-token proxy in front of Prometheus wants. */
const TOKEN = `tok-${randomBytes(15).toString('base64url')}`;

let prometheus: PrometheusServer;
const { postgres } = servers();
const instance = `${postgres.host}:${postgres.port}/postgres`;

/** Every form of a credential that must never be seen. */
const secrets = () => [
  PASSWORD,
  TOKEN,
  Buffer.from(`${USER}:${PASSWORD}`).toString('base64'),
  TENANT,
  postgres.monitorPassword,
];

/** A run's environment: remote write to the real Prometheus, no Pushgateway. */
function rwEnv(overrides: Record<string, string | undefined> = {}): Record<string, string> {
  return runEnv({
    PUSHGATEWAY_URL: undefined,
    PUSHGATEWAY_JOB: uniqueJob('rw'),
    PUSHGATEWAY_GROUPING_LABELS: `app=${APP},team=storage`,
    REMOTE_WRITE_URL: prometheus.writeUrl,
    REMOTE_WRITE_USERNAME: USER,
    REMOTE_WRITE_PASSWORD: PASSWORD,
    REMOTE_WRITE_HEADERS: `X-Scope-OrgID: ${TENANT}`,
    ...overrides,
  });
}

interface Outcome {
  readonly summary?: RunSummary;
  readonly error?: unknown;
  /** Each sink's outcome, as told to onDelivered (also when the run rejects). */
  readonly sinks: readonly SinkOutcome[];
  readonly lines: string[];
  readonly ms: number;
}

/** One run, its log lines captured; no secret in them, the summary or the error (cause included). */
async function runOnce(env: Record<string, string>, deps: RunDependencies = {}): Promise<Outcome> {
  const lines: string[] = [];
  const log = createLogger({ write: (line) => lines.push(line) });
  let sinks: readonly SinkOutcome[] = [];
  const started = Date.now();
  let outcome: { summary?: RunSummary; error?: unknown };
  try {
    outcome = {
      summary: await collect(env, {
        log,
        onDelivered: (o) => {
          sinks = o;
        },
        ...deps,
      }),
    };
  } catch (error) {
    outcome = { error };
  }
  const visible = [
    ...lines,
    JSON.stringify(outcome.summary ?? {}),
    JSON.stringify(sinks),
    outcome.error === undefined ? '' : util.inspect(outcome.error, { depth: 10 }),
  ].join('\n');
  for (const secret of secrets()) expect(visible).not.toContain(secret);
  return { ...outcome, sinks, lines, ms: Date.now() - started };
}

/**
 * The series of a job, but those the rule evaluation makes from them (the
 * alerts' ALERTS and ALERTS_FOR_STATE carry the job's labels too).
 */
const ofJob = (job: string) => `{job="${job}",__name__!~"ALERTS|ALERTS_FOR_STATE"}`;

const seriesKey = (labels: Readonly<Record<string, string>>) =>
  JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

/** Requests Prometheus answered on its write path, by status code. */
async function writeRequests(server: PrometheusServer): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const sample of select(
    parseExposition(await server.metrics()),
    'prometheus_http_requests_total',
    { handler: '/api/v1/write' },
  )) {
    counts.set(sample.labels.code ?? '', sample.value);
  }
  return counts;
}

const count = (counts: Map<string, number>) => [...counts.values()].reduce((a, b) => a + b, 0);

beforeAll(async () => {
  prometheus = await startPrometheus({
    remoteWriteReceiver: true,
    ruleFiles: [ALERTS],
    basicAuth: { username: USER, password: PASSWORD },
  });
  // As in prometheus.e2e.test.ts: a user table, an index never scanned and a vacuum, so the
  // business example, "Unused indexes" and "Vacuum age" have rows.
  const admin = await superuser();
  await admin.query('CREATE TABLE IF NOT EXISTS dashboard_example (id int)');
  await admin.query('CREATE INDEX IF NOT EXISTS dashboard_example_id ON dashboard_example (id)');
  await admin.query('VACUUM dashboard_example');
  await admin.end();
});

afterAll(async () => {
  await closeKeptConnection();
  await prometheus.stop();
});

describe('REMOTE_WRITE_URL alone', () => {
  const job = uniqueJob('rw');
  let second: Outcome;
  /** When each run began and ended, epoch ms. */
  const windows: { before: number; after: number }[] = [];

  beforeAll(async () => {
    // The dashboard has a panel for the business example, which is off by default.
    const env = rwEnv({ PUSHGATEWAY_JOB: job, COLLECTORS_ENABLE: 'business_user_tables' });
    // Two runs, so that rate(), increase() and delta() have two samples.
    let outcome: Outcome | undefined;
    for (let run = 0; run < 2; run += 1) {
      const before = Date.now();
      outcome = await runOnce(env);
      windows.push({ before, after: Date.now() });
      expect(outcome.error).toBeUndefined();
    }
    second = outcome as Outcome;
  }, 60_000);

  it('writes the run: one remote_write outcome, ok, and no Pushgateway in the summary', () => {
    const summary = second.summary;
    expect(summary?.pushgateway).toBeUndefined();
    expect(summary?.remoteWrite).toBe(prometheus.writeUrl);
    expect(summary?.sinks).toHaveLength(1);
    const [sink] = summary?.sinks ?? [];
    expect(sink).toMatchObject({ sink: 'remote_write', ok: true, url: prometheus.writeUrl });
    expect(sink?.samples).toBe(summary?.series);
    expect(sink?.batches).toBe(1);
    expect(sink?.bytes).toBeGreaterThan(0);
    // The log line says where it went, as the summary does.
    const line = JSON.parse(second.lines.at(-1) ?? '{}') as { message?: string; sinks?: unknown };
    expect(line.message).toBe('run');
    expect(line.sinks).toEqual(summary?.sinks);
  });

  it("answers the seed's PromQL with every seed family, from the written data", async () => {
    const result = (await prometheus.query(`{__name__=~".+",app="${APP}"}`)).filter(
      (r) => r.metric.job === job && !r.metric.__name__?.startsWith('ALERTS'),
    );
    const names = new Set(result.map((r) => r.metric.__name__));
    for (const [name] of SEED_FAMILIES) expect(names, name).toContain(name);
    // Exactly the run's series: nothing of the first run lingers beside them.
    expect(result.length).toBe(second.summary?.series);
  });

  it('makes the grouping labels series labels: job, instance and the extra ones', async () => {
    const up = await prometheus.query(`postgresql_up{job="${job}"}`);
    expect(up.map((r) => r.metric)).toEqual([
      { __name__: 'postgresql_up', job, instance, app: APP, team: 'storage' },
    ]);
    expect(up[0]?.value[1]).toBe('1');
    const databases = await prometheus.query(
      `postgresql_stat_database{job="${job}",type="numbackends"}`,
    );
    expect(databases.length).toBeGreaterThan(0);
    for (const r of databases) {
      expect(r.metric).toMatchObject({ job, instance, app: APP, team: 'storage' });
      expect(r.metric.database).toBeTruthy();
    }
    // No label of a scrape: nothing scraped these, so nothing was renamed or added.
    const all = await prometheus.query(ofJob(job));
    for (const r of all) {
      expect(Object.keys(r.metric).filter((l) => l.startsWith('exported_'))).toEqual([]);
    }
  });

  it("stamps every sample with the run's collection time", async () => {
    const stored = await prometheus.samples(ofJob(job));
    expect(stored.length).toBe(second.summary?.series);
    const ms = (seconds: number | undefined) => Math.round((seconds ?? 0) * 1000);
    // At most one sample per run; the series of both runs have two.
    expect(stored.every((r) => r.values.length <= 2)).toBe(true);
    const both = stored.filter((r) => r.values.length === 2);
    expect(both.length).toBeGreaterThan(stored.length / 2);
    // One time per run, for every sample of it, within the run.
    for (const [run, times] of [
      [0, new Set(both.map((r) => ms(r.values[0]?.[0])))],
      [1, new Set(stored.map((r) => ms(r.values.at(-1)?.[0])))],
    ] as const) {
      expect([...times], `run ${run + 1}`).toHaveLength(1);
      const [time = 0] = times;
      expect(time).toBeGreaterThanOrEqual(windows[run]?.before ?? Infinity);
      expect(time).toBeLessThanOrEqual(windows[run]?.after ?? 0);
    }
  });

  it("returns data for every panel query of the Grafana dashboard but the Pushgateway's push_time_seconds", async () => {
    const queries = panelQueries();
    expect(queries.length).toBeGreaterThan(10);
    const empty: string[] = [];
    for (const { title, expr } of queries) {
      // "All" of the fleet selector: a single-target deployment has no fleet label.
      const concrete = concreteQuery(expr, '.*', instance, job);
      expect(concrete, title).not.toMatch(/\$/);
      const result = await prometheus.query(concrete);
      // Left out: a query of push_time_seconds ("Data age", "Data age history"), which the
      // Pushgateway adds to each group it holds on each push. Remote write has no such series
      // (the next test), so those panels are empty for a deployment without a Pushgateway.
      if (result.length === 0 && !pushgatewayOnly(concrete)) empty.push(`${title}: ${concrete}`);
    }
    expect(empty).toEqual([]);
  });

  it('has no push_time_seconds: the Pushgateway-only panels and PostgreSQLExporterStale see nothing', async () => {
    expect(await prometheus.query(`push_time_seconds{job="${job}"}`)).toEqual([]);
    expect(await prometheus.query(`time() - push_time_seconds{job="${job}",fleet=""}`)).toEqual([]);
  });

  it("shows what an exporter-stopped alert can use instead: the last sample's age, until the 5-minute lookback ends", async () => {
    // Nothing ends the series of a run that never comes (no staleness markers), so they
    // answer for 5 minutes after the last write, then vanish: an alert on
    // `time() - timestamp(postgresql_up) > 180` fires between 3 and 5 minutes and then
    // resolves by itself. present_over_time over a longer range does not.
    const [stamp] = await prometheus.query(`timestamp(postgresql_up{job="${job}"})`);
    const last = Number(stamp?.value[1]);
    const age = `time() - timestamp(postgresql_up{job="${job}"})`;
    const at4 = await prometheus.query(age, last + 240);
    expect(at4.map((r) => Math.round(Number(r.value[1])))).toEqual([240]);
    expect(await prometheus.query(age, last + 360)).toEqual([]);
    const gone = `present_over_time(postgresql_up{job="${job}"}[1h]) unless present_over_time(postgresql_up{job="${job}"}[3m])`;
    expect(await prometheus.query(gone, last + 60)).toEqual([]);
    for (const later of [240, 360, 1800]) {
      const result = await prometheus.query(gone, last + later);
      expect(
        result.map((r) => r.metric.instance),
        `${later} s after`,
      ).toEqual([instance]);
    }
  });

  it('loads the shipped alert rules, all healthy on remote-written data, none firing for this run', async () => {
    type Rules = {
      data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] };
    };
    let rules: { name: string; health: string; lastError?: string }[] = [];
    const deadline = Date.now() + 30_000;
    for (;;) {
      const body = (await (
        await fetch(`${prometheus.url}/api/v1/rules`, {
          headers: {
            authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`,
          },
        })
      ).json()) as Rules;
      rules = body.data.groups.flatMap((g) => g.rules);
      if (rules.every((r) => r.health !== 'unknown') || Date.now() > deadline) break;
      await sleep(500);
    }
    expect(rules.map((r) => r.name)).toContain('PostgreSQLDown');
    for (const rule of rules)
      expect(`${rule.name}: ${rule.health} ${rule.lastError ?? ''}`).toBe(`${rule.name}: ok `);
    const alerts = await prometheus.query(`ALERTS{job="${job}"}`);
    expect(alerts.map((a) => a.metric.alertname)).toEqual([]);
  });
});

describe('a target going down', () => {
  it('writes postgresql_up 0, and the series of the run before go stale at once', async () => {
    const own = await startPostgres({ binDir: postgresBinDir(DEFAULT_MAJOR) });
    const job = uniqueJob('rw-down');
    // The same group before and after: its instance named, not derived from the address.
    const env = rwEnv({
      PUSHGATEWAY_JOB: job,
      PUSHGATEWAY_INSTANCE: 'going-down',
      POSTGRESQL_PORT: String(own.port),
      POSTGRESQL_USERNAME: own.user,
      POSTGRESQL_PASSWORD: own.password,
      POSTGRESQL_KEEP_CONNECTION_SECONDS: '0',
      POSTGRESQL_CONNECT_TIMEOUT_MS: '2000',
    });
    // Fixed clocks, so that every query below has a time of its own between and after the runs.
    const t1 = Date.now() - 20_000;
    const t2 = t1 + 10_000;
    let up: Outcome;
    try {
      up = await runOnce(env, { now: () => t1 });
    } finally {
      await own.stop();
    }
    expect(up.error).toBeUndefined();
    expect(up.summary?.up).toBe(true);
    const down = await runOnce(env, { now: () => t2 });
    expect(down.error).toBeUndefined();
    expect(down.summary?.up).toBe(false);
    const [sink] = down.summary?.sinks ?? [];
    expect(sink).toMatchObject({ sink: 'remote_write', ok: true });

    const at = (ms: number) => ms / 1000;
    // Between the runs: everything of the first run.
    const before = await prometheus.query(ofJob(job), at(t1 + 1_000));
    expect(before.length).toBe(up.summary?.series);
    expect(
      (await prometheus.query(`postgresql_stat_database{job="${job}"}`, at(t1 + 1_000))).length,
    ).toBeGreaterThan(0);

    // Right after the down run, and a minute later (within the 5 minutes a sample is looked
    // back for): postgresql_up 0 and the down run's series only.
    for (const after of [t2 + 1, t2 + 60_000]) {
      const upNow = await prometheus.query(`postgresql_up{job="${job}"}`, at(after));
      expect(upNow.map((r) => [r.metric.instance, r.value[1]])).toEqual([['going-down', '0']]);
      expect(await prometheus.query(`postgresql_stat_database{job="${job}"}`, at(after))).toEqual(
        [],
      );
      expect(await prometheus.query(`postgresql_uptime{job="${job}"}`, at(after))).toEqual([]);
      const all = await prometheus.query(ofJob(job), at(after));
      expect(all.length).toBe(down.summary?.series);
    }
    // Every series the down run no longer has got its staleness marker in the write.
    const kept = new Set(
      (await prometheus.query(ofJob(job), at(t2 + 1))).map((r) => seriesKey(r.metric)),
    );
    const ended = before.filter((r) => !kept.has(seriesKey(r.metric)));
    expect(ended.length).toBeGreaterThan(50);
    expect(sink?.stale).toBe(ended.length);
    expect(sink?.samples).toBe((down.summary?.series ?? 0) + ended.length);

    // The shipped PostgreSQLDown rule sees it (pending: it waits 2 minutes).
    const deadline = Date.now() + 20_000;
    let alerts: InstantSample[] = [];
    while (alerts.length === 0 && Date.now() < deadline) {
      alerts = await prometheus.query(`ALERTS{alertname="PostgreSQLDown",job="${job}"}`);
      if (alerts.length === 0) await sleep(500);
    }
    expect(alerts.map((a) => [a.metric.instance, a.metric.alertstate])).toEqual([
      ['going-down', 'pending'],
    ]);
  }, 90_000);
});

describe('both sinks', () => {
  it('gives both the run, with the same series; both outcomes ok, and both reported the next run', async () => {
    const job = uniqueJob('rw-both');
    const env = rwEnv({ PUSHGATEWAY_URL: servers().pushgatewayUrl, PUSHGATEWAY_JOB: job });
    const first = await runOnce(env);
    expect(first.error).toBeUndefined();
    const second = await runOnce(env);
    expect(second.error).toBeUndefined();
    for (const outcome of [first, second]) {
      const sinks = outcome.summary?.sinks ?? [];
      expect(sinks.map((s) => [s.sink, s.ok])).toEqual([
        ['pushgateway', true],
        ['remote_write', true],
      ]);
      expect(sinks.map((s) => s.error)).toEqual([undefined, undefined]);
      expect(outcome.summary?.pushgateway).toBe(new URL(servers().pushgatewayUrl).toString());
      expect(outcome.summary?.remoteWrite).toBe(prometheus.writeUrl);
    }

    // The Pushgateway's group and what Prometheus holds: the same series, the same values.
    const gateway = parseExposition(
      await (await fetch(`${servers().pushgatewayUrl}/metrics`)).text(),
    ).samples.filter(
      (s) =>
        s.labels.job === job &&
        s.name !== 'push_time_seconds' &&
        s.name !== 'push_failure_time_seconds',
    );
    const written = await prometheus.query(ofJob(job));
    const fromGateway = new Map(
      gateway.map((s) => [seriesKey({ __name__: s.name, ...s.labels }), s.value]),
    );
    const fromPrometheus = new Map(written.map((r) => [seriesKey(r.metric), Number(r.value[1])]));
    expect(fromGateway.size).toBe(second.summary?.series);
    expect([...fromPrometheus.keys()].sort()).toEqual([...fromGateway.keys()].sort());
    for (const [key, value] of fromGateway) expect(fromPrometheus.get(key), key).toEqual(value);

    // The second run reports the first one's delivery, per sink, to both.
    const last = await prometheus.query(`postgresql_exporter_last_write_success{job="${job}"}`);
    expect(last.map((r) => [r.metric.sink, r.value[1]]).sort()).toEqual([
      ['pushgateway', '1'],
      ['remote_write', '1'],
    ]);
  }, 60_000);
});

describe('a sample the receiver already has', () => {
  it('a second run at the same time (a duplicate) and one at an earlier time (out of order): 400, reported once, not retried', async () => {
    const job = uniqueJob('rw-order');
    const env = rwEnv({ PUSHGATEWAY_JOB: job });
    const t = Date.now() - 30_000;
    const first = await runOnce(env, { now: () => t });
    expect(first.error).toBeUndefined();

    for (const [what, time, said] of [
      ['duplicate', t, /duplicate sample for timestamp/],
      ['out of order', t - 5_000, /out of order sample/],
    ] as const) {
      const before = await writeRequests(prometheus);
      const outcome = await runOnce(env, { now: () => time });
      const after = await writeRequests(prometheus);
      const message = outcome.error instanceof Error ? outcome.error.message : '';
      expect(outcome.error, what).toBeInstanceOf(Error);
      expect(message, what).toMatch(/remote write/);
      expect(message, what).toContain(prometheus.writeUrl);
      expect(message, what).toMatch(/\b400\b/);
      expect(message, what).toMatch(said);
      expect(message, what).toMatch(/not retried/);
      // One request, answered 400: no retry.
      expect(count(after) - count(before), what).toBe(1);
      expect((after.get('400') ?? 0) - (before.get('400') ?? 0), what).toBe(1);
      expect(
        outcome.sinks.map((s) => [s.sink, s.ok]),
        what,
      ).toEqual([['remote_write', false]]);
      expect(outcome.sinks[0]?.error, what).toMatch(said);
      const failed = outcome.lines.find((l) => l.includes('"push failed"'));
      expect(failed, what).toMatch(said);
      expect(outcome.ms, what).toBeLessThan(8_000);
    }
    // What the receiver has is the first run's, untouched by the refused writes.
    const stamps = await prometheus.query(`timestamp(postgresql_up{job="${job}"})`, t / 1000 + 1);
    expect(stamps.map((r) => Number(r.value[1]))).toEqual([t / 1000]);
  }, 60_000);
});

describe('a write that cannot work', () => {
  it('a wrong path: 404, with what to check', async () => {
    const outcome = await runOnce(rwEnv({ REMOTE_WRITE_URL: `${prometheus.url}/api/v1/writ` }));
    const message = outcome.error instanceof Error ? outcome.error.message : '';
    expect(message).toMatch(/remote write/);
    expect(message).toMatch(/\b404\b/);
    expect(message).toContain('REMOTE_WRITE_URL');
    expect(message).toContain('/api/v1/write');
    expect(outcome.sinks.map((s) => [s.sink, s.ok])).toEqual([['remote_write', false]]);
  });

  it("a Prometheus without its receiver on: 404 with Prometheus's own answer", async () => {
    const off = await startPrometheus();
    try {
      const outcome = await runOnce(
        rwEnv({
          REMOTE_WRITE_URL: off.writeUrl,
          REMOTE_WRITE_USERNAME: undefined,
          REMOTE_WRITE_PASSWORD: undefined,
        }),
      );
      const message = outcome.error instanceof Error ? outcome.error.message : '';
      expect(message).toMatch(/\b404\b/);
      expect(message).toContain('--web.enable-remote-write-receiver');
      expect(message).toMatch(/remote write receiver needs to be enabled/);
    } finally {
      await off.stop();
    }
  }, 60_000);

  it('a refused password: 401, once, and no credential anywhere', async () => {
    const wrong = `wrong-${randomBytes(9).toString('base64url')}`;
    // Prometheus counts no request its basic auth refuses: a proxy in front counts them.
    const proxy = await startProxy(prometheus.url, () => ({ forward: true }));
    let outcome: Outcome;
    try {
      outcome = await runOnce(
        rwEnv({ REMOTE_WRITE_URL: `${proxy.url}/api/v1/write`, REMOTE_WRITE_PASSWORD: wrong }),
      );
    } finally {
      await proxy.stop();
    }
    const message = outcome.error instanceof Error ? outcome.error.message : '';
    expect(message).toMatch(/remote write/);
    expect(message).toMatch(/\b401\b/);
    expect(message).toMatch(/Unauthorized/);
    expect(proxy.requests).toEqual([{ method: 'POST', url: '/api/v1/write' }]);
    const visible = [...outcome.lines, util.inspect(outcome.error, { depth: 10 })].join('\n');
    expect(visible).not.toContain(wrong);
    expect(visible).not.toContain(Buffer.from(`${USER}:${wrong}`).toString('base64'));
  });

  it('a receiver not listening: the run fails within REMOTE_WRITE_TIMEOUT_MS, naming the endpoint', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/api/v1/write`;
    const outcome = await runOnce(
      rwEnv({ REMOTE_WRITE_URL: url, REMOTE_WRITE_TIMEOUT_MS: '2000' }),
    );
    const message = outcome.error instanceof Error ? outcome.error.message : '';
    expect(message).toMatch(/remote write/);
    expect(message).toContain(`127.0.0.1:${port}`);
    expect(message).toMatch(/ECONNREFUSED/);
    // No answer is retried, within the bound (slack for a loaded machine).
    expect(message).toMatch(/after \d+ attempts/);
    expect(outcome.sinks[0]?.durationMs).toBeLessThan(2_000 + 1_500);
    expect(outcome.ms).toBeLessThan(10_000);
  });
});

/**
 * A reverse proxy as a gateway in front of a receiver would be: it wants
 * `Authorization: Bearer <TOKEN>`, forwards to Prometheus with its basic
 * auth, and refuses anything else with 401, echoing the header it got.
 */
async function startBearerProxy(): Promise<{ url: string; stop: () => Promise<void> }> {
  const target = new URL(prometheus.url);
  const basic = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const given = req.headers.authorization ?? '';
      if (given !== `Bearer ${TOKEN}`) {
        res.writeHead(401, { 'content-type': 'text/plain' }).end(`refused: ${given}\n`);
        return;
      }
      const upstream = http.request(
        {
          host: target.hostname,
          port: target.port,
          path: req.url,
          method: req.method,
          headers: { ...req.headers, authorization: basic },
        },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      upstream.on('error', () => res.writeHead(502).end());
      upstream.end(Buffer.concat(chunks));
    });
  });
  const port = await listenOnLoopback(server);
  return {
    url: `http://127.0.0.1:${port}/api/v1/write`,
    stop: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('a bearer token, through a reverse proxy', () => {
  let proxy: { url: string; stop: () => Promise<void> };
  beforeAll(async () => {
    proxy = await startBearerProxy();
  });
  afterAll(async () => {
    await proxy.stop();
  });
  const bearerEnv = (token: string, job: string) =>
    rwEnv({
      PUSHGATEWAY_JOB: job,
      REMOTE_WRITE_URL: proxy.url,
      REMOTE_WRITE_USERNAME: undefined,
      REMOTE_WRITE_PASSWORD: undefined,
      REMOTE_WRITE_BEARER_TOKEN: token,
    });

  it('is sent: the run reaches Prometheus', async () => {
    const job = uniqueJob('rw-bearer');
    const outcome = await runOnce(bearerEnv(TOKEN, job));
    expect(outcome.error).toBeUndefined();
    expect(outcome.summary?.remoteWrite).toBe(proxy.url);
    const up = await prometheus.query(`postgresql_up{job="${job}"}`);
    expect(up.map((r) => r.value[1])).toEqual(['1']);
  });

  it('refused, and echoed back by the receiver: 401, the token redacted everywhere', async () => {
    const wrong = `tok-${randomBytes(15).toString('base64url')}`;
    const outcome = await runOnce(bearerEnv(wrong, uniqueJob('rw-bearer')));
    const message = outcome.error instanceof Error ? outcome.error.message : '';
    expect(message).toMatch(/\b401\b/);
    // The receiver's answer is kept, the credential in it is not.
    expect(message).toMatch(/refused: (Bearer )?\[REDACTED\]/);
    expect(message).toMatch(/bearer token/);
    const visible = [
      ...outcome.lines,
      JSON.stringify(outcome.sinks),
      util.inspect(outcome.error, { depth: 10 }),
    ].join('\n');
    expect(visible).not.toContain(wrong);
  });
});
