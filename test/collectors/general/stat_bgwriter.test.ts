import { describe, expect, it } from 'vitest';
import {
  BGWRITER_TYPES,
  STAT_BGWRITER_QUERY_17,
  STAT_BGWRITER_QUERY_BEFORE_17,
  statBgwriterQuery,
  statBgwriterSamples,
} from '../../../src/collectors/general/stat_bgwriter.js';

describe('statBgwriterQuery', () => {
  it('reads pg_stat_bgwriter alone before 17', () => {
    expect(statBgwriterQuery(160_004)).toBe(STAT_BGWRITER_QUERY_BEFORE_17);
    expect(STAT_BGWRITER_QUERY_BEFORE_17).not.toContain('pg_stat_checkpointer');
  });

  it('reads pg_stat_checkpointer and pg_stat_io from 17 on', () => {
    expect(statBgwriterQuery(170_000)).toBe(STAT_BGWRITER_QUERY_17);
    expect(statBgwriterQuery(180_004)).toBe(STAT_BGWRITER_QUERY_17);
    expect(STAT_BGWRITER_QUERY_17).toContain('pg_stat_checkpointer');
    expect(STAT_BGWRITER_QUERY_17).toContain('pg_stat_io');
  });

  it('names every seed type as a column in both queries', () => {
    for (const query of [STAT_BGWRITER_QUERY_BEFORE_17, STAT_BGWRITER_QUERY_17]) {
      for (const type of BGWRITER_TYPES) expect(query).toMatch(new RegExp(`\\b${type}\\b`));
    }
  });
});

describe('statBgwriterSamples', () => {
  const row = Object.fromEntries(BGWRITER_TYPES.map((type, i) => [type, String(i)]));

  it("gives the seed's 11 types", () => {
    const samples = statBgwriterSamples([row]);
    expect(samples.map((s) => s.labels.type)).toEqual([...BGWRITER_TYPES]);
    expect(samples.find((s) => s.labels.type === 'buffers_alloc')?.value).toBe(9);
  });

  it('leaves out last_stats_reset_min when stats_reset is NULL', () => {
    const samples = statBgwriterSamples([{ ...row, last_stats_reset_min: null }]);
    expect(samples.map((s) => s.labels.type)).not.toContain('last_stats_reset_min');
    expect(samples).toHaveLength(10);
  });

  it('gives nothing for no row or an all-NULL row', () => {
    expect(statBgwriterSamples([])).toEqual([]);
    expect(statBgwriterSamples([Object.fromEntries(BGWRITER_TYPES.map((t) => [t, null]))])).toEqual(
      [],
    );
  });
});
