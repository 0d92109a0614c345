import { describe, expect, it } from 'vitest';
import {
  WAL_COUNTERS,
  WAL_QUERY_18,
  WAL_QUERY_BEFORE_18,
  wal,
  walQuery,
  walSamples,
} from '../../../src/collectors/general/wal.js';
import { supports } from '../../../src/collectors/types.js';

describe('wal', () => {
  it('runs from PostgreSQL 14 on (pg_stat_wal)', () => {
    expect(supports(wal, 130_023)).toBe(false);
    expect(supports(wal, 140_000)).toBe(true);
    expect(supports(wal, 180_004)).toBe(true);
  });

  it('names its counters *_total', () => {
    for (const [, definition] of WAL_COUNTERS) expect(definition.name).toMatch(/_total$/);
  });
});

describe('walQuery', () => {
  it('reads every counter from pg_stat_wal on 14 to 17', () => {
    expect(walQuery(140_000)).toBe(WAL_QUERY_BEFORE_18);
    expect(walQuery(170_010)).toBe(WAL_QUERY_BEFORE_18);
    for (const column of ['wal_write', 'wal_sync', 'wal_write_time', 'wal_sync_time']) {
      expect(WAL_QUERY_BEFORE_18).toMatch(new RegExp(`\\b${column}\\b`));
    }
    expect(WAL_QUERY_BEFORE_18).not.toContain('pg_stat_io');
  });

  it("reads writes and syncs from pg_stat_io's wal rows from 18 on", () => {
    expect(walQuery(180_000)).toBe(WAL_QUERY_18);
    expect(WAL_QUERY_18).toContain('FROM pg_stat_wal');
    expect(WAL_QUERY_18).toContain('pg_stat_io');
    expect(WAL_QUERY_18).toContain("object = 'wal'");
    for (const column of ['wal_write', 'wal_sync', 'wal_write_time', 'wal_sync_time']) {
      expect(WAL_QUERY_18).not.toMatch(new RegExp(`\\b${column}\\b`));
    }
    for (const column of ['writes', 'fsyncs', 'write_time', 'fsync_time']) {
      expect(WAL_QUERY_18).toContain(`sum(${column})`);
    }
  });

  it('gives every column in both queries, times in seconds', () => {
    for (const query of [WAL_QUERY_BEFORE_18, WAL_QUERY_18]) {
      for (const [column] of WAL_COUNTERS) expect(query).toMatch(new RegExp(`\\b${column}\\b`));
      expect(query.match(/\/ 1000/g)).toHaveLength(2);
    }
  });
});

describe('walSamples', () => {
  it('gives one sample per counter', () => {
    const row = {
      records: '23025',
      fpi: 496,
      bytes: '5033826',
      buffers_full: 0,
      writes: 746,
      syncs: 3,
      write_time_seconds: 0.25,
      sync_time_seconds: 0,
    };
    const samples = walSamples([row]);
    expect(samples.get('records')).toEqual([{ labels: {}, value: 23_025 }]);
    expect(samples.get('bytes')).toEqual([{ labels: {}, value: 5_033_826 }]);
    expect(samples.get('write_time_seconds')).toEqual([{ labels: {}, value: 0.25 }]);
    expect([...samples.keys()]).toEqual(WAL_COUNTERS.map(([column]) => column));
  });

  it('gives nothing for no row or an all-NULL row', () => {
    const nulls = Object.fromEntries(WAL_COUNTERS.map(([column]) => [column, null]));
    for (const rows of [[], [nulls]]) {
      for (const samples of walSamples(rows).values()) expect(samples).toEqual([]);
    }
  });
});
