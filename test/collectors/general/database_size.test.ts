import { describe, expect, it } from 'vitest';
import {
  DATABASE_SIZE_QUERY,
  databaseSizeSamples,
} from '../../../src/collectors/general/database_size.js';

describe('DATABASE_SIZE_QUERY', () => {
  it('sizes every database of pg_database by oid, as float8', () => {
    expect(DATABASE_SIZE_QUERY).toContain('pg_database_size(oid)::float8');
    expect(DATABASE_SIZE_QUERY).toContain('FROM pg_database');
    expect(DATABASE_SIZE_QUERY).not.toMatch(/WHERE/i);
  });
});

describe('databaseSizeSamples', () => {
  it('gives one size per database, none for a NULL size or database', () => {
    expect(
      databaseSizeSamples([
        { datname: 'postgres', size_bytes: '7754499' },
        { datname: 'template0', size_bytes: 7_500_000 },
        { datname: 'dropped', size_bytes: null },
        { datname: null, size_bytes: 1 },
      ]),
    ).toEqual([
      { labels: { database: 'postgres' }, value: 7_754_499 },
      { labels: { database: 'template0' }, value: 7_500_000 },
    ]);
  });

  it('gives nothing for no row or an all-NULL row', () => {
    expect(databaseSizeSamples([])).toEqual([]);
    expect(databaseSizeSamples([{ datname: null, size_bytes: null }])).toEqual([]);
  });
});
