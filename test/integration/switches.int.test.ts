/**
 * Self-metrics, collector switches and custom queries, through the real run
 * against the project's PostgreSQL (as the pg_monitor-only role) and
 * Pushgateway.
 */
import { silentLogger } from '../../src/logger.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { selectCollectors } from '../../src/collectors/index.js';
import { BUILD_VERSION } from '../../src/collectors/self.js';
import { supports } from '../../src/collectors/types.js';
import { ConfigError } from '../../src/errors.js';
import { collect } from '../../src/run.js';
import { pushgatewayMetrics, runEnv, servers, superuser } from '../harness/context.js';
import { parseExposition, select } from '../harness/exposition.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'custom-queries-'));
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

async function pushed(job: string) {
  const all = parseExposition(await pushgatewayMetrics());
  return { ...all, samples: all.samples.filter((s) => s.labels.job === job) };
}

const quiet = { log: silentLogger() };

describe('self-metrics', () => {
  it(`reports success 1 for every enabled collector on PostgreSQL ${servers().postgres.major}`, async () => {
    const env = runEnv();
    const summary = await collect(env, quiet);
    const metrics = await pushed(env.PUSHGATEWAY_JOB!);
    const version = summary.serverVersion!;
    const enabled = selectCollectors().filter((c) => supports(c, version));
    const success = select(metrics, 'postgresql_exporter_collector_success');
    expect(Object.fromEntries(success.map((s) => [s.labels.collector, s.value]))).toEqual(
      Object.fromEntries(enabled.map((c) => [c.name, 1])),
    );
    expect(select(metrics, 'postgresql_exporter_collector_duration_seconds')).toHaveLength(
      enabled.length,
    );
    expect(summary.skipped).toEqual(
      selectCollectors()
        .filter((c) => !supports(c, version))
        .map((c) => c.name),
    );
    expect(
      select(metrics, 'postgresql_exporter_build_info', { version: BUILD_VERSION })[0]?.value,
    ).toBe(1);
    expect(select(metrics, 'postgresql_exporter_run_duration_seconds')[0]?.value).toBeGreaterThan(
      0,
    );
    expect(summary.collectorErrors).toBe(0);
  });
});

describe('switches', () => {
  it('COLLECTORS_DISABLE and COLLECTORS_ENABLE change what is pushed', async () => {
    const env = runEnv({
      COLLECTORS_DISABLE: 'lock, stat_activity',
      COLLECTORS_ENABLE: 'business_user_tables',
    });
    const summary = await collect(env, quiet);
    const names = summary.collectors.map((c) => c.name);
    expect(names).not.toContain('lock');
    expect(names).not.toContain('stat_activity');
    expect(names).toContain('business_user_tables');
    const metrics = await pushed(env.PUSHGATEWAY_JOB!);
    expect(select(metrics, 'postgresql_lock')).toHaveLength(0);
    expect(select(metrics, 'postgresql_stat_activity')).toHaveLength(0);
    expect(
      select(metrics, 'postgresql_exporter_collector_success', {
        collector: 'business_user_tables',
      })[0]?.value,
    ).toBe(1);
  });

  it('refuses an unknown collector name before any I/O, naming the variable', async () => {
    const env = runEnv({ COLLECTORS_DISABLE: 'locks' });
    await expect(collect(env, quiet)).rejects.toThrow(
      /^COLLECTORS_DISABLE: unknown collector "locks"; known: /,
    );
    expect((await pushed(env.PUSHGATEWAY_JOB!)).samples).toHaveLength(0);
  });
});

describe('CUSTOM_QUERIES_FILE', () => {
  it('pushes custom metrics; a query failing at run time fails only its own collector', async () => {
    const admin = await superuser();
    await admin.query('CREATE TABLE IF NOT EXISTS custom_orders (warehouse text, total numeric)');
    await admin.query("INSERT INTO custom_orders VALUES ('north', 10), ('north', 5), ('south', 1)");
    await admin.query(`GRANT SELECT ON custom_orders TO ${servers().postgres.monitorUser}`);
    await admin.end();
    const file = path.join(dir, 'business.yml');
    fs.writeFileSync(
      file,
      [
        'queries:',
        '  - name: orders',
        '    sql: SELECT warehouse, count(*)::float8 AS orders FROM custom_orders GROUP BY warehouse',
        '    labels: [warehouse]',
        '    metrics:',
        '      - { column: orders, name: shop_orders, type: gauge, help: Orders by warehouse. }',
        '  - name: broken',
        '    sql: SELECT count(*) AS n FROM no_such_table',
        '    metrics:',
        '      - { column: n, name: shop_broken, help: Never pushed. }',
        '  - name: future',
        '    sql: SELECT 1 AS one',
        '    metrics:',
        '      - { column: one, name: shop_future, help: Only on PostgreSQL 99. }',
        '    min_server_version: 99',
      ].join('\n'),
    );
    const env = runEnv({ CUSTOM_QUERIES_FILE: file });
    const summary = await collect(env, quiet);
    expect(summary.collectorErrors).toBe(1);
    expect(summary.collectors.find((c) => c.name === 'custom_broken')?.error).toMatch(
      /no_such_table/,
    );
    expect(summary.skipped).toContain('custom_future');
    const metrics = await pushed(env.PUSHGATEWAY_JOB!);
    expect(select(metrics, 'shop_orders', { warehouse: 'north' })[0]?.value).toBe(2);
    expect(select(metrics, 'shop_broken')).toHaveLength(0);
    expect(
      select(metrics, 'postgresql_exporter_collector_success', { collector: 'custom_broken' })[0]
        ?.value,
    ).toBe(0);
    expect(
      select(metrics, 'postgresql_exporter_collector_success', { collector: 'custom_orders' })[0]
        ?.value,
    ).toBe(1);
    // Every other family is still pushed.
    for (const name of [
      'postgresql_up',
      'postgresql_lock',
      'postgresql_stat_database',
      'postgresql_uptime',
    ]) {
      expect(select(metrics, name).length, name).toBeGreaterThan(0);
    }
  });

  it('refuses a file with a typo before any I/O, naming file, query and field', async () => {
    const file = path.join(dir, 'typo.yml');
    fs.writeFileSync(
      file,
      'queries:\n  - name: orders\n    sql: SELECT 1 AS n\n    metrics:\n      - { column: n, name: x, tpye: gauge, help: X. }\n',
    );
    const env = runEnv({ CUSTOM_QUERIES_FILE: file });
    const lines: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => lines.push(String(chunk)) > 0);
    try {
      const error = await collect(env).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toBe(
        `CUSTOM_QUERIES_FILE: ${file}: query "orders": field "metrics[0].tpye": unknown field (expected column, name, type, help)`,
      );
    } finally {
      vi.restoreAllMocks();
    }
    expect(lines.join('')).toContain('field \\"metrics[0].tpye\\"');
    expect((await pushed(env.PUSHGATEWAY_JOB!)).samples).toHaveLength(0);
  });
});
