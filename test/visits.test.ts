/**
 * The visits' choices and bookkeeping (src/visits.ts) over stand-in sessions:
 * which databases, in which order, what a failure or a vanished database
 * costs, and the series limit over databases. The collectors' SQL runs
 * against real servers in test/integration/tables.int.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { Collector } from '../src/collectors/types.js';
import { DEFAULT_COLLECTOR_OPTIONS } from '../src/collectors/types.js';
import type { Database, QueryOptions } from '../src/db.js';
import {
  DATABASE_EXISTS_QUERY,
  VISITABLE_DATABASES_QUERY,
  chooseDatabases,
  globMatcher,
  visitDatabases,
  type VisitOptions,
} from '../src/visits.js';

describe('globMatcher', () => {
  it('matches whole names with * and ?, everything else literally', () => {
    const match = globMatcher(['app_*', 'db?', 'a.b', 'x+(y)']);
    expect(['app_', 'app_1', 'db1', 'a.b', 'x+(y)'].every(match)).toBe(true);
    expect(['xapp_1', 'db12', 'db', 'aXb', 'xx+(y)', 'x+y'].some(match)).toBe(false);
  });

  it('matches nothing without patterns, and across lines never', () => {
    expect(globMatcher([])('anything')).toBe(false);
    expect(globMatcher(['a*'])('ab\ncd')).toBe(true);
    expect(globMatcher(['a'])('a\nb')).toBe(false);
  });
});

describe('chooseDatabases', () => {
  const all = ['zeta', 'postgres', 'app_2', 'app_1', 'rdsadmin', 'alpha'];

  it('puts the connected database first, then by name, without managed ones', () => {
    expect(chooseDatabases(all, 'postgres', { include: [], exclude: [], limit: 100 })).toEqual({
      chosen: ['postgres', 'alpha', 'app_1', 'app_2', 'zeta'],
      overLimit: 0,
    });
  });

  it('narrows by include, then exclude, then caps and counts what is left out', () => {
    expect(
      chooseDatabases(all, 'postgres', {
        include: ['app_*', 'zeta'],
        exclude: ['app_2'],
        limit: 1,
      }),
    ).toEqual({ chosen: ['app_1'], overLimit: 1 });
  });
});

/** A stand-in session: answers the listing and existence queries; collectors see `name`. */
function session(name: string, databases: readonly string[], existing = databases): Database {
  return {
    serverVersion: 170_000,
    startedAt: 0,
    privileges: { pg_read_all_stats: true },
    query<Row>(sql: string, options?: QueryOptions): Promise<Row[]> {
      if (sql === VISITABLE_DATABASES_QUERY) {
        return Promise.resolve(databases.map((datname) => ({ datname })) as Row[]);
      }
      if (sql === DATABASE_EXISTS_QUERY) {
        const exists = existing.includes(String(options?.params?.[0]));
        return Promise.resolve((exists ? [{ one: 1 }] : []) as Row[]);
      }
      return Promise.resolve([{ database: name }] as Row[]);
    },
    close: () => Promise.resolve(),
  };
}

const FAMILY = { name: 'test_rows', help: 'Rows.', labelNames: ['database', 'n'] } as const;

/** Writes `rows(database)` series into FAMILY; fails where `fails` says. */
function collector(rows: (database: string) => number, fails: readonly string[] = []): Collector {
  return {
    name: 'fake',
    scope: 'database',
    families: [FAMILY],
    async collect({ db, database, metrics }) {
      const [row] = await db.query<{ database: string }>('SELECT current_database()');
      expect(row?.database).toBe(database);
      if (fails.includes(database)) throw new Error(`broken in ${database}`);
      metrics.gauge(
        FAMILY,
        Array.from({ length: rows(database) }, (_, i) => ({
          labels: { database, n: String(i) },
          value: i,
        })),
      );
    },
  };
}

function options(
  overrides: Partial<VisitOptions> & { databases?: Partial<VisitOptions['databases']> },
): VisitOptions {
  const names = ['main', 'b', 'c', 'd'];
  const opened: string[] = [];
  return {
    session: session('main', names),
    connected: 'main',
    collectors: [collector(() => 2)],
    options: DEFAULT_COLLECTOR_OPTIONS,
    open: (database) => {
      opened.push(database);
      return Promise.resolve(session(database, names));
    },
    deadline: Date.now() + 10_000,
    describe: (error) => (error as Error).message,
    ...overrides,
    databases: { include: [], exclude: [], limit: 100, ...overrides.databases },
  };
}

async function samplesOf(visited: Awaited<ReturnType<typeof visitDatabases>>) {
  const registry = visited.collectors[0]?.registry;
  if (registry === undefined) return [];
  const [metric] = await registry.getMetricsAsJSON();
  return (metric?.values ?? []).map((v) => String(v.labels.database));
}

describe('visitDatabases', () => {
  it('visits the connected database on the run session and every other on its own, closed after', async () => {
    const opened: string[] = [];
    const closed: string[] = [];
    const visited = await visitDatabases(
      options({
        open: (database) => {
          opened.push(database);
          const close = () => {
            closed.push(database);
            return Promise.resolve();
          };
          return Promise.resolve({ ...session(database, []), close });
        },
      }),
    );
    expect(opened.sort()).toEqual(['b', 'c', 'd']);
    expect(closed.sort()).toEqual(['b', 'c', 'd']);
    expect(visited.collectors[0]).toMatchObject({ name: 'fake', ok: true });
    expect(await samplesOf(visited)).toEqual(['main', 'main', 'b', 'b', 'c', 'c', 'd', 'd']);
    expect(visited.report).toEqual({
      visits: ['main', 'b', 'c', 'd'].map((database) => ({ database, ok: true })),
      overLimit: 0,
    });
  });

  it('a database that refuses the connection or fails a collector costs only its own series', async () => {
    const visited = await visitDatabases(
      options({
        collectors: [collector(() => 1, ['c'])],
        open: (database) =>
          database === 'b'
            ? Promise.reject(new Error('too many connections'))
            : Promise.resolve(session(database, [])),
      }),
    );
    expect(await samplesOf(visited)).toEqual(['main', 'd']);
    expect(visited.report.visits).toEqual([
      { database: 'main', ok: true },
      { database: 'b', ok: false, error: 'too many connections' },
      { database: 'c', ok: false, error: 'fake: broken in c' },
      { database: 'd', ok: true },
    ]);
    expect(visited.collectors[0]?.ok).toBe(false);
    expect(visited.collectors[0]?.error).toBe(
      'failed in 2 of 4 databases: b: not visited: too many connections; c: broken in c',
    );
  });

  it('a database dropped since it was listed is no failure and has no series', async () => {
    const visited = await visitDatabases(
      options({
        session: session('main', ['main', 'b', 'c'], ['main', 'c']),
        open: (database) =>
          database === 'b'
            ? Promise.reject(new Error('database "b" does not exist'))
            : Promise.resolve(session(database, [])),
      }),
    );
    expect(visited.report.visits.map((v) => v.database)).toEqual(['main', 'c']);
    expect(visited.collectors[0]?.ok).toBe(true);
  });

  it('holds the series limit per database: one past it is left out alone, and says so', async () => {
    const visited = await visitDatabases(
      options({
        collectors: [collector((database) => (database === 'c' ? 7 : 4))],
        options: { ...DEFAULT_COLLECTOR_OPTIONS, maxSeries: 6 },
      }),
    );
    // 4 + 4 + 4 series in main, b and d: over 6 together, but each database within it.
    expect(await samplesOf(visited)).toEqual([
      ...Array<string>(4).fill('main'),
      ...Array<string>(4).fill('b'),
      ...Array<string>(4).fill('d'),
    ]);
    expect(visited.collectors[0]).toMatchObject({ ok: false, overLimit: true });
    expect(visited.collectors[0]?.error).toBe(
      'failed in 1 of 4 databases: c: more than 6 series (COLLECTOR_MAX_SERIES) in one database',
    );
    expect(visited.report.visits.find((v) => v.database === 'c')?.ok).toBe(false);
  });

  it('visits nothing once the deadline has passed, and says why', async () => {
    const visited = await visitDatabases(options({ deadline: Date.now() - 1 }));
    expect(visited.report.visits.every((v) => !v.ok && /time budget/.test(v.error ?? ''))).toBe(
      true,
    );
    expect(visited.collectors[0]?.registry).toBeUndefined();
  });
});
