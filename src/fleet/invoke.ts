/**
 * Fan-out: one asynchronous Lambda invocation (InvocationType Event) of the
 * per-target function per target, the target in the payload. Lambda is the
 * engine: it queues the events, runs them with the per-target function's
 * reserved concurrency, and drops an event older than its maximum age; the
 * per-target function drops one past `notAfter` too.
 */
import type { LambdaClient } from '@aws-sdk/client-lambda';
import { errorMessage, InvokeError } from '../errors.js';
import type { TargetSpec } from './spec.js';

/** What the per-target function receives. */
export interface TargetEvent {
  readonly target: TargetSpec;
  /** Epoch ms after which the event is stale: the next scheduled run has its own. */
  readonly notAfter: number;
}

/** Sends one event to `functionName`; rejects with an InvokeError when Lambda does not accept it. */
export type Invoker = (
  functionName: string,
  event: TargetEvent,
  timeoutMs: number,
) => Promise<void>;

/** Lambda's answer to an accepted asynchronous invocation. */
const ACCEPTED = 202;

/**
 * The default invoker: the Lambda SDK, loaded on first use (only fan-out
 * needs it), one client per container. Its endpoint follows the SDK's own
 * settings, so `AWS_ENDPOINT_URL_LAMBDA` points it at `serverless offline`.
 */
export function lambdaInvoker(options: { client?: Pick<LambdaClient, 'send'> } = {}): Invoker {
  let client = options.client;
  return async (functionName, event, timeoutMs) => {
    const sdk = await import('@aws-sdk/client-lambda');
    client ??= new sdk.LambdaClient({});
    let status: number | undefined;
    try {
      const out = await client.send(
        new sdk.InvokeCommand({
          FunctionName: functionName,
          InvocationType: 'Event',
          Payload: Buffer.from(JSON.stringify(event), 'utf8'),
        }),
        { abortSignal: AbortSignal.timeout(Math.max(1, timeoutMs)) },
      );
      status = out.StatusCode;
    } catch (error) {
      throw new InvokeError(
        `invoking ${functionName} for target "${event.target.name}" failed: ${errorMessage(error)}`,
        { cause: error },
      );
    }
    if (status !== ACCEPTED) {
      throw new InvokeError(
        `invoking ${functionName} for target "${event.target.name}": Lambda answered ${String(status)}, not ${ACCEPTED}`,
      );
    }
  };
}
