import type { Context } from 'aws-lambda';
import { SAFETY_MARGIN_MS } from '../src/budget.js';
import { collectTargetEvent, type TargetEventSummary } from '../src/fleet/target_event.js';
import { createLogger } from '../src/logger.js';
import { secretsManagerSource } from '../src/secrets.js';

// Created once per Lambda container, so a secret is reused by warm invocations.
const secrets = secretsManagerSource();

/**
 * The per-target function of a fan-out fleet: invoked asynchronously by the
 * scheduled function with one target in the event; collects and pushes it.
 */
export async function handler(
  event: unknown,
  context?: Pick<Context, 'getRemainingTimeInMillis'> & Partial<Pick<Context, 'awsRequestId'>>,
): Promise<TargetEventSummary> {
  const remaining = context?.getRemainingTimeInMillis();
  const requestId = context?.awsRequestId;
  return collectTargetEvent(process.env, event, {
    secrets,
    log: createLogger(requestId === undefined ? {} : { fields: { awsRequestId: requestId } }),
    ...(remaining === undefined ? {} : { deadline: Date.now() + remaining - SAFETY_MARGIN_MS }),
  });
}
