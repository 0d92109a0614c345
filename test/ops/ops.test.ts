/**
 * The operations files: Prometheus config and alert rules (checked and unit-tested by promtool),
 * the Grafana dashboard and provisioning, docker-compose.yml, and the LICENSE. No server is
 * started.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { COLLECTOR_NAMES, COLLECTOR_TABLE, selectCollectors } from '../../src/collectors/index.js';
import { FLEET_LABEL, loadConfig } from '../../src/config.js';
import { parseCustomQueries } from '../../src/custom_queries.js';
import { FLEET_FAMILIES } from '../../src/fleet/metrics.js';

const ROOT = process.cwd();
const PROMETHEUS_CONFIG = 'ops/prometheus/prometheus.yml';
/** The remote-write receiver's configuration (docker compose --profile remote-write). */
const RECEIVER_CONFIG = 'ops/prometheus/prometheus-remote-write.yml';
const ALERTS = 'ops/prometheus/alerts.yml';
const ALERTS_TEST = 'ops/prometheus/alerts.test.yml';
const DASHBOARD = 'ops/grafana/dashboards/postgresql.json';
const DATASOURCES = 'ops/grafana/provisioning/datasources/prometheus.yml';
const DASHBOARD_PROVIDERS = 'ops/grafana/provisioning/dashboards/dashboards.yml';
/** The dashboard row of a fleet's own metrics and its targets' overview. */
const FLEET_ROW = 'Fleet';
/** The dashboard row of the per-table and per-index families, filtered by $database too. */
const TABLES_ROW = 'Tables and indexes';
const IO_ROW = 'I/O (pg_stat_io)';
/** PromQL duration units, in seconds. */
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };
/** Families with a database label, in the Tables and indexes row: each selects $database. */
const DATABASE_FAMILY = /^postgresql_(table|index)_|^postgresql_exporter_database_visit_success$/;

/** Every family the collector pushes (README "Metrics", src/collectors/). */
const FAMILIES = [
  'postgresql_up',
  'postgresql_uptime',
  'postgresql_lock',
  'postgresql_stat_activity',
  'postgresql_stat_bgwriter',
  'postgresql_stat_database',
  'postgresql_stat_database_conflicts',
  'postgresql_max_connections',
  'postgresql_reserved_connections',
  'postgresql_oldest_transaction_seconds',
  'postgresql_oldest_idle_in_transaction_seconds',
  'postgresql_business_user_tables',
] as const;

/**
 * The families the Tables and indexes and I/O rows, and the freshness row, must show: dead
 * tuples, vacuum age, sequential scans, unused indexes, growth, pg_stat_io, and the exporter's
 * database visits and collector age.
 */
const TABLE_AND_IO_FAMILIES = [
  'postgresql_table_dead_tuples',
  'postgresql_table_live_tuples',
  'postgresql_table_last_vacuum_timestamp_seconds',
  'postgresql_table_last_autovacuum_timestamp_seconds',
  'postgresql_table_seq_scans_total',
  'postgresql_table_size_bytes',
  'postgresql_index_size_bytes',
  'postgresql_index_scans_total',
  'postgresql_stat_io_reads_total',
  'postgresql_stat_io_hits_total',
  'postgresql_stat_io_writes_total',
  'postgresql_stat_io_extends_total',
  'postgresql_exporter_database_visit_success',
  'postgresql_exporter_databases_not_visited',
  'postgresql_exporter_collector_age_seconds',
  // Each sink's last delivery (with remote write configured).
  'postgresql_exporter_last_write_success',
  'postgresql_exporter_last_write_duration_seconds',
] as const;

const REQUIRED_ALERTS = [
  'PostgreSQLExporterStale',
  'PostgreSQLDown',
  'PostgreSQLTooManyConnections',
  'PostgreSQLDeadlocks',
  'PostgreSQLIdleInTransaction',
  'PostgreSQLFleetTargetStale',
  'PostgreSQLFleetRunStale',
  'PostgreSQLFleetDiscoveryFailing',
  'PostgreSQLFleetCleanupFailing',
  'PostgreSQLFleetRunIncomplete',
  'PostgreSQLTableDeadTuplesHigh',
  'PostgreSQLAutovacuumNotRunning',
  'PostgreSQLDatabaseVisitFailing',
  'PostgreSQLExporterWriteFailing',
  'PostgreSQLExporterWriteStale',
] as const;

function read(file: string): string {
  return fs.readFileSync(path.join(ROOT, file), 'utf8');
}

function readYaml(file: string): unknown {
  return parse(read(file)) as unknown;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function record(value: unknown, what: string): Record<string, unknown> {
  if (!isRecord(value)) throw new Error(`${what}: expected a mapping`);
  return value;
}

function list(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new Error(`${what}: expected a list`);
  return value as unknown[];
}

function str(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new Error(`${what}: expected a string`);
  return value;
}

/** Runs promtool from the repository root; a missing promtool fails the test, never skips it. */
function promtool(...args: string[]): string {
  const result = spawnSync('promtool', args, { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  if (result.error) {
    if ((result.error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(
        'promtool not found on PATH: install it with `apt-get install prometheus` (it provides /usr/bin/promtool)',
      );
    }
    throw result.error;
  }
  const output = `${result.stdout}${result.stderr}`;
  expect(result.status, `promtool ${args.join(' ')} failed:\n${output}`).toBe(0);
  return output;
}

describe('Prometheus configuration and alert rules (promtool)', () => {
  it('prometheus.yml is valid and loads its rule files', () => {
    expect(promtool('check', 'config', PROMETHEUS_CONFIG)).toContain('SUCCESS');
  });

  it("the remote-write receiver's prometheus.yml is valid, loads the rules and scrapes nothing", () => {
    expect(promtool('check', 'config', RECEIVER_CONFIG)).toContain('SUCCESS');
    const config = record(readYaml(RECEIVER_CONFIG), RECEIVER_CONFIG);
    expect(config.rule_files).toEqual(['alerts.yml']);
    // Scraping the Pushgateway too would store every series twice, scraped and written.
    expect(config.scrape_configs ?? []).toEqual([]);
  });

  it('alerts.yml is valid', () => {
    expect(promtool('check', 'rules', ALERTS)).toContain('SUCCESS');
  });

  it('the unit tests of alerts.yml pass', () => {
    expect(promtool('test', 'rules', ALERTS_TEST)).toContain('SUCCESS');
  });

  it('scrapes the Pushgateway with honor_labels and references alerts.yml', () => {
    const config = record(readYaml(PROMETHEUS_CONFIG), PROMETHEUS_CONFIG);
    expect(config.rule_files).toEqual(['alerts.yml']);
    const jobs = list(config.scrape_configs, 'scrape_configs').map((j) => record(j, 'scrape job'));
    const pushgateway = jobs.find((j) => j.job_name === 'pushgateway');
    expect(pushgateway?.honor_labels).toBe(true);
  });
});

interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for: unknown;
  readonly severity: unknown;
  readonly summary: unknown;
  readonly description: unknown;
}

function alertRules(): AlertRule[] {
  const file = record(readYaml(ALERTS), ALERTS);
  return list(file.groups, 'groups').flatMap((group) =>
    list(record(group, 'group').rules, 'rules').map((raw) => {
      const rule = record(raw, 'rule');
      const labels = isRecord(rule.labels) ? rule.labels : {};
      const annotations = isRecord(rule.annotations) ? rule.annotations : {};
      return {
        alert: str(rule.alert, 'alert'),
        expr: str(rule.expr, 'expr'),
        for: rule.for,
        severity: labels.severity,
        summary: annotations.summary,
        description: annotations.description,
      };
    }),
  );
}

describe('alerts.yml', () => {
  const rules = alertRules();

  it('has the required alerts', () => {
    expect(rules.map((r) => r.alert)).toEqual(expect.arrayContaining([...REQUIRED_ALERTS]));
  });

  it.each(rules.map((r) => [r.alert, r] as const))(
    '%s has for, a severity, a summary and a description',
    (_name, rule) => {
      expect(rule.for).toMatch(/^(\d+(ms|[smhdwy]))+$/);
      expect(rule.severity).toMatch(/^(critical|warning|info)$/);
      expect(rule.summary).toMatch(/\{\{ \$labels\.\w+ \}\}/);
      expect(rule.description).toMatch(/\{\{ \$labels\.\w+ \}\}/);
    },
  );

  it("alerts on a stale group once: a fleet's groups are not single-target groups", () => {
    const expr = (name: string) => rules.find((r) => r.alert === name)?.expr ?? '';
    expect(expr('PostgreSQLExporterStale')).toMatch(/push_time_seconds\{[^}]*\bfleet=""/);
    expect(expr('PostgreSQLFleetTargetStale')).toMatch(
      /push_time_seconds\{[^}]*fleet!="",instance!=""\}/,
    );
    expect(expr('PostgreSQLFleetRunStale')).toMatch(
      /push_time_seconds\{[^}]*fleet!="",instance=""\}/,
    );
  });

  it('alerts on a failing sink per sink, and on remote-written data by its own time', () => {
    const expr = (name: string) => rules.find((r) => r.alert === name)?.expr ?? '';
    expect(expr('PostgreSQLExporterWriteFailing')).toMatch(
      /^postgresql_exporter_last_write_success\{[^}]*\} == 0$/,
    );
    // A receiver keeps no push time: the newest sample's timestamp, past Prometheus' lookback,
    // and never for a target the Pushgateway serves (PostgreSQLExporterStale's).
    const stale = expr('PostgreSQLExporterWriteStale');
    expect(stale).toMatch(/timestamp\(postgresql_up\{[^}]*\}\)\[1h:1m\]/);
    expect(stale).toMatch(/unless on \(job, fleet, instance\)\s+last_over_time\(push_time_seconds/);
  });

  it('every alert selects families the exporter pushes', async () => {
    const known = new Set([
      ...(await definedFamilies()),
      // The Pushgateway's own, per group.
      'push_time_seconds',
    ]);
    const unknown = rules.flatMap((rule) =>
      [...rule.expr.matchAll(/\b(postgresql_\w+|push_\w+)/g)]
        .map(([family]) => family)
        .filter((family) => !known.has(family))
        .map((family) => `${rule.alert}: ${family}`),
    );
    expect(unknown).toEqual([]);
  });

  it('every alert has a firing and a non-firing case in alerts.test.yml', () => {
    const tests = list(record(readYaml(ALERTS_TEST), ALERTS_TEST).tests, 'tests');
    const cases = tests.flatMap((t) =>
      list(record(t, 'test').alert_rule_test ?? [], 'alert_rule_test').map((c) => {
        const testCase = record(c, 'alert_rule_test');
        return {
          alert: str(testCase.alertname, 'alertname'),
          fires: list(testCase.exp_alerts ?? [], 'exp_alerts').length > 0,
        };
      }),
    );
    for (const rule of rules) {
      expect(cases, rule.alert).toContainEqual({ alert: rule.alert, fires: true });
      expect(cases, rule.alert).toContainEqual({ alert: rule.alert, fires: false });
    }
  });
});

interface Target {
  readonly panel: string;
  /** The title of the row the panel is in ('' above the first row). */
  readonly row: string;
  /** The panel's datasource, if it names one, else the target's. */
  readonly panelDatasourceUid: unknown;
  readonly datasourceUid: unknown;
  readonly expr: string;
}

function dashboard(): Record<string, unknown> {
  return record(JSON.parse(read(DASHBOARD)) as unknown, DASHBOARD);
}

/**
 * Every query target of every panel, rows' nested panels included. A panel belongs to the row
 * before it in the list (an expanded row), or to the row that holds it (a collapsed one).
 */
function targets(panels: unknown[], parentRow = ''): Target[] {
  let row = parentRow;
  return panels.flatMap((raw) => {
    const panel = record(raw, 'panel');
    if (panel.type === 'row') row = str(panel.title, 'row title');
    const panelDatasource = isRecord(panel.datasource) ? panel.datasource : {};
    const nested = Array.isArray(panel.panels) ? targets(panel.panels as unknown[], row) : [];
    const own = (Array.isArray(panel.targets) ? (panel.targets as unknown[]) : []).map((t) => {
      const target = record(t, 'target');
      const datasource = isRecord(target.datasource) ? target.datasource : {};
      return {
        panel: str(panel.title, 'panel title'),
        row,
        panelDatasourceUid: panel.datasource === undefined ? datasource.uid : panelDatasource.uid,
        datasourceUid: datasource.uid,
        expr: str(target.expr, 'expr'),
      };
    });
    return [...own, ...nested];
  });
}

describe('Grafana dashboard', () => {
  const dash = dashboard();
  const all = targets(list(dash.panels, 'panels'));

  it('is the provisioned dashboard', () => {
    expect(dash.uid).toBe('postgresql-pushgateway-exporter');
    expect(dash.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(all.length).toBeGreaterThan(0);
  });

  it.each(
    [...FAMILIES, ...FLEET_FAMILIES.map((f) => f.name), ...TABLE_AND_IO_FAMILIES].map((f) => [f]),
  )('queries %s', (family) => {
    const pattern = new RegExp(`\\b${family}\\{`);
    expect(all.filter((t) => pattern.test(t.expr)).map((t) => t.panel)).not.toEqual([]);
  });

  it("shows the data freshness of the selected targets, the fleet's targets and its runs", () => {
    const exprs = all.map((t) => t.expr);
    expect(exprs).toContain(
      'time() - push_time_seconds{job="$job", fleet=~"$fleet", instance=~"$instance"}',
    );
    // The fleet's row: every target's last push (instance!=""), and the fleet's own group.
    expect(exprs.filter((e) => /push_time_seconds\{[^}]*instance!=""/.test(e))).not.toEqual([]);
    expect(exprs.filter((e) => /push_time_seconds\{[^}]*instance=""/.test(e))).not.toEqual([]);
  });

  it("shows each sink's deliveries apart, and remote-written data's age by its samples", () => {
    const bySink = (family: string) =>
      all.filter((t) => new RegExp(`\\b${family}\\{`).test(t.expr));
    for (const family of [
      'postgresql_exporter_last_write_success',
      'postgresql_exporter_last_write_duration_seconds',
    ]) {
      const found = bySink(family);
      expect(found, family).not.toEqual([]);
      for (const target of found) {
        expect(target.row, family).not.toBe(FLEET_ROW);
        expect(target.expr, family).toMatch(/by \([^)]*\bsink\b[^)]*\)/);
      }
    }
    const failures = bySink('postgresql_exporter_fleet_write_failures');
    expect(failures.map((t) => t.row)).toEqual([FLEET_ROW]);
    expect(all.map((t) => t.expr)).toContainEqual(
      expect.stringMatching(/^time\(\) - max by \([^)]*\) \(timestamp\(postgresql_up\{/),
    );
  });

  it('has a Fleet row, above the per-target rows', () => {
    const rows = list(dash.panels, 'panels')
      .map((p) => record(p, 'panel'))
      .filter((p) => p.type === 'row')
      .map((p) => p.title);
    expect(rows[0]).toBe(FLEET_ROW);
    expect(all.filter((t) => t.row === FLEET_ROW).length).toBeGreaterThanOrEqual(10);
  });

  it('has a Tables and indexes row and an I/O row, selecting $database where there is one', () => {
    const rows = list(dash.panels, 'panels')
      .map((p) => record(p, 'panel'))
      .filter((p) => p.type === 'row');
    expect(rows.map((r) => r.title)).toEqual(expect.arrayContaining([TABLES_ROW, IO_ROW]));
    // Per-table queries are many series, and one reads a day: paid for only when opened.
    expect(rows.find((r) => r.title === TABLES_ROW)?.collapsed).toBe(true);
    const tables = all.filter((t) => t.row === TABLES_ROW);
    expect(tables.length).toBeGreaterThanOrEqual(6);
    expect(all.filter((t) => t.row === IO_ROW).length).toBeGreaterThanOrEqual(4);
    for (const target of all) {
      const where = `${target.row} / ${target.panel}: ${target.expr}`;
      for (const [, family = '', matchers = ''] of target.expr.matchAll(
        /\b(postgresql_\w+)(\{[^}]*\})?/g,
      )) {
        if (target.row === TABLES_ROW && DATABASE_FAMILY.test(family)) {
          expect(matchers, where).toContain('database=~"$database"');
        } else {
          expect(matchers, where).not.toContain('$database');
        }
      }
    }
    // The tables collector refreshes every 5 minutes by default: no counter of it over a
    // window shorter than 10 minutes.
    for (const target of tables) {
      expect(target.expr, `${target.panel}: ${target.expr}`).not.toContain('$__rate_interval');
      for (const [, count = '', unit = ''] of target.expr.matchAll(/\[(\d+)([smhd])\]/g)) {
        const seconds = Number(count) * (UNIT_SECONDS[unit] ?? Number.NaN);
        expect(seconds, `${target.panel}: ${target.expr}`).toBeGreaterThanOrEqual(600);
      }
    }
  });

  it('every target uses the Prometheus datasource and selects $job, $fleet and its targets', () => {
    for (const target of all) {
      const where = `${target.row} / ${target.panel}: ${target.expr}`;
      expect(target.datasourceUid, where).toBe('prometheus');
      expect(target.panelDatasourceUid, where).toBe('prometheus');
      const selectors = [
        ...target.expr.matchAll(/\b(postgresql_\w+|push_time_seconds)(\{[^}]*\})?/g),
      ];
      expect(selectors, where).not.toEqual([]);
      for (const [, family = '', matchers = ''] of selectors) {
        expect(matchers, where).toContain('job="$job"');
        // A regex, whose All value (.*) matches single-target groups too (no fleet label).
        expect(matchers, where).toContain('fleet=~"$fleet"');
        if (target.row !== FLEET_ROW) {
          // A multi-select: a regex, never instance="$instance".
          expect(matchers, where).toContain('instance=~"$instance"');
        } else if (family.startsWith('postgresql_exporter_fleet_')) {
          // The fleet's own group has no instance.
          expect(matchers, where).not.toMatch(/\binstance\b/);
        } else {
          // Every target of the fleet, or its own group: not the Target selector.
          expect(matchers, where).not.toContain('$instance');
        }
      }
      for (const [variable] of target.expr.matchAll(/\$\w+/g)) {
        expect(['$job', '$fleet', '$instance', '$database', '$__rate_interval'], where).toContain(
          variable,
        );
      }
    }
  });

  it('every query is valid PromQL with the variables at their All values (promtool)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dashboard-promql-'));
    try {
      const file = path.join(dir, 'queries.yml');
      const rules = all.map((target, i) => ({
        record: `dashboard:query_${i}`,
        expr: target.expr
          .replaceAll('$__rate_interval', '1m')
          .replaceAll('$job', 'postgresql-exporter')
          .replaceAll('$fleet', '.*')
          .replaceAll('$instance', '.+')
          .replaceAll('$database', '.*'),
      }));
      fs.writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules }] }));
      expect(promtool('check', 'rules', file)).toContain(`SUCCESS: ${rules.length} rules found`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('has the job, fleet, instance and database variables', () => {
    const variables = list(record(dash.templating, 'templating').list, 'templating.list').map((v) =>
      record(v, 'variable'),
    );
    const variable = (name: string) => variables.find((v) => v.name === name) ?? {};
    expect(variables.map((v) => v.name)).toEqual(['job', 'fleet', 'instance', 'database']);
    expect(variable('job').definition).toBe('label_values(postgresql_up, job)');
    expect(variable('fleet').definition).toBe('label_values(postgresql_up{job="$job"}, fleet)');
    expect(variable('instance').definition).toBe(
      'label_values(postgresql_up{job="$job", fleet=~"$fleet"}, instance)',
    );
    // Single-target deployments have no fleet label: All must be a regex that matches none.
    expect(variable('fleet')).toMatchObject({ includeAll: true, multi: true, allValue: '.*' });
    // All targets: any instance, but never the fleet's own group (no instance).
    expect(variable('instance')).toMatchObject({ includeAll: true, multi: true, allValue: '.+' });
    // The databases of the selected targets that have tables.
    expect(variable('database').definition).toBe(
      'label_values(postgresql_table_size_bytes{job="$job", fleet=~"$fleet", instance=~"$instance"}, database)',
    );
    expect(variable('database')).toMatchObject({ includeAll: true, multi: true, allValue: '.*' });
    for (const v of variables) {
      expect(v.datasource, String(v.name)).toMatchObject({ uid: 'prometheus' });
      const query = record(v.query, `${String(v.name)} query`);
      expect(query.query, String(v.name)).toBe(v.definition);
    }
  });

  it('is provisioned with the Prometheus datasource of the stack', () => {
    const sources = list(record(readYaml(DATASOURCES), DATASOURCES).datasources, 'datasources');
    expect(sources).toContainEqual(
      expect.objectContaining({
        name: 'Prometheus',
        uid: 'prometheus',
        type: 'prometheus',
        url: 'http://prometheus:9090',
      }),
    );
    const providers = list(
      record(readYaml(DASHBOARD_PROVIDERS), DASHBOARD_PROVIDERS).providers,
      'providers',
    );
    expect(providers).toContainEqual(
      expect.objectContaining({
        type: 'file',
        options: expect.objectContaining({ path: '/var/lib/grafana/dashboards' }) as unknown,
      }),
    );
  });
});

interface Volume {
  readonly source: string;
  readonly target: string;
}

function volumes(service: Record<string, unknown>): Volume[] {
  return (Array.isArray(service.volumes) ? (service.volumes as unknown[]) : []).map((v) => {
    if (typeof v === 'string') {
      const [source = '', target = ''] = v.split(':');
      return { source, target };
    }
    const long = record(v, 'volume');
    return { source: str(long.source, 'volume source'), target: str(long.target, 'volume target') };
  });
}

function environment(service: Record<string, unknown>): [string, string][] {
  const env = service.environment;
  if (Array.isArray(env)) {
    return (env as unknown[]).map((e) => {
      const [name = '', ...value] = str(e, 'environment entry').split('=');
      return [name, value.join('=')];
    });
  }
  return Object.entries(isRecord(env) ? env : {}).map(([name, value]) => [name, String(value)]);
}

/** depends_on as service → condition; the list form means service_started. */
function dependencies(service: Record<string, unknown>): [string, unknown][] {
  const deps = service.depends_on;
  if (Array.isArray(deps)) return (deps as unknown[]).map((d) => [str(d, 'depends_on'), undefined]);
  return Object.entries(isRecord(deps) ? deps : {}).map(([name, d]) => [
    name,
    isRecord(d) ? d.condition : undefined,
  ]);
}

/** A compose value with its ${VAR:-default} (and ${VAR-default}) as their defaults; ${VAR} empty. */
function withDefaults(value: string): string {
  return value.replace(
    /\$\{[A-Za-z_][A-Za-z0-9_]*(?::?([-?])([^}]*))?\}/g,
    (_match, op: string | undefined, fallback: string | undefined) =>
      op === '-' ? (fallback ?? '') : '',
  );
}

/** The family a module's export defines: a definition, or an entry carrying one as `metric`. */
function familyName(value: unknown): string | undefined {
  if (!isRecord(value)) return undefined;
  if (typeof value.name === 'string' && typeof value.help === 'string') {
    return Array.isArray(value.labelNames) ? value.name : undefined;
  }
  return value.metric === undefined ? undefined : familyName(value.metric);
}

/**
 * The metric families of the collectors (src/collectors/general, business): by collector
 * name, and `run` for the run's own (modules with no collector, like postgresql_up, and
 * src/collectors/self.ts). A module's families are its exported definitions, and those in
 * its exported lists (of definitions, or of entries with one as `metric`).
 */
async function familiesByCollector() {
  const collectors = new Map<string, string[]>();
  const run: string[] = [];
  const modules = [
    ...['general', 'business'].flatMap((dir) =>
      fs
        .readdirSync(path.join(ROOT, 'src/collectors', dir))
        .filter((f) => f.endsWith('.ts'))
        .map((f) => `src/collectors/${dir}/${f}`),
    ),
    'src/collectors/self.ts',
  ];
  for (const file of modules) {
    const module = (await import(`../../${file}`)) as Record<string, unknown>;
    const families: string[] = [];
    const names: string[] = [];
    for (const value of Object.values(module)) {
      for (const entry of Array.isArray(value) ? (value as unknown[]) : [value]) {
        const family = familyName(entry);
        if (family !== undefined) families.push(family);
      }
      if (
        isRecord(value) &&
        typeof value.name === 'string' &&
        typeof value.collect === 'function'
      ) {
        names.push(value.name);
      }
    }
    if (names.length === 0) run.push(...families);
    for (const name of names) collectors.set(name, [...(collectors.get(name) ?? []), ...families]);
  }
  for (const { collector } of COLLECTOR_TABLE) {
    expect(collectors.get(collector.name), collector.name).toBeDefined();
  }
  return { collectors, run };
}

/** Every family src/ defines: all collectors', on by default or not, and the run's own. */
async function definedFamilies(): Promise<Set<string>> {
  const { collectors, run } = await familiesByCollector();
  return new Set([
    ...run,
    ...[...collectors.values()].flat(),
    ...FLEET_FAMILIES.map((f) => f.name),
  ]);
}

describe('docker-compose.yml', () => {
  const services = record(record(readYaml('docker-compose.yml'), 'compose').services, 'services');
  const service = (name: string) => record(services[name], `service ${name}`);
  const names = Object.keys(services);
  /** The collector's environment as compose passes it when nothing overrides the defaults. */
  const collectorEnv = (): Record<string, string> =>
    Object.fromEntries(
      environment(service('collector')).map(([name, value]) => [name, withDefaults(value)]),
    );

  it('has the whole stack', () => {
    expect(names).toEqual(
      expect.arrayContaining([
        'postgres',
        'postgres-b',
        'pushgateway',
        'prometheus',
        'grafana',
        'collector',
      ]),
    );
  });

  it('has a healthcheck on every service but the collector', () => {
    for (const name of names.filter((n) => n !== 'collector')) {
      expect(record(service(name).healthcheck, `${name} healthcheck`).test, name).toBeDefined();
    }
  });

  it('waits for dependencies to be healthy where they have a healthcheck', () => {
    for (const name of names) {
      for (const [dependency, condition] of dependencies(service(name))) {
        expect(names, `${name} depends on ${dependency}`).toContain(dependency);
        if (service(dependency).healthcheck !== undefined) {
          expect(condition, `${name} → ${dependency}`).toBe('service_healthy');
        }
      }
    }
  });

  it('pins every image to a tag of at least a minor version', () => {
    for (const name of names) {
      const image = str(service(name).image, `${name} image`);
      const tag = /:([^:/@]+)$/.exec(image.split('@')[0] ?? '')?.[1];
      expect(tag, `${name}: ${image}`).toBeDefined();
      expect(tag, `${name}: ${image}`).not.toBe('latest');
      // 17.6, v1.11.1, 22.20-bookworm; not 17, v3 or 22-bookworm.
      expect(tag, `${name}: ${image}`).toMatch(/^v?\d+\.\d+(\.\d+)?(-[a-z0-9.]+)?$/);
    }
  });

  it('publishes every port on 127.0.0.1 only', () => {
    let published = 0;
    for (const name of names) {
      expect(service(name).network_mode, name).not.toBe('host');
      const ports = service(name).ports;
      for (const port of Array.isArray(ports) ? (ports as unknown[]) : []) {
        published += 1;
        if (typeof port === 'string' || typeof port === 'number') {
          expect(String(port), name).toMatch(/^127\.0\.0\.1:\d+:\d+(\/(tcp|udp))?$/);
        } else {
          expect(record(port, `${name} port`).host_ip, name).toBe('127.0.0.1');
        }
      }
    }
    expect(published).toBeGreaterThanOrEqual(5);
  });

  it('mounts only files of the repository that exist', () => {
    for (const name of names) {
      for (const { source } of volumes(service(name)).filter((v) => v.source.startsWith('./'))) {
        expect(fs.existsSync(path.join(ROOT, source)), `${name}: ${source}`).toBe(true);
      }
    }
  });

  it('mounts the alert rules beside prometheus.yml', () => {
    const mounts = volumes(service('prometheus'));
    expect(mounts).toContainEqual({
      source: './ops/prometheus/prometheus.yml',
      target: '/etc/prometheus/prometheus.yml',
    });
    expect(mounts).toContainEqual({
      source: './ops/prometheus/alerts.yml',
      target: '/etc/prometheus/alerts.yml',
    });
  });

  it('mounts the Grafana provisioning and dashboards', () => {
    const mounts = volumes(service('grafana'));
    expect(mounts).toContainEqual({
      source: './ops/grafana/provisioning',
      target: '/etc/grafana/provisioning',
    });
    expect(mounts).toContainEqual({
      source: './ops/grafana/dashboards',
      target: '/var/lib/grafana/dashboards',
    });
    expect(Object.fromEntries(environment(service('grafana')))).toMatchObject({
      GF_AUTH_ANONYMOUS_ENABLED: 'true',
    });
  });

  it.each(['postgres', 'postgres-b'])(
    'creates example user tables in %s on the first start',
    (name) => {
      const initdb = volumes(service(name)).find((v) => v.target === '/docker-entrypoint-initdb.d');
      expect(initdb?.source).toBe('./ops/postgres/initdb');
      const scripts = fs
        .readdirSync(path.join(ROOT, initdb!.source))
        .filter((f) => f.endsWith('.sql'));
      expect(scripts).not.toEqual([]);
      const sql = scripts.map((f) => read(path.join(initdb!.source, f))).join('\n');
      expect(sql).toMatch(/\bCREATE TABLE\b/i);
    },
  );

  describe('a fleet of two', () => {
    const postgresServices = names.filter((n) =>
      str(service(n).image, `${n} image`).startsWith('postgres:'),
    );
    const major = (name: string) => /^postgres:(\d+)/.exec(str(service(name).image, name))?.[1];
    const targetsFile = () => collectorEnv().TARGETS_FILE ?? '';
    const fileTargets = () =>
      list(record(readYaml(targetsFile()), targetsFile()).targets, 'targets').map((t) =>
        record(t, 'target'),
      );
    /** The compose variable a service or the collector passes as `variable`: ${NAME:-…}. */
    const composeVariable = (name: string, variable: string) => {
      const value = Object.fromEntries(environment(service(name)))[variable] ?? '';
      return /^\$\{([A-Za-z_][A-Za-z0-9_]*)/.exec(value)?.[1];
    };

    it('runs two PostgreSQL servers of different majors, the second on 127.0.0.1:5433', () => {
      expect(postgresServices).toEqual(['postgres', 'postgres-b']);
      expect(new Set(postgresServices.map(major)).size).toBe(2);
      expect(service('postgres-b').ports).toEqual(['127.0.0.1:5433:5432']);
      for (const name of postgresServices) {
        expect(dependencies(service('collector')), name).toContainEqual([name, 'service_healthy']);
      }
    });

    it('collects both through targets/compose.yml, a fleet of its own', () => {
      const env = collectorEnv();
      expect(env.TARGETS_FILE).toBe('targets/compose.yml');
      expect(fs.existsSync(path.join(ROOT, targetsFile()))).toBe(true);
      // No single-target variable beside TARGETS_FILE (the function refuses them).
      expect(Object.keys(env).filter((v) => v.startsWith('POSTGRESQL_'))).toEqual([]);
      const fleet = loadConfig(env).fleet;
      expect(fleet).toMatchObject({ targetsFile: 'targets/compose.yml', name: 'compose' });
      expect(fleet?.mode).toBe('inline');
    });

    it('names every PostgreSQL service once, in the format of the issue', () => {
      const targets = fileTargets();
      const known = [
        'name',
        'host',
        'port',
        'database',
        'username',
        'password_env',
        'ssl',
        'labels',
      ];
      for (const target of targets) {
        expect(
          Object.keys(target).filter((k) => !known.includes(k)),
          String(target.name),
        ).toEqual([]);
        // The port inside the compose network, whatever the host publishes.
        expect(target.port, String(target.name)).toBe(5432);
        expect(target.ssl, String(target.name)).toBe('disable');
        const labels = record(target.labels ?? {}, `${String(target.name)} labels`);
        expect(Object.keys(labels), String(target.name)).not.toContain(FLEET_LABEL);
        expect(Object.keys(labels), String(target.name)).not.toContain('app');
      }
      const names = targets.map((t) => t.name);
      expect(new Set(names).size).toBe(names.length);
      expect(targets.map((t) => t.host).sort()).toEqual([...postgresServices].sort());
    });

    it("gives each target its own server's password, from the environment only", () => {
      for (const target of fileTargets()) {
        const where = String(target.name);
        expect(target, where).not.toHaveProperty('password');
        const variable = str(target.password_env, `${where} password_env`);
        // The collector sets it from the same compose variable as the server's own password.
        const server = composeVariable(str(target.host, `${where} host`), 'POSTGRES_PASSWORD');
        expect(server, where).toBeDefined();
        expect(composeVariable('collector', variable), where).toBe(server);
      }
      const servers = postgresServices.map((n) => composeVariable(n, 'POSTGRES_PASSWORD'));
      expect(new Set(servers).size, 'one password variable per server').toBe(servers.length);
    });
  });

  it('every dashboard query selects a family the collector, as composed, pushes', async () => {
    const env = collectorEnv();
    const config = loadConfig(env);
    const enabled = new Set(
      selectCollectors(config.collectors.enable, config.collectors.disable).map((c) => c.name),
    );
    const byCollector = await familiesByCollector();
    const pushed = new Set([
      ...byCollector.run,
      ...[...enabled].flatMap((name) => byCollector.collectors.get(name) ?? []),
      // The Pushgateway's own, per group.
      'push_time_seconds',
      'push_failure_time_seconds',
      // The fleet's own group.
      ...(config.fleet === undefined ? [] : FLEET_FAMILIES.map((f) => f.name)),
    ]);
    const file = config.collectors.customQueriesFile;
    for (const query of file === undefined ? [] : parseCustomQueries(file, read(file))) {
      for (const metric of query.metrics) pushed.add(metric.name);
    }
    const all = targets(list(dashboard().panels, 'panels'));
    const missing = all.flatMap((target) =>
      [...target.expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{/g)]
        .map(([, family]) => family!)
        .filter((family) => !pushed.has(family))
        .map((family) => `${target.panel}: ${family}`),
    );
    expect(missing).toEqual([]);
  });

  describe('both sinks', () => {
    const receiver = () => service('prometheus-remote-write');
    /** The README's and the compose file's example: the receiver's write path in the network. */
    const WRITE_URL = 'http://prometheus-remote-write:9090/api/v1/write';

    it('has a Prometheus with its remote-write receiver on, in the profile remote-write only', () => {
      expect(receiver().profiles).toEqual(['remote-write']);
      const command = list(receiver().command, 'receiver command').map((c) => str(c, 'argument'));
      expect(command).toContain('--web.enable-remote-write-receiver');
      expect(command).toContain('--config.file=/etc/prometheus/prometheus.yml');
      expect(volumes(receiver())).toEqual(
        expect.arrayContaining([
          { source: `./${RECEIVER_CONFIG}`, target: '/etc/prometheus/prometheus.yml' },
          { source: './ops/prometheus/alerts.yml', target: '/etc/prometheus/alerts.yml' },
        ]),
      );
      // The Pushgateway's Prometheus is not the receiver: no series would come twice.
      expect(service('prometheus').command ?? []).not.toContain(
        '--web.enable-remote-write-receiver',
      );
      expect(read('docker-compose.yml')).toContain(`REMOTE_WRITE_URL=${WRITE_URL}`);
      const [, port] = /^[\d.]+:\d+:(\d+)$/.exec(String(list(receiver().ports, 'ports')[0])) ?? [];
      expect(new URL(WRITE_URL).port).toBe(port);
    });

    it('the collector pushes alone by default, writes too with REMOTE_WRITE_URL, or only writes', () => {
      const raw = Object.fromEntries(environment(service('collector')));
      const env = collectorEnv();
      expect(env.REMOTE_WRITE_URL).toBe('');
      expect(loadConfig(env).remoteWrite).toBeUndefined();
      // What compose passes when REMOTE_WRITE_URL is set, and PUSHGATEWAY_URL set but empty.
      const given = (vars: Record<string, string>) =>
        Object.fromEntries(
          Object.entries(raw).map(([name, value]) => [
            name,
            withDefaults(
              value.replace(
                /\$\{([A-Za-z_][A-Za-z0-9_]*)(:?-[^}]*)?\}/g,
                (whole, variable: string) => (variable in vars ? vars[variable]! : whole),
              ),
            ),
          ]),
        );
      const both = loadConfig(given({ REMOTE_WRITE_URL: WRITE_URL }));
      expect(both.pushgateway.url?.href).toBe('http://pushgateway:9091/');
      expect(both.remoteWrite?.url.href).toBe(WRITE_URL);
      expect(both.remoteWrite?.url.hostname).toBe('prometheus-remote-write');
      const alone = loadConfig(given({ REMOTE_WRITE_URL: WRITE_URL, PUSHGATEWAY_URL: '' }));
      expect(alone.pushgateway.url).toBeUndefined();
      expect(alone.remoteWrite?.url.href).toBe(WRITE_URL);
    });

    it('provisions the receiver as a second datasource, the dashboard staying on the first', () => {
      const sources = list(record(readYaml(DATASOURCES), DATASOURCES).datasources, 'datasources');
      expect(sources).toContainEqual(
        expect.objectContaining({
          uid: 'prometheus-remote-write',
          type: 'prometheus',
          url: 'http://prometheus-remote-write:9090',
          isDefault: false,
        }),
      );
    });
  });

  it('enables the business example and the example custom queries', () => {
    const env = collectorEnv();
    const enable = (env.COLLECTORS_ENABLE ?? '').split(',').map((n) => n.trim());
    expect(enable).toContain('business_user_tables');
    for (const name of enable) expect(COLLECTOR_NAMES).toContain(name);
    expect(env.CUSTOM_QUERIES_FILE).toBe('queries/example.yml');
    expect(fs.existsSync(path.join(ROOT, env.CUSTOM_QUERIES_FILE!))).toBe(true);
  });

  it('the collector installs dependencies only when node_modules does not match the lock', () => {
    const command = list(service('collector').command, 'collector command').map((c) =>
      str(c, 'collector command'),
    );
    // compose reads `$` itself: the script's own must be written `$$`.
    for (const part of command) expect(part.replace(/\$\$/g, ''), part).not.toContain('$');
    const [program, ...args] = command.map((c) => c.replace(/\$\$/g, '$'));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'compose-collector-'));
    try {
      const bin = path.join(dir, 'bin');
      const app = path.join(dir, 'app');
      fs.mkdirSync(bin);
      fs.mkdirSync(path.join(app, 'node_modules'), { recursive: true });
      const log = path.join(dir, 'calls.log');
      for (const tool of ['npm', 'npx']) {
        fs.writeFileSync(
          path.join(bin, tool),
          `#!/bin/sh\necho "${tool} $*" >> "${log}"\n[ "${tool}" != npm ] || [ -z "$FAIL_NPM" ] || exit 1\n`,
          { mode: 0o755 },
        );
      }
      const start = (extra: Record<string, string> = {}) => {
        fs.rmSync(log, { force: true });
        const result = spawnSync(program!, args, {
          cwd: app,
          env: {
            ...process.env,
            PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}`,
            ...extra,
          },
          encoding: 'utf8',
        });
        const calls = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n') : [];
        return { status: result.status, calls };
      };
      const install = 'npm ci --no-audit --no-fund';
      const offline = 'npx serverless offline start --localEnvironment';
      fs.writeFileSync(path.join(app, 'package-lock.json'), '{"lockfileVersion":3}\n');
      // A failed install starts nothing and is retried on the next start.
      expect(start({ FAIL_NPM: '1' })).toEqual({ status: 1, calls: [install] });
      expect(start()).toEqual({ status: 0, calls: [install, offline] });
      expect(start()).toEqual({ status: 0, calls: [offline] });
      fs.writeFileSync(path.join(app, 'package-lock.json'), '{"lockfileVersion":3,"x":1}\n');
      expect(start()).toEqual({ status: 0, calls: [install, offline] });
      expect(start()).toEqual({ status: 0, calls: [offline] });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('takes every password from the environment, never a literal', () => {
    const secrets = names.flatMap((name) =>
      environment(service(name))
        .filter(([variable]) => /PASSWORD|TOKEN|API_KEY|SECRET_KEY/i.test(variable))
        .map(([variable, value]) => ({ where: `${name}.${variable}`, value })),
    );
    expect(secrets.map((s) => s.where)).toContain('grafana.GF_SECURITY_ADMIN_PASSWORD');
    for (const { where, value } of secrets) {
      expect(value, where).toMatch(/^\$\{[A-Za-z_][A-Za-z0-9_]*(:?[-?][^}]*)?\}$/);
    }
  });
});

describe('LICENSE', () => {
  /** How each license's text begins: the SPDX id package.json gives, to the file. */
  const FIRST_LINE: Record<string, string> = { MIT: 'MIT License' };

  it('exists and is the license package.json names', () => {
    const { license, name } = JSON.parse(read('package.json')) as {
      license: unknown;
      name: string;
    };
    expect(license).toBe('MIT');
    const text = read('LICENSE');
    expect(text.split('\n')[0]).toBe(FIRST_LINE[license as string]);
    expect(text).toContain('Permission is hereby granted, free of charge, to any person obtaining');
    expect(text).toMatch(new RegExp(`^Copyright \\(c\\) \\d{4} The ${name} authors$`, 'm'));
  });
});
