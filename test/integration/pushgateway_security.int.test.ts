/**
 * push() against a real Pushgateway serving TLS and basic auth through its
 * --web.config.file (exporter-toolkit): a CA and a server certificate made
 * here with the openssl CLI, the bcrypt hash made here with bcryptjs. No
 * PostgreSQL needed.
 */
import { silentLogger } from '../../src/logger.js';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { PushgatewayAuth } from '../../src/config.js';
import { PushError } from '../../src/errors.js';
import { isCertificateError, push, type PushRequest } from '../../src/pushgateway.js';
import { collect } from '../../src/run.js';
import { makeCertificates } from '../harness/certs.js';
import { runEnv, uniqueJob } from '../harness/context.js';
import { parseExposition, select } from '../harness/exposition.js';
import { startPushgateway, type PushgatewayServer } from '../harness/pushgateway.js';

const USER = 'pusher';
/** Characters that need care in basic auth and in a URL: ':', '@', '/', '%', non-ASCII. */
const PASSWORD = `p@ss:wörd/%-${randomBytes(6).toString('hex')}`;
const basic: PushgatewayAuth = { kind: 'basic', username: USER, password: PASSWORD };

/** GET over https with a CA of our own and basic auth: how the test reads the Pushgateway. */
function get(
  url: string,
  ca: string,
  auth?: PushgatewayAuth,
): Promise<{ status: number; body: string }> {
  const headers: Record<string, string> = {};
  if (auth?.kind === 'basic') {
    headers.authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
  }
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca: fs.readFileSync(ca), headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.on('error', reject);
    req.setTimeout(5_000, () => req.destroy(new Error('no answer within 5 s')));
  });
}

let dir: string | undefined;
let caFile: string;
let otherCaFile: string;
let gateway: PushgatewayServer | undefined;
/** Its base URL, https://127.0.0.1:<port>. */
let gatewayUrl: string;

beforeAll(async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgateway-tls-'));
  dir = tmp;
  const own = makeCertificates(tmp, 'ca');
  caFile = own.ca;
  otherCaFile = makeCertificates(tmp, 'other-ca').ca;
  const { cert, key } = own;
  const webConfig = path.join(tmp, 'web-config.yml');
  // JSON is YAML; cost 4 keeps bcrypt fast (the Pushgateway checks every request).
  fs.writeFileSync(
    webConfig,
    JSON.stringify({
      tls_server_config: { cert_file: cert, key_file: key },
      basic_auth_users: { [USER]: bcrypt.hashSync(PASSWORD, 4) },
    }),
  );
  gateway = await startPushgateway({
    args: [`--web.config.file=${webConfig}`],
    scheme: 'https',
    ready: async (url) => (await get(`${url}/-/ready`, caFile, basic)).status === 200,
  });
  gatewayUrl = gateway.url;
});

afterAll(async () => {
  await gateway?.stop();
  if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
});

/** A push of one sample, `tls_test_metric 42`, into a group of its own. */
function request(overrides: Partial<PushRequest> = {}): PushRequest & { job: string } {
  return {
    url: new URL(gatewayUrl),
    job: uniqueJob('tls'),
    labels: { instance: 'tls-test' },
    body: '# TYPE tls_test_metric gauge\ntls_test_metric 42\n',
    timeoutMs: 5_000,
    ...overrides,
  };
}

async function pushError(req: PushRequest): Promise<PushError> {
  const error = await push(req).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(PushError);
  return error as PushError;
}

async function pushedValue(job: string): Promise<number | undefined> {
  const { status, body } = await get(`${gatewayUrl}/metrics`, caFile, basic);
  expect(status).toBe(200);
  return select(parseExposition(body), 'tls_test_metric', { job, instance: 'tls-test' })[0]?.value;
}

describe('push to a Pushgateway with TLS and basic auth', () => {
  it('is accepted with the right CA and password, and the metrics can be read back', async () => {
    const req = request({ auth: basic, caFile });
    await expect(push(req)).resolves.toBe(200);
    expect(await pushedValue(req.job)).toBe(42);
  });

  it('is accepted with user:password@ in the URL', async () => {
    const url = new URL(gatewayUrl);
    url.username = USER;
    url.password = PASSWORD;
    const req = request({ url, caFile });
    await expect(push(req)).resolves.toBe(200);
    expect(await pushedValue(req.job)).toBe(42);
  });

  it('fails with 401 on a wrong password, naming the Pushgateway and no password', async () => {
    const wrong = `wrong-${randomBytes(6).toString('hex')}`;
    const req = request({ auth: { kind: 'basic', username: USER, password: wrong }, caFile });
    const error = await pushError(req);
    expect(error.status).toBe(401);
    expect(error.message).toMatch(
      new RegExp(
        `^Pushgateway ${gatewayUrl}/ answered HTTP 401 \\(unauthorized: the basic auth credentials were refused\\)`,
      ),
    );
    expect(error.message).not.toContain(wrong);
    expect(error.message).not.toContain(PASSWORD);
    expect(await pushedValue(req.job)).toBeUndefined();
  });

  it('fails with 401 without credentials', async () => {
    const error = await pushError(request({ caFile }));
    expect(error.status).toBe(401);
    expect(error.message).toMatch(/no credentials were sent/);
  });

  it("fails on the certificate with Node's default CAs", async () => {
    const error = await pushError(request({ auth: basic }));
    expect(error.status).toBeUndefined();
    expect(isCertificateError(error)).toBe(true);
    expect(error.message).toMatch(
      new RegExp(`^push to Pushgateway ${gatewayUrl}/ failed: TLS certificate not accepted: `),
    );
    expect(error.message).toMatch(/certificate/);
    expect(error.message).toMatch(/trusting Node's default CAs \(set PUSHGATEWAY_CA_FILE/);
    expect(error.message).not.toContain(PASSWORD);
  });

  it('fails on the certificate with the CA of another authority', async () => {
    const error = await pushError(request({ auth: basic, caFile: otherCaFile }));
    expect(error.status).toBeUndefined();
    expect(isCertificateError(error)).toBe(true);
    expect(error.message).toMatch(/TLS certificate not accepted: .*certificate/);
    expect(error.message).toContain(`trusting only the CAs of PUSHGATEWAY_CA_FILE=${otherCaFile}`);
    expect(error.message).not.toContain(PASSWORD);
  });

  it('fails on the certificate even with NODE_TLS_REJECT_UNAUTHORIZED=0', async () => {
    vi.stubEnv('NODE_TLS_REJECT_UNAUTHORIZED', '0');
    try {
      const error = await pushError(request({ auth: basic, caFile: otherCaFile }));
      expect(isCertificateError(error)).toBe(true);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});

describe('a whole run to that Pushgateway', () => {
  it('pushes through TLS with basic auth from PUSHGATEWAY_USERNAME/PASSWORD/CA_FILE, logging no password', async () => {
    const env = runEnv({
      PUSHGATEWAY_URL: gatewayUrl,
      PUSHGATEWAY_USERNAME: USER,
      PUSHGATEWAY_PASSWORD: PASSWORD,
      PUSHGATEWAY_CA_FILE: caFile,
    });
    const lines: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => lines.push(String(chunk)) > 0);
    try {
      const summary = await collect(env);
      expect(summary).toMatchObject({ up: true, collectorErrors: 0 });
    } finally {
      vi.restoreAllMocks();
    }
    expect(lines.join('')).not.toContain(PASSWORD);
    const { body } = await get(`${gatewayUrl}/metrics`, caFile, basic);
    const up = select(parseExposition(body), 'postgresql_up', { job: env.PUSHGATEWAY_JOB! });
    expect(up[0]?.value).toBe(1);
  });

  it('does not retry a certificate it cannot trust: fails at once', async () => {
    const env = runEnv({
      PUSHGATEWAY_URL: gatewayUrl,
      PUSHGATEWAY_USERNAME: USER,
      PUSHGATEWAY_PASSWORD: PASSWORD,
      PUSHGATEWAY_CA_FILE: otherCaFile,
    });
    const started = Date.now();
    const error = await collect(env, {
      log: silentLogger(),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PushError);
    expect((error as Error).message).toMatch(/TLS certificate not accepted/);
    expect((error as Error).message).not.toMatch(/attempts/);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
