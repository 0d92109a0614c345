/**
 * Every built-in collector and whether it runs by default: the one table of
 * defaults. COLLECTORS_ENABLE and COLLECTORS_DISABLE change it by name.
 * Adding a collector: one file in general/ or business/, one line here.
 */
import { userTables } from './business/user_tables.js';
import { connections } from './general/connections.js';
import { lock } from './general/lock.js';
import { statActivity } from './general/stat_activity.js';
import { statBgwriter } from './general/stat_bgwriter.js';
import { statDatabase } from './general/stat_database.js';
import { statDatabaseConflicts } from './general/stat_database_conflicts.js';
import { transactionAge } from './general/transaction_age.js';
import { uptime } from './general/uptime.js';
import type { Collector } from './types.js';

export interface CollectorDefault {
  readonly collector: Collector;
  readonly enabled: boolean;
  /** Why it is off by default. */
  readonly off?: string;
}

// prettier-ignore
export const COLLECTOR_TABLE: readonly CollectorDefault[] = [
  // general: the Python exporter's families
  { collector: uptime, enabled: true },
  { collector: lock, enabled: true },
  { collector: statActivity, enabled: true },
  { collector: statBgwriter, enabled: true },
  { collector: statDatabase, enabled: true },
  { collector: statDatabaseConflicts, enabled: true },
  // general: added
  { collector: connections, enabled: true },
  { collector: transactionAge, enabled: true },
  // business
  { collector: userTables, enabled: false, off: 'a worked example of a business metric' },
];

export const COLLECTOR_NAMES: readonly string[] = COLLECTOR_TABLE.map((e) => e.collector.name);

/** The collectors a run executes: the defaults, changed by the switches (names already checked). */
export function selectCollectors(
  enable: readonly string[] = [],
  disable: readonly string[] = [],
): Collector[] {
  return COLLECTOR_TABLE.filter(
    ({ collector, enabled }) =>
      !disable.includes(collector.name) && (enabled || enable.includes(collector.name)),
  ).map((e) => e.collector);
}

/** The default selection. */
export const COLLECTORS: readonly Collector[] = selectCollectors();
