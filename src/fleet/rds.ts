/**
 * RDS and Aurora discovery: the fleet's targets from the RDS API. Instances
 * come from DescribeDBInstances (engines postgres and aurora-postgresql, all
 * pages), are selected by a tag, and become TargetSpecs with their endpoint,
 * chosen tags as labels and a credential source; the clusters of cluster
 * members are read only when their credentials depend on them. A discovery
 * that fails (throttled, denied, timed out) never throws: it answers with the
 * last good list and says that it is not fresh.
 */
import type { DBCluster, DBInstance, RDSClient, Tag } from '@aws-sdk/client-rds';
import type { RdsDiscoveryConfig } from '../config.js';
import { ENV } from '../config.js';
import { DeadlineError, DiscoveryError, describeError } from '../errors.js';
import { clip } from '../logger.js';
import type { CredentialSource, TargetSpec } from './spec.js';

/**
 * How long a successful discovery is reused by a warm container. The
 * schedule is usually one minute: listing every run costs one call per 100
 * instances against the account's RDS API rate limit, which Terraform, the
 * console and other tools share. Five minutes keeps that to a fifth while a
 * new instance still appears, and a deleted one leaves, within five minutes.
 */
export const RDS_DISCOVERY_TTL_MS = 5 * 60_000;

/** Instances per DescribeDBInstances page (the API's maximum). */
export const RDS_PAGE_SIZE = 100;

/**
 * Most pages one listing reads (10,000 instances, far past what one
 * Pushgateway takes). A listing that is longer, or an API that never stops
 * handing out markers, fails the discovery rather than giving a partial list
 * whose missing instances would have their groups deleted.
 */
export const MAX_RDS_PAGES = 100;

/** Cluster ids per DescribeDBClusters call (in its db-cluster-id filter). */
export const CLUSTER_IDS_PER_CALL = 50;

/**
 * Longest text from the API that becomes part of a target (identifier,
 * address, secret id, label value). AWS caps tag values at 256 characters and
 * identifiers at 63: anything longer is not from RDS, and the instance is
 * skipped rather than given a clipped, made-up value.
 */
export const MAX_RDS_FIELD_CHARS = 1_024;

/** The engines whose instances can be targets, sent as the API's engine filter. */
export const RDS_ENGINES = ['postgres', 'aurora-postgresql'] as const;

/**
 * Statuses in which an instance is a target. Not only `available`: an
 * instance being backed up (daily), modified, rebooted or patched keeps its
 * endpoint and comes back by itself. Dropping it from the list would have the
 * fleet delete its group for the length of every backup window; keeping it
 * pushes `postgresql_up 0` while it does not answer, which is the truth.
 * Stopped, starting, creating, deleting, failed and unknown statuses are not
 * targets.
 */
export const TARGET_STATUSES: ReadonlySet<string> = new Set([
  'available',
  'backing-up',
  'configuring-enhanced-monitoring',
  'configuring-iam-database-auth',
  'configuring-log-exports',
  'maintenance',
  'modifying',
  'rebooting',
  'renaming',
  'resetting-master-credentials',
  'storage-config-upgrade',
  'storage-full',
  'storage-optimization',
  'upgrading',
]);

/** A tagged instance that is not a target, and why (for the log and the summary). */
export interface SkippedInstance {
  readonly name: string;
  readonly reason: string;
}

/**
 * One discovery's answer. When `fresh` is false the caller must not delete
 * any Pushgateway group for a target missing from `targets`: the list is the
 * last good one (or empty when there never was one), not what exists now.
 */
export interface DiscoveryResult {
  /** The targets to use this run: fresh, or the last good list. */
  readonly targets: readonly TargetSpec[];
  /** False: this run's discovery failed and `targets` is the last good list (or empty). */
  readonly fresh: boolean;
  /** True when a successful discovery of less than the TTL ago was reused (no API call). */
  readonly cached: boolean;
  /** Why the discovery failed (no secret; clipped). */
  readonly error?: string;
  readonly durationMs: number;
  /** Epoch ms of the last successful discovery. */
  readonly lastSuccess?: number;
  /** Tagged instances that cannot be targets, with the list `targets` came with. */
  readonly skipped: readonly SkippedInstance[];
}

export interface RdsDiscovery {
  /**
   * The fleet's RDS targets, ending by `deadline` (epoch ms, on the `now`
   * clock). Never rejects for an API failure or timeout: see `fresh`. One
   * call at a time (a Lambda container runs one event at a time).
   */
  discover(deadline: number): Promise<DiscoveryResult>;
}

export interface RdsDiscoveryOptions {
  /** Default: an RDSClient in config.region (or the SDK's default region), made on first use. */
  readonly client?: Pick<RDSClient, 'send'>;
  /** Default: Date.now. */
  readonly now?: () => number;
  /** How long a successful discovery is reused; default RDS_DISCOVERY_TTL_MS, 0 for never. */
  readonly ttlMs?: number;
}

/** The instances and clusters of one discovery, as the API gave them. */
export interface RdsInventory {
  readonly instances: readonly DBInstance[];
  /** Clusters by identifier, only those the credentials of tagged members needed. */
  readonly clusters: ReadonlyMap<string, DBCluster>;
}

type Client = Pick<RDSClient, 'send'>;
type Sdk = typeof import('@aws-sdk/client-rds');

/** The value of tag `key` ('' when it has none), or undefined when the instance does not carry it. */
function tagValue(tags: readonly Tag[] | undefined, key: string): string | undefined {
  const tag = tags?.find((t) => t.Key === key);
  return tag === undefined ? undefined : (tag.Value ?? '');
}

/** Whether an instance carries the selecting tag (with the wanted value when one is set). */
export function isTagged(instance: DBInstance, tag: RdsDiscoveryConfig['tag']): boolean {
  const value = tagValue(instance.TagList, tag.key);
  return value !== undefined && (tag.value === undefined || value === tag.value);
}

/**
 * The cluster that owns the credential facts of an instance, when the
 * settings need them: a cluster member's IAM auth switch and managed master
 * secret belong to its cluster (Aurora, Multi-AZ DB clusters), not to it.
 */
function neededCluster(instance: DBInstance, config: RdsDiscoveryConfig): string | undefined {
  const cluster = instance.DBClusterIdentifier;
  if (cluster === undefined || cluster === '') return undefined;
  if (tagValue(instance.TagList, config.secretTag) !== undefined) return undefined;
  return config.iamAuth || config.masterSecret ? cluster : undefined;
}

/**
 * The clusters to look up for the tagged instances that can be targets: none
 * unless IAM auth or the master secret is on and a member has no secret tag.
 */
export function clustersToDescribe(
  instances: readonly DBInstance[],
  config: RdsDiscoveryConfig,
): string[] {
  const ids = new Set<string>();
  for (const instance of instances) {
    if (!isTagged(instance, config.tag) || unusable(instance, config) !== undefined) continue;
    const cluster = neededCluster(instance, config);
    if (cluster !== undefined) ids.add(cluster);
  }
  return [...ids];
}

type Credentials =
  | { readonly credentials: CredentialSource; readonly username: string | undefined }
  | { readonly reason: string };

/**
 * The first credential source that applies: the secret tag, then IAM auth
 * (enabled on the instance, or on its cluster), then the managed master
 * secret (the instance's, or its cluster's). The reason names the settings
 * that would make the instance a target.
 */
function credentials(
  instance: DBInstance,
  clusters: ReadonlyMap<string, DBCluster>,
  config: RdsDiscoveryConfig,
): Credentials {
  const secretId = tagValue(instance.TagList, config.secretTag);
  if (secretId !== undefined) {
    if (secretId === '') {
      return { reason: `tag ${config.secretTag} is empty: set it to the secret's ARN or name` };
    }
    if (secretId.length > MAX_RDS_FIELD_CHARS) {
      return { reason: `tag ${config.secretTag} is longer than ${MAX_RDS_FIELD_CHARS} characters` };
    }
    return { credentials: { kind: 'secret', secretId }, username: undefined };
  }
  const clusterId = neededCluster(instance, config);
  const cluster = clusterId === undefined ? undefined : clusters.get(clusterId);
  if (clusterId !== undefined && cluster === undefined) {
    return { reason: `its cluster ${clusterId} was not found (DescribeDBClusters)` };
  }
  const owner = cluster ?? instance;
  const where = cluster === undefined ? 'the instance' : `its cluster ${clusterId ?? ''}`;
  const missing: string[] = [];
  if (config.iamAuth) {
    if (owner.IAMDatabaseAuthenticationEnabled === true) {
      return { credentials: { kind: 'iam' }, username: config.username };
    }
    missing.push(`IAM database authentication is not enabled on ${where}`);
  }
  if (config.masterSecret) {
    const arn = owner.MasterUserSecret?.SecretArn;
    if (arn !== undefined && arn !== '' && arn.length <= MAX_RDS_FIELD_CHARS) {
      return { credentials: { kind: 'secret', secretId: arn }, username: undefined };
    }
    missing.push(`${where} has no managed master user secret`);
  }
  const ways = [
    `tag it ${config.secretTag}=<secret ARN or name>`,
    ...(config.iamAuth ? [] : [`set ${ENV.rdsIamAuth}=true and ${ENV.rdsUsername}`]),
    ...(config.masterSecret ? [] : [`set ${ENV.rdsMasterSecret}=true (the master user)`]),
  ];
  return {
    reason: `no credentials${missing.length > 0 ? ` (${missing.join('; ')})` : ''}: ${ways.join(', or ')}`,
  };
}

/** Why an instance is not a target, before credentials; undefined when it may be one. */
function unusable(instance: DBInstance, config: RdsDiscoveryConfig): string | undefined {
  const status = instance.DBInstanceStatus ?? 'unknown';
  if (!TARGET_STATUSES.has(status)) return `status ${clip(status, 100)}: not a target`;
  const { Address: host, Port: port } = instance.Endpoint ?? {};
  if (host === undefined || host === '') return 'no endpoint yet';
  if (host.length > MAX_RDS_FIELD_CHARS) return 'endpoint address too long';
  if (port === undefined || !Number.isInteger(port) || port < 1 || port > 65_535) {
    return 'endpoint has no valid port';
  }
  for (const tag of Object.keys(config.labelTags)) {
    const value = tagValue(instance.TagList, tag);
    if (value !== undefined && value.length > MAX_RDS_FIELD_CHARS) {
      return `tag ${tag} is longer than ${MAX_RDS_FIELD_CHARS} characters (a label value)`;
    }
  }
  return undefined;
}

/**
 * Grouping labels from the label tags the instance carries. A missing or
 * empty tag gives no label (Prometheus treats an empty label as absent).
 */
function labels(instance: DBInstance, labelTags: Readonly<Record<string, string>>) {
  const out: Record<string, string> = {};
  for (const [tag, label] of Object.entries(labelTags)) {
    const value = tagValue(instance.TagList, tag);
    if (value !== undefined && value !== '') out[label] = value;
  }
  return out;
}

/**
 * The targets among the listed instances, and the tagged ones skipped with a
 * reason. Untagged instances are left out silently. Pure.
 */
export function rdsTargets(
  inventory: RdsInventory,
  config: RdsDiscoveryConfig,
): { targets: TargetSpec[]; skipped: SkippedInstance[] } {
  const targets: TargetSpec[] = [];
  const skipped: SkippedInstance[] = [];
  const names = new Set<string>();
  for (const instance of inventory.instances) {
    if (!isTagged(instance, config.tag)) continue;
    const name = instance.DBInstanceIdentifier ?? '';
    const skip = (reason: string) => skipped.push({ name: clip(name, 100), reason });
    if (name === '' || name.length > MAX_RDS_FIELD_CHARS) {
      skip('no usable DBInstanceIdentifier');
      continue;
    }
    if (names.has(name)) {
      skip('listed twice');
      continue;
    }
    names.add(name);
    const reason = unusable(instance, config);
    if (reason !== undefined) {
      skip(reason);
      continue;
    }
    const found = credentials(instance, inventory.clusters, config);
    if ('reason' in found) {
      skip(found.reason);
      continue;
    }
    targets.push({
      name,
      host: instance.Endpoint?.Address,
      port: instance.Endpoint?.Port,
      database: config.database,
      username: found.username,
      credentials: found.credentials,
      // The RDS CA bundle is the deployment's POSTGRESQL_SSL_ROOT_CERT, applied with it.
      // The deployment's POSTGRESQL_SSL, else verify-full for an RDS endpoint (loopback: disable).
      ssl: undefined,
      sslRootCert: undefined,
      labels: labels(instance, config.labelTags),
      collectors: { enable: [], disable: [] },
      source: 'rds',
    });
  }
  return { targets, skipped };
}

const THROTTLING_NAMES = new Set([
  'Throttling',
  'ThrottlingException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
]);

/** Whether the API refused for its rate limit (after the SDK's own retries). */
export function isThrottling(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  const status = (error as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata
    ?.httpStatusCode;
  return (typeof name === 'string' && THROTTLING_NAMES.has(name)) || status === 429;
}

/**
 * One step of a discovery (an API call, loading the SDK), cut off by `signal`
 * (the discovery's deadline): the signal cancels the SDK's request, and the
 * race ends the wait even when a request ignores it. Every failure becomes a
 * DiscoveryError naming `operation`.
 */
async function call<T>(
  operation: string,
  request: () => Promise<T>,
  signal: AbortSignal,
): Promise<T> {
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      reject(new Error('aborted'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    signal.throwIfAborted();
    return await Promise.race([request(), aborted]);
  } catch (error) {
    if (signal.aborted) throw signal.reason as DiscoveryError;
    const what = isThrottling(error) ? 'was throttled by the RDS API' : 'failed';
    throw new DiscoveryError(`${operation} ${what}: ${describeError(error)}`, { cause: error });
  } finally {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
  }
}

/** Every postgres and aurora-postgresql instance, page by page, at most MAX_RDS_PAGES. */
async function listInstances(sdk: Sdk, client: Client, signal: AbortSignal): Promise<DBInstance[]> {
  const instances: DBInstance[] = [];
  let marker: string | undefined;
  for (let page = 1; page <= MAX_RDS_PAGES; page += 1) {
    const command = new sdk.DescribeDBInstancesCommand({
      Filters: [{ Name: 'engine', Values: [...RDS_ENGINES] }],
      MaxRecords: RDS_PAGE_SIZE,
      ...(marker === undefined ? {} : { Marker: marker }),
    });
    const out = await call(
      `DescribeDBInstances (page ${page})`,
      () => client.send(command, { abortSignal: signal }),
      signal,
    );
    instances.push(...(out.DBInstances ?? []));
    marker = out.Marker === '' ? undefined : out.Marker;
    if (marker === undefined) return instances;
  }
  throw new DiscoveryError(
    `DescribeDBInstances gave more than ${MAX_RDS_PAGES} pages of ${RDS_PAGE_SIZE}: ` +
      'refusing a partial list',
  );
}

/** The clusters named, by identifier, in calls of CLUSTER_IDS_PER_CALL, at most MAX_RDS_PAGES calls. */
async function describeClusters(
  sdk: Sdk,
  client: Client,
  ids: readonly string[],
  signal: AbortSignal,
): Promise<Map<string, DBCluster>> {
  const clusters = new Map<string, DBCluster>();
  let calls = 0;
  for (let start = 0; start < ids.length; start += CLUSTER_IDS_PER_CALL) {
    const chunk = ids.slice(start, start + CLUSTER_IDS_PER_CALL);
    let marker: string | undefined;
    do {
      calls += 1;
      if (calls > MAX_RDS_PAGES) {
        throw new DiscoveryError(`DescribeDBClusters needed more than ${MAX_RDS_PAGES} calls`);
      }
      const command = new sdk.DescribeDBClustersCommand({
        Filters: [{ Name: 'db-cluster-id', Values: chunk }],
        MaxRecords: RDS_PAGE_SIZE,
        ...(marker === undefined ? {} : { Marker: marker }),
      });
      const out = await call(
        'DescribeDBClusters',
        () => client.send(command, { abortSignal: signal }),
        signal,
      );
      for (const cluster of out.DBClusters ?? []) {
        if (cluster.DBClusterIdentifier !== undefined) {
          clusters.set(cluster.DBClusterIdentifier, cluster);
        }
      }
      marker = out.Marker === '' ? undefined : out.Marker;
    } while (marker !== undefined);
  }
  return clusters;
}

/**
 * Discovery of the fleet's RDS and Aurora targets, kept per warm container:
 * it holds the SDK client, the result reused for `ttlMs` and the last good
 * list answered when a discovery fails.
 */
export function rdsDiscovery(
  config: RdsDiscoveryConfig,
  options: RdsDiscoveryOptions = {},
): RdsDiscovery {
  const now = options.now ?? Date.now;
  const ttlMs = options.ttlMs ?? RDS_DISCOVERY_TTL_MS;
  let client = options.client;
  let last:
    | { readonly targets: TargetSpec[]; readonly skipped: SkippedInstance[]; readonly at: number }
    | undefined;

  const inventory = async (signal: AbortSignal): Promise<RdsInventory> => {
    // Loaded on first use: only deployments with discovery pay its load time and memory.
    const sdk = await call(
      'loading @aws-sdk/client-rds',
      () => import('@aws-sdk/client-rds'),
      signal,
    );
    client ??= new sdk.RDSClient(config.region === undefined ? {} : { region: config.region });
    const instances = await listInstances(sdk, client, signal);
    const ids = clustersToDescribe(instances, config);
    const clusters =
      ids.length === 0
        ? new Map<string, DBCluster>()
        : await describeClusters(sdk, client, ids, signal);
    return { instances, clusters };
  };

  /** The inventory, or a DiscoveryError once `deadline` has passed. */
  const bounded = async (deadline: number): Promise<RdsInventory> => {
    const ms = deadline - now();
    const controller = new AbortController();
    const timeout = new DeadlineError(`RDS discovery did not finish by its deadline (${ms} ms)`);
    if (ms <= 0) throw new DiscoveryError('no time left for RDS discovery', { cause: timeout });
    const timer = setTimeout(() => {
      controller.abort(new DiscoveryError(timeout.message, { cause: timeout }));
    }, ms);
    try {
      return await inventory(controller.signal);
    } finally {
      clearTimeout(timer);
    }
  };

  return {
    async discover(deadline) {
      const start = now();
      if (last !== undefined && start - last.at < ttlMs) {
        const { targets, skipped, at } = last;
        return { targets, skipped, fresh: true, cached: true, durationMs: 0, lastSuccess: at };
      }
      let found: RdsInventory;
      try {
        found = await bounded(deadline);
      } catch (error) {
        // Anything else is a bug of this module, not a failed discovery.
        if (!(error instanceof DiscoveryError)) throw error;
        return {
          targets: last?.targets ?? [],
          skipped: last?.skipped ?? [],
          fresh: false,
          cached: false,
          error: clip(error.message),
          durationMs: now() - start,
          ...(last === undefined ? {} : { lastSuccess: last.at }),
        };
      }
      const { targets, skipped } = rdsTargets(found, config);
      const end = now();
      last = { targets, skipped, at: end };
      return {
        targets,
        skipped,
        fresh: true,
        cached: false,
        durationMs: end - start,
        lastSuccess: end,
      };
    },
  };
}
