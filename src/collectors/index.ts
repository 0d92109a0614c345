/**
 * Every built-in collector, whether it runs by default and how often: the one
 * table of defaults. COLLECTORS_ENABLE and COLLECTORS_DISABLE change the
 * first by name, COLLECTOR_REFRESH_SECONDS the second.
 * Adding a collector: one file in general/ or business/, one line here.
 */
import { userTables } from './business/user_tables.js';
import { archiver } from './general/archiver.js';
import { checkpointer } from './general/checkpointer.js';
import { connections } from './general/connections.js';
import { databaseSize } from './general/database_size.js';
import { indexes } from './general/indexes.js';
import { lock } from './general/lock.js';
import { recovery } from './general/recovery.js';
import { replication } from './general/replication.js';
import { replicationSlots } from './general/replication_slots.js';
import { statActivity } from './general/stat_activity.js';
import { statBgwriter } from './general/stat_bgwriter.js';
import { statDatabase } from './general/stat_database.js';
import { statDatabaseConflicts } from './general/stat_database_conflicts.js';
import { statIo } from './general/stat_io.js';
import { statements } from './general/statements.js';
import { tables } from './general/tables.js';
import { transactionAge } from './general/transaction_age.js';
import { uptime } from './general/uptime.js';
import { version } from './general/version.js';
import { wal } from './general/wal.js';
import { wraparound } from './general/wraparound.js';
import { ENV } from '../config.js';
import { ConfigError } from '../errors.js';
import { UP_METRIC } from './general/up.js';
import type { MetricDefinition } from './metric.js';
import { SELF_FAMILIES } from './self.js';
import type { Collector } from './types.js';

export interface CollectorDefault {
  readonly collector: Collector;
  readonly enabled: boolean;
  /** Why it is off by default. */
  readonly off?: string;
  /**
   * Its refresh interval by default, in seconds: a warm process pushes its
   * last collection again until the interval is up (src/refresh.ts). 0 or
   * unset: every run. For what is expensive to read and slow to change.
   */
  readonly refreshSeconds?: number;
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
  { collector: version, enabled: true },
  // pg_database_size() walks every file of every database (60 % of a warm run at 200 of them).
  { collector: databaseSize, enabled: true, refreshSeconds: 300 },
  { collector: wraparound, enabled: true },
  { collector: recovery, enabled: true },
  { collector: replication, enabled: true },
  { collector: replicationSlots, enabled: true },
  { collector: wal, enabled: true },
  { collector: checkpointer, enabled: true },
  { collector: archiver, enabled: true },
  { collector: statIo, enabled: true },
  // general: per database (src/visits.ts)
  { collector: tables, enabled: true, refreshSeconds: 300 },
  { collector: indexes, enabled: true, refreshSeconds: 300 },
  { collector: statements, enabled: false, off: 'needs the pg_stat_statements extension in the connected database and in shared_preload_libraries; one series per reported statement' },
  // business
  { collector: userTables, enabled: false, off: 'a worked example of a business metric' },
];

export const COLLECTOR_NAMES: readonly string[] = COLLECTOR_TABLE.map((e) => e.collector.name);

/** The default refresh interval of the collector named `name`, in seconds: 0 (every run) if none. */
export function defaultRefreshSeconds(name: string): number {
  return COLLECTOR_TABLE.find((e) => e.collector.name === name)?.refreshSeconds ?? 0;
}

function checkNames(variable: string, names: readonly string[]): void {
  for (const name of names) {
    if (!COLLECTOR_NAMES.includes(name)) {
      throw new ConfigError(
        variable,
        `unknown collector "${name}"; known: ${COLLECTOR_NAMES.join(', ')}`,
      );
    }
  }
}

/**
 * The collectors a run executes: the defaults, changed by the switches. An
 * unknown name is a ConfigError naming the variable and the known names.
 */
export function selectCollectors(
  enable: readonly string[] = [],
  disable: readonly string[] = [],
): Collector[] {
  checkNames(ENV.collectorsEnable, enable);
  checkNames(ENV.collectorsDisable, disable);
  return COLLECTOR_TABLE.filter(
    ({ collector, enabled }) =>
      !disable.includes(collector.name) && (enabled || enable.includes(collector.name)),
  ).map((e) => e.collector);
}

/** The default selection. */
export const COLLECTORS: readonly Collector[] = selectCollectors();

/** Families the run itself pushes, whatever the collectors: no collector may push one. */
export const RUN_FAMILIES: readonly MetricDefinition<string>[] = [UP_METRIC, ...SELF_FAMILIES];

/** Who pushes the run's own families, in messages. */
export const RUN_OWNER = 'the exporter itself (postgresql_up and self-metrics)';

/**
 * Family name → who pushes it: the run's own families, then each collector's.
 * Throws when two push one family: their series would mix, or the merge fail.
 */
export function familyOwners(collectors: readonly Collector[]): Map<string, string> {
  const owners = new Map<string, string>(RUN_FAMILIES.map((f) => [f.name, RUN_OWNER]));
  for (const collector of collectors) {
    for (const family of collector.families) {
      const owner = owners.get(family.name);
      if (owner !== undefined) {
        throw new Error(`${family.name} is pushed by ${owner} and by collector ${collector.name}`);
      }
      owners.set(family.name, `collector ${collector.name}`);
    }
  }
  return owners;
}
