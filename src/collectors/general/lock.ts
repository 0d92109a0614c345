import type { Collector } from '../types.js';
import { zeroFilledCounts, type Sample } from '../metric.js';

export const LOCK_METRIC = {
  name: 'postgresql_lock',
  help: 'Number of locks held or awaited, by database and lock mode (pg_locks).',
  labelNames: ['database', 'mode'],
} as const;

/** The eight table-level lock modes, lower-cased as the seed reports them. */
export const LOCK_MODES = [
  'accesssharelock',
  'rowsharelock',
  'rowexclusivelock',
  'shareupdateexclusivelock',
  'sharelock',
  'sharerowexclusivelock',
  'exclusivelock',
  'accessexclusivelock',
] as const;

/**
 * One row per database and observed mode; a database without locks gives one
 * row with a NULL mode, so every database is listed.
 */
export const LOCK_QUERY = `
SELECT d.datname, lower(l.mode) AS mode, count(l.mode)::float8 AS count
FROM pg_database d
LEFT JOIN pg_locks l ON l.database = d.oid
GROUP BY d.datname, lower(l.mode)`;

export interface LockRow {
  readonly datname: string | null;
  readonly mode: string | null;
  readonly count: number | string | null;
}

/** Every database × all known modes, zero where none; other modes seen are kept. */
export function lockSamples(rows: readonly LockRow[]): Sample<'database' | 'mode'>[] {
  return zeroFilledCounts(rows, 'mode', LOCK_MODES);
}

export const lock: Collector = {
  name: 'lock',
  families: [LOCK_METRIC],
  async collect({ db, metrics }) {
    metrics.gauge(LOCK_METRIC, lockSamples(await db.query<LockRow>(LOCK_QUERY)));
  },
};
