import { describe, expect, it } from 'vitest';
import { userTablesSamples } from '../../../src/collectors/business/user_tables.js';

describe('userTablesSamples', () => {
  it('gives one sample per schema', () => {
    expect(
      userTablesSamples([
        { schema: 'public', tables: '3' },
        { schema: 'audit', tables: 1 },
      ]),
    ).toEqual([
      { labels: { schema: 'public' }, value: 3 },
      { labels: { schema: 'audit' }, value: 1 },
    ]);
  });
});
