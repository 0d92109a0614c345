/**
 * Self-tests of the hostile Pushgateway: the answers it gives, what it records,
 * that it stops writing once a client has gone, and that stop() is quick.
 */
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { startHostileHttp, type HostileHttp, type HostileHttpOptions } from './hostile-http.js';
import { eventually, sleep } from './ports.js';

const MB = 1024 * 1024;
let servers: HostileHttp[] = [];

async function start(options: HostileHttpOptions): Promise<HostileHttp> {
  const server = await startHostileHttp(options);
  servers.push(server);
  return server;
}

afterEach(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  servers = [];
});

/** PUTs with http.request, reads `limit` body bytes, then destroys the response. */
function readFirst(
  url: string,
  limit: number,
): Promise<{ status: number | undefined; read: number; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/metrics/job/x`, { method: 'PUT', agent: false }, (res) => {
      let read = 0;
      res.on('data', (c: Buffer) => {
        read += c.length;
        if (read >= limit) {
          res.destroy();
          resolve({ status: res.statusCode, read, headers: res.headers });
        }
      });
      res.on('end', () => {
        resolve({ status: res.statusCode, read, headers: res.headers });
      });
    });
    req.on('error', reject);
    req.end('up 1\n');
  });
}

/** bytesWritten no longer grows: the server stopped writing. */
async function settled(server: HostileHttp, i = 0): Promise<number> {
  await eventually(async () => {
    expect(server.stats.responses[i]?.closed).toBe(true);
    await Promise.resolve();
  }, 5_000);
  const at = server.stats.responses[i]!.bytesWritten;
  await sleep(300);
  expect(server.stats.responses[i]!.bytesWritten).toBe(at);
  return at;
}

describe('startHostileHttp', () => {
  it('answers with the status and text, and records the request', async () => {
    const server = await start({
      status: 400,
      body: { text: 'bad exposition' },
      headers: { 'content-type': 'text/plain' },
    });
    const res = await fetch(`${server.url}/metrics/job/j`, {
      method: 'PUT',
      headers: { 'content-type': 'text/plain; version=0.0.4', 'x-test': 'yes' },
      body: 'up 1\n',
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('text/plain');
    expect(await res.text()).toBe('bad exposition');
    expect(server.stats.requests).toHaveLength(1);
    expect(server.stats.requests[0]).toMatchObject({
      method: 'PUT',
      url: '/metrics/job/j',
      body: 'up 1\n',
      headers: { 'x-test': 'yes', 'content-type': 'text/plain; version=0.0.4' },
    });
    await eventually(async () => {
      expect(server.stats.responses[0]).toEqual({
        status: 400,
        bytesWritten: 14,
        finished: true,
        closedEarly: false,
        closed: true,
      });
      await Promise.resolve();
    }, 2_000);
  });

  it('defaults to 500 with an empty body', async () => {
    const server = await start({});
    const res = await fetch(server.url, { method: 'POST', body: 'x' });
    expect(res.status).toBe(500);
    expect(await res.text()).toBe('');
  });

  it('streams exactly `bytes` bytes with a Content-Length', async () => {
    const server = await start({ status: 500, body: { bytes: 3 * MB + 7 } });
    const res = await fetch(server.url);
    expect(res.headers.get('content-length')).toBe(String(3 * MB + 7));
    expect((await res.arrayBuffer()).byteLength).toBe(3 * MB + 7);
    await eventually(async () => {
      expect(server.stats.responses[0]).toMatchObject({
        bytesWritten: 3 * MB + 7,
        finished: true,
        closedEarly: false,
      });
      await Promise.resolve();
    }, 2_000);
  });

  it('echoes the request headers as sent, credentials included', async () => {
    const server = await start({ status: 401, echoHeaders: true });
    const res = await fetch(`${server.url}/metrics/job/j`, {
      method: 'PUT',
      headers: { Authorization: 'Basic dTpzZWNyZXQ=', 'X-Token': 'tok-123' },
      body: '',
    });
    expect(res.status).toBe(401);
    const text = await res.text();
    expect(text).toMatch(/^authorization: Basic dTpzZWNyZXQ=$/im);
    expect(text).toMatch(/^x-token: tok-123$/im);
    expect(server.stats.requests[0]!.headers.authorization).toBe('Basic dTpzZWNyZXQ=');
  });

  it('will not take both body and echoHeaders', async () => {
    await expect(startHostileHttp({ echoHeaders: true, body: { text: '' } })).rejects.toThrow(
      TypeError,
    );
  });

  it('waits delayMs before answering', async () => {
    const server = await start({ status: 200, body: { text: 'late' }, delayMs: 300 });
    const started = Date.now();
    const res = await fetch(server.url);
    expect(await res.text()).toBe('late');
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });

  it('records a client that leaves during the delay, and sends it nothing', async () => {
    const server = await start({ status: 500, body: { endlessBytes: true }, delayMs: 300 });
    await expect(fetch(server.url, { signal: AbortSignal.timeout(50) })).rejects.toThrow();
    await eventually(async () => {
      expect(server.stats.responses[0]).toMatchObject({ closed: true, closedEarly: true });
      await Promise.resolve();
    }, 2_000);
    await sleep(400);
    expect(server.stats.responses[0]).toMatchObject({ status: 0, bytesWritten: 0 });
  });

  describe('endlessBytes', () => {
    it('stops writing soon after an http.request client reads 1 KB and destroys the response', async () => {
      const server = await start({ status: 500, body: { endlessBytes: true } });
      const { status, read, headers } = await readFirst(server.url, 1024);
      expect(status).toBe(500);
      expect(headers['transfer-encoding']).toBe('chunked');
      expect(read).toBeGreaterThanOrEqual(1024);
      const written = await settled(server);
      expect(server.stats.responses[0]!.closedEarly).toBe(true);
      expect(server.stats.responses[0]!.finished).toBe(false);
      expect(written).toBeGreaterThan(0);
      // What the loopback's kernel buffers took before the client left: about 3.75 MB
      // with Linux's default tcp_wmem (4 MB); a client that buffered all would see far more.
      expect(written).toBeLessThan(8 * MB);
      expect(server.stats.open).toBe(0);
    });

    it('stops writing soon after a fetch client reads 1 KB and aborts', async () => {
      const server = await start({ status: 500, body: { endlessBytes: true } });
      const abort = new AbortController();
      const res = await fetch(server.url, { method: 'PUT', body: 'up 1\n', signal: abort.signal });
      expect(res.status).toBe(500);
      const reader = res.body!.getReader() as ReadableStreamDefaultReader<Uint8Array>;
      let read = 0;
      while (read < 1024) {
        const { value, done } = await reader.read();
        if (done) break;
        read += value.length;
      }
      abort.abort();
      expect(read).toBeGreaterThanOrEqual(1024);
      const written = await settled(server);
      expect(server.stats.responses[0]!.closedEarly).toBe(true);
      expect(written).toBeLessThan(8 * MB);
    });

    it('keeps writing to a client that reads on, far past what anyone should buffer', async () => {
      const server = await start({ status: 500, body: { endlessBytes: true } });
      const { read } = await readFirst(server.url, 64 * MB);
      expect(read).toBeGreaterThanOrEqual(64 * MB);
      const written = await settled(server);
      expect(written).toBeGreaterThanOrEqual(64 * MB);
    });

    it('respects backpressure: a client that does not read gets little', async () => {
      const server = await start({ status: 500, body: { endlessBytes: true, chunkBytes: 16384 } });
      const req = http.get(server.url, { agent: false }, (res) => {
        res.pause();
      });
      req.on('error', () => undefined);
      await eventually(async () => {
        expect(server.stats.responses[0]?.bytesWritten).toBeGreaterThan(0);
        await Promise.resolve();
      }, 2_000);
      await sleep(300);
      const at = server.stats.responses[0]!.bytesWritten;
      await sleep(300);
      // Stalled on 'drain' (kernel buffers on loopback hold a few MB at most).
      expect(server.stats.responses[0]!.bytesWritten).toBe(at);
      expect(at).toBeLessThan(64 * MB);
      req.destroy();
    });
  });

  describe('stop', () => {
    it('ends every connection quickly, and may be called again', async () => {
      const server = await startHostileHttp({ status: 500, body: { endlessBytes: true } });
      const responses: http.IncomingMessage[] = [];
      const gone: Promise<unknown>[] = [];
      for (let i = 0; i < 3; i++) {
        gone.push(
          new Promise((resolve) => {
            const req = http.get(server.url, { agent: false }, (res) => {
              res.pause(); // a client that reads nothing, with the server stalled on 'drain'
              res.on('error', () => undefined);
              res.on('close', resolve);
              responses.push(res);
            });
            req.on('error', resolve);
          }),
        );
      }
      await eventually(async () => {
        expect(responses).toHaveLength(3);
        await Promise.resolve();
      }, 2_000);
      expect(server.stats.open).toBe(3);
      const started = Date.now();
      const first = server.stop();
      expect(server.stop()).toBe(first);
      await first;
      expect(Date.now() - started).toBeLessThan(1_000);
      expect(server.stats.open).toBe(0);
      expect(server.stats.responses.every((r) => r.closedEarly)).toBe(true);
      // A paused socket does not read, so it cannot see the end until it reads again.
      for (const res of responses) res.resume();
      await Promise.all(gone);
      await expect(fetch(server.url)).rejects.toThrow();
    });

    it('drops a delayed answer', async () => {
      const server = await startHostileHttp({ status: 200, delayMs: 10_000 });
      const pending = fetch(server.url).then(
        () => 'answered',
        () => 'failed',
      );
      await eventually(async () => {
        expect(server.stats.requests).toHaveLength(1);
        await Promise.resolve();
      }, 2_000);
      const started = Date.now();
      await server.stop();
      expect(await pending).toBe('failed');
      expect(Date.now() - started).toBeLessThan(1_000);
    });
  });
});
