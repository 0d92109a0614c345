/**
 * The fleet run with a fake database, a fake Pushgateway and a fake
 * discovery and invoker (the real ones are tested against real servers in
 * test/e2e/fleet.e2e.test.ts and the SDK stubs in rds.test.ts): isolation of
 * targets, what is deleted and when nothing may be, fan-out, the fleet's
 * own group, and that no password leaves.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Collector } from '../../src/collectors/types.js';
import type { Database } from '../../src/db.js';
import { TargetsError } from '../../src/errors.js';
import { collectFleet, type FleetDependencies, type FleetSummary } from '../../src/fleet/fleet.js';
import type { TargetEvent } from '../../src/fleet/invoke.js';
import type { DiscoveryResult, RdsDiscovery } from '../../src/fleet/rds.js';
import type { TargetSpec } from '../../src/fleet/spec.js';
import { createLogger } from '../../src/logger.js';
import type { Delivery, GroupLabels } from '../../src/pushgateway.js';
import type { GroupingKey, PostgresTarget } from '../../src/target.js';
import { parseExposition, select } from '../harness/exposition.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-test-'));
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

const PASSWORD_A = 'pw-of-target-a-1234';
const PASSWORD_B = 'pw-of-target-b-5678';

function targetsFile(names: readonly string[]): string {
  const file = path.join(tmp, `t-${Math.random().toString(36).slice(2)}.yml`);
  const body = names
    .map(
      (name, i) =>
        `  - name: ${name}\n    host: db-${name}.internal\n    port: ${5432 + i}\n    ` +
        `username: monitor\n    password_env: PW_${i % 2 === 0 ? 'A' : 'B'}\n`,
    )
    .join('');
  fs.writeFileSync(file, `targets:\n${body}`);
  return file;
}

const one: Collector = {
  name: 'one',
  families: [{ name: 'test_one', help: 'Test.', labelNames: [] }],
  collect({ metrics }) {
    metrics.gauge({ name: 'test_one', help: 'Test.', labelNames: [] }, [{ labels: {}, value: 1 }]);
    return Promise.resolve();
  },
};

function fakeDb(): Database {
  return {
    serverVersion: 170_000,
    startedAt: 1_700_000_000_000,
    privileges: { pg_read_all_stats: true },
    query: () => Promise.resolve([]),
    close: () => Promise.resolve(),
  };
}

interface Fake {
  readonly pushes: Delivery[];
  readonly deleted: GroupingKey[];
  readonly lines: string[];
  readonly connects: PostgresTarget[];
}

async function fleetRun(
  env: Record<string, string>,
  options: {
    groups?: GroupLabels[];
    connect?: (target: PostgresTarget) => Promise<Database>;
    deps?: Partial<FleetDependencies>;
  } = {},
): Promise<Fake & { summary?: FleetSummary; error?: unknown }> {
  const fake: Fake = { pushes: [], deleted: [], lines: [], connects: [] };
  const deps: FleetDependencies = {
    collectors: [one],
    log: createLogger({ write: (line) => fake.lines.push(line) }),
    deadline: Date.now() + 10_000,
    connect: (target) => {
      fake.connects.push(target);
      return options.connect?.(target) ?? Promise.resolve(fakeDb());
    },
    deliver: (delivery) => {
      fake.pushes.push(delivery);
      return Promise.resolve();
    },
    listGroups: () => Promise.resolve(options.groups ?? []),
    deleteGroup: (request) => {
      fake.deleted.push(request.key);
      return Promise.resolve();
    },
    ...options.deps,
  };
  let result: { summary?: FleetSummary; error?: unknown };
  try {
    result = { summary: await collectFleet(env, deps) };
  } catch (error) {
    result = { error };
  }
  const visible = [
    ...fake.lines,
    JSON.stringify(result.summary ?? {}),
    String(result.error),
    ...fake.pushes.map((p) => p.body),
  ].join('\n');
  expect(visible).not.toContain(PASSWORD_A);
  expect(visible).not.toContain(PASSWORD_B);
  return { ...fake, ...result };
}

const env = (file: string, extra: Record<string, string> = {}) => ({
  TARGETS_FILE: file,
  FLEET_NAME: 'prod',
  PUSHGATEWAY_URL: 'http://gw:9091',
  PW_A: PASSWORD_A,
  PW_B: PASSWORD_B,
  ...extra,
});

const groupOf = (delivery: Delivery) => delivery.key.labels.instance ?? '<fleet>';

describe('an inline fleet', () => {
  it('pushes one group per target, each with its own address and password, then the fleet group', async () => {
    const ran = await fleetRun(env(targetsFile(['a', 'b', 'c'])));
    expect(ran.error).toBeUndefined();
    expect(ran.pushes.map(groupOf).sort()).toEqual(['<fleet>', 'a', 'b', 'c']);
    const a = ran.pushes.find((p) => p.key.labels.instance === 'a');
    expect(a?.key).toEqual({
      job: 'postgresql-exporter',
      labels: { instance: 'a', fleet: 'prod', app: 'prometheus-postgresql-exporter' },
    });
    expect(ran.connects.map((c) => [c.host, c.port, c.password]).sort()).toEqual([
      ['db-a.internal', 5432, PASSWORD_A],
      ['db-b.internal', 5433, PASSWORD_B],
      ['db-c.internal', 5434, PASSWORD_A],
    ]);
    const fleetPush = ran.pushes.find((p) => p.key.labels.instance === undefined);
    expect(fleetPush?.key).toEqual({ job: 'postgresql-exporter', labels: { fleet: 'prod' } });
    const metrics = parseExposition(fleetPush?.body ?? '');
    expect(select(metrics, 'postgresql_exporter_fleet_targets', { source: 'file' })[0]?.value).toBe(
      3,
    );
    expect(select(metrics, 'postgresql_exporter_fleet_targets_pushed')[0]?.value).toBe(3);
    expect(ran.summary?.pushed).toBe(3);
  });

  it('a target that is down is pushed as up 0; one that cannot be pushed fails alone, and the run reports it', async () => {
    const ran = await fleetRun(env(targetsFile(['a', 'down', 'c'])), {
      connect: (target) =>
        target.host === 'db-down.internal'
          ? Promise.reject(new Error('connect ECONNREFUSED'))
          : Promise.resolve(fakeDb()),
      deps: {
        deliver: (delivery) => {
          if (delivery.key.labels.instance === 'c') {
            return Promise.reject(new Error('Pushgateway answered HTTP 400'));
          }
          return Promise.resolve();
        },
      },
    });
    expect(String(ran.error)).toMatch(/FleetError: 1 of 3 targets not pushed \(c\)/);
    const failedLine = ran.lines.find((l) => l.includes('fleet run incomplete'));
    expect(failedLine).toBeDefined();
  });

  it('with remote write beside the Pushgateway, counts per sink the targets each did not take; without it, no such family', async () => {
    const written: string[] = [];
    const ran = await fleetRun(
      env(targetsFile(['a', 'b', 'c']), { REMOTE_WRITE_URL: 'http://receiver:9090/api/v1/write' }),
      {
        deps: {
          remoteWrite: (delivery) => {
            const instance = delivery.key.labels.instance ?? '<fleet>';
            if (instance === 'b') return Promise.reject(new Error('receiver answered HTTP 503'));
            written.push(instance);
            return Promise.resolve({ samples: 1, stale: 0, batches: 1, bytes: 10 });
          },
        },
      },
    );
    expect(String(ran.error)).toMatch(/1 of 3 targets not pushed \(b\)/);
    expect(written.sort()).toEqual(['<fleet>', 'a', 'c']);
    // b reached the Pushgateway: only remote write is named for it.
    expect(ran.pushes.map(groupOf).sort()).toEqual(['<fleet>', 'a', 'b', 'c']);
    const fleetPush = ran.pushes.find((p) => p.key.labels.instance === undefined);
    const metrics = parseExposition(fleetPush?.body ?? '');
    const failures = (sink: string) =>
      select(metrics, 'postgresql_exporter_fleet_write_failures', { sink })[0]?.value;
    expect(failures('pushgateway')).toBe(0);
    expect(failures('remote_write')).toBe(1);

    const alone = await fleetRun(env(targetsFile(['a', 'b'])));
    const group = alone.pushes.find((p) => p.key.labels.instance === undefined);
    expect(group?.body).toContain('postgresql_exporter_fleet_targets_failed');
    expect(group?.body).not.toContain('postgresql_exporter_fleet_write_failures');
  });

  it('gives a hanging target only its share of the time: the others are still pushed', async () => {
    const pushed: string[] = [];
    const started = Date.now();
    const ran = await fleetRun(
      env(targetsFile(['hang', 'b', 'c', 'd']), { FLEET_CONCURRENCY: '2' }),
      {
        connect: (target) =>
          target.host === 'db-hang.internal'
            ? new Promise<Database>(() => undefined)
            : Promise.resolve(fakeDb()),
        deps: {
          deadline: Date.now() + 3_000,
          deliver: (delivery) => {
            pushed.push(groupOf(delivery));
            return Promise.resolve();
          },
        },
      },
    );
    // The hanging connect is never answered: that target cannot be pushed, the others are.
    expect(pushed).toEqual(expect.arrayContaining(['b', 'c', 'd', '<fleet>']));
    expect(Date.now() - started).toBeLessThan(3_000 + 1_000);
    // Abandoned after its share (about 1.5 s of 3 s with 2 at once) plus a second's grace.
    expect(String(ran.error)).toMatch(/1 of 4 targets not pushed \(hang\)/);
  });

  it("deletes only this fleet's groups whose target is gone", async () => {
    const app = 'prometheus-postgresql-exporter';
    const groups: GroupLabels[] = [
      { job: 'postgresql-exporter', instance: 'a', fleet: 'prod', app },
      { job: 'postgresql-exporter', instance: 'gone', fleet: 'prod', app },
      { job: 'postgresql-exporter', instance: 'gone', fleet: 'staging' },
      { job: 'other', instance: 'gone', fleet: 'prod' },
      { job: 'postgresql-exporter', instance: 'gone' },
      { job: 'postgresql-exporter', fleet: 'prod' },
    ];
    const ran = await fleetRun(env(targetsFile(['a'])), { groups });
    expect(ran.error).toBeUndefined();
    expect(ran.deleted.map((k) => [k.job, k.labels])).toEqual([
      ['postgresql-exporter', { instance: 'gone', app, fleet: 'prod' }],
    ]);
    expect(ran.summary?.deletedGroups).toEqual(['gone']);
  });

  it('keeps stale groups when more than half of the fleet would go, until FLEET_CLEANUP_FORCE', async () => {
    const app = 'prometheus-postgresql-exporter';
    const groups: GroupLabels[] = ['a', 'b', 'c'].map((instance) => ({
      job: 'postgresql-exporter',
      instance,
      fleet: 'prod',
      app,
    }));
    const held = await fleetRun(env(targetsFile(['a'])), { groups });
    expect(held.error).toBeUndefined();
    expect(held.deleted).toEqual([]);
    expect(held.summary?.staleGroupsKept?.[0]).toMatch(/2 of the fleet's 3 groups are stale/);
    const fleetPush = held.pushes.find((p) => p.key.labels.instance === undefined);
    const metrics = parseExposition(fleetPush?.body ?? '');
    expect(select(metrics, 'postgresql_exporter_fleet_cleanup_held')[0]?.value).toBe(1);

    const forced = await fleetRun(env(targetsFile(['a']), { FLEET_CLEANUP_FORCE: 'true' }), {
      groups,
    });
    expect(forced.deleted.map((k) => k.labels.instance).sort()).toEqual(['b', 'c']);
  });

  it('pushes each target to its one Pushgateway of several, and cleans up on each', async () => {
    const names = Array.from({ length: 12 }, (_, i) => `t${i}`);
    const groups: GroupLabels[] = [];
    const listed: string[] = [];
    const ran = await fleetRun(
      env(targetsFile(names), { PUSHGATEWAY_URL: 'http://gw-a:9091,http://gw-b:9091' }),
      {
        deps: {
          listGroups: (request) => {
            listed.push(request.url.host);
            return Promise.resolve(groups);
          },
        },
      },
    );
    expect(ran.error).toBeUndefined();
    const byGateway = new Map<string, string[]>();
    for (const p of ran.pushes) {
      const list = byGateway.get(p.url.host) ?? [];
      list.push(groupOf(p));
      byGateway.set(p.url.host, list);
    }
    // Both get targets; the fleet's own group goes to the first.
    expect(byGateway.get('gw-a:9091')?.length).toBeGreaterThan(1);
    expect(byGateway.get('gw-b:9091')?.length).toBeGreaterThan(0);
    expect(byGateway.get('gw-a:9091')).toContain('<fleet>');
    expect(listed.sort()).toEqual(['gw-a:9091', 'gw-b:9091']);
    // The same assignment on the next run.
    const again = await fleetRun(
      env(targetsFile(names), { PUSHGATEWAY_URL: 'http://gw-a:9091,http://gw-b:9091' }),
    );
    const where = (r: typeof ran) => r.pushes.map((p) => `${groupOf(p)}@${p.url.host}`).sort();
    expect(where(again)).toEqual(where(ran));
  });

  it('refuses a bad targets file before any I/O', async () => {
    const file = path.join(tmp, 'dup.yml');
    fs.writeFileSync(file, 'targets:\n  - name: a\n    host: h\n  - name: a\n    host: h2\n');
    const ran = await fleetRun(env(file));
    expect(ran.error).toBeInstanceOf(TargetsError);
    expect(String(ran.error)).toContain(file);
    expect(ran.pushes).toEqual([]);
    expect(ran.connects).toEqual([]);
  });
});

function discovery(result: Partial<DiscoveryResult>): RdsDiscovery {
  return {
    discover: () =>
      Promise.resolve({
        targets: [],
        fresh: true,
        cached: false,
        durationMs: 5,
        skipped: [],
        ...result,
      }),
  };
}

const rdsSpec = (name: string): TargetSpec => ({
  name,
  host: `${name}.abc.eu-west-1.rds.amazonaws.com`,
  port: 5432,
  database: 'postgres',
  username: undefined,
  credentials: { kind: 'secret', secretId: `arn:aws:secretsmanager:eu-west-1:1:secret:${name}` },
  ssl: 'verify-full',
  sslRootCert: undefined,
  labels: {},
  collectors: { enable: [], disable: [] },
  source: 'rds',
});

describe('a discovered fleet', () => {
  const rdsEnv = {
    TARGETS_RDS_TAG: 'monitoring=on',
    FLEET_NAME: 'prod',
    PUSHGATEWAY_URL: 'http://gw:9091',
    AWS_REGION: 'eu-west-1',
  };
  const secrets = {
    get: () =>
      Promise.resolve({
        username: 'u',
        password: 'secret-password-999',
        host: undefined,
        port: undefined,
        dbname: undefined,
      }),
    invalidate: () => undefined,
  };
  const stale = ['db1', 'gone'].map((instance) => ({
    job: 'postgresql-exporter',
    instance,
    fleet: 'prod',
    app: 'prometheus-postgresql-exporter',
  }));

  it('never deletes a group when discovery failed, and says so in the fleet group', async () => {
    const ran = await fleetRun(rdsEnv, {
      groups: stale,
      deps: {
        secrets,
        discovery: discovery({
          targets: [rdsSpec('db1')],
          fresh: false,
          error: 'ThrottlingException: Rate exceeded',
          lastSuccess: 1_700_000_000_000,
        }),
      },
    });
    expect(ran.error).toBeUndefined();
    expect(ran.deleted).toEqual([]);
    expect(ran.pushes.map(groupOf).sort()).toEqual(['<fleet>', 'db1']);
    const fleetPush = ran.pushes.find((p) => p.key.labels.instance === undefined);
    const metrics = parseExposition(fleetPush?.body ?? '');
    expect(select(metrics, 'postgresql_exporter_fleet_discovery_success')[0]?.value).toBe(0);
    expect(select(metrics, 'postgresql_exporter_fleet_cleanup_success')[0]?.value).toBe(0);
    expect(
      select(metrics, 'postgresql_exporter_fleet_discovery_last_success_timestamp_seconds')[0]
        ?.value,
    ).toBe(1_700_000_000);
    expect(ran.lines.some((l) => l.includes('discovery failed'))).toBe(true);
  });

  it('deletes the group of an instance that vanished once discovery succeeds', async () => {
    const ran = await fleetRun(rdsEnv, {
      groups: stale,
      deps: { secrets, discovery: discovery({ targets: [rdsSpec('db1')] }) },
    });
    expect(ran.deleted.map((k) => k.labels.instance)).toEqual(['gone']);
  });
});

describe('a fan-out fleet', () => {
  it('invokes the per-target function once per target with the target in the event, and counts failed invokes', async () => {
    const events: { fn: string; event: TargetEvent }[] = [];
    const ran = await fleetRun(
      env(targetsFile(['a', 'b', 'c']), {
        FLEET_MODE: 'fanout',
        FLEET_TARGET_FUNCTION: 'svc-dev-collectTarget',
      }),
      {
        deps: {
          invoke: (fn, event) => {
            events.push({ fn, event });
            return event.target.name === 'b'
              ? Promise.reject(new Error('TooManyRequestsException'))
              : Promise.resolve();
          },
        },
      },
    );
    expect(events.map((e) => [e.fn, e.event.target.name]).sort()).toEqual([
      ['svc-dev-collectTarget', 'a'],
      ['svc-dev-collectTarget', 'b'],
      ['svc-dev-collectTarget', 'c'],
    ]);
    // The payload names the password's variable, never the password.
    expect(JSON.stringify(events)).toContain('PW_A');
    expect(ran.connects).toEqual([]);
    expect(String(ran.error)).toMatch(/1 of 3 targets not invoked \(b\)/);
    const fleetPush = ran.pushes.find((p) => p.key.labels.instance === undefined);
    const metrics = parseExposition(fleetPush?.body ?? '');
    expect(select(metrics, 'postgresql_exporter_fleet_invoke_failures')[0]?.value).toBe(1);
  });
});
