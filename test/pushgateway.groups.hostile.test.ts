/**
 * listGroups and deleteGroup against hostile and broken servers: an endless
 * exposition, a 10 MB line, a slow drip, an answer cut off, the wrong
 * content; DELETE answered 500 then 200, 404, 400. Every listing is bounded
 * by its time and its line and group caps, and a partial listing is never
 * taken for a whole one.
 */
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import {
  MAX_EXPOSITION_LINE_BYTES,
  deleteGroup,
  groupingPath,
  listGroups,
} from '../src/pushgateway.js';
import { startHostileHttp, type HostileHttp } from './harness/hostile-http.js';
import { listenOnLoopback } from './harness/ports.js';
import { refusal } from './harness/refusal.js';

const TEXT = { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' };

interface Scripted {
  readonly url: string;
  readonly requests: { method: string; url: string; headers: http.IncomingHttpHeaders }[];
  /** Responses whose connection closed before they ended. */
  closedEarly: number;
  stop(): Promise<void>;
}

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(stops.splice(0).map((stop) => stop()));
});

/** A server answering the n-th request (from 0) with `answer`; it records every request. */
async function scripted(answer: (res: http.ServerResponse, n: number) => void): Promise<Scripted> {
  const server = http.createServer((req, res) => {
    state.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const n = state.requests.length - 1;
    res.on('close', () => {
      if (!res.writableFinished) state.closedEarly += 1;
    });
    req.resume();
    req.on('end', () => {
      answer(res, n);
    });
  });
  const state: Scripted = {
    url: `http://127.0.0.1:${await listenOnLoopback(server)}`,
    requests: [],
    closedEarly: 0,
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  stops.push(() => state.stop());
  return state;
}

/** Writes `unit` again and again, waiting for 'drain', until the client goes away. */
function endless(res: http.ServerResponse, unit: Buffer): void {
  const pump = () => {
    while (!res.destroyed) {
      if (!res.write(unit)) {
        res.once('drain', pump);
        return;
      }
    }
  };
  pump();
}

const GROUP_LINE = 'push_time_seconds{fleet="f",instance="a",job="j"} 1.7e+09\n';

describe('listGroups: bounded whatever the server sends', () => {
  it('an endless exposition is cut at timeoutMs, with a clear error and bounded memory', async () => {
    const unit = Buffer.from('postgresql_x{datname="d",state="active"} 1\n'.repeat(1_000));
    const server = await scripted((res) => {
      res.writeHead(200, TEXT);
      endless(res, unit);
    });
    const before = process.memoryUsage().rss;
    const started = Date.now();
    const error = await refusal(() => listGroups({ url: new URL(server.url), timeoutMs: 1_500 }));
    const took = Date.now() - started;
    expect(error.message).toMatch(
      new RegExp(
        `^listing the groups of Pushgateway ${server.url}/ failed: answer not complete within 1500 ms \\(\\d+ bytes read\\)`,
      ),
    );
    expect(took).toBeGreaterThanOrEqual(1_400);
    expect(took).toBeLessThan(1_500 + 1_000);
    // Hundreds of MB went by; only one line at a time was held.
    expect(process.memoryUsage().rss - before).toBeLessThan(100 * 1024 * 1024);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(server.closedEarly).toBe(1);
  });

  it('a 10 MB single line is refused at the line cap, long before its end', async () => {
    const hostile: HostileHttp = await startHostileHttp({
      status: 200,
      headers: TEXT,
      body: { bytes: 10 * 1024 * 1024 },
    });
    stops.push(() => hostile.stop());
    const started = Date.now();
    const error = await refusal(() => listGroups({ url: new URL(hostile.url), timeoutMs: 10_000 }));
    expect(error.message).toContain(
      `failed: line 1 is longer than ${MAX_EXPOSITION_LINE_BYTES} bytes: not the exposition of a Pushgateway`,
    );
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('a slow drip is cut at timeoutMs: the bound is for the whole listing, not per byte', async () => {
    const text = Buffer.from(GROUP_LINE.repeat(100));
    const server = await scripted((res) => {
      res.writeHead(200, TEXT);
      let at = 0;
      const timer = setInterval(() => {
        if (res.destroyed || at >= text.length) {
          clearInterval(timer);
          res.end();
          return;
        }
        res.write(text.subarray(at, at + 1));
        at += 1;
      }, 10);
    });
    const started = Date.now();
    const error = await refusal(() => listGroups({ url: new URL(server.url), timeoutMs: 1_000 }));
    expect(error.message).toMatch(/answer not complete within 1000 ms/);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('a drip that ends within the bound is read whole, one byte per chunk', async () => {
    const text = Buffer.from(
      '# TYPE push_time_seconds gauge\n' +
        GROUP_LINE +
        'push_time_seconds{instance="Zürich \\"1\\"",job="j"} 1\n',
    );
    const server = await scripted((res) => {
      res.writeHead(200, TEXT);
      let at = 0;
      const timer = setInterval(() => {
        if (at >= text.length) {
          clearInterval(timer);
          res.end();
          return;
        }
        res.write(text.subarray(at, at + 1));
        at += 1;
      }, 1);
    });
    await expect(listGroups({ url: new URL(server.url), timeoutMs: 10_000 })).resolves.toEqual([
      { fleet: 'f', instance: 'a', job: 'j' },
      { instance: 'Zürich "1"', job: 'j' },
    ]);
  });

  it('an answer cut off before its end is an error, never a shorter list', async () => {
    const server = await scripted((res) => {
      res.writeHead(200, { ...TEXT, 'content-length': 10_000 });
      res.write(GROUP_LINE.repeat(3), () => {
        res.socket?.destroy();
      });
    });
    const error = await refusal(() => listGroups({ url: new URL(server.url), timeoutMs: 5_000 }));
    expect(error.message).toMatch(
      /^listing the groups of Pushgateway .* failed: the answer was cut off after \d+ bytes/,
    );
  });

  it('more groups than maxGroups is refused, naming the limit', async () => {
    const server = await scripted((res) => {
      res.writeHead(200, TEXT);
      res.end(
        Array.from({ length: 11 }, (_, i) => `push_time_seconds{instance="${i}",job="j"} 1\n`).join(
          '',
        ),
      );
    });
    const error = await refusal(() =>
      listGroups({ url: new URL(server.url), timeoutMs: 5_000, maxGroups: 10 }),
    );
    expect(error.message).toMatch(
      /more than 10 groups: spread the fleet over several Pushgateways/,
    );
  });

  it.each([
    [
      'an HTML page',
      { 'content-type': 'text/html' },
      /answered "text\/html" rather than the text exposition/,
    ],
    ['no content type', {}, /answered no content type/],
    ['gzip', { ...TEXT, 'content-encoding': 'gzip' }, /answered in the "gzip" encoding/],
  ])('%s is refused', async (_what, headers, reason) => {
    const server = await scripted((res) => {
      res.writeHead(200, headers);
      res.end(GROUP_LINE);
    });
    const error = await refusal(() => listGroups({ url: new URL(server.url), timeoutMs: 5_000 }));
    expect(error.message).toMatch(reason);
  });

  it('GETs <prefix>/metrics asking for the text format, and keeps the password out of a refusal', async () => {
    const hostile = await startHostileHttp({ status: 401, echoHeaders: true });
    stops.push(() => hostile.stop());
    const url = new URL(`${hostile.url.replace('//', '//ops:S3cr%3At@')}/gw/`);
    const error = await refusal(() => listGroups({ url, timeoutMs: 5_000 }));
    const request = hostile.stats.requests[0]!;
    expect(request).toMatchObject({ method: 'GET', url: '/gw/metrics' });
    expect(request.headers.accept).toMatch(/^text\/plain/);
    const sent = request.headers.authorization ?? '';
    expect(Buffer.from(sent.slice(6), 'base64').toString()).toBe('ops:S3cr:t');
    expect(error.message).toMatch(
      /^Pushgateway http:\/\/127\.0\.0\.1:\d+\/gw\/ answered HTTP 401 to GET \/metrics \(unauthorized/,
    );
    for (const form of ['S3cr:t', 'S3cr%3At', sent.slice(6)])
      expect(error.message).not.toContain(form);
    expect(error.status).toBe(401);
  });

  it('no answer at all costs timeoutMs', async () => {
    const hostile = await startHostileHttp({ status: 200, delayMs: 60_000 });
    stops.push(() => hostile.stop());
    const started = Date.now();
    const error = await refusal(() => listGroups({ url: new URL(hostile.url), timeoutMs: 800 }));
    expect(error.message).toMatch(/failed: no answer within 800 ms$/);
    expect(Date.now() - started).toBeLessThan(800 + 700);
  });
});

describe('deleteGroup', () => {
  const key = { job: 'postgresql-exporter', labels: { instance: 'gone "db"', fleet: 'prod' } };
  const path = `/${groupingPath(key.job, key.labels)}`;

  it('retries a 500 and succeeds on the 200 that follows, DELETEing the group path each time', async () => {
    const server = await scripted((res, n) => {
      res.writeHead(n === 0 ? 500 : 200).end(n === 0 ? 'busy' : '');
    });
    await deleteGroup({
      url: new URL(server.url),
      key,
      timeoutMs: 5_000,
      deadline: Date.now() + 10_000,
    });
    expect(server.requests.map((r) => [r.method, r.url])).toEqual([
      ['DELETE', path],
      ['DELETE', path],
    ]);
  });

  it('takes a 404 as done (no such group is the goal), without a retry', async () => {
    const server = await scripted((res) => {
      res.writeHead(404).end('not found');
    });
    await deleteGroup({
      url: new URL(server.url),
      key,
      timeoutMs: 5_000,
      deadline: Date.now() + 10_000,
    });
    expect(server.requests).toHaveLength(1);
  });

  it('does not retry a 400, and names the group and the Pushgateway', async () => {
    const server = await scripted((res) => {
      res.writeHead(400).end('bad labels');
    });
    const error = await refusal(() =>
      deleteGroup({
        url: new URL(server.url),
        key,
        timeoutMs: 5_000,
        deadline: Date.now() + 10_000,
      }),
    );
    expect(error.status).toBe(400);
    expect(error.message).toBe(
      `Pushgateway ${server.url}/ answered HTTP 400 to the delete of group ` +
        '{job="postgresql-exporter",instance="gone \\"db\\"",fleet="prod"}: bad labels',
    );
    expect(server.requests).toHaveLength(1);
  });

  it('a Pushgateway answering 503 costs timeoutMs in all', async () => {
    const server = await scripted((res) => {
      res.writeHead(503).end('down');
    });
    const started = Date.now();
    const error = await refusal(() =>
      deleteGroup({
        url: new URL(server.url),
        key,
        timeoutMs: 1_200,
        deadline: Date.now() + 30_000,
      }),
    );
    expect(error.message).toMatch(/HTTP 503 .*: down \(after \d+ attempts\)$/);
    expect(server.requests.length).toBeGreaterThan(1);
    expect(Date.now() - started).toBeLessThan(1_200 + 500);
  });
});
