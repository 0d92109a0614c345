import type { Collector } from '../types.js';
import { zeroFilledCounts, type Sample } from '../metric.js';

export const STAT_ACTIVITY_METRIC = {
  name: 'postgresql_stat_activity',
  help: 'Number of server processes by database and state (pg_stat_activity).',
  labelNames: ['database', 'state'],
} as const;

/** The six states of pg_stat_activity.state that the seed reports for every database. */
export const ACTIVITY_STATES = [
  'active',
  'idle',
  'idle in transaction',
  'idle in transaction (aborted)',
  'fastpath function call',
  'disabled',
] as const;

/**
 * Sessions per database and state. Processes without a state (background
 * workers) are not counted; a database without sessions gives a NULL-state row.
 */
export const STAT_ACTIVITY_QUERY = `
SELECT d.datname, a.state, count(a.state)::float8 AS count
FROM pg_database d
LEFT JOIN pg_stat_activity a ON a.datid = d.oid
GROUP BY d.datname, a.state`;

export interface StatActivityRow {
  readonly datname: string | null;
  readonly state: string | null;
  readonly count: number | string | null;
}

/** Every database × all known states, zero where none; other states seen are kept. */
export function statActivitySamples(
  rows: readonly StatActivityRow[],
): Sample<'database' | 'state'>[] {
  return zeroFilledCounts(rows, 'state', ACTIVITY_STATES);
}

export const statActivity: Collector = {
  name: 'stat_activity',
  families: [STAT_ACTIVITY_METRIC],
  // Without it, other roles' sessions (or statements) are hidden: the numbers would be low.
  needs: ['pg_read_all_stats'],
  async collect({ db, metrics }) {
    const rows = await db.query<StatActivityRow>(STAT_ACTIVITY_QUERY);
    metrics.gauge(STAT_ACTIVITY_METRIC, statActivitySamples(rows));
  },
};
