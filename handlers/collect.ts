import type { Context, ScheduledEvent } from 'aws-lambda';
import { SAFETY_MARGIN_MS } from '../src/budget.js';
import { isFleet } from '../src/config.js';
import { collectFleet, type FleetSummary } from '../src/fleet/fleet.js';
import { createLogger } from '../src/logger.js';
import { collect, type RunSummary } from '../src/run.js';
import { secretsManagerSource } from '../src/secrets.js';

// Created once per Lambda container, so a secret is reused by warm invocations.
const secrets = secretsManagerSource();

/**
 * EventBridge schedule target: one collection run (one target, or a fleet:
 * TARGETS_FILE or TARGETS_RDS_TAG), pushed to the Pushgateway, ending before
 * the Lambda timeout with its own error if time runs out.
 */
export async function handler(
  _event?: ScheduledEvent,
  context?: Pick<Context, 'getRemainingTimeInMillis'> & Partial<Pick<Context, 'awsRequestId'>>,
): Promise<RunSummary | FleetSummary> {
  const remaining = context?.getRemainingTimeInMillis();
  const requestId = context?.awsRequestId;
  const deps = {
    secrets,
    log: createLogger(requestId === undefined ? {} : { fields: { awsRequestId: requestId } }),
    ...(remaining === undefined ? {} : { deadline: Date.now() + remaining - SAFETY_MARGIN_MS }),
  };
  return isFleet(process.env) ? collectFleet(process.env, deps) : collect(process.env, deps);
}
