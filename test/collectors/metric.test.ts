import { Counter, Gauge, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  addCounter,
  addGauge,
  databaseTypeSamples,
  FamilyWriter,
  toNumber,
  typeSamples,
  zeroFilledCounts,
} from '../../src/collectors/metric.js';
import { SeriesLimitError } from '../../src/errors.js';

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

describe('databaseTypeSamples', () => {
  it('is typeSamples per row with the database label first; rows without a name are left out', () => {
    expect(
      databaseTypeSamples(
        [
          { datname: 'a', x: '1', y: null },
          { datname: null, x: 5, y: 5 },
          { datname: 'b', x: 2, y: 3 },
        ],
        ['x', 'y'],
      ),
    ).toEqual([
      { labels: { database: 'a', type: 'x' }, value: 1 },
      { labels: { database: 'b', type: 'x' }, value: 2 },
      { labels: { database: 'b', type: 'y' }, value: 3 },
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

  it('keeps the last count of a category seen twice, known or not, in its first place', () => {
    const samples = zeroFilledCounts(
      [
        { datname: 'a', mode: 'other', count: 1 },
        { datname: 'a', mode: 'y', count: 2 },
        { datname: 'a', mode: 'more', count: 3 },
        { datname: 'a', mode: 'other', count: 4 },
        { datname: 'a', mode: 'y', count: 5 },
      ],
      'mode',
      ['x', 'y'],
    );
    expect(samples.map((s) => [s.labels.mode, s.value])).toEqual([
      ['x', 0],
      ['y', 5],
      ['other', 4],
      ['more', 3],
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

  it('keeps the last value of a series set twice, in its first place, and registers nothing without samples', async () => {
    const registry = new Registry();
    addGauge(registry, { name: 'g', help: 'G.', labelNames: ['k'] }, [
      { labels: { k: 'a' }, value: 1 },
      { labels: { k: 'b' }, value: 2 },
      { labels: { k: 'a' }, value: 3 },
    ]);
    addGauge(registry, { name: 'none', help: 'None.', labelNames: [] }, []);
    expect(await registry.metrics()).toBe('# HELP g G.\n# TYPE g gauge\ng{k="a"} 3\ng{k="b"} 2\n');
  });
});

describe('addGauge and addCounter', () => {
  it("print what prom-client's own Gauge and Counter print for the same samples, every time", async () => {
    const gauge = { name: 'g', help: 'G.', labelNames: ['a', 'b'] } as const;
    const counter = { name: 'c_total', help: 'C.', labelNames: ['a', 'b'] } as const;
    const samples = [
      { labels: { a: 'x', b: '1' }, value: 1 },
      { labels: { b: '1', a: 'x' }, value: 2 },
      { labels: { b: '2', a: 'y"\\\n' }, value: 0.5 },
      { labels: { a: 'z' } as { a: string; b: string }, value: Number.NaN },
      { labels: { a: 'z', b: '3' }, value: -1 },
    ];
    const ours = new Registry();
    addGauge(ours, gauge, samples);
    addCounter(ours, counter, samples);
    const plain = new Registry();
    const g = new Gauge({ ...gauge, registers: [plain] });
    const c = new Counter({ ...counter, registers: [plain] });
    for (const { labels, value } of samples) {
      g.set(labels, value);
      if (value >= 0) c.inc(labels, value);
    }
    const expected = await plain.metrics();
    expect(await ours.metrics()).toBe(expected);
    expect(await ours.metrics()).toBe(expected);
  });
});

describe('addCounter', () => {
  it('adds a series given twice, leaves negative values out, and registers nothing without samples', async () => {
    const registry = new Registry();
    addCounter(registry, { name: 'c_total', help: 'C.', labelNames: ['k'] }, [
      { labels: { k: 'a' }, value: 1 },
      { labels: { k: 'b' }, value: -1 },
      { labels: { k: 'a' }, value: 2 },
    ]);
    addCounter(registry, { name: 'neg_total', help: 'N.', labelNames: [] }, [
      { labels: {}, value: -5 },
    ]);
    expect(await registry.metrics()).toBe(
      '# HELP c_total C.\n# TYPE c_total counter\nc_total{k="a"} 3\n',
    );
  });
});

describe('FamilyWriter', () => {
  const family = { name: 'f', help: 'F.', labelNames: ['n'] } as const;
  function* samples(count: number) {
    for (let n = 0; n < count; n += 1) yield { labels: { n: String(n) }, value: n };
  }

  it('takes any iterable of samples, and counts them against the limit', async () => {
    const writer = new FamilyWriter('c', [family], 3);
    writer.gauge(family, samples(2));
    expect(writer.series).toBe(2);
    expect(await writer.registry.metrics()).toBe(
      '# HELP f F.\n# TYPE f gauge\nf{n="0"} 0\nf{n="1"} 1\n',
    );
    expect(() => {
      writer.gauge(family, samples(2));
    }).toThrow(SeriesLimitError);
  });

  it('refuses a family the collector did not declare', () => {
    const writer = new FamilyWriter('c', [family], 10);
    expect(() => {
      writer.counter({ name: 'other_total', help: 'O.', labelNames: [] }, [
        { labels: {}, value: 1 },
      ]);
    }).toThrow(/collector c wrote other_total, which is not among its families/);
  });
});
