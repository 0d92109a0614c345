import { describe, expect, it } from 'vitest';
import { connectionsSamples } from '../../../src/collectors/general/connections.js';

describe('connectionsSamples', () => {
  it('gives max_connections and the reserved slots', () => {
    expect(connectionsSamples([{ max_connections: '100', reserved_connections: 3 }])).toEqual({
      max: [{ labels: {}, value: 100 }],
      reserved: [{ labels: {}, value: 3 }],
    });
  });

  it('gives nothing for no row or NULLs', () => {
    expect(connectionsSamples([])).toEqual({ max: [], reserved: [] });
    expect(connectionsSamples([{ max_connections: null, reserved_connections: null }])).toEqual({
      max: [],
      reserved: [],
    });
  });
});
