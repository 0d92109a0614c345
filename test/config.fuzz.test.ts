/**
 * Property-based tests of loadConfig (fast-check). The variable list comes from
 * ENV at run time, and the ranges of the numeric variables are read from
 * loadConfig's own error messages, so that variables added later are fuzzed too.
 */
import { inspect } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { COLLECTOR_NAMES } from '../src/collectors/index.js';
import { ENV, loadConfig, type Config, type Env } from '../src/config.js';
import { ConfigError } from '../src/errors.js';

const NUM_RUNS = 500;
const VARIABLES: readonly string[] = Object.values(ENV);
const VALID_URL = 'http://pushgateway:9091';

type Outcome = { ok: true; config: Config } | { ok: false; error: unknown };

function attempt(env: Env): Outcome {
  try {
    return { ok: true, config: loadConfig(env) };
  } catch (error) {
    return { ok: false, error };
  }
}

/** A JSON-able view of a config: URLs as href, undefined kept visible. */
function project(config: Config): unknown {
  return JSON.parse(
    JSON.stringify(config, (_key, value: unknown) => {
      if (value instanceof URL) return value.href;
      if (value === undefined) return '<undefined>';
      return value;
    }),
  );
}

/** A comparable view of an outcome. */
function summary(outcome: Outcome): unknown {
  if (outcome.ok) return { ok: true, config: project(outcome.config) };
  const error = outcome.error;
  return {
    ok: false,
    type: error instanceof Error ? error.constructor.name : typeof error,
    message: error instanceof Error ? error.message : String(error),
    variable: error instanceof ConfigError ? error.variable : undefined,
  };
}

function loads(env: Env): boolean {
  return attempt(env).ok;
}

// ---------------------------------------------------------------------------
// The numeric variables and their ranges, as loadConfig reports them.

interface NumericVariable {
  readonly name: string;
  readonly min: number;
  readonly max: number;
}

function discoverNumeric(): NumericVariable[] {
  const found: NumericVariable[] = [];
  for (const name of VARIABLES) {
    if (name === ENV.pushgatewayUrl) continue;
    const outcome = attempt({ [ENV.pushgatewayUrl]: VALID_URL, [name]: 'not-a-number' });
    if (outcome.ok || !(outcome.error instanceof ConfigError)) continue;
    if (outcome.error.variable !== name) continue;
    const match = /whole number from (\d+) to (\d+)/.exec(outcome.error.message);
    if (match === null) continue;
    found.push({ name, min: Number(match[1]!), max: Number(match[2]!) });
  }
  return found;
}

const NUMERIC = discoverNumeric();
const NUMERIC_BY_NAME = new Map(NUMERIC.map((n) => [n.name, n]));

/** Where the known numeric variables land in the config (others: anywhere). */
const NUMERIC_GETTERS: Readonly<Record<string, (config: Config) => number | undefined>> = {
  POSTGRESQL_PORT: (c) => c.postgres.port,
  POSTGRESQL_CONNECT_TIMEOUT_MS: (c) => c.postgres.connectTimeoutMs,
  POSTGRESQL_STATEMENT_TIMEOUT_MS: (c) => c.postgres.statementTimeoutMs,
  PUSHGATEWAY_TIMEOUT_MS: (c) => c.pushgateway.timeoutMs,
  STATEMENTS_LIMIT: (c) => c.collectors.statementsLimit,
};

function numericGetter(name: string): ((config: Config) => number | undefined) | undefined {
  return Object.hasOwn(NUMERIC_GETTERS, name) ? NUMERIC_GETTERS[name] : undefined;
}

function numericLeaves(value: unknown): number[] {
  if (typeof value === 'number') return [value];
  if (value !== null && typeof value === 'object')
    return Object.values(value).flatMap(numericLeaves);
  return [];
}

// ---------------------------------------------------------------------------
// Generators.

const whitespace = fc.string({
  unit: fc.constantFrom(' ', '\t', '\n', '\r', '\v', '\f', '\u00a0', '\u2003', '\u2028', '\ufeff'),
  maxLength: 3,
});

function padded(arb: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc
    .tuple(whitespace, arb, whitespace)
    .map(([before, value, after]) => before + value + after);
}

function integerString(min: number, max: number): fc.Arbitrary<string> {
  return fc.integer({ min, max }).map(String);
}

const word = fc.stringMatching(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,24}$/);
const labelName = fc
  .stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,16}$/)
  .filter((n) => !n.startsWith('__') && n !== 'job' && n !== 'instance');
const labelValue = fc.string({ maxLength: 20 }).filter((v) => !v.includes(','));
const host = fc.oneof(
  fc.constantFrom('localhost', '127.0.0.1', '::1', '/var/run/postgresql', 'db'),
  fc.domain(),
  fc.ipV4(),
);
const urlHost = fc.oneof(
  fc.constantFrom('localhost', 'pushgateway', '[::1]', '127.0.0.1'),
  fc.domain(),
  fc.ipV4(),
);
const validUrl = fc.oneof(
  fc
    .tuple(
      fc.mixedCase(fc.constantFrom('http', 'https')),
      urlHost,
      fc.option(fc.integer({ min: 1, max: 65_535 }), { nil: undefined }),
      fc.array(word, { maxLength: 3 }),
      fc.boolean(),
    )
    .map(
      ([scheme, h, port, segments, slash]) =>
        `${scheme}://${h}${port === undefined ? '' : `:${port}`}` +
        (segments.length === 0 ? '' : `/${segments.join('/')}`) +
        (slash ? '/' : ''),
    ),
  fc.webUrl({ validSchemes: ['http', 'https'] }),
);
const sslWord = fc.mixedCase(
  fc.constantFrom(
    'true',
    'false',
    '1',
    '0',
    'yes',
    'no',
    't',
    'f',
    'y',
    'n',
    'on',
    'off',
    'disable',
    'require',
    'verify-ca',
    'verify-full',
  ),
);
const labels = fc.oneof(
  fc.constant('none'),
  fc
    .uniqueArray(fc.tuple(labelName, labelValue), { selector: ([n]) => n, maxLength: 4 })
    .map((pairs) => pairs.map(([n, v]) => `${n}=${v}`).join(',')),
);
const collectors = fc
  .subarray([...COLLECTOR_NAMES], { maxLength: 4 })
  .chain((names) => fc.constantFrom(names.join(','), names.join(' , ')));
const refreshSeconds = fc
  .uniqueArray(fc.tuple(fc.constantFrom(...COLLECTOR_NAMES), fc.integer({ min: 0, max: 86_400 })), {
    selector: ([name]) => name,
    maxLength: 3,
  })
  .map((pairs) => pairs.map(([name, seconds]) => `${name}=${seconds}`).join(','));

interface Hint {
  /** Plausible valid values. */
  readonly valid: fc.Arbitrary<string>;
  /** Relative chance of being set in a mostly-valid environment (left out: 8). */
  readonly presence: number;
}

/**
 * Valid values by variable name (numeric variables come from their ranges). Keyed
 * by name, not ENV key: a name renamed or added in ENV falls back to a guess.
 * Variables that constrain others are set rarely, so that valid configs are common.
 */
const HINTS: Readonly<Record<string, Hint>> = {
  POSTGRESQL_HOST: { valid: padded(host), presence: 8 },
  POSTGRESQL_DATABASE: { valid: padded(word), presence: 8 },
  POSTGRESQL_USERNAME: { valid: padded(word), presence: 4 },
  POSTGRESQL_PASSWORD: { valid: fc.string({ minLength: 1, maxLength: 30 }), presence: 4 },
  POSTGRESQL_SSL: { valid: padded(sslWord), presence: 8 },
  POSTGRESQL_SSL_ROOT_CERT: {
    valid: padded(fc.constantFrom('/opt/ca.pem', 'ca.pem')),
    presence: 1,
  },
  POSTGRESQL_IAM_AUTH: {
    valid: padded(
      fc.mixedCase(fc.constantFrom('true', 'false', '1', '0', 'yes', 'no', 'on', 'off')),
    ),
    presence: 1,
  },
  AWS_REGION: { valid: padded(fc.constantFrom('eu-west-1', 'us-east-1')), presence: 8 },
  POSTGRESQL_SECRET_ID: {
    valid: fc.oneof(
      fc.constantFrom('prod/db', 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf'),
      word,
    ),
    presence: 1,
  },
  POSTGRESQL_APPLICATION_NAME: { valid: padded(word), presence: 8 },
  PUSHGATEWAY_URL: { valid: padded(validUrl), presence: 8 },
  PUSHGATEWAY_JOB: { valid: padded(word), presence: 8 },
  PUSHGATEWAY_INSTANCE: { valid: padded(fc.oneof(word, fc.constant('prod/main'))), presence: 8 },
  PUSHGATEWAY_GROUPING_LABELS: { valid: padded(labels), presence: 8 },
  PUSHGATEWAY_USERNAME: { valid: padded(word), presence: 1 },
  PUSHGATEWAY_PASSWORD: { valid: fc.string({ minLength: 1, maxLength: 30 }), presence: 1 },
  PUSHGATEWAY_BEARER_TOKEN: { valid: fc.stringMatching(/^[\x21-\x7e]{1,40}$/), presence: 1 },
  PUSHGATEWAY_CA_FILE: { valid: padded(fc.constantFrom('/opt/ca.pem', 'ca.pem')), presence: 1 },
  COLLECTORS_ENABLE: { valid: padded(collectors), presence: 4 },
  COLLECTORS_DISABLE: { valid: padded(collectors), presence: 4 },
  COLLECTOR_REFRESH_SECONDS: { valid: padded(refreshSeconds), presence: 4 },
  CUSTOM_QUERIES_FILE: {
    valid: padded(fc.constantFrom('queries/business.yml', '/opt/q.yaml', 'q.yml')),
    presence: 8,
  },
};

/** For a variable added to ENV since this file was written: a guess. */
const GUESS: Hint = {
  valid: fc.oneof(fc.constantFrom('true', 'false', '1', '0'), word),
  presence: 1,
};

function hint(name: string): Hint {
  const numeric = NUMERIC_BY_NAME.get(name);
  if (numeric !== undefined) {
    return { valid: padded(integerString(numeric.min, numeric.max)), presence: 8 };
  }
  return Object.hasOwn(HINTS, name) ? HINTS[name]! : GUESS;
}

function validValue(name: string): fc.Arbitrary<string> {
  return hint(name).valid;
}

const PROTOTYPE_NAMES = [
  '__proto__',
  'constructor',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'isPrototypeOf',
  'propertyIsEnumerable',
  'toLocaleString',
];

const oddUrl = fc
  .tuple(
    fc.constantFrom(
      'ftp',
      'file',
      'javascript',
      'data',
      'ws',
      'wss',
      'mailto',
      'blob',
      'postgres',
      'http+unix',
      'HTTP',
      'hTtPs',
      'http',
      '',
    ),
    fc.constantFrom('://', ':', ':/', ':///', '//', ':\\\\'),
    fc.constantFrom(
      'pushgateway:9091',
      '[::1]:9091',
      'user:pw@host',
      'host:99999',
      'host:-1',
      'host/?x=1',
      'host#frag',
      'host/?',
      'host/#',
      'host/%zz',
      '%00',
      '',
      'exa mple.com',
      'xn--',
      '\u0000host',
      'bücher.example',
      '😀.example',
      'a'.repeat(300),
    ),
  )
  .map(([scheme, sep, rest]) => scheme + sep + rest);

const numberLike = fc.oneof(
  fc.integer().map(String),
  fc.integer({ min: -1_000_000, max: -1 }).map(String),
  fc.double().map(String),
  fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n }).map(String),
  fc.integer({ min: 0, max: 1_000_000 }).map((n) => `${n}.${n % 10}`),
  fc.constantFrom(
    '1e3',
    '0x10',
    '+5',
    '-0',
    '0',
    '00080',
    '5432.0',
    '1_000',
    '1,000',
    '1 000',
    '١٢٣',
    '１２３',
    '१२३',
    'Infinity',
    '-Infinity',
    'NaN',
    '10s',
    '9'.repeat(400),
  ),
);

const punctuation = fc.string({
  unit: fc.constantFrom(
    ',',
    '=',
    '"',
    "'",
    '`',
    '\n',
    '\r',
    '\\',
    '\0',
    ' ',
    'a',
    '_',
    '__',
    'job',
    'none',
  ),
  maxLength: 20,
});

const longString = fc.oneof(
  fc
    .tuple(
      fc.constantFrom('9', 'a', ' ', '=', ',', 'é', '😀', '\ud800'),
      fc.integer({ min: 1_000, max: 20_000 }),
    )
    .map(([c, n]) => c.repeat(n)),
  fc.string({ minLength: 500, maxLength: 2_000 }),
  fc.integer({ min: 300, max: 5_000 }).map((n) => `http://${'a'.repeat(n)}:9091`),
);

const nasty: fc.Arbitrary<string> = fc.oneof(
  fc.constant(''),
  fc.string({
    unit: fc.constantFrom(' ', '\t', '\n', '\r', '\u00a0', '\u2028', '\ufeff'),
    minLength: 1,
    maxLength: 5,
  }),
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.constantFrom(...PROTOTYPE_NAMES, 'none', 'undefined', 'null', '{}', '[]'),
  numberLike,
  oddUrl,
  punctuation,
  longString,
);

const unrelatedName = fc
  .oneof(
    fc.constantFrom(
      'PATH',
      'HOME',
      'AWS_REGION',
      'AWS_LAMBDA_FUNCTION_NAME',
      'postgresql_host',
      'pushgateway_url',
      'POSTGRESQL_HOST ',
      ' PUSHGATEWAY_URL',
      'POSTGRESQL_PORTX',
      '',
      ...PROTOTYPE_NAMES,
    ),
    fc.string({ maxLength: 20 }),
  )
  .filter((name) => !VARIABLES.includes(name));

/** `null` leaves the variable out; `undefined` sets it to undefined. */
type Slot = string | undefined | null;

function chaosSlot(name: string): fc.Arbitrary<Slot> {
  return fc.oneof(
    { arbitrary: fc.constant(null), weight: 3 },
    { arbitrary: fc.constant(undefined), weight: 1 },
    { arbitrary: validValue(name), weight: 3 },
    { arbitrary: nasty, weight: 3 },
  );
}

/**
 * A fleet refuses the single-target variables this file is about, and a
 * fleet setting without a fleet is refused: the fleet settings have their own
 * tests (config.test.ts), so mostly-valid environments leave them all out
 * (else most of them would be refused, and the valid side barely exercised).
 */
const FLEET_SWITCHES: readonly string[] = VARIABLES.filter((name) =>
  /^(TARGETS_|FLEET_)/.test(name),
);

function validSlot(name: string): fc.Arbitrary<Slot> {
  if (name === ENV.pushgatewayUrl) return validValue(name);
  if (FLEET_SWITCHES.includes(name)) return fc.constant(null);
  const { valid, presence } = hint(name);
  return fc.oneof(
    { arbitrary: fc.constant(null), weight: 8 },
    { arbitrary: valid, weight: presence },
  );
}

function buildEnv(slots: readonly Slot[], unrelated: readonly (readonly [string, string])[]): Env {
  const entries: [string, string | undefined][] = unrelated.map(([n, v]) => [n, v]);
  VARIABLES.forEach((name, i) => {
    const slot = slots[i];
    if (slot !== null) entries.push([name, slot]);
  });
  return Object.fromEntries(entries);
}

function envFrom(
  slot: (name: string) => fc.Arbitrary<Slot>,
  except: string[] = [],
): fc.Arbitrary<Env> {
  return fc
    .tuple(
      fc.tuple(
        ...VARIABLES.map((name) => (except.includes(name) ? fc.constant(null) : slot(name))),
      ),
      fc.array(fc.tuple(unrelatedName, nasty), { maxLength: 4 }),
    )
    .map(([slots, unrelated]) => buildEnv(slots, unrelated));
}

/** Mostly-valid environments (PUSHGATEWAY_URL always valid) and anything-goes ones. */
const anyEnv: fc.Arbitrary<Env> = fc.oneof(
  { arbitrary: envFrom(validSlot), weight: 2 },
  { arbitrary: envFrom(chaosSlot), weight: 1 },
);

// ---------------------------------------------------------------------------

function checkConfigInvariants(config: Config): void {
  const url = config.pushgateway.url as URL;
  expect(['http:', 'https:']).toContain(url.protocol);
  expect(url.search).toBe('');
  expect(url.hash).toBe('');
  for (const name of Object.keys(config.pushgateway.labels)) {
    expect(name).toMatch(/^[a-zA-Z_][a-zA-Z0-9_]*$/);
    expect(['job', 'instance']).not.toContain(name);
  }
  for (const [key, get] of Object.entries(NUMERIC_GETTERS)) {
    const numeric = NUMERIC_BY_NAME.get(key);
    const value = get(config);
    if (numeric === undefined || value === undefined) continue;
    expect(Number.isInteger(value)).toBe(true);
    expect(value).toBeGreaterThanOrEqual(numeric.min);
    expect(value).toBeLessThanOrEqual(numeric.max);
  }
}

describe('loadConfig (property-based)', () => {
  it('finds the known numeric variables and their ranges', () => {
    const names = NUMERIC.map((n) => n.name);
    for (const name of [
      ENV.port,
      ENV.connectTimeoutMs,
      ENV.statementTimeoutMs,
      ENV.pushgatewayTimeoutMs,
      ENV.statementsLimit,
    ]) {
      expect(names).toContain(name);
    }
    for (const { min, max } of NUMERIC) expect(min).toBeLessThanOrEqual(max);
  });

  it('returns a config or throws a ConfigError naming an ENV variable, nothing else', () => {
    let returned = 0;
    let thrown = 0;
    fc.assert(
      fc.property(anyEnv, (env) => {
        const outcome = attempt(env);
        if (outcome.ok) {
          returned++;
          checkConfigInvariants(outcome.config);
          return;
        }
        thrown++;
        const error = outcome.error;
        expect(error).toBeInstanceOf(ConfigError);
        if (!(error instanceof ConfigError)) return;
        expect(VARIABLES).toContain(error.variable);
        expect(error.message.startsWith(`${error.variable}: `)).toBe(true);
        expect(error.name).toBe('ConfigError');
      }),
      { numRuns: NUM_RUNS },
    );
    // The generators must exercise both sides.
    expect(returned).toBeGreaterThan(NUM_RUNS / 10);
    expect(thrown).toBeGreaterThan(NUM_RUNS / 10);
  });

  it('never puts a password, token or Pushgateway URL password in an error', () => {
    const secretUnit = fc.oneof(
      fc.stringMatching(/^[a-zA-Z0-9]$/),
      fc.constantFrom('-', '_', '.', '~', '!', '$', '&', '(', '*', '+', ',', ';', '=', ':', '@'),
      fc.constantFrom('"', "'", '\\', 'é', '😀'),
    );
    const secret = fc
      .string({ unit: secretUnit, minLength: 8, maxLength: 32 })
      .map((s) => `S3cr3t-${s}`);
    const secretNames = VARIABLES.filter((n) => /PASSWORD|TOKEN/.test(n));
    expect(secretNames).toContain(ENV.password);
    const urlAround = fc.option(
      fc.tuple(
        fc.constantFrom('http', 'https', 'ftp', 'javascript', 'HTTP'),
        fc.constantFrom('', '/?x=1', '#f', '/path', ':99999', ' x'),
      ),
      { nil: undefined },
    );
    let thrown = 0;
    fc.assert(
      fc.property(
        anyEnv,
        secret,
        fc.subarray(secretNames),
        fc.boolean(),
        urlAround,
        (base, secret, alsoIn, withSecretId, around) => {
          const env: Record<string, string | undefined> = { ...base };
          for (const name of [ENV.password, ...alsoIn]) env[name] = secret;
          if (withSecretId) env[ENV.secretId] = 'prod/db';
          if (around !== undefined) {
            const [scheme, suffix] = around;
            env[ENV.pushgatewayUrl] = `${scheme}://user:${encodeURIComponent(secret)}@gw${suffix}`;
          }
          const outcome = attempt(env);
          if (outcome.ok) return;
          thrown++;
          const error = outcome.error;
          const views: string[] = [String(error), inspect(error)];
          if (error instanceof Error) views.push(error.message, error.stack ?? '');
          if (error !== null && typeof error === 'object') {
            views.push(JSON.stringify(Object.fromEntries(Object.entries(error))));
          }
          for (const view of views) {
            expect(view).not.toContain(secret);
            expect(view).not.toContain(encodeURIComponent(secret));
          }
        },
      ),
      { numRuns: NUM_RUNS },
    );
    expect(thrown).toBeGreaterThan(NUM_RUNS / 10);
  });

  it('is deterministic, does not touch its input and ignores unrelated variables and order', () => {
    fc.assert(
      fc.property(
        anyEnv,
        fc.array(fc.nat(), { minLength: VARIABLES.length * 2, maxLength: VARIABLES.length * 2 }),
        (env, shuffle) => {
          const before = Object.entries(env);
          const first = summary(attempt(env));
          expect(summary(attempt(env))).toEqual(first);
          expect(Object.entries(env)).toEqual(before);

          const own = before.filter(([name]) => VARIABLES.includes(name));
          expect(summary(attempt(Object.fromEntries(own)))).toEqual(first);

          const reordered = own
            .map((entry, i) => ({ entry, rank: shuffle[i] ?? 0 }))
            .sort((a, b) => a.rank - b.rank)
            .map(({ entry }) => entry);
          expect(summary(attempt(Object.fromEntries(reordered)))).toEqual(first);
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  /** A mostly-valid environment that loads, without the variable under test. */
  function background(name: string): fc.Arbitrary<Env> {
    return envFrom(validSlot, [name]).filter(loads);
  }

  function expectOnlyError(env: Env, name: string): void {
    const outcome = attempt(env);
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.error).toBeInstanceOf(ConfigError);
    if (!(outcome.error instanceof ConfigError)) return;
    expect(outcome.error.variable).toBe(name);
    expect(outcome.error.message.startsWith(`${name}: `)).toBe(true);
  }

  describe.each(NUMERIC)('numeric variable $name ($min..$max)', ({ name, min, max }) => {
    const getter = numericGetter(name);

    it('reads in-range whole numbers, surrounding whitespace and all', () => {
      fc.assert(
        fc.property(
          background(name),
          fc.oneof(fc.integer({ min, max }), fc.constantFrom(min, max)),
          whitespace,
          whitespace,
          (env, value, before, after) => {
            const config = loadConfig({ ...env, [name]: `${before}${value}${after}` });
            if (getter !== undefined) expect(getter(config)).toBe(value);
            else expect(numericLeaves(project(config))).toContain(value);
          },
        ),
        { numRuns: NUM_RUNS },
      );
    });

    it('refuses out-of-range whole numbers, naming exactly this variable', () => {
      const below =
        min > 0
          ? [
              integerString(0, min - 1),
              fc
                .tuple(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: min - 1 }))
                .map(([zeros, n]) => '0'.repeat(zeros) + String(n)),
            ]
          : [];
      const outOfRange = fc.oneof(
        ...below,
        fc.integer({ min: max + 1, max: max * 1_000 + 1_000_000 }).map(String),
        fc.bigInt({ min: BigInt(max) + 1n, max: 10n ** 30n }).map(String),
        fc.integer({ min: 16, max: 400 }).map((n) => '9'.repeat(n)),
        fc.integer({ min: 1, max: 5 }).map((zeros) => '0'.repeat(zeros) + String(max + 1)),
      );
      fc.assert(
        fc.property(background(name), padded(outOfRange), (env, raw) => {
          expectOnlyError({ ...env, [name]: raw }, name);
        }),
        { numRuns: NUM_RUNS },
      );
    });

    it('refuses anything but a whole number, naming exactly this variable', () => {
      const digitsIn = (zero: number) => (n: number) =>
        String(n).replace(/\d/g, (d) => String.fromCodePoint(zero + Number(d)));
      const nonInteger = padded(
        fc.oneof(
          fc.integer({ min: -1_000_000, max: -1 }).map(String),
          fc.double().map(String),
          fc
            .tuple(fc.integer({ min, max }), fc.integer({ min: 0, max: 999 }))
            .map(([i, f]) => `${i}.${f}`),
          fc.integer({ min, max }).map((n) => `${n}.0`),
          fc.integer({ min, max }).map((n) => `+${n}`),
          fc.integer({ min, max }).map((n) => `0x${n.toString(16)}`),
          fc.integer({ min: 1, max: 9 }).map((n) => `${n}e${n}`),
          fc.integer({ min, max }).map((n) => `${n}ms`),
          fc.integer({ min: 1_000, max: 900_000 }).map((n) => n.toLocaleString('en-US')),
          fc.integer({ min, max }).map((n) => `${n} ${n}`),
          fc.integer({ min, max }).map(digitsIn(0x0660)),
          fc.integer({ min, max }).map(digitsIn(0xff10)),
          fc.integer({ min, max }).map(digitsIn(0x0966)),
          nasty,
        ),
      ).filter((raw) => raw.trim() !== '' && !/^[0-9]+$/.test(raw.trim()));
      fc.assert(
        fc.property(background(name), nonInteger, (env, raw) => {
          expectOnlyError({ ...env, [name]: raw }, name);
        }),
        { numRuns: NUM_RUNS },
      );
    });
  });

  it('reads any set of valid grouping labels, whatever their names', () => {
    // Names that are also properties of Object.prototype are valid Prometheus label names.
    const name = fc.oneof(
      labelName,
      fc.constantFrom(...PROTOTYPE_NAMES.filter((n) => !n.startsWith('__'))),
    );
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(name, labelValue), {
          selector: ([n]) => n,
          minLength: 1,
          maxLength: 5,
        }),
        whitespace,
        (pairs, space) => {
          const raw = pairs.map(([n, v]) => `${space}${n}${space}=${v}`).join(',');
          const config = loadConfig({
            [ENV.pushgatewayUrl]: VALID_URL,
            [ENV.pushgatewayLabels]: raw,
          });
          expect(config.pushgateway.labels).toEqual(
            Object.fromEntries(pairs.map(([n, v]) => [n, v.trim()])),
          );
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });
});
