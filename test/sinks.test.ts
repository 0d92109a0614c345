/**
 * src/sinks.ts: one run to every configured sink at once, each sink's
 * outcome its own, a failed sink named in what the run reports, and the
 * delivery's time bound the longest of the configured sinks'. Against a
 * real (hostile-http) Pushgateway and a local remote-write receiver, and
 * with fake sinks where timing is the point.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../src/config.js';
import { PushError } from '../src/errors.js';
import { MAX_TEXT_CHARS, createLogger } from '../src/logger.js';
import type { Delivery } from '../src/pushgateway.js';
import type { RemoteWriteDelivery, WriteResult } from '../src/remote_write.js';
import {
  LastDeliveries,
  deliverToSinks,
  deliveryError,
  deliveryTimeoutMs,
  sinkUrls,
  type Shipment,
  type SinkOutcome,
} from '../src/sinks.js';
import { startHostileHttp, type HostileHttp } from './harness/hostile-http.js';
import { decodeWrite, labelsOf, startReceiver, type Receiver } from './harness/rw-receiver.js';

const BODY =
  '# HELP postgresql_up Up.\n# TYPE postgresql_up gauge\npostgresql_up 1\n' +
  '# HELP g G.\n# TYPE g gauge\ng{d="a"} 2\ng{d="b"} 3\n';
const AT = 1_796_000_000_000;

function shipment(overrides: Partial<Shipment> = {}): Shipment {
  return {
    key: { job: 'j', labels: { instance: 'i' } },
    body: BODY,
    collectedAt: AT,
    deadline: Date.now() + 20_000,
    ...overrides,
  };
}

const both = (extra: Record<string, string> = {}) =>
  loadConfig({
    PUSHGATEWAY_URL: 'http://ops:gw-secret-1@gw:9091',
    REMOTE_WRITE_URL: 'http://rw:9090/api/v1/write',
    ...extra,
  });

const written: WriteResult = { samples: 3, stale: 0, batches: 1, bytes: 42 };

let gateway: HostileHttp | undefined;
let receiver: Receiver | undefined;
afterEach(async () => {
  await gateway?.stop();
  await receiver?.stop();
  gateway = undefined;
  receiver = undefined;
});

/** Resolves when `count` callers have arrived; rejects after `ms` (a sequential caller never gets there). */
function barrier(count: number, ms = 5_000): () => Promise<void> {
  let arrived = 0;
  let open: () => void = () => undefined;
  const opened = new Promise<void>((resolve, reject) => {
    open = resolve;
    setTimeout(() => {
      reject(new Error(`only ${arrived} of ${count} sinks started`));
    }, ms).unref();
  });
  return () => {
    arrived += 1;
    if (arrived === count) open();
    return opened;
  };
}

describe('deliverToSinks', () => {
  it('a real Pushgateway and a real receiver get the same run', async () => {
    gateway = await startHostileHttp({ status: 200 });
    receiver = await startReceiver();
    const config = loadConfig({ PUSHGATEWAY_URL: gateway.url, REMOTE_WRITE_URL: receiver.url });
    const { outcomes, errors } = await deliverToSinks(
      config,
      shipment(),
      createLogger({ write: () => undefined }),
    );
    expect(errors).toEqual([]);
    expect(outcomes.map((o) => [o.sink, o.ok])).toEqual([
      ['pushgateway', true],
      ['remote_write', true],
    ]);
    expect(gateway.stats.requests).toHaveLength(1);
    expect(gateway.stats.requests[0]!.method).toBe('PUT');
    expect(gateway.stats.requests[0]!.body).toBe(BODY);
    expect(receiver.requests).toHaveLength(1);
    const series = decodeWrite(receiver.requests[0]!.body).timeseries;
    expect(series.map((s) => [labelsOf(s).__name__, labelsOf(s).d, s.samples[0]!.value])).toEqual([
      ['postgresql_up', undefined, 1],
      ['g', 'a', 2],
      ['g', 'b', 3],
    ]);
    expect(series.every((s) => s.samples[0]!.timestamp === AT)).toBe(true);
    const [pg, rw] = outcomes as [SinkOutcome, SinkOutcome];
    expect(pg).toMatchObject({ url: `${gateway.url}/`, bytes: Buffer.byteLength(BODY) });
    expect(rw).toMatchObject({
      url: receiver.url,
      samples: 3,
      stale: 0,
      batches: 1,
      bytes: receiver.requests[0]!.body.length,
    });
    expect(pg.error).toBeUndefined();
    expect(rw.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('sends to both sinks at once, with the same shipment', async () => {
    const arrive = barrier(2);
    const seen: { pg?: Delivery; rw?: RemoteWriteDelivery } = {};
    const config = both({ PUSHGATEWAY_TIMEOUT_MS: '3000', REMOTE_WRITE_TIMEOUT_MS: '4000' });
    const ship = shipment();
    const { outcomes } = await deliverToSinks(
      config,
      ship,
      createLogger({ write: () => undefined }),
      {
        deliver: async (delivery) => {
          seen.pg = delivery;
          await arrive();
        },
        remoteWrite: async (delivery) => {
          seen.rw = delivery;
          await arrive();
          return written;
        },
      },
    );
    expect(outcomes.map((o) => o.ok)).toEqual([true, true]);
    expect(seen.pg).toMatchObject({
      body: BODY,
      key: ship.key,
      deadline: ship.deadline,
      timeoutMs: 3000,
      auth: config.pushgateway.auth,
    });
    expect(seen.pg?.url.href).toBe('http://ops:gw-secret-1@gw:9091/');
    expect(seen.rw).toMatchObject({
      body: BODY,
      key: ship.key,
      deadline: ship.deadline,
      timestampMs: AT,
      config: config.remoteWrite,
    });
  });

  it('one sink failing: the other is still delivered, each outcome its own, the failed one named', async () => {
    const log = createLogger({ write: () => undefined });
    const { outcomes, errors } = await deliverToSinks(both(), shipment(), log, {
      deliver: () =>
        Promise.reject(new PushError('Pushgateway http://gw:9091/ answered HTTP 500: down', 500)),
      remoteWrite: () => Promise.resolve(written),
    });
    expect(outcomes).toEqual([
      expect.objectContaining({
        sink: 'pushgateway',
        url: 'http://gw:9091/',
        ok: false,
        error: 'Pushgateway http://gw:9091/ answered HTTP 500: down',
      }),
      expect.objectContaining({
        sink: 'remote_write',
        ok: true,
        samples: 3,
        batches: 1,
        bytes: 42,
      }),
    ]);
    expect(outcomes[0]!.bytes).toBeUndefined();
    expect(outcomes[1]!.error).toBeUndefined();
    expect(errors).toHaveLength(1);
    // The run fails with the one sink's error as it was, which names the sink.
    const failure = deliveryError(outcomes, errors);
    expect(failure).toBe(errors[0]);
    expect((failure as Error).message).toMatch(/^Pushgateway /);
  });

  it('the remote write failing alone: the Pushgateway still has the run', async () => {
    gateway = await startHostileHttp({ status: 200 });
    receiver = await startReceiver({ answer: () => ({ status: 400, body: 'refused' }) });
    const config = loadConfig({ PUSHGATEWAY_URL: gateway.url, REMOTE_WRITE_URL: receiver.url });
    const { outcomes, errors } = await deliverToSinks(
      config,
      shipment(),
      createLogger({ write: () => undefined }),
    );
    expect(gateway.stats.requests[0]?.body).toBe(BODY);
    expect(outcomes.map((o) => [o.sink, o.ok])).toEqual([
      ['pushgateway', true],
      ['remote_write', false],
    ]);
    expect(outcomes[1]!.error).toBe(
      `remote write endpoint ${receiver.url} answered HTTP 400: refused`,
    );
    expect((deliveryError(outcomes, errors) as Error).message).toMatch(/^remote write endpoint /);
  });

  it('both failing: one PushError naming each sink and its reason', async () => {
    const { outcomes, errors } = await deliverToSinks(
      both(),
      shipment(),
      createLogger({ write: () => undefined }),
      {
        deliver: () => Promise.reject(new Error('gw down')),
        remoteWrite: () => Promise.reject(new Error('rw down')),
      },
    );
    expect(outcomes.every((o) => !o.ok)).toBe(true);
    const failure = deliveryError(outcomes, errors);
    expect(failure).toBeInstanceOf(PushError);
    expect((failure as Error).message).toBe(
      'no sink took the run: pushgateway: gw down; remote_write: rw down',
    );
  });

  it("a sink's error in its outcome is redacted and cut", async () => {
    const log = createLogger({ write: () => undefined, secrets: ['hidden-secret-1'] });
    const { outcomes } = await deliverToSinks(both(), shipment(), log, {
      deliver: () => Promise.resolve(),
      remoteWrite: () => Promise.reject(new Error(`said hidden-secret-1 ${'x'.repeat(5_000)}`)),
    });
    const error = outcomes[1]!.error ?? '';
    expect(error).not.toContain('hidden-secret-1');
    expect(error).toContain('[REDACTED]');
    expect(error.length).toBeLessThan(MAX_TEXT_CHARS + 100);
  });

  it('a sink that throws something else than an Error still gives an outcome', async () => {
    const { outcomes, errors } = await deliverToSinks(
      both(),
      shipment(),
      createLogger({ write: () => undefined }),
      {
        deliver: () => Promise.resolve(),
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the point of the test
        remoteWrite: () => Promise.reject('a string'),
      },
    );
    expect(outcomes[1]).toMatchObject({ sink: 'remote_write', ok: false });
    expect(errors).toEqual(['a string']);
  });

  it('only the configured sinks are tried', async () => {
    const calls: string[] = [];
    const deps = {
      deliver: () => {
        calls.push('pushgateway');
        return Promise.resolve();
      },
      remoteWrite: () => {
        calls.push('remote_write');
        return Promise.resolve(written);
      },
    };
    const quiet = createLogger({ write: () => undefined });
    const gwOnly = await deliverToSinks(
      loadConfig({ PUSHGATEWAY_URL: 'http://gw:9091' }),
      shipment(),
      quiet,
      deps,
    );
    expect(gwOnly.outcomes.map((o) => o.sink)).toEqual(['pushgateway']);
    const rwOnly = await deliverToSinks(
      loadConfig({ REMOTE_WRITE_URL: 'http://rw:9090/api/v1/write' }),
      shipment(),
      quiet,
      deps,
    );
    expect(rwOnly.outcomes.map((o) => o.sink)).toEqual(['remote_write']);
    expect(calls).toEqual(['pushgateway', 'remote_write']);
  });
});

describe('deliveryTimeoutMs', () => {
  const config = (env: Record<string, string>): Pick<Config, 'pushgateway' | 'remoteWrite'> =>
    loadConfig(env);

  it('is the longest bound among the configured sinks', () => {
    expect(
      deliveryTimeoutMs(both({ PUSHGATEWAY_TIMEOUT_MS: '3000', REMOTE_WRITE_TIMEOUT_MS: '7000' })),
    ).toBe(7000);
    expect(
      deliveryTimeoutMs(both({ PUSHGATEWAY_TIMEOUT_MS: '9000', REMOTE_WRITE_TIMEOUT_MS: '2000' })),
    ).toBe(9000);
  });

  it('a sink that is not configured does not count, its default timeout neither', () => {
    expect(
      deliveryTimeoutMs(
        config({ REMOTE_WRITE_URL: 'http://rw/api/v1/write', REMOTE_WRITE_TIMEOUT_MS: '500' }),
      ),
    ).toBe(500);
    expect(
      deliveryTimeoutMs(
        config({ PUSHGATEWAY_URL: 'http://gw:9091', PUSHGATEWAY_TIMEOUT_MS: '700' }),
      ),
    ).toBe(700);
  });
});

describe('sinkUrls', () => {
  it('names each configured sink without credentials', () => {
    const urls = sinkUrls(
      loadConfig({
        PUSHGATEWAY_URL: 'http://ops:gw-secret-1@gw:9091',
        REMOTE_WRITE_URL: 'https://ops:rw-secret-1@rw/api/v1/write',
      }),
    );
    expect(urls).toEqual({
      pushgateway: 'http://gw:9091/',
      remoteWrite: 'https://rw/api/v1/write',
    });
    expect(sinkUrls(loadConfig({ REMOTE_WRITE_URL: 'http://rw/w' }))).toEqual({
      remoteWrite: 'http://rw/w',
    });
  });
});

describe('LastDeliveries', () => {
  const outcome = (ok: boolean): SinkOutcome => ({
    sink: 'remote_write',
    url: 'u',
    ok,
    durationMs: 1,
  });

  it("keeps each target's last outcomes, the newest replacing the last", () => {
    const last = new LastDeliveries();
    expect(last.get('a')).toEqual([]);
    last.set('a', [outcome(false)]);
    last.set('a', [outcome(true)]);
    expect(last.get('a')).toEqual([outcome(true)]);
  });

  it('forgets the oldest target past its bound; a target set again is the newest', () => {
    const last = new LastDeliveries(2);
    last.set('a', [outcome(true)]);
    last.set('b', [outcome(true)]);
    last.set('a', [outcome(false)]);
    last.set('c', [outcome(true)]);
    expect(last.get('b')).toEqual([]);
    expect(last.get('a')).toEqual([outcome(false)]);
    expect(last.get('c')).toEqual([outcome(true)]);
  });
});
