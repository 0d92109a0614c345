/**
 * src/exposition.ts reads back what prom-client renders: every metric type,
 * escaped label values and HELP texts, NaN and the infinities as prom-client
 * writes them, and a line it cannot read is an ExpositionError naming the
 * line, never a sample dropped.
 */
import { Counter, Gauge, Histogram, Registry, Summary } from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  ExpositionError,
  eachSample,
  parseExposition,
  parseSample,
  parseValue,
} from '../src/exposition.js';

async function rendered(fill: (registry: Registry) => void): Promise<string> {
  const registry = new Registry();
  fill(registry);
  return registry.metrics();
}

function expositionError(text: string): ExpositionError {
  try {
    parseExposition(text);
  } catch (error) {
    expect(error).toBeInstanceOf(ExpositionError);
    return error as ExpositionError;
  }
  throw new Error('expected an ExpositionError');
}

describe('parseExposition on prom-client output', () => {
  it('reads counters, gauges, histograms and summaries with their type, help and samples', async () => {
    const text = await rendered((registers) => {
      new Counter({
        name: 'c_total',
        help: 'A counter.',
        labelNames: ['db'],
        registers: [registers],
      })
        .labels('orders')
        .inc(3);
      new Gauge({ name: 'g', help: 'A gauge.', registers: [registers] }).set(-2.5e-3);
      new Histogram({
        name: 'h_seconds',
        help: 'A histogram.',
        buckets: [0.1, 1],
        registers: [registers],
      }).observe(0.5);
      new Summary({
        name: 's',
        help: 'A summary.',
        percentiles: [0.5],
        registers: [registers],
      }).observe(2);
    });
    const families = parseExposition(text);
    expect(families.map((f) => [f.name, f.type, f.help])).toEqual([
      ['c_total', 'counter', 'A counter.'],
      ['g', 'gauge', 'A gauge.'],
      ['h_seconds', 'histogram', 'A histogram.'],
      ['s', 'summary', 'A summary.'],
    ]);
    const [counter, gauge, histogram, summary] = families;
    expect(counter?.samples.map((s) => [s.name, s.labels, s.value])).toEqual([
      ['c_total', [['db', 'orders']], 3],
    ]);
    expect(gauge?.samples[0]?.value).toBe(-0.0025);
    expect(histogram?.samples.map((s) => [s.name, s.labels, s.value])).toEqual([
      ['h_seconds_bucket', [['le', '0.1']], 0],
      ['h_seconds_bucket', [['le', '1']], 1],
      ['h_seconds_bucket', [['le', '+Inf']], 1],
      ['h_seconds_sum', [], 0.5],
      ['h_seconds_count', [], 1],
    ]);
    expect(summary?.samples.map((s) => [s.name, s.labels, s.value])).toEqual([
      ['s', [['quantile', '0.5']], 2],
      ['s_sum', [], 2],
      ['s_count', [], 1],
    ]);
  });

  it('undoes the escapes of label values and HELP texts', async () => {
    const value = 'a"b\\c\nd,e=f}';
    const text = await rendered((registers) => {
      new Gauge({
        name: 'g',
        help: 'Help with \\ and\na newline',
        labelNames: ['v'],
        registers: [registers],
      }).set({ v: value }, 1);
    });
    // prom-client did escape them: the parser had something to undo.
    expect(text).toContain('v="a\\"b\\\\c\\nd,e=f}"');
    const [family] = parseExposition(text);
    expect(family?.help).toBe('Help with \\ and\na newline');
    expect(family?.samples[0]?.labels).toEqual([['v', value]]);
    expect(family?.samples[0]?.value).toBe(1);
  });

  it('reads NaN (prom-client writes Nan), +Inf and -Inf', async () => {
    const text = await rendered((registers) => {
      const gauge = new Gauge({ name: 'g', help: 'G.', labelNames: ['v'], registers: [registers] });
      gauge.set({ v: 'nan' }, Number.NaN);
      gauge.set({ v: 'inf' }, Number.POSITIVE_INFINITY);
      gauge.set({ v: 'ninf' }, Number.NEGATIVE_INFINITY);
    });
    expect(text).toContain('g{v="nan"} Nan');
    const values = parseExposition(text)[0]?.samples.map((s) => s.value);
    expect(values).toEqual([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]);
  });

  it('keeps a label value that looks like a secret exactly as written', () => {
    const secret = 'postgres://admin:S3cr3t-p@ss@db/prod?password=hunter2';
    const [family] = parseExposition(`# TYPE q gauge\nq{query="${secret}"} 1\n`);
    expect(family?.samples[0]?.labels).toEqual([['query', secret]]);
  });

  it('gives each sample the series text that identifies it (up to the value)', () => {
    const samples: string[] = [];
    eachSample('a{x="1"} 5\nb 2\n', (sample) => samples.push(sample.series));
    expect(samples).toEqual(['a{x="1"}', 'b']);
  });

  it('a sample of another family without TYPE is its own untyped family', () => {
    const families = parseExposition('# TYPE a counter\na 1\nb 2\n');
    expect(families.map((f) => [f.name, f.type])).toEqual([
      ['a', 'counter'],
      ['b', 'untyped'],
    ]);
  });
});

describe('parseValue', () => {
  it.each([
    ['1', 1],
    ['-1.5e3', -1500],
    ['.5', 0.5],
    ['+Inf', Number.POSITIVE_INFINITY],
    ['inf', Number.POSITIVE_INFINITY],
    ['-Inf', Number.NEGATIVE_INFINITY],
    ['NaN', Number.NaN],
    ['Nan', Number.NaN],
  ])('%s is %d', (text, value) => {
    expect(parseValue(text)).toBe(value);
  });

  it.each(['', 'x', '1,5', '0x10', '1e', 'Infinityx'])('%j is no value', (text) => {
    expect(parseValue(text)).toBeUndefined();
  });
});

describe('malformed lines', () => {
  it.each([
    ['a bad metric name', 'ok 1\n1bad 2\n', 2, /not a metric name/],
    ['a label value without end', 'ok 1\n\nx{a="b} 1\n', 3, /label value does not end|expected/],
    ['an invalid escape', 'x{a="b\\q"} 1\n', 1, /invalid escape/],
    ['the same label twice', '# TYPE x gauge\nx{a="1",a="2"} 1\n', 2, /label a twice/],
    ['no value', 'ok 1\nx\n', 2, /a space and a value expected/],
    ['a value that is not a number', 'x one\n', 1, /not a sample value/],
    ['a timestamp', 'x 1 1700000000000\n', 1, /timestamp/],
    ['an unknown type', '# TYPE x nonsense\n', 1, /unknown metric type "nonsense"/],
    ['a bad label name', 'x{1a="b"} 1\n', 1, /not a label name/],
    ['garbage after a label value', 'x{a="b" c="d"} 1\n', 1, /, or } expected/],
  ])('%s: an ExpositionError naming the line', (_what, text, line, why) => {
    const error = expositionError(text);
    expect(error.message).toMatch(new RegExp(`^exposition line ${line}: `));
    expect(error.message).toMatch(why);
  });

  it('quotes at most 200 characters of the line', () => {
    const error = expositionError(`x ${'y'.repeat(10_000)}\n`);
    expect(error.message.length).toBeLessThan(300);
  });

  it('parseSample names the line number it is given', () => {
    expect(() => parseSample('x{', 42)).toThrow(/^exposition line 42: /);
  });
});
