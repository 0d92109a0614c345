import type { TestProject } from 'vitest/node';
import { DEFAULT_MAJOR, postgresBinDir, startPostgres } from './postgres.js';
import { startPushgateway } from './pushgateway.js';

export interface PostgresInfo {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly major: number;
  readonly binDir: string;
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
    startPostgres({ binDir }),
    startPushgateway(),
  ]);
  project.provide('postgres', {
    host: postgres.host,
    port: postgres.port,
    user: postgres.user,
    password: postgres.password,
    major: postgres.major,
    binDir,
  });
  project.provide('pushgatewayUrl', pushgateway.url);
  return async () => {
    await Promise.all([postgres.stop(), pushgateway.stop()]);
  };
}
