import { describe, expect, it } from 'vitest';
import { MIN_SHARE_MS, pool, shareDeadline } from '../../src/fleet/pool.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('shareDeadline', () => {
  it('gives each round of targets an equal share of the time left', () => {
    // 100 targets, 10 at once, 20 s left: 10 rounds of 2 s.
    expect(shareDeadline(20_000, 100, 10, 0)).toBe(2_000);
    // The last round gets everything left.
    expect(shareDeadline(10_000, 7, 10, 4_000)).toBe(10_000);
    // Never past the end.
    expect(shareDeadline(1_000, 5, 1, 2_000)).toBe(1_000);
  });

  it('never gives a target less than MIN_SHARE_MS while the end is further', () => {
    // 1,000 targets, 10 at once, 22.5 s: an equal share would be 225 ms.
    expect(shareDeadline(22_500, 1_000, 10, 0)).toBe(MIN_SHARE_MS);
    expect(shareDeadline(22_500, 1_000, 10, 22_000)).toBe(22_500);
  });
});

describe('pool', () => {
  it('runs at most `concurrency` at once and keeps the results in order', async () => {
    let running = 0;
    let most = 0;
    const items = Array.from({ length: 23 }, (_, i) => i);
    const results = await pool(items, 4, Date.now() + 10_000, async (item) => {
      running += 1;
      most = Math.max(most, running);
      await sleep(item % 3);
      running -= 1;
      return item * 2;
    });
    expect(most).toBe(4);
    expect(results).toEqual(items.map((i) => i * 2));
  });

  it('gives a hanging item only its share: the others are all reached before the end', async () => {
    const started = Date.now();
    const end = started + 6_000;
    const finished: number[] = [];
    // Item 0 hangs until its own deadline; 2 at once, 6 items: 3 rounds of about 2 s.
    await pool([0, 1, 2, 3, 4, 5], 2, end, async (item, deadline) => {
      if (item === 0) {
        expect(deadline - Date.now()).toBeLessThanOrEqual(2_050);
        await sleep(Math.max(0, deadline - Date.now()));
      } else {
        await sleep(10);
      }
      finished.push(item);
      return item;
    });
    expect(finished.sort()).toEqual([0, 1, 2, 3, 4, 5]);
    // The hanging item's share, not the end: the others ran beside it.
    expect(Date.now() - started).toBeLessThan(2_000 + 1_000);
  });

  it('handles an empty list', async () => {
    expect(await pool([], 5, Date.now() + 100, () => Promise.resolve(1))).toEqual([]);
  });
});
