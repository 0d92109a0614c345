import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { TestProject } from 'vitest/node';
import { DEFAULT_MAJOR, postgresBinDir, startPostgres } from './postgres.js';
import { startPushgateway } from './pushgateway.js';

export interface PostgresInfo {
  readonly host: string;
  readonly port: number;
  /** The superuser, for arranging test state only. */
  readonly user: string;
  readonly password: string;
  /** A role with only pg_monitor: what the exporter connects as in the tests. */
  readonly monitorUser: string;
  readonly monitorPassword: string;
  readonly major: number;
  readonly binDir: string;
}

export const MONITOR_USER = 'exporter_monitor';

/**
 * Least privilege, as the README recommends: LOGIN and pg_monitor, nothing
 * else. Creates MONITOR_USER through `admin` (a superuser) and returns its password.
 */
export async function createMonitorRole(admin: pg.Client): Promise<string> {
  const password = `mon-${randomBytes(9).toString('base64url')}`;
  await admin.query(
    `CREATE ROLE ${MONITOR_USER} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '${password}'`,
  );
  await admin.query(`GRANT pg_monitor TO ${MONITOR_USER}`);
  return password;
}

declare module 'vitest' {
  export interface ProvidedContext {
    postgres: PostgresInfo;
    pushgatewayUrl: string;
  }
}

/** One real PostgreSQL (the project's major, from its name `pg<major>`) and one Pushgateway. */
export default async function setup(project: TestProject) {
  // Projects not named pg<major> (the end-to-end one) use the default major.
  const named = /^pg(\d+)$/.exec(project.name)?.[1];
  const major = named === undefined ? DEFAULT_MAJOR : Number(named);
  const binDir = postgresBinDir(major);
  const [postgres, pushgateway] = await Promise.all([
    startPostgres({ binDir, settings: { shared_preload_libraries: 'pg_stat_statements' } }),
    startPushgateway(),
  ]);
  const admin = await postgres.client();
  const monitorPassword = await createMonitorRole(admin);
  await admin.query('CREATE EXTENSION pg_stat_statements');
  await admin.end();
  project.provide('postgres', {
    host: postgres.host,
    port: postgres.port,
    user: postgres.user,
    password: postgres.password,
    monitorUser: MONITOR_USER,
    monitorPassword,
    major: postgres.major,
    binDir,
  });
  project.provide('pushgatewayUrl', pushgateway.url);
  return async () => {
    await Promise.all([postgres.stop(), pushgateway.stop()]);
  };
}
