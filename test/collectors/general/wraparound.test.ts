import { describe, expect, it } from 'vitest';
import { WRAPAROUND_QUERY, wraparoundSamples } from '../../../src/collectors/general/wraparound.js';

describe('WRAPAROUND_QUERY', () => {
  it('reads the ages of every database and the freeze setting', () => {
    expect(WRAPAROUND_QUERY).toContain('age(datfrozenxid)::float8');
    expect(WRAPAROUND_QUERY).toContain('mxid_age(datminmxid)::float8');
    expect(WRAPAROUND_QUERY).toContain("current_setting('autovacuum_freeze_max_age')::float8");
    expect(WRAPAROUND_QUERY).toContain('FROM pg_database');
  });
});

describe('wraparoundSamples', () => {
  it('gives both ages per database and the setting once', () => {
    expect(
      wraparoundSamples([
        {
          datname: 'postgres',
          xid_age: '1234',
          mxid_age: 1,
          autovacuum_freeze_max_age: '200000000',
        },
        { datname: 'template0', xid_age: 1300, mxid_age: null, autovacuum_freeze_max_age: 2e8 },
        { datname: null, xid_age: 1, mxid_age: 1, autovacuum_freeze_max_age: 2e8 },
      ]),
    ).toEqual({
      xidAge: [
        { labels: { database: 'postgres' }, value: 1234 },
        { labels: { database: 'template0' }, value: 1300 },
      ],
      mxidAge: [{ labels: { database: 'postgres' }, value: 1 }],
      freezeMaxAge: [{ labels: {}, value: 200_000_000 }],
    });
  });

  it('gives nothing for no row or an all-NULL row', () => {
    const none = { xidAge: [], mxidAge: [], freezeMaxAge: [] };
    expect(wraparoundSamples([])).toEqual(none);
    expect(
      wraparoundSamples([
        { datname: null, xid_age: null, mxid_age: null, autovacuum_freeze_max_age: null },
      ]),
    ).toEqual(none);
  });
});
