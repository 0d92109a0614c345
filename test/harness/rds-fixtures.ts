/**
 * RDS API fixtures for discovery tests: instances and clusters as
 * DescribeDBInstances and DescribeDBClusters return them, pointing at
 * 127.0.0.1 so an integration test can aim them at local PostgreSQL servers,
 * and fakes that answer those commands page by page (for aws-sdk-client-mock's
 * `callsFake`).
 */
import type {
  DBCluster,
  DBInstance,
  DescribeDBClustersCommandInput,
  DescribeDBClustersCommandOutput,
  DescribeDBInstancesCommandInput,
  DescribeDBInstancesCommandOutput,
} from '@aws-sdk/client-rds';

/** The tag the tests select by (TARGETS_RDS_TAG=monitoring=pushgateway). */
export const MONITORED: Readonly<Record<string, string>> = { monitoring: 'pushgateway' };

export interface RdsInstanceFixture {
  /** DBInstanceIdentifier: the target's name. */
  readonly id: string;
  readonly port: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default MONITORED; `{}` for an untagged instance. */
  readonly tags?: Readonly<Record<string, string>>;
  /** Default available. */
  readonly status?: string;
  /** Default aurora-postgresql for a cluster member, postgres otherwise. */
  readonly engine?: string;
  /** DBClusterIdentifier: an Aurora (or Multi-AZ cluster) member. */
  readonly cluster?: string;
  /** IAMDatabaseAuthenticationEnabled as the instance reports it. */
  readonly iamAuth?: boolean;
  /** MasterUserSecret.SecretArn of the instance (RDS for PostgreSQL; Aurora's is on the cluster). */
  readonly masterSecretArn?: string;
  /** False: no Endpoint yet (an instance being created). */
  readonly endpoint?: boolean;
}

/** One DBInstance as DescribeDBInstances returns it. */
export function rdsInstance(fixture: RdsInstanceFixture): DBInstance {
  const tags = fixture.tags ?? MONITORED;
  return {
    DBInstanceIdentifier: fixture.id,
    DBInstanceArn: `arn:aws:rds:eu-west-1:123456789012:db:${fixture.id}`,
    Engine: fixture.engine ?? (fixture.cluster === undefined ? 'postgres' : 'aurora-postgresql'),
    DBInstanceStatus: fixture.status ?? 'available',
    ...(fixture.endpoint === false
      ? {}
      : { Endpoint: { Address: fixture.host ?? '127.0.0.1', Port: fixture.port } }),
    ...(fixture.cluster === undefined ? {} : { DBClusterIdentifier: fixture.cluster }),
    IAMDatabaseAuthenticationEnabled: fixture.iamAuth ?? false,
    ...(fixture.masterSecretArn === undefined
      ? {}
      : { MasterUserSecret: { SecretArn: fixture.masterSecretArn, SecretStatus: 'active' } }),
    TagList: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
  };
}

export interface RdsClusterFixture {
  readonly id: string;
  readonly iamAuth?: boolean;
  readonly masterSecretArn?: string;
}

/** One DBCluster as DescribeDBClusters returns it. */
export function rdsCluster(fixture: RdsClusterFixture): DBCluster {
  return {
    DBClusterIdentifier: fixture.id,
    Engine: 'aurora-postgresql',
    Status: 'available',
    IAMDatabaseAuthenticationEnabled: fixture.iamAuth ?? false,
    ...(fixture.masterSecretArn === undefined
      ? {}
      : { MasterUserSecret: { SecretArn: fixture.masterSecretArn, SecretStatus: 'active' } }),
  };
}

const metadata = { httpStatusCode: 200 };

/**
 * A DescribeDBInstances fake answering `instances` in pages of `pageSize`,
 * the Marker naming the next page (`page-2`, …) as the API's opaque marker
 * would. `instances` may be a function, read at each first page, so a test
 * can change the account between discoveries.
 */
export function instancePages(
  instances: readonly DBInstance[] | (() => readonly DBInstance[]),
  pageSize = 100,
): (input: DescribeDBInstancesCommandInput) => DescribeDBInstancesCommandOutput {
  let listed: readonly DBInstance[] = [];
  return (input) => {
    const marker = input.Marker;
    if (marker === undefined) listed = typeof instances === 'function' ? instances() : instances;
    const page = marker === undefined ? 1 : Number(/^page-(\d+)$/.exec(marker)?.[1] ?? NaN);
    if (!Number.isInteger(page)) throw new Error(`InvalidParameterValue: bad marker ${marker}`);
    const slice = listed.slice((page - 1) * pageSize, page * pageSize);
    const more = page * pageSize < listed.length;
    return {
      DBInstances: [...slice],
      ...(more ? { Marker: `page-${page + 1}` } : {}),
      $metadata: metadata,
    };
  };
}

/** A DescribeDBClusters fake answering the clusters its db-cluster-id filter names. */
export function clusterAnswers(
  clusters: readonly DBCluster[],
): (input: DescribeDBClustersCommandInput) => DescribeDBClustersCommandOutput {
  return (input) => {
    const ids = input.Filters?.find((filter) => filter.Name === 'db-cluster-id')?.Values;
    return {
      DBClusters: clusters.filter(
        (cluster) => ids === undefined || ids.includes(cluster.DBClusterIdentifier ?? ''),
      ),
      $metadata: metadata,
    };
  };
}
