/**
 * What remote write sends, read back as a receiver reads it (snappyjs'
 * uncompress, then protobufjs' parser of src/prompb/remote.proto, never the
 * exporter's encoder): series labels from the grouping key, sorted, stamped
 * with the collection time, in bounded batches with their families' metadata,
 * and staleness markers for the series a target's previous write had.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { remoteWriteConfig as config } from './harness/rw-receiver.js';
import { plan } from '../src/run.js';
import {
  MAX_WRITTEN_CHARS,
  WrittenRuns,
  encodeBatch,
  remoteWrite,
  toWriteBatches,
} from '../src/remote_write.js';
import type { GroupingKey } from '../src/target.js';
import {
  STALE_NAN_HEX,
  decodeWrite,
  labelsOf,
  startReceiver,
  type DecodedWrite,
  type Receiver,
} from './harness/rw-receiver.js';

const key: GroupingKey = {
  job: 'postgresql-exporter',
  labels: { instance: 'db:5432/postgres', app: 'prometheus-postgresql-exporter' },
};
const AT = 1_796_000_000_123;

/** The batches of one exposition as a receiver decodes them. */
function sent(body: string, options: { batch?: number; previous?: string } = {}): DecodedWrite[] {
  return toWriteBatches(body, key, AT, options.batch ?? 2_000, options.previous).map((batch) =>
    decodeWrite(encodeBatch(batch).body),
  );
}

let receiver: Receiver | undefined;
afterEach(async () => {
  await receiver?.stop();
  receiver = undefined;
});

/** `n` gauge series of one family. */
function gauges(n: number, name = 'g'): string {
  const lines = [`# HELP ${name} A gauge.`, `# TYPE ${name} gauge`];
  for (let i = 0; i < n; i += 1) lines.push(`${name}{n="${i}"} ${i}`);
  return lines.join('\n') + '\n';
}

describe('series labels', () => {
  it('are the sample labels, the grouping labels and __name__, sorted by name', () => {
    const [write] = sent(
      '# TYPE postgresql_stat_activity gauge\n' +
        'postgresql_stat_activity{state="active",database="postgres"} 3\n',
    );
    const series = write!.timeseries;
    expect(series).toHaveLength(1);
    expect(series[0]!.labels).toEqual([
      { name: '__name__', value: 'postgresql_stat_activity' },
      { name: 'app', value: 'prometheus-postgresql-exporter' },
      { name: 'database', value: 'postgres' },
      { name: 'instance', value: 'db:5432/postgres' },
      { name: 'job', value: 'postgresql-exporter' },
      { name: 'state', value: 'active' },
    ]);
    expect(series[0]!.samples.map((s) => s.value)).toEqual([3]);
  });

  it('are sorted by byte order, upper case before lower case, whatever the written order', () => {
    const [write] = sent('x{b="1",A="2",_c="3",a="4",Z="5"} 1\n');
    const names = write!.timeseries[0]!.labels.map((l) => l.name);
    expect(names).toEqual(['A', 'Z', '__name__', '_c', 'a', 'app', 'b', 'instance', 'job']);
  });

  it('a family label named like a grouping label: the grouping value wins, never two labels of one name', () => {
    const [write] = sent('x{instance="elsewhere",job="other",app="mine",d="1"} 1\n');
    const labels = write!.timeseries[0]!.labels;
    expect(labels.filter((l) => l.name === 'instance')).toEqual([
      { name: 'instance', value: 'db:5432/postgres' },
    ]);
    expect(labels.filter((l) => l.name === 'job')).toEqual([
      { name: 'job', value: 'postgresql-exporter' },
    ]);
    expect(labels.filter((l) => l.name === 'app')).toEqual([
      { name: 'app', value: 'prometheus-postgresql-exporter' },
    ]);
    expect(labelsOf(write!.timeseries[0]!).d).toBe('1');
  });

  it('which the plan prevents: with remote write alone, a grouping label that a family has is refused', () => {
    expect(() =>
      plan({
        REMOTE_WRITE_URL: 'http://rw:9090/api/v1/write',
        PUSHGATEWAY_GROUPING_LABELS: 'database=x',
      }),
    ).toThrow(/PUSHGATEWAY_GROUPING_LABELS: label "database" is also a label of/);
  });

  it('an empty label value is no label, a grouping label too', () => {
    const write = toWriteBatches(
      'x{a="",b="1"} 1\n',
      { job: 'j', labels: { instance: '' } },
      AT,
      10,
    );
    const decoded = decodeWrite(encodeBatch(write[0]!).body);
    expect(decoded.timeseries[0]!.labels).toEqual([
      { name: '__name__', value: 'x' },
      { name: 'b', value: '1' },
      { name: 'job', value: 'j' },
    ]);
  });

  it('label values keep their unescaped text, quotes, backslashes and newlines included', () => {
    const [write] = sent('x{q="say \\"hi\\"\\\\\\n"} 1\n');
    expect(labelsOf(write!.timeseries[0]!).q).toBe('say "hi"\\\n');
  });
});

describe('samples and metadata', () => {
  it('every sample has the collection time; NaN and the infinities are sent as they are, not as StaleNaN', () => {
    const [write] = sent(
      '# TYPE g gauge\ng{v="a"} Nan\ng{v="b"} +Inf\ng{v="c"} -Inf\ng{v="d"} 0.25\n',
    );
    const samples = write!.timeseries.map((s) => s.samples[0]!);
    expect(samples.map((s) => s.timestamp)).toEqual([AT, AT, AT, AT]);
    expect(samples[0]!.value).toBeNaN();
    expect(samples[0]!.bits).not.toBe(STALE_NAN_HEX);
    expect(samples.slice(1).map((s) => s.value)).toEqual([
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      0.25,
    ]);
    // One sample per series.
    expect(write!.timeseries.every((s) => s.samples.length === 1)).toBe(true);
  });

  it("metadata gives each family's type and help, once", () => {
    const [write] = sent(
      [
        '# HELP c_total Counted.',
        '# TYPE c_total counter',
        'c_total 1',
        '# HELP g A "gauge" \\\\ with\\nlines.',
        '# TYPE g gauge',
        'g 2',
        '# HELP h_seconds Histogram.',
        '# TYPE h_seconds histogram',
        'h_seconds_bucket{le="+Inf"} 1',
        'h_seconds_sum 0.5',
        'h_seconds_count 1',
        '# HELP s Summary.',
        '# TYPE s summary',
        's{quantile="0.5"} 2',
        's_sum 2',
        's_count 1',
        'u 1',
        '',
      ].join('\n'),
    );
    expect(write!.metadata).toEqual([
      { type: 'COUNTER', metricFamilyName: 'c_total', help: 'Counted.', unit: '' },
      { type: 'GAUGE', metricFamilyName: 'g', help: 'A "gauge" \\ with\nlines.', unit: '' },
      { type: 'HISTOGRAM', metricFamilyName: 'h_seconds', help: 'Histogram.', unit: '' },
      { type: 'SUMMARY', metricFamilyName: 's', help: 'Summary.', unit: '' },
      { type: 'UNKNOWN', metricFamilyName: 'u', help: '', unit: '' },
    ]);
    expect(write!.timeseries.map((s) => labelsOf(s).__name__)).toEqual([
      'c_total',
      'g',
      'h_seconds_bucket',
      'h_seconds_sum',
      'h_seconds_count',
      's',
      's_sum',
      's_count',
      'u',
    ]);
  });
});

describe('batches', () => {
  it('2001 samples with REMOTE_WRITE_BATCH_SAMPLES=2000 are 2 requests of 2000 and 1', async () => {
    receiver = await startReceiver();
    const result = await remoteWrite({
      config: config(receiver.url),
      key,
      body: gauges(2001),
      timestampMs: AT,
      deadline: Date.now() + 10_000,
      written: new WrittenRuns(),
    });
    expect(result).toMatchObject({ samples: 2001, stale: 0, batches: 2 });
    expect(receiver.requests).toHaveLength(2);
    const writes = receiver.requests.map((r) => decodeWrite(r.body));
    expect(writes.map((w) => w.timeseries.length).sort((a, b) => b - a)).toEqual([2000, 1]);
    expect(result.bytes).toBe(receiver.requests.reduce((n, r) => n + r.body.length, 0));
    // Every series once, every sample at the collection time.
    const values = writes.flatMap((w) => w.timeseries.map((s) => s.samples[0]!.value));
    expect(new Set(values).size).toBe(2001);
    expect(writes.every((w) => w.timeseries.every((s) => s.samples[0]!.timestamp === AT))).toBe(
      true,
    );
    // The family's metadata travels once, with its first series.
    expect(writes.flatMap((w) => w.metadata).map((m) => m.metricFamilyName)).toEqual(['g']);
  });

  it('exactly REMOTE_WRITE_BATCH_SAMPLES samples are one batch', () => {
    expect(toWriteBatches(gauges(2000), key, AT, 2000)).toHaveLength(1);
    expect(toWriteBatches(gauges(7), key, AT, 3).map((b) => b.timeseries.length)).toEqual([
      3, 3, 1,
    ]);
  });

  it('staleness markers count towards the bound', () => {
    const batches = toWriteBatches(gauges(2, 'a'), key, AT, 3, gauges(4, 'b'));
    expect(batches.map((b) => b.timeseries.length + b.stale.length)).toEqual([3, 3]);
  });

  it('an empty exposition is still one (empty) request', () => {
    const batches = toWriteBatches('', key, AT, 10);
    expect(batches).toHaveLength(1);
    expect(decodeWrite(encodeBatch(batches[0]!).body).timeseries).toEqual([]);
  });
});

describe('staleness markers', () => {
  const first = '# TYPE g gauge\ng{d="a"} 1\ng{d="b"} 2\ng{d="c"} 3\n';
  const second = '# TYPE g gauge\ng{d="a"} 1\ng{d="c"} 3\n';

  async function write(body: string, written: WrittenRuns, at: number, k = key) {
    const before = receiver!.requests.length;
    const result = await remoteWrite({
      config: config(receiver!.url),
      key: k,
      body,
      timestampMs: at,
      deadline: Date.now() + 10_000,
      written,
    });
    const writes = receiver!.requests.slice(before).map((r) => decodeWrite(r.body));
    return { result, series: writes.flatMap((w) => w.timeseries) };
  }

  const stale = (series: DecodedWrite['timeseries']) =>
    series.filter((s) => s.samples[0]!.bits === STALE_NAN_HEX);

  it('a series of the previous write that is gone gets one StaleNaN sample at the new time', async () => {
    receiver = await startReceiver();
    const written = new WrittenRuns();
    const cold = await write(first, written, AT);
    expect(cold.result.stale).toBe(0);
    expect(stale(cold.series)).toEqual([]);

    const next = await write(second, written, AT + 60_000);
    expect(next.result).toMatchObject({ samples: 3, stale: 1 });
    const markers = stale(next.series);
    expect(markers).toHaveLength(1);
    expect(labelsOf(markers[0]!)).toEqual({
      __name__: 'g',
      app: 'prometheus-postgresql-exporter',
      d: 'b',
      instance: 'db:5432/postgres',
      job: 'postgresql-exporter',
    });
    expect(markers[0]!.samples).toHaveLength(1);
    expect(markers[0]!.samples[0]!.value).toBeNaN();
    expect(markers[0]!.samples[0]!.timestamp).toBe(AT + 60_000);
    // The series still there are sent with their values, not marked.
    expect(next.series.filter((s) => s.samples[0]!.bits !== STALE_NAN_HEX)).toHaveLength(2);
  });

  it('none when nothing disappeared', async () => {
    receiver = await startReceiver();
    const written = new WrittenRuns();
    await write(first, written, AT);
    const again = await write(first.replace('} 2', '} 20'), written, AT + 60_000);
    expect(again.result.stale).toBe(0);
    expect(stale(again.series)).toEqual([]);
    expect(again.series).toHaveLength(3);
  });

  it("another target's series are not ended by this target's write", async () => {
    receiver = await startReceiver();
    const written = new WrittenRuns();
    await write(first, written, AT);
    const other = { job: key.job, labels: { instance: 'other:5432/postgres' } };
    const result = await write(second, written, AT + 1, other);
    expect(result.result.stale).toBe(0);
  });

  it('a run larger than the bound is not kept: the next write has no reference to end series by', async () => {
    receiver = await startReceiver();
    const written = new WrittenRuns(first.length - 1);
    await write(first, written, AT);
    const next = await write(second, written, AT + 60_000);
    expect(next.result.stale).toBe(0);
    expect(stale(next.series)).toEqual([]);
  });

  it('a failed write is no reference: the next write still ends what the last accepted one had', async () => {
    let refuse = false;
    receiver = await startReceiver({
      answer: () => (refuse ? { status: 503, body: 'no' } : { status: 200 }),
    });
    const written = new WrittenRuns();
    await write(first, written, AT);
    refuse = true;
    await expect(write('# TYPE g gauge\ng{d="a"} 1\n', written, AT + 60_000)).rejects.toThrow(
      /HTTP 503/,
    );
    refuse = false;
    const next = await write('# TYPE g gauge\ng{d="a"} 1\n', written, AT + 120_000);
    expect(next.result.stale).toBe(2);
    expect(
      stale(next.series)
        .map((s) => labelsOf(s).d)
        .sort(),
    ).toEqual(['b', 'c']);
  });

  it('a write the receiver refuses (4xx) leaves no reference: markers it may refuse are not sent again', async () => {
    let refuse = false;
    receiver = await startReceiver({
      answer: () =>
        refuse ? { status: 400, body: 'duplicate sample for timestamp' } : { status: 200 },
    });
    const written = new WrittenRuns();
    await write(first, written, AT);
    refuse = true;
    await expect(write(second, written, AT + 60_000)).rejects.toThrow(/HTTP 400/);
    refuse = false;
    const next = await write(second, written, AT + 120_000);
    expect(next.result.stale).toBe(0);
    expect(stale(next.series)).toEqual([]);
    // And from that accepted write on, markers again.
    const after = await write('# TYPE g gauge\ng{d="a"} 1\n', written, AT + 180_000);
    expect(stale(after.series).map((s) => labelsOf(s).d)).toEqual(['c']);
  });
});

describe('WrittenRuns', () => {
  it('keeps at most MAX_WRITTEN_CHARS (16 M characters) by default', () => {
    expect(MAX_WRITTEN_CHARS).toBe(16 * 1024 * 1024);
  });

  it('forgets the oldest targets past its bound, and never keeps a run larger than it', () => {
    const runs = new WrittenRuns(100);
    runs.set('a', 'x'.repeat(40));
    runs.set('b', 'y'.repeat(40));
    expect(runs.get('a')).toBeDefined();
    runs.set('c', 'z'.repeat(40));
    expect(runs.get('a')).toBeUndefined();
    expect(runs.get('b')).toBe('y'.repeat(40));
    expect(runs.get('c')).toBe('z'.repeat(40));
    // A run larger than the bound is not kept, and the target's older one is forgotten with it.
    runs.set('b', 'w'.repeat(101));
    expect(runs.get('b')).toBeUndefined();
    expect(runs.get('c')).toBe('z'.repeat(40));
  });

  it('counts a target set again once: replacing a run frees what the old one held', () => {
    const runs = new WrittenRuns(100);
    for (let i = 0; i < 50; i += 1) runs.set('a', String(i % 10).repeat(60));
    runs.set('b', 'b'.repeat(40));
    expect(runs.get('a')).toBe('9'.repeat(60));
    expect(runs.get('b')).toBe('b'.repeat(40));
    runs.forget('a');
    runs.set('c', 'c'.repeat(60));
    expect(runs.get('b')).toBe('b'.repeat(40));
  });
});
