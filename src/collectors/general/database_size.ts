import type { Queryable } from '../../db.js';
import { errorCode } from '../../errors.js';
import type { Collector } from '../types.js';
import { toNumber, type Sample } from '../metric.js';

export const DATABASE_SIZE_METRIC = {
  name: 'postgresql_database_size_bytes',
  help: 'Disk space used by each database, in bytes (pg_database_size).',
  labelNames: ['database'],
} as const;

/** Every database, template0 too: pg_read_all_stats (in pg_monitor) may size those it cannot connect to. */
export const DATABASE_SIZE_QUERY = `
SELECT datname, pg_database_size(oid)::float8 AS size_bytes
FROM pg_database`;

export interface DatabaseSizeRow {
  readonly datname: string | null;
  readonly size_bytes: number | string | null;
}

/** One sample per database; a NULL size (a database dropped meanwhile) gives none. */
export function databaseSizeSamples(rows: readonly DatabaseSizeRow[]): Sample<'database'>[] {
  const samples: Sample<'database'>[] = [];
  for (const row of rows) {
    const value = toNumber(row.size_bytes);
    if (row.datname === null || value === undefined) continue;
    samples.push({ labels: { database: row.datname }, value });
  }
  return samples;
}

/** The databases, to size one by one. */
export const DATABASE_LIST_QUERY = `
SELECT oid::text AS oid, datname FROM pg_database`;

export const ONE_DATABASE_SIZE_QUERY = `
SELECT pg_database_size($1::oid)::float8 AS size_bytes`;

/**
 * "database with OID … does not exist": dropped after pg_database was read.
 * SQLSTATE 3D000 up to PostgreSQL 17, 42704 (undefined object) from 18 on.
 */
function vanished(error: unknown): boolean {
  const code = errorCode(error);
  return (
    (code === '3D000' || code === '42704') &&
    /^database with OID \d+ does not exist/.test((error as Error).message)
  );
}

interface DatabaseListRow {
  readonly oid: string;
  readonly datname: string | null;
}

/**
 * Each database sized by its own statement: one dropped meanwhile costs only
 * its own sample.
 */
export async function sizeEach(
  db: Queryable,
  databases: readonly DatabaseListRow[],
): Promise<DatabaseSizeRow[]> {
  const rows: DatabaseSizeRow[] = [];
  for (const { oid, datname } of databases) {
    try {
      const [row] = await db.query<{ size_bytes: number | null }>(ONE_DATABASE_SIZE_QUERY, {
        params: [oid],
      });
      rows.push({ datname, size_bytes: row?.size_bytes ?? null });
    } catch (error) {
      if (!vanished(error)) throw error;
    }
  }
  return rows;
}

/**
 * The sizes of every database in one statement. A database dropped between
 * the statement's scan of pg_database and its sizing fails the whole
 * statement; it is then tried once more (the new snapshot no longer has the
 * database) and, if databases keep vanishing, each is sized alone.
 */
export async function databaseSizes(db: Queryable): Promise<DatabaseSizeRow[]> {
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      return await db.query<DatabaseSizeRow>(DATABASE_SIZE_QUERY);
    } catch (error) {
      if (!vanished(error)) throw error;
    }
  }
  return sizeEach(db, await db.query<DatabaseListRow>(DATABASE_LIST_QUERY));
}

/** Some of the databases, sized in one statement. */
export const SOME_DATABASE_SIZES_QUERY = `
SELECT datname, pg_database_size(oid)::float8 AS size_bytes
FROM pg_database WHERE oid = ANY($1::oid[])`;

/** One share of the databases on one session: as databaseSizes() does for all of them. */
async function sizeShare(
  db: Queryable,
  share: readonly DatabaseListRow[],
): Promise<DatabaseSizeRow[]> {
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      return await db.query<DatabaseSizeRow>(SOME_DATABASE_SIZES_QUERY, {
        params: [share.map((d) => d.oid)],
      });
    } catch (error) {
      if (!vanished(error)) throw error;
    }
  }
  return sizeEach(db, share);
}

/**
 * The sizes with the databases shared out over several sessions at once
 * (every one of the server's cores walks files), in pg_database's order.
 */
export async function databaseSizesOn(sessions: readonly Queryable[]): Promise<DatabaseSizeRow[]> {
  const [first] = sessions;
  if (first === undefined) return [];
  if (sessions.length === 1) return databaseSizes(first);
  const databases = await first.query<DatabaseListRow>(DATABASE_LIST_QUERY);
  const sized = await Promise.all(
    sessions.map((session, i) =>
      sizeShare(
        session,
        databases.filter((_, n) => n % sessions.length === i),
      ),
    ),
  );
  const byName = new Map(sized.flat().map((row) => [row.datname, row]));
  return databases.flatMap((d) => byName.get(d.datname) ?? []);
}

export const databaseSize: Collector = {
  name: 'database_size',
  families: [DATABASE_SIZE_METRIC],
  ownSession: true,
  async collect({ db, parallel, metrics }) {
    const rows = await databaseSizesOn([db, ...(parallel ?? [])]);
    metrics.gauge(DATABASE_SIZE_METRIC, databaseSizeSamples(rows));
  },
};
