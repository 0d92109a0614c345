import { describe, expect, it } from 'vitest';
import {
  ACTIVITY_STATES,
  statActivitySamples,
} from '../../../src/collectors/general/stat_activity.js';

describe('statActivitySamples', () => {
  it('gives every database all 6 states, zero-filled', () => {
    const samples = statActivitySamples([
      { datname: 'app', state: 'idle in transaction', count: 2 },
      { datname: 'app', state: 'active', count: '1' },
      { datname: 'template0', state: null, count: 0 },
    ]);
    expect(ACTIVITY_STATES).toEqual([
      'active',
      'idle',
      'idle in transaction',
      'idle in transaction (aborted)',
      'fastpath function call',
      'disabled',
    ]);
    expect(samples).toHaveLength(12);
    expect(samples).toContainEqual({
      labels: { database: 'app', state: 'idle in transaction' },
      value: 2,
    });
    expect(samples).toContainEqual({ labels: { database: 'app', state: 'active' }, value: 1 });
    expect(samples).toContainEqual({
      labels: { database: 'template0', state: 'disabled' },
      value: 0,
    });
  });

  it('gives nothing for an all-NULL row', () => {
    expect(statActivitySamples([{ datname: null, state: null, count: null }])).toEqual([]);
  });
});
