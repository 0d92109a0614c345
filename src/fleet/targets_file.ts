/**
 * The targets file (TARGETS_FILE): a fleet written down. Every entry is read
 * into the TargetSpec form and checked by checkTargetSpec, the one checker
 * that the fan-out payload goes through too; every mistake stops the run
 * before any I/O, with a message naming the file, the target and the field.
 *
 *   targets:
 *     - name: orders-primary          # the `instance` grouping label; unique
 *       host: orders.abc.eu-west-1.rds.amazonaws.com
 *       port: 5432
 *       database: orders
 *       username: exporter_monitor
 *       password_env: ORDERS_PG_PASSWORD   # or secret_id: arn:…, or iam_auth: true, or none
 *       ssl: verify-full
 *       ssl_root_cert: certs/global-bundle.pem
 *       labels: { team: checkout }
 *       collectors: { enable: [statements], disable: [lock] }
 *
 * Label values are text as written: `version: 1.10` is "1.10", `shard: 08` is
 * "08", `primary: true` is "true" (YAML would read numbers and booleans).
 */
import fs from 'node:fs';
import path from 'node:path';
import { isMap, isScalar, isSeq, parseDocument, type Document } from 'yaml';
import { parseSslMode, type Env } from '../config.js';
import { ConfigError, TargetsError } from '../errors.js';
import {
  checkTargetSpec,
  fieldError,
  isMapping,
  passwordFromEnv,
  shown,
  targetWhere,
  type KnownNames,
  type Spelling,
  type TargetSpec,
} from './spec.js';

/** Most targets in one file: the fleet is sized for hundreds, a file of more is a mistake. */
export const MAX_TARGETS = 5_000;

/** The largest targets file read: a list of servers, not a data set. */
export const MAX_TARGETS_FILE_BYTES = 1024 * 1024;

const ENTRY_FIELDS = [
  'name',
  'host',
  'port',
  'database',
  'username',
  'password_env',
  'secret_id',
  'iam_auth',
  'rds_resource_id',
  'ssl',
  'ssl_root_cert',
  'labels',
  'collectors',
];
/** The fields that say where the password comes from: at most one per target. */
const CREDENTIAL_FIELDS = ['password_env', 'secret_id', 'iam_auth'] as const;

/** The file's words for the fields it spells differently from a TargetSpec. */
const FILE_SPELLING: Spelling = {
  variable: 'password_env',
  secretId: 'secret_id',
  iam: 'iam_auth',
  sslRootCert: 'ssl_root_cert',
};

type Fields = Record<string, unknown>;

/** The one source of credentials an entry names; `iam_auth: false` is no source. */
function credentialsOf(entry: Fields, where: string): unknown {
  if (entry.iam_auth !== undefined && typeof entry.iam_auth !== 'boolean') {
    throw fieldError(where, 'iam_auth', `must be true or false, got ${shown(entry.iam_auth)}`);
  }
  const given = CREDENTIAL_FIELDS.filter((field) =>
    field === 'iam_auth' ? entry.iam_auth === true : entry[field] !== undefined,
  );
  const [first, second] = given;
  if (first !== undefined && second !== undefined) {
    throw fieldError(
      where,
      second,
      `cannot be set together with ${first}: a target has one source of credentials`,
    );
  }
  switch (first) {
    case 'password_env':
      return { kind: 'env', variable: entry.password_env };
    case 'secret_id':
      return { kind: 'secret', secretId: entry.secret_id };
    case 'iam_auth':
      return { kind: 'iam' };
    default:
      return { kind: 'none' };
  }
}

/** A port written as digits in quotes is the number; anything else is left for the checker. */
function portOf(value: unknown): unknown {
  return typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
}

/**
 * `ssl` as parseSslMode reads POSTGRESQL_SSL (true/false too), its error
 * named after the field. A wrong type is left for the checker.
 */
function sslOf(value: unknown, where: string): unknown {
  if (typeof value !== 'string' && typeof value !== 'boolean') return value;
  // No mode is this long: cut, the text stays wrong and its echo short.
  const text = String(value);
  try {
    return parseSslMode(text.length > 64 ? `${text.slice(0, 64)}…` : text, 'ssl');
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw fieldError(where, 'ssl', error.message.slice(error.variable.length + 2), {
      cause: error,
    });
  }
}

/** Numbers and booleans (reached through an alias) as text; the rest is left for the checker. */
function labelsOf(value: unknown): unknown {
  if (!isMapping(value)) return value;
  return Object.fromEntries(
    Object.entries(value).map(([name, text]) => [
      name,
      typeof text === 'number' || typeof text === 'boolean' ? String(text) : text,
    ]),
  );
}

/** The shape of an RDS resource id: db-…, cluster-… or prx-… (RDS Proxy). */
const RESOURCE_ID = /^(db|cluster|prx)-[A-Za-z0-9]{1,64}$/;

/**
 * `rds_resource_id`, with `iam_auth: true` only: the DbiResourceId that
 * `serverless package` scopes the `rds-db:connect` permission to. The run
 * does not need it (the token names host, port and user), so it is checked
 * here and not carried in the TargetSpec.
 */
function checkResourceId(entry: Fields, where: string): void {
  const id = entry.rds_resource_id;
  if (id === undefined) return;
  if (entry.iam_auth !== true) {
    throw fieldError(where, 'rds_resource_id', 'is only used with iam_auth: true');
  }
  if (typeof id !== 'string' || !RESOURCE_ID.test(id)) {
    throw fieldError(
      where,
      'rds_resource_id',
      `must be a resource id such as db-ABCDEFGHIJKL0123456789, cluster-… or prx-…, got ${shown(id)}`,
    );
  }
}

/**
 * One entry of the targets file, in the file's words, read into the
 * TargetSpec form and checked by checkTargetSpec. `where` names the file and
 * the target (targetWhere).
 */
export function readTargetEntry(raw: unknown, where: string, known: KnownNames): TargetSpec {
  if (!isMapping(raw)) throw new TargetsError(`${where}: expected a mapping, got ${shown(raw)}`);
  for (const key of Object.keys(raw)) {
    if (!ENTRY_FIELDS.includes(key)) {
      throw fieldError(where, key, `unknown field (expected ${ENTRY_FIELDS.join(', ')})`);
    }
  }
  checkResourceId(raw, where);
  const collectors = raw.collectors;
  return checkTargetSpec(
    {
      name: raw.name,
      host: raw.host,
      port: portOf(raw.port),
      database: raw.database,
      username: raw.username,
      credentials: credentialsOf(raw, where),
      ssl: sslOf(raw.ssl, where),
      sslRootCert: raw.ssl_root_cert,
      labels: raw.labels === undefined ? {} : labelsOf(raw.labels),
      collectors:
        collectors === undefined
          ? { enable: [], disable: [] }
          : isMapping(collectors)
            ? { enable: [], disable: [], ...collectors }
            : collectors,
      source: 'file',
    },
    where,
    known,
    FILE_SPELLING,
  );
}

/**
 * Puts label values back to the text written: YAML reads `version: 1.10` as
 * the number 1.1 and `shard: 08` as 8, but a grouping label must be what the
 * user wrote. Only plain scalars of `targets[].labels` are touched.
 */
function labelValuesAsWritten(document: Document): void {
  const targets = document.get('targets', true);
  if (!isSeq(targets)) return;
  for (const entry of targets.items) {
    if (!isMap(entry)) continue;
    const labels = entry.get('labels', true);
    if (!isMap(labels)) continue;
    for (const { value } of labels.items) {
      if (
        isScalar(value) &&
        (typeof value.value === 'number' || typeof value.value === 'boolean') &&
        value.source !== undefined
      ) {
        value.value = value.source;
      }
    }
  }
}

/** The YAML of the file as plain data; duplicate keys, alias bombs and syntax errors refused. */
function yamlOf(file: string, text: string): unknown {
  const invalid = (message: string, cause: unknown) =>
    new TargetsError(`${file}: not valid YAML: ${(message.split('\n')[0] ?? '').slice(0, 200)}`, {
      cause,
    });
  const document = parseDocument(text, { uniqueKeys: true });
  const [error] = document.errors;
  if (error !== undefined) throw invalid(error.message, error);
  labelValuesAsWritten(document);
  try {
    return document.toJS({ maxAliasCount: 100 });
  } catch (error) {
    throw invalid(error instanceof Error ? error.message : String(error), error);
  }
}

/** The file's targets, checked; the environment is not looked at (loadTargetsFile caches this). */
function readTargets(file: string, text: string, known: KnownNames): TargetSpec[] {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_TARGETS_FILE_BYTES) {
    throw new TargetsError(
      `${file}: ${bytes} bytes, more than the ${MAX_TARGETS_FILE_BYTES} a targets file may have`,
    );
  }
  const document = yamlOf(file, text);
  if (!isMapping(document)) {
    throw new TargetsError(
      `${file}: expected a mapping with a "targets" list, got ${shown(document)}`,
    );
  }
  for (const key of Object.keys(document)) {
    if (key !== 'targets') {
      throw fieldError(file, key, 'unknown field (expected only "targets")');
    }
  }
  const entries: unknown = document.targets;
  if (!Array.isArray(entries)) {
    throw fieldError(file, 'targets', `must be a list of targets, got ${shown(entries)}`);
  }
  if (entries.length === 0) {
    throw fieldError(
      file,
      'targets',
      'is empty: a fleet needs at least one target (with none, stale clean-up would delete ' +
        'every group of the fleet from the Pushgateway); unset TARGETS_FILE to stop collecting',
    );
  }
  if (entries.length > MAX_TARGETS) {
    throw fieldError(
      file,
      'targets',
      `has ${entries.length} targets, more than the ${MAX_TARGETS} one file may hold`,
    );
  }
  const positions = new Map<string, number>();
  return entries.map((entry: unknown, index) => {
    const position = index + 1;
    const where = targetWhere(file, entry, position);
    const spec = readTargetEntry(entry, where, known);
    const first = positions.get(spec.name);
    if (first !== undefined) {
      throw fieldError(
        `${where} (#${position})`,
        'name',
        `is also the name of target #${first}: each name is the instance label of its own group`,
      );
    }
    positions.set(spec.name, position);
    return spec;
  });
}

/**
 * Each `password_env` must name a variable that is set and not empty; the
 * message names it, never a value. Run on every load: the environment is not
 * part of the cached file.
 */
function checkPasswordVariables(file: string, targets: readonly TargetSpec[], env: Env): void {
  for (const target of targets) {
    const { credentials } = target;
    if (credentials.kind !== 'env') continue;
    if (passwordFromEnv(env, credentials.variable) === undefined) {
      throw fieldError(
        targetWhere(file, target),
        'password_env',
        `environment variable ${credentials.variable} is unset or empty`,
      );
    }
  }
}

/**
 * Checks and reads the text of a targets file. Pure; `file` only names the
 * file in messages. `env` is where the `password_env` variables must be set.
 */
export function parseTargetsFile(
  file: string,
  text: string,
  known: KnownNames,
  env: Env,
): TargetSpec[] {
  const targets = readTargets(file, text, known);
  checkPasswordVariables(file, targets, env);
  return targets;
}

const loaded = new Map<
  string,
  { mtimeMs: number; size: number; known: string; targets: readonly TargetSpec[] }
>();

/** The known names as one text: a cached file was checked against these names only. */
const knownKey = (known: KnownNames): string => [...known.collectors].sort().join(',');

/**
 * The targets of the file TARGETS_FILE names. A relative path is taken from
 * the function's root (LAMBDA_TASK_ROOT in `env`, else the working directory),
 * as CUSTOM_QUERIES_FILE is. Read and checked once per container while the
 * file's path, mtime and size (and the known names) are unchanged; the
 * `password_env` variables are checked in `env` on every call.
 */
export function loadTargetsFile(file: string, known: KnownNames, env: Env): TargetSpec[] {
  const root =
    env.LAMBDA_TASK_ROOT === undefined || env.LAMBDA_TASK_ROOT === ''
      ? process.cwd()
      : env.LAMBDA_TASK_ROOT;
  const full = path.resolve(root, file);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(full);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new TargetsError(
      code === 'ENOENT'
        ? `${file}: no such file (looked at ${full})`
        : `${file}: cannot be read (${code ?? 'error'}, looked at ${full})`,
      { cause: error },
    );
  }
  if (stat.isDirectory()) throw new TargetsError(`${file}: is a directory, not a file (${full})`);
  if (!stat.isFile()) throw new TargetsError(`${file}: not a regular file (${full})`);
  if (stat.size > MAX_TARGETS_FILE_BYTES) {
    throw new TargetsError(
      `${file}: ${stat.size} bytes, more than the ${MAX_TARGETS_FILE_BYTES} a targets file may have`,
    );
  }
  const names = knownKey(known);
  const cached = loaded.get(full);
  let targets =
    cached !== undefined &&
    cached.mtimeMs === stat.mtimeMs &&
    cached.size === stat.size &&
    cached.known === names
      ? cached.targets
      : undefined;
  if (targets === undefined) {
    let text: string;
    try {
      text = fs.readFileSync(full, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new TargetsError(`${file}: cannot be read (${code ?? 'error'}, looked at ${full})`, {
        cause: error,
      });
    }
    targets = readTargets(file, text, known);
    loaded.set(full, { mtimeMs: stat.mtimeMs, size: stat.size, known: names, targets });
  }
  checkPasswordVariables(file, targets, env);
  // A copy: the cached list stays as read whatever the caller does with its own.
  return [...targets];
}
