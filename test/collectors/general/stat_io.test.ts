import { collectOnce } from '../../harness/collect.js';
import { describe, expect, it } from 'vitest';
import {
  STAT_IO_FAMILIES,
  STAT_IO_QUERY_18,
  STAT_IO_QUERY_BEFORE_18,
  statIo,
  statIoQuery,
  statIoSamples,
  type StatIoRow,
} from '../../../src/collectors/general/stat_io.js';
import { supports } from '../../../src/collectors/types.js';
import { parseExposition, select } from '../../harness/exposition.js';

const COUNTS = [
  'reads',
  'writes',
  'writebacks',
  'extends',
  'hits',
  'evictions',
  'reuses',
  'fsyncs',
];
const TIMES = ['read_time', 'write_time', 'writeback_time', 'extend_time', 'fsync_time'];
const BYTES = ['read_bytes', 'write_bytes', 'extend_bytes'];

const labels = { backend_type: 'client backend', object: 'relation', context: 'normal' };

/** A client backend's relation/normal row as PostgreSQL 16 and 17 give it (op_bytes, no bytes). */
const row17: StatIoRow = {
  ...labels,
  reads: 77,
  writes: '3',
  writebacks: 0,
  extends: 12,
  hits: '1610',
  evictions: 0,
  reuses: null,
  fsyncs: 0,
  op_bytes: 8192,
  read_time: 12.5,
  write_time: 0.25,
  writeback_time: 0,
  extend_time: 1500,
  fsync_time: 0,
};

/** The same row as PostgreSQL 18 gives it: byte columns, no op_bytes; a read may span blocks. */
const row18: StatIoRow = {
  ...labels,
  reads: 47,
  read_bytes: '876544',
  writes: 3,
  write_bytes: 24_576,
  writebacks: 0,
  extends: 2,
  extend_bytes: 98_304,
  hits: 1652,
  evictions: 0,
  reuses: null,
  fsyncs: 0,
  read_time: 0,
  write_time: 0,
  writeback_time: 0,
  extend_time: 0,
  fsync_time: 0,
};

function value(samples: ReturnType<typeof statIoSamples>, family: string): number[] {
  return (samples.get(`postgresql_stat_io_${family}`) ?? []).map((s) => s.value);
}

describe('stat_io', () => {
  it('runs from PostgreSQL 16 on (pg_stat_io)', () => {
    expect(supports(statIo, 130_023)).toBe(false);
    expect(supports(statIo, 150_014)).toBe(false);
    expect(supports(statIo, 160_000)).toBe(true);
    expect(supports(statIo, 180_004)).toBe(true);
  });

  it('declares the 16 counter families, labelled by backend type, object and context', () => {
    expect(statIo.families.map((f) => f.name)).toEqual([
      'postgresql_stat_io_reads_total',
      'postgresql_stat_io_writes_total',
      'postgresql_stat_io_writebacks_total',
      'postgresql_stat_io_extends_total',
      'postgresql_stat_io_hits_total',
      'postgresql_stat_io_evictions_total',
      'postgresql_stat_io_reuses_total',
      'postgresql_stat_io_fsyncs_total',
      'postgresql_stat_io_read_bytes_total',
      'postgresql_stat_io_write_bytes_total',
      'postgresql_stat_io_extend_bytes_total',
      'postgresql_stat_io_read_seconds_total',
      'postgresql_stat_io_write_seconds_total',
      'postgresql_stat_io_writeback_seconds_total',
      'postgresql_stat_io_extend_seconds_total',
      'postgresql_stat_io_fsync_seconds_total',
    ]);
    for (const family of statIo.families) {
      expect(family.labelNames).toEqual(['backend_type', 'object', 'context']);
    }
  });
});

describe('statIoQuery', () => {
  it('reads op_bytes and no byte columns on 16 and 17', () => {
    expect(statIoQuery(160_000)).toBe(STAT_IO_QUERY_BEFORE_18);
    expect(statIoQuery(170_010)).toBe(STAT_IO_QUERY_BEFORE_18);
    expect(STAT_IO_QUERY_BEFORE_18).toMatch(/\bop_bytes\b/);
    for (const column of BYTES) expect(STAT_IO_QUERY_BEFORE_18).not.toContain(column);
  });

  it('reads the byte columns and no op_bytes from 18 on', () => {
    expect(statIoQuery(180_000)).toBe(STAT_IO_QUERY_18);
    expect(STAT_IO_QUERY_18).not.toContain('op_bytes');
    for (const column of BYTES) expect(STAT_IO_QUERY_18).toMatch(new RegExp(`\\b${column}\\b`));
  });

  it('reads every count and time, one statement of the view alone, no stats_reset', () => {
    for (const query of [STAT_IO_QUERY_BEFORE_18, STAT_IO_QUERY_18]) {
      for (const column of ['backend_type', 'object', 'context', ...COUNTS, ...TIMES]) {
        expect(query).toMatch(new RegExp(`\\b${column}\\b`));
      }
      expect(query).not.toContain('stats_reset');
      expect(query).not.toContain(';');
      expect(query.trim()).toMatch(/FROM pg_stat_io$/);
    }
  });
});

describe('statIoSamples', () => {
  it('gives every count as it is, labelled by the row', () => {
    const samples = statIoSamples([row17]);
    expect(samples.get('postgresql_stat_io_reads_total')).toEqual([{ labels, value: 77 }]);
    expect(value(samples, 'writes_total')).toEqual([3]);
    expect(value(samples, 'extends_total')).toEqual([12]);
    expect(value(samples, 'hits_total')).toEqual([1610]);
    expect([...samples.keys()]).toEqual(STAT_IO_FAMILIES.map((f) => f.definition.name));
  });

  it('turns milliseconds into seconds', () => {
    const samples = statIoSamples([row17]);
    expect(value(samples, 'read_seconds_total')).toEqual([0.0125]);
    expect(value(samples, 'write_seconds_total')).toEqual([0.000_25]);
    expect(value(samples, 'extend_seconds_total')).toEqual([1.5]);
    expect(value(samples, 'fsync_seconds_total')).toEqual([0]);
  });

  it('gives bytes as count × op_bytes on 16 and 17', () => {
    const samples = statIoSamples([row17]);
    expect(value(samples, 'read_bytes_total')).toEqual([77 * 8192]);
    expect(value(samples, 'write_bytes_total')).toEqual([3 * 8192]);
    expect(value(samples, 'extend_bytes_total')).toEqual([12 * 8192]);
    // op_bytes sizes the count: another block size, other bytes.
    expect(value(statIoSamples([{ ...row17, op_bytes: 16_384 }]), 'read_bytes_total')).toEqual([
      77 * 16_384,
    ]);
  });

  it("gives the byte columns as they are from 18 on, not the count × a block's size", () => {
    const samples = statIoSamples([row18]);
    expect(value(samples, 'read_bytes_total')).toEqual([876_544]);
    expect(value(samples, 'write_bytes_total')).toEqual([24_576]);
    // Two extends of six blocks each: the bytes are not extends × 8192.
    expect(value(samples, 'extend_bytes_total')).toEqual([98_304]);
    expect(value(samples, 'reads_total')).toEqual([47]);
  });

  it('gives no sample for a NULL cell (not applicable), and 0 for a 0', () => {
    const samples = statIoSamples([row17, row18]);
    expect(samples.get('postgresql_stat_io_reuses_total')).toEqual([]);
    expect(value(samples, 'evictions_total')).toEqual([0, 0]);
    // A NULL count gives no bytes on 16 and 17, a NULL byte column none on 18.
    const nullReads = statIoSamples([
      { ...row17, reads: null, read_time: null },
      { ...row18, read_bytes: null },
    ]);
    expect(value(nullReads, 'read_bytes_total')).toEqual([]);
    expect(value(nullReads, 'read_seconds_total')).toEqual([0]);
    expect(value(nullReads, 'reads_total')).toEqual([47]);
    expect(value(statIoSamples([{ ...row17, op_bytes: null }]), 'write_bytes_total')).toEqual([]);
  });

  it('gives nothing for no row, an all-NULL row or a row without its labels', () => {
    const nulls = Object.fromEntries(
      [...COUNTS, ...TIMES, ...BYTES, 'op_bytes'].map((column) => [column, null]),
    );
    const cases: StatIoRow[][] = [[], [{ ...labels, ...nulls }], [{ ...row17, context: null }]];
    for (const rows of cases) {
      for (const samples of statIoSamples(rows).values()) {
        expect(samples).toEqual([]);
      }
    }
  });
});

describe('statIo', () => {
  it('pushes a counter per family and labelled row, none for a family of NULLs only', async () => {
    const rows = [row17, { ...row17, backend_type: 'checkpointer', hits: null }];
    const registry = await collectOnce(statIo, {
      db: { query: <Row>() => Promise.resolve(rows as Row[]) },
      serverVersion: 170_010,
    });
    const metrics = parseExposition(await registry.metrics());
    expect(metrics.type.get('postgresql_stat_io_reads_total')).toBe('counter');
    expect(select(metrics, 'postgresql_stat_io_reads_total')).toHaveLength(2);
    expect(select(metrics, 'postgresql_stat_io_hits_total')).toEqual([
      { name: 'postgresql_stat_io_hits_total', labels, value: 1610 },
    ]);
    expect(metrics.type.has('postgresql_stat_io_reuses_total')).toBe(false);
    expect(
      select(metrics, 'postgresql_stat_io_read_bytes_total', { backend_type: 'checkpointer' }),
    ).toEqual([
      {
        name: 'postgresql_stat_io_read_bytes_total',
        labels: { ...labels, backend_type: 'checkpointer' },
        value: 77 * 8192,
      },
    ]);
  });
});
