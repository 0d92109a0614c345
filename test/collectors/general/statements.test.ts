import { collectOnce } from '../../harness/collect.js';
import { describe, expect, it } from 'vitest';
import {
  QUERY_LABEL_LENGTH,
  STATEMENTS_EXTENSION_QUERY,
  execTimeColumn,
  normalizeQuery,
  quoteIdentifier,
  statements,
  statementsQuery,
  statementsSamples,
} from '../../../src/collectors/general/statements.js';
import { COLLECTOR_TABLE } from '../../../src/collectors/index.js';
import type { Queryable } from '../../../src/db.js';

describe('quoteIdentifier', () => {
  it('double-quotes and doubles embedded double quotes', () => {
    expect(quoteIdentifier('public')).toBe('"public"');
    expect(quoteIdentifier('we"ird; DROP')).toBe('"we""ird; DROP"');
  });
});

describe('execTimeColumn', () => {
  it('is total_exec_time from extension 1.8 on, total_time before', () => {
    expect(execTimeColumn('1.8')).toBe('total_exec_time');
    expect(execTimeColumn('1.10')).toBe('total_exec_time');
    expect(execTimeColumn('1.11')).toBe('total_exec_time');
    expect(execTimeColumn('2.0')).toBe('total_exec_time');
    expect(execTimeColumn('1.7')).toBe('total_time');
    expect(execTimeColumn(null)).toBe('total_exec_time');
  });
});

describe('statementsQuery', () => {
  it('reads the schema-qualified view, sums per statement and limits by total time', () => {
    const sql = statementsQuery('my"ext', 5, '1.11');
    expect(sql).toContain('FROM "my""ext".pg_stat_statements');
    expect(sql).toContain('GROUP BY queryid, dbid, userid');
    expect(sql).toContain('sum(calls)::float8');
    expect(sql).toContain('(sum(total_exec_time) / 1000)::float8 AS exec_time_seconds');
    expect(sql).toContain('sum(rows)::float8');
    expect(sql).toContain('ORDER BY s.exec_time_seconds DESC');
    expect(sql).toMatch(/LIMIT 5\n/);
    expect(sql).toContain('JOIN pg_database d');
    expect(sql).toContain('JOIN pg_roles r');
    expect(statementsQuery('public', 100, '1.7')).toContain('sum(total_time)');
  });

  it('takes only an integer limit of 1..100', () => {
    expect(statementsQuery('public', 1)).toMatch(/LIMIT 1\n/);
    for (const bad of [0, 101, 2.5, Number.NaN, -1]) {
      expect(() => statementsQuery('public', bad)).toThrow(RangeError);
    }
  });
});

describe('normalizeQuery', () => {
  it('collapses whitespace and cuts to 200 characters', () => {
    expect(normalizeQuery('  SELECT\n\t$1,\r\n  $2  ')).toBe('SELECT $1, $2');
    const long = normalizeQuery(`SELECT ${'x, '.repeat(200)}`);
    expect(Array.from(long)).toHaveLength(QUERY_LABEL_LENGTH);
    // Cut by characters, never inside a surrogate pair.
    expect(normalizeQuery('😀'.repeat(300))).toBe('😀'.repeat(QUERY_LABEL_LENGTH));
  });
});

describe('statementsSamples', () => {
  const labels = { queryid: '-42', database: 'app', user: 'api', query: 'SELECT $1' };

  it('gives the three counters per statement', () => {
    expect(
      statementsSamples([
        {
          queryid: '-42',
          datname: 'app',
          rolname: 'api',
          query: 'SELECT\n   $1',
          calls: '10',
          exec_time_seconds: 0.5,
          rows: 10,
        },
      ]),
    ).toEqual({
      calls: [{ labels, value: 10 }],
      execTime: [{ labels, value: 0.5 }],
      rows: [{ labels, value: 10 }],
    });
  });

  it('gives nothing for no row or an all-NULL row', () => {
    const none = { calls: [], execTime: [], rows: [] };
    expect(statementsSamples([])).toEqual(none);
    expect(
      statementsSamples([
        {
          queryid: null,
          datname: null,
          rolname: null,
          query: null,
          calls: null,
          exec_time_seconds: null,
          rows: null,
        },
      ]),
    ).toEqual(none);
  });
});

describe('statements', () => {
  async function run(extension: unknown[], statementRows: unknown[] = []) {
    const queries: string[] = [];
    const db: Queryable = {
      query<Row>(sql: string) {
        queries.push(sql);
        return Promise.resolve(
          (sql === STATEMENTS_EXTENSION_QUERY ? extension : statementRows) as Row[],
        );
      },
    };
    const registry = await collectOnce(statements, {
      db,
      serverVersion: 170_000,
      options: { statementsLimit: 7 },
    });
    return {
      queries,
      metrics: await registry.metrics(),
      names: (await registry.getMetricsAsJSON()).map((m) => m.name),
    };
  }

  it('pushes only available 0 without the extension', async () => {
    const { queries, metrics, names } = await run([]);
    expect(queries).toEqual([STATEMENTS_EXTENSION_QUERY]);
    expect(metrics).toContain('postgresql_statements_available 0');
    expect(names).toEqual(['postgresql_statements_available']);
  });

  it('reads the view in the extension schema with the configured limit', async () => {
    const { queries, metrics } = await run(
      [{ nspname: 'ext', extversion: '1.10' }],
      [
        {
          queryid: '7',
          datname: 'postgres',
          rolname: 'postgres',
          query: 'SELECT $1',
          calls: 3,
          exec_time_seconds: 0.002,
          rows: 3,
        },
      ],
    );
    expect(queries[1]).toContain('FROM "ext".pg_stat_statements');
    expect(queries[1]).toMatch(/LIMIT 7\n/);
    expect(metrics).toContain('postgresql_statements_available 1');
    expect(metrics).toContain(
      'postgresql_statement_calls_total{queryid="7",database="postgres",user="postgres",query="SELECT $1"} 3',
    );
  });

  it('is off by default, with a reason', () => {
    const entry = COLLECTOR_TABLE.find((e) => e.collector === statements);
    expect(entry?.enabled).toBe(false);
    expect(entry?.off).toMatch(/pg_stat_statements/);
  });
});
