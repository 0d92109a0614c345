/** Rendezvous hashing of targets over Pushgateways: stable, balanced, minimal moves. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ExporterError } from '../../src/errors.js';
import { assignPushgateway } from '../../src/fleet/shard.js';

const urls = [1, 2, 3, 4].map((i) => new URL(`http://pushgateway-${i}.internal:9091`));
const fifth = new URL('http://pushgateway-5.internal:9091');
const names = Array.from({ length: 10_000 }, (_, i) => `db-${i}.abc.eu-west-1.rds.amazonaws.com`);

describe('assignPushgateway', () => {
  it('is stable: the same answer for the same name, whatever the order of the URLs', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }),
        fc.shuffledSubarray(urls, { minLength: 1 }),
        (name, subset) => {
          const chosen = assignPushgateway(name, subset);
          expect(subset).toContain(chosen);
          expect(assignPushgateway(name, [...subset].reverse())).toBe(chosen);
        },
      ),
    );
  });

  it('spreads 10,000 names over 4 URLs within ±25 % of an even share', () => {
    const counts = new Map<string, number>();
    for (const name of names) {
      const href = assignPushgateway(name, urls).href;
      counts.set(href, (counts.get(href) ?? 0) + 1);
    }
    expect(counts.size).toBe(4);
    for (const count of counts.values()) {
      expect(count).toBeGreaterThanOrEqual(2_500 * 0.75);
      expect(count).toBeLessThanOrEqual(2_500 * 1.25);
    }
  });

  it('adding a 5th moves at most 25 % of names, and only to the new one', () => {
    let moved = 0;
    for (const name of names) {
      const before = assignPushgateway(name, urls);
      const after = assignPushgateway(name, [...urls, fifth]);
      if (after !== before) {
        moved += 1;
        expect(after).toBe(fifth);
      }
    }
    expect(moved / names.length).toBeLessThanOrEqual(0.25);
    // About 1/5 move: far from none (the new one takes its share).
    expect(moved / names.length).toBeGreaterThan(0.15);
  });

  it('removing one moves only the names it held', () => {
    const rest = urls.slice(1);
    for (const name of names.slice(0, 2_000)) {
      const before = assignPushgateway(name, urls);
      if (before !== urls[0]) expect(assignPushgateway(name, rest)).toBe(before);
    }
  });

  it('ignores credentials and a trailing slash: a changed password moves nothing', () => {
    const plain = [new URL('http://gw-a:9091/pg'), new URL('http://gw-b:9091/pg')];
    const dressed = [
      new URL('http://u:secret@gw-a:9091/pg/'),
      new URL('http://u:other@gw-b:9091/pg'),
    ];
    for (const name of names.slice(0, 500)) {
      expect(plain.indexOf(assignPushgateway(name, plain))).toBe(
        dressed.indexOf(assignPushgateway(name, dressed)),
      );
    }
  });

  it('refuses an empty list', () => {
    expect(() => assignPushgateway('x', [])).toThrow(ExporterError);
  });
});
