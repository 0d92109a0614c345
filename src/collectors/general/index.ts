import type { Collector } from '../types.js';
import { connections } from './connections.js';
import { lock } from './lock.js';
import { statActivity } from './stat_activity.js';
import { statBgwriter } from './stat_bgwriter.js';
import { statDatabase } from './stat_database.js';
import { statDatabaseConflicts } from './stat_database_conflicts.js';
import { transactionAge } from './transaction_age.js';
import { uptime } from './uptime.js';

/**
 * System metrics: the seed's families, then the ones added since. `postgresql_up` is not in the list: the
 * run records it from the connection's outcome (see up.ts).
 */
export const GENERAL_COLLECTORS: readonly Collector[] = [
  uptime,
  lock,
  statActivity,
  statBgwriter,
  statDatabase,
  statDatabaseConflicts,
  connections,
  transactionAge,
];
