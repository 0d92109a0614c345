/**
 * The run's time budget. On Lambda the deadline comes from the invocation
 * (`context.getRemainingTimeInMillis()`), less a margin, so a run always ends
 * with its own clear error before Lambda kills it. Collection (secret,
 * connect, queries, close) must end early enough to leave the push its share.
 */

/** Kept back from Lambda's remaining time for logging and returning. */
export const SAFETY_MARGIN_MS = 500;

/** The budget when there is no Lambda context (a direct call, the demo, the tests). */
export const DEFAULT_BUDGET_MS = 60_000;

/** Longest pause between two push attempts. */
const MAX_BACKOFF_MS = 2_000;

/** An attempt ends this long before the deadline, leaving time to log and return. */
const END_MARGIN_MS = 50;

export interface Budget {
  /** Epoch ms by which the run must have ended. */
  readonly deadline: number;
  /** Epoch ms by which collection must have ended: the rest is the push's. */
  readonly collectDeadline: number;
}

/**
 * Splits the time until `deadline`: the push keeps a third of it, at most
 * its own timeout, so a run with plenty of time collects unhurried and a
 * run short of time still gets its numbers out.
 */
export function budget(deadline: number, pushTimeoutMs: number, now = Date.now()): Budget {
  const total = Math.max(0, deadline - now);
  const pushReserve = Math.min(pushTimeoutMs, Math.floor(total / 3));
  return { deadline, collectDeadline: deadline - pushReserve };
}

/** `wantedMs`, or less when `deadline` is nearer; never below 1 ms. */
export function within(wantedMs: number, deadline: number, now = Date.now()): number {
  return Math.max(1, Math.min(wantedMs, deadline - now));
}

export interface RetryOptions {
  readonly deadline: number;
  /** Whether a failed attempt is worth another one. */
  readonly retryable: (error: unknown) => boolean;
  readonly firstBackoffMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/**
 * Calls `attempt` (given the time it may take) until it succeeds, the error
 * is not retryable, or the deadline leaves no time for another try. Waits
 * 200 ms, 400 ms, … (at most 2 s) between attempts. Rejects with the last
 * error, its message prefixed with the number of attempts when there were
 * several.
 */
export async function retry<T>(
  attempt: (timeoutMs: number, number: number) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  let backoff = options.firstBackoffMs ?? 200;
  for (let number = 1; ; number += 1) {
    try {
      return await attempt(Math.max(1, options.deadline - END_MARGIN_MS - Date.now()), number);
    } catch (error) {
      const wait = Math.min(backoff, MAX_BACKOFF_MS);
      // Another attempt only if it would still have some time after the pause.
      if (!options.retryable(error) || Date.now() + wait + 100 >= options.deadline) {
        if (number > 1 && error instanceof Error) {
          error.message = `${error.message} (after ${number} attempts)`;
        }
        throw error;
      }
      await sleep(wait);
      backoff *= 2;
    }
  }
}
