/**
 * The push against hostile answers (test/harness/hostile-http.ts): answers
 * that echo the credentials, answers of hundreds of megabytes, and an outage
 * that must not cost more than PUSHGATEWAY_TIMEOUT_MS.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger.js';
import { credentialForms, deliver, push } from '../src/pushgateway.js';
import { startHostileHttp, type HostileHttp } from './harness/hostile-http.js';
import { refusal } from './harness/refusal.js';

let server: HostileHttp | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

const key = { job: 'j', labels: { instance: 'i' } };

describe('push: an answer echoing the request headers', () => {
  it.each([
    [
      'basic auth from the URL',
      (url: string) => new URL(url.replace('//', '//ops:S3cr%3At-p%40ss@')),
    ],
    ['basic auth from PUSHGATEWAY_USERNAME/_PASSWORD', (url: string) => new URL(url)],
  ])('with %s: no form of the password is in the error', async (what, makeUrl) => {
    server = await startHostileHttp({ status: 401, echoHeaders: true });
    const url = makeUrl(server.url);
    const auth = what.startsWith('basic auth from PUSH')
      ? ({ kind: 'basic', username: 'ops', password: 'S3cr:t-p@ss' } as const)
      : undefined;
    const error = await refusal(() =>
      push({ url, job: 'j', labels: {}, body: 'x 1\n', timeoutMs: 5_000, auth }),
    );
    // The server did see the credentials: the echo is real.
    const sent = server.stats.requests[0]?.headers.authorization ?? '';
    expect(sent).toMatch(/^Basic /);
    const base64 = sent.slice('Basic '.length);
    expect(Buffer.from(base64, 'base64').toString()).toBe('ops:S3cr:t-p@ss');
    for (const form of ['S3cr:t-p@ss', 'S3cr%3At-p%40ss', base64, sent]) {
      expect(error.message).not.toContain(form);
    }
    expect(error.message).toContain('[REDACTED]');
    expect(error.message).toContain('unauthorized');
  });

  it('with a bearer token: the token is not in the error', async () => {
    server = await startHostileHttp({ status: 401, echoHeaders: true });
    const token = 'tok-ABCDEFGHIJKLMNOP';
    const error = await refusal(() =>
      push({
        url: new URL(server!.url),
        job: 'j',
        labels: {},
        body: 'x 1\n',
        timeoutMs: 5_000,
        auth: { kind: 'bearer', token },
      }),
    );
    expect(server.stats.requests[0]?.headers.authorization).toBe(`Bearer ${token}`);
    expect(error.message).not.toContain(token);
  });

  it('credentialForms lists every form the logger must hide, and a logger given them hides them', () => {
    const url = new URL('http://ops:S3cr%3At@gw:9091');
    const forms = credentialForms(url, undefined);
    const header = `Basic ${Buffer.from('ops:S3cr:t').toString('base64')}`;
    expect(forms).toEqual(expect.arrayContaining(['S3cr%3At', 'S3cr:t', header, header.slice(6)]));
    const lines: string[] = [];
    const log = createLogger({ write: (l) => lines.push(l) });
    log.hide(...forms);
    log.error('x', { echoed: `Authorization: ${header}` });
    expect(lines[0]).not.toContain(header.slice(6));
  });

  it('a % that is not an escape in the URL password is sent as written, without throwing', async () => {
    server = await startHostileHttp({ status: 200 });
    const url = new URL(server.url.replace('//', '//ops:50%zz@'));
    await push({ url, job: 'j', labels: {}, body: 'x 1\n', timeoutMs: 5_000 });
    const sent = server.stats.requests[0]?.headers.authorization ?? '';
    expect(Buffer.from(sent.slice(6), 'base64').toString()).toBe('ops:50%zz');
    expect(credentialForms(url, undefined)).toContain('50%zz');
  });
});

describe('push: an answer of hundreds of megabytes', () => {
  it('reads only the start of a huge error answer, then drops the connection', async () => {
    server = await startHostileHttp({ status: 500, body: { bytes: 400 * 1024 * 1024 } });
    const before = process.memoryUsage().rss;
    const error = await refusal(() =>
      push({ url: new URL(server!.url), job: 'j', labels: {}, body: 'x 1\n', timeoutMs: 10_000 }),
    );
    expect(error.status).toBe(500);
    expect(error.message.length).toBeLessThan(1_200);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const response = server.stats.responses[0];
    expect(response?.closedEarly).toBe(true);
    // Far below the 400 MB offered (loopback buffers hold a few MB before the client leaves).
    expect(response?.bytesWritten).toBeLessThan(32 * 1024 * 1024);
    expect(process.memoryUsage().rss - before).toBeLessThan(100 * 1024 * 1024);
  });

  it('an endless answer to a push that succeeded is not waited for', async () => {
    server = await startHostileHttp({ status: 200, body: { endlessBytes: true } });
    const started = Date.now();
    await expect(
      push({ url: new URL(server.url), job: 'j', labels: {}, body: 'x 1\n', timeoutMs: 10_000 }),
    ).resolves.toBe(200);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe('deliver: the whole push stays within PUSHGATEWAY_TIMEOUT_MS', () => {
  it('an answering-500 Pushgateway costs timeoutMs, not the rest of the run', async () => {
    server = await startHostileHttp({ status: 500, body: { text: 'down' } });
    const started = Date.now();
    const error = await refusal(() =>
      deliver({
        url: new URL(server!.url),
        key,
        body: 'x 1\n',
        timeoutMs: 1_500,
        // The run would still have 30 s: the old code retried until then.
        deadline: Date.now() + 30_000,
      }),
    );
    const took = Date.now() - started;
    expect(error.message).toMatch(/HTTP 500.*\(after \d+ attempts\)/);
    expect(server.stats.requests.length).toBeGreaterThan(1);
    expect(took).toBeLessThan(1_500 + 500);
  });

  it('a Pushgateway that never answers costs timeoutMs in all, attempts and pauses together', async () => {
    server = await startHostileHttp({ status: 200, delayMs: 60_000 });
    const started = Date.now();
    await refusal(() =>
      deliver({
        url: new URL(server!.url),
        key,
        body: 'x 1\n',
        timeoutMs: 1_200,
        deadline: Date.now() + 30_000,
      }),
    );
    expect(Date.now() - started).toBeLessThan(1_200 + 500);
  });

  it('a 4xx is not retried', async () => {
    server = await startHostileHttp({ status: 400, body: { text: 'bad' } });
    await refusal(() =>
      deliver({
        url: new URL(server!.url),
        key,
        body: 'x 1\n',
        timeoutMs: 5_000,
        deadline: Date.now() + 5_000,
      }),
    );
    expect(server.stats.requests).toHaveLength(1);
  });
});
