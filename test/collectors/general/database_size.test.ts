import { describe, expect, it } from 'vitest';
import {
  DATABASE_LIST_QUERY,
  DATABASE_SIZE_QUERY,
  ONE_DATABASE_SIZE_QUERY,
  SOME_DATABASE_SIZES_QUERY,
  databaseSizeSamples,
  databaseSizes,
  databaseSizesOn,
} from '../../../src/collectors/general/database_size.js';
import type { QueryOptions } from '../../../src/db.js';

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

describe('databaseSizes: a database dropped during the run', () => {
  const dropped = Object.assign(new Error('database with OID 99 does not exist'), {
    code: '3D000',
  });

  it('tries the batch again when a database vanished under it', async () => {
    let calls = 0;
    const db = {
      query: <Row>() => {
        calls += 1;
        if (calls === 1) return Promise.reject(dropped);
        return Promise.resolve([{ datname: 'a', size_bytes: 1 }] as Row[]);
      },
    };
    expect(await databaseSizes(db)).toEqual([{ datname: 'a', size_bytes: 1 }]);
    expect(calls).toBe(2);
  });

  it('sizes each database alone when they keep vanishing; only the dropped one is missing', async () => {
    const db = {
      query: <Row>(sql: string, options?: QueryOptions) => {
        if (sql === DATABASE_SIZE_QUERY) return Promise.reject(dropped);
        if (sql === DATABASE_LIST_QUERY) {
          return Promise.resolve([
            { oid: '1', datname: 'a' },
            { oid: '99', datname: 'gone' },
            { oid: '2', datname: 'b' },
          ] as Row[]);
        }
        expect(sql).toBe(ONE_DATABASE_SIZE_QUERY);
        const oid = options?.params?.[0];
        if (oid === '99') return Promise.reject(dropped);
        return Promise.resolve([{ size_bytes: Number(oid) * 10 }] as Row[]);
      },
    };
    expect(await databaseSizes(db)).toEqual([
      { datname: 'a', size_bytes: 10 },
      { datname: 'b', size_bytes: 20 },
    ]);
  });

  it('any other error still fails the collector', async () => {
    const db = {
      query: () => Promise.reject(Object.assign(new Error('permission denied'), { code: '42501' })),
    };
    await expect(databaseSizes(db)).rejects.toThrow('permission denied');
  });
});

describe('databaseSizesOn: the databases shared out over several sessions', () => {
  const listed = ['a', 'b', 'c', 'd', 'e'].map((datname, i) => ({ oid: String(100 + i), datname }));
  /** A session that lists the databases and sizes those it is asked for, recording which. */
  function session(asked: string[][], vanishOnce = false) {
    let vanished = false;
    return {
      query<Row>(sql: string, options?: QueryOptions): Promise<Row[]> {
        if (sql === DATABASE_LIST_QUERY) return Promise.resolve(listed as Row[]);
        expect(sql).toBe(SOME_DATABASE_SIZES_QUERY);
        const oids = options?.params?.[0] as string[];
        asked.push(oids);
        if (vanishOnce && !vanished) {
          vanished = true;
          return Promise.reject(
            Object.assign(new Error('database with OID 101 does not exist'), { code: '3D000' }),
          );
        }
        const rows = listed
          .filter((d) => oids.includes(d.oid))
          .reverse()
          .map((d) => ({ datname: d.datname, size_bytes: Number(d.oid) }));
        return Promise.resolve(rows as Row[]);
      },
    };
  }

  it('gives each session a share, every database once, in pg_database order', async () => {
    const first: string[][] = [];
    const second: string[][] = [];
    const rows = await databaseSizesOn([session(first), session(second)]);
    expect(first).toEqual([['100', '102', '104']]);
    expect(second).toEqual([['101', '103']]);
    expect(rows.map((r) => r.datname)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(rows.map((r) => r.size_bytes)).toEqual([100, 101, 102, 103, 104]);
  });

  it('tries a share again when a database vanished under it', async () => {
    const second: string[][] = [];
    const rows = await databaseSizesOn([session([]), session(second, true)]);
    expect(second).toEqual([
      ['101', '103'],
      ['101', '103'],
    ]);
    expect(rows).toHaveLength(5);
  });
});
