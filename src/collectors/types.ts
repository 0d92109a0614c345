import { DEFAULTS } from '../config.js';
import type { Privilege, Queryable } from '../db.js';
import type { MetricDefinition, MetricWriter } from './metric.js';

export interface CollectContext {
  readonly db: Queryable;
  /** `server_version_num` of the server, e.g. 150004 for 15.4. */
  readonly serverVersion: number;
  /**
   * Where the collector writes its families: only those it declares, at most
   * COLLECTOR_MAX_SERIES series. They are pushed only if collect() succeeds.
   */
  readonly metrics: MetricWriter;
  readonly options: CollectorOptions;
  /**
   * Further sessions on the same database that the collector may use at the
   * same time as `db` (Collector.ownSession: its work split over several of
   * the server's cores); often none.
   */
  readonly parallel?: readonly Queryable[];
  /**
   * The database `db` is connected to: for a per-database collector, the one
   * it is visiting; for the others, the target's database.
   */
  readonly database: string;
}

/** Settings some collectors take, from the configuration. */
export interface CollectorOptions {
  /** How many statements the statements collector reports (top by total time). */
  readonly statementsLimit: number;
  /** Most series one collector may push (COLLECTOR_MAX_SERIES); a query reads at most as many rows. */
  readonly maxSeries: number;
  /** Tables the tables collector reports per database, the largest first (TABLES_LIMIT). */
  readonly tablesLimit: number;
  /** Indexes the indexes collector reports per database, the largest first (INDEXES_LIMIT). */
  readonly indexesLimit: number;
}

/** The options of a run with no settings: from the configuration's defaults. */
export const DEFAULT_COLLECTOR_OPTIONS: CollectorOptions = {
  statementsLimit: DEFAULTS.statementsLimit,
  maxSeries: DEFAULTS.collectorMaxSeries,
  tablesLimit: DEFAULTS.tablesLimit,
  indexesLimit: DEFAULTS.indexesLimit,
};

/**
 * One source of metric families. A collector writes its metrics to the
 * writer it is given, and only there: nothing registers itself on import.
 */
export interface Collector {
  /** Short snake_case name: the switch name (COLLECTORS_ENABLE/DISABLE) and the self-metrics' label. */
  readonly name: string;
  /**
   * Every family it may push. Checked against every other collector's when
   * the run is planned (no two may push one family, a custom query may not
   * take a built-in name, no grouping label may be a label of one), and
   * enforced when it writes.
   */
  readonly families: readonly MetricDefinition<string>[];
  /**
   * Predefined roles whose privileges it needs to see the whole server (for
   * pg_read_all_stats: other roles' sessions). Without them it would report
   * less than there is, so it is not run, and the run says what is missing.
   */
  readonly needs?: readonly Privilege[];
  /** Lowest `server_version_num` it runs on; on older servers the run skips it. */
  readonly minServerVersion?: number;
  /** Highest `server_version_num` it runs on; on newer servers the run skips it. */
  readonly maxServerVersion?: number;
  /**
   * 'database': it reads what PostgreSQL shows only inside one database
   * (pg_stat_user_tables), so the run calls it once per visited database
   * (src/visits.ts), each time on a session connected there. Default
   * 'server': once, on the target's session.
   */
  readonly scope?: 'server' | 'database';
  /**
   * Its time is spent on the server, not in round trips (pg_database_size()
   * walking every file): the run gives it sessions of its own (`db` and
   * `parallel`), at the same time as the others run on the run's session, so
   * its time overlaps theirs and may be split over the server's cores.
   */
  readonly ownSession?: boolean;
  collect(context: CollectContext): Promise<void>;
}

/** Whether `collector` runs on a server of `serverVersion`. */
export function supports(collector: Collector, serverVersion: number): boolean {
  return (
    serverVersion >= (collector.minServerVersion ?? 0) &&
    serverVersion <= (collector.maxServerVersion ?? Number.MAX_SAFE_INTEGER)
  );
}
