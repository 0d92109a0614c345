/**
 * TLS to a real PostgreSQL of the project's major, serving a certificate of a
 * CA made here with the openssl CLI (subjectAltName DNS:localhost only),
 * through the exporter's own connect(): what each POSTGRESQL_SSL mode checks,
 * and that every failure says why without the password.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { SslMode } from '../../src/config.js';
import type { PostgresTarget } from '../../src/target.js';
import { connect, loadRootCerts } from '../../src/db.js';
import { ConfigError } from '../../src/errors.js';
import { servers } from '../harness/context.js';
import { giveToServer, startPostgres, type PostgresServer } from '../harness/postgres.js';

let dir = '';
let server: PostgresServer | undefined;
/** The CA that signed the server's certificate, and one that did not. */
let caFile: string;
let otherCaFile: string;

function openssl(...args: string[]): void {
  const out = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8', timeout: 30_000 });
  if (out.status !== 0)
    throw new Error(`openssl ${args[0]} failed: ${out.stderr || String(out.error)}`);
}

/** A self-signed CA certificate and its key (EC P-256: fast to make). */
function makeCa(name: string): void {
  fs.writeFileSync(
    path.join(dir, `${name}.cnf`),
    [
      '[req]',
      'distinguished_name = dn',
      'prompt = no',
      '[dn]',
      `CN = ${name} test CA`,
      '[ca]',
      'basicConstraints = critical, CA:TRUE',
      'keyUsage = critical, keyCertSign, cRLSign',
      'subjectKeyIdentifier = hash',
      '',
    ].join('\n'),
  );
  openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`);
  openssl(
    'req',
    '-x509',
    '-new',
    '-key',
    `${name}.key`,
    '-days',
    '2',
    '-sha256',
    '-config',
    `${name}.cnf`,
    '-extensions',
    'ca',
    '-out',
    `${name}.crt`,
  );
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-tls-'));
  fs.chmodSync(dir, 0o755); // the server (user postgres when root) reads the certificate here
  makeCa('ca');
  makeCa('other');
  fs.writeFileSync(
    path.join(dir, 'server.ext'),
    [
      'basicConstraints = CA:FALSE',
      'keyUsage = critical, digitalSignature, keyEncipherment',
      'extendedKeyUsage = serverAuth',
      'subjectAltName = DNS:localhost',
      '',
    ].join('\n'),
  );
  openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'server.key');
  openssl('req', '-new', '-key', 'server.key', '-subj', '/CN=localhost', '-out', 'server.csr');
  openssl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '2',
    '-sha256',
    '-extfile',
    'server.ext',
    '-out',
    'server.crt',
  );
  const keyFile = path.join(dir, 'server.key');
  fs.chmodSync(keyFile, 0o600); // PostgreSQL refuses a key others can read
  giveToServer(keyFile);
  fs.chmodSync(path.join(dir, 'server.crt'), 0o644);
  caFile = path.join(dir, 'ca.crt');
  otherCaFile = path.join(dir, 'other.crt');

  server = await startPostgres({
    binDir: servers().postgres.binDir,
    settings: {
      // Both loopback addresses, so that "localhost" reaches it whichever it resolves to.
      listen_addresses: 'localhost',
      ssl: 'on',
      ssl_cert_file: path.join(dir, 'server.crt'),
      ssl_key_file: keyFile,
    },
  });
});

afterAll(async () => {
  await server?.stop();
  if (dir !== '') fs.rmSync(dir, { recursive: true, force: true });
});

function target(ssl: SslMode, host: string, sslRootCert?: string): PostgresTarget {
  return {
    host,
    port: server!.port,
    database: 'postgres',
    user: server!.user,
    password: server!.password,
    ssl,
    ...(sslRootCert === undefined ? {} : { sslRootCert }),
  };
}

const options = { connectTimeoutMs: 5_000, statementTimeoutMs: 5_000, applicationName: 'tls-test' };

/** Connects, and returns what pg_stat_ssl says about this very connection. */
async function sslOfConnection(t: PostgresTarget) {
  const db = await connect(t, options);
  try {
    const [one] = await db.query<{ one: number }>('SELECT 1 AS one');
    expect(one?.one).toBe(1);
    const [row] = await db.query<{ ssl: boolean; version: string | null }>(
      'SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
    );
    return row;
  } finally {
    await db.close();
  }
}

/** The error connect() fails with; its message must not hold the password. */
async function refusal(t: PostgresTarget): Promise<Error> {
  const error = await connect(t, options).then(
    async (db) => {
      await db.close();
      throw new Error(`connected with ${t.ssl} to ${t.host}, expected a refusal`);
    },
    (e: unknown) => e as Error,
  );
  expect(error).toBeInstanceOf(Error);
  expect(error.message).not.toContain(server!.password);
  return error;
}

describe('TLS to PostgreSQL (connect, POSTGRESQL_SSL modes)', () => {
  it('verify-full, right CA, host in the certificate: connects over TLS', async () => {
    const row = await sslOfConnection(target('verify-full', 'localhost', caFile));
    expect(row?.ssl).toBe(true);
    expect(row?.version).toMatch(/^TLSv1\.[23]$/);
  });

  it('verify-full, right CA, host not in the certificate: refused, naming the host', async () => {
    const error = await refusal(target('verify-full', '127.0.0.1', caFile));
    expect(error.message).toMatch(
      /^Hostname\/IP does not match certificate's altnames: IP: 127\.0\.0\.1 is not in the cert's list/,
    );
  });

  it('verify-full, CA of another authority: refused, the chain does not verify', async () => {
    const error = await refusal(target('verify-full', 'localhost', otherCaFile));
    expect(error.message).toMatch(
      /^(unable to verify the first certificate|unable to get local issuer certificate)$/,
    );
  });

  it("verify-full without a CA file (Node's trusted CAs): refused, the chain does not verify", async () => {
    const error = await refusal(target('verify-full', 'localhost'));
    expect(error.message).toMatch(
      /^(unable to verify the first certificate|unable to get local issuer certificate)$/,
    );
  });

  it('verify-ca, right CA, host not in the certificate: connects (chain only)', async () => {
    const row = await sslOfConnection(target('verify-ca', '127.0.0.1', caFile));
    expect(row?.ssl).toBe(true);
  });

  it('verify-ca, CA of another authority: refused', async () => {
    const error = await refusal(target('verify-ca', '127.0.0.1', otherCaFile));
    expect(error.message).toMatch(/unable to (verify the first|get local issuer) certificate/);
  });

  it('require, no CA: connects encrypted, certificate unchecked', async () => {
    const row = await sslOfConnection(target('require', '127.0.0.1'));
    expect(row?.ssl).toBe(true);
  });

  it('disable: connects in clear text (the server does not demand TLS)', async () => {
    const row = await sslOfConnection(target('disable', '127.0.0.1'));
    expect(row?.ssl).toBe(false);
  });
});

describe('POSTGRESQL_SSL_ROOT_CERT files', () => {
  it('takes a relative path from LAMBDA_TASK_ROOT', async () => {
    vi.stubEnv('LAMBDA_TASK_ROOT', dir);
    try {
      const row = await sslOfConnection(target('verify-full', 'localhost', 'ca.crt'));
      expect(row?.ssl).toBe(true);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('reads a bundle of several certificates (as RDS global-bundle.pem is)', () => {
    const bundle = path.join(dir, 'bundle.pem');
    fs.writeFileSync(
      bundle,
      `${fs.readFileSync(otherCaFile, 'utf8')}\n${fs.readFileSync(caFile, 'utf8')}`,
    );
    expect(loadRootCerts(bundle)).toHaveLength(2);
  });

  it('a missing file: a ConfigError naming the variable and the path, before any connection', async () => {
    const error = await refusal(target('verify-full', 'localhost', path.join(dir, 'nope.pem')));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe(
      `POSTGRESQL_SSL_ROOT_CERT: cannot read ${path.join(dir, 'nope.pem')}: ENOENT`,
    );
  });

  it('a file that is not PEM: a ConfigError naming the variable and the path', async () => {
    const key = path.join(dir, 'not-pem.txt');
    fs.writeFileSync(key, 'hello\n');
    const error = await refusal(target('verify-ca', 'localhost', key));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe(
      `POSTGRESQL_SSL_ROOT_CERT: ${key} is not a PEM bundle: no "-----BEGIN CERTIFICATE-----" block`,
    );
  });

  it('a damaged certificate: a ConfigError saying which one', () => {
    const broken = path.join(dir, 'broken.pem');
    fs.writeFileSync(
      broken,
      `${fs.readFileSync(caFile, 'utf8')}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`,
    );
    expect(() => loadRootCerts(broken)).toThrow(
      new RegExp(`^POSTGRESQL_SSL_ROOT_CERT: ${broken}: certificate 2 of 2 is not valid`),
    );
  });
});
