/**
 * Environment → typed settings. A leaf: it imports nothing of the exporter
 * but its errors, and does no I/O. Names that other modules know (collector
 * names) are read here and checked there.
 */
import net from 'node:net';
import { ConfigError } from './errors.js';

/** Environment variable names, in one place. */
export const ENV = {
  host: 'POSTGRESQL_HOST',
  port: 'POSTGRESQL_PORT',
  database: 'POSTGRESQL_DATABASE',
  username: 'POSTGRESQL_USERNAME',
  password: 'POSTGRESQL_PASSWORD',
  ssl: 'POSTGRESQL_SSL',
  sslRootCert: 'POSTGRESQL_SSL_ROOT_CERT',
  iamAuth: 'POSTGRESQL_IAM_AUTH',
  awsRegion: 'AWS_REGION',
  secretId: 'POSTGRESQL_SECRET_ID',
  connectTimeoutMs: 'POSTGRESQL_CONNECT_TIMEOUT_MS',
  statementTimeoutMs: 'POSTGRESQL_STATEMENT_TIMEOUT_MS',
  applicationName: 'POSTGRESQL_APPLICATION_NAME',
  keepConnectionSeconds: 'POSTGRESQL_KEEP_CONNECTION_SECONDS',
  pushgatewayUrl: 'PUSHGATEWAY_URL',
  pushgatewayJob: 'PUSHGATEWAY_JOB',
  pushgatewayInstance: 'PUSHGATEWAY_INSTANCE',
  pushgatewayLabels: 'PUSHGATEWAY_GROUPING_LABELS',
  pushgatewayTimeoutMs: 'PUSHGATEWAY_TIMEOUT_MS',
  pushgatewayUsername: 'PUSHGATEWAY_USERNAME',
  pushgatewayPassword: 'PUSHGATEWAY_PASSWORD',
  pushgatewayBearerToken: 'PUSHGATEWAY_BEARER_TOKEN',
  pushgatewayCaFile: 'PUSHGATEWAY_CA_FILE',
  remoteWriteUrl: 'REMOTE_WRITE_URL',
  remoteWriteTimeoutMs: 'REMOTE_WRITE_TIMEOUT_MS',
  remoteWriteUsername: 'REMOTE_WRITE_USERNAME',
  remoteWritePassword: 'REMOTE_WRITE_PASSWORD',
  remoteWriteBearerToken: 'REMOTE_WRITE_BEARER_TOKEN',
  remoteWriteCaFile: 'REMOTE_WRITE_CA_FILE',
  remoteWriteSigv4: 'REMOTE_WRITE_SIGV4',
  remoteWriteSigv4Region: 'REMOTE_WRITE_SIGV4_REGION',
  remoteWriteHeaders: 'REMOTE_WRITE_HEADERS',
  remoteWriteBatchSamples: 'REMOTE_WRITE_BATCH_SAMPLES',
  collectorsEnable: 'COLLECTORS_ENABLE',
  collectorsDisable: 'COLLECTORS_DISABLE',
  statementsLimit: 'STATEMENTS_LIMIT',
  customQueriesFile: 'CUSTOM_QUERIES_FILE',
  collectorMaxSeries: 'COLLECTOR_MAX_SERIES',
  databasesInclude: 'DATABASES_INCLUDE',
  databasesExclude: 'DATABASES_EXCLUDE',
  databasesLimit: 'DATABASES_LIMIT',
  tablesLimit: 'TABLES_LIMIT',
  indexesLimit: 'INDEXES_LIMIT',
  collectorRefreshSeconds: 'COLLECTOR_REFRESH_SECONDS',
  targetsFile: 'TARGETS_FILE',
  rdsTag: 'TARGETS_RDS_TAG',
  rdsLabelTags: 'TARGETS_RDS_LABEL_TAGS',
  rdsSecretTag: 'TARGETS_RDS_SECRET_TAG',
  rdsIamAuth: 'TARGETS_RDS_IAM_AUTH',
  rdsUsername: 'TARGETS_RDS_USERNAME',
  rdsDatabase: 'TARGETS_RDS_DATABASE',
  rdsMasterSecret: 'TARGETS_RDS_MASTER_SECRET',
  fleetName: 'FLEET_NAME',
  fleetMode: 'FLEET_MODE',
  fleetConcurrency: 'FLEET_CONCURRENCY',
  fleetTargetFunction: 'FLEET_TARGET_FUNCTION',
  fleetCleanupForce: 'FLEET_CLEANUP_FORCE',
} as const;

export const DEFAULTS = {
  host: 'localhost',
  port: 5432,
  database: 'postgres',
  username: 'postgres',
  connectTimeoutMs: 5_000,
  statementTimeoutMs: 10_000,
  applicationName: 'postgresql-pushgateway-exporter',
  keepConnectionSeconds: 300,
  pushgatewayJob: 'postgresql-exporter',
  pushgatewayLabels: 'app=prometheus-postgresql-exporter',
  pushgatewayTimeoutMs: 10_000,
  remoteWriteTimeoutMs: 10_000,
  remoteWriteBatchSamples: 2_000,
  statementsLimit: 10,
  collectorMaxSeries: 20_000,
  databasesLimit: 20,
  tablesLimit: 50,
  indexesLimit: 50,
  rdsSecretTag: 'postgresql-exporter-secret',
  fleetName: 'default',
  fleetConcurrency: 10,
} as const;

/** The grouping label that names a fleet (FLEET_NAME): stale clean-up touches only its groups. */
export const FLEET_LABEL = 'fleet';

/** Most targets one inline fleet run collects at once (FLEET_CONCURRENCY's upper bound). */
export const MAX_FLEET_CONCURRENCY = 100;

/** The most databases one run may visit (DATABASES_LIMIT's upper bound): one connection each. */
export const MAX_DATABASES_LIMIT = 10_000;

/** The most tables or indexes reported per database (TABLES_LIMIT, INDEXES_LIMIT). */
export const MAX_TABLES_LIMIT = 10_000;

/** The most statements the statements collector may report: it bounds the series count. */
export const MAX_STATEMENTS_LIMIT = 100;

/** The longest refresh interval of a collector (COLLECTOR_REFRESH_SECONDS), in seconds: a day. */
export const MAX_REFRESH_SECONDS = 86_400;

/**
 * How the connection to PostgreSQL uses TLS, with libpq's names:
 * - disable: plain TCP;
 * - require: TLS, certificate not checked (what the seed's `POSTGRESQL_SSL=true` did);
 * - verify-ca: TLS, certificate chain checked against the trusted CAs;
 * - verify-full: as verify-ca, and the certificate must name the host.
 */
export type SslMode = 'disable' | 'require' | 'verify-ca' | 'verify-full';

export interface PostgresConfig {
  /** Undefined when the value is to come from the secret (or the default when there is none). */
  readonly host: string | undefined;
  readonly port: number | undefined;
  readonly database: string | undefined;
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly ssl: SslMode | undefined;
  /** PEM file of the CAs trusted for verify-ca/verify-full; undefined: Node's trusted CAs. */
  readonly sslRootCert: string | undefined;
  /** Set when the password is an RDS IAM auth token (src/iam.ts), made in this region. */
  readonly iamAuth: IamAuthConfig | undefined;
  readonly secretId: string | undefined;
  readonly connectTimeoutMs: number;
  readonly statementTimeoutMs: number;
  readonly applicationName: string;
  /**
   * How long a warm process keeps its connection idle between runs, in
   * seconds (PostgreSQL 14+ closes it itself after as long); 0: a new
   * connection every run.
   */
  readonly keepConnectionSeconds: number;
}

export interface IamAuthConfig {
  /** AWS_REGION: the region of the database, where the token is signed. */
  readonly region: string;
}

/**
 * Where the runs go (the grouping key's settings with them). Undefined `url`
 * (and no `urls`): no Pushgateway, only remote write (REMOTE_WRITE_URL).
 */
export interface PushgatewayConfig {
  /** The Pushgateway of this target (in a fleet, the one it is assigned to). */
  readonly url: URL | undefined;
  /** A fleet's Pushgateways, `url` among them; one target has one, remote write alone none. */
  readonly urls: readonly URL[];
  readonly job: string;
  /** Overrides the default `instance` grouping label (`host:port/database`). */
  readonly instance: string | undefined;
  /** Extra grouping labels, besides job and instance. */
  readonly labels: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  /**
   * Credentials from PUSHGATEWAY_USERNAME/_PASSWORD or PUSHGATEWAY_BEARER_TOKEN;
   * undefined otherwise (`user:password@` in the URL is then still used by push()).
   * Secret: `auth.password` (basic) and `auth.token` (bearer).
   */
  readonly auth: PushgatewayAuth | undefined;
  /** PEM file of the only CAs trusted for an https URL; read by push(), not here. */
  readonly caFile: string | undefined;
}

/** How the exporter authenticates to an HTTP endpoint (a sink): basic auth or a bearer token. */
export type HttpAuth =
  | { readonly kind: 'basic'; readonly username: string; readonly password: string }
  | { readonly kind: 'bearer'; readonly token: string };

/** How the exporter authenticates to the Pushgateway. */
export type PushgatewayAuth = HttpAuth;

/** The variables of one sink's endpoint, for checks and for messages that say what to set. */
export interface EndpointVars {
  readonly url: string;
  readonly username: string;
  readonly password: string;
  readonly bearerToken: string;
  readonly caFile: string;
}

export const PUSHGATEWAY_VARS: EndpointVars = {
  url: ENV.pushgatewayUrl,
  username: ENV.pushgatewayUsername,
  password: ENV.pushgatewayPassword,
  bearerToken: ENV.pushgatewayBearerToken,
  caFile: ENV.pushgatewayCaFile,
};

export const REMOTE_WRITE_VARS: EndpointVars = {
  url: ENV.remoteWriteUrl,
  username: ENV.remoteWriteUsername,
  password: ENV.remoteWritePassword,
  bearerToken: ENV.remoteWriteBearerToken,
  caFile: ENV.remoteWriteCaFile,
};

/** Prometheus remote write (src/remote_write.ts): on when REMOTE_WRITE_URL is set. */
export interface RemoteWriteConfig {
  /** The receiver's write URL, e.g. http://prometheus:9090/api/v1/write. */
  readonly url: URL;
  /** The whole write of a run, every batch, attempt and pause, ends within this. */
  readonly timeoutMs: number;
  /** Basic auth or bearer token; secret: `auth.password`, `auth.token`. */
  readonly auth: HttpAuth | undefined;
  /** Requests signed with AWS SigV4 for service `aps` (Amazon Managed Service for Prometheus). */
  readonly sigv4: { readonly region: string } | undefined;
  readonly caFile: string | undefined;
  /** Extra request headers (X-Scope-OrgID for a Mimir tenant); values treated as secrets. */
  readonly headers: Readonly<Record<string, string>>;
  /** Most samples in one request. */
  readonly batchSamples: number;
}

export interface CollectorsConfig {
  /** Names switched on beyond the defaults. */
  readonly enable: readonly string[];
  /** Names switched off. */
  readonly disable: readonly string[];
  readonly statementsLimit: number;
  /** Path of the YAML file of custom queries, if any. */
  readonly customQueriesFile: string | undefined;
  /** Most series one collector may push in a run; past it the collector fails alone. */
  readonly maxSeries: number;
  /** Which databases the per-database collectors (tables, indexes) visit. */
  readonly databases: DatabasesConfig;
  /** Tables reported per database, the largest first. */
  readonly tablesLimit: number;
  /** Indexes reported per database, the largest first. */
  readonly indexesLimit: number;
  /**
   * Collector name → its refresh interval in seconds (0: every run), as set by
   * COLLECTOR_REFRESH_SECONDS; the names are checked, and the defaults of the
   * others applied, by the plan (src/plan.ts).
   */
  readonly refreshSeconds: ReadonlyMap<string, number>;
}

/**
 * The databases the per-database collectors visit: every one the role may
 * connect to, narrowed by name patterns (`*` any run of characters, `?` one),
 * then at most `limit` of them.
 */
export interface DatabasesConfig {
  /** Visit only databases matching one of these; empty: every database. */
  readonly include: readonly string[];
  /** Never visit databases matching one of these. */
  readonly exclude: readonly string[];
  readonly limit: number;
}

/** RDS and Aurora discovery (src/fleet/rds.ts): on when TARGETS_RDS_TAG is set. */
export interface RdsDiscoveryConfig {
  /** Instances carrying this tag (any value when `value` is undefined) are targets. */
  readonly tag: { readonly key: string; readonly value: string | undefined };
  /** Tag key → grouping label name, for the tags copied to each target's labels. */
  readonly labelTags: Readonly<Record<string, string>>;
  /** The tag whose value names the target's secret (ARN or name). */
  readonly secretTag: string;
  /** Instances without a secret tag use IAM auth as `username`. */
  readonly iamAuth: boolean;
  /** The database user for IAM auth (required with iamAuth). */
  readonly username: string | undefined;
  /** The database to connect to on each instance. */
  readonly database: string;
  /** Last resort: the instance's managed master user secret (MasterUserSecret). */
  readonly masterSecret: boolean;
  readonly region: string | undefined;
}

/** How a fleet is collected: by this function itself, or one Lambda invocation per target. */
export type FleetMode = 'inline' | 'fanout';

/** Many targets from one deployment: set when TARGETS_FILE or TARGETS_RDS_TAG is. */
export interface FleetConfig {
  /** Path of the YAML targets file, if any. */
  readonly targetsFile: string | undefined;
  readonly rds: RdsDiscoveryConfig | undefined;
  /** The `fleet` grouping label of every group of this deployment. */
  readonly name: string;
  readonly mode: FleetMode;
  /** Targets collected at once, inline. */
  readonly concurrency: number;
  /** The per-target function (name or ARN), fan-out only. */
  readonly targetFunction: string | undefined;
  /** Delete stale groups even past the clean-up cap (src/fleet/stale.ts): a confirmed shrink. */
  readonly cleanupForce: boolean;
}

export interface Config {
  readonly postgres: PostgresConfig;
  readonly pushgateway: PushgatewayConfig;
  /** Undefined: no remote write. */
  readonly remoteWrite: RemoteWriteConfig | undefined;
  readonly collectors: CollectorsConfig;
  /** Undefined: one target, from POSTGRESQL_*. */
  readonly fleet: FleetConfig | undefined;
}

export type Env = Readonly<Record<string, string | undefined>>;

/** Trimmed value, or undefined when unset or blank (serverless.yml passes unset values as ""). */
function read(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

function integer(env: Env, name: string, min: number, max: number): number | undefined {
  const raw = read(env, name);
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw)) {
    throw new ConfigError(name, `must be a whole number from ${min} to ${max}, got "${raw}"`);
  }
  const value = Number(raw);
  if (value < min || value > max) {
    throw new ConfigError(name, `must be from ${min} to ${max}, got ${value}`);
  }
  return value;
}

const TRUE_WORDS = new Set(['true', '1', 'yes', 't', 'y', 'on']);
const FALSE_WORDS = new Set(['false', '0', 'no', 'f', 'n', 'off']);
const SSL_MODES = new Set<SslMode>(['disable', 'require', 'verify-ca', 'verify-full']);

export function parseSslMode(raw: string, variable: string = ENV.ssl): SslMode {
  const value = raw.trim().toLowerCase();
  if (TRUE_WORDS.has(value)) return 'require';
  if (FALSE_WORDS.has(value)) return 'disable';
  if (SSL_MODES.has(value as SslMode)) return value as SslMode;
  throw new ConfigError(
    variable,
    `must be true/false or one of disable, require, verify-ca, verify-full; got "${raw}"`,
  );
}

/** 127.0.0.0/8 and ::1; BlockList also matches their IPv4-mapped IPv6 forms (::ffff:127.0.0.1). */
const LOOPBACK = new net.BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/**
 * Whether `host` is this machine, decided from the parsed address, not from
 * how the text starts: `localhost`, an IP address in 127.0.0.0/8 or ::1
 * (bracketed or IPv4-mapped too), or a Unix socket directory. A host name
 * such as `127.example.com` is not.
 */
export function isLoopback(host: string): boolean {
  if (host.startsWith('/')) return true;
  const name = host.toLowerCase().replace(/\.$/, '');
  if (name === 'localhost') return true;
  const address = name.startsWith('[') && name.endsWith(']') ? name.slice(1, -1) : name;
  const family = net.isIP(address);
  if (family === 0) return false;
  return LOOPBACK.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * The default when POSTGRESQL_SSL is unset: no TLS on loopback; everywhere
 * else TLS with the certificate checked, chain and host name (verify-full).
 */
export function defaultSslMode(host: string): SslMode {
  return isLoopback(host) ? 'disable' : 'verify-full';
}

function boolean(env: Env, name: string): boolean | undefined {
  const raw = read(env, name);
  if (raw === undefined) return undefined;
  const value = raw.toLowerCase();
  if (TRUE_WORDS.has(value)) return true;
  if (FALSE_WORDS.has(value)) return false;
  throw new ConfigError(name, `must be true or false, got "${raw}"`);
}

/**
 * RDS IAM authentication: the password is a token signed in AWS_REGION, sent
 * over TLS only, and no other password may be configured.
 */
function iamAuth(
  env: Env,
  host: string | undefined,
  ssl: SslMode | undefined,
  password: string | undefined,
  secretId: string | undefined,
): IamAuthConfig | undefined {
  if (boolean(env, ENV.iamAuth) !== true) return undefined;
  if (password !== undefined) {
    throw new ConfigError(
      ENV.password,
      `cannot be set together with ${ENV.iamAuth}: the password is an IAM auth token`,
    );
  }
  if (secretId !== undefined) {
    throw new ConfigError(
      ENV.secretId,
      `cannot be set together with ${ENV.iamAuth}: the password is an IAM auth token`,
    );
  }
  const effective = ssl ?? defaultSslMode(host ?? DEFAULTS.host);
  if (effective === 'disable') {
    throw new ConfigError(
      ENV.ssl,
      `${ENV.iamAuth} needs TLS: set require, verify-ca or verify-full` +
        (ssl === undefined ? ` (the default for host ${host ?? DEFAULTS.host} is disable)` : ''),
    );
  }
  const region = read(env, ENV.awsRegion);
  if (region === undefined) {
    throw new ConfigError(
      ENV.awsRegion,
      `is required with ${ENV.iamAuth}: the region of the database (Lambda sets it)`,
    );
  }
  return { region };
}

/** POSTGRESQL_SSL_ROOT_CERT: checks only verify-ca/verify-full, so no other mode may name it. */
function sslRootCert(env: Env, ssl: SslMode | undefined): string | undefined {
  const file = read(env, ENV.sslRootCert);
  if (file !== undefined && (ssl === 'disable' || ssl === 'require')) {
    throw new ConfigError(
      ENV.sslRootCert,
      `is only used to check certificates: set ${ENV.ssl} to verify-ca or verify-full (it is ${ssl})`,
    );
  }
  return file;
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Parses `name=value,name=value`; the word `none` means no extra labels. */
export function parseGroupingLabels(raw: string, variable: string = ENV.pushgatewayLabels) {
  const labels: Record<string, string> = {};
  if (raw.trim() === 'none') return labels;
  for (const pair of raw.split(',')) {
    if (pair.trim() === '') continue;
    const eq = pair.indexOf('=');
    if (eq < 0) throw new ConfigError(variable, `expected name=value, got "${pair.trim()}"`);
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    if (!LABEL_NAME.test(name) || name.startsWith('__')) {
      throw new ConfigError(variable, `"${name}" is not a valid Prometheus label name`);
    }
    if (name === 'job' || name === 'instance') {
      throw new ConfigError(
        variable,
        `"${name}" is set by ${name === 'job' ? ENV.pushgatewayJob : ENV.pushgatewayInstance}`,
      );
    }
    if (Object.hasOwn(labels, name))
      throw new ConfigError(variable, `label "${name}" is given twice`);
    labels[name] = value;
  }
  return labels;
}

/** A comma-separated list of collector names; the collectors' table checks them (selectCollectors). */
/** Most characters of one database name pattern (PostgreSQL names have at most 63 bytes). */
const MAX_PATTERN_CHARS = 200;

/** Comma-separated database name patterns: `*` and `?` wildcards, nothing else special. */
function databasePatterns(env: Env, name: string): string[] {
  const patterns = collectorNames(env, name);
  for (const pattern of patterns) {
    if (pattern.length > MAX_PATTERN_CHARS) {
      throw new ConfigError(name, `a pattern is longer than ${MAX_PATTERN_CHARS} characters`);
    }
  }
  return patterns;
}

function collectorNames(env: Env, name: string): string[] {
  const raw = read(env, name);
  if (raw === undefined) return [];
  return raw
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '');
}

/**
 * COLLECTOR_REFRESH_SECONDS: `name=seconds,name=seconds`, each a whole number
 * from 0 (every run) to MAX_REFRESH_SECONDS. The names are checked by the plan,
 * which knows the collectors.
 */
export function parseRefreshSeconds(raw: string): Map<string, number> {
  const variable = ENV.collectorRefreshSeconds;
  const intervals = new Map<string, number>();
  for (const pair of raw.split(',')) {
    if (pair.trim() === '') continue;
    const eq = pair.indexOf('=');
    if (eq < 0) throw new ConfigError(variable, `expected name=seconds, got "${pair.trim()}"`);
    const name = pair.slice(0, eq).trim();
    const seconds = pair.slice(eq + 1).trim();
    if (name === '') throw new ConfigError(variable, `expected name=seconds, got "${pair.trim()}"`);
    if (!/^\d+$/.test(seconds) || Number(seconds) > MAX_REFRESH_SECONDS) {
      throw new ConfigError(
        variable,
        `"${name}": must be a whole number of seconds from 0 to ${MAX_REFRESH_SECONDS}, ` +
          `got "${seconds}"`,
      );
    }
    if (intervals.has(name)) {
      throw new ConfigError(variable, `collector "${name}" is given twice`);
    }
    intervals.set(name, Number(seconds));
  }
  return intervals;
}

/** One endpoint URL, checked; `variable` names it in messages. */
function parseEndpointUrl(raw: string, list: boolean, variable: string = ENV.pushgatewayUrl): URL {
  const which = list ? `"${displayHref(raw)}" in ${variable}` : variable;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(variable, list ? `${which} is not a valid URL` : 'is not a valid URL');
  }
  const problem =
    url.protocol !== 'http:' && url.protocol !== 'https:'
      ? `must use http or https, got ${url.protocol}`
      : url.search !== '' || url.hash !== ''
        ? 'must not have a query string or fragment'
        : undefined;
  if (problem !== undefined) {
    throw new ConfigError(variable, list ? `${which}: ${problem}` : problem);
  }
  return url;
}

/** A URL as shown in a message: no user name or password, even when it does not parse. */
function displayHref(raw: string): string {
  return raw.replace(/\/\/[^/@]*@/, '//');
}

/**
 * The Pushgateway URL, or, for a fleet, a list of them (comma- or
 * space-separated): each target is pushed to one of them (src/fleet/shard.ts).
 */
function pushgatewayUrls(env: Env, fleet: boolean): URL[] {
  const raw = read(env, ENV.pushgatewayUrl);
  if (raw === undefined) {
    // Remote write alone is enough.
    if (read(env, ENV.remoteWriteUrl) !== undefined) return [];
    throw new ConfigError(
      ENV.pushgatewayUrl,
      `is required (e.g. http://pushgateway:9091), unless ${ENV.remoteWriteUrl} is set`,
    );
  }
  const parts = raw.split(/[\s,]+/).filter((part) => part !== '');
  if (parts.length === 0) {
    throw new ConfigError(ENV.pushgatewayUrl, 'is not a valid URL');
  }
  if (parts.length > 1 && !fleet) {
    throw new ConfigError(
      ENV.pushgatewayUrl,
      `has ${parts.length} URLs: a list is for a fleet (${ENV.targetsFile} or ${ENV.rdsTag}), one target has one Pushgateway`,
    );
  }
  const urls = parts.map((part) => parseEndpointUrl(part, parts.length > 1));
  const seen = new Set<string>();
  for (const url of urls) {
    const key = `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
    if (seen.has(key)) {
      throw new ConfigError(ENV.pushgatewayUrl, `lists ${displayHref(url.href)} twice`);
    }
    seen.add(key);
  }
  return urls;
}

/**
 * Basic auth (e.g. PUSHGATEWAY_USERNAME + PUSHGATEWAY_PASSWORD, both or neither) or
 * a bearer token, never both, and never next to `user:password@` in the URL.
 * No message holds a password or token.
 */
function endpointAuth(env: Env, url: URL, vars: EndpointVars): HttpAuth | undefined {
  const username = read(env, vars.username);
  // Not trimmed, as POSTGRESQL_PASSWORD: spaces may be part of a password.
  const rawPassword = env[vars.password];
  const password = rawPassword === '' ? undefined : rawPassword;
  const token = read(env, vars.bearerToken);
  const inUrl = url.username !== '' || url.password !== '';
  if (username !== undefined && password === undefined) {
    throw new ConfigError(vars.password, `is required when ${vars.username} is set`);
  }
  if (password !== undefined && username === undefined) {
    throw new ConfigError(vars.username, `is required when ${vars.password} is set`);
  }
  if (token !== undefined && (username !== undefined || inUrl)) {
    const basic =
      username !== undefined
        ? `${vars.username}/${vars.password}`
        : `user:password@ in ${vars.url}`;
    throw new ConfigError(
      vars.bearerToken,
      `cannot be used together with basic auth (${basic}): choose one`,
    );
  }
  if (token !== undefined) {
    // Visible ASCII only: anything else could not be sent in a header.
    if (!/^[\x21-\x7e]+$/.test(token)) {
      throw new ConfigError(vars.bearerToken, 'must be printable ASCII without spaces');
    }
    return { kind: 'bearer', token };
  }
  if (username === undefined || password === undefined) return undefined;
  if (inUrl) {
    throw new ConfigError(
      vars.url,
      `has user:password@ and ${vars.username}/${vars.password} ` +
        'are set too: use one or the other',
    );
  }
  if (username.includes(':')) {
    throw new ConfigError(vars.username, 'must not contain ":" (basic auth)');
  }
  return { kind: 'basic', username, password };
}

/** The CA file is only for an https URL; it is read by push(), not here (no I/O). */
function endpointCaFile(env: Env, url: URL, vars: EndpointVars): string | undefined {
  const caFile = read(env, vars.caFile);
  if (caFile !== undefined && url.protocol !== 'https:') {
    throw new ConfigError(
      vars.caFile,
      `needs an https ${vars.url}, got ${url.protocol.slice(0, -1)}`,
    );
  }
  return caFile;
}

/** Variables that describe the one target of a single-target deployment; a fleet refuses them. */
export const SINGLE_TARGET_VARIABLES: readonly string[] = [
  ENV.host,
  ENV.port,
  ENV.database,
  ENV.username,
  ENV.password,
  ENV.secretId,
  ENV.iamAuth,
  ENV.pushgatewayInstance,
];

/** `key=value` or `key` (any value). */
function rdsTag(raw: string): RdsDiscoveryConfig['tag'] {
  const eq = raw.indexOf('=');
  const key = (eq < 0 ? raw : raw.slice(0, eq)).trim();
  if (key === '') throw new ConfigError(ENV.rdsTag, `expected key=value or key, got "${raw}"`);
  return { key, value: eq < 0 ? undefined : raw.slice(eq + 1).trim() };
}

/** `tag` or `tag=label`, comma-separated: tags copied to labels. */
function rdsLabelTags(raw: string | undefined): Record<string, string> {
  const labels: Record<string, string> = {};
  if (raw === undefined) return labels;
  const seen = new Set<string>();
  for (const item of raw.split(',')) {
    if (item.trim() === '') continue;
    const eq = item.indexOf('=');
    const tag = (eq < 0 ? item : item.slice(0, eq)).trim();
    const label = (eq < 0 ? tag : item.slice(eq + 1)).trim();
    if (!LABEL_NAME.test(label) || label.startsWith('__')) {
      throw new ConfigError(
        ENV.rdsLabelTags,
        `"${label}" is not a valid Prometheus label name` +
          (eq < 0 ? ` (name one: ${tag}=label_name)` : ''),
      );
    }
    if (label === 'job' || label === 'instance' || label === FLEET_LABEL || seen.has(label)) {
      throw new ConfigError(ENV.rdsLabelTags, `label "${label}" is taken or given twice`);
    }
    seen.add(label);
    labels[tag] = label;
  }
  return labels;
}

function rdsDiscovery(env: Env): RdsDiscoveryConfig | undefined {
  const tag = read(env, ENV.rdsTag);
  const names = [ENV.rdsLabelTags, ENV.rdsSecretTag, ENV.rdsIamAuth, ENV.rdsUsername];
  if (tag === undefined) {
    const stray = [...names, ENV.rdsDatabase, ENV.rdsMasterSecret].find(
      (name) => read(env, name) !== undefined,
    );
    if (stray !== undefined) {
      throw new ConfigError(
        stray,
        `is only used with ${ENV.rdsTag} (RDS discovery), which is unset`,
      );
    }
    return undefined;
  }
  const iam = boolean(env, ENV.rdsIamAuth) ?? false;
  const username = read(env, ENV.rdsUsername);
  if (iam && username === undefined) {
    throw new ConfigError(ENV.rdsUsername, `is required with ${ENV.rdsIamAuth}: the database user`);
  }
  return {
    tag: rdsTag(tag),
    labelTags: rdsLabelTags(read(env, ENV.rdsLabelTags)),
    secretTag: read(env, ENV.rdsSecretTag) ?? DEFAULTS.rdsSecretTag,
    iamAuth: iam,
    username,
    database: read(env, ENV.rdsDatabase) ?? DEFAULTS.database,
    masterSecret: boolean(env, ENV.rdsMasterSecret) ?? false,
    region: read(env, ENV.awsRegion),
  };
}

/** Whether `env` configures a fleet (TARGETS_FILE or TARGETS_RDS_TAG) rather than one target. */
export function isFleet(env: Env): boolean {
  return read(env, ENV.targetsFile) !== undefined || read(env, ENV.rdsTag) !== undefined;
}

/**
 * The fleet settings, when TARGETS_FILE or TARGETS_RDS_TAG is set; a
 * single-target variable next to them is refused, naming both.
 */
function fleet(env: Env): FleetConfig | undefined {
  const targetsFile = read(env, ENV.targetsFile);
  const rds = rdsDiscovery(env);
  const fleetOnly = [
    ENV.fleetName,
    ENV.fleetMode,
    ENV.fleetConcurrency,
    ENV.fleetTargetFunction,
    ENV.fleetCleanupForce,
  ];
  if (targetsFile === undefined && rds === undefined) {
    const stray = fleetOnly.find((name) => read(env, name) !== undefined);
    if (stray !== undefined) {
      throw new ConfigError(
        stray,
        `is only used with ${ENV.targetsFile} or ${ENV.rdsTag} (a fleet)`,
      );
    }
    return undefined;
  }
  const source = targetsFile !== undefined ? ENV.targetsFile : ENV.rdsTag;
  for (const name of SINGLE_TARGET_VARIABLES) {
    const set = name === ENV.password ? (env[name] ?? '') !== '' : read(env, name) !== undefined;
    if (set) {
      throw new ConfigError(
        name,
        `cannot be set together with ${source}: a fleet's targets come from ${source} ` +
          '(unset one of the two)',
      );
    }
  }
  const rawMode = read(env, ENV.fleetMode) ?? 'inline';
  if (rawMode !== 'inline' && rawMode !== 'fanout') {
    throw new ConfigError(ENV.fleetMode, `must be inline or fanout, got "${rawMode}"`);
  }
  const targetFunction = read(env, ENV.fleetTargetFunction);
  if (rawMode === 'fanout' && targetFunction === undefined) {
    throw new ConfigError(
      ENV.fleetTargetFunction,
      `is required with ${ENV.fleetMode}=fanout: the per-target function to invoke`,
    );
  }
  const name = read(env, ENV.fleetName) ?? DEFAULTS.fleetName;
  return {
    targetsFile,
    rds,
    name,
    mode: rawMode,
    concurrency:
      integer(env, ENV.fleetConcurrency, 1, MAX_FLEET_CONCURRENCY) ?? DEFAULTS.fleetConcurrency,
    targetFunction,
    cleanupForce: boolean(env, ENV.fleetCleanupForce) ?? false,
  };
}

/**
 * Reads the whole configuration from the environment. Pure: no I/O. Throws a
 * ConfigError naming the first variable that is malformed or missing.
 */
export function loadConfig(env: Env): Config {
  // First: a single-target variable in a fleet is named as such, not by a later check.
  const fleetConfig = fleet(env);
  const secretId = read(env, ENV.secretId);
  const username = read(env, ENV.username);
  // Passwords are not trimmed: leading or trailing spaces may be part of one.
  const password = env[ENV.password] === '' ? undefined : env[ENV.password];
  if (secretId !== undefined) {
    for (const [name, value] of [
      [ENV.username, username],
      [ENV.password, password],
    ] as const) {
      if (value !== undefined) {
        throw new ConfigError(
          name,
          `cannot be set together with ${ENV.secretId}: credentials come from the secret`,
        );
      }
    }
  }
  const rawSsl = read(env, ENV.ssl);
  const ssl = rawSsl === undefined ? undefined : parseSslMode(rawSsl);
  const host = read(env, ENV.host);
  const labels = read(env, ENV.pushgatewayLabels);
  const job = read(env, ENV.pushgatewayJob) ?? DEFAULTS.pushgatewayJob;
  const pushUrls = pushgatewayUrls(env, fleetConfig !== undefined);
  const pushUrl = pushUrls[0];

  const enable = collectorNames(env, ENV.collectorsEnable);
  const disable = collectorNames(env, ENV.collectorsDisable);
  const both = enable.find((n) => disable.includes(n));
  if (both !== undefined) {
    throw new ConfigError(ENV.collectorsDisable, `"${both}" is also in ${ENV.collectorsEnable}`);
  }

  return {
    postgres: {
      host,
      port: integer(env, ENV.port, 1, 65_535),
      database: read(env, ENV.database),
      username,
      password,
      ssl,
      sslRootCert: sslRootCert(env, ssl),
      iamAuth: iamAuth(env, host, ssl, password, secretId),
      secretId,
      connectTimeoutMs:
        integer(env, ENV.connectTimeoutMs, 100, 900_000) ?? DEFAULTS.connectTimeoutMs,
      statementTimeoutMs:
        integer(env, ENV.statementTimeoutMs, 100, 900_000) ?? DEFAULTS.statementTimeoutMs,
      applicationName: read(env, ENV.applicationName) ?? DEFAULTS.applicationName,
      keepConnectionSeconds:
        integer(env, ENV.keepConnectionSeconds, 0, 86_400) ?? DEFAULTS.keepConnectionSeconds,
    },
    pushgateway: {
      url: pushUrl,
      urls: pushUrls,
      job,
      instance: read(env, ENV.pushgatewayInstance),
      labels: parseGroupingLabels(labels ?? DEFAULTS.pushgatewayLabels),
      timeoutMs:
        integer(env, ENV.pushgatewayTimeoutMs, 100, 900_000) ?? DEFAULTS.pushgatewayTimeoutMs,
      auth: pushUrl === undefined ? undefined : endpointAuth(env, pushUrl, PUSHGATEWAY_VARS),
      caFile: pushUrl === undefined ? undefined : endpointCaFile(env, pushUrl, PUSHGATEWAY_VARS),
    },
    remoteWrite: remoteWriteConfig(env),
    collectors: {
      enable,
      disable,
      statementsLimit:
        integer(env, ENV.statementsLimit, 1, MAX_STATEMENTS_LIMIT) ?? DEFAULTS.statementsLimit,
      customQueriesFile: read(env, ENV.customQueriesFile),
      maxSeries: integer(env, ENV.collectorMaxSeries, 1, 10_000_000) ?? DEFAULTS.collectorMaxSeries,
      databases: {
        include: databasePatterns(env, ENV.databasesInclude),
        exclude: databasePatterns(env, ENV.databasesExclude),
        limit: integer(env, ENV.databasesLimit, 1, MAX_DATABASES_LIMIT) ?? DEFAULTS.databasesLimit,
      },
      tablesLimit: integer(env, ENV.tablesLimit, 1, MAX_TABLES_LIMIT) ?? DEFAULTS.tablesLimit,
      indexesLimit: integer(env, ENV.indexesLimit, 1, MAX_TABLES_LIMIT) ?? DEFAULTS.indexesLimit,
      refreshSeconds: parseRefreshSeconds(read(env, ENV.collectorRefreshSeconds) ?? ''),
    },
    fleet: fleetConfig,
  };
}

/**
 * The secret values of an environment, as given (before any check): what a
 * log line must never show, even when the configuration is refused.
 */
export function environmentSecrets(env: Env): string[] {
  const values = [
    env[ENV.password],
    env[ENV.pushgatewayPassword],
    env[ENV.pushgatewayBearerToken],
    env[ENV.remoteWritePassword],
    env[ENV.remoteWriteBearerToken],
  ];
  // Each URL of a list, as pushgatewayUrls splits it.
  for (const part of (env[ENV.pushgatewayUrl] ?? '').split(/[\s,]+/)) {
    if (URL.canParse(part)) values.push(new URL(part).password);
  }
  const remote = env[ENV.remoteWriteUrl]?.trim() ?? '';
  if (URL.canParse(remote)) values.push(new URL(remote).password);
  // Every header value: a tenant id is harmless, an API key is not, and they look alike.
  for (const pair of (env[ENV.remoteWriteHeaders] ?? '').split(',')) {
    const colon = pair.indexOf(':');
    if (colon >= 0) values.push(pair.slice(colon + 1).trim());
  }
  return values.filter((value): value is string => value !== undefined && value !== '');
}

/** Headers REMOTE_WRITE_HEADERS may not set: the protocol's own, and what auth settings send. */
const RESERVED_HEADERS = new Set([
  'authorization',
  'content-type',
  'content-encoding',
  'content-length',
  'host',
  'user-agent',
  'x-prometheus-remote-write-version',
  'x-amz-date',
  'x-amz-security-token',
  'x-amz-content-sha256',
  'connection',
  'transfer-encoding',
]);

/** `Name: value, Name: value`; names are HTTP tokens, values printable ASCII. */
function remoteWriteHeaders(env: Env): Record<string, string> {
  const variable = ENV.remoteWriteHeaders;
  const raw = read(env, variable);
  const headers: Record<string, string> = {};
  if (raw === undefined) return headers;
  const pairs = raw.split(',');
  for (const [index, pair] of pairs.entries()) {
    if (pair.trim() === '') continue;
    const colon = pair.indexOf(':');
    // The value is never shown: it may be a key. Nor is an entry without a colon, which may be
    // nothing but a value ("Name=key", or the part of a value after a comma).
    if (colon < 0) {
      throw new ConfigError(
        variable,
        `expected Name: value, got an entry without ":" (entry ${index + 1} of ${pairs.length})`,
      );
    }
    const name = pair.slice(0, colon).trim();
    const value = pair.slice(colon + 1).trim();
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
      throw new ConfigError(variable, `"${name.slice(0, 100)}" is not a valid header name`);
    }
    const lower = name.toLowerCase();
    if (RESERVED_HEADERS.has(lower)) {
      throw new ConfigError(
        variable,
        `"${name}" is set by the exporter itself (use ${ENV.remoteWriteUsername}/${ENV.remoteWritePassword}, ` +
          `${ENV.remoteWriteBearerToken} or ${ENV.remoteWriteSigv4} for authentication)`,
      );
    }
    if (value === '' || !/^[\x20-\x7e]+$/.test(value)) {
      throw new ConfigError(variable, `the value of "${name}" must be printable ASCII, not empty`);
    }
    if (Object.keys(headers).some((n) => n.toLowerCase() === lower)) {
      throw new ConfigError(variable, `"${name}" is given twice`);
    }
    headers[name] = value;
  }
  return headers;
}

/** Amazon Managed Service for Prometheus: `aps-workspaces.<region>.amazonaws.com`. */
const AMP_HOST = /^aps-workspaces\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/;

/**
 * SigV4: on by REMOTE_WRITE_SIGV4=true, or for an AMP workspace URL unless
 * set to false; the region from REMOTE_WRITE_SIGV4_REGION, else the URL's,
 * else AWS_REGION.
 */
function remoteWriteSigv4(env: Env, url: URL): { region: string } | undefined {
  const fromUrl = AMP_HOST.exec(url.hostname)?.[1];
  const on = boolean(env, ENV.remoteWriteSigv4) ?? fromUrl !== undefined;
  const explicit = read(env, ENV.remoteWriteSigv4Region);
  if (!on) {
    if (explicit !== undefined) {
      throw new ConfigError(
        ENV.remoteWriteSigv4Region,
        `is set but ${ENV.remoteWriteSigv4} is false`,
      );
    }
    return undefined;
  }
  const region = explicit ?? fromUrl ?? read(env, ENV.awsRegion);
  if (region === undefined) {
    throw new ConfigError(
      ENV.remoteWriteSigv4Region,
      `is required for SigV4 when neither ${ENV.remoteWriteUrl} (aps-workspaces.<region>.amazonaws.com) nor ${ENV.awsRegion} gives the region`,
    );
  }
  if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region)) {
    throw new ConfigError(
      ENV.remoteWriteSigv4Region,
      `is not an AWS region: "${region.slice(0, 50)}"`,
    );
  }
  if (url.protocol !== 'https:') {
    throw new ConfigError(ENV.remoteWriteSigv4, `needs an https ${ENV.remoteWriteUrl}`);
  }
  return { region };
}

/** Remote write, when REMOTE_WRITE_URL is set; its variables without it are an error. */
function remoteWriteConfig(env: Env): RemoteWriteConfig | undefined {
  const raw = read(env, ENV.remoteWriteUrl);
  if (raw === undefined) {
    const stray = Object.values(ENV).find(
      (name) => name.startsWith('REMOTE_WRITE_') && read(env, name) !== undefined,
    );
    if (stray !== undefined) {
      throw new ConfigError(stray, `is set but ${ENV.remoteWriteUrl} is not`);
    }
    return undefined;
  }
  const url = parseEndpointUrl(raw, false, ENV.remoteWriteUrl);
  const auth = endpointAuth(env, url, REMOTE_WRITE_VARS);
  const sigv4 = remoteWriteSigv4(env, url);
  if (sigv4 !== undefined && (auth !== undefined || url.username !== '' || url.password !== '')) {
    throw new ConfigError(
      ENV.remoteWriteSigv4,
      'signs the requests with the AWS credentials: it cannot be used together with basic auth or a bearer token',
    );
  }
  return {
    url,
    timeoutMs:
      integer(env, ENV.remoteWriteTimeoutMs, 100, 900_000) ?? DEFAULTS.remoteWriteTimeoutMs,
    auth,
    sigv4,
    caFile: endpointCaFile(env, url, REMOTE_WRITE_VARS),
    headers: remoteWriteHeaders(env),
    batchSamples:
      integer(env, ENV.remoteWriteBatchSamples, 1, 100_000) ?? DEFAULTS.remoteWriteBatchSamples,
  };
}
