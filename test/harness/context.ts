import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import type { Env } from '../../src/config.js';
import { connect, type Database } from '../../src/db.js';

/** The project's PostgreSQL and Pushgateway, as started by global-setup.ts. */
export function servers() {
  return { postgres: inject('postgres'), pushgatewayUrl: inject('pushgatewayUrl') };
}

/** A job name no other test uses, so parallel tests never share a Pushgateway group. */
export function uniqueJob(prefix = 'test'): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/** Environment for a run against the project's servers, as the pg_monitor-only role. */
export function runEnv(overrides: Env = {}): Record<string, string> {
  const { postgres, pushgatewayUrl } = servers();
  const env: Record<string, string> = {
    POSTGRESQL_HOST: postgres.host,
    POSTGRESQL_PORT: String(postgres.port),
    POSTGRESQL_DATABASE: 'postgres',
    POSTGRESQL_USERNAME: postgres.monitorUser,
    POSTGRESQL_PASSWORD: postgres.monitorPassword,
    POSTGRESQL_SSL: 'false',
    PUSHGATEWAY_URL: pushgatewayUrl,
    PUSHGATEWAY_JOB: uniqueJob(),
  };
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) Reflect.deleteProperty(env, name);
    else env[name] = value;
  }
  return env;
}

/** A superuser connection to the project's PostgreSQL, for arranging test state. */
export async function superuser(database = 'postgres'): Promise<pg.Client> {
  const { postgres } = servers();
  const client = new pg.Client({
    host: postgres.host,
    port: postgres.port,
    user: postgres.user,
    password: postgres.password,
    database,
  });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** The Pushgateway's /metrics. */
export async function pushgatewayMetrics(): Promise<string> {
  const res = await fetch(`${servers().pushgatewayUrl}/metrics`);
  return res.text();
}

/** Where a monitoring connection goes and as whom: the project's server by default. */
export interface MonitorTarget {
  readonly host: string;
  readonly port: number;
  readonly monitorUser: string;
  readonly monitorPassword: string;
}

/** The exporter's own connection (src/db.ts) as the pg_monitor-only role. */
export function connectMonitor(
  database = 'postgres',
  target: MonitorTarget = servers().postgres,
): Promise<Database> {
  return connect(
    {
      host: target.host,
      port: target.port,
      database,
      user: target.monitorUser,
      password: target.monitorPassword,
      ssl: 'disable',
    },
    { connectTimeoutMs: 5_000, statementTimeoutMs: 5_000, applicationName: 'collectors-test' },
  );
}
