/**
 * The push request on the wire, against a local HTTP endpoint that records
 * it (the real Pushgateway is exercised by the integration tests).
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ConfigError, PushError } from '../src/errors.js';
import {
  EXPOSITION_CONTENT_TYPE,
  caCertificates,
  groupingPath,
  isCertificateError,
  push,
} from '../src/pushgateway.js';

interface Recorded {
  method: string | undefined;
  url: string | undefined;
  headers: http.IncomingHttpHeaders;
  body: string;
}

let server: http.Server | undefined;

async function endpoint(
  answer: (res: http.ServerResponse) => void,
): Promise<{ url: string; seen: Recorded[] }> {
  const seen: Recorded[] = [];
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({
        method: req.method,
        url: req.url,
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      });
      answer(res);
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

afterEach(async () => {
  const open = server;
  if (open === undefined) return;
  server = undefined;
  open.closeAllConnections();
  await new Promise((resolve) => open.close(resolve));
});

describe('push', () => {
  it('PUTs the exposition to the base64 grouping path with the text content type', async () => {
    const { url, seen } = await endpoint((res) => res.writeHead(200).end());
    const status = await push({
      url: new URL(`${url}/prefix/`),
      job: 'j',
      labels: { instance: 'h:5432/db' },
      body: 'x 1\n',
      timeoutMs: 2000,
    });
    expect(status).toBe(200);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({
      method: 'PUT',
      url: `/prefix/${groupingPath('j', { instance: 'h:5432/db' })}`,
      body: 'x 1\n',
    });
    expect(seen[0]?.headers['content-type']).toBe(EXPOSITION_CONTENT_TYPE);
    expect(seen[0]?.headers.authorization).toBeUndefined();
  });

  it('sends basic auth from the URL and keeps the password out of errors', async () => {
    const { url, seen } = await endpoint((res) => res.writeHead(401).end('unauthorized'));
    const withAuth = new URL(url);
    withAuth.username = 'pusher';
    withAuth.password = 'p@ss:word';
    const error = await push({
      url: withAuth,
      job: 'j',
      labels: {},
      body: '',
      timeoutMs: 2000,
    }).catch((e: unknown) => e);
    expect(seen[0]?.headers.authorization).toBe(
      `Basic ${Buffer.from('pusher:p@ss:word').toString('base64')}`,
    );
    expect(error).toBeInstanceOf(PushError);
    expect((error as PushError).status).toBe(401);
    expect((error as PushError).message).toBe(
      `Pushgateway ${url}/ answered HTTP 401 (unauthorized: the basic auth credentials were refused): unauthorized`,
    );
    expect((error as PushError).message).not.toContain('p@ss');
  });

  it('sends basic auth from the request, with any character in the password', async () => {
    const { url, seen } = await endpoint((res) => res.writeHead(200).end());
    const password = ' p@ss:wörd/% ';
    await push({
      url: new URL(url),
      job: 'j',
      labels: {},
      body: '',
      timeoutMs: 2000,
      auth: { kind: 'basic', username: 'pusher', password },
    });
    expect(seen[0]?.headers.authorization).toBe(
      `Basic ${Buffer.from(`pusher:${password}`, 'utf8').toString('base64')}`,
    );
  });

  it('sends a bearer token and keeps it out of errors, even when the answer echoes it', async () => {
    const token = 'eyJhbGciOi.secret-token_value';
    const { url, seen } = await endpoint((res) => res.writeHead(401).end(`bad token ${token}`));
    const error = await push({
      url: new URL(url),
      job: 'j',
      labels: {},
      body: 'x 1\n',
      timeoutMs: 2000,
      auth: { kind: 'bearer', token },
    }).catch((e: unknown) => e);
    expect(seen[0]?.headers.authorization).toBe(`Bearer ${token}`);
    expect(error).toBeInstanceOf(PushError);
    expect((error as PushError).status).toBe(401);
    expect((error as PushError).message).toBe(
      `Pushgateway ${url}/ answered HTTP 401 (unauthorized: the bearer token was refused): bad token [REDACTED]`,
    );
  });

  it('says so when a 401 comes without credentials sent', async () => {
    const { url, seen } = await endpoint((res) => res.writeHead(401).end());
    const error = await push({
      url: new URL(url),
      job: 'j',
      labels: {},
      body: '',
      timeoutMs: 2000,
    }).catch((e: unknown) => e);
    expect(seen[0]?.headers.authorization).toBeUndefined();
    expect((error as PushError).message).toMatch(
      /answered HTTP 401 \(unauthorized: no credentials were sent \(set PUSHGATEWAY_USERNAME\/PUSHGATEWAY_PASSWORD or PUSHGATEWAY_BEARER_TOKEN\)\)$/,
    );
  });

  it('gives up at the deadline when the Pushgateway never answers', async () => {
    const { url } = await endpoint(() => undefined);
    const started = Date.now();
    const error = await push({
      url: new URL(url),
      job: 'j',
      labels: {},
      body: 'x 1\n',
      timeoutMs: 300,
    }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(error).toBeInstanceOf(PushError);
    expect((error as Error).message).toMatch(/no answer within 300 ms/);
  });
});

describe('push with a CA file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgateway-ca-'));
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const file = (name: string, text: string) => {
    const at = path.join(dir, name);
    fs.writeFileSync(at, text);
    return at;
  };
  /** Never contacted: the CA file is checked before connecting. */
  const request = (caFile: string, url = 'https://127.0.0.1:1/') => ({
    url: new URL(url),
    job: 'j',
    labels: {},
    body: '',
    timeoutMs: 2000,
    caFile,
  });
  const pem = tls.rootCertificates[0]!;

  it.each([
    ['missing', () => path.join(dir, 'missing.pem'), /cannot read .*missing\.pem: ENOENT/],
    ['not PEM', () => file('key.txt', 'not a certificate'), /key\.txt.* is not a PEM bundle/],
    [
      'a broken PEM block',
      () => file('broken.pem', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'),
      /broken\.pem.*: certificate 1 of 1 is not valid/,
    ],
  ])(
    'refuses a %s file with a ConfigError naming the variable and the path',
    async (_, make, message) => {
      const caFile = make();
      const error = await push(request(caFile)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).variable).toBe('PUSHGATEWAY_CA_FILE');
      expect((error as ConfigError).message).toContain(caFile);
      expect((error as ConfigError).message).toMatch(message);
    },
  );

  it('refuses a CA file for an http URL', async () => {
    const caFile = file('ca.pem', pem);
    const error = await push(request(caFile, 'http://u:pw@127.0.0.1:1/')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toBe(
      'PUSHGATEWAY_CA_FILE: needs an https Pushgateway URL, got http://127.0.0.1:1/',
    );
  });

  it('reads the file once and keeps its certificates', () => {
    const caFile = file('two.pem', `${pem}\n${tls.rootCertificates[1]!}\n`);
    const certificates = caCertificates(caFile);
    expect(certificates).toEqual([pem.trim(), tls.rootCertificates[1]!.trim()]);
    fs.writeFileSync(caFile, 'changed');
    expect(caCertificates(caFile)).toBe(certificates);
  });
});

describe('isCertificateError', () => {
  it('tells a refused certificate from other failures', () => {
    const certificate = Object.assign(new Error('unable to verify the first certificate'), {
      code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    });
    expect(isCertificateError(new PushError('x', undefined, { cause: certificate }))).toBe(true);
    expect(isCertificateError(certificate)).toBe(true);
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(isCertificateError(new PushError('x', undefined, { cause: refused }))).toBe(false);
    expect(isCertificateError(new PushError('x', 500))).toBe(false);
  });
});
