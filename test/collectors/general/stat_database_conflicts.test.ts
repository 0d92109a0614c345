import { describe, expect, it } from 'vitest';
import {
  CONFLICT_TYPES,
  statDatabaseConflictsSamples,
} from '../../../src/collectors/general/stat_database_conflicts.js';

describe('statDatabaseConflictsSamples', () => {
  it("gives the seed's five conflict types per database", () => {
    const samples = statDatabaseConflictsSamples([
      {
        datname: 'app',
        confl_tablespace: 0,
        confl_lock: '2',
        confl_snapshot: 0,
        confl_bufferpin: 0,
        confl_deadlock: 1,
      },
    ]);
    expect(samples.map((s) => s.labels.type)).toEqual([...CONFLICT_TYPES]);
    expect(samples.find((s) => s.labels.type === 'confl_lock')?.value).toBe(2);
  });

  it('gives nothing for an all-NULL row', () => {
    expect(statDatabaseConflictsSamples([{ datname: null }])).toEqual([]);
    expect(
      statDatabaseConflictsSamples([
        { datname: 'x', ...Object.fromEntries(CONFLICT_TYPES.map((t) => [t, null])) },
      ]),
    ).toEqual([]);
  });
});
