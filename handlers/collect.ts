import type { Context, ScheduledEvent } from 'aws-lambda';
import { SAFETY_MARGIN_MS } from '../src/budget.js';
import { createLogger } from '../src/logger.js';
import { collect, type RunSummary } from '../src/run.js';
import { secretsManagerSource } from '../src/secrets.js';

// Created once per Lambda container, so a secret is reused by warm invocations.
const secrets = secretsManagerSource();

/**
 * EventBridge schedule target: one collection run, pushed to the Pushgateway,
 * ending before the Lambda timeout with its own error if time runs out.
 */
export async function handler(
  _event?: ScheduledEvent,
  context?: Pick<Context, 'getRemainingTimeInMillis'> & Partial<Pick<Context, 'awsRequestId'>>,
): Promise<RunSummary> {
  const remaining = context?.getRemainingTimeInMillis();
  const requestId = context?.awsRequestId;
  return collect(process.env, {
    secrets,
    log: createLogger(requestId === undefined ? {} : { fields: { awsRequestId: requestId } }),
    ...(remaining === undefined ? {} : { deadline: Date.now() + remaining - SAFETY_MARGIN_MS }),
  });
}
