/**
 * A target of a fleet as its sources give it (the targets file, RDS
 * discovery) and as the fan-out payload carries it: plain data, no secret
 * value in it (a password is named by the environment variable holding it).
 * `checkTargetSpec` is the one checker of that shape, for the file and for
 * an event coming in to the per-target function alike.
 */
import { defaultSslMode, ENV, FLEET_LABEL, type Env, type SslMode } from '../config.js';
import { TargetsError } from '../errors.js';

/** Where a target's password comes from. Never the password itself. */
export type CredentialSource =
  /** The password is in this environment variable of the function. */
  | { readonly kind: 'env'; readonly variable: string }
  /** An RDS-style JSON secret in AWS Secrets Manager (username, password, …). */
  | { readonly kind: 'secret'; readonly secretId: string }
  /** An RDS IAM auth token, made for `username` in the deployment's region. */
  | { readonly kind: 'iam' }
  /** No password (trust or peer auth, a local test server). */
  | { readonly kind: 'none' };

export interface TargetSpec {
  /** The `instance` grouping label; unique in the fleet. */
  readonly name: string;
  /** Undefined only when the secret gives it. */
  readonly host: string | undefined;
  readonly port: number | undefined;
  readonly database: string | undefined;
  readonly username: string | undefined;
  readonly credentials: CredentialSource;
  readonly ssl: SslMode | undefined;
  readonly sslRootCert: string | undefined;
  /** Extra grouping labels of this target, besides the deployment's. */
  readonly labels: Readonly<Record<string, string>>;
  /** Collector switches of this target, on top of COLLECTORS_ENABLE/DISABLE. */
  readonly collectors: { readonly enable: readonly string[]; readonly disable: readonly string[] };
  /** Where it was found: shown in logs and the summary. */
  readonly source: 'file' | 'rds';
}

/**
 * Names a target may refer to, given by the caller: spec.ts stays a leaf
 * (it does not import the collectors, which import config.ts and more).
 */
export interface KnownNames {
  /** Collector names a target may switch on or off (COLLECTOR_NAMES, custom ones too). */
  readonly collectors: ReadonlySet<string>;
}

/**
 * How a form of a target spells the fields it names differently, so that a
 * message uses the words of what was read: `password_env` in the targets
 * file, `credentials.variable` in a fan-out payload.
 */
export interface Spelling {
  readonly variable: string;
  readonly secretId: string;
  /** The field that asks for IAM auth. */
  readonly iam: string;
  readonly sslRootCert: string;
}

/** The fan-out payload's words: the TargetSpec's own field names. */
export const PAYLOAD_SPELLING: Spelling = {
  variable: 'credentials.variable',
  secretId: 'credentials.secretId',
  iam: 'credentials.kind "iam"',
  sslRootCert: 'sslRootCert',
};

/** Longest target name: it is the `instance` label, in every series and the group's URL. */
export const MAX_TARGET_NAME_LENGTH = 128;
/** Most extra grouping labels of one target: each is part of the group's URL. */
export const MAX_TARGET_LABELS = 32;
export const MAX_LABEL_VALUE_LENGTH = 1024;
const MAX_LABEL_NAME_LENGTH = 128;
/** A DNS name has at most 253 characters, a Unix socket path 107. */
const MAX_HOST_LENGTH = 255;
/** Secrets Manager's own limit for a SecretId (ARN or name). */
const MAX_SECRET_ID_LENGTH = 2048;
const MAX_VARIABLE_LENGTH = 256;
/** database, username, sslRootCert: bounded so that no field costs more than it is worth. */
const MAX_TEXT_LENGTH = 4096;

const SPEC_FIELDS = [
  'name',
  'host',
  'port',
  'database',
  'username',
  'credentials',
  'ssl',
  'sslRootCert',
  'labels',
  'collectors',
  'source',
] as const;
/** The fields of each kind of credentials, `kind` first. */
const CREDENTIAL_FIELDS: Readonly<Record<CredentialSource['kind'], readonly string[]>> = {
  env: ['kind', 'variable'],
  secret: ['kind', 'secretId'],
  iam: ['kind'],
  none: ['kind'],
};
const SSL_MODES: readonly SslMode[] = ['disable', 'require', 'verify-ca', 'verify-full'];
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const CONTROL = /\p{Cc}/u;
/** Grouping labels the fleet sets itself, and by what: a target may not set them. */
const TAKEN_LABELS: Readonly<Record<string, string>> = {
  job: `set by ${ENV.pushgatewayJob}`,
  instance: "the target's name",
  [FLEET_LABEL]: `set by ${ENV.fleetName}`,
};

type Fields = Record<string, unknown>;
type Fail = (field: string, problem: string) => never;

/** A YAML mapping or JSON object (not a list, not null). */
export const isMapping = (value: unknown): value is Fields =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Text as a message quotes it: JSON-escaped (no raw control characters), at most 64 characters. */
export function quote(text: string): string {
  return JSON.stringify(text.length > 64 ? `${text.slice(0, 64)}…` : text);
}

/** What a value is, for a message: its kind, and a scalar's (bounded) text. */
export function shown(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `string ${quote(value)}`;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return `${typeof value} ${String(value)}`;
  }
  return typeof value;
}

/** The one form of a message about a field: `<where>: field "<field>": <problem>`. */
export function fieldError(
  where: string,
  field: string,
  problem: string,
  options?: ErrorOptions,
): TargetsError {
  return new TargetsError(`${where}: field ${quote(field)}: ${problem}`, options);
}

/** Why `value` cannot name a target; undefined when it can. */
function nameProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') return `is required: a text, got ${shown(value)}`;
  if (value.trim() === '') return 'must not be blank';
  if (value.length > MAX_TARGET_NAME_LENGTH) {
    return `must be at most ${MAX_TARGET_NAME_LENGTH} characters, got ${value.length}`;
  }
  if (CONTROL.test(value)) return 'must not contain control characters';
  // "a" and "a " would be two groups that look like one.
  if (value !== value.trim()) return 'must not start or end with a space';
  return undefined;
}

/**
 * Where a target is, for messages: `<origin>: target "<name>"` when it has a
 * usable name, else `<origin>: target #<position>` (1-based), else
 * `<origin>: unnamed target`.
 */
export function targetWhere(origin: string, raw: unknown, position?: number): string {
  const name = isMapping(raw) ? raw.name : undefined;
  if (nameProblem(name) === undefined) return `${origin}: target ${JSON.stringify(name)}`;
  return position === undefined ? `${origin}: unnamed target` : `${origin}: target #${position}`;
}

/**
 * The password in the variable a target names: only an own, non-empty string
 * (a plain object's `toString` is no variable). Undefined otherwise.
 */
export function passwordFromEnv(env: Env, variable: string): string | undefined {
  const value: unknown = Object.hasOwn(env, variable) ? env[variable] : undefined;
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Undefined when absent; else a non-blank text without control characters, at most `max` long. */
function optionalText(field: string, value: unknown, max: number, fail: Fail): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.trim() === '') {
    return fail(field, `must be a non-empty text, got ${shown(value)}`);
  }
  if (value.length > max)
    return fail(field, `must be at most ${max} characters, got ${value.length}`);
  if (CONTROL.test(value)) return fail(field, 'must not contain control characters');
  return value;
}

function portOf(value: unknown, fail: Fail): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65_535) {
    return fail('port', `must be a whole number from 1 to 65535, got ${shown(value)}`);
  }
  return value;
}

/**
 * The payload's `credentials`. No value under it is ever shown: a password
 * pasted into `password_env` or `secret_id` by mistake must not reach a log.
 */
function credentialsOf(value: unknown, spelling: Spelling, fail: Fail): CredentialSource {
  if (!isMapping(value)) {
    return fail('credentials', `must be a mapping with a "kind", got ${shown(value)}`);
  }
  const kind = value.kind;
  if (typeof kind !== 'string' || !Object.hasOwn(CREDENTIAL_FIELDS, kind)) {
    return fail('credentials.kind', 'must be env, secret, iam or none (the value is not shown)');
  }
  const expected = CREDENTIAL_FIELDS[kind as CredentialSource['kind']];
  for (const key of Object.keys(value)) {
    if (!expected.includes(key)) {
      fail(
        `credentials.${key}`,
        `unknown field (expected ${expected.join(', ')} for kind ${kind})`,
      );
    }
  }
  switch (kind as CredentialSource['kind']) {
    case 'env': {
      const variable = value.variable;
      if (
        typeof variable !== 'string' ||
        variable.length > MAX_VARIABLE_LENGTH ||
        !VARIABLE_NAME.test(variable)
      ) {
        return fail(
          spelling.variable,
          'must be the name of an environment variable: letters, digits and _, not starting ' +
            'with a digit (the value is not shown: it may be a password)',
        );
      }
      return { kind: 'env', variable };
    }
    case 'secret': {
      const secretId = value.secretId;
      if (
        typeof secretId !== 'string' ||
        secretId === '' ||
        secretId.length > MAX_SECRET_ID_LENGTH ||
        /[\s\p{Cc}]/u.test(secretId)
      ) {
        return fail(
          spelling.secretId,
          `must be the ARN or name of a secret: no spaces, at most ${MAX_SECRET_ID_LENGTH} ` +
            'characters (the value is not shown: it may be a password)',
        );
      }
      return { kind: 'secret', secretId };
    }
    case 'iam':
      return { kind: 'iam' };
    case 'none':
      return { kind: 'none' };
  }
}

function labelsOf(value: unknown, fail: Fail): Record<string, string> {
  if (!isMapping(value)) {
    return fail('labels', `must be a mapping of label names to values, got ${shown(value)}`);
  }
  const names = Object.keys(value);
  if (names.length > MAX_TARGET_LABELS) {
    return fail('labels', `has ${names.length} labels, more than the ${MAX_TARGET_LABELS} allowed`);
  }
  const labels: Record<string, string> = {};
  for (const name of names) {
    const field = `labels.${name}`;
    if (name.length > MAX_LABEL_NAME_LENGTH || !LABEL_NAME.test(name) || name.startsWith('__')) {
      fail(
        field,
        'is not a valid Prometheus label name (letters, digits and _, not starting with a ' +
          'digit or "__")',
      );
    }
    if (Object.hasOwn(TAKEN_LABELS, name)) {
      fail(field, `is a grouping label the exporter sets (${TAKEN_LABELS[name] ?? ''})`);
    }
    const text = value[name];
    // An empty label value is no label at all to Prometheus.
    if (typeof text !== 'string' || text === '') {
      fail(field, `must be a non-empty text, got ${shown(text)}`);
    }
    if (text.length > MAX_LABEL_VALUE_LENGTH) {
      fail(field, `must be at most ${MAX_LABEL_VALUE_LENGTH} characters, got ${text.length}`);
    }
    if (CONTROL.test(text)) fail(field, 'must not contain control characters');
    labels[name] = text;
  }
  return labels;
}

function collectorsOf(value: unknown, known: KnownNames, fail: Fail): TargetSpec['collectors'] {
  if (!isMapping(value)) {
    return fail(
      'collectors',
      `must be a mapping with enable and disable lists, got ${shown(value)}`,
    );
  }
  for (const key of Object.keys(value)) {
    if (key !== 'enable' && key !== 'disable') {
      fail(`collectors.${key}`, 'unknown field (expected enable, disable)');
    }
  }
  const list = (switch_: 'enable' | 'disable'): readonly string[] => {
    const field = `collectors.${switch_}`;
    const items: unknown = value[switch_];
    if (!Array.isArray(items)) {
      return fail(field, `must be a list of collector names, got ${shown(items)}`);
    }
    const names = new Set<string>();
    items.forEach((item: unknown, i) => {
      if (typeof item !== 'string' || !known.collectors.has(item)) {
        fail(
          `${field}[${i}]`,
          `unknown collector ${typeof item === 'string' ? quote(item) : shown(item)}; ` +
            `known: ${[...known.collectors].join(', ')}`,
        );
      }
      if (names.has(item)) fail(`${field}[${i}]`, `names ${quote(item)} twice`);
      names.add(item);
    });
    return Object.freeze([...names]);
  };
  const enable = list('enable');
  const disable = list('disable');
  const both = disable.findIndex((name) => enable.includes(name));
  if (both >= 0) {
    fail(
      `collectors.disable[${both}]`,
      `${quote(disable[both] ?? '')} is also in collectors.enable`,
    );
  }
  return Object.freeze({ enable, disable });
}

/**
 * The one checker of a target: every rule a TargetSpec obeys, for an entry
 * of the targets file (read into this form by readTargetEntry, with the
 * file's `spelling`) and for the fan-out payload (the TargetSpec as JSON)
 * alike. Strict: an unknown field, a wrong type or a missing required field
 * is a TargetsError naming `where` (file or payload, and the target) and the
 * field. The result is frozen.
 */
export function checkTargetSpec(
  raw: unknown,
  where: string,
  known: KnownNames,
  spelling: Spelling = PAYLOAD_SPELLING,
): TargetSpec {
  const fail: Fail = (field, problem) => {
    throw fieldError(where, field, problem);
  };
  if (!isMapping(raw)) throw new TargetsError(`${where}: expected a mapping, got ${shown(raw)}`);
  for (const key of Object.keys(raw)) {
    if (!(SPEC_FIELDS as readonly string[]).includes(key)) {
      fail(key, `unknown field (expected ${SPEC_FIELDS.join(', ')})`);
    }
  }
  const problem = nameProblem(raw.name);
  if (problem !== undefined) fail('name', problem);
  const name = raw.name as string;
  const source = raw.source;
  if (source !== 'file' && source !== 'rds') {
    return fail('source', `must be file or rds, got ${shown(source)}`);
  }
  const credentials = credentialsOf(raw.credentials, spelling, fail);

  const host = optionalText('host', raw.host, MAX_HOST_LENGTH, fail);
  if (host !== undefined && /\s/.test(host)) fail('host', 'must not contain spaces');
  if (host === undefined && credentials.kind !== 'secret') {
    fail('host', `is required (unless ${spelling.secretId} is given: the secret then gives it)`);
  }
  const port = portOf(raw.port, fail);
  const database = optionalText('database', raw.database, MAX_TEXT_LENGTH, fail);
  const username = optionalText('username', raw.username, MAX_TEXT_LENGTH, fail);
  if (username !== undefined && credentials.kind === 'secret') {
    // resolveTarget takes the secret's username over this one: refused, not ignored.
    fail('username', `cannot be set together with ${spelling.secretId}: the secret gives the user`);
  }

  const rawSsl = raw.ssl;
  if (rawSsl !== undefined && !(SSL_MODES as readonly unknown[]).includes(rawSsl)) {
    fail('ssl', `must be one of ${SSL_MODES.join(', ')}, got ${shown(rawSsl)}`);
  }
  const ssl = rawSsl as SslMode | undefined;
  // Unknown while the host is to come from the secret: then only an explicit mode is checked.
  const effective = ssl ?? (host === undefined ? undefined : defaultSslMode(host));
  const byDefault = ssl === undefined ? `, the default for host ${host ?? ''}` : '';
  if (credentials.kind === 'iam') {
    if (username === undefined) {
      fail('username', `is required with ${spelling.iam}: the database user the token is for`);
    }
    if (effective === 'disable') {
      fail(
        'ssl',
        `${spelling.iam} needs TLS: set require, verify-ca or verify-full (it is disable${byDefault})`,
      );
    }
  }
  const sslRootCert = optionalText(spelling.sslRootCert, raw.sslRootCert, MAX_TEXT_LENGTH, fail);
  if (
    sslRootCert !== undefined &&
    effective !== undefined &&
    effective !== 'verify-ca' &&
    effective !== 'verify-full'
  ) {
    fail(
      spelling.sslRootCert,
      `is only used to check certificates: set ssl to verify-ca or verify-full (it is ${effective}${byDefault})`,
    );
  }

  return Object.freeze({
    name,
    host,
    port,
    database,
    username,
    credentials: Object.freeze(credentials),
    ssl,
    sslRootCert,
    labels: Object.freeze(labelsOf(raw.labels, fail)),
    collectors: collectorsOf(raw.collectors, known, fail),
    source,
  });
}
