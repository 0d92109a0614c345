/**
 * A fleet collected inline with REMOTE_WRITE_URL alone, for real: three
 * targets (the project's PostgreSQL under two names, and a port nothing
 * listens on) written into a real Prometheus with its remote-write
 * receiver on behind basic auth, no Pushgateway anywhere. Every target's
 * `postgresql_up` is there with its fleet label, the fleet's own group too
 * (no instance label), no write failure is counted, and the dashboard's
 * Fleet row answers but for its Pushgateway-only panels. A target going
 * down ends its series at once.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import util from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeKeptConnection } from '../../src/db.js';
import { collectFleet, type FleetSummary } from '../../src/fleet/fleet.js';
import { createLogger } from '../../src/logger.js';
import { pushgatewayMetrics, servers, uniqueJob } from '../harness/context.js';
import { concreteQuery, panelQueries, pushgatewayOnly } from '../harness/dashboard.js';
import { parseExposition, select } from '../harness/exposition.js';
import { freePort } from '../harness/ports.js';
import { startPrometheus, type PrometheusServer } from '../harness/prometheus.js';

const { postgres } = servers();
const job = uniqueJob('rw-fleet');
const fleet = `rw-${randomBytes(3).toString('hex')}`;
const LIVE = ['rw-a', 'rw-b'] as const;
const DOWN = 'rw-down';
const WRITER = 'fleet-writer';
const WRITER_PASSWORD = `fw-${randomBytes(12).toString('base64url')}`;

let prometheus: PrometheusServer;
let dir: string;
let env: Record<string, string>;
/** The targets file, as it is written. */
let targetsFile: (downs: readonly string[]) => void;
const summaries: FleetSummary[] = [];
const lines: string[] = [];

/** One fleet run; no password (PostgreSQL's, remote write's) in its log lines, its summary or its error. */
async function runFleetOnce(): Promise<FleetSummary> {
  const log = createLogger({ write: (line) => lines.push(line) });
  let summary: FleetSummary | undefined;
  let error: unknown;
  try {
    summary = await collectFleet(env, { log, deadline: Date.now() + 30_000 });
  } catch (caught) {
    error = caught;
  }
  const visible = [...lines, JSON.stringify(summary ?? {}), util.inspect(error)].join('\n');
  for (const secret of [
    postgres.monitorPassword,
    WRITER_PASSWORD,
    Buffer.from(`${WRITER}:${WRITER_PASSWORD}`).toString('base64'),
  ])
    expect(visible).not.toContain(secret);
  expect(error).toBeUndefined();
  if (summary === undefined) throw new Error('no summary');
  return summary;
}

beforeAll(async () => {
  prometheus = await startPrometheus({
    remoteWriteReceiver: true,
    basicAuth: { username: WRITER, password: WRITER_PASSWORD },
  });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-rw-e2e-'));
  const file = path.join(dir, 'targets.yml');
  const nothing = await freePort();
  targetsFile = (downs) => {
    const live = LIVE.map(
      (name) =>
        `  - name: ${name}\n    host: ${postgres.host}\n` +
        `    port: ${downs.includes(name) ? nothing : postgres.port}\n` +
        `    username: ${postgres.monitorUser}\n    password_env: RW_PG_PASSWORD\n` +
        `    labels: { tier: "${name.slice(3)}" }\n`,
    );
    const down = `  - name: ${DOWN}\n    host: 127.0.0.1\n    port: ${nothing}\n    username: nobody\n`;
    fs.writeFileSync(file, `targets:\n${live.join('')}${down}`);
  };
  targetsFile([]);
  env = {
    TARGETS_FILE: file,
    FLEET_NAME: fleet,
    RW_PG_PASSWORD: postgres.monitorPassword,
    REMOTE_WRITE_URL: prometheus.writeUrl,
    REMOTE_WRITE_USERNAME: WRITER,
    REMOTE_WRITE_PASSWORD: WRITER_PASSWORD,
    PUSHGATEWAY_JOB: job,
    POSTGRESQL_CONNECT_TIMEOUT_MS: '2000',
    POSTGRESQL_KEEP_CONNECTION_SECONDS: '0',
  };
  // Two runs: rate() in the dashboard, and the second reports the first one's writes.
  summaries.push(await runFleetOnce());
  summaries.push(await runFleetOnce());
}, 90_000);

afterAll(async () => {
  await closeKeptConnection();
  await prometheus.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('a fleet with REMOTE_WRITE_URL alone', () => {
  it('runs every target and writes its own group to remote write only', () => {
    for (const summary of summaries) {
      expect(summary.targets).toBe(3);
      expect(summary.down).toBe(1);
      expect(summary.failed).toBe(0);
      expect(summary.pushgateway).toBeUndefined();
      expect(summary.remoteWrite).toBe(prometheus.writeUrl);
      expect(summary.outcomes.map((o) => [o.name, o.up, o.error, o.failedSinks])).toEqual([
        ['rw-a', true, undefined, undefined],
        ['rw-b', true, undefined, undefined],
        [DOWN, false, undefined, undefined],
      ]);
      expect(summary.sinks.map((s) => [s.sink, s.ok])).toEqual([['remote_write', true]]);
      // No Pushgateway: no stale groups to look for, none deleted.
      expect(summary.deletedGroups).toEqual([]);
      expect(summary.cleanup).toBe(true);
    }
  });

  it('writes postgresql_up of every target, with its fleet and own labels: 1 for the live ones, 0 for the one down', async () => {
    const up = await prometheus.query(`postgresql_up{job="${job}"}`);
    expect(
      up.map((r) => [r.metric.instance, r.metric.fleet, r.metric.tier, r.value[1]]).sort(),
    ).toEqual([
      ['rw-a', fleet, 'a', '1'],
      ['rw-b', fleet, 'b', '1'],
      [DOWN, fleet, undefined, '0'],
    ]);
    // Each live target's own numbers, under its own name.
    for (const name of LIVE) {
      const databases = await prometheus.query(
        `postgresql_stat_database{job="${job}",fleet="${fleet}",instance="${name}"}`,
      );
      expect(databases.length, name).toBeGreaterThan(0);
    }
    expect(
      await prometheus.query(`postgresql_stat_database{job="${job}",instance="${DOWN}"}`),
    ).toEqual([]);
  });

  it("writes the fleet's own group without an instance label, with no write failure counted", async () => {
    const targets = await prometheus.query(
      `postgresql_exporter_fleet_targets{job="${job}",fleet="${fleet}"}`,
    );
    expect(targets.map((r) => [r.metric.source, r.metric.instance, r.value[1]])).toContainEqual([
      'file',
      undefined,
      '3',
    ]);
    const failures = await prometheus.query(
      `postgresql_exporter_fleet_write_failures{job="${job}",fleet="${fleet}"}`,
    );
    // Only the sink configured, and no target it did not take.
    expect(failures.map((r) => [r.metric.sink, r.value[1]])).toEqual([['remote_write', '0']]);
    expect(
      (await prometheus.query(`postgresql_exporter_fleet_targets_down{job="${job}"}`)).map(
        (r) => r.value[1],
      ),
    ).toEqual(['1']);
  });

  it("reports each target's previous write in its next run: last_write_success 1", async () => {
    const last = await prometheus.query(`postgresql_exporter_last_write_success{job="${job}"}`);
    expect(last.map((r) => [r.metric.instance, r.metric.sink, r.value[1]]).sort()).toEqual([
      ['rw-a', 'remote_write', '1'],
      ['rw-b', 'remote_write', '1'],
      [DOWN, 'remote_write', '1'],
    ]);
  });

  it('needs no Pushgateway: nothing of this job is on the one the tests run', async () => {
    const pushed = parseExposition(await pushgatewayMetrics());
    expect(select(pushed, 'push_time_seconds', { job })).toEqual([]);
    expect(select(pushed, 'postgresql_up', { job })).toEqual([]);
  });

  it("returns data for every query of the dashboard's Fleet row but the Pushgateway-only ones", async () => {
    const queries = panelQueries(true);
    expect(queries.length).toBeGreaterThan(5);
    const empty: string[] = [];
    for (const { title, expr } of queries) {
      // "All" of the target selector.
      const concrete = concreteQuery(expr, fleet, '.+', job);
      expect(concrete, title).not.toMatch(/\$/);
      // A targets file without discovery, collected inline: no discovery or fan-out series.
      if (/discovery|invoke_failures/.test(concrete)) continue;
      const result = await prometheus.query(concrete);
      // Left out: push_time_seconds ("Fleet run age", the Targets table's age column), which
      // the Pushgateway adds to each group on each push: remote write has no such series.
      if (result.length === 0 && !pushgatewayOnly(concrete)) empty.push(`${title}: ${concrete}`);
    }
    expect(empty).toEqual([]);
    expect(await prometheus.query(`push_time_seconds{job="${job}"}`)).toEqual([]);
  });

  it("ends a target's series at once when it goes down: postgresql_up 0 and nothing else of it", async () => {
    // rw-b's address now answers nothing: the same target, down.
    const [previous] = await prometheus.query(
      `timestamp(postgresql_up{job="${job}",instance="rw-b"})`,
    );
    const last = Number(previous?.value[1]);
    targetsFile(['rw-b']);
    const summary = await runFleetOnce();
    expect(summary.down).toBe(2);
    const now = (Date.now() + 1) / 1000;
    const at = (expr: string) => prometheus.query(expr, now);
    expect(
      (await at(`postgresql_up{job="${job}",instance="rw-b"}`)).map((r) => r.value[1]),
    ).toEqual(['0']);
    expect(await at(`postgresql_stat_database{job="${job}",instance="rw-b"}`)).toEqual([]);
    // Ended by staleness markers at this run's time, not left for the 5-minute lookback:
    // they were there just after the run before.
    expect(
      (
        await prometheus.query(
          `postgresql_stat_database{job="${job}",instance="rw-b"}`,
          last + 0.001,
        )
      ).length,
    ).toBeGreaterThan(0);
    // The other live target goes on.
    expect(
      (await at(`postgresql_stat_database{job="${job}",instance="rw-a"}`)).length,
    ).toBeGreaterThan(0);
  });
});
