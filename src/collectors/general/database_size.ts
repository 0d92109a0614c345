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

export const databaseSize: Collector = {
  name: 'database_size',
  families: [DATABASE_SIZE_METRIC],
  async collect({ db, metrics }) {
    const rows = await db.query<DatabaseSizeRow>(DATABASE_SIZE_QUERY);
    metrics.gauge(DATABASE_SIZE_METRIC, databaseSizeSamples(rows));
  },
};
