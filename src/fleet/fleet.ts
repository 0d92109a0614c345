/**
 * A fleet run, from the scheduled function: the targets (the targets file,
 * RDS discovery), then each target collected here with bounded concurrency
 * (inline) or handed to one invocation of the per-target function each
 * (fan-out), then the groups of targets that are gone deleted, then the
 * fleet's own metrics pushed to the fleet's group. Each target is one
 * `run()` of its own: its connection, its share of the time, its push.
 */
import { performance } from 'node:perf_hooks';
import { Registry } from 'prom-client';
import { DEFAULT_BUDGET_MS, within } from '../budget.js';
import { environmentSecrets, FLEET_LABEL, type Env } from '../config.js';
import { describeError, FleetError } from '../errors.js';
import { clip, createLogger, type Logger } from '../logger.js';
import {
  credentialForms,
  deleteGroup,
  displayUrl,
  listGroups,
  type GroupLabels,
} from '../pushgateway.js';
import { run, type RunDependencies, type RunSummary } from '../run.js';
import {
  deliverToSinks,
  deliveryTimeoutMs,
  sinkUrls,
  type SinkName,
  type SinkOutcome,
} from '../sinks.js';
import type { GroupingKey } from '../target.js';
import { lambdaInvoker, type Invoker, type TargetEvent } from './invoke.js';
import { recordFleetMetrics, type FleetReport } from './metrics.js';
import { planFleet, planTarget, type FleetPlan, type PlannedTarget } from './plan.js';
import { pool } from './pool.js';
import type { DiscoveryResult, RdsDiscovery } from './rds.js';
import { rdsDiscovery } from './rds.js';
import { planCleanup } from './stale.js';

/** One target's outcome in a fleet run. */
export interface TargetOutcome {
  readonly name: string;
  /** Inline: pushed with postgresql_up 1 (true) or 0 (false); undefined when the push failed. */
  readonly up?: boolean;
  /** Why it was not pushed (inline) or not invoked (fan-out). */
  readonly error?: string;
  /** Inline: the sinks that did not take its run (the others did). */
  readonly failedSinks?: readonly SinkName[];
}

export interface FleetSummary {
  readonly fleet: string;
  readonly mode: 'inline' | 'fanout';
  readonly job: string;
  /** The first Pushgateway's URL (no credentials), when there is one. */
  readonly pushgateway?: string;
  /** The remote-write receiver's URL (no credentials), when there is one. */
  readonly remoteWrite?: string;
  readonly targets: number;
  readonly pushed: number;
  readonly down: number;
  readonly failed: number;
  readonly invokeFailures: number;
  readonly skipped: readonly { readonly name: string; readonly reason: string }[];
  readonly deletedGroups: readonly string[];
  /** Why stale groups were kept this run (the clean-up cap), per Pushgateway. */
  readonly staleGroupsKept?: readonly string[];
  readonly cleanup: boolean;
  readonly cleanupError?: string;
  readonly discovery?: {
    readonly fresh: boolean;
    readonly durationMs: number;
    readonly error?: string;
  };
  readonly outcomes: readonly TargetOutcome[];
  /** How the fleet's own group was delivered, per sink. */
  readonly sinks: readonly SinkOutcome[];
  readonly durationMs: number;
}

export interface FleetDependencies extends RunDependencies {
  /** The warm container's RDS discovery (it keeps the last good list). */
  readonly discovery?: RdsDiscovery;
  readonly invoke?: Invoker;
  /** The Pushgateway's groups (default: src/pushgateway.ts). */
  readonly listGroups?: typeof listGroups;
  readonly deleteGroup?: typeof deleteGroup;
}

const ms = (start: number) => Math.round((performance.now() - start) * 10) / 10;

/** How long past its deadline a target's run is waited for before it is abandoned. */
const BACKSTOP_GRACE_MS = 1_000;

/**
 * How long one Invoke may take. Lambda accepts an Event invocation in tens of
 * milliseconds; it is not given a share of the run like a target collected
 * here (a share of 225 ms aborted two thirds of the invokes of 1,000 targets
 * against serverless offline, which answers slower), only the run's end.
 */
const INVOKE_TIMEOUT_MS = 5_000;

/** Discovery may take at most this much of a run. */
const DISCOVERY_TIMEOUT_MS = 10_000;

/**
 * The time kept back at the end of a fleet run, for listing and deleting
 * stale groups and pushing the fleet's group: a quarter of the run, at most
 * two push timeouts.
 */
function tailReserve(deadline: number, pushTimeoutMs: number): number {
  return Math.min(2 * pushTimeoutMs, Math.floor(Math.max(0, deadline - Date.now()) / 4));
}

/** Discovery per warm container, made on first use. */
let containerDiscovery: RdsDiscovery | undefined;

/** Reads the configuration from `env` and runs the fleet once; the scheduled handler's body. */
export async function collectFleet(env: Env, deps: FleetDependencies = {}): Promise<FleetSummary> {
  const log = deps.log ?? createLogger();
  log.hide(...environmentSecrets(env));
  let fleetPlan: FleetPlan;
  try {
    fleetPlan = planFleet(env, { collectors: deps.collectors });
  } catch (error) {
    const message = clip(log.redact(describeError(error)));
    log.error('configuration error', { error: message });
    if (error instanceof Error) error.message = message;
    throw error;
  }
  return runFleet(fleetPlan, { ...deps, log });
}

/** The targets of this run, and whether the list is known for sure (groups may be deleted). */
async function targetsOf(
  fleetPlan: FleetPlan,
  deps: FleetDependencies,
  deadline: number,
  log: Logger,
): Promise<{
  targets: PlannedTarget[];
  authoritative: boolean;
  discovery?: DiscoveryResult;
  skipped: { name: string; reason: string }[];
}> {
  const targets = [...fleetPlan.fileTargets];
  const skipped: { name: string; reason: string }[] = [];
  const rds = fleetPlan.fleet.rds;
  if (rds === undefined) return { targets, authoritative: true, skipped };
  const discovery = deps.discovery ?? (containerDiscovery ??= rdsDiscovery(rds));
  const result = await discovery.discover(Math.min(deadline, Date.now() + DISCOVERY_TIMEOUT_MS));
  skipped.push(...result.skipped);
  if (!result.fresh) {
    log.error('discovery failed', {
      error: result.error,
      using: result.targets.length,
      lastSuccess: result.lastSuccess,
    });
  }
  const names = new Set(targets.map((t) => t.spec.name));
  for (const spec of result.targets) {
    if (names.has(spec.name)) {
      skipped.push({ name: spec.name, reason: 'the targets file has a target of this name' });
      continue;
    }
    try {
      targets.push({ spec, plan: planTarget(fleetPlan, spec) });
      names.add(spec.name);
    } catch (error) {
      skipped.push({ name: spec.name, reason: clip(log.redact(describeError(error))) });
    }
  }
  return { targets, authoritative: result.fresh, discovery: result, skipped };
}

/** Collects one target here; its failure is its own. */
async function collectInline(
  target: PlannedTarget,
  deadline: number,
  deps: FleetDependencies,
  log: Logger,
): Promise<TargetOutcome> {
  let summary: RunSummary;
  let timer: NodeJS.Timeout | undefined;
  let delivered: readonly SinkOutcome[] = [];
  const own = log.fork({ target: target.spec.name });
  // The run bounds itself by its deadline; this is the backstop should a part not,
  // so that a worker of the pool is never lost to one target.
  const backstop = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => {
        reject(new Error('no result within its share of the run; abandoned'));
      },
      Math.max(0, deadline - Date.now()) + BACKSTOP_GRACE_MS,
    );
  });
  try {
    summary = await Promise.race([
      run(target.plan, {
        ...deps,
        log: own,
        deadline,
        onDelivered: (outcomes) => {
          delivered = outcomes;
        },
      }),
      backstop,
    ]);
  } catch (error) {
    const failedSinks = delivered.filter((o) => !o.ok).map((o) => o.sink);
    return {
      name: target.spec.name,
      error: clip(own.redact(describeError(error))),
      ...(failedSinks.length > 0 ? { failedSinks } : {}),
    };
  } finally {
    clearTimeout(timer);
  }
  return { name: target.spec.name, up: summary.up };
}

/** Hands one target to the per-target function; its failure is its own. */
async function invokeOne(
  target: PlannedTarget,
  functionName: string,
  notAfter: number,
  deadline: number,
  invoke: Invoker,
  log: Logger,
): Promise<TargetOutcome> {
  const event: TargetEvent = { target: target.spec, notAfter };
  try {
    await invoke(functionName, event, within(INVOKE_TIMEOUT_MS, deadline));
    return { name: target.spec.name };
  } catch (error) {
    const message = clip(log.redact(describeError(error)));
    log.error('invoke failed', { target: target.spec.name, error: message });
    return { name: target.spec.name, error: message };
  }
}

/** What stale clean-up did: groups deleted, and why any were kept. */
interface CleanupOutcome {
  readonly deleted: string[];
  /** Why stale groups were kept (the cap), per Pushgateway. */
  readonly held: string[];
}

/**
 * On every Pushgateway of the fleet, deletes the groups of this fleet whose
 * target is gone or now pushed to another one, or pushed under labels it no
 * longer has: only groups with this job, this fleet label and an instance,
 * never another job's, another fleet's, or the fleet's own group. The cap of
 * planCleanup keeps them all when the list looks wrong (FLEET_CLEANUP_FORCE
 * overrides it).
 */
async function deleteStale(
  fleetPlan: FleetPlan,
  targets: readonly PlannedTarget[],
  deadline: number,
  deps: FleetDependencies,
): Promise<CleanupOutcome> {
  const { pushgateway } = fleetPlan.config;
  const outcome: CleanupOutcome = { deleted: [], held: [] };
  for (const url of pushgateway.urls) {
    const here = targets.filter((t) => t.plan.config.pushgateway.url === url);
    const labels = new Map(
      here.map((t) => [t.spec.name, { instance: t.spec.name, ...t.plan.target.labels }]),
    );
    const access = { url, auth: pushgateway.auth, caFile: pushgateway.caFile };
    const groups: GroupLabels[] = await (deps.listGroups ?? listGroups)({
      ...access,
      timeoutMs: within(pushgateway.timeoutMs, deadline),
    });
    const cleanup = planCleanup(
      groups,
      {
        job: pushgateway.job,
        fleet: fleetPlan.fleet.name,
        instances: new Set(labels.keys()),
        labels,
      },
      { force: fleetPlan.fleet.cleanupForce },
    );
    if (cleanup.held !== undefined) outcome.held.push(`${displayUrl(url)}: ${cleanup.held}`);
    for (const key of cleanup.remove) {
      await (deps.deleteGroup ?? deleteGroup)({
        ...access,
        key,
        timeoutMs: pushgateway.timeoutMs,
        deadline,
      });
      outcome.deleted.push(key.labels.instance ?? '');
    }
  }
  return outcome;
}

/** The group of the fleet's own metrics: job and fleet, no instance (stale clean-up skips it). */
export function fleetKey(fleetPlan: FleetPlan): GroupingKey {
  return {
    job: fleetPlan.config.pushgateway.job,
    labels: { [FLEET_LABEL]: fleetPlan.fleet.name },
  };
}

/**
 * One fleet run. Rejects with a FleetError, after every target was handled,
 * when a target could not be pushed or invoked, stale groups could not be
 * deleted, or the fleet's group could not be pushed.
 */
export async function runFleet(
  fleetPlan: FleetPlan,
  deps: FleetDependencies = {},
): Promise<FleetSummary> {
  const started = performance.now();
  const log = deps.log ?? createLogger();
  const { config, fleet } = fleetPlan;
  const { pushgateway, remoteWrite } = config;
  log.hide(...pushgateway.urls.flatMap((url) => credentialForms(url, pushgateway.auth)));
  if (remoteWrite !== undefined) {
    log.hide(
      ...credentialForms(remoteWrite.url, remoteWrite.auth),
      ...Object.values(remoteWrite.headers),
    );
  }
  // Each target's logger starts from the deployment's secrets and learns its own.
  const targetLog = log.fork({});
  log.hide(...fleetPlan.secrets);
  const deadline = deps.deadline ?? Date.now() + DEFAULT_BUDGET_MS;
  const targetsEnd = deadline - tailReserve(deadline, deliveryTimeoutMs(config));

  const { targets, authoritative, discovery, skipped } = await targetsOf(
    fleetPlan,
    deps,
    targetsEnd,
    log,
  );
  let outcomes: TargetOutcome[];
  if (fleet.mode === 'inline') {
    outcomes = await pool(targets, fleet.concurrency, targetsEnd, (target, targetDeadline) =>
      collectInline(target, targetDeadline, deps, targetLog),
    );
  } else {
    const invoke = deps.invoke ?? lambdaInvoker();
    const functionName = fleet.targetFunction ?? '';
    outcomes = await pool(targets, fleet.concurrency, targetsEnd, (target) =>
      invokeOne(target, functionName, deadline, targetsEnd, invoke, log),
    );
  }

  let deletedGroups: string[] = [];
  let cleanupError: string | undefined;
  let held: string[] = [];
  if (authoritative) {
    try {
      const cleanup = await deleteStale(fleetPlan, targets, deadline, deps);
      deletedGroups = cleanup.deleted;
      held = cleanup.held;
      if (held.length > 0) log.error('stale groups kept', { held });
    } catch (error) {
      cleanupError = clip(log.redact(describeError(error)));
    }
  } else {
    cleanupError = 'not attempted: discovery failed, so the target list is not known for sure';
  }

  const failed = outcomes.filter((o) => o.error !== undefined);
  const report: FleetReport = {
    targets: {
      file: targets.filter((t) => t.spec.source === 'file').length,
      rds: targets.filter((t) => t.spec.source === 'rds').length,
    },
    skipped: skipped.length,
    mode: fleet.mode,
    pushed: fleet.mode === 'inline' ? outcomes.length - failed.length : 0,
    down: outcomes.filter((o) => o.up === false).length,
    failed: fleet.mode === 'inline' ? failed.length : 0,
    invokeFailures: fleet.mode === 'fanout' ? failed.length : 0,
    deleted: deletedGroups.length,
    writeFailures: writeFailures(fleetPlan, outcomes),
    cleanup: cleanupError === undefined,
    held: held.length > 0,
    discovery:
      discovery === undefined
        ? undefined
        : {
            fresh: discovery.fresh,
            durationMs: discovery.durationMs,
            ...(discovery.lastSuccess === undefined ? {} : { lastSuccess: discovery.lastSuccess }),
          },
    durationMs: performance.now() - started,
  };
  const registry = new Registry();
  recordFleetMetrics(registry, report);
  const delivered = await deliverToSinks(
    config,
    {
      key: fleetKey(fleetPlan),
      body: log.redact(await registry.metrics()),
      collectedAt: Date.now(),
      deadline,
    },
    log,
    deps,
  );
  const notTaken = delivered.outcomes.filter((o) => !o.ok);
  const pushError =
    notTaken.length === 0
      ? undefined
      : notTaken.map((o) => `${o.sink}: ${o.error ?? ''}`).join('; ');

  const summary: FleetSummary = {
    fleet: fleet.name,
    mode: fleet.mode,
    job: pushgateway.job,
    ...sinkUrls(config),
    targets: targets.length,
    pushed: report.pushed,
    down: report.down,
    failed: report.failed,
    invokeFailures: report.invokeFailures,
    skipped,
    deletedGroups,
    ...(held.length > 0 ? { staleGroupsKept: held } : {}),
    cleanup: report.cleanup,
    ...(cleanupError === undefined ? {} : { cleanupError }),
    ...(discovery === undefined
      ? {}
      : {
          discovery: {
            fresh: discovery.fresh,
            durationMs: discovery.durationMs,
            ...(discovery.error === undefined ? {} : { error: discovery.error }),
          },
        }),
    outcomes,
    sinks: delivered.outcomes,
    durationMs: ms(started),
  };
  const problems = [
    ...(failed.length > 0
      ? [
          `${failed.length} of ${targets.length} targets not ${fleet.mode === 'inline' ? 'pushed' : 'invoked'} (${failed
            .slice(0, 3)
            .map((o) => o.name)
            .join(', ')}${failed.length > 3 ? ', …' : ''})`,
        ]
      : []),
    ...(cleanupError !== undefined && authoritative
      ? [`stale groups not deleted: ${cleanupError}`]
      : []),
    ...(pushError === undefined ? [] : [`the fleet's group not pushed: ${pushError}`]),
  ];
  if (problems.length > 0) {
    log.error('fleet run incomplete', { ...logged(summary), problems });
    throw new FleetError(clip(log.redact(problems.join('; '))));
  }
  log.info('fleet run', { ...logged(summary) });
  return summary;
}

/**
 * The summary as logged: the outcomes of targets that were down or failed
 * only (each target's run logs its own line), so that the line of a fleet of
 * a thousand stays short.
 */
function logged(summary: FleetSummary): FleetSummary {
  return {
    ...summary,
    outcomes: summary.outcomes.filter((o) => o.error !== undefined || o.up === false),
  };
}

/**
 * Inline, beside remote write: per configured sink, the targets whose run it
 * did not take (none counted in fan-out). A Pushgateway-only fleet has
 * postgresql_exporter_fleet_targets_failed, and its group stays as it was.
 */
function writeFailures(
  fleetPlan: FleetPlan,
  outcomes: readonly TargetOutcome[],
): { sink: SinkName; count: number }[] {
  if (fleetPlan.fleet.mode !== 'inline' || fleetPlan.config.remoteWrite === undefined) return [];
  const sinks: SinkName[] = [
    ...(fleetPlan.config.pushgateway.url === undefined ? [] : (['pushgateway'] as const)),
    'remote_write',
  ];
  return sinks.map((sink) => ({
    sink,
    count: outcomes.filter((o) => o.failedSinks?.includes(sink) === true).length,
  }));
}
