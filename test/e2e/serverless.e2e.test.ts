/**
 * The function as the Serverless Framework runs it: `serverless invoke local
 * -f collect` bundles it with serverless-esbuild and calls the handler, with
 * the environment wired through serverless.yml.
 */
import { describe, expect, it } from 'vitest';
import { SEED_FAMILIES } from '../fixtures/seed-families.js';
import { cleanEnv, runCommand } from '../harness/command.js';
import { runEnv, pushgatewayMetrics, servers, superuser } from '../harness/context.js';
import { parseExposition, select } from '../harness/exposition.js';
import { startPostgres } from '../harness/postgres.js';

const invoke = (env: Record<string, string>) =>
  runCommand('node_modules/.bin/serverless', ['invoke', 'local', '-f', 'collect'], cleanEnv(env));

async function pushed(job: string) {
  const all = parseExposition(await pushgatewayMetrics());
  return { ...all, samples: all.samples.filter((s) => s.labels.job === job) };
}

describe('serverless invoke local -f collect', () => {
  it('pushes all seven seed families, 8 lock modes and 6 states per database', async () => {
    const env = runEnv();
    const result = await invoke(env);
    expect(result.code, result.stderr + result.stdout).toBe(0);
    expect(result.stdout).toContain('"collectorErrors": 0');
    expect(result.stdout + result.stderr).not.toContain(servers().postgres.monitorPassword);

    const metrics = await pushed(env.PUSHGATEWAY_JOB!);
    for (const [name] of SEED_FAMILIES)
      expect(select(metrics, name).length, name).toBeGreaterThan(0);
    expect(select(metrics, 'postgresql_up')[0]?.value).toBe(1);
    const admin = await superuser();
    const { rows } = await admin.query<{ datname: string }>('SELECT datname FROM pg_database');
    await admin.end();
    for (const { datname } of rows) {
      const modes = select(metrics, 'postgresql_lock', { database: datname }).map(
        (s) => s.labels.mode,
      );
      expect(modes, datname).toHaveLength(8);
      const states = select(metrics, 'postgresql_stat_activity', { database: datname });
      expect(states, datname).toHaveLength(6);
      expect(Object.keys(states[0]!.labels)).toEqual(
        expect.arrayContaining(['database', 'state', 'job', 'instance', 'app']),
      );
    }
  });

  it('exits 0 within 15 s and pushes postgresql_up 0 when PostgreSQL is stopped', async () => {
    const own = await startPostgres({ binDir: servers().postgres.binDir });
    const env = runEnv({
      POSTGRESQL_PORT: String(own.port),
      POSTGRESQL_USERNAME: own.user,
      POSTGRESQL_PASSWORD: own.password,
    });
    await own.stop();
    const result = await invoke(env);
    expect(result.code, result.stderr + result.stdout).toBe(0);
    expect(result.ms).toBeLessThan(15_000);
    const metrics = await pushed(env.PUSHGATEWAY_JOB!);
    expect(select(metrics, 'postgresql_up')[0]?.value).toBe(0);
    expect(select(metrics, 'postgresql_lock')).toHaveLength(0);
  });

  it.each([
    ['POSTGRESQL_PORT', '54x32'],
    ['PUSHGATEWAY_URL', 'localhost:9091'],
  ])('fails on a bad %s with a message naming it', async (name, value) => {
    const result = await invoke(runEnv({ [name]: value }));
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toContain(`${name}: `);
    expect(result.stdout + result.stderr).toContain('ConfigError');
  });
});
