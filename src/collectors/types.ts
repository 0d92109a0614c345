import type { Registry } from 'prom-client';
import type { Queryable } from '../db.js';

export interface CollectContext {
  readonly db: Queryable;
  /** `server_version_num` of the server, e.g. 150004 for 15.4. */
  readonly serverVersion: number;
  /** A registry of this collector's own: it is merged into the run's only if collect() succeeds. */
  readonly registry: Registry;
}

/**
 * One source of metric families. A collector registers its metrics on the
 * registry it is given, and only there: nothing registers itself on import.
 */
export interface Collector {
  /** Short snake_case name, used in logs and (later) in switches. */
  readonly name: string;
  collect(context: CollectContext): Promise<void>;
}
