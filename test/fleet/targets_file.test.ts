import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { COLLECTOR_NAMES } from '../../src/collectors/index.js';
import type { Env } from '../../src/config.js';
import { ConfigError, TargetsError } from '../../src/errors.js';
import { checkTargetSpec, targetWhere, type TargetSpec } from '../../src/fleet/spec.js';
import {
  loadTargetsFile,
  MAX_TARGETS,
  MAX_TARGETS_FILE_BYTES,
  parseTargetsFile,
} from '../../src/fleet/targets_file.js';

const known = { collectors: new Set(COLLECTOR_NAMES) };
const FILE = 'targets.yml';
const ENV_OK: Env = { ORDERS_PG_PASSWORD: 'pw-orders', PG_PRIMARY_PASSWORD: 'pw-primary' };

const GOOD = `
targets:
  - name: orders-primary
    host: orders.abc.eu-west-1.rds.amazonaws.com
    port: 5432
    database: orders
    username: exporter_monitor
    password_env: ORDERS_PG_PASSWORD
    ssl: verify-full
    ssl_root_cert: certs/global-bundle.pem
    labels: { team: checkout, shard: 08, version: 1.10, primary: true, quoted: "1.5" }
    collectors: { enable: [statements], disable: [lock] }
  - name: billing
    secret_id: arn:aws:secretsmanager:eu-west-1:123456789012:secret:billing-AbCdEf
    iam_auth: false
  - name: reports
    host: reports.internal
    port: "5433"
    username: exporter_monitor
    iam_auth: true
  - name: local
    host: 127.0.0.1
    ssl: false
    collectors: { disable: [wal] }
`;

const EXPECTED: TargetSpec[] = [
  {
    name: 'orders-primary',
    host: 'orders.abc.eu-west-1.rds.amazonaws.com',
    port: 5432,
    database: 'orders',
    username: 'exporter_monitor',
    credentials: { kind: 'env', variable: 'ORDERS_PG_PASSWORD' },
    ssl: 'verify-full',
    sslRootCert: 'certs/global-bundle.pem',
    // As written: YAML alone would give 8, 1.1 and true.
    labels: { team: 'checkout', shard: '08', version: '1.10', primary: 'true', quoted: '1.5' },
    collectors: { enable: ['statements'], disable: ['lock'] },
    source: 'file',
  },
  {
    name: 'billing',
    host: undefined,
    port: undefined,
    database: undefined,
    username: undefined,
    credentials: {
      kind: 'secret',
      secretId: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:billing-AbCdEf',
    },
    ssl: undefined,
    sslRootCert: undefined,
    labels: {},
    collectors: { enable: [], disable: [] },
    source: 'file',
  },
  {
    name: 'reports',
    host: 'reports.internal',
    port: 5433,
    database: undefined,
    username: 'exporter_monitor',
    credentials: { kind: 'iam' },
    ssl: undefined,
    sslRootCert: undefined,
    labels: {},
    collectors: { enable: [], disable: [] },
    source: 'file',
  },
  {
    name: 'local',
    host: '127.0.0.1',
    port: undefined,
    database: undefined,
    username: undefined,
    credentials: { kind: 'none' },
    ssl: 'disable',
    sslRootCert: undefined,
    labels: {},
    collectors: { enable: [], disable: ['wal'] },
    source: 'file',
  },
];

type Entry = Record<string, unknown>;
const BASE: Entry = {
  name: 'orders-primary',
  host: 'orders.example.com',
  password_env: 'ORDERS_PG_PASSWORD',
};

/** The YAML of a file with these entries. */
const fileOf = (...entries: unknown[]): string => stringify({ targets: entries });

/** The TargetsError thrown for `text`; fails the test when there is none. */
function errorOf(text: string, env: Env = ENV_OK): TargetsError {
  try {
    parseTargetsFile(FILE, text, known, env);
  } catch (error) {
    expect(error).toBeInstanceOf(TargetsError);
    return error as TargetsError;
  }
  throw new Error('expected a TargetsError');
}

const messageOf = (text: string, env?: Env) => errorOf(text, env).message;
const entryMessage = (changes: Entry) => messageOf(fileOf({ ...BASE, ...changes }));
const parsedEntry = (changes: Entry): TargetSpec => {
  const [spec] = parseTargetsFile(FILE, fileOf({ ...BASE, ...changes }), known, ENV_OK);
  return spec!;
};

const AT = `${FILE}: target "orders-primary": field`;

describe('parseTargetsFile: a good file', () => {
  it('reads every field into the exact TargetSpec', () => {
    expect(parseTargetsFile(FILE, GOOD, known, ENV_OK)).toStrictEqual(EXPECTED);
  });

  it('reads ssl words as parseSslMode does, and a quoted port as the number', () => {
    expect(parsedEntry({ ssl: true }).ssl).toBe('require');
    expect(parsedEntry({ ssl: 'VERIFY-CA' }).ssl).toBe('verify-ca');
    expect(parsedEntry({ port: '05432' }).port).toBe(5432);
  });

  it('takes iam_auth: false as no iam_auth, and none of the three as no password', () => {
    expect(parsedEntry({ iam_auth: false }).credentials).toEqual({
      kind: 'env',
      variable: 'ORDERS_PG_PASSWORD',
    });
    expect(parsedEntry({ password_env: undefined }).credentials).toEqual({ kind: 'none' });
  });

  it('allows IAM auth on loopback when TLS is asked for', () => {
    const spec = parsedEntry({
      host: '127.0.0.1',
      password_env: undefined,
      iam_auth: true,
      username: 'u',
      ssl: 'require',
    });
    expect(spec.credentials).toEqual({ kind: 'iam' });
    expect(spec.ssl).toBe('require');
  });

  it('allows ssl_root_cert with a host-less secret target (the mode is known only later)', () => {
    const spec = parsedEntry({
      host: undefined,
      password_env: undefined,
      secret_id: 'orders',
      ssl_root_cert: 'ca.pem',
    });
    expect(spec.sslRootCert).toBe('ca.pem');
  });

  it('returns frozen specs', () => {
    const [spec] = parseTargetsFile(FILE, GOOD, known, ENV_OK);
    expect(Object.isFrozen(spec)).toBe(true);
    expect(Object.isFrozen(spec!.labels)).toBe(true);
    expect(Object.isFrozen(spec!.collectors.enable)).toBe(true);
  });

  it('reads the shipped example', () => {
    const env = { PG_PRIMARY_PASSWORD: 'a', PG_SECONDARY_PASSWORD: 'b' };
    const targets = loadTargetsFile('targets/example.yml', known, env);
    expect(targets.map((t) => [t.name, t.host, t.port, t.credentials])).toEqual([
      ['local-primary', '127.0.0.1', 5432, { kind: 'env', variable: 'PG_PRIMARY_PASSWORD' }],
      ['local-secondary', '127.0.0.1', 5433, { kind: 'env', variable: 'PG_SECONDARY_PASSWORD' }],
    ]);
  });

  it('accepts the commented secret_id and iam_auth examples of the shipped example', () => {
    const text = fs
      .readFileSync('targets/example.yml', 'utf8')
      .replace(/^ {2}# ( {2}|- )/gm, (_match, rest: string) => `  ${rest}`);
    const targets = parseTargetsFile('example.yml', text, known, {
      PG_PRIMARY_PASSWORD: 'a',
      PG_SECONDARY_PASSWORD: 'b',
    });
    expect(targets.map((t) => t.credentials.kind)).toEqual(['env', 'env', 'secret', 'iam']);
  });
});

describe('parseTargetsFile: each rule names the file, the target and the field', () => {
  it.each<[string, Entry, string]>([
    ['no name', { name: undefined }, `${FILE}: target #1: field "name": is required`],
    [
      'a number as name',
      { name: 5 },
      `${FILE}: target #1: field "name": is required: a text, got number 5`,
    ],
    ['a blank name', { name: '   ' }, `${FILE}: target #1: field "name": must not be blank`],
    [
      'a long name',
      { name: 'n'.repeat(129) },
      `${FILE}: target #1: field "name": must be at most 128`,
    ],
    [
      'a control character',
      { name: 'a\u0007b' },
      `${FILE}: target #1: field "name": must not contain control`,
    ],
    [
      'a trailing space',
      { name: 'orders ' },
      `${FILE}: target #1: field "name": must not start or end`,
    ],
    ['no host', { host: undefined }, `${AT} "host": is required (unless secret_id is given`],
    ['a host with a space', { host: 'a b' }, `${AT} "host": must not contain spaces`],
    [
      'a port with letters',
      { port: '5432x' },
      `${AT} "port": must be a whole number from 1 to 65535, got string "5432x"`,
    ],
    ['port 0', { port: 0 }, `${AT} "port": must be a whole number from 1 to 65535, got number 0`],
    [
      'port 70000',
      { port: 70000 },
      `${AT} "port": must be a whole number from 1 to 65535, got number 70000`,
    ],
    [
      'a fractional port',
      { port: 5432.5 },
      `${AT} "port": must be a whole number from 1 to 65535, got number 5432.5`,
    ],
    ['a port in words', { port: 'five' }, `${AT} "port": must be a whole number`],
    ['a negative port', { port: '-1' }, `${AT} "port": must be a whole number`],
    [
      'an empty database',
      { database: '' },
      `${AT} "database": must be a non-empty text, got string ""`,
    ],
    [
      'a number as username',
      { username: 7 },
      `${AT} "username": must be a non-empty text, got number 7`,
    ],
    [
      'a NUL in the username',
      { username: 'a\u0000b' },
      `${AT} "username": must not contain control`,
    ],
    [
      'password_env and secret_id',
      { secret_id: 's' },
      `${AT} "secret_id": cannot be set together with password_env`,
    ],
    [
      'password_env and iam_auth',
      { iam_auth: true, username: 'u' },
      `${AT} "iam_auth": cannot be set together with password_env`,
    ],
    [
      'secret_id and iam_auth',
      { password_env: undefined, secret_id: 's', iam_auth: true },
      `${AT} "iam_auth": cannot be set together with secret_id`,
    ],
    [
      'a bad variable name',
      { password_env: '1ABC' },
      `${AT} "password_env": must be the name of an environment variable`,
    ],
    [
      'a dash in the variable name',
      { password_env: 'A-B' },
      `${AT} "password_env": must be the name of an environment variable`,
    ],
    [
      'a list as secret_id',
      { password_env: undefined, secret_id: ['x'] },
      `${AT} "secret_id": must be the ARN or name of a secret`,
    ],
    [
      'iam_auth as a word',
      { password_env: undefined, iam_auth: 'yes' },
      `${AT} "iam_auth": must be true or false, got string "yes"`,
    ],
    [
      'iam_auth without username',
      { password_env: undefined, iam_auth: true },
      `${AT} "username": is required with iam_auth`,
    ],
    [
      'iam_auth on loopback by default',
      { host: '127.0.0.1', password_env: undefined, iam_auth: true, username: 'u' },
      `${AT} "ssl": iam_auth needs TLS: set require, verify-ca or verify-full (it is disable, the default for host 127.0.0.1)`,
    ],
    [
      'iam_auth with ssl disable',
      { password_env: undefined, iam_auth: true, username: 'u', ssl: 'disable' },
      `${AT} "ssl": iam_auth needs TLS`,
    ],
    [
      'username with secret_id',
      { password_env: undefined, secret_id: 's', username: 'u' },
      `${AT} "username": cannot be set together with secret_id`,
    ],
    [
      'an unknown ssl mode',
      { ssl: 'maybe' },
      `${AT} "ssl": must be true/false or one of disable, require, verify-ca, verify-full; got "maybe"`,
    ],
    [
      'a list as ssl',
      { ssl: ['require'] },
      `${AT} "ssl": must be one of disable, require, verify-ca, verify-full, got a list`,
    ],
    [
      'ssl_root_cert with require',
      { ssl: 'require', ssl_root_cert: 'ca.pem' },
      `${AT} "ssl_root_cert": is only used to check certificates: set ssl to verify-ca or verify-full (it is require)`,
    ],
    [
      'ssl_root_cert on loopback by default',
      { host: 'localhost', ssl_root_cert: 'ca.pem' },
      `${AT} "ssl_root_cert": is only used to check certificates: set ssl to verify-ca or verify-full (it is disable, the default for host localhost)`,
    ],
    [
      'labels as a list',
      { labels: ['team'] },
      `${AT} "labels": must be a mapping of label names to values, got a list`,
    ],
    [
      'a reserved label name',
      { labels: { __name__: 'x' } },
      `${AT} "labels.__name__": is not a valid Prometheus label name`,
    ],
    [
      'a label name with a dash',
      { labels: { 'my-team': 'x' } },
      `${AT} "labels.my-team": is not a valid Prometheus label name`,
    ],
    [
      'the job label',
      { labels: { job: 'x' } },
      `${AT} "labels.job": is a grouping label the exporter sets (set by PUSHGATEWAY_JOB)`,
    ],
    [
      'the instance label',
      { labels: { instance: 'x' } },
      `${AT} "labels.instance": is a grouping label the exporter sets (the target's name)`,
    ],
    [
      'the fleet label',
      { labels: { fleet: 'x' } },
      `${AT} "labels.fleet": is a grouping label the exporter sets (set by FLEET_NAME)`,
    ],
    [
      '33 labels',
      { labels: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`l${i}`, 'v'])) },
      `${AT} "labels": has 33 labels, more than the 32 allowed`,
    ],
    [
      'a long label value',
      { labels: { team: 'v'.repeat(1025) } },
      `${AT} "labels.team": must be at most 1024 characters, got 1025`,
    ],
    [
      'an empty label value',
      { labels: { team: '' } },
      `${AT} "labels.team": must be a non-empty text, got string ""`,
    ],
    [
      'a null label value',
      { labels: { team: null } },
      `${AT} "labels.team": must be a non-empty text, got nothing`,
    ],
    [
      'a mapping as label value',
      { labels: { team: { a: 1 } } },
      `${AT} "labels.team": must be a non-empty text, got a mapping`,
    ],
    [
      'collectors as a list',
      { collectors: ['lock'] },
      `${AT} "collectors": must be a mapping with enable and disable lists, got a list`,
    ],
    [
      'a typo in collectors',
      { collectors: { enabel: ['lock'] } },
      `${AT} "collectors.enabel": unknown field (expected enable, disable)`,
    ],
    [
      'an unknown collector',
      { collectors: { enable: ['nope'] } },
      `${AT} "collectors.enable[0]": unknown collector "nope"; known: uptime, lock,`,
    ],
    [
      'a collector twice',
      { collectors: { disable: ['lock', 'lock'] } },
      `${AT} "collectors.disable[1]": names "lock" twice`,
    ],
    [
      'a collector on and off',
      { collectors: { enable: ['wal', 'lock'], disable: ['lock'] } },
      `${AT} "collectors.disable[0]": "lock" is also in collectors.enable`,
    ],
    [
      'enable as a word',
      { collectors: { enable: 'lock' } },
      `${AT} "collectors.enable": must be a list of collector names, got string "lock"`,
    ],
    [
      'an unknown field',
      { sslmode: 'require' },
      `${AT} "sslmode": unknown field (expected name, host, port, database, username, password_env, secret_id, iam_auth, rds_resource_id, ssl, ssl_root_cert, labels, collectors)`,
    ],
    ['a field of the payload form', { source: 'rds' }, `${AT} "source": unknown field`],
  ])('%s', (_what, changes, expected) => {
    expect(entryMessage(changes)).toContain(expected);
  });

  it('refuses a target that is not a mapping, by position', () => {
    expect(messageOf(fileOf(BASE, 'orders'))).toBe(
      `${FILE}: target #2: expected a mapping, got string "orders"`,
    );
  });

  it('wraps the ConfigError of parseSslMode, keeping it as the cause', () => {
    const error = errorOf(fileOf({ ...BASE, ssl: 'maybe' }));
    expect(error.cause).toBeInstanceOf(ConfigError);
  });

  it('shows a bounded part of a long value', () => {
    const message = entryMessage({ ssl: 'x'.repeat(100_000) });
    expect(message).toContain(`${AT} "ssl": must be true/false`);
    expect(message.length).toBeLessThan(300);
    expect(entryMessage({ ['k'.repeat(100_000)]: 1 }).length).toBeLessThan(400);
  });

  it('never shows the value of a credentials field or of an unknown field', () => {
    const secret = 'hunter2 s3cr3t!';
    for (const changes of [
      { password_env: secret },
      { password_env: undefined, secret_id: secret },
      { password: secret },
    ]) {
      const message = entryMessage(changes);
      expect(message).toContain(AT);
      expect(message).not.toContain('hunter2');
    }
  });
});

describe('parseTargetsFile: the file as a whole', () => {
  it.each<[string, string, string]>([
    ['an empty file', '', `${FILE}: expected a mapping with a "targets" list, got nothing`],
    [
      'a list at the top',
      '- name: a\n',
      `${FILE}: expected a mapping with a "targets" list, got a list`,
    ],
    [
      'another top field',
      `${fileOf(BASE)}queries: []\n`,
      `${FILE}: field "queries": unknown field (expected only "targets")`,
    ],
    [
      'targets as a mapping',
      'targets: { name: a }\n',
      `${FILE}: field "targets": must be a list of targets, got a mapping`,
    ],
    [
      'no targets',
      'targets: []\n',
      `${FILE}: field "targets": is empty: a fleet needs at least one target (with none, stale clean-up would delete every group`,
    ],
    [
      'a duplicate key',
      'targets:\n  - name: a\n    host: h\n    host: i\n',
      `${FILE}: not valid YAML: Map keys must be unique`,
    ],
    ['broken YAML', 'targets: [\n', `${FILE}: not valid YAML:`],
    ['two documents', `${fileOf(BASE)}---\n${fileOf(BASE)}`, `${FILE}: not valid YAML:`],
  ])('refuses %s', (_what, text, expected) => {
    expect(messageOf(text)).toContain(expected);
  });

  it('refuses a duplicate name, naming both positions', () => {
    const other = { name: 'other', host: 'h' };
    expect(messageOf(fileOf(BASE, other, { ...BASE, host: 'elsewhere' }))).toBe(
      `${FILE}: target "orders-primary" (#3): field "name": is also the name of target #1: ` +
        'each name is the instance label of its own group',
    );
  });

  it('refuses an alias bomb without expanding it', () => {
    const bomb = [
      'a: &a [x, x, x, x, x, x, x, x, x, x]',
      ...Array.from({ length: 8 }, (_, i) => {
        const prev = i === 0 ? 'a' : `b${i - 1}`;
        return `b${i}: &b${i} [*${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}]`;
      }),
      'targets: [*b7]',
    ].join('\n');
    expect(messageOf(bomb)).toContain(`${FILE}: not valid YAML:`);
  });

  it(`holds ${MAX_TARGETS} targets and refuses one more`, () => {
    const entries = (n: number) =>
      `targets:\n${Array.from({ length: n }, (_, i) => `  - {name: t${i}, host: h}\n`).join('')}`;
    expect(parseTargetsFile(FILE, entries(MAX_TARGETS), known, {})).toHaveLength(MAX_TARGETS);
    expect(messageOf(entries(MAX_TARGETS + 1))).toBe(
      `${FILE}: field "targets": has 5001 targets, more than the 5000 one file may hold`,
    );
  });

  it('refuses a text of 1 MB and one byte, and holds 1 MB', () => {
    const head = fileOf(BASE);
    const pad = (bytes: number) => head + '#'.repeat(bytes - Buffer.byteLength(head) - 1) + '\n';
    expect(parseTargetsFile(FILE, pad(MAX_TARGETS_FILE_BYTES), known, ENV_OK)).toHaveLength(1);
    expect(messageOf(pad(MAX_TARGETS_FILE_BYTES + 1))).toBe(
      `${FILE}: 1048577 bytes, more than the 1048576 a targets file may have`,
    );
  });
});

describe('parseTargetsFile: password_env in the environment', () => {
  it.each<[string, Env]>([
    ['unset', {}],
    ['empty', { ORDERS_PG_PASSWORD: '' }],
  ])('refuses a variable that is %s, naming it', (_what, env) => {
    expect(messageOf(fileOf(BASE), env)).toBe(
      `${AT} "password_env": environment variable ORDERS_PG_PASSWORD is unset or empty`,
    );
  });

  it("does not take an object's inherited property for a variable", () => {
    expect(messageOf(fileOf({ ...BASE, password_env: 'toString' }), {})).toContain(
      `${AT} "password_env": environment variable toString is unset or empty`,
    );
  });

  it('never shows a password', () => {
    const text = fileOf(BASE, { name: 'b', host: 'h', password_env: 'B_PASSWORD' });
    const message = messageOf(text, { ORDERS_PG_PASSWORD: 'pw-orders-secret' });
    expect(message).toContain('target "b"');
    expect(message).not.toContain('pw-orders-secret');
  });
});

describe('checkTargetSpec: the fan-out payload', () => {
  const WHERE = 'fan-out event: target "x"';
  const payloadError = (raw: unknown): string => {
    try {
      checkTargetSpec(raw, WHERE, known);
    } catch (error) {
      expect(error).toBeInstanceOf(TargetsError);
      return (error as Error).message;
    }
    throw new Error('expected a TargetsError');
  };
  const [orders] = EXPECTED;
  const json = (spec: TargetSpec): Record<string, unknown> =>
    JSON.parse(JSON.stringify(spec)) as Record<string, unknown>;

  it.each(EXPECTED.map((spec) => [spec.name, spec] as const))(
    'round-trips %s through JSON',
    (_name, spec) => {
      expect(checkTargetSpec(json(spec), WHERE, known)).toStrictEqual(spec);
    },
  );

  it('round-trips an RDS target', () => {
    const rds: TargetSpec = { ...orders!, source: 'rds' };
    expect(checkTargetSpec(json(rds), WHERE, known)).toStrictEqual(rds);
  });

  it.each<[string, (p: Record<string, unknown>) => unknown, string]>([
    [
      'an extra field',
      (p) => ({ ...p, extra: 1 }),
      `${WHERE}: field "extra": unknown field (expected name, host,`,
    ],
    [
      'a password beside the spec',
      (p) => ({ ...p, password: 'hunter2' }),
      `${WHERE}: field "password": unknown field`,
    ],
    [
      'a password in the credentials',
      (p) => ({ ...p, credentials: { kind: 'env', variable: 'V', password: 'hunter2' } }),
      `${WHERE}: field "credentials.password": unknown field (expected kind, variable for kind env)`,
    ],
    [
      'a password as a kind',
      (p) => ({ ...p, credentials: { kind: 'hunter2' } }),
      `${WHERE}: field "credentials.kind": must be env, secret, iam or none`,
    ],
    [
      'a secretId on env credentials',
      (p) => ({ ...p, credentials: { kind: 'env', variable: 'V', secretId: 's' } }),
      `${WHERE}: field "credentials.secretId": unknown field`,
    ],
    [
      'no credentials',
      (p) => ({ ...p, credentials: undefined }),
      `${WHERE}: field "credentials": must be a mapping with a "kind", got nothing`,
    ],
    [
      'a port as text',
      (p) => ({ ...p, port: '5432' }),
      `${WHERE}: field "port": must be a whole number from 1 to 65535, got string "5432"`,
    ],
    [
      'ssl as a word',
      (p) => ({ ...p, ssl: 'true' }),
      `${WHERE}: field "ssl": must be one of disable, require, verify-ca, verify-full, got string "true"`,
    ],
    [
      'a null host',
      (p) => ({ ...p, host: null }),
      `${WHERE}: field "host": must be a non-empty text, got nothing`,
    ],
    [
      'a label as a number',
      (p) => ({ ...p, labels: { team: 1 } }),
      `${WHERE}: field "labels.team": must be a non-empty text, got number 1`,
    ],
    [
      'no collectors.disable',
      (p) => ({ ...p, collectors: { enable: [] } }),
      `${WHERE}: field "collectors.disable": must be a list of collector names, got nothing`,
    ],
    [
      'no source',
      (p) => ({ ...p, source: undefined }),
      `${WHERE}: field "source": must be file or rds, got nothing`,
    ],
    [
      'the file spelling',
      (p) => ({ ...p, password_env: 'X' }),
      `${WHERE}: field "password_env": unknown field`,
    ],
    [
      'a bad variable',
      (p) => ({ ...p, credentials: { kind: 'env', variable: 'hunter2 pw' } }),
      `${WHERE}: field "credentials.variable": must be the name of an environment variable`,
    ],
    [
      'iam without TLS',
      (p) => ({ ...p, credentials: { kind: 'iam' }, ssl: 'disable' }),
      `${WHERE}: field "ssl": credentials.kind "iam" needs TLS`,
    ],
    ['a list', () => [], `${WHERE}: expected a mapping, got a list`],
  ])('refuses %s', (_what, tamper, expected) => {
    const message = payloadError(tamper(json(orders!)));
    expect(message).toContain(expected);
    expect(message).not.toContain('hunter2');
  });

  it('names a payload target by its name, or as unnamed', () => {
    expect(targetWhere('fan-out event', json(orders!))).toBe(
      'fan-out event: target "orders-primary"',
    );
    expect(targetWhere('fan-out event', { name: 3 })).toBe('fan-out event: unnamed target');
  });
});

describe('loadTargetsFile', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'targets-file-'));
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const write = (name: string, text: string): string => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text);
    return file;
  };
  const loadError = (file: string, env: Env = ENV_OK): string => {
    try {
      loadTargetsFile(file, known, env);
    } catch (error) {
      expect(error).toBeInstanceOf(TargetsError);
      return (error as Error).message;
    }
    throw new Error('expected a TargetsError');
  };

  it('reads a file relative to LAMBDA_TASK_ROOT', () => {
    write('relative.yml', GOOD);
    const targets = loadTargetsFile('relative.yml', known, { ...ENV_OK, LAMBDA_TASK_ROOT: dir });
    expect(targets).toStrictEqual(EXPECTED);
  });

  it('refuses a missing file and a directory, saying where it looked', () => {
    expect(loadError(path.join(dir, 'none.yml'))).toBe(
      `${path.join(dir, 'none.yml')}: no such file (looked at ${path.join(dir, 'none.yml')})`,
    );
    expect(loadError('missing.yml', { LAMBDA_TASK_ROOT: dir })).toBe(
      `missing.yml: no such file (looked at ${path.join(dir, 'missing.yml')})`,
    );
    expect(loadError(dir)).toBe(`${dir}: is a directory, not a file (${dir})`);
  });

  it('refuses a file of 1 MB and one byte before reading it', () => {
    const file = write('big.yml', '#'.repeat(MAX_TARGETS_FILE_BYTES + 1));
    expect(loadError(file)).toBe(
      `${file}: 1048577 bytes, more than the 1048576 a targets file may have`,
    );
  });

  it('names the file in the errors of its content', () => {
    const file = write('bad.yml', fileOf({ ...BASE, port: 0 }));
    expect(loadError(file)).toContain(`${file}: target "orders-primary": field "port"`);
  });

  it('reads the file again only when its mtime or size changes', () => {
    const file = write('cached.yml', fileOf({ ...BASE, host: 'aaaa' }));
    // A whole second: utimes keeps it exactly, as it may not keep the file's own fraction.
    const mtime = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
    fs.utimesSync(file, mtime, mtime);
    expect(loadTargetsFile(file, known, ENV_OK)[0]!.host).toBe('aaaa');
    // Same size, same mtime: the cached targets.
    fs.writeFileSync(file, fileOf({ ...BASE, host: 'bbbb' }));
    fs.utimesSync(file, mtime, mtime);
    expect(loadTargetsFile(file, known, ENV_OK)[0]!.host).toBe('aaaa');
    // A new mtime: read again.
    fs.utimesSync(file, mtime, new Date(mtime.getTime() + 5_000));
    expect(loadTargetsFile(file, known, ENV_OK)[0]!.host).toBe('bbbb');
    // Same mtime, another size: read again.
    const later = new Date(mtime.getTime() + 5_000);
    fs.writeFileSync(file, fileOf({ ...BASE, host: 'cccccc' }));
    fs.utimesSync(file, later, later);
    expect(loadTargetsFile(file, known, ENV_OK)[0]!.host).toBe('cccccc');
  });

  it('checks the known collector names again when they change', () => {
    const file = write('known.yml', fileOf({ ...BASE, collectors: { enable: ['custom_x'] } }));
    const withCustom = { collectors: new Set([...COLLECTOR_NAMES, 'custom_x']) };
    expect(loadTargetsFile(file, withCustom, ENV_OK)[0]!.collectors.enable).toEqual(['custom_x']);
    expect(loadError(file)).toContain('field "collectors.enable[0]": unknown collector "custom_x"');
  });

  it('checks the environment on every call, cached or not', () => {
    const file = write('env.yml', fileOf(BASE));
    expect(loadTargetsFile(file, known, ENV_OK)).toHaveLength(1);
    expect(loadError(file, {})).toContain(
      'field "password_env": environment variable ORDERS_PG_PASSWORD is unset or empty',
    );
  });

  it('gives each caller its own list', () => {
    const file = write('copy.yml', GOOD);
    loadTargetsFile(file, known, ENV_OK).pop();
    expect(loadTargetsFile(file, known, ENV_OK)).toHaveLength(EXPECTED.length);
  });
});

describe('parseTargetsFile and checkTargetSpec: hostile input', () => {
  const FIELDS = [
    'name',
    'host',
    'port',
    'database',
    'username',
    'password_env',
    'secret_id',
    'iam_auth',
    'ssl',
    'ssl_root_cert',
    'labels',
    'collectors',
    'credentials',
    'source',
    'enable',
    'disable',
    'kind',
    'variable',
    '__proto__',
    'toString',
  ];
  const scalar = fc.oneof(
    fc.constantFrom(...FIELDS, ...COLLECTOR_NAMES, 'require', 'verify-full', '127.0.0.1', 'X'),
    fc.string({ maxLength: 20 }),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
  );
  const { value } = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      scalar,
      fc.array(tie('value'), { maxLength: 4 }),
      fc.dictionary(fc.constantFrom(...FIELDS), tie('value'), { maxKeys: 6 }),
    ),
  }));
  const entry = fc.dictionary(fc.constantFrom(...FIELDS), value, { maxKeys: 8 });
  const env = { ORDERS_PG_PASSWORD: 'x', X: 'y' };

  /** Runs `f`; anything thrown but a TargetsError fails the property. */
  const onlyTargetsErrors = (f: () => unknown): void => {
    try {
      f();
    } catch (error) {
      if (!(error instanceof TargetsError)) throw error;
      // Every message says where: the file or the payload.
      expect(error.message.startsWith(FILE) || error.message.startsWith('event')).toBe(true);
    }
  };

  it('throws nothing but a TargetsError for structured junk', () => {
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 4 }), (entries) => {
        onlyTargetsErrors(() =>
          parseTargetsFile(FILE, stringify({ targets: entries }), known, env),
        );
        for (const raw of entries) onlyTargetsErrors(() => checkTargetSpec(raw, 'event', known));
      }),
      { numRuns: 500 },
    );
  });

  it('throws nothing but a TargetsError for mangled text', () => {
    const pieces = fc.constantFrom(
      GOOD,
      'targets:\n',
      '  - ',
      '    ',
      ': ',
      '\n',
      '{',
      '}',
      '[',
      ']',
      '&a ',
      '*a',
      '<<: ',
      '!!binary ',
      '!!str ',
      '? ',
      '"',
      "'",
      '#',
      '---\n',
      '|\n',
      '\t',
      '%YAML 1.1\n',
    );
    const text = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.array(fc.oneof(pieces, scalar.map(String)), { maxLength: 30 }).map((p) => p.join('')),
      fc
        .tuple(fc.nat(GOOD.length), fc.nat(40), fc.string({ maxLength: 10 }))
        .map(([at, cut, insert]) => GOOD.slice(0, at) + insert + GOOD.slice(at + cut)),
    );
    fc.assert(
      fc.property(text, (t) => {
        onlyTargetsErrors(() => parseTargetsFile(FILE, t, known, env));
      }),
      { numRuns: 1000 },
    );
  });
});

describe('rds_resource_id', () => {
  const known = { collectors: new Set(['lock']) };
  const file = (extra: string) =>
    `targets:\n  - name: a\n    host: db.example.com\n    username: u\n${extra}`;
  it('is taken with iam_auth, for the deployment to scope rds-db:connect; not in the spec', () => {
    const [spec] = parseTargetsFile(
      't.yml',
      file('    iam_auth: true\n    rds_resource_id: db-ABCDEFGHIJKL0123456789\n'),
      known,
      { AWS_REGION: 'eu-west-1' },
    );
    expect(spec?.credentials).toEqual({ kind: 'iam' });
    expect(JSON.stringify(spec)).not.toContain('db-ABCDEF');
  });
  it('is refused without iam_auth, or malformed, naming the field', () => {
    expect(() =>
      parseTargetsFile('t.yml', file('    rds_resource_id: db-ABC\n'), known, {}),
    ).toThrow(/t\.yml: target "a": field "rds_resource_id": is only used with iam_auth/);
    expect(() =>
      parseTargetsFile(
        't.yml',
        file('    iam_auth: true\n    rds_resource_id: "arn:aws:rds:x"\n'),
        known,
        {},
      ),
    ).toThrow(/field "rds_resource_id": must be a resource id/);
  });
});
