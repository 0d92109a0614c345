import type { Collector } from '../types.js';
import { databaseTypeSamples, type DatabaseRow, type Sample } from '../metric.js';

export const STAT_DATABASE_CONFLICTS_METRIC = {
  name: 'postgresql_stat_database_conflicts',
  help: 'Database-wide statistics about query cancels occurring due to conflicts with recovery on standby servers.',
  labelNames: ['database', 'type'],
} as const;

export const CONFLICT_TYPES = [
  'confl_tablespace',
  'confl_lock',
  'confl_snapshot',
  'confl_bufferpin',
  'confl_deadlock',
] as const;

export const STAT_DATABASE_CONFLICTS_QUERY = `
SELECT datname, ${CONFLICT_TYPES.map((column) => `${column}::float8`).join(', ')}
FROM pg_stat_database_conflicts
WHERE datname IS NOT NULL`;

export type StatDatabaseConflictsRow = DatabaseRow;

export function statDatabaseConflictsSamples(
  rows: readonly StatDatabaseConflictsRow[],
): Sample<'database' | 'type'>[] {
  return databaseTypeSamples(rows, CONFLICT_TYPES);
}

export const statDatabaseConflicts: Collector = {
  name: 'stat_database_conflicts',
  families: [STAT_DATABASE_CONFLICTS_METRIC],
  async collect({ db, metrics }) {
    const rows = await db.query<StatDatabaseConflictsRow>(STAT_DATABASE_CONFLICTS_QUERY);
    metrics.gauge(STAT_DATABASE_CONFLICTS_METRIC, statDatabaseConflictsSamples(rows));
  },
};
