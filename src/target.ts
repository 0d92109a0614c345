/**
 * A server to watch, how it is reached once its secret is read, and the one
 * grouping key it is pushed under. The key is computed here and nowhere else.
 */
import {
  DEFAULTS,
  defaultSslMode,
  type Config,
  type PostgresConfig,
  type SslMode,
} from './config.js';

/** Database credentials and address as held by an RDS-style secret. */
export interface DatabaseSecret {
  readonly username: string;
  readonly password: string;
  readonly host: string | undefined;
  readonly port: number | undefined;
  readonly dbname: string | undefined;
}

/** Everything needed to open a connection, after defaults and the secret are applied. */
export interface PostgresTarget {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly password: string | undefined;
  readonly ssl: SslMode;
  /** PEM file of the trusted CAs (POSTGRESQL_SSL_ROOT_CERT), for verify-ca/verify-full. */
  readonly sslRootCert?: string;
}

/** One server to watch, as configured (its address may still need its secret). */
export interface Target {
  readonly postgres: PostgresConfig;
  /** The `instance` grouping label when it is fixed by configuration (PUSHGATEWAY_INSTANCE). */
  readonly instance: string | undefined;
  /** Grouping labels besides job and instance. */
  readonly labels: Readonly<Record<string, string>>;
}

/** The Pushgateway group of one target: the path `job@base64/<job>/instance@base64/<instance>/…`. */
export interface GroupingKey {
  readonly job: string;
  /** `instance` first, then the extra labels, in path order. */
  readonly labels: Readonly<Record<string, string>>;
}

/** The one target of a deployment configured by environment variables. */
export function targetOf(config: Config): Target {
  return {
    postgres: config.postgres,
    instance: config.pushgateway.instance,
    labels: config.pushgateway.labels,
  };
}

/**
 * Applies the secret (when there is one) and the defaults. An explicit
 * POSTGRESQL_HOST/PORT/DATABASE wins over the secret's address, so that a
 * proxy endpoint can be used with the database's secret.
 */
export function resolveTarget(pg: PostgresConfig, secret?: DatabaseSecret): PostgresTarget {
  const host = pg.host ?? secret?.host ?? DEFAULTS.host;
  return {
    host,
    port: pg.port ?? secret?.port ?? DEFAULTS.port,
    database: pg.database ?? secret?.dbname ?? DEFAULTS.database,
    user: secret?.username ?? pg.username ?? DEFAULTS.username,
    password: secret?.password ?? pg.password,
    ssl: pg.ssl ?? defaultSslMode(host),
    ...(pg.sslRootCert === undefined ? {} : { sslRootCert: pg.sslRootCert }),
  };
}

/**
 * Whether the grouping key is known before the secret is read: the instance
 * is fixed, or there is no secret, or host, port and database are all set
 * (so none of them can come from the secret). When it is not, a run whose
 * secret cannot be read has no group to push `postgresql_up 0` to, and fails.
 */
export function keyNeedsSecret(target: Target): boolean {
  const pg = target.postgres;
  if (target.instance !== undefined || pg.secretId === undefined) return false;
  return pg.host === undefined || pg.port === undefined || pg.database === undefined;
}

/**
 * The grouping key: `job`, `instance` (fixed by configuration, else
 * `host:port/database` of the resolved address) and the extra labels. The
 * same for a good run and a down run of the same target: undefined when it
 * would depend on a secret that was not read (see keyNeedsSecret).
 */
export function groupingKey(
  job: string,
  target: Target,
  secret: DatabaseSecret | undefined,
): GroupingKey | undefined {
  if (secret === undefined && keyNeedsSecret(target)) return undefined;
  // Only the address is used, never a credential of the secret.
  const { host, port, database } = resolveTarget(target.postgres, secret);
  const instance = target.instance ?? `${host}:${port}/${database}`;
  return { job, labels: { instance, ...target.labels } };
}
