import { describe, expect, it } from 'vitest';
import { budget, retry, within } from '../src/budget.js';

describe('budget', () => {
  it('leaves the push a third of the time, at most its own timeout', () => {
    expect(budget(30_000, 10_000, 0)).toEqual({ deadline: 30_000, collectDeadline: 20_000 });
    expect(budget(60_000, 10_000, 0)).toEqual({ deadline: 60_000, collectDeadline: 50_000 });
    expect(budget(3_000, 10_000, 0)).toEqual({ deadline: 3_000, collectDeadline: 2_000 });
    expect(budget(0, 10_000, 5)).toEqual({ deadline: 0, collectDeadline: 0 });
  });

  it('within() caps a wait at the deadline, never below 1 ms', () => {
    expect(within(5_000, 10_000, 0)).toBe(5_000);
    expect(within(5_000, 2_000, 0)).toBe(2_000);
    expect(within(5_000, 0, 10)).toBe(1);
  });
});

describe('retry', () => {
  const noSleep = () => Promise.resolve();

  it('retries retryable failures until one succeeds', async () => {
    let calls = 0;
    const result = await retry(
      () => {
        calls += 1;
        return calls < 3 ? Promise.reject(new Error('flaky')) : Promise.resolve('ok');
      },
      { deadline: Date.now() + 10_000, retryable: () => true, sleep: noSleep },
    );
    expect(result).toBe('ok');
    expect(calls).toBe(3);
  });

  it('stops at once on a failure that is not retryable', async () => {
    let calls = 0;
    await expect(
      retry(
        () => {
          calls += 1;
          return Promise.reject(new Error('400'));
        },
        { deadline: Date.now() + 10_000, retryable: () => false, sleep: noSleep },
      ),
    ).rejects.toThrow(/^400$/);
    expect(calls).toBe(1);
  });

  it('gives up when the deadline leaves no time, saying how many attempts it made', async () => {
    const pauses: number[] = [];
    const sleep = (ms: number) => {
      pauses.push(ms);
      return new Promise<void>((resolve) => setTimeout(resolve, ms));
    };
    const started = Date.now();
    await expect(
      retry(() => Promise.reject(new Error('refused')), {
        deadline: started + 1_000,
        retryable: () => true,
        sleep,
      }),
    ).rejects.toThrow(/^refused \(after \d+ attempts\)$/);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(pauses.slice(0, 2)).toEqual([200, 400]);
  });

  it('gives each attempt the time left, less a margin', async () => {
    const timeouts: number[] = [];
    await retry(
      (timeoutMs) => {
        timeouts.push(timeoutMs);
        return Promise.resolve();
      },
      { deadline: Date.now() + 2_000, retryable: () => true },
    );
    expect(timeouts[0]).toBeGreaterThan(1_900);
    expect(timeouts[0]).toBeLessThanOrEqual(1_950);
  });
});
