import { describe, expect, it } from 'vitest';
import { LOCK_MODES, lockSamples } from '../../../src/collectors/general/lock.js';

describe('lockSamples', () => {
  it('gives every database all 8 modes, zero-filled, and keeps other modes seen', () => {
    const samples = lockSamples([
      { datname: 'postgres', mode: 'accesssharelock', count: 3 },
      { datname: 'postgres', mode: 'sireadlock', count: '2' },
      { datname: 'idle_db', mode: null, count: 0 },
    ]);
    expect(LOCK_MODES).toHaveLength(8);
    expect(samples.filter((s) => s.labels.database === 'idle_db')).toEqual(
      LOCK_MODES.map((mode) => ({ labels: { database: 'idle_db', mode }, value: 0 })),
    );
    const postgres = samples.filter((s) => s.labels.database === 'postgres');
    expect(postgres).toHaveLength(9);
    expect(postgres.find((s) => s.labels.mode === 'accesssharelock')?.value).toBe(3);
    expect(postgres.find((s) => s.labels.mode === 'sireadlock')?.value).toBe(2);
    expect(postgres.find((s) => s.labels.mode === 'exclusivelock')?.value).toBe(0);
  });

  it('gives nothing for an all-NULL row', () => {
    expect(lockSamples([{ datname: null, mode: null, count: null }])).toEqual([]);
  });
});
