/**
 * The push request on the wire, against a local HTTP endpoint that records
 * it (the real Pushgateway is exercised by the integration tests).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { PushError } from '../src/errors.js';
import { EXPOSITION_CONTENT_TYPE, groupingPath, push } from '../src/pushgateway.js';

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
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
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
      `Pushgateway ${url}/ answered HTTP 401: unauthorized`,
    );
    expect((error as PushError).message).not.toContain('p@ss');
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
