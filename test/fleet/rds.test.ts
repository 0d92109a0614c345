import {
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  RDSClient,
  type DBInstance,
  type DescribeDBInstancesCommandInput,
} from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig, type Env, type RdsDiscoveryConfig } from '../../src/config.js';
import {
  MAX_RDS_FIELD_CHARS,
  MAX_RDS_PAGES,
  RDS_DISCOVERY_TTL_MS,
  isThrottling,
  rdsDiscovery,
  type RdsDiscoveryOptions,
} from '../../src/fleet/rds.js';
import { clusterAnswers, instancePages, rdsCluster, rdsInstance } from '../harness/rds-fixtures.js';

/** RDS discovery settings as config.ts parses them from the environment. */
function rdsConfig(env: Env = {}): RdsDiscoveryConfig {
  const config = loadConfig({
    PUSHGATEWAY_URL: 'http://127.0.0.1:9091',
    AWS_REGION: 'eu-west-1',
    TARGETS_RDS_TAG: 'monitoring=pushgateway',
    ...env,
  });
  const rds = config.fleet?.rds;
  if (rds === undefined) throw new Error('no RDS discovery in this environment');
  return rds;
}

const rds = mockClient(RDSClient);
afterEach(() => rds.reset());

/** A discovery over the mocked client; the deadline is 5 s away on its clock. */
function discovery(config: RdsDiscoveryConfig, options: RdsDiscoveryOptions = {}) {
  const now = options.now ?? Date.now;
  const found = rdsDiscovery(config, {
    client: new RDSClient({ region: 'eu-west-1' }),
    ...options,
  });
  return { discover: (ms = 5_000) => found.discover(now() + ms) };
}

const names = (result: { targets: readonly { name: string }[] }) =>
  result.targets.map((t) => t.name);

function throttling(): Error {
  return Object.assign(new Error('Rate exceeded'), {
    name: 'ThrottlingException',
    $metadata: { httpStatusCode: 400 },
  });
}

/** Selected and carrying a secret tag: a target. */
const TARGET_TAGS = { monitoring: 'pushgateway', 'postgresql-exporter-secret': 's' };

const many = (count: number): DBInstance[] =>
  Array.from({ length: count }, (_, i) =>
    rdsInstance({ id: `db-${i}`, port: 10_000 + i, tags: TARGET_TAGS }),
  );

describe('rdsDiscovery: listing', () => {
  it('reads every page, following the Marker, with the engine filter sent to the API', async () => {
    rds.on(DescribeDBInstancesCommand).callsFake(instancePages(many(250)));
    const result = await discovery(rdsConfig()).discover();
    expect(result.fresh).toBe(true);
    expect(result.error).toBeUndefined();
    expect(result.targets).toHaveLength(250);
    expect(names(result).at(-1)).toBe('db-249');
    const inputs = rds.commandCalls(DescribeDBInstancesCommand).map((c) => c.args[0].input);
    expect(inputs).toEqual([
      {
        Filters: [{ Name: 'engine', Values: ['postgres', 'aurora-postgresql'] }],
        MaxRecords: 100,
      },
      expect.objectContaining({ Marker: 'page-2' }),
      expect.objectContaining({ Marker: 'page-3' }),
    ]);
    expect(inputs[2]?.Filters).toEqual(inputs[0]?.Filters);
    expect(rds.commandCalls(DescribeDBClustersCommand)).toHaveLength(0);
  });

  it('makes each instance a target at its endpoint, over verify-full, from rds', async () => {
    rds.on(DescribeDBInstancesCommand).callsFake(
      instancePages([
        rdsInstance({
          id: 'orders',
          port: 15432,
          tags: { monitoring: 'pushgateway', 'postgresql-exporter-secret': 'orders-secret' },
        }),
      ]),
    );
    const result = await discovery(rdsConfig({ TARGETS_RDS_DATABASE: 'orders' })).discover();
    expect(result.targets).toEqual([
      {
        name: 'orders',
        host: '127.0.0.1',
        port: 15432,
        database: 'orders',
        username: undefined,
        credentials: { kind: 'secret', secretId: 'orders-secret' },
        ssl: undefined,
        sslRootCert: undefined,
        labels: {},
        collectors: { enable: [], disable: [] },
        source: 'rds',
      },
    ]);
    expect(result.skipped).toEqual([]);
  });

  it('creates its client lazily, in the configured region', async () => {
    let region: string | undefined;
    rds
      .on(DescribeDBInstancesCommand)
      .callsFake(async (input: DescribeDBInstancesCommandInput, getClient: () => RDSClient) => {
        region = await getClient().config.region();
        return instancePages(many(1))(input);
      });
    const result = await rdsDiscovery(rdsConfig({ AWS_REGION: 'ap-south-2' })).discover(
      Date.now() + 5_000,
    );
    expect(names(result)).toEqual(['db-0']);
    expect(region).toBe('ap-south-2');
  });
});

describe('rdsDiscovery: selection', () => {
  const fleet = [
    rdsInstance({ id: 'push', port: 1, tags: { monitoring: 'pushgateway' } }),
    rdsInstance({ id: 'other', port: 2, tags: { monitoring: 'datadog' } }),
    rdsInstance({ id: 'case', port: 3, tags: { monitoring: 'Pushgateway' } }),
    rdsInstance({ id: 'empty', port: 4, tags: { monitoring: '' } }),
    rdsInstance({ id: 'untagged', port: 5, tags: { team: 'x' } }),
    rdsInstance({ id: 'key-case', port: 6, tags: { Monitoring: 'pushgateway' } }),
  ];

  it('key=value selects that exact value only, and says nothing of the others', async () => {
    rds.on(DescribeDBInstancesCommand).callsFake(instancePages(fleet));
    const result = await discovery(rdsConfig({ TARGETS_RDS_MASTER_SECRET: 'true' })).discover();
    // push has no credentials, so it is the one skipped: the others were never candidates.
    expect(result.targets).toEqual([]);
    expect(result.skipped.map((s) => s.name)).toEqual(['push']);
  });

  it('a key alone selects any value of it, an empty one too', async () => {
    rds.on(DescribeDBInstancesCommand).callsFake(instancePages(fleet));
    const result = await discovery(rdsConfig({ TARGETS_RDS_TAG: 'monitoring' })).discover();
    expect(result.skipped.map((s) => s.name)).toEqual(['push', 'other', 'case', 'empty']);
  });

  it('skips tagged instances that are stopped, deleting or have no endpoint yet, keeps a backup', async () => {
    const secret = { monitoring: 'pushgateway', 'postgresql-exporter-secret': 's' };
    rds
      .on(DescribeDBInstancesCommand)
      .callsFake(
        instancePages([
          rdsInstance({ id: 'up', port: 1, tags: secret }),
          rdsInstance({ id: 'backup', port: 2, tags: secret, status: 'backing-up' }),
          rdsInstance({ id: 'stopped', port: 3, tags: secret, status: 'stopped' }),
          rdsInstance({ id: 'deleting', port: 4, tags: secret, status: 'deleting' }),
          rdsInstance({ id: 'new', port: 5, tags: secret, status: 'creating', endpoint: false }),
          rdsInstance({ id: 'odd', port: 6, tags: secret, endpoint: false }),
          rdsInstance({ id: 'up', port: 7, tags: secret }),
        ]),
      );
    const result = await discovery(rdsConfig()).discover();
    expect(names(result)).toEqual(['up', 'backup']);
    expect(result.targets[0]?.port).toBe(1);
    expect(result.skipped).toEqual([
      { name: 'stopped', reason: expect.stringMatching(/status stopped/) as unknown },
      { name: 'deleting', reason: expect.stringMatching(/status deleting/) as unknown },
      { name: 'new', reason: expect.stringMatching(/status creating/) as unknown },
      { name: 'odd', reason: 'no endpoint yet' },
      { name: 'up', reason: 'listed twice' },
    ]);
  });

  it('copies the label tags the instance carries, under their label names', async () => {
    const tags = TARGET_TAGS;
    rds.on(DescribeDBInstancesCommand).callsFake(
      instancePages([
        rdsInstance({ id: 'a', port: 1, tags: { ...tags, team: 'checkout', env: 'prod' } }),
        rdsInstance({ id: 'b', port: 2, tags: { ...tags, team: 'search', env: '' } }),
        rdsInstance({ id: 'c', port: 3, tags }),
        rdsInstance({
          id: 'long',
          port: 4,
          tags: { ...tags, team: 'x'.repeat(MAX_RDS_FIELD_CHARS + 1) },
        }),
      ]),
    );
    const result = await discovery(
      rdsConfig({ TARGETS_RDS_LABEL_TAGS: 'team,env=environment' }),
    ).discover();
    expect(result.targets.map((t) => [t.name, t.labels])).toEqual([
      ['a', { team: 'checkout', environment: 'prod' }],
      ['b', { team: 'search' }],
      ['c', {}],
    ]);
    expect(result.skipped).toEqual([
      { name: 'long', reason: expect.stringMatching(/tag team is longer than 1024/) as unknown },
    ]);
  });
});

describe('rdsDiscovery: credentials', () => {
  const all = {
    TARGETS_RDS_IAM_AUTH: 'true',
    TARGETS_RDS_USERNAME: 'exporter_iam',
    TARGETS_RDS_MASTER_SECRET: 'true',
  };
  const secretTag = (value: string) => ({
    monitoring: 'pushgateway',
    'postgresql-exporter-secret': value,
  });

  it('takes the secret tag, then IAM auth, then the master secret, else skips saying how', async () => {
    rds.on(DescribeDBInstancesCommand).callsFake(
      instancePages([
        rdsInstance({
          id: 'tagged',
          port: 1,
          tags: secretTag('arn:tagged'),
          iamAuth: true,
          masterSecretArn: 'arn:m1',
        }),
        rdsInstance({ id: 'iam', port: 2, iamAuth: true, masterSecretArn: 'arn:m2' }),
        rdsInstance({ id: 'master', port: 3, masterSecretArn: 'arn:m3' }),
        rdsInstance({ id: 'none', port: 4 }),
        rdsInstance({ id: 'blank', port: 5, tags: secretTag(''), masterSecretArn: 'arn:m5' }),
      ]),
    );
    const result = await discovery(rdsConfig(all)).discover();
    expect(result.targets.map((t) => [t.name, t.credentials, t.username])).toEqual([
      ['tagged', { kind: 'secret', secretId: 'arn:tagged' }, undefined],
      ['iam', { kind: 'iam' }, 'exporter_iam'],
      ['master', { kind: 'secret', secretId: 'arn:m3' }, undefined],
    ]);
    expect(result.skipped.map((s) => s.name)).toEqual(['none', 'blank']);
    expect(result.skipped[0]?.reason).toMatch(
      /IAM database authentication is not enabled on the instance/,
    );
    expect(result.skipped[0]?.reason).toMatch(/no managed master user secret/);
    expect(result.skipped[0]?.reason).toMatch(/tag it postgresql-exporter-secret=/);
    expect(result.skipped[1]?.reason).toMatch(/tag postgresql-exporter-secret is empty/);
  });

  it('with no credential setting, the reason names every way to give one', async () => {
    rds
      .on(DescribeDBInstancesCommand)
      .callsFake(
        instancePages([rdsInstance({ id: 'x', port: 1, iamAuth: true, masterSecretArn: 'arn:m' })]),
      );
    const result = await discovery(rdsConfig({ TARGETS_RDS_SECRET_TAG: 'pg-secret' })).discover();
    expect(result.targets).toEqual([]);
    const reason = result.skipped[0]?.reason ?? '';
    expect(reason).toMatch(/tag it pg-secret=/);
    expect(reason).toMatch(/TARGETS_RDS_IAM_AUTH=true and TARGETS_RDS_USERNAME/);
    expect(reason).toMatch(/TARGETS_RDS_MASTER_SECRET=true/);
  });

  it("reads an Aurora member's IAM switch and master secret from its cluster, only when needed", async () => {
    rds.on(DescribeDBInstancesCommand).callsFake(
      instancePages([
        // The instance's own flags are not the cluster's: the cluster decides.
        rdsInstance({ id: 'a-1', port: 1, cluster: 'aurora-a', iamAuth: false }),
        rdsInstance({ id: 'a-2', port: 2, cluster: 'aurora-a' }),
        rdsInstance({
          id: 'b-1',
          port: 3,
          cluster: 'aurora-b',
          iamAuth: true,
          masterSecretArn: 'arn:own',
        }),
        rdsInstance({ id: 'c-1', port: 4, cluster: 'aurora-c', tags: secretTag('arn:c') }),
        rdsInstance({ id: 'gone-1', port: 5, cluster: 'aurora-gone' }),
        rdsInstance({ id: 'untagged', port: 6, cluster: 'aurora-x', tags: {} }),
        rdsInstance({ id: 'stopped-1', port: 7, cluster: 'aurora-s', status: 'stopped' }),
      ]),
    );
    rds
      .on(DescribeDBClustersCommand)
      .callsFake(
        clusterAnswers([
          rdsCluster({ id: 'aurora-a', iamAuth: true }),
          rdsCluster({ id: 'aurora-b', masterSecretArn: 'arn:cluster-b' }),
          rdsCluster({ id: 'aurora-c', iamAuth: true }),
          rdsCluster({ id: 'aurora-x', iamAuth: true }),
        ]),
      );
    const result = await discovery(rdsConfig(all)).discover();
    expect(result.targets.map((t) => [t.name, t.credentials])).toEqual([
      ['a-1', { kind: 'iam' }],
      ['a-2', { kind: 'iam' }],
      ['b-1', { kind: 'secret', secretId: 'arn:cluster-b' }],
      ['c-1', { kind: 'secret', secretId: 'arn:c' }],
    ]);
    expect(result.skipped).toEqual([
      {
        name: 'gone-1',
        reason: expect.stringMatching(/cluster aurora-gone was not found/) as unknown,
      },
      { name: 'stopped-1', reason: expect.stringMatching(/status stopped/) as unknown },
    ]);
    // Only the clusters of usable, selected members without a secret tag are read.
    const calls = rds.commandCalls(DescribeDBClustersCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input).toEqual({
      Filters: [{ Name: 'db-cluster-id', Values: ['aurora-a', 'aurora-b', 'aurora-gone'] }],
      MaxRecords: 100,
    });
  });

  it('does not call DescribeDBClusters when no cluster fact is needed', async () => {
    rds
      .on(DescribeDBInstancesCommand)
      .callsFake(instancePages([rdsInstance({ id: 'a-1', port: 1, cluster: 'aurora-a' })]));
    const result = await discovery(rdsConfig()).discover();
    expect(result.skipped.map((s) => s.name)).toEqual(['a-1']);
    expect(rds.commandCalls(DescribeDBClustersCommand)).toHaveLength(0);
  });

  it('fails the whole discovery when the clusters cannot be read (no partial list)', async () => {
    rds
      .on(DescribeDBInstancesCommand)
      .callsFake(instancePages([rdsInstance({ id: 'a-1', port: 1, cluster: 'aurora-a' })]));
    rds
      .on(DescribeDBClustersCommand)
      .rejects(Object.assign(new Error('not authorized'), { name: 'AccessDenied' }));
    const result = await discovery(rdsConfig(all)).discover();
    expect(result.fresh).toBe(false);
    expect(result.error).toMatch(/DescribeDBClusters failed: not authorized/);
  });
});

describe('rdsDiscovery: failures and the last good list', () => {
  it('throttled on the 2nd page: the previous list, not fresh, saying why', async () => {
    let now = 1_000;
    rds.on(DescribeDBInstancesCommand).callsFake(instancePages(many(150)));
    const found = discovery(rdsConfig(), { now: () => now, ttlMs: 0 });
    const first = await found.discover();
    expect(first.fresh).toBe(true);
    expect(first.targets).toHaveLength(150);

    now = 61_000;
    rds.reset();
    const pages = instancePages(many(120));
    rds.on(DescribeDBInstancesCommand).callsFake((input: DescribeDBInstancesCommandInput) => {
      if (input.Marker === 'page-2') throw throttling();
      return pages(input);
    });
    const second = await found.discover();
    expect(second.fresh).toBe(false);
    expect(second.cached).toBe(false);
    expect(second.targets).toBe(first.targets);
    expect(second.lastSuccess).toBe(1_000);
    expect(second.error).toMatch(
      /DescribeDBInstances \(page 2\) was throttled by the RDS API: Rate exceeded/,
    );
  });

  it('a cold failure gives no targets, not fresh, no last success', async () => {
    rds
      .on(DescribeDBInstancesCommand)
      .rejects(new Error('getaddrinfo ENOTFOUND rds.eu-west-1.amazonaws.com'));
    const result = await discovery(rdsConfig()).discover();
    expect(result).toMatchObject({ targets: [], skipped: [], fresh: false, cached: false });
    expect(result.lastSuccess).toBeUndefined();
    expect(result.error).toMatch(/DescribeDBInstances \(page 1\) failed: getaddrinfo ENOTFOUND/);
  });

  it('clips a long API error', async () => {
    rds.on(DescribeDBInstancesCommand).rejects(new Error('x'.repeat(50_000)));
    const result = await discovery(rdsConfig()).discover();
    expect(result.error?.length).toBeLessThan(1_200);
    expect(result.error).toMatch(/more characters/);
  });

  it('reuses a success within the TTL without calling the API, and lists again after it', async () => {
    let now = 0;
    const tags = TARGET_TAGS;
    rds
      .on(DescribeDBInstancesCommand)
      .callsFake(instancePages([rdsInstance({ id: 'a', port: 1, tags })]));
    const found = discovery(rdsConfig(), { now: () => now });
    const first = await found.discover();
    now = RDS_DISCOVERY_TTL_MS - 1;
    const second = await found.discover();
    expect(rds.commandCalls(DescribeDBInstancesCommand)).toHaveLength(1);
    expect(second).toMatchObject({ fresh: true, cached: true, lastSuccess: 0 });
    expect(second.targets).toEqual(first.targets);
    now = RDS_DISCOVERY_TTL_MS;
    const third = await found.discover();
    expect(rds.commandCalls(DescribeDBInstancesCommand)).toHaveLength(2);
    expect(third).toMatchObject({ fresh: true, cached: false, lastSuccess: RDS_DISCOVERY_TTL_MS });
  });

  it('drops an instance that vanished between two discoveries', async () => {
    const tags = TARGET_TAGS;
    let instances = [
      rdsInstance({ id: 'a', port: 1, tags }),
      rdsInstance({ id: 'b', port: 2, tags }),
    ];
    rds.on(DescribeDBInstancesCommand).callsFake(instancePages(() => instances));
    const found = discovery(rdsConfig(), { ttlMs: 0 });
    expect(names(await found.discover())).toEqual(['a', 'b']);
    instances = [rdsInstance({ id: 'b', port: 2, tags })];
    const after = await found.discover();
    expect(after.fresh).toBe(true);
    expect(names(after)).toEqual(['b']);
  });

  it('cuts a hanging API call at the deadline and aborts the request', async () => {
    rds.on(DescribeDBInstancesCommand).callsFake(() => new Promise(() => undefined));
    const started = Date.now();
    const result = await discovery(rdsConfig()).discover(300);
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(250);
    expect(took).toBeLessThan(1_000);
    expect(result.fresh).toBe(false);
    expect(result.error).toMatch(/did not finish by its deadline/);
    // send(command, options): the SDK was asked to cancel the request too.
    const args = rds.commandCalls(DescribeDBInstancesCommand)[0]?.args as unknown[] | undefined;
    const options = args?.[1] as { abortSignal?: AbortSignal } | undefined;
    expect(options?.abortSignal?.aborted).toBe(true);
  });

  it('makes no call when the deadline has passed', async () => {
    rds.on(DescribeDBInstancesCommand).callsFake(instancePages(many(1)));
    const result = await discovery(rdsConfig()).discover(0);
    expect(result.fresh).toBe(false);
    expect(result.error).toMatch(/no time left/);
    expect(rds.commandCalls(DescribeDBInstancesCommand)).toHaveLength(0);
  });

  it(`stops after ${MAX_RDS_PAGES} pages of an endless listing and keeps the last good list`, async () => {
    const tags = TARGET_TAGS;
    rds
      .on(DescribeDBInstancesCommand)
      .callsFake(instancePages([rdsInstance({ id: 'a', port: 1, tags })]));
    const found = discovery(rdsConfig(), { ttlMs: 0 });
    const first = await found.discover();
    rds.reset();
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: many(1), Marker: 'again' });
    const second = await found.discover();
    expect(rds.commandCalls(DescribeDBInstancesCommand)).toHaveLength(MAX_RDS_PAGES);
    expect(second.fresh).toBe(false);
    expect(second.targets).toBe(first.targets);
    expect(second.error).toMatch(/more than 100 pages of 100: refusing a partial list/);
  });
});

describe('isThrottling', () => {
  it.each([
    [{ name: 'ThrottlingException' }, true],
    [{ name: 'Throttling', $metadata: { httpStatusCode: 400 } }, true],
    [{ name: 'Unknown', $metadata: { httpStatusCode: 429 } }, true],
    [{ name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }, false],
    [new Error('Throttling'), false],
    [null, false],
  ])('%o → %s', (error, expected) => {
    expect(isThrottling(error)).toBe(expected);
  });
});
