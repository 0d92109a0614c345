/**
 * Reading the Pushgateway's groups from its exposition: the label parser
 * against hostile values (rendered by prom-client, an independent
 * implementation of the escapes), and the line scanner against any chunking.
 */
import fc from 'fast-check';
import { Gauge, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  GroupScanner,
  MAX_EXPOSITION_LINE_BYTES,
  parseGroupLine,
  type GroupLabels,
} from '../src/pushgateway.js';

/** Values that break naive parsers: quotes, backslashes, newlines, commas, braces, `=`, Unicode. */
const HOSTILE = [
  'we"ird',
  'back\\slash',
  'new\nline',
  'a,b=c',
  'x} 1\npush_time_seconds{job="forged"} 2',
  '\\"',
  '\\n',
  'Zürich ✓ 🐘',
  ' ',
  '',
];

/** The exposition of `push_time_seconds` with these label sets, as prom-client renders it. */
async function rendered(groups: readonly Record<string, string>[]): Promise<string> {
  const registry = new Registry();
  const names = [...new Set(groups.flatMap((g) => Object.keys(g)))];
  const gauge = new Gauge({
    name: 'push_time_seconds',
    help: 'Last Unix time when changing this group in the Pushgateway succeeded.',
    labelNames: names,
    registers: [registry],
  });
  for (const labels of groups) gauge.set(labels, 1.7e9);
  return registry.metrics();
}

function scan(text: string | Buffer, chunkSizes: readonly number[] = []): GroupLabels[] {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  const scanner = new GroupScanner();
  let at = 0;
  for (const size of chunkSizes) {
    if (at >= bytes.length) break;
    scanner.take(bytes.subarray(at, at + size));
    at += size;
  }
  if (at < bytes.length) scanner.take(bytes.subarray(at));
  return scanner.end();
}

describe('parseGroupLine', () => {
  it('reads each label value back exactly, whatever it holds', async () => {
    for (const value of HOSTILE.filter((v) => v !== '')) {
      const text = await rendered([{ job: 'j', instance: value, team: value }]);
      const line = text.split('\n').find((l) => l.startsWith('push_time_seconds{'))!;
      expect(parseGroupLine(line)).toEqual({ job: 'j', instance: value, team: value });
    }
  });

  it('reads the lines the Pushgateway 1.5.1 wrote for hostile values (captured)', () => {
    expect(
      parseGroupLine(
        'push_time_seconds{fleet="f1",instance="we\\"ird\\\\x\\ny}, ü",job="j1"} 1.7961758390967066e+09',
      ),
    ).toEqual({ fleet: 'f1', instance: 'we"ird\\x\ny}, ü', job: 'j1' });
    expect(
      parseGroupLine(
        'push_time_seconds{fleet="f1",instance="i2",job="j1",team=""} 1.7961758391133516e+09',
      ),
    ).toEqual({ fleet: 'f1', instance: 'i2', job: 'j1', team: '' });
  });

  it('leaves out the empty instance the Pushgateway adds to a group without one', () => {
    expect(parseGroupLine('push_time_seconds{fleet="f",instance="",job="j"} 1')).toEqual({
      fleet: 'f',
      job: 'j',
    });
  });

  it('keeps a label named __proto__ as a label', () => {
    const labels = parseGroupLine('push_time_seconds{__proto__="x",job="j"} 1');
    expect(Object.keys(labels)).toEqual(['__proto__', 'job']);
    expect(Object.getPrototypeOf(labels)).toBe(Object.prototype);
  });

  it.each([
    ['no job', 'push_time_seconds{instance="a"} 1', /no job label/],
    ['an unterminated value', 'push_time_seconds{job="a} 1', /does not end/],
    ['an invalid escape', 'push_time_seconds{job="a\\t"} 1', /invalid escape/],
    ['a label twice', 'push_time_seconds{job="a",job="b"} 1', /job twice/],
    ['no value after the labels', 'push_time_seconds{job="a"}', /a value expected/],
    ['a bad label name', 'push_time_seconds{1x="a",job="b"} 1', /a label name expected/],
    ['no quote', 'push_time_seconds{job=a} 1', /="…" expected/],
    ['junk between labels', 'push_time_seconds{job="a" x="b"} 1', /, or } expected/],
  ])('refuses %s, naming the line', (_what, line, reason) => {
    expect(() => parseGroupLine(line)).toThrow(reason);
    expect(() => parseGroupLine(line)).toThrow(/malformed push_time_seconds line/);
  });
});

describe('GroupScanner', () => {
  it('finds exactly the groups of a whole exposition and ignores every other line', async () => {
    const groups = [
      { job: 'a', instance: 'x' },
      { job: 'b', instance: 'y', fleet: 'f' },
    ];
    const text =
      `# HELP push_time_seconds_like x\n# TYPE push_time_seconds_like gauge\n` +
      `push_time_seconds_like{job="no"} 1\npush_failure_time_seconds{job="no"} 0\n` +
      `postgresql_up{job="no",instance="x"} 1\n` +
      (await rendered(groups));
    expect(scan(text)).toEqual(groups);
  });

  it('gives the same groups however the body is cut into chunks, even inside a UTF-8 character', async () => {
    const value = fc.oneof(fc.constantFrom(...HOSTILE), fc.string({ unit: 'binary' }));
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.record({ instance: value, team: value }), {
          minLength: 1,
          maxLength: 8,
          selector: (g) => JSON.stringify(g),
        }),
        fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 200 }),
        async (labelSets, chunks) => {
          const groups = labelSets.map((g) => ({ job: 'j', ...g }));
          const text = await rendered(groups);
          const expected = groups.map((g) => {
            const { instance, ...rest } = g;
            // prom-client leaves out nothing; the parser drops only an empty instance.
            return instance === '' ? rest : g;
          });
          const found = scan(text, chunks);
          const key = (g: GroupLabels) => JSON.stringify(Object.entries(g).sort());
          expect(found.map(key).sort()).toEqual(expected.map(key).sort());
        },
      ),
      { numRuns: 300 },
    );
  });

  it('takes a last line without its newline', () => {
    expect(scan('push_time_seconds{job="j"} 1', [3, 5])).toEqual([{ job: 'j' }]);
  });

  it('refuses a line longer than the limit, even when it is not a group, holding no more than it', () => {
    const scanner = new GroupScanner();
    const chunk = Buffer.alloc(64 * 1024, 'x');
    let taken = 0;
    expect(() => {
      for (;;) {
        scanner.take(chunk);
        taken += chunk.length;
      }
    }).toThrow(`line 1 is longer than ${MAX_EXPOSITION_LINE_BYTES} bytes`);
    expect(taken).toBeLessThanOrEqual(MAX_EXPOSITION_LINE_BYTES);
  });

  it('refuses more groups than allowed, naming the limit', () => {
    const scanner = new GroupScanner(3);
    const lines = [1, 2, 3, 4].map((i) => `push_time_seconds{instance="${i}",job="j"} 1\n`);
    expect(() => scanner.take(Buffer.from(lines.join('')))).toThrow(/more than 3 groups/);
  });

  it('names the line of a malformed group', () => {
    expect(() => scan('# HELP a b\npush_time_seconds{job="x"\n')).toThrow(
      /^line 2: malformed push_time_seconds line/,
    );
  });
});
