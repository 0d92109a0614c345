import { describe, expect, it } from 'vitest';
import { uptimeSamples } from '../../../src/collectors/general/uptime.js';

describe('uptimeSamples', () => {
  it('gives the whole days', () => {
    expect(uptimeSamples([{ days: '12' }])).toEqual([{ labels: {}, value: 12 }]);
  });

  it('gives nothing for no row or a NULL', () => {
    expect(uptimeSamples([])).toEqual([]);
    expect(uptimeSamples([{ days: null }])).toEqual([]);
  });
});
