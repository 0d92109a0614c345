/**
 * The per-target function's body: one event from the scheduled function's
 * fan-out, checked like any outside input (it is JSON from a queue), then
 * one run of its target. An event past its `notAfter` is dropped: the next
 * scheduled run has sent a fresh one, and a late push would put old numbers
 * in the group.
 */
import { environmentSecrets, type Env } from '../config.js';
import { describeError, TargetsError } from '../errors.js';
import { clip, createLogger } from '../logger.js';
import { run, type RunDependencies, type RunPlan, type RunSummary } from '../run.js';
import { planFleet, planTarget, KNOWN_NAMES } from './plan.js';
import { checkTargetSpec } from './spec.js';

export type TargetEventSummary =
  RunSummary | { readonly dropped: true; readonly target: string; readonly lateMs: number };

const isMapping = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * A per-target function keeps no connection: Lambda hands its containers
 * targets at random, so a kept connection is seldom reused, and every server
 * would hold up to the function's reserved concurrency of idle sessions
 * (measured: up to 5 per target at 1,000 targets under offline).
 *
 * Nor does it cache collections (refresh intervals): a target's runs land on
 * any of several warm containers, each with its own cache, so its pushes
 * would alternate between older and newer numbers; a counter going back
 * reads as a reset to rate(), a gauge jumps back and forth. Every collector
 * is collected on every run.
 */
function withoutWarmState(runPlan: RunPlan): RunPlan {
  const { target } = runPlan;
  return {
    ...runPlan,
    target: { ...target, postgres: { ...target.postgres, keepConnectionSeconds: 0 } },
    refreshSeconds: new Map(),
  };
}

export async function collectTargetEvent(
  env: Env,
  event: unknown,
  deps: RunDependencies = {},
): Promise<TargetEventSummary> {
  const log = deps.log ?? createLogger();
  log.hide(...environmentSecrets(env));
  let runPlan: RunPlan;
  let name: string;
  let notAfter: number;
  try {
    if (!isMapping(event) || typeof event.notAfter !== 'number' || !isMapping(event.target)) {
      throw new TargetsError('event: expected { target: {…}, notAfter: <epoch ms> }');
    }
    for (const key of Object.keys(event)) {
      if (key !== 'target' && key !== 'notAfter') {
        throw new TargetsError(`event: unknown field "${key}" (expected target, notAfter)`);
      }
    }
    notAfter = event.notAfter;
    const spec = checkTargetSpec(event.target, 'event', KNOWN_NAMES);
    name = spec.name;
    const fleetPlan = planFleet(env, { collectors: deps.collectors, readTargetsFile: false });
    runPlan = withoutWarmState(planTarget(fleetPlan, spec));
  } catch (error) {
    const message = clip(log.redact(describeError(error)));
    log.error('bad event', { error: message });
    if (error instanceof Error) error.message = message;
    throw error;
  }
  const lateMs = Date.now() - notAfter;
  if (lateMs > 0) {
    log.info('event dropped: late', { target: name, lateMs });
    return { dropped: true, target: name, lateMs };
  }
  return run(runPlan, { ...deps, log: log.child({ target: name }) });
}
