import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { addGauge, toNumber, typeSamples, zeroFilledCounts } from '../../src/collectors/metric.js';

describe('toNumber', () => {
  it('reads numbers and numeric strings; NULL and junk give undefined', () => {
    expect(toNumber(3)).toBe(3);
    expect(toNumber('9007199254740993')).toBe(9007199254740992);
    expect(toNumber('1.5')).toBe(1.5);
    expect(toNumber(null)).toBeUndefined();
    expect(toNumber(undefined)).toBeUndefined();
    expect(toNumber('NaN')).toBeUndefined();
    expect(toNumber('x')).toBeUndefined();
  });
});

describe('typeSamples', () => {
  it('gives one sample per non-NULL column, the column in the type label', () => {
    expect(typeSamples({ a: '1', b: null, c: 2.5 }, ['a', 'b', 'c'], { database: 'x' })).toEqual([
      { labels: { database: 'x', type: 'a' }, value: 1 },
      { labels: { database: 'x', type: 'c' }, value: 2.5 },
    ]);
  });
});

describe('zeroFilledCounts', () => {
  it('fills every known category with 0, keeps unknown ones, skips NULL databases', () => {
    const samples = zeroFilledCounts(
      [
        { datname: 'a', mode: null, count: 0 },
        { datname: 'b', mode: 'x', count: '2' },
        { datname: 'b', mode: 'other', count: 1 },
        { datname: null, mode: 'x', count: 9 },
      ],
      'mode',
      ['x', 'y'],
    );
    expect(samples).toEqual([
      { labels: { database: 'a', mode: 'x' }, value: 0 },
      { labels: { database: 'a', mode: 'y' }, value: 0 },
      { labels: { database: 'b', mode: 'x' }, value: 2 },
      { labels: { database: 'b', mode: 'y' }, value: 0 },
      { labels: { database: 'b', mode: 'other' }, value: 1 },
    ]);
  });
});

describe('addGauge', () => {
  it('registers on the given registry only', async () => {
    const registry = new Registry();
    addGauge(registry, { name: 'x_total_things', help: 'Things.', labelNames: ['k'] }, [
      { labels: { k: 'a"b' }, value: 1 },
    ]);
    expect(await registry.metrics()).toBe(
      '# HELP x_total_things Things.\n# TYPE x_total_things gauge\nx_total_things{k="a\\"b"} 1\n',
    );
  });
});
