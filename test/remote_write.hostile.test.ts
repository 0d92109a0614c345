/**
 * Remote write against receivers that fail (test/harness/rw-receiver.ts, a
 * local node:http/https server): refused connections, 5xx and 429 then
 * success, a 4xx that must not be retried, answers that echo credentials or
 * run to a megabyte, a receiver that never answers, a failure after some
 * batches got through, and TLS with a CA of its own. Also the headers every
 * request carries.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { BUILD_VERSION } from '../src/collectors/self.js';
import type { RemoteWriteConfig } from '../src/config.js';
import { remoteWriteConfig as config } from './harness/rw-receiver.js';
import { PushError } from '../src/errors.js';
import { createLogger } from '../src/logger.js';
import { RefreshCache } from '../src/refresh.js';
import { WrittenRuns, remoteWrite, type RemoteWriteDelivery } from '../src/remote_write.js';
import { makeCertificates } from './harness/certs.js';
import { collect } from '../src/run.js';
import { LastDeliveries } from '../src/sinks.js';
import { startHostileHttp } from './harness/hostile-http.js';
import { freePort } from './harness/ports.js';
import {
  decodeWrite,
  labelsOf,
  startReceiver,
  type ReceivedRequest,
  type Receiver,
} from './harness/rw-receiver.js';
import { refusal } from './harness/refusal.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rw-hostile-'));
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

let receiver: Receiver | undefined;
afterEach(async () => {
  await receiver?.stop();
  receiver = undefined;
});

const key = { job: 'j', labels: { instance: 'i' } };
const BODY = '# HELP g G.\n# TYPE g gauge\ng{n="0"} 1\ng{n="1"} 2\ng{n="2"} 3\n';

function write(c: RemoteWriteConfig, extra: Partial<RemoteWriteDelivery> = {}) {
  return remoteWrite({
    config: c,
    key,
    body: BODY,
    timestampMs: 1_796_000_000_000,
    deadline: Date.now() + 30_000,
    written: new WrittenRuns(),
    ...extra,
  });
}

/** An answer of the request's headers as sent, one `Name: value` line each. */
function echo(request: ReceivedRequest): string {
  const lines: string[] = [];
  for (let i = 0; i + 1 < request.rawHeaders.length; i += 2) {
    lines.push(`${request.rawHeaders[i]!}: ${request.rawHeaders[i + 1]!}`);
  }
  return lines.join('\n');
}

describe('a receiver that is not there', () => {
  it('connection refused: a clear error within the timeout, no hang', async () => {
    const port = await freePort();
    const started = Date.now();
    const error = await refusal(() =>
      write(config(`http://127.0.0.1:${port}/api/v1/write`, { timeoutMs: 1_500 })),
    );
    expect(Date.now() - started).toBeLessThan(1_500 + 1_500);
    expect(error.message).toContain(
      `writing to remote write endpoint http://127.0.0.1:${port}/api/v1/write failed: `,
    );
    expect(error.message).toMatch(/ECONNREFUSED/);
    expect(error.status).toBeUndefined();
  });
});

describe('retries', () => {
  it.each([503, 500, 429])('%d then 200: written, the same request sent again', async (status) => {
    receiver = await startReceiver({
      answer: (index) => (index === 0 ? { status, body: 'busy' } : { status: 200 }),
    });
    const result = await write(config(receiver.url));
    expect(result).toMatchObject({ samples: 3, batches: 1 });
    expect(receiver.requests).toHaveLength(2);
    expect(receiver.requests[1]!.body.equals(receiver.requests[0]!.body)).toBe(true);
    expect(decodeWrite(receiver.requests[1]!.body).timeseries).toHaveLength(3);
  });

  it('always 503: retried until the timeout, then an error saying how many attempts', async () => {
    receiver = await startReceiver({ answer: () => ({ status: 503, body: 'overloaded' }) });
    const started = Date.now();
    const error = await refusal(() => write(config(receiver!.url, { timeoutMs: 1_500 })));
    expect(Date.now() - started).toBeLessThan(1_500 + 1_500);
    expect(receiver.requests.length).toBeGreaterThan(1);
    expect(error.status).toBe(503);
    expect(error.message).toMatch(/answered HTTP 503: overloaded \(after \d+ attempts\)/);
  });

  it("the run's deadline bounds the retries when it comes before the timeout", async () => {
    receiver = await startReceiver({ answer: () => ({ status: 503 }) });
    const started = Date.now();
    await refusal(() =>
      write(config(receiver!.url, { timeoutMs: 20_000 }), { deadline: Date.now() + 1_200 }),
    );
    expect(Date.now() - started).toBeLessThan(1_200 + 1_500);
  });
});

describe('a 4xx', () => {
  it('400 is not retried: one request, the status and the answer in the error', async () => {
    receiver = await startReceiver({
      answer: () => ({ status: 400, body: 'label set has a duplicate label name' }),
    });
    const error = await refusal(() => write(config(receiver!.url)));
    expect(receiver.requests).toHaveLength(1);
    expect(error.status).toBe(400);
    expect(error.message).toBe(
      `remote write endpoint ${receiver.url} answered HTTP 400: label set has a duplicate label name`,
    );
  });

  it('an out-of-order sample refused with 400 is explained, not retried', async () => {
    receiver = await startReceiver({
      answer: () => ({ status: 400, body: 'out of order sample' }),
    });
    const error = await refusal(() => write(config(receiver!.url)));
    expect(receiver.requests).toHaveLength(1);
    expect(error.message).toMatch(/HTTP 400 \(a sample at or before one the receiver already has/);
    expect(error.message).toContain('out of order sample');
  });

  it('404 says where the write path is', async () => {
    receiver = await startReceiver({ answer: () => ({ status: 404, body: 'not found' }) });
    const error = await refusal(() => write(config(receiver!.url)));
    expect(receiver.requests).toHaveLength(1);
    expect(error.message).toMatch(/REMOTE_WRITE_URL.*\/api\/v1\/write/);
  });

  it('a 1 MB answer is cut: the error stays short', async () => {
    const huge = 'e'.repeat(1024 * 1024);
    receiver = await startReceiver({ answer: () => ({ status: 400, body: huge }) });
    const error = await refusal(() => write(config(receiver!.url)));
    expect(error.message).not.toContain(huge);
    expect(error.message.length).toBeLessThan(1_500);
    expect(error.message).toMatch(/HTTP 400: e+… \(\d+ more characters\)$/);
  });
});

describe('an answer echoing the request headers: no secret in the error or the log', () => {
  const PASSWORD = 'S3cr:t-p@ss-rw';
  const TOKEN = 'tok-RW-ABCDEFGHIJKLMNOP';
  const API_KEY = 'key-ZYXWVUTSRQPONM';

  it.each([
    ['basic auth', { auth: { kind: 'basic', username: 'ops', password: PASSWORD } } as const],
    ['a bearer token', { auth: { kind: 'bearer', token: TOKEN } } as const],
  ])('with %s and a custom header', async (_what, overrides) => {
    receiver = await startReceiver({
      answer: (_index, request) => ({ status: 401, body: echo(request) }),
    });
    const error = await refusal(() =>
      write(config(receiver!.url, { ...overrides, headers: { 'X-Api-Key': API_KEY } })),
    );
    const sent = receiver.requests[0]!.headers.authorization ?? '';
    // The secrets were sent, and echoed back.
    expect(sent).toMatch(/^(Basic|Bearer) /);
    expect(receiver.requests[0]!.headers['x-api-key']).toBe(API_KEY);
    for (const secret of [PASSWORD, TOKEN, API_KEY, sent, sent.slice(sent.indexOf(' ') + 1)]) {
      expect(error.message).not.toContain(secret);
    }
    expect(error.message).toContain('[REDACTED]');
    expect(error.message).toMatch(
      /HTTP 401 \(unauthorized: the (basic auth credentials were|bearer token was) refused\)/,
    );
    expect(receiver.requests).toHaveLength(1);
  });

  it('user:password@ in the URL: sent as basic auth, in no form in the error', async () => {
    receiver = await startReceiver({
      answer: (_index, request) => ({ status: 401, body: echo(request) }),
    });
    const url = receiver.url.replace('//', '//ops:S3cr%3At-p%40ss@');
    const error = await refusal(() => write(config(url)));
    const sent = receiver.requests[0]!.headers.authorization ?? '';
    expect(Buffer.from(sent.slice('Basic '.length), 'base64').toString()).toBe('ops:S3cr:t-p@ss');
    for (const form of ['S3cr:t-p@ss', 'S3cr%3At-p%40ss', sent.slice(6)]) {
      expect(error.message).not.toContain(form);
    }
    expect(error.message).toContain(receiver.url);
    // Never sent in the request line either.
    expect(receiver.requests[0]!.url).toBe('/api/v1/write');
  });

  it('a whole run (PostgreSQL down, postgresql_up 0 written): neither the log nor the thrown error has a secret', async () => {
    receiver = await startReceiver({
      answer: (_index, request) => ({ status: 401, body: echo(request) }),
    });
    const lines: string[] = [];
    let thrown: unknown;
    try {
      await collect(
        {
          POSTGRESQL_HOST: '127.0.0.1',
          POSTGRESQL_PASSWORD: 'db-password-1234',
          REMOTE_WRITE_URL: receiver.url,
          REMOTE_WRITE_USERNAME: 'ops',
          REMOTE_WRITE_PASSWORD: PASSWORD,
          REMOTE_WRITE_HEADERS: `X-Api-Key: ${API_KEY}, X-Scope-OrgID: tenant-secretish-1`,
        },
        {
          connect: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432')),
          log: createLogger({ write: (line) => lines.push(line) }),
          lastDeliveries: new LastDeliveries(),
          refreshCache: new RefreshCache(),
          now: () => 1_796_000_000_456,
        },
      );
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(PushError);
    // The run was written (postgresql_up 0), and the receiver saw the secrets.
    const written = decodeWrite(receiver.requests[0]!.body);
    expect(
      written.timeseries.find((s) => labelsOf(s).__name__ === 'postgresql_up')?.samples[0]?.value,
    ).toBe(0);
    // Stamped with the time the run found the server down.
    expect(
      written.timeseries.every((s) => s.samples.every((x) => x.timestamp === 1_796_000_000_456)),
    ).toBe(true);
    const sent = receiver.requests[0]!.headers.authorization ?? '';
    expect(receiver.requests[0]!.headers['x-api-key']).toBe(API_KEY);
    const failed = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.message === 'push failed');
    const sinks = failed?.sinks as { sink: string; ok: boolean; error?: string }[] | undefined;
    expect(sinks?.map((s) => [s.sink, s.ok])).toEqual([['remote_write', false]]);
    expect(sinks?.[0]?.error).toMatch(
      /HTTP 401 \(unauthorized: the basic auth credentials were refused\)/,
    );
    const everything = [...lines, (thrown as Error).message, (thrown as Error).stack ?? ''].join(
      '\n',
    );
    for (const secret of [
      PASSWORD,
      API_KEY,
      'tenant-secretish-1',
      sent.slice(6),
      'db-password-1234',
    ]) {
      expect(everything).not.toContain(secret);
    }
  });
});

describe('a receiver that does not answer', () => {
  it('fails within REMOTE_WRITE_TIMEOUT_MS, attempts and pauses together', async () => {
    receiver = await startReceiver({ answer: () => ({ status: 200, delayMs: 60_000 }) });
    const started = Date.now();
    const error = await refusal(() => write(config(receiver!.url, { timeoutMs: 1_200 })));
    expect(Date.now() - started).toBeLessThan(1_200 + 1_000);
    expect(error.message).toMatch(/no answer within \d+ ms/);
  });
});

describe('an endless answer', () => {
  it('to an accepted write is not waited for', async () => {
    const endless = await startHostileHttp({ status: 200, body: { endlessBytes: true } });
    try {
      const started = Date.now();
      await expect(write(config(`${endless.url}/api/v1/write`))).resolves.toMatchObject({
        samples: 3,
      });
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      await endless.stop();
    }
  });

  it('to a refused write is read only as far as the error needs', async () => {
    const endless = await startHostileHttp({ status: 400, body: { endlessBytes: true } });
    try {
      const error = await refusal(() => write(config(`${endless.url}/api/v1/write`)));
      expect(error.message.length).toBeLessThan(1_500);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(endless.stats.responses[0]?.closedEarly).toBe(true);
      expect(endless.stats.responses[0]?.bytesWritten).toBeLessThan(32 * 1024 * 1024);
    } finally {
      await endless.stop();
    }
  });
});

describe('a failure after some batches were accepted', () => {
  it('says how many batches failed, the first of them, and how many samples were written', async () => {
    // One series per batch; the receiver refuses the one with n="1".
    receiver = await startReceiver({
      answer: (_index, request) =>
        decodeWrite(request.body).timeseries.some((s) => labelsOf(s).n === '1')
          ? { status: 400, body: 'bad series' }
          : { status: 200 },
    });
    const written = new WrittenRuns();
    const error = await refusal(() =>
      write(config(receiver!.url, { batchSamples: 1 }), { written }),
    );
    expect(receiver.requests).toHaveLength(3);
    expect(error.status).toBe(400);
    expect(error.message).toMatch(/HTTP 400: bad series/);
    expect(error.message).toContain(
      '(1 of 3 batches not written, the first of them batch 2; 2 samples were written)',
    );
  });

  it('a batch that fails with 503 is retried alone', async () => {
    let refused = 0;
    receiver = await startReceiver({
      answer: (_index, request) => {
        const mine = decodeWrite(request.body).timeseries.some((s) => labelsOf(s).n === '2');
        if (mine && refused === 0) {
          refused += 1;
          return { status: 503 };
        }
        return { status: 200 };
      },
    });
    const result = await write(config(receiver.url, { batchSamples: 1 }));
    expect(result).toMatchObject({ samples: 3, batches: 3 });
    expect(receiver.requests).toHaveLength(4);
  });
});

describe('the headers of a write', () => {
  it('protobuf, snappy, the version, the user agent, custom headers, basic auth', async () => {
    receiver = await startReceiver();
    await write(
      config(receiver.url, {
        auth: { kind: 'basic', username: 'ops', password: 'pw' },
        headers: { 'X-Scope-OrgID': 'tenant-1', 'X-Other': 'v' },
      }),
    );
    const [request] = receiver.requests;
    expect(request!.method).toBe('POST');
    expect(request!.url).toBe('/api/v1/write');
    expect(request!.headers).toMatchObject({
      'content-encoding': 'snappy',
      'content-type': 'application/x-protobuf',
      'x-prometheus-remote-write-version': '0.1.0',
      'user-agent': `postgresql-pushgateway-exporter/${BUILD_VERSION}`,
      'x-scope-orgid': 'tenant-1',
      'x-other': 'v',
      authorization: `Basic ${Buffer.from('ops:pw').toString('base64')}`,
      'content-length': String(request!.body.length),
    });
    expect(decodeWrite(request!.body).timeseries).toHaveLength(3);
  });

  it('a bearer token', async () => {
    receiver = await startReceiver();
    await write(config(receiver.url, { auth: { kind: 'bearer', token: 'tok-123' } }));
    expect(receiver.requests[0]!.headers.authorization).toBe('Bearer tok-123');
  });

  it('no Authorization header without credentials', async () => {
    receiver = await startReceiver();
    await write(config(receiver.url));
    expect(receiver.requests[0]!.headers.authorization).toBeUndefined();
  });
});

describe('https with REMOTE_WRITE_CA_FILE', () => {
  const own = makeCertificates(tmp, 'own-ca');
  const other = makeCertificates(tmp, 'other-ca');

  it('a receiver whose certificate the CA file signed: written', async () => {
    receiver = await startReceiver({ tls: { cert: own.cert, key: own.key } });
    const result = await write(config(receiver.url, { caFile: own.ca }));
    expect(result.samples).toBe(3);
    expect(decodeWrite(receiver.requests[0]!.body).timeseries).toHaveLength(3);
  });

  it("without it, Node's default CAs: refused at once, naming the variable to set", async () => {
    receiver = await startReceiver({ tls: { cert: own.cert, key: own.key } });
    const started = Date.now();
    const error = await refusal(() => write(config(receiver!.url, { timeoutMs: 10_000 })));
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(error.message).toMatch(
      /^writing to remote write endpoint https:\/\/127\.0\.0\.1:\d+\/api\/v1\/write failed: TLS certificate not accepted: /,
    );
    expect(error.message).toContain('set REMOTE_WRITE_CA_FILE for a private CA');
    expect(receiver.requests).toHaveLength(0);
  });

  it('with the CA of another authority: refused, naming the file', async () => {
    receiver = await startReceiver({ tls: { cert: own.cert, key: own.key } });
    const error = await refusal(() => write(config(receiver!.url, { caFile: other.ca })));
    expect(error.message).toMatch(
      /TLS certificate not accepted: .*trusting only the CAs of REMOTE_WRITE_CA_FILE=/,
    );
    expect(error.message).toContain(other.ca);
    expect(receiver.requests).toHaveLength(0);
  });
});
