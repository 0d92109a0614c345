import type { Collector } from '../types.js';
import { databaseTypeSamples, minutesSince, type DatabaseRow, type Sample } from '../metric.js';

export const STAT_DATABASE_METRIC = {
  name: 'postgresql_stat_database',
  help: 'Database-wide statistics',
  labelNames: ['database', 'type'],
} as const;

/**
 * The seed's `type` values plus xact_rollback, which the seed selected but
 * never exported.
 */
export const STAT_DATABASE_TYPES = [
  'numbackends',
  'xact_commit',
  'xact_rollback',
  'blks_read',
  'blks_hit',
  'tup_returned',
  'tup_fetched',
  'tup_inserted',
  'tup_updated',
  'tup_deleted',
  'conflicts',
  'temp_files',
  'temp_bytes',
  'deadlocks',
  'blk_read_time',
  'blk_write_time',
  'last_stats_reset_min',
] as const;

/**
 * Since PostgreSQL 12 pg_stat_database has a row with a NULL datname for
 * shared catalogs; it belongs to no database and is left out.
 */
export const STAT_DATABASE_QUERY = `
SELECT
  datname,
  ${STAT_DATABASE_TYPES.filter((t) => t !== 'last_stats_reset_min')
    .map((column) => `${column}::float8`)
    .join(',\n  ')},
  ${minutesSince('stats_reset')} AS last_stats_reset_min
FROM pg_stat_database
WHERE datname IS NOT NULL`;

export type StatDatabaseRow = DatabaseRow;

export function statDatabaseSamples(
  rows: readonly StatDatabaseRow[],
): Sample<'database' | 'type'>[] {
  return databaseTypeSamples(rows, STAT_DATABASE_TYPES);
}

export const statDatabase: Collector = {
  name: 'stat_database',
  families: [STAT_DATABASE_METRIC],
  async collect({ db, metrics }) {
    const rows = await db.query<StatDatabaseRow>(STAT_DATABASE_QUERY);
    metrics.gauge(STAT_DATABASE_METRIC, statDatabaseSamples(rows));
  },
};
