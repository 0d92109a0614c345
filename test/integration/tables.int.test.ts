/**
 * The per-database collectors (tables, indexes) through the real run, against
 * the project's PostgreSQL as the pg_monitor-only role and the real
 * Pushgateway: databases made for this file only (DATABASES_INCLUDE picks
 * them), state arranged as superuser, and the pushed samples must match what
 * PostgreSQL itself says.
 */
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logger.js';
import { collect } from '../../src/run.js';
import { pushgatewayMetrics, runEnv, servers, superuser } from '../harness/context.js';
import { parseExposition, select, type ParsedExposition } from '../harness/exposition.js';
import { eventually } from '../harness/ports.js';

const tag = randomBytes(3).toString('hex');
/**
 * Two databases with tables, one the role may not connect to, one that turns
 * the role away. Only this file's role may connect to the last, so runs of
 * other test files (same server, in parallel) never see it fail.
 */
const A = `tbl_a_${tag}`;
const B = `tbl_b_${tag}`;
const NO_CONNECT = `tbl_c_${tag}`;
const FULL = `tbl_d_${tag}`;
const INCLUDE = `tbl_?_${tag}`;
/** A hostile table name: quotes, a backslash and a newline must survive as a label value. */
const ODD = 'odd "name" \\ with\nnewline';

const ROLE = `tbl_mon_${tag}`;
const ROLE_PASSWORD = randomBytes(12).toString('base64url');
const asRole = { POSTGRESQL_USERNAME: ROLE, POSTGRESQL_PASSWORD: ROLE_PASSWORD };

const major = servers().postgres.major;
const quiet = { log: silentLogger() };
let admin: pg.Client;
let inA: pg.Client;

async function pushed(job: string): Promise<ParsedExposition> {
  const all = parseExposition(await pushgatewayMetrics());
  return { ...all, samples: all.samples.filter((s) => s.labels.job === job) };
}

function value(
  metrics: ParsedExposition,
  name: string,
  labels: Record<string, string>,
): number | undefined {
  const found = select(metrics, name, labels);
  expect(found.length).toBeLessThanOrEqual(1);
  return found[0]?.value;
}

beforeAll(async () => {
  admin = await superuser();
  for (const db of [A, B, NO_CONNECT, FULL]) await admin.query(`CREATE DATABASE ${db}`);
  await admin.query(`CREATE ROLE ${ROLE} LOGIN PASSWORD '${ROLE_PASSWORD}' IN ROLE pg_monitor`);
  await admin.query(`REVOKE CONNECT ON DATABASE ${NO_CONNECT} FROM PUBLIC`);
  // The role may connect, but the server turns it away: a visit that fails.
  await admin.query(`REVOKE CONNECT ON DATABASE ${FULL} FROM PUBLIC`);
  await admin.query(`GRANT CONNECT ON DATABASE ${FULL} TO ${ROLE}`);
  await admin.query(`ALTER DATABASE ${FULL} CONNECTION LIMIT 0`);
  inA = await superuser(A);
  await inA.query(`CREATE SCHEMA s1`);
  await inA.query(
    `CREATE TABLE s1.big (id int PRIMARY KEY, pad text) WITH (autovacuum_enabled = false)`,
  );
  await inA.query(`INSERT INTO s1.big SELECT g, repeat('x', 200) FROM generate_series(1, 1000) g`);
  await inA.query(`DELETE FROM s1.big WHERE id <= 300`);
  await inA.query(`SELECT count(*) FROM s1.big`);
  await inA.query(`SET enable_seqscan = off`);
  await inA.query(`SELECT pad FROM s1.big WHERE id = 500`);
  await inA.query(`CREATE TABLE small (id int) WITH (autovacuum_enabled = false)`);
  await inA.query(`INSERT INTO small VALUES (1), (2)`);
  await inA.query(`VACUUM small`);
  const inB = await superuser(B);
  await inB.query(`CREATE TABLE "${ODD.replaceAll('"', '""')}" (id int)`);
  await inB.query(`INSERT INTO "${ODD.replaceAll('"', '""')}" VALUES (1)`);
  await inB.end();
  // Statistics reach the shared counters when a backend goes idle (15+) or within 500 ms (13, 14).
  await eventually(async () => {
    const { rows } = await inA.query<{ n: string }>(
      `SELECT n_dead_tup::text AS n FROM pg_stat_user_tables WHERE relname = 'big'`,
    );
    expect(rows[0]?.n).toBe('300');
  }, 15_000);
});

afterAll(async () => {
  await inA.end();
  for (const db of [A, B, NO_CONNECT, FULL]) {
    await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`).catch(() => undefined);
  }
  await admin.query(`DROP ROLE IF EXISTS ${ROLE}`).catch(() => undefined);
  await admin.end();
});

describe(`tables and indexes on PostgreSQL ${major}`, () => {
  it('reports every table of every visitable database, with the values PostgreSQL shows', async () => {
    const env = runEnv({ ...asRole, DATABASES_INCLUDE: INCLUDE });
    const summary = await collect(env, quiet);
    const metrics = await pushed(env.PUSHGATEWAY_JOB!);
    const big = { database: A, schema: 's1', table: 'big' };

    expect(value(metrics, 'postgresql_table_dead_tuples', big)).toBe(300);
    expect(value(metrics, 'postgresql_table_rows_inserted_total', big)).toBe(1000);
    expect(value(metrics, 'postgresql_table_rows_deleted_total', big)).toBe(300);
    expect(value(metrics, 'postgresql_table_seq_scans_total', big)).toBeGreaterThanOrEqual(1);
    expect(value(metrics, 'postgresql_table_index_scans_total', big)).toBeGreaterThanOrEqual(1);
    const { rows } = await inA.query<{ total: string; pkey: string }>(
      `SELECT pg_total_relation_size('s1.big')::text AS total,
         pg_relation_size('s1.big_pkey')::text AS pkey`,
    );
    expect(value(metrics, 'postgresql_table_size_bytes', big)).toBe(Number(rows[0]!.total));
    expect(value(metrics, 'postgresql_index_size_bytes', { ...big, index: 'big_pkey' })).toBe(
      Number(rows[0]!.pkey),
    );
    expect(
      value(metrics, 'postgresql_index_scans_total', { ...big, index: 'big_pkey' }),
    ).toBeGreaterThanOrEqual(1);

    // Never vacuumed: no sample, not 0. The vacuumed one: a time in the last 10 minutes.
    expect(value(metrics, 'postgresql_table_last_vacuum_timestamp_seconds', big)).toBeUndefined();
    const small = { database: A, schema: 'public', table: 'small' };
    const vacuumed = value(metrics, 'postgresql_table_last_vacuum_timestamp_seconds', small)!;
    expect(Math.abs(Date.now() / 1000 - vacuumed)).toBeLessThan(600);
    expect(value(metrics, 'postgresql_table_vacuums_total', small)).toBe(1);
    // Per major: 16 added last_seq_scan, 18 the vacuum times.
    expect(
      value(metrics, 'postgresql_table_last_seq_scan_timestamp_seconds', big) !== undefined,
    ).toBe(major >= 16);
    expect(value(metrics, 'postgresql_table_vacuum_seconds_total', small) !== undefined).toBe(
      major >= 18,
    );

    // A hostile name arrives as it is.
    expect(
      value(metrics, 'postgresql_table_live_tuples', { database: B, table: ODD }),
    ).toBeDefined();

    // Visited: A and B; failed: the full one; never listed: the one without CONNECT.
    const visits = select(metrics, 'postgresql_exporter_database_visit_success');
    expect(Object.fromEntries(visits.map((s) => [s.labels.database, s.value]))).toEqual({
      [A]: 1,
      [B]: 1,
      [FULL]: 0,
    });
    expect(summary.databases).toMatchObject({ visited: 3, overLimit: 0 });
    expect(summary.databases!.failed.map((f) => f.database)).toEqual([FULL]);
    expect(summary.databases!.failed[0]!.error).toMatch(/connections/);
    // The failed database costs its own series only, and is said.
    const tables = summary.collectors.find((c) => c.name === 'tables')!;
    expect(tables.ok).toBe(false);
    expect(tables.error).toContain(FULL);
    expect(
      select(metrics, 'postgresql_exporter_collector_success', { collector: 'tables' })[0]?.value,
    ).toBe(0);
    expect(
      select(metrics, 'postgresql_table_size_bytes').every((s) => s.labels.database !== FULL),
    ).toBe(true);
    expect(select(metrics, 'postgresql_up')[0]?.value).toBe(1);
  });

  it('keeps the largest TABLES_LIMIT tables and visits at most DATABASES_LIMIT databases', async () => {
    const env = runEnv({
      DATABASES_INCLUDE: INCLUDE,
      DATABASES_EXCLUDE: FULL,
      DATABASES_LIMIT: '1',
      TABLES_LIMIT: '1',
      INDEXES_LIMIT: '1',
    });
    const summary = await collect(env, quiet);
    const metrics = await pushed(env.PUSHGATEWAY_JOB!);
    // A comes first by name; of its tables the largest.
    expect(
      select(metrics, 'postgresql_table_size_bytes').map(
        (s) => `${s.labels.database}.${s.labels.table}`,
      ),
    ).toEqual([`${A}.big`]);
    expect(select(metrics, 'postgresql_index_size_bytes').map((s) => s.labels.index)).toEqual([
      'big_pkey',
    ]);
    expect(
      select(metrics, 'postgresql_exporter_databases_not_visited', { reason: 'limit' })[0]?.value,
    ).toBe(1);
    expect(summary.databases).toEqual({ visited: 1, overLimit: 1, failed: [] });
    expect(summary.collectorErrors).toBe(0);
  });

  it('leaves out only the size of a table behind an ACCESS EXCLUSIVE lock, without waiting', async () => {
    const locker = await superuser(A);
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE small IN ACCESS EXCLUSIVE MODE');
      const env = runEnv({ DATABASES_INCLUDE: A, POSTGRESQL_STATEMENT_TIMEOUT_MS: '20000' });
      const started = Date.now();
      const summary = await collect(env, quiet);
      // Waiting for the lock would take the statement timeout (20 s).
      expect(Date.now() - started).toBeLessThan(15_000);
      const metrics = await pushed(env.PUSHGATEWAY_JOB!);
      const small = { database: A, schema: 'public', table: 'small' };
      expect(value(metrics, 'postgresql_table_size_bytes', small)).toBeUndefined();
      expect(value(metrics, 'postgresql_table_live_tuples', small)).toBeDefined();
      expect(
        value(metrics, 'postgresql_table_size_bytes', { database: A, table: 'big' }),
      ).toBeGreaterThan(0);
      expect(summary.collectorErrors).toBe(0);
    } finally {
      await locker.end();
    }
  });

  it('between refreshes pushes the cached tables, indexes and visits again, visiting nothing', async () => {
    const env = runEnv({ DATABASES_INCLUDE: INCLUDE });
    const first = await collect(env, quiet);
    const before = await pushed(env.PUSHGATEWAY_JOB!);
    await inA.query(`CREATE TABLE later (id int)`);
    const second = await collect(env, quiet);
    const after = await pushed(env.PUSHGATEWAY_JOB!);
    expect(first.databases?.visited).toBe(2);
    // No visit: the summary has no databases, and the new table is not seen until the refresh.
    expect(second.databases).toBeUndefined();
    expect(second.collectors.filter((c) => c.cached).map((c) => c.name)).toEqual(
      expect.arrayContaining(['tables', 'indexes']),
    );
    const families = /^postgresql_(table|index)_|^postgresql_exporter_database/;
    const pick = (m: ParsedExposition) =>
      m.samples.filter((s) => families.test(s.name)).map((s) => [s.name, s.labels, s.value]);
    expect(pick(after)).toEqual(pick(before));
    expect(select(after, 'postgresql_table_size_bytes', { table: 'later' })).toEqual([]);
    const age = select(after, 'postgresql_exporter_collector_age_seconds', { collector: 'tables' });
    expect(age[0]?.value).toBeGreaterThan(0);
    await inA.query(`DROP TABLE later`);
  });

  it('switched off, visits nothing and pushes no per-database series', async () => {
    const env = runEnv({ DATABASES_INCLUDE: INCLUDE, COLLECTORS_DISABLE: 'tables,indexes' });
    const summary = await collect(env, quiet);
    const metrics = await pushed(env.PUSHGATEWAY_JOB!);
    expect(summary.databases).toBeUndefined();
    expect(metrics.samples.filter((s) => /^postgresql_(table|index)_/.test(s.name))).toEqual([]);
    expect(select(metrics, 'postgresql_exporter_database_visit_success')).toEqual([]);
  });
});
