/**
 * The read side, end to end: a real Prometheus scrapes the real Pushgateway
 * (honor_labels) after a run. The seed's PromQL returns the seed families
 * through Prometheus's HTTP API, every panel query of the shipped Grafana
 * dashboard returns data, and the shipped alert rules load and evaluate.
 */
import { silentLogger } from '../../src/logger.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectFleet } from '../../src/fleet/fleet.js';
import { collect } from '../../src/run.js';
import { SEED_FAMILIES } from '../fixtures/seed-families.js';
import { runEnv, servers, superuser } from '../harness/context.js';
import { ALERTS, concreteQuery, panelQueries, remoteWriteOnly } from '../harness/dashboard.js';
import { sleep } from '../harness/ports.js';
import { startPrometheus, type PrometheusServer } from '../harness/prometheus.js';

let prometheus: PrometheusServer;
const FLEET = 'dashboard-fleet';
const fleetFile = path.join(os.tmpdir(), `prometheus-e2e-targets-${process.pid}.yml`);
// The dashboard has a panel for the business example, which is off by default.
const env = runEnv({
  PUSHGATEWAY_JOB: 'postgresql-exporter',
  COLLECTORS_ENABLE: 'business_user_tables',
});
const { postgres } = servers();
const instance = `${postgres.host}:${postgres.port}/postgres`;

async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await check();
    if (result !== undefined) return result;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(500);
  }
}

beforeAll(async () => {
  prometheus = await startPrometheus({
    pushgatewayUrl: servers().pushgatewayUrl,
    ruleFiles: [ALERTS],
  });
  // A user table, so the business example (tables per schema) has a series; with an index
  // never scanned and a vacuum, so "Unused indexes" and "Vacuum age" have rows.
  const admin = await superuser();
  await admin.query('CREATE TABLE IF NOT EXISTS dashboard_example (id int)');
  await admin.query('CREATE INDEX IF NOT EXISTS dashboard_example_id ON dashboard_example (id)');
  await admin.query('VACUUM dashboard_example');
  await admin.end();
  // Two runs a few scrapes apart, so that rate() and increase() have samples.
  const quiet = { log: silentLogger() };
  await collect(env, quiet);
  await eventually('the first scrape', async () =>
    (await prometheus.query(`postgresql_up{instance="${instance}"}`)).length > 0 ? true : undefined,
  );
  await sleep(3_000);
  await collect(env, quiet);
  // A fleet of two targets (the same server under two names), run twice, for the Fleet row.
  fs.writeFileSync(
    fleetFile,
    `targets:\n${['dash-a', 'dash-b']
      .map(
        (name) =>
          `  - name: ${name}\n    host: ${postgres.host}\n    port: ${postgres.port}\n` +
          `    username: ${postgres.monitorUser}\n    password_env: DASH_PG_PASSWORD\n`,
      )
      .join('')}`,
  );
  const fleetEnv = {
    TARGETS_FILE: fleetFile,
    FLEET_NAME: FLEET,
    DASH_PG_PASSWORD: postgres.monitorPassword,
    PUSHGATEWAY_URL: servers().pushgatewayUrl,
    PUSHGATEWAY_JOB: 'postgresql-exporter',
  };
  await collectFleet(fleetEnv, quiet);
  await sleep(3_000);
  await collectFleet(fleetEnv, quiet);
  await sleep(3_000);
}, 90_000);

afterAll(async () => {
  await prometheus.stop();
  fs.rmSync(fleetFile, { force: true });
});

describe('Prometheus scraping the Pushgateway', () => {
  it("answers the seed's PromQL with every seed family", async () => {
    const result = await prometheus.query('{__name__=~".+",app="prometheus-postgresql-exporter"}');
    const names = new Set(result.map((r) => r.metric.__name__));
    for (const [name] of SEED_FAMILIES) expect(names, name).toContain(name);
    const up = result.find(
      (r) => r.metric.__name__ === 'postgresql_up' && r.metric.instance === instance,
    );
    // honor_labels: the pushed job and instance, not the Pushgateway's.
    expect(up?.metric).toMatchObject({
      job: 'postgresql-exporter',
      instance,
      app: 'prometheus-postgresql-exporter',
    });
    expect(up?.value[1]).toBe('1');
  });

  it('returns data for every panel query of the Grafana dashboard', async () => {
    const queries = panelQueries();
    expect(queries.length).toBeGreaterThan(10);
    const empty: string[] = [];
    for (const { title, expr } of queries) {
      // "All" of the fleet selector: a single-target deployment has no fleet label.
      const concrete = concreteQuery(expr, '.*', instance);
      expect(concrete, title).not.toMatch(/\$/);
      // Each sink's last delivery is pushed only beside remote write, which this run has not.
      if (remoteWriteOnly(concrete)) continue;
      const result = await prometheus.query(concrete);
      if (result.length === 0) empty.push(`${title}: ${concrete}`);
    }
    expect(empty).toEqual([]);
  });

  it("returns data for every query of the dashboard's Fleet row, for a fleet", async () => {
    const queries = panelQueries(true);
    expect(queries.length).toBeGreaterThan(5);
    const empty: string[] = [];
    for (const { title, expr } of queries) {
      // "All" of the target selector.
      const concrete = concreteQuery(expr, FLEET, '.+');
      expect(concrete, title).not.toMatch(/\$/);
      // A targets file without discovery, collected inline: no discovery or fan-out series.
      if (/discovery|invoke_failures/.test(concrete)) continue;
      // Write failures by sink are pushed only beside remote write.
      if (remoteWriteOnly(concrete)) continue;
      const result = await prometheus.query(concrete);
      if (result.length === 0) empty.push(`${title}: ${concrete}`);
    }
    expect(empty).toEqual([]);
  });

  it('loads the shipped alert rules, all healthy', async () => {
    const res = await fetch(`${prometheus.url}/api/v1/rules`);
    const body = (await res.json()) as {
      data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] };
    };
    const rules = body.data.groups.flatMap((g) => g.rules);
    expect(rules.map((r) => r.name)).toEqual(
      expect.arrayContaining([
        'PostgreSQLExporterStale',
        'PostgreSQLDown',
        'PostgreSQLTooManyConnections',
        'PostgreSQLDeadlocks',
        'PostgreSQLIdleInTransaction',
      ]),
    );
    const evaluated = await eventually('rule evaluation', async () => {
      const again = (await (await fetch(`${prometheus.url}/api/v1/rules`)).json()) as typeof body;
      const all = again.data.groups.flatMap((g) => g.rules);
      return all.every((r) => r.health !== 'unknown') ? all : undefined;
    });
    for (const rule of evaluated)
      expect(`${rule.name}: ${rule.health} ${rule.lastError ?? ''}`).toBe(`${rule.name}: ok `);
  });

  it('fires no alert for a healthy, freshly pushed database', async () => {
    const alerts = await prometheus.query(`ALERTS{alertstate="firing",instance="${instance}"}`);
    expect(alerts.map((a) => a.metric.alertname)).toEqual([]);
  });
});
