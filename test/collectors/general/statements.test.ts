import fc from 'fast-check';
import { collectOnce } from '../../harness/collect.js';
import { describe, expect, it } from 'vitest';
import {
  QUERY_LABEL_LENGTH,
  STATEMENTS_EXTENSION_QUERY,
  execTimeColumn,
  maskQueryLiterals,
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

  it('keeps line breaks, for where a -- comment ends, and cuts in "C" collation', () => {
    const sql = statementsQuery('public', 5);
    expect(sql).toContain(
      String.raw`regexp_replace(query COLLATE "C", E'[[:space:]]*[\n\r][[:space:]]*', E'\n', 'g')`,
    );
    expect(sql).toContain(`'[[:blank:]]+', ' ', 'g')`);
    expect(sql).toContain(String.raw`E' \n'),` + `\n    ${QUERY_LABEL_LENGTH}) AS query,`);
    expect(sql).not.toContain(`'[[:space:]]+', ' '`);
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

describe('maskQueryLiterals', () => {
  const mask = maskQueryLiterals;

  it('masks the password of CREATE ROLE and ALTER USER, keeping the shape', () => {
    expect(mask(`CREATE ROLE x LOGIN PASSWORD 'hunter2'`)).toBe(`CREATE ROLE x LOGIN PASSWORD '?'`);
    const scram = `SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy`;
    const alter = mask(`ALTER USER x WITH ENCRYPTED PASSWORD '${scram}' VALID UNTIL 'infinity'`);
    expect(alter).toBe(`ALTER USER x WITH ENCRYPTED PASSWORD '?' VALID UNTIL '?'`);
    expect(alter).not.toContain('c2FsdA');
  });

  it('masks user mapping options, a subscription connection, dblink, COPY FROM PROGRAM and SET', () => {
    const cases: [string, string, string][] = [
      [
        `CREATE USER MAPPING FOR app SERVER remote OPTIONS (user 'svc', password 'p@ssw0rd')`,
        `CREATE USER MAPPING FOR app SERVER remote OPTIONS (user '?', password '?')`,
        'p@ssw0rd',
      ],
      [
        `CREATE SUBSCRIPTION s CONNECTION 'host=h dbname=d password=s3cr3t' PUBLICATION p`,
        `CREATE SUBSCRIPTION s CONNECTION '?' PUBLICATION p`,
        's3cr3t',
      ],
      [
        `SELECT dblink_connect('c', 'host=h user=u password=dbl1nk')`,
        `SELECT dblink_connect('?', '?')`,
        'dbl1nk',
      ],
      [
        `COPY t FROM PROGRAM 'curl -u admin:curlpw https://h/x.csv' WITH (FORMAT csv)`,
        `COPY t FROM PROGRAM '?' WITH (FORMAT csv)`,
        'curlpw',
      ],
      [`SET some.secret = 'tok3n'`, `SET some.secret = '?'`, 'tok3n'],
      [`ALTER SYSTEM SET app.key TO 'k3y'`, `ALTER SYSTEM SET app.key TO '?'`, 'k3y'],
    ];
    for (const [sql, masked, secret] of cases) {
      expect(mask(sql)).toBe(masked);
      expect(normalizeQuery(sql)).not.toContain(secret);
    }
  });

  it('keeps normalized DML and its $1 parameters as they are', () => {
    for (const sql of [
      'SELECT a, b FROM t WHERE id = $1 AND c IN ($2, $10) LIMIT $3',
      'INSERT INTO "Orders" (id, note) VALUES ($1, $2) RETURNING id',
      'UPDATE t SET a = $1::text WHERE b = ANY($2)',
      'DELETE FROM t WHERE x$y = $1',
      'MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET v = $1',
    ]) {
      expect(mask(sql)).toBe(sql);
    }
  });

  it('masks dollar quotes, with or without a tag, and keeps a $1 next to one', () => {
    expect(mask(`SELECT $1::text, $tag$ a'b $tag$`)).toBe(`SELECT $1::text, '?'`);
    expect(mask(`DO $$ BEGIN PERFORM set_config('a', 'secret', false); END $$`)).toBe(`DO '?'`);
    expect(mask(`SELECT $a$ $b$ x $b$ y $ab$ z $a$, 1`)).toBe(`SELECT '?', 1`);
    expect(mask(`SELECT $_1$x$_1$, $é$y$é$`)).toBe(`SELECT '?', '?'`);
    // $1$ is a parameter and a lone $, not a tag (a tag cannot start with a digit).
    expect(mask('SELECT $1$')).toBe('SELECT $1$');
  });

  it('opens no dollar quote at a $ inside an identifier', () => {
    expect(mask(`SELECT a$$b, $$secret$$ FROM t$1`)).toBe(`SELECT a$$b, '?' FROM t$1`);
    expect(mask(`SELECT x$$, $$secret$$`)).toBe(`SELECT x$$, '?'`);
    // After a number it does, as in the lexer.
    expect(mask(`SELECT 1$$secret$$`)).toBe(`SELECT 1'?'`);
  });

  it("masks E'...' with backslash escapes", () => {
    expect(mask(String.raw`SELECT E'it\'s a secret', E'\\', 'b'`)).toBe(`SELECT '?', '?', '?'`);
    expect(mask(String.raw`SELECT e'a\\\'b''c' AS x`)).toBe(`SELECT '?' AS x`);
  });

  it("masks U&'...', B'...', X'...' and the string of N'...'", () => {
    expect(mask(String.raw`SELECT U&'d\0061t!+000061' UESCAPE '!'`)).toBe(`SELECT '?' UESCAPE '?'`);
    expect(mask(`SELECT B'1010', x'1F', N'n4tional'`)).toBe(`SELECT '?', '?', N'?'`);
  });

  it('takes a doubled quote as part of the literal', () => {
    expect(mask(`SELECT 'it''s a '' secret', 'b'`)).toBe(`SELECT '?', '?'`);
    expect(mask(`SELECT ''''`)).toBe(`SELECT '?'`);
    expect(mask(`SELECT ''`)).toBe(`SELECT '?'`);
  });

  it('masks to the end a literal, dollar quote or comment the text ends inside', () => {
    expect(mask(`CREATE ROLE x PASSWORD 'hunter2-cut-her`)).toBe(`CREATE ROLE x PASSWORD '?'`);
    expect(mask(`CREATE ROLE x PASSWORD 'it''s`)).toBe(`CREATE ROLE x PASSWORD '?'`);
    expect(mask(String.raw`SELECT E'secret\'`)).toBe(`SELECT '?'`);
    expect(mask("SELECT E'secret\\")).toBe(`SELECT '?'`);
    expect(mask(`DO $body$ secret $bod`)).toBe(`DO '?'`);
    expect(mask(`DO $$ secret $`)).toBe(`DO '?'`);
    expect(mask(`SELECT 1 /* secret /* */`)).toBe(`SELECT 1  `);
    expect(mask(`SELECT 1 -- secret`)).toBe(`SELECT 1  `);
    // At the cut of the SQL side, the label still has the shape.
    const cut = `CREATE ROLE x PASSWORD '${'s'.repeat(300)}`.slice(0, QUERY_LABEL_LENGTH);
    expect(normalizeQuery(cut)).toBe(`CREATE ROLE x PASSWORD '?'`);
  });

  it('opens nothing at a quote inside a "quoted identifier", and keeps the identifier', () => {
    expect(mask(`SELECT "it's", "a""b'" FROM "x'y" WHERE c = 'secret'`)).toBe(
      `SELECT "it's", "a""b'" FROM "x'y" WHERE c = '?'`,
    );
    expect(mask(`SELECT U&"d'x", "$$" WHERE c = 'secret'`)).toBe(
      `SELECT U&"d'x", "$$" WHERE c = '?'`,
    );
    // Unterminated at the cut: an identifier still, kept.
    expect(mask(`SELECT "ab'c`)).toBe(`SELECT "ab'c`);
  });

  it('removes comments, nested ones too; a quote in one opens nothing', () => {
    const sql = `SELECT 1 /* it's /* nested ' */ still */, 'secret' -- don't 'leak'\nFROM t -- x'`;
    expect(mask(sql)).toBe(`SELECT 1  , '?'  \nFROM t  `);
    expect(normalizeQuery(sql)).toBe(`SELECT 1 , '?' FROM t`);
    expect(mask(`/* app=web,token=abc */ SELECT $1`)).toBe('  SELECT $1');
    // An operator ends where a comment starts.
    expect(mask(`SELECT 2*/*'*/3, 4--'\n, 'x'`)).toBe(`SELECT 2* 3, 4 \n, '?'`);
    // A -- in a literal, a quote after -- and a block comment in a -- comment.
    expect(mask(`SELECT '--x', 1 -- /* '\n, 'y'`)).toBe(`SELECT '?', 1  \n, '?'`);
  });

  it('ends a -- comment at a line break, which the SQL side keeps', () => {
    const sql = `-- it's a migration\r\nCREATE ROLE x PASSWORD 'p4ss'`;
    expect(normalizeQuery(sql)).toBe(`CREATE ROLE x PASSWORD '?'`);
    // Collapsed to one line a -- comment takes the rest: masked all the same.
    expect(normalizeQuery(`SELECT 1 -- it's CREATE ROLE x PASSWORD 'p4ss'`)).toBe('SELECT 1');
  });

  it('masks a literal whether standard_conforming_strings was on or off', () => {
    // On: 'a\' is a literal and the rest opens another; off: one literal to the last quote.
    const a = mask(String.raw`SELECT 'a\' , secret1 ', 2`);
    expect(a).not.toContain('secret1');
    expect(a.startsWith(`SELECT '?'`)).toBe(true);
    // On: 'C:\' then 'secret2'; off: 'C:\', ' then secret2 outside, then a quote.
    const b = mask(String.raw`SELECT 'C:\', 'secret2', 3`);
    expect(b).not.toContain('secret2');
    expect(b.startsWith(`SELECT '?'`)).toBe(true);
    // A backslash in B'...' or a dollar quote escapes nothing, either way.
    expect(mask(String.raw`SELECT $$\$$, 'x'`)).toBe(`SELECT '?', '?'`);
    expect(mask(String.raw`SELECT B'\', X'\', 'x'`)).toBe(`SELECT '?', '?', '?'`);
  });

  it('completes quickly on 200 KB of hostile text', () => {
    const size = 200_000;
    const fill = (unit: string) => unit.repeat(Math.ceil(size / unit.length)).slice(0, size);
    const longTag = `$${'t'.repeat(1000)}$`;
    const inputs = [
      fill(`'`),
      fill(`\\`),
      fill('$'),
      fill('$$'),
      fill('$a'),
      fill(`E'\\`),
      fill(`'\\'`),
      fill(`"'`),
      fill('/*'),
      fill('*/'),
      fill('--'),
      fill(`$a$'`),
      longTag + fill(`$${'t'.repeat(999)}`),
      fill(`$1$$a$'"/*--\\\n`),
    ];
    for (const input of inputs) {
      const started = performance.now();
      const masked = maskQueryLiterals(input);
      const label = normalizeQuery(input);
      const elapsed = performance.now() - started;
      // Linear work takes a few ms; a quadratic pass over 200 KB, tens of seconds. The bound
      // leaves room for a loaded 2-core machine (860 ms was seen beside other suites).
      expect(elapsed, JSON.stringify(input.slice(0, 20))).toBeLessThan(3_000);
      expect(masked.length).toBeLessThanOrEqual(input.length + 3);
      expect(Array.from(label).length).toBeLessThanOrEqual(QUERY_LABEL_LENGTH);
    }
  });

  // Statements around one string constant, the constant given as written in SQL.
  const templates: ((literal: string) => string)[] = [
    (l) => `CREATE ROLE x LOGIN PASSWORD ${l} VALID UNTIL infinity`,
    (l) => `ALTER USER x WITH ENCRYPTED PASSWORD ${l}`,
    (l) => `CREATE USER MAPPING FOR u SERVER s OPTIONS (user ${l}, password ${l})`,
    (l) => `CREATE SUBSCRIPTION s CONNECTION ${l} PUBLICATION p`,
    (l) => `SELECT dblink_connect(${l})`,
    (l) => `COPY t FROM PROGRAM ${l} WITH (FORMAT csv)`,
    (l) => `SET some.secret = ${l}`,
    (l) => `SELECT $1, "it's", ${l} /* c */ FROM t WHERE a = $2`,
  ];
  const template = fc.constantFrom(...templates);
  const hostileChar = fc.oneof(
    fc.constantFrom(`'`, `\\`, '$', '"', '-', '/', '*', '\n', '\r', ' ', 'E', 't', '?'),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
  );
  const anyText = fc.string({ unit: hostileChar, maxLength: 40 });
  /** A dollar-quote tag the body does not close early. */
  function tagFor(body: string): string {
    for (let k = 0; ; k += 1) {
      const tag = `$t${k}$`;
      if ((body + tag).indexOf(tag) === body.length) return tag;
    }
  }
  const standard = (s: string) => `'${s.replaceAll(`'`, `''`)}'`;
  const escaped = (s: string) => `E'${s.replace(/[\\']/g, (m) => `\\${m}`)}'`;
  const dollar = (s: string) => `${tagFor(s)}${s}${tagFor(s)}`;

  it('never lets a secret from a password charset out, whatever the kind of literal', () => {
    const secret = fc.stringMatching(/^[a-zA-Z0-9!@#%^&*]{8,30}$/);
    const kind = fc.constantFrom(standard, escaped, dollar, (s: string) => `U&${standard(s)}`);
    fc.assert(
      fc.property(secret, template, kind, (s, t, k) => {
        const sql = t(k(s));
        expect(maskQueryLiterals(sql)).not.toContain(s);
        expect(normalizeQuery(sql)).not.toContain(s);
      }),
      { numRuns: 500 },
    );
  });

  it('replaces exactly the literal by its placeholder, for any text in it', () => {
    fc.assert(
      fc.property(anyText, template, (s, t) => {
        // The template's own comment is removed too.
        const expected = maskQueryLiterals(t(`'?'`));
        // E'...' and dollar quotes read the same either way of standard_conforming_strings;
        // '...' too when the text has no backslash.
        expect(maskQueryLiterals(t(escaped(s)))).toBe(expected);
        expect(maskQueryLiterals(t(dollar(s)))).toBe(expected);
        if (!s.includes('\\')) expect(maskQueryLiterals(t(standard(s)))).toBe(expected);
      }),
      { numRuns: 1000 },
    );
  });

  it("lets no text of a '...' out, backslashes in it and all", () => {
    fc.assert(
      fc.property(anyText, template, (s, t) => {
        const masked = maskQueryLiterals(t(standard(s)));
        // The literal's text could only be found as part of the statement's own text.
        fc.pre(s.length >= 4 && !s.includes('?') && !s.startsWith(`'`) && !t(`'?'`).includes(s));
        expect(masked).not.toContain(s);
        expect(masked.startsWith(t(`'?'`).slice(0, t(`'?'`).indexOf(`'?'`) + 3))).toBe(true);
      }),
      { numRuns: 1000 },
    );
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

  it('labels a statement with its text masked', () => {
    const samples = statementsSamples([
      {
        queryid: '9',
        datname: 'app',
        rolname: 'admin',
        query: "CREATE ROLE x\n  LOGIN PASSWORD 'hunter2' /* by ops */",
        calls: 1,
        exec_time_seconds: 0.001,
        rows: 0,
      },
    ]);
    for (const list of [samples.calls, samples.execTime, samples.rows]) {
      expect(list.map((s) => s.labels.query)).toEqual([`CREATE ROLE x LOGIN PASSWORD '?'`]);
    }
    expect(JSON.stringify(samples)).not.toContain('hunter2');
    expect(JSON.stringify(samples)).not.toContain('ops');
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

  it('pushes no text of a string constant in the query label', async () => {
    const { metrics } = await run(
      [{ nspname: 'public', extversion: '1.11' }],
      [
        {
          queryid: '8',
          datname: 'app',
          rolname: 'admin',
          query: `ALTER USER x WITH ENCRYPTED PASSWORD 'SCRAM-SHA-256$4096:c2FsdA==$c3Rvcg==:c2Vy'`,
          calls: 1,
          exec_time_seconds: 0.001,
          rows: 0,
        },
      ],
    );
    expect(metrics).toContain(
      `postgresql_statement_calls_total{queryid="8",database="app",user="admin",query="ALTER USER x WITH ENCRYPTED PASSWORD '?'"} 1`,
    );
    expect(metrics).not.toContain('c2FsdA');
    expect(metrics).not.toContain('SCRAM');
  });

  it('is off by default, with a reason', () => {
    const entry = COLLECTOR_TABLE.find((e) => e.collector === statements);
    expect(entry?.enabled).toBe(false);
    expect(entry?.off).toMatch(/pg_stat_statements/);
  });
});
