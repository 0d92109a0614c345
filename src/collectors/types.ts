import type { Registry } from 'prom-client';
import type { Queryable } from '../db.js';

export interface CollectContext {
  readonly db: Queryable;
  /** `server_version_num` of the server, e.g. 150004 for 15.4. */
  readonly serverVersion: number;
  /** A registry of this collector's own: it is merged into the run's only if collect() succeeds. */
  readonly registry: Registry;
  readonly options: CollectorOptions;
}

/** Settings some collectors take, from the configuration. */
export interface CollectorOptions {
  /** How many statements the statements collector reports (top by total time). */
  readonly statementsLimit: number;
}

/** The most statements the statements collector may report: it bounds the series count. */
export const MAX_STATEMENTS_LIMIT = 100;

export const DEFAULT_COLLECTOR_OPTIONS: CollectorOptions = { statementsLimit: 10 };

/**
 * One source of metric families. A collector registers its metrics on the
 * registry it is given, and only there: nothing registers itself on import.
 */
export interface Collector {
  /** Short snake_case name: the switch name (COLLECTORS_ENABLE/DISABLE) and the self-metrics' label. */
  readonly name: string;
  /** Lowest `server_version_num` it runs on; on older servers the run skips it. */
  readonly minServerVersion?: number;
  /** Highest `server_version_num` it runs on; on newer servers the run skips it. */
  readonly maxServerVersion?: number;
  collect(context: CollectContext): Promise<void>;
}

/** Whether `collector` runs on a server of `serverVersion`. */
export function supports(collector: Collector, serverVersion: number): boolean {
  return (
    serverVersion >= (collector.minServerVersion ?? 0) &&
    serverVersion <= (collector.maxServerVersion ?? Number.MAX_SAFE_INTEGER)
  );
}
