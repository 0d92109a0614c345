import type { ScheduledEvent } from 'aws-lambda';
import { collect, type RunSummary } from '../src/run.js';
import { secretsManagerSource } from '../src/secrets.js';

// Created once per Lambda container, so a secret is reused by warm invocations.
const secrets = secretsManagerSource();

/** EventBridge schedule target: one collection run, pushed to the Pushgateway. */
export async function handler(_event?: ScheduledEvent): Promise<RunSummary> {
  return collect(process.env, { secrets });
}
