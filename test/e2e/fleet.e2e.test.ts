/**
 * A fleet collected inline, for real: three PostgreSQL servers of different
 * majors, one stopped, one that accepts TCP and never answers, and the real
 * Pushgateway. Every target gets its own group (`up 0` for the two bad
 * ones) within a bounded run; a target removed from the file loses its
 * group, and only it (another job's group, another fleet's and the fleet's
 * own stay); one added is pushed on the next run; a bad file pushes nothing.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { DescribeDBInstancesCommand, RDSClient, type DBInstance } from '@aws-sdk/client-rds';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { closeKeptConnection } from '../../src/db.js';
import { collectFleet, type FleetDependencies, type FleetSummary } from '../../src/fleet/fleet.js';
import { rdsDiscovery } from '../../src/fleet/rds.js';
import { secretsManagerSource } from '../../src/secrets.js';
import { createLogger } from '../../src/logger.js';
import { servers, uniqueJob } from '../harness/context.js';
import { parseExposition, select, type ParsedExposition } from '../harness/exposition.js';
import { freePort, listenOnLoopback } from '../harness/ports.js';
import { postgresBinDir, startPostgres, type PostgresServer } from '../harness/postgres.js';
import { startPushgateway, type PushgatewayServer } from '../harness/pushgateway.js';
import { instancePages, MONITORED, rdsInstance } from '../harness/rds-fixtures.js';

const MAJORS = [13, 16, 18] as const;
const MONITOR = 'fleet_monitor';

interface Member {
  readonly name: string;
  readonly port: number;
  readonly password: string;
}

let pgs: PostgresServer[] = [];
let members: Member[] = [];
let silent: net.Server;
const silentSockets = new Set<net.Socket>();
let stoppedPort: number;
let dir: string;

beforeAll(async () => {
  pgs = await Promise.all(MAJORS.map((major) => startPostgres({ binDir: postgresBinDir(major) })));
  members = await Promise.all(
    pgs.map(async (server) => {
      const password = `fleet-${randomBytes(9).toString('base64url')}`;
      const admin = await server.client();
      await admin.query(`CREATE ROLE ${MONITOR} LOGIN PASSWORD '${password}'`);
      await admin.query(`GRANT pg_monitor TO ${MONITOR}`);
      await admin.end();
      return { name: `pg${server.major}`, port: server.port, password };
    }),
  );
  // Accepts TCP, reads, never writes a byte.
  silent = net.createServer((socket) => {
    silentSockets.add(socket);
    socket.on('close', () => silentSockets.delete(socket));
    socket.on('error', () => undefined);
  });
  await listenOnLoopback(silent);
  stoppedPort = await freePort();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-e2e-'));
}, 120_000);

afterAll(async () => {
  await closeKeptConnection();
  for (const socket of silentSockets) socket.destroy();
  await new Promise((resolve) => silent.close(resolve));
  await Promise.all(pgs.map((server) => server.stop()));
  fs.rmSync(dir, { recursive: true, force: true });
});

function silentPort(): number {
  const address = silent.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** A targets file of the given members, plus the stopped and the silent target. */
function writeTargets(file: string, chosen: readonly Member[], extra = ''): void {
  const entries = chosen.map(
    (m) => `  - name: ${m.name}
    host: 127.0.0.1
    port: ${m.port}
    database: postgres
    username: ${MONITOR}
    password_env: PG_${m.name.toUpperCase()}_PASSWORD
    labels: { major: "${m.name.slice(2)}" }
`,
  );
  const bad = `  - name: stopped
    host: 127.0.0.1
    port: ${stoppedPort}
    username: ${MONITOR}
  - name: silent
    host: 127.0.0.1
    port: ${silentPort()}
    username: ${MONITOR}
`;
  fs.writeFileSync(file, `targets:\n${entries.join('')}${bad}${extra}`);
}

function fleetEnv(file: string, job: string, fleet: string): Record<string, string> {
  const env: Record<string, string> = {
    TARGETS_FILE: file,
    FLEET_NAME: fleet,
    FLEET_CONCURRENCY: '5',
    PUSHGATEWAY_URL: servers().pushgatewayUrl,
    PUSHGATEWAY_JOB: job,
    POSTGRESQL_CONNECT_TIMEOUT_MS: '2000',
    POSTGRESQL_KEEP_CONNECTION_SECONDS: '0',
  };
  for (const m of members) env[`PG_${m.name.toUpperCase()}_PASSWORD`] = m.password;
  return env;
}

async function gateway(): Promise<ParsedExposition> {
  const res = await fetch(`${servers().pushgatewayUrl}/metrics`);
  return parseExposition(await res.text());
}

async function pushRaw(labels: string, body: string): Promise<void> {
  const res = await fetch(`${servers().pushgatewayUrl}/metrics/${labels}`, {
    method: 'PUT',
    body,
  });
  expect(res.status).toBeLessThan(300);
}

/** One fleet run, its log lines captured; no password in any of them. */
async function runFleetOnce(
  env: Record<string, string>,
  deps: FleetDependencies = {},
): Promise<{ summary?: FleetSummary; error?: unknown; ms: number; lines: string[] }> {
  const lines: string[] = [];
  const log = createLogger({ write: (line) => lines.push(line) });
  const started = Date.now();
  let outcome: { summary?: FleetSummary; error?: unknown };
  try {
    outcome = {
      summary: await collectFleet(env, { log, deadline: Date.now() + 30_000, ...deps }),
    };
  } catch (error) {
    outcome = { error };
  }
  const visible = [...lines, JSON.stringify(outcome.summary ?? {}), String(outcome.error)].join(
    '\n',
  );
  for (const m of members) expect(visible).not.toContain(m.password);
  return { ...outcome, ms: Date.now() - started, lines };
}

describe('an inline fleet of real servers', () => {
  const job = uniqueJob('fleet');
  const fleet = `e2e-${randomBytes(3).toString('hex')}`;

  it('pushes one group per target: up 1 for each live major, up 0 for the stopped and the silent one, within the bound', async () => {
    const file = path.join(dir, 'all.yml');
    writeTargets(file, members);
    const { summary, error, ms } = await runFleetOnce(fleetEnv(file, job, fleet));
    expect(error).toBeUndefined();
    expect(summary?.targets).toBe(5);
    expect(summary?.down).toBe(2);
    expect(summary?.failed).toBe(0);
    // The silent target costs its connect timeout (2 s), not the run's 30 s.
    expect(ms).toBeLessThan(15_000);

    const metrics = await gateway();
    for (const m of members) {
      const up = select(metrics, 'postgresql_up', { job, instance: m.name, fleet });
      expect(up.map((s) => s.value)).toEqual([1]);
      expect(up[0]?.labels.major).toBe(m.name.slice(2));
      const version = select(metrics, 'postgresql_version_info', { job, instance: m.name });
      expect(version.length).toBe(1);
      // Each group holds its own server's numbers: its major, and the seed's families.
      const versionNum = select(metrics, 'postgresql_server_version_num', {
        instance: m.name,
        fleet,
      });
      expect(Math.floor((versionNum[0]?.value ?? 0) / 10_000)).toBe(Number(m.name.slice(2)));
      expect(
        select(metrics, 'postgresql_stat_database', { instance: m.name, fleet }).length,
      ).toBeGreaterThan(0);
    }
    for (const bad of ['stopped', 'silent']) {
      expect(
        select(metrics, 'postgresql_up', { job, instance: bad, fleet }).map((s) => s.value),
      ).toEqual([0]);
    }
    // The fleet's own group: no instance.
    const known = select(metrics, 'postgresql_exporter_fleet_targets', { job, fleet });
    expect(known.find((s) => s.labels.source === 'file')?.value).toBe(5);
    expect(known.every((s) => (s.labels.instance ?? '') === '')).toBe(true);
    expect(
      select(metrics, 'postgresql_exporter_fleet_targets_down', { job, fleet }).map((s) => s.value),
    ).toEqual([2]);
  });

  it('deletes the group of a target removed from the file, and nothing else', async () => {
    // Groups that must survive: another job, another fleet of this job, a single-target group of this job.
    const otherJob = uniqueJob('foreign');
    const b64 = (v: string) => Buffer.from(v).toString('base64url');
    await pushRaw(`job/${otherJob}/instance/pg16/fleet/${fleet}`, 'foreign_metric 1\n');
    await pushRaw(
      `job/${job}/instance/pg16/fleet@base64/${b64('other-fleet')}`,
      'foreign_metric 2\n',
    );
    await pushRaw(`job/${job}/instance/pg16`, 'foreign_metric 3\n');

    const [first, second, third] = members;
    const file = path.join(dir, 'fewer.yml');
    writeTargets(file, [first!, third!]);
    const { summary, error } = await runFleetOnce(fleetEnv(file, job, fleet));
    expect(error).toBeUndefined();
    expect(summary?.deletedGroups).toEqual([second!.name]);

    const metrics = await gateway();
    expect(select(metrics, 'postgresql_up', { job, instance: second!.name, fleet })).toEqual([]);
    expect(select(metrics, 'postgresql_up', { job, instance: first!.name, fleet }).length).toBe(1);
    expect(select(metrics, 'postgresql_up', { job, instance: 'silent', fleet }).length).toBe(1);
    const foreign = select(metrics, 'foreign_metric')
      .map((s) => s.value)
      .sort();
    expect(foreign).toEqual([1, 2, 3]);
    expect(select(metrics, 'postgresql_exporter_fleet_targets', { job, fleet }).length).toBe(2);
    expect(
      select(metrics, 'postgresql_exporter_fleet_groups_deleted', { job, fleet }).map(
        (s) => s.value,
      ),
    ).toEqual([1]);
  });

  it('pushes a target added back to the file on the next run', async () => {
    const file = path.join(dir, 'all-again.yml');
    writeTargets(file, members);
    const { summary, error } = await runFleetOnce(fleetEnv(file, job, fleet));
    expect(error).toBeUndefined();
    expect(summary?.deletedGroups).toEqual([]);
    const metrics = await gateway();
    const up = select(metrics, 'postgresql_up', { job, instance: members[1]!.name, fleet });
    expect(up.map((s) => s.value)).toEqual([1]);
  });

  it('refuses a file with a duplicate name before any I/O: nothing pushed, nothing deleted', async () => {
    const before = await gateway();
    const file = path.join(dir, 'dup.yml');
    writeTargets(
      file,
      members,
      `  - name: ${members[0]!.name}\n    host: 127.0.0.1\n    port: ${members[0]!.port}\n`,
    );
    const { error } = await runFleetOnce(fleetEnv(file, job, fleet));
    expect(String(error)).toContain(file);
    expect(String(error)).toContain(`"${members[0]!.name}"`);
    expect(String(error)).toMatch(/name/);
    const after = await gateway();
    const times = (m: ParsedExposition) =>
      select(m, 'push_time_seconds', { job })
        .map((s) => `${s.labels.instance ?? ''}=${s.value}`)
        .sort();
    expect(times(after)).toEqual(times(before));
  });
});

describe('a fleet discovered through the RDS API (stubbed at the SDK), of real servers', () => {
  const rds = mockClient(RDSClient);
  const secretsManager = mockClient(SecretsManagerClient);
  const job = uniqueJob('rds');
  const fleet = `rds-${randomBytes(3).toString('hex')}`;
  const secretArn = (name: string) =>
    `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${name}`;
  let account: DBInstance[] = [];
  const env = () => ({
    TARGETS_RDS_TAG: 'monitoring=pushgateway',
    TARGETS_RDS_LABEL_TAGS: 'team',
    FLEET_NAME: fleet,
    PUSHGATEWAY_URL: servers().pushgatewayUrl,
    PUSHGATEWAY_JOB: job,
    AWS_REGION: 'eu-west-1',
    POSTGRESQL_KEEP_CONNECTION_SECONDS: '0',
  });
  // One discovery for the whole describe, as a warm container keeps it; no cache, so every run asks.
  let discovery: ReturnType<typeof rdsDiscovery>;
  const secrets = secretsManagerSource({ ttlMs: 0 });

  beforeAll(() => {
    account = members.map((m) =>
      rdsInstance({
        id: `db-${m.name}`,
        port: m.port,
        tags: {
          ...MONITORED,
          team: `team-${m.name}`,
          'postgresql-exporter-secret': secretArn(m.name),
        },
      }),
    );
    // Not targets: an untagged instance, and a stopped one.
    account.push(rdsInstance({ id: 'untagged', port: members[0]!.port, tags: {} }));
    account.push(rdsInstance({ id: 'stopped-db', port: stoppedPort, status: 'stopped' }));
    rds.on(DescribeDBInstancesCommand).callsFake(instancePages(() => account, 2));
    secretsManager.on(GetSecretValueCommand).callsFake((input: { SecretId?: string }) => {
      const m = members.find((member) => secretArn(member.name) === input.SecretId);
      if (m === undefined) throw new Error(`ResourceNotFoundException: ${input.SecretId ?? ''}`);
      return {
        SecretString: JSON.stringify({ username: MONITOR, password: m.password }),
      };
    });
    const rdsConfig = loadConfig(env()).fleet?.rds;
    if (rdsConfig === undefined) throw new Error('no discovery settings');
    discovery = rdsDiscovery(rdsConfig, { ttlMs: 0 });
  });

  afterAll(() => {
    rds.restore();
    secretsManager.restore();
  });

  const ups = async () =>
    select(await gateway(), 'postgresql_up', { job, fleet })
      .map((s) => `${s.labels.instance ?? ''}=${s.value}`)
      .sort();

  it('finds the tagged instances over several pages and pushes each, with its tag as a label', async () => {
    const { summary, error } = await runFleetOnce(env(), { discovery, secrets });
    expect(error).toBeUndefined();
    expect(summary?.targets).toBe(3);
    expect(await ups()).toEqual(members.map((m) => `db-${m.name}=1`).sort());
    const up = select(await gateway(), 'postgresql_up', {
      job,
      instance: `db-${members[0]!.name}`,
    });
    expect(up[0]?.labels.team).toBe(`team-${members[0]!.name}`);
    // Pages of 2: three calls for 5 instances.
    expect(rds.commandCalls(DescribeDBInstancesCommand).length).toBe(3);
  });

  it('keeps the last good list when the API throttles, and deletes nothing', async () => {
    // A leftover group of this fleet that the next good discovery will delete.
    await pushRaw(
      `job/${job}/instance/db-gone/app/prometheus-postgresql-exporter/fleet/${fleet}`,
      'leftover_metric 1\n',
    );
    rds
      .on(DescribeDBInstancesCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    const { summary, error } = await runFleetOnce(env(), { discovery, secrets });
    expect(error).toBeUndefined();
    expect(summary?.discovery?.fresh).toBe(false);
    expect(summary?.deletedGroups).toEqual([]);
    expect(summary?.targets).toBe(3);
    expect(
      select(await gateway(), 'leftover_metric', { job, fleet, instance: 'db-gone' }),
    ).toHaveLength(1);
    const metrics = await gateway();
    expect(
      select(metrics, 'postgresql_exporter_fleet_discovery_success', { job, fleet }).map(
        (s) => s.value,
      ),
    ).toEqual([0]);
  });

  it('deletes the group of an instance that vanished once discovery works again', async () => {
    account = account.filter((i) => i.DBInstanceIdentifier !== `db-${members[1]!.name}`);
    rds.on(DescribeDBInstancesCommand).callsFake(instancePages(() => account, 2));
    const { summary, error } = await runFleetOnce(env(), { discovery, secrets });
    expect(error).toBeUndefined();
    expect(summary?.discovery?.fresh).toBe(true);
    expect([...(summary?.deletedGroups ?? [])].sort()).toEqual(
      ['db-gone', `db-${members[1]!.name}`].sort(),
    );
    expect(await ups()).toEqual([members[0]!, members[2]!].map((m) => `db-${m.name}=1`).sort());
  });
});

describe('a fleet over two real Pushgateways', () => {
  let a: PushgatewayServer;
  let b: PushgatewayServer;
  beforeAll(async () => {
    [a, b] = await Promise.all([startPushgateway(), startPushgateway()]);
  });
  afterAll(async () => {
    await Promise.all([a.stop(), b.stop()]);
  });

  const instancesOn = async (gateway: PushgatewayServer, job: string) =>
    select(parseExposition(await gateway.metrics()), 'push_time_seconds', { job })
      .map((s) => s.labels.instance ?? '')
      .sort();

  it('pushes each target to one of them, the same one every run, and cleans up on each', async () => {
    const job = uniqueJob('shards');
    const fleet = `shards-${randomBytes(3).toString('hex')}`;
    const names = Array.from({ length: 8 }, (_, i) => `shard-target-${i}`);
    const write = (chosen: readonly string[]) => {
      const file = path.join(dir, `shards-${chosen.length}.yml`);
      fs.writeFileSync(
        file,
        `targets:\n${chosen
          .map(
            (name) =>
              `  - name: ${name}\n    host: 127.0.0.1\n    port: ${members[0]!.port}\n` +
              `    username: ${MONITOR}\n    password_env: PG_PG13_PASSWORD\n`,
          )
          .join('')}`,
      );
      return file;
    };
    const env = (file: string) => ({
      ...fleetEnv(file, job, fleet),
      PUSHGATEWAY_URL: `${a.url},${b.url}`,
    });

    const first = await runFleetOnce(env(write(names)));
    expect(first.error).toBeUndefined();
    const onA = await instancesOn(a, job);
    const onB = await instancesOn(b, job);
    // Every target on exactly one; both used; the fleet's own group (no instance) on the first.
    expect([...onA, ...onB].filter((i) => i !== '').sort()).toEqual([...names].sort());
    expect(onA.filter((i) => onB.includes(i) && i !== '')).toEqual([]);
    expect(onA.length).toBeGreaterThan(1);
    expect(onB.length).toBeGreaterThan(0);
    expect(onA).toContain('');
    expect(onB).not.toContain('');

    // The next run puts each on the same one; a target removed loses its group where it was
    // (one of the Pushgateway with more, so the clean-up cap of half its groups allows it).
    const targetsOnA = onA.filter((i) => i !== '');
    const gone = (targetsOnA.length >= onB.length ? targetsOnA : onB)[0]!;
    const second = await runFleetOnce(env(write(names.filter((n) => n !== gone))));
    expect(second.error).toBeUndefined();
    expect(second.summary?.deletedGroups).toEqual([gone]);
    expect(await instancesOn(a, job)).toEqual(onA.filter((i) => i !== gone));
    expect(await instancesOn(b, job)).toEqual(onB.filter((i) => i !== gone));
  });
});
