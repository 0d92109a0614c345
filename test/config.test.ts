import { describe, expect, it } from 'vitest';
import {
  isFleet,
  DEFAULTS,
  defaultSslMode,
  environmentSecrets,
  loadConfig,
  parseGroupingLabels,
  parseRefreshSeconds,
  parseSslMode,
  type Env,
} from '../src/config.js';
import { resolveTarget } from '../src/target.js';
import { ConfigError } from '../src/errors.js';

const base: Env = { PUSHGATEWAY_URL: 'http://pushgateway:9091' };

function configError(env: Env): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('applies the defaults when only PUSHGATEWAY_URL is set', () => {
    const config = loadConfig(base);
    expect(config.pushgateway.url?.href).toBe('http://pushgateway:9091/');
    expect(config.pushgateway.job).toBe('postgresql-exporter');
    expect(config.pushgateway.labels).toEqual({ app: 'prometheus-postgresql-exporter' });
    expect(config.pushgateway.instance).toBeUndefined();
    expect(config.postgres.connectTimeoutMs).toBe(DEFAULTS.connectTimeoutMs);
    expect(config.postgres.statementTimeoutMs).toBe(DEFAULTS.statementTimeoutMs);
    expect(config.postgres.applicationName).toBe('postgresql-pushgateway-exporter');
    expect(resolveTarget(config.postgres)).toEqual({
      host: 'localhost',
      port: 5432,
      database: 'postgres',
      user: 'postgres',
      password: undefined,
      ssl: 'disable',
    });
  });

  it("reads the seed's POSTGRESQL_* variables", () => {
    const config = loadConfig({
      ...base,
      POSTGRESQL_HOST: ' db.example.com ',
      POSTGRESQL_PORT: '6543',
      POSTGRESQL_DATABASE: 'app',
      POSTGRESQL_USERNAME: 'monitor',
      POSTGRESQL_PASSWORD: ' s3cret ',
      POSTGRESQL_SSL: 'True',
    });
    expect(resolveTarget(config.postgres)).toEqual({
      host: 'db.example.com',
      port: 6543,
      database: 'app',
      user: 'monitor',
      password: ' s3cret ',
      ssl: 'require',
    });
  });

  it('treats blank values as unset, as serverless.yml passes unset variables as ""', () => {
    const config = loadConfig({
      ...base,
      POSTGRESQL_PORT: '',
      POSTGRESQL_HOST: '  ',
      POSTGRESQL_PASSWORD: '',
    });
    expect(resolveTarget(config.postgres)).toMatchObject({
      host: 'localhost',
      port: 5432,
      password: undefined,
    });
  });

  it.each([
    ['POSTGRESQL_PORT', 'abc'],
    ['POSTGRESQL_PORT', '0'],
    ['POSTGRESQL_PORT', '65536'],
    ['POSTGRESQL_PORT', '5432.5'],
    ['POSTGRESQL_PORT', '-1'],
    ['POSTGRESQL_SSL', 'maybe'],
    ['POSTGRESQL_CONNECT_TIMEOUT_MS', '10s'],
    ['POSTGRESQL_STATEMENT_TIMEOUT_MS', '5'],
    ['PUSHGATEWAY_TIMEOUT_MS', '99999999'],
    ['PUSHGATEWAY_URL', 'not a url'],
    ['PUSHGATEWAY_URL', 'ftp://pushgateway:9091'],
    ['PUSHGATEWAY_URL', 'http://pushgateway:9091/?x=1'],
    ['PUSHGATEWAY_GROUPING_LABELS', 'app'],
    ['PUSHGATEWAY_GROUPING_LABELS', '1app=x'],
    ['PUSHGATEWAY_GROUPING_LABELS', '__name__=x'],
    ['PUSHGATEWAY_GROUPING_LABELS', 'job=x'],
    ['PUSHGATEWAY_GROUPING_LABELS', 'instance=x'],
    ['PUSHGATEWAY_GROUPING_LABELS', 'a=1,a=2'],
  ])('rejects %s=%j, naming the variable', (name, value) => {
    const error = configError({ ...base, [name]: value });
    expect(error.variable).toBe(name);
    expect(error.message.startsWith(`${name}: `)).toBe(true);
  });

  it('requires PUSHGATEWAY_URL', () => {
    const error = configError({});
    expect(error.variable).toBe('PUSHGATEWAY_URL');
    expect(error.message).toMatch(/required/);
  });

  it('refuses a password or user name next to POSTGRESQL_SECRET_ID', () => {
    const withPassword = configError({
      ...base,
      POSTGRESQL_SECRET_ID: 'db',
      POSTGRESQL_PASSWORD: 'x',
    });
    expect(withPassword.variable).toBe('POSTGRESQL_PASSWORD');
    expect(withPassword.message).not.toContain(': x');
    expect(
      configError({ ...base, POSTGRESQL_SECRET_ID: 'db', POSTGRESQL_USERNAME: 'u' }).variable,
    ).toBe('POSTGRESQL_USERNAME');
  });

  it('never puts the password in an error message', () => {
    const password = 'Sup3r$ecret-pw';
    for (const env of [
      { POSTGRESQL_PASSWORD: password },
      { ...base, POSTGRESQL_PASSWORD: password, POSTGRESQL_PORT: 'x' },
      { ...base, POSTGRESQL_PASSWORD: password, POSTGRESQL_SECRET_ID: 'db' },
    ]) {
      expect(configError(env).message).not.toContain(password);
    }
  });

  it('keeps a path prefix of PUSHGATEWAY_URL and reads the other Pushgateway settings', () => {
    const config = loadConfig({
      PUSHGATEWAY_URL: 'https://gw.example.com/pushgateway/',
      PUSHGATEWAY_JOB: 'pg',
      PUSHGATEWAY_INSTANCE: 'prod/main',
      PUSHGATEWAY_GROUPING_LABELS: 'app=x, env = prod',
      PUSHGATEWAY_TIMEOUT_MS: '2500',
    });
    expect(config.pushgateway).toMatchObject({
      job: 'pg',
      instance: 'prod/main',
      labels: { app: 'x', env: 'prod' },
      timeoutMs: 2500,
    });
    expect(config.pushgateway.url?.pathname).toBe('/pushgateway/');
  });
});

describe('parseSslMode', () => {
  it.each([
    ['true', 'require'],
    ['1', 'require'],
    ['yes', 'require'],
    ['t', 'require'],
    ['false', 'disable'],
    ['0', 'disable'],
    ['no', 'disable'],
    ['disable', 'disable'],
    ['require', 'require'],
    ['verify-ca', 'verify-ca'],
    ['VERIFY-FULL', 'verify-full'],
  ])('%s -> %s', (raw, mode) => {
    expect(parseSslMode(raw)).toBe(mode);
  });

  it('defaults to no TLS on loopback only', () => {
    expect(defaultSslMode('localhost')).toBe('disable');
    expect(defaultSslMode('127.0.0.1')).toBe('disable');
    expect(defaultSslMode('::1')).toBe('disable');
    expect(defaultSslMode('mydb.abc.eu-west-1.rds.amazonaws.com')).toBe('verify-full');
    expect(defaultSslMode('10.0.0.5')).toBe('verify-full');
  });

  it.each([
    ['127.0.0.1', 'disable'],
    ['127.255.3.9', 'disable'],
    ['[::1]', 'disable'],
    ['::ffff:127.0.0.1', 'disable'],
    ['LOCALHOST', 'disable'],
    ['localhost.', 'disable'],
    ['/var/run/postgresql', 'disable'],
    // Host names that merely look like loopback are resolved by DNS: anything.
    ['127.attacker.example', 'verify-full'],
    ['127.0.0.1.nip.io', 'verify-full'],
    ['127.0.0.1x', 'verify-full'],
    ['localhost.attacker.example', 'verify-full'],
    ['::2', 'verify-full'],
    ['::ffff:10.0.0.1', 'verify-full'],
    ['128.0.0.1', 'verify-full'],
  ])('decides loopback from the parsed address: %s -> %s', (host, mode) => {
    expect(defaultSslMode(host)).toBe(mode);
  });

  it('checks the certificate of a remote host unless told otherwise; true keeps meaning require', () => {
    const remote = { ...base, POSTGRESQL_HOST: 'db.example.com' };
    expect(resolveTarget(loadConfig(remote).postgres).ssl).toBe('verify-full');
    expect(resolveTarget(loadConfig({ ...remote, POSTGRESQL_SSL: 'true' }).postgres).ssl).toBe(
      'require',
    );
    expect(resolveTarget(loadConfig({ ...remote, POSTGRESQL_SSL: 'false' }).postgres).ssl).toBe(
      'disable',
    );
  });
});

describe('POSTGRESQL_SSL_ROOT_CERT', () => {
  it('is unset by default: Node trusted CAs', () => {
    const config = loadConfig(base);
    expect(config.postgres.sslRootCert).toBeUndefined();
    expect(resolveTarget(config.postgres)).not.toHaveProperty('sslRootCert');
  });

  it('is passed to the target as given, without reading it (loadConfig does no I/O)', () => {
    const config = loadConfig({
      ...base,
      POSTGRESQL_HOST: 'db.example.com',
      POSTGRESQL_SSL_ROOT_CERT: ' certs/no-such-file.pem ',
    });
    expect(resolveTarget(config.postgres)).toMatchObject({
      ssl: 'verify-full',
      sslRootCert: 'certs/no-such-file.pem',
    });
    expect(
      resolveTarget(
        loadConfig({ ...base, POSTGRESQL_SSL: 'verify-ca', POSTGRESQL_SSL_ROOT_CERT: '/ca.pem' })
          .postgres,
      ),
    ).toMatchObject({ ssl: 'verify-ca', sslRootCert: '/ca.pem' });
  });

  it.each(['require', 'true', 'disable'])('is refused with POSTGRESQL_SSL=%s', (ssl) => {
    const error = configError({
      ...base,
      POSTGRESQL_SSL: ssl,
      POSTGRESQL_SSL_ROOT_CERT: 'certs/ca.pem',
    });
    expect(error.variable).toBe('POSTGRESQL_SSL_ROOT_CERT');
    expect(error.message).toMatch(/set POSTGRESQL_SSL to verify-ca or verify-full/);
  });
});

describe('POSTGRESQL_IAM_AUTH', () => {
  const rds = {
    ...base,
    POSTGRESQL_HOST: 'mydb.abcdefghijkl.eu-west-1.rds.amazonaws.com',
    POSTGRESQL_USERNAME: 'monitor',
    POSTGRESQL_IAM_AUTH: 'true',
    AWS_REGION: 'eu-west-1',
  };

  it('is off by default, and off for false', () => {
    expect(loadConfig(base).postgres.iamAuth).toBeUndefined();
    expect(loadConfig({ ...rds, POSTGRESQL_IAM_AUTH: 'false' }).postgres.iamAuth).toBeUndefined();
    expect(loadConfig({ ...rds, POSTGRESQL_IAM_AUTH: '' }).postgres.iamAuth).toBeUndefined();
  });

  it('takes the region from AWS_REGION; the password stays unset (the run makes a token)', () => {
    const config = loadConfig(rds);
    expect(config.postgres.iamAuth).toEqual({ region: 'eu-west-1' });
    expect(resolveTarget(config.postgres)).toMatchObject({
      user: 'monitor',
      password: undefined,
      ssl: 'verify-full',
    });
    expect(loadConfig({ ...rds, POSTGRESQL_SSL: 'require' }).postgres.iamAuth).toEqual({
      region: 'eu-west-1',
    });
  });

  it.each([
    ['AWS_REGION', { AWS_REGION: undefined }, /is required with POSTGRESQL_IAM_AUTH/],
    ['AWS_REGION', { AWS_REGION: ' ' }, /is required with POSTGRESQL_IAM_AUTH/],
    ['POSTGRESQL_SSL', { POSTGRESQL_SSL: 'disable' }, /POSTGRESQL_IAM_AUTH needs TLS/],
    ['POSTGRESQL_SSL', { POSTGRESQL_SSL: 'false' }, /POSTGRESQL_IAM_AUTH needs TLS/],
    [
      'POSTGRESQL_SSL',
      { POSTGRESQL_HOST: 'localhost' },
      /needs TLS: .*\(the default for host localhost is disable\)/,
    ],
    [
      'POSTGRESQL_PASSWORD',
      { POSTGRESQL_PASSWORD: 'Sup3r$ecret-pw' },
      /cannot be set together with POSTGRESQL_IAM_AUTH/,
    ],
    [
      'POSTGRESQL_SECRET_ID',
      { POSTGRESQL_SECRET_ID: 'db', POSTGRESQL_USERNAME: undefined },
      /cannot be set together with POSTGRESQL_IAM_AUTH/,
    ],
    ['POSTGRESQL_IAM_AUTH', { POSTGRESQL_IAM_AUTH: 'maybe' }, /must be true or false/],
  ] as const)('refuses %s: %j', (variable, change, message) => {
    const error = configError({ ...rds, ...change });
    expect(error.variable).toBe(variable);
    expect(error.message).toMatch(message);
    expect(error.message).not.toContain('Sup3r$ecret-pw');
  });
});

describe('parseGroupingLabels', () => {
  it('reads name=value pairs and the word none', () => {
    expect(parseGroupingLabels('a=1,b=x y, c = ')).toEqual({ a: '1', b: 'x y', c: '' });
    expect(parseGroupingLabels('none')).toEqual({});
  });
});

describe('resolveTarget', () => {
  const secret = { username: 'su', password: 'sp', host: 'sh', port: 5433, dbname: 'sd' };

  it('takes credentials and address from the secret', () => {
    const config = loadConfig({ ...base, POSTGRESQL_SECRET_ID: 'arn:aws:secretsmanager:x' });
    expect(resolveTarget(config.postgres, secret)).toEqual({
      host: 'sh',
      port: 5433,
      database: 'sd',
      user: 'su',
      password: 'sp',
      ssl: 'verify-full',
    });
  });

  it('lets POSTGRESQL_HOST/PORT/DATABASE override the secret (e.g. an RDS Proxy endpoint)', () => {
    const config = loadConfig({
      ...base,
      POSTGRESQL_SECRET_ID: 'db',
      POSTGRESQL_HOST: 'proxy',
      POSTGRESQL_PORT: '6432',
      POSTGRESQL_DATABASE: 'other',
    });
    expect(resolveTarget(config.postgres, secret)).toMatchObject({
      host: 'proxy',
      port: 6432,
      database: 'other',
      user: 'su',
      password: 'sp',
    });
  });
});

describe('collector settings', () => {
  it('defaults: no switches, 10 statements, no custom queries', () => {
    expect(loadConfig(base).collectors).toEqual({
      enable: [],
      disable: [],
      statementsLimit: 10,
      customQueriesFile: undefined,
      maxSeries: 20_000,
      databases: { include: [], exclude: [], limit: 20 },
      tablesLimit: 50,
      indexesLimit: 50,
      refreshSeconds: new Map(),
    });
  });

  it('reads the switches, the statements limit and the custom-queries file', () => {
    expect(
      loadConfig({
        ...base,
        COLLECTORS_ENABLE: 'business_user_tables',
        COLLECTORS_DISABLE: ' lock , stat_activity ',
        STATEMENTS_LIMIT: '25',
        CUSTOM_QUERIES_FILE: 'queries/business.yml',
        COLLECTOR_MAX_SERIES: '1000',
        DATABASES_INCLUDE: ' app_* , shop ',
        DATABASES_EXCLUDE: 'app_test',
        DATABASES_LIMIT: '5',
        TABLES_LIMIT: '20',
        INDEXES_LIMIT: '30',
        COLLECTOR_REFRESH_SECONDS: 'database_size=600, lock=30',
      }).collectors,
    ).toEqual({
      enable: ['business_user_tables'],
      disable: ['lock', 'stat_activity'],
      statementsLimit: 25,
      customQueriesFile: 'queries/business.yml',
      maxSeries: 1000,
      databases: { include: ['app_*', 'shop'], exclude: ['app_test'], limit: 5 },
      tablesLimit: 20,
      indexesLimit: 30,
      refreshSeconds: new Map([
        ['database_size', 600],
        ['lock', 30],
      ]),
    });
  });

  it.each([
    ['DATABASES_LIMIT', '0', /from 1 to 10000/],
    ['TABLES_LIMIT', '10001', /from 1 to 10000/],
    ['INDEXES_LIMIT', 'many', /whole number/],
    ['DATABASES_INCLUDE', 'x'.repeat(201), /longer than 200/],
  ])('refuses %s=%s naming the variable', (name, raw, message) => {
    expect(() => loadConfig({ ...base, [name]: raw })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, [name]: raw })).toThrow(message);
    expect(() => loadConfig({ ...base, [name]: raw })).toThrow(name);
  });

  it.each([
    ['STATEMENTS_LIMIT', '0', /from 1 to 100/],
    ['COLLECTOR_MAX_SERIES', '0', /from 1 to 10000000/],
    ['COLLECTOR_MAX_SERIES', 'lots', /whole number/],
    ['STATEMENTS_LIMIT', '101', /from 1 to 100/],
  ])('refuses %s=%s, naming the variable', (name, value, message) => {
    const error = configError({ ...base, [name]: value });
    expect(error.variable).toBe(name);
    expect(error.message).toMatch(message);
  });

  it('refuses a collector both enabled and disabled', () => {
    const error = configError({ ...base, COLLECTORS_ENABLE: 'lock', COLLECTORS_DISABLE: 'lock' });
    expect(error.message).toBe('COLLECTORS_DISABLE: "lock" is also in COLLECTORS_ENABLE');
  });
});

describe('COLLECTOR_REFRESH_SECONDS', () => {
  it('reads name=seconds pairs, spaces and empty items ignored, 0 and 86400 the bounds', () => {
    expect(parseRefreshSeconds(' database_size = 0 ,, custom_orders=86400, ')).toEqual(
      new Map([
        ['database_size', 0],
        ['custom_orders', 86_400],
      ]),
    );
    expect(parseRefreshSeconds('')).toEqual(new Map());
  });

  it('keeps a name that is also an Object property as a name (checked later, not lost)', () => {
    expect([...parseRefreshSeconds('__proto__=5,constructor=6').keys()]).toEqual([
      '__proto__',
      'constructor',
    ]);
  });

  it.each([
    ['database_size', 'expected name=seconds, got "database_size"'],
    ['=300', 'expected name=seconds, got "=300"'],
    [
      'database_size=86401',
      '"database_size": must be a whole number of seconds from 0 to 86400, got "86401"',
    ],
    [
      'database_size=-1',
      '"database_size": must be a whole number of seconds from 0 to 86400, got "-1"',
    ],
    [
      'database_size=5m',
      '"database_size": must be a whole number of seconds from 0 to 86400, got "5m"',
    ],
    [
      'database_size=1.5',
      '"database_size": must be a whole number of seconds from 0 to 86400, got "1.5"',
    ],
    [
      'database_size=',
      '"database_size": must be a whole number of seconds from 0 to 86400, got ""',
    ],
    ['lock=10, database_size=300,lock=20', 'collector "lock" is given twice'],
  ])('refuses %j, naming the variable', (value, message) => {
    const error = configError({ ...base, COLLECTOR_REFRESH_SECONDS: value });
    expect(error.variable).toBe('COLLECTOR_REFRESH_SECONDS');
    expect(error.message).toBe(`COLLECTOR_REFRESH_SECONDS: ${message}`);
  });

  it('treats a blank value as unset', () => {
    expect(
      loadConfig({ ...base, COLLECTOR_REFRESH_SECONDS: '  ' }).collectors.refreshSeconds,
    ).toEqual(new Map());
  });
});

describe('Pushgateway authentication and CA file', () => {
  const https: Env = { PUSHGATEWAY_URL: 'https://gw.example.com:9091' };

  it('has no credentials and no CA file by default', () => {
    expect(loadConfig(base).pushgateway).toMatchObject({ auth: undefined, caFile: undefined });
  });

  it('reads basic auth (the password untrimmed) and the CA file, without reading the file', () => {
    const config = loadConfig({
      ...https,
      PUSHGATEWAY_USERNAME: ' pusher ',
      PUSHGATEWAY_PASSWORD: ' p@ss:word ',
      PUSHGATEWAY_CA_FILE: ' /no/such/dir/ca.pem ',
    });
    expect(config.pushgateway.auth).toEqual({
      kind: 'basic',
      username: 'pusher',
      password: ' p@ss:word ',
    });
    expect(config.pushgateway.caFile).toBe('/no/such/dir/ca.pem');
  });

  it('reads a bearer token', () => {
    expect(
      loadConfig({ ...https, PUSHGATEWAY_BEARER_TOKEN: ' abc.def-ghi_~+/= ' }).pushgateway.auth,
    ).toEqual({ kind: 'bearer', token: 'abc.def-ghi_~+/=' });
  });

  it('treats blank values as unset', () => {
    expect(
      loadConfig({
        ...base,
        PUSHGATEWAY_USERNAME: ' ',
        PUSHGATEWAY_PASSWORD: '',
        PUSHGATEWAY_BEARER_TOKEN: '',
        PUSHGATEWAY_CA_FILE: '',
      }).pushgateway,
    ).toMatchObject({ auth: undefined, caFile: undefined });
  });

  const password = 'Pw-s3cret!';
  const token = 'tok-s3cret.value';
  it.each([
    [
      'a user name alone',
      { PUSHGATEWAY_USERNAME: 'u' },
      'PUSHGATEWAY_PASSWORD',
      /is required when PUSHGATEWAY_USERNAME is set/,
    ],
    [
      'a password alone',
      { PUSHGATEWAY_PASSWORD: password },
      'PUSHGATEWAY_USERNAME',
      /is required when PUSHGATEWAY_PASSWORD is set/,
    ],
    [
      'basic auth in both the URL and the variables',
      {
        PUSHGATEWAY_URL: `https://u:${password}@gw:9091`,
        PUSHGATEWAY_USERNAME: 'u',
        PUSHGATEWAY_PASSWORD: password,
      },
      'PUSHGATEWAY_URL',
      /has user:password@ and PUSHGATEWAY_USERNAME\/PUSHGATEWAY_PASSWORD are set too/,
    ],
    [
      'a bearer token with basic auth',
      {
        PUSHGATEWAY_USERNAME: 'u',
        PUSHGATEWAY_PASSWORD: password,
        PUSHGATEWAY_BEARER_TOKEN: token,
      },
      'PUSHGATEWAY_BEARER_TOKEN',
      /cannot be used together with basic auth \(PUSHGATEWAY_USERNAME\/PUSHGATEWAY_PASSWORD\)/,
    ],
    [
      'a bearer token with user:password@ in the URL',
      { PUSHGATEWAY_URL: `https://u:${password}@gw:9091`, PUSHGATEWAY_BEARER_TOKEN: token },
      'PUSHGATEWAY_BEARER_TOKEN',
      /cannot be used together with basic auth \(user:password@ in PUSHGATEWAY_URL\)/,
    ],
    [
      'a bearer token with a space',
      { PUSHGATEWAY_BEARER_TOKEN: `${token} x` },
      'PUSHGATEWAY_BEARER_TOKEN',
      /printable ASCII/,
    ],
    [
      'a user name with a colon',
      { PUSHGATEWAY_USERNAME: 'a:b', PUSHGATEWAY_PASSWORD: password },
      'PUSHGATEWAY_USERNAME',
      /must not contain ":"/,
    ],
    [
      'a CA file for an http URL',
      { PUSHGATEWAY_URL: 'http://gw:9091', PUSHGATEWAY_CA_FILE: 'ca.pem' },
      'PUSHGATEWAY_CA_FILE',
      /needs an https PUSHGATEWAY_URL, got http$/,
    ],
  ])('refuses %s, naming the variable and no secret', (_, env, variable, message) => {
    const error = configError({ ...https, ...env });
    expect(error.variable).toBe(variable);
    expect(error.message).toMatch(message);
    expect(error.message).not.toContain(password);
    expect(error.message).not.toContain(token);
  });
});

describe('fleet settings', () => {
  const fleetEnv = { PUSHGATEWAY_URL: 'http://gw:9091', TARGETS_FILE: 'targets/fleet.yml' };
  const error = (env: Record<string, string>): ConfigError => {
    try {
      loadConfig(env);
    } catch (caught) {
      expect(caught).toBeInstanceOf(ConfigError);
      return caught as ConfigError;
    }
    throw new Error('expected a ConfigError');
  };

  it('has no fleet without TARGETS_FILE or TARGETS_RDS_TAG: one target, as before', () => {
    expect(loadConfig({ PUSHGATEWAY_URL: 'http://gw:9091' }).fleet).toBeUndefined();
    expect(isFleet({ PUSHGATEWAY_URL: 'http://gw:9091', TARGETS_FILE: ' ' })).toBe(false);
  });

  it('reads the defaults of a fleet', () => {
    expect(loadConfig(fleetEnv).fleet).toEqual({
      targetsFile: 'targets/fleet.yml',
      rds: undefined,
      name: 'default',
      mode: 'inline',
      concurrency: 10,
      targetFunction: undefined,
      cleanupForce: false,
    });
    expect(isFleet(fleetEnv)).toBe(true);
  });

  it.each([
    'POSTGRESQL_HOST',
    'POSTGRESQL_PORT',
    'POSTGRESQL_DATABASE',
    'POSTGRESQL_USERNAME',
    'POSTGRESQL_PASSWORD',
    'POSTGRESQL_SECRET_ID',
    'POSTGRESQL_IAM_AUTH',
    'PUSHGATEWAY_INSTANCE',
  ])('refuses %s next to TARGETS_FILE, naming both', (name) => {
    const value = name === 'POSTGRESQL_PORT' ? '5432' : name.endsWith('IAM_AUTH') ? 'true' : 'x';
    const refused = error({ ...fleetEnv, [name]: value });
    expect(refused.variable).toBe(name);
    expect(refused.message).toContain('TARGETS_FILE');
  });

  it('refuses fleet-only settings without a fleet, naming them', () => {
    expect(error({ PUSHGATEWAY_URL: 'http://gw:9091', FLEET_MODE: 'fanout' }).variable).toBe(
      'FLEET_MODE',
    );
    expect(
      error({ PUSHGATEWAY_URL: 'http://gw:9091', TARGETS_RDS_IAM_AUTH: 'true' }).variable,
    ).toBe('TARGETS_RDS_IAM_AUTH');
  });

  it('checks the mode, the concurrency and the fan-out function', () => {
    expect(error({ ...fleetEnv, FLEET_MODE: 'parallel' }).variable).toBe('FLEET_MODE');
    expect(error({ ...fleetEnv, FLEET_CONCURRENCY: '0' }).variable).toBe('FLEET_CONCURRENCY');
    expect(error({ ...fleetEnv, FLEET_CONCURRENCY: '101' }).variable).toBe('FLEET_CONCURRENCY');
    expect(error({ ...fleetEnv, FLEET_MODE: 'fanout' }).variable).toBe('FLEET_TARGET_FUNCTION');
    const fanout = loadConfig({ ...fleetEnv, FLEET_MODE: 'fanout', FLEET_TARGET_FUNCTION: 'f' });
    expect(fanout.fleet?.mode).toBe('fanout');
    expect(fanout.fleet?.targetFunction).toBe('f');
  });

  it('reads RDS discovery settings', () => {
    const config = loadConfig({
      PUSHGATEWAY_URL: 'http://gw:9091',
      TARGETS_RDS_TAG: 'monitoring=pushgateway',
      TARGETS_RDS_LABEL_TAGS: 'team, cost-center=cost_center',
      TARGETS_RDS_IAM_AUTH: 'true',
      TARGETS_RDS_USERNAME: 'exporter',
      AWS_REGION: 'eu-west-1',
    });
    expect(config.fleet?.targetsFile).toBeUndefined();
    expect(config.fleet?.rds).toEqual({
      tag: { key: 'monitoring', value: 'pushgateway' },
      labelTags: { team: 'team', 'cost-center': 'cost_center' },
      secretTag: 'postgresql-exporter-secret',
      iamAuth: true,
      username: 'exporter',
      database: 'postgres',
      masterSecret: false,
      region: 'eu-west-1',
    });
    const keyOnly = loadConfig({ PUSHGATEWAY_URL: 'http://gw:9091', TARGETS_RDS_TAG: 'monitored' });
    expect(keyOnly.fleet?.rds?.tag).toEqual({ key: 'monitored', value: undefined });
  });

  it('refuses bad RDS settings, naming the variable', () => {
    const rds = { PUSHGATEWAY_URL: 'http://gw:9091', TARGETS_RDS_TAG: 'monitoring=on' };
    expect(error({ ...rds, TARGETS_RDS_TAG: '=x' }).variable).toBe('TARGETS_RDS_TAG');
    expect(error({ ...rds, TARGETS_RDS_LABEL_TAGS: 'cost-center' }).message).toContain(
      'cost-center=label_name',
    );
    expect(error({ ...rds, TARGETS_RDS_LABEL_TAGS: 'a=instance' }).variable).toBe(
      'TARGETS_RDS_LABEL_TAGS',
    );
    expect(error({ ...rds, TARGETS_RDS_LABEL_TAGS: 'a=x,b=x' }).variable).toBe(
      'TARGETS_RDS_LABEL_TAGS',
    );
    expect(error({ ...rds, TARGETS_RDS_IAM_AUTH: 'true' }).variable).toBe('TARGETS_RDS_USERNAME');
  });
});

describe('several Pushgateways', () => {
  it('reads a comma- or space-separated list for a fleet, the first as url', () => {
    const config = loadConfig({
      TARGETS_FILE: 't.yml',
      PUSHGATEWAY_URL: 'http://gw-a:9091, http://gw-b:9091  https://gw-c/push/',
    });
    expect(config.pushgateway.urls.map((u) => u.href)).toEqual([
      'http://gw-a:9091/',
      'http://gw-b:9091/',
      'https://gw-c/push/',
    ]);
    expect(config.pushgateway.url?.href).toBe('http://gw-a:9091/');
  });

  it('refuses a list for one target, a duplicate, and a bad member without showing its password', () => {
    expect(configError({ PUSHGATEWAY_URL: 'http://a:9091,http://b:9091' }).message).toContain(
      'a list is for a fleet',
    );
    expect(
      configError({ TARGETS_FILE: 't.yml', PUSHGATEWAY_URL: 'http://a:9091 http://a:9091/' })
        .message,
    ).toContain('twice');
    const bad = configError({
      TARGETS_FILE: 't.yml',
      PUSHGATEWAY_URL: 'http://a:9091,ftp://u:hunter2secret@b',
    });
    expect(bad.message).toContain('ftp:');
    expect(bad.message).not.toContain('hunter2secret');
  });
});

describe('PUSHGATEWAY_URL made of separators only', () => {
  it('is a ConfigError, not a crash', () => {
    expect(configError({ PUSHGATEWAY_URL: ' , ,' }).variable).toBe('PUSHGATEWAY_URL');
  });
});

describe('remote write settings', () => {
  const RW = 'http://prometheus:9090/api/v1/write';
  const AMP =
    'https://aps-workspaces.eu-central-1.amazonaws.com/workspaces/ws-1/api/v1/remote_write';

  it('REMOTE_WRITE_URL alone is enough: no Pushgateway, the defaults', () => {
    const config = loadConfig({ REMOTE_WRITE_URL: RW });
    expect(config.pushgateway.url).toBeUndefined();
    expect(config.pushgateway.urls).toEqual([]);
    expect(config.pushgateway.auth).toBeUndefined();
    expect(config.remoteWrite).toEqual({
      url: new URL(RW),
      timeoutMs: DEFAULTS.remoteWriteTimeoutMs,
      auth: undefined,
      sigv4: undefined,
      caFile: undefined,
      headers: {},
      batchSamples: DEFAULTS.remoteWriteBatchSamples,
    });
    expect(DEFAULTS.remoteWriteTimeoutMs).toBe(10_000);
    expect(DEFAULTS.remoteWriteBatchSamples).toBe(2_000);
  });

  it('both sinks together; without REMOTE_WRITE_URL no remote write', () => {
    const both = loadConfig({ ...base, REMOTE_WRITE_URL: RW });
    expect(both.pushgateway.url?.href).toBe('http://pushgateway:9091/');
    expect(both.remoteWrite?.url.href).toBe(RW);
    expect(loadConfig(base).remoteWrite).toBeUndefined();
    expect(loadConfig({ ...base, REMOTE_WRITE_URL: '  ' }).remoteWrite).toBeUndefined();
  });

  it('neither sink: an error naming both variables', () => {
    const error = configError({});
    expect(error.variable).toBe('PUSHGATEWAY_URL');
    expect(error.message).toContain('REMOTE_WRITE_URL');
  });

  it('a REMOTE_WRITE_ setting without REMOTE_WRITE_URL is refused, naming it', () => {
    for (const name of [
      'REMOTE_WRITE_TIMEOUT_MS',
      'REMOTE_WRITE_BEARER_TOKEN',
      'REMOTE_WRITE_SIGV4',
      'REMOTE_WRITE_HEADERS',
      'REMOTE_WRITE_BATCH_SAMPLES',
    ]) {
      const error = configError({ ...base, [name]: 'x-secretish-value' });
      expect(error.variable).toBe(name);
      expect(error.message).toBe(`${name}: is set but REMOTE_WRITE_URL is not`);
    }
  });

  it.each([
    ['ftp://u:hunter2secret@rw/api/v1/write', 'must use http or https, got ftp:'],
    ['http://u:hunter2secret@rw/api/v1/write?tenant=1', 'must not have a query string'],
    ['http://u:hunter2secret@', 'is not a valid URL'],
    ['rw:9090/api/v1/write', 'must use http or https'],
  ])('a bad URL %s: refused, without its password', (url, why) => {
    const error = configError({ REMOTE_WRITE_URL: url });
    expect(error.variable).toBe('REMOTE_WRITE_URL');
    expect(error.message).toContain(why);
    expect(error.message).not.toContain('hunter2secret');
  });

  it('user:password@ in the URL is basic auth, as for the Pushgateway', () => {
    const config = loadConfig({
      REMOTE_WRITE_URL: 'https://ops:p%40ss@rw.example.com/api/v1/write',
    });
    // Sent by the request from the URL itself (src/http.ts), as with PUSHGATEWAY_URL.
    expect(config.remoteWrite?.auth).toBeUndefined();
    expect(config.remoteWrite?.url.username).toBe('ops');
    expect(config.remoteWrite?.url.password).toBe('p%40ss');
    const both = configError({
      REMOTE_WRITE_URL: 'https://ops:hunter2secret@rw.example.com/api/v1/write',
      REMOTE_WRITE_USERNAME: 'ops',
      REMOTE_WRITE_PASSWORD: 'other-secret-1',
    });
    expect(both.variable).toBe('REMOTE_WRITE_URL');
    expect(both.message).toContain('use one or the other');
    const withToken = configError({
      REMOTE_WRITE_URL: 'https://ops:hunter2secret@rw.example.com/api/v1/write',
      REMOTE_WRITE_BEARER_TOKEN: 'tok-secret-1',
    });
    expect(withToken.variable).toBe('REMOTE_WRITE_BEARER_TOKEN');
    for (const error of [both, withToken]) {
      for (const secret of ['hunter2secret', 'other-secret-1', 'tok-secret-1']) {
        expect(error.message).not.toContain(secret);
      }
    }
  });

  it('basic auth and a bearer token: each alone, never both', () => {
    expect(
      loadConfig({
        REMOTE_WRITE_URL: RW,
        REMOTE_WRITE_USERNAME: 'ops',
        REMOTE_WRITE_PASSWORD: ' pw with spaces ',
      }).remoteWrite?.auth,
    ).toEqual({ kind: 'basic', username: 'ops', password: ' pw with spaces ' });
    expect(
      loadConfig({ REMOTE_WRITE_URL: RW, REMOTE_WRITE_BEARER_TOKEN: 'tok-1' }).remoteWrite?.auth,
    ).toEqual({ kind: 'bearer', token: 'tok-1' });
    const both = configError({
      REMOTE_WRITE_URL: RW,
      REMOTE_WRITE_USERNAME: 'ops',
      REMOTE_WRITE_PASSWORD: 'pw-secret-1',
      REMOTE_WRITE_BEARER_TOKEN: 'tok-secret-1',
    });
    expect(both.variable).toBe('REMOTE_WRITE_BEARER_TOKEN');
    expect(both.message).toContain('cannot be used together with basic auth');
    expect(both.message).not.toContain('pw-secret-1');
    expect(both.message).not.toContain('tok-secret-1');
    expect(configError({ REMOTE_WRITE_URL: RW, REMOTE_WRITE_USERNAME: 'ops' }).variable).toBe(
      'REMOTE_WRITE_PASSWORD',
    );
    expect(
      configError({ REMOTE_WRITE_URL: RW, REMOTE_WRITE_PASSWORD: 'pw-secret-1' }).variable,
    ).toBe('REMOTE_WRITE_USERNAME');
    const spaced = configError({ REMOTE_WRITE_URL: RW, REMOTE_WRITE_BEARER_TOKEN: 'tok secret-1' });
    expect(spaced.message).toBe(
      'REMOTE_WRITE_BEARER_TOKEN: must be printable ASCII without spaces',
    );
  });

  it('the Pushgateway settings are not remote write settings, nor the other way round', () => {
    const config = loadConfig({
      ...base,
      PUSHGATEWAY_BEARER_TOKEN: 'pg-tok',
      REMOTE_WRITE_URL: RW,
      REMOTE_WRITE_USERNAME: 'ops',
      REMOTE_WRITE_PASSWORD: 'rw-pw',
    });
    expect(config.pushgateway.auth).toEqual({ kind: 'bearer', token: 'pg-tok' });
    expect(config.remoteWrite?.auth).toEqual({ kind: 'basic', username: 'ops', password: 'rw-pw' });
  });

  it('REMOTE_WRITE_CA_FILE needs an https URL', () => {
    expect(
      loadConfig({ REMOTE_WRITE_URL: 'https://rw/api/v1/write', REMOTE_WRITE_CA_FILE: 'ca.pem' })
        .remoteWrite?.caFile,
    ).toBe('ca.pem');
    const error = configError({ REMOTE_WRITE_URL: RW, REMOTE_WRITE_CA_FILE: 'ca.pem' });
    expect(error.variable).toBe('REMOTE_WRITE_CA_FILE');
    expect(error.message).toContain('needs an https REMOTE_WRITE_URL');
  });

  describe('SigV4', () => {
    it('is on for an AMP workspace URL, the region taken from it', () => {
      expect(loadConfig({ REMOTE_WRITE_URL: AMP }).remoteWrite?.sigv4).toEqual({
        region: 'eu-central-1',
      });
      expect(
        loadConfig({
          REMOTE_WRITE_URL:
            'https://aps-workspaces.cn-north-1.amazonaws.com.cn/workspaces/w/api/v1/remote_write',
        }).remoteWrite?.sigv4,
      ).toEqual({ region: 'cn-north-1' });
    });

    it('is off for another URL, and for an AMP URL with REMOTE_WRITE_SIGV4=false', () => {
      expect(
        loadConfig({ REMOTE_WRITE_URL: 'https://mimir.example.com/api/v1/push' }).remoteWrite
          ?.sigv4,
      ).toBeUndefined();
      expect(
        loadConfig({ REMOTE_WRITE_URL: AMP, REMOTE_WRITE_SIGV4: 'false' }).remoteWrite?.sigv4,
      ).toBeUndefined();
      // A look-alike host is not AMP.
      expect(
        loadConfig({
          REMOTE_WRITE_URL: 'https://aps-workspaces.eu-central-1.amazonaws.com.evil.example/w',
        }).remoteWrite?.sigv4,
      ).toBeUndefined();
    });

    it('REMOTE_WRITE_SIGV4_REGION wins over the URL; AWS_REGION is the last resort', () => {
      expect(
        loadConfig({ REMOTE_WRITE_URL: AMP, REMOTE_WRITE_SIGV4_REGION: 'us-west-2' }).remoteWrite
          ?.sigv4,
      ).toEqual({ region: 'us-west-2' });
      expect(
        loadConfig({
          REMOTE_WRITE_URL: 'https://proxy.example.com/aps/api/v1/remote_write',
          REMOTE_WRITE_SIGV4: 'true',
          AWS_REGION: 'ap-south-1',
        }).remoteWrite?.sigv4,
      ).toEqual({ region: 'ap-south-1' });
      const none = configError({
        REMOTE_WRITE_URL: 'https://proxy.example.com/aps/api/v1/remote_write',
        REMOTE_WRITE_SIGV4: 'true',
      });
      expect(none.variable).toBe('REMOTE_WRITE_SIGV4_REGION');
      expect(none.message).toContain('is required for SigV4');
    });

    it('REMOTE_WRITE_SIGV4_REGION without SigV4 is refused', () => {
      for (const env of [
        {
          REMOTE_WRITE_URL: AMP,
          REMOTE_WRITE_SIGV4: 'false',
          REMOTE_WRITE_SIGV4_REGION: 'us-east-1',
        },
        { REMOTE_WRITE_URL: RW, REMOTE_WRITE_SIGV4_REGION: 'us-east-1' },
      ]) {
        const error = configError(env);
        expect(error.variable).toBe('REMOTE_WRITE_SIGV4_REGION');
        expect(error.message).toContain('REMOTE_WRITE_SIGV4 is false');
      }
    });

    it('refuses a region that is not one, a plain http URL, a word that is not true or false', () => {
      const region = configError({
        REMOTE_WRITE_URL: AMP,
        REMOTE_WRITE_SIGV4_REGION: 'Europe/Paris',
      });
      expect(region.variable).toBe('REMOTE_WRITE_SIGV4_REGION');
      expect(region.message).toContain('is not an AWS region');
      const http = configError({
        REMOTE_WRITE_URL: RW,
        REMOTE_WRITE_SIGV4: 'true',
        AWS_REGION: 'eu-west-1',
      });
      expect(http.variable).toBe('REMOTE_WRITE_SIGV4');
      expect(http.message).toContain('needs an https REMOTE_WRITE_URL');
      expect(configError({ REMOTE_WRITE_URL: AMP, REMOTE_WRITE_SIGV4: 'maybe' }).variable).toBe(
        'REMOTE_WRITE_SIGV4',
      );
    });

    it('is not combined with basic auth or a bearer token, none of whose secrets is shown', () => {
      for (const extra of [
        { REMOTE_WRITE_USERNAME: 'ops', REMOTE_WRITE_PASSWORD: 'pw-secret-1' },
        { REMOTE_WRITE_BEARER_TOKEN: 'tok-secret-1' },
      ]) {
        const error = configError({ REMOTE_WRITE_URL: AMP, ...extra });
        expect(error.variable).toBe('REMOTE_WRITE_SIGV4');
        expect(error.message).toContain(
          'cannot be used together with basic auth or a bearer token',
        );
        expect(error.message).not.toMatch(/pw-secret-1|tok-secret-1/);
      }
      const inUrl = configError({
        REMOTE_WRITE_URL: AMP.replace('//', '//ops:hunter2secret@'),
      });
      expect(inUrl.variable).toBe('REMOTE_WRITE_SIGV4');
      expect(inUrl.message).not.toContain('hunter2secret');
    });
  });

  describe('REMOTE_WRITE_HEADERS', () => {
    const headers = (raw: string) =>
      loadConfig({ REMOTE_WRITE_URL: RW, REMOTE_WRITE_HEADERS: raw }).remoteWrite?.headers;

    it('reads Name: value pairs, trimmed; a value may hold a colon', () => {
      expect(headers(' X-Scope-OrgID: tenant-1 ,X-Api-Key:abc:def, ')).toEqual({
        'X-Scope-OrgID': 'tenant-1',
        'X-Api-Key': 'abc:def',
      });
    });

    it.each([
      'Authorization',
      'authorization',
      'Content-Encoding',
      'Content-Type',
      'Content-Length',
      'Host',
      'User-Agent',
      'X-Prometheus-Remote-Write-Version',
      'X-Amz-Date',
      'X-Amz-Security-Token',
      'X-Amz-Content-Sha256',
      'Transfer-Encoding',
      'Connection',
    ])('refuses %s, set by the exporter itself, without showing the value', (name) => {
      const error = configError({
        REMOTE_WRITE_URL: RW,
        REMOTE_WRITE_HEADERS: `X-Ok: 1, ${name}: Bearer sekrit-value-1`,
      });
      expect(error.variable).toBe('REMOTE_WRITE_HEADERS');
      expect(error.message).toContain(`"${name}" is set by the exporter itself`);
      expect(error.message).not.toContain('sekrit-value-1');
    });

    it.each([
      ['no colon', 'X-Api-Key sekrit-value-1', /expected Name: value/],
      ['an equals sign for the colon', 'X-Api-Key=sekrit-value-1', /expected Name: value/],
      ['a bare value', 'sekrit-value-1', /expected Name: value/],
      ['a comma in a value', 'X-Api-Key: abc,sekrit-value-1', /entry 2 of 2/],
      ['a bad name', 'X Api: sekrit-value-1', /is not a valid header name/],
      ['an empty value', 'X-Api-Key:', /must be printable ASCII, not empty/],
      ['a value outside printable ASCII', 'X-Api-Key: sekrit-välue-1', /printable ASCII/],
      ['the same name twice', 'X-Api-Key: sekrit-value-1, x-api-key: sekrit-value-1', /twice/],
    ])('refuses %s, without showing the value', (_what, raw, why) => {
      const error = configError({ REMOTE_WRITE_URL: RW, REMOTE_WRITE_HEADERS: raw });
      expect(error.variable).toBe('REMOTE_WRITE_HEADERS');
      expect(error.message).toMatch(why);
      expect(error.message).not.toMatch(/sekrit-v.lue-1/);
    });
  });

  describe('numeric bounds', () => {
    it.each([
      ['REMOTE_WRITE_TIMEOUT_MS', '100', 100],
      ['REMOTE_WRITE_TIMEOUT_MS', '900000', 900_000],
      ['REMOTE_WRITE_BATCH_SAMPLES', '1', 1],
      ['REMOTE_WRITE_BATCH_SAMPLES', '100000', 100_000],
    ])('%s=%s is taken', (name, raw, value) => {
      const config = loadConfig({ REMOTE_WRITE_URL: RW, [name]: raw }).remoteWrite;
      expect(name === 'REMOTE_WRITE_TIMEOUT_MS' ? config?.timeoutMs : config?.batchSamples).toBe(
        value,
      );
    });

    it.each([
      ['REMOTE_WRITE_TIMEOUT_MS', '99'],
      ['REMOTE_WRITE_TIMEOUT_MS', '900001'],
      ['REMOTE_WRITE_TIMEOUT_MS', '1.5'],
      ['REMOTE_WRITE_TIMEOUT_MS', '-5'],
      ['REMOTE_WRITE_BATCH_SAMPLES', '0'],
      ['REMOTE_WRITE_BATCH_SAMPLES', '100001'],
      ['REMOTE_WRITE_BATCH_SAMPLES', 'lots'],
    ])('%s=%s is refused, naming it', (name, raw) => {
      const error = configError({ REMOTE_WRITE_URL: RW, [name]: raw });
      expect(error.variable).toBe(name);
      expect(error.message).toMatch(/must be (a whole number )?from \d+ to \d+/);
    });
  });

  it("environmentSecrets has the remote write password, token, URL password and every header's value", () => {
    const secrets = environmentSecrets({
      REMOTE_WRITE_URL: 'https://ops:url-secret-1@rw/api/v1/write',
      REMOTE_WRITE_PASSWORD: 'pw-secret-1',
      REMOTE_WRITE_BEARER_TOKEN: 'tok-secret-1',
      REMOTE_WRITE_HEADERS: 'X-Scope-OrgID: tenant-1, X-Api-Key: key-secret-1',
    });
    expect(secrets).toEqual(
      expect.arrayContaining([
        'url-secret-1',
        'pw-secret-1',
        'tok-secret-1',
        'tenant-1',
        'key-secret-1',
      ]),
    );
  });
});
