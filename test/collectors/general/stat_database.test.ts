import { describe, expect, it } from 'vitest';
import {
  STAT_DATABASE_QUERY,
  STAT_DATABASE_TYPES,
  statDatabaseSamples,
} from '../../../src/collectors/general/stat_database.js';

describe('statDatabaseSamples', () => {
  const row = (datname: string | null, reset: number | null) => ({
    datname,
    ...Object.fromEntries(STAT_DATABASE_TYPES.map((type) => [type, 1])),
    last_stats_reset_min: reset,
  });

  it('includes xact_rollback, which the seed dropped', () => {
    expect(STAT_DATABASE_TYPES).toContain('xact_rollback');
    expect(STAT_DATABASE_QUERY).toContain('xact_rollback');
    const types = statDatabaseSamples([row('app', 5)]).map((s) => s.labels.type);
    expect(types).toEqual([...STAT_DATABASE_TYPES]);
  });

  it('gives last_stats_reset_min only where stats_reset is set', () => {
    const samples = statDatabaseSamples([row('a', 5), row('b', null)]);
    expect(samples.filter((s) => s.labels.type === 'last_stats_reset_min')).toEqual([
      { labels: { database: 'a', type: 'last_stats_reset_min' }, value: 5 },
    ]);
  });

  it('leaves out the shared-objects row (NULL datname) instead of labelling it "None"', () => {
    expect(STAT_DATABASE_QUERY).toMatch(/WHERE datname IS NOT NULL/);
    expect(statDatabaseSamples([row(null, 1)])).toEqual([]);
  });
});
