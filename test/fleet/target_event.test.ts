/**
 * The per-target function's body: the event is outside input (JSON from
 * Lambda's queue), checked as strictly as the targets file; a late event is
 * dropped, not collected; a good one is one run of its target.
 */
import { describe, expect, it } from 'vitest';
import type { Collector } from '../../src/collectors/types.js';
import type { Database } from '../../src/db.js';
import { TargetsError } from '../../src/errors.js';
import type { TargetSpec } from '../../src/fleet/spec.js';
import { collectTargetEvent } from '../../src/fleet/target_event.js';
import { createLogger } from '../../src/logger.js';
import type { Delivery } from '../../src/pushgateway.js';
import type { PostgresTarget } from '../../src/target.js';

const PASSWORD = 'target-event-password-42';
const env = {
  TARGETS_FILE: 'targets/fleet.yml',
  FLEET_NAME: 'prod',
  FLEET_MODE: 'fanout',
  FLEET_TARGET_FUNCTION: 'svc-prod-collectTarget',
  PUSHGATEWAY_URL: 'http://gw:9091',
  ORDERS_PASSWORD: PASSWORD,
};

const spec: TargetSpec = {
  name: 'orders',
  host: 'orders.internal',
  port: 5433,
  database: 'orders',
  username: 'monitor',
  credentials: { kind: 'env', variable: 'ORDERS_PASSWORD' },
  ssl: 'require',
  sslRootCert: undefined,
  labels: { team: 'checkout' },
  collectors: { enable: [], disable: [] },
  source: 'file',
};

const one: Collector = {
  name: 'one',
  families: [{ name: 'test_one', help: 'Test.', labelNames: [] }],
  collect({ metrics }) {
    metrics.gauge({ name: 'test_one', help: 'Test.', labelNames: [] }, [{ labels: {}, value: 1 }]);
    return Promise.resolve();
  },
};

async function handle(event: unknown) {
  const pushes: Delivery[] = [];
  const connects: PostgresTarget[] = [];
  const keepSeconds: number[] = [];
  const lines: string[] = [];
  const db: Database = {
    serverVersion: 170_000,
    startedAt: 1_700_000_000_000,
    privileges: { pg_read_all_stats: true },
    query: () => Promise.resolve([]),
    close: () => Promise.resolve(),
  };
  let result: { summary?: unknown; error?: unknown };
  try {
    result = {
      summary: await collectTargetEvent(env, event, {
        collectors: [one],
        log: createLogger({ write: (line) => lines.push(line) }),
        connect: (target, options) => {
          connects.push(target);
          keepSeconds.push(options.keepSeconds);
          return Promise.resolve(db);
        },
        deliver: (delivery) => {
          pushes.push(delivery);
          return Promise.resolve();
        },
      }),
    };
  } catch (error) {
    result = { error };
  }
  expect([...lines, String(result.error), JSON.stringify(result.summary)].join('\n')).not.toContain(
    PASSWORD,
  );
  return { ...result, pushes, connects, keepSeconds, lines };
}

describe('collectTargetEvent', () => {
  it('collects the target of the event into its own group, its password from the environment', async () => {
    const ran = await handle(
      JSON.parse(JSON.stringify({ target: spec, notAfter: Date.now() + 60_000 })),
    );
    expect(ran.error).toBeUndefined();
    expect(
      ran.connects.map((c) => [c.host, c.port, c.database, c.user, c.password, c.ssl]),
    ).toEqual([['orders.internal', 5433, 'orders', 'monitor', PASSWORD, 'require']]);
    expect(ran.pushes.map((p) => p.key)).toEqual([
      {
        job: 'postgresql-exporter',
        labels: {
          instance: 'orders',
          fleet: 'prod',
          app: 'prometheus-postgresql-exporter',
          team: 'checkout',
        },
      },
    ]);
    expect(ran.lines.some((l) => l.includes('"target":"orders"'))).toBe(true);
    // Its containers serve targets at random: no connection is kept.
    expect(ran.keepSeconds).toEqual([0]);
  });

  it('drops an event past its notAfter: nothing connected, nothing pushed', async () => {
    const ran = await handle({ target: spec, notAfter: Date.now() - 5_000 });
    expect(ran.summary).toMatchObject({ dropped: true, target: 'orders' });
    expect(ran.connects).toEqual([]);
    expect(ran.pushes).toEqual([]);
    expect(ran.lines.some((l) => l.includes('event dropped: late'))).toBe(true);
  });

  it.each([
    ['not an object', 'hello'],
    ['no notAfter', { target: spec }],
    ['an extra field', { target: spec, notAfter: Date.now() + 1_000, retry: 1 }],
    [
      'a password smuggled in',
      { target: { ...spec, password: PASSWORD }, notAfter: Date.now() + 1_000 },
    ],
    ['a bad port', { target: { ...spec, port: '5432; DROP' }, notAfter: Date.now() + 1_000 }],
    [
      'a label that the deployment sets',
      { target: { ...spec, labels: { app: 'x' } }, notAfter: Date.now() + 1_000 },
    ],
  ])('refuses an event with %s, before any I/O', async (_what, event) => {
    const ran = await handle(event);
    expect(ran.error).toBeInstanceOf(TargetsError);
    expect(ran.connects).toEqual([]);
    expect(ran.pushes).toEqual([]);
  });
});
