/**
 * The per-database collectors' visits (Collector.scope 'database'): what
 * PostgreSQL shows only inside a database (pg_stat_user_tables) needs a
 * session connected to it. One run lists the databases the role may connect
 * to, narrows them by DATABASES_INCLUDE / DATABASES_EXCLUDE and caps them at
 * DATABASES_LIMIT, then visits each once (a few at a time), running every
 * per-database collector on that one session. The target's own database is
 * visited on the run's session, so it costs no connection.
 *
 * A database that cannot be visited, or where a collector fails, costs only
 * its own series: the other databases are still pushed, and
 * postgresql_exporter_database_visit_success says which failed.
 */
import { performance } from 'node:perf_hooks';
import type { Registry } from 'prom-client';
import type { DatabasesConfig } from './config.js';
import { ENV } from './config.js';
import {
  FamilyWriter,
  type MetricDefinition,
  type MetricWriter,
  type Sample,
} from './collectors/metric.js';
import type { Collector, CollectorOptions } from './collectors/types.js';
import type { Database, Queryable } from './db.js';
import { SeriesLimitError } from './errors.js';
import { pool } from './fleet/pool.js';

/** Databases visited at once: each is one more connection to the server while it lasts. */
export const VISIT_CONCURRENCY = 4;

/**
 * Databases of managed services that their users may not or should not
 * read: RDS's rdsadmin, Azure's, Cloud SQL's and AlloyDB's own.
 */
export const MANAGED_DATABASES: readonly string[] = [
  'rdsadmin',
  'azure_maintenance',
  'azure_sys',
  'cloudsqladmin',
  'alloydbadmin',
  'alloydbmetadata',
];

/** Most database names read from pg_database: far past any real server, so the list costs bounded memory. */
const MAX_LISTED = 100_000;

/** Whether the database still exists: one dropped during the run is no failure. */
export const DATABASE_EXISTS_QUERY = `SELECT 1 AS one FROM pg_database WHERE datname = $1`;

/** Databases the role may connect to: no template, none that refuses connections. */
export const VISITABLE_DATABASES_QUERY = `
SELECT datname FROM pg_database
WHERE datallowconn AND NOT datistemplate AND has_database_privilege(oid, 'CONNECT')
ORDER BY datname`;

/** `*` any run of characters, `?` one; everything else as itself; the whole name must match. */
export function globMatcher(patterns: readonly string[]): (name: string) => boolean {
  if (patterns.length === 0) return () => false;
  // Each pattern split at its wildcards; the pieces between are literal.
  const source = patterns
    .map((p) =>
      p
        .split(/([*?])/u)
        .map((piece) =>
          piece === '*' ? '.*' : piece === '?' ? '.' : piece.replace(/[\\^$.|+()[\]{}/-]/g, '\\$&'),
        )
        .join(''),
    )
    .join('|');
  const regex = new RegExp(`^(?:${source})$`, 'su');
  return (name) => regex.test(name);
}

export interface DatabaseChoice {
  /** In visiting order: the target's database first (when chosen), then by name. */
  readonly chosen: readonly string[];
  /** Left out by DATABASES_LIMIT. */
  readonly overLimit: number;
}

/** Which of the visitable databases a run visits. Pure. */
export function chooseDatabases(
  visitable: readonly string[],
  connected: string,
  config: DatabasesConfig,
): DatabaseChoice {
  const included = globMatcher(config.include);
  const excluded = globMatcher(config.exclude);
  const wanted = visitable.filter(
    (name) =>
      !MANAGED_DATABASES.includes(name) &&
      (config.include.length === 0 || included(name)) &&
      !excluded(name),
  );
  const ordered = [
    ...wanted.filter((name) => name === connected),
    ...wanted.filter((name) => name !== connected).sort(),
  ];
  return {
    chosen: ordered.slice(0, config.limit),
    overLimit: Math.max(0, ordered.length - config.limit),
  };
}

/**
 * A collector's samples in one database, held until every database is done:
 * one family may then be written once, with every database's samples.
 */
class SampleBuffer implements MetricWriter {
  readonly families = new Map<string, { kind: 'gauge' | 'counter'; samples: Sample<string>[] }>();
  series = 0;

  constructor(
    readonly collector: string,
    readonly declared: ReadonlySet<string>,
    readonly maxSeries: number,
  ) {}

  gauge<L extends string>(definition: MetricDefinition<L>, samples: Iterable<Sample<L>>): void {
    this.#add('gauge', definition, samples);
  }

  counter<L extends string>(definition: MetricDefinition<L>, samples: Iterable<Sample<L>>): void {
    this.#add('counter', definition, samples);
  }

  #add<L extends string>(
    kind: 'gauge' | 'counter',
    definition: MetricDefinition<L>,
    samples: Iterable<Sample<L>>,
  ): void {
    if (!this.declared.has(definition.name)) {
      throw new Error(
        `collector ${this.collector} wrote ${definition.name}, which is not among its families`,
      );
    }
    if (this.families.has(definition.name)) {
      throw new Error(`collector ${this.collector} wrote ${definition.name} twice in one database`);
    }
    const values: Sample<string>[] = [...samples];
    this.series += values.length;
    // One database alone past the limit: stop before more is held in memory.
    if (this.series > this.maxSeries) {
      throw new SeriesLimitError(
        `more than ${this.maxSeries} series (${ENV.collectorMaxSeries}) in one database`,
      );
    }
    this.families.set(definition.name, {
      kind,
      samples: values,
    });
  }
}

/** How one database's visit went. */
export interface VisitResult {
  readonly database: string;
  readonly ok: boolean;
  /** Why it failed: the connection, or each collector that failed there. */
  readonly error?: string;
}

/** What the visits did, for the self-metrics and the summary. */
export interface VisitReport {
  readonly visits: readonly VisitResult[];
  readonly overLimit: number;
}

/** One per-database collector's result over every visited database. */
export interface VisitedCollector {
  readonly name: string;
  readonly ok: boolean;
  readonly durationMs: number;
  readonly error?: string;
  readonly overLimit?: boolean;
  /** Its families, with the samples of every database where it worked; undefined if none. */
  readonly registry?: Registry;
}

export interface VisitOptions {
  /** The run's session, on the target's database. */
  readonly session: Database;
  /** The target's database: visited on `session`. */
  readonly connected: string;
  readonly collectors: readonly Collector[];
  readonly options: CollectorOptions;
  readonly databases: DatabasesConfig;
  /** A session on another database of the same server (closed by the visit). */
  readonly open: (database: string, deadline: number) => Promise<Database>;
  /** Epoch ms by which every visit must be done. */
  readonly deadline: number;
  /** Makes an error's text safe to show (the run's redaction, clipped). */
  readonly describe: (error: unknown) => string;
}

interface DatabaseOutcome {
  readonly database: string;
  /** Why the database could not be visited at all. */
  readonly failed?: string;
  /** Per collector: its samples there, or why it failed there. */
  readonly collectors: ReadonlyMap<string, SampleBuffer | { error: string; overLimit: boolean }>;
  readonly durationMs: ReadonlyMap<string, number>;
}

async function visitOne(
  database: string,
  db: Queryable,
  serverVersion: number,
  visit: VisitOptions,
): Promise<Omit<DatabaseOutcome, 'database'>> {
  const collectors = new Map<string, SampleBuffer | { error: string; overLimit: boolean }>();
  const durationMs = new Map<string, number>();
  for (const collector of visit.collectors) {
    const start = performance.now();
    const buffer = new SampleBuffer(
      collector.name,
      new Set(collector.families.map((f) => f.name)),
      visit.options.maxSeries,
    );
    try {
      if (Date.now() >= visit.deadline) {
        throw new Error('not run: the time budget for collecting was used up');
      }
      await collector.collect({
        db,
        serverVersion,
        metrics: buffer,
        options: visit.options,
        database,
      });
      collectors.set(collector.name, buffer);
    } catch (error) {
      collectors.set(collector.name, {
        error: visit.describe(error),
        overLimit: error instanceof SeriesLimitError,
      });
    }
    durationMs.set(collector.name, performance.now() - start);
  }
  return { collectors, durationMs };
}

/**
 * Visits every chosen database and runs each per-database collector there.
 * Never rejects for a database's sake: a failed connection or collector is
 * reported in the results.
 */
export async function visitDatabases(
  visit: VisitOptions,
): Promise<{ collectors: VisitedCollector[]; report: VisitReport }> {
  const listed = await visit.session.query<{ datname: string }>(VISITABLE_DATABASES_QUERY, {
    maxRows: MAX_LISTED,
  });
  const { chosen, overLimit } = chooseDatabases(
    listed.map((r) => r.datname),
    visit.connected,
    visit.databases,
  );
  const serverVersion = visit.session.serverVersion;
  const outcomes = await pool(chosen, VISIT_CONCURRENCY, visit.deadline, async (database, end) => {
    if (database === visit.connected) {
      return { database, ...(await visitOne(database, visit.session, serverVersion, visit)) };
    }
    let db: Database;
    try {
      if (Date.now() >= visit.deadline) {
        throw new Error('not visited: the time budget for collecting was used up');
      }
      db = await visit.open(database, end);
    } catch (error) {
      return {
        database,
        failed: visit.describe(error),
        collectors: new Map(),
        durationMs: new Map(),
      } satisfies DatabaseOutcome;
    }
    try {
      return { database, ...(await visitOne(database, db, serverVersion, visit)) };
    } finally {
      await db.close();
    }
  });
  const present = await withoutVanished(visit.session, outcomes);
  return {
    collectors: visit.collectors.map((c) => assemble(c, present)),
    report: { visits: present.map(visitResult), overLimit },
  };
}

/**
 * The outcomes without databases dropped since they were listed: a failed
 * visit to a database that no longer exists is no failure, and no series.
 */
async function withoutVanished(
  session: Queryable,
  outcomes: readonly DatabaseOutcome[],
): Promise<DatabaseOutcome[]> {
  const present: DatabaseOutcome[] = [];
  for (const outcome of outcomes) {
    if (!visitResult(outcome).ok) {
      const rows = await session.query(DATABASE_EXISTS_QUERY, { params: [outcome.database] });
      if (rows.length === 0) continue;
    }
    present.push(outcome);
  }
  return present;
}

function visitResult(outcome: DatabaseOutcome): VisitResult {
  if (outcome.failed !== undefined) {
    return { database: outcome.database, ok: false, error: outcome.failed };
  }
  const errors = [...outcome.collectors]
    .filter(
      (entry): entry is [string, { error: string; overLimit: boolean }] => 'error' in entry[1],
    )
    .map(([name, { error }]) => `${name}: ${error}`);
  return errors.length === 0
    ? { database: outcome.database, ok: true }
    : { database: outcome.database, ok: false, error: errors.join('; ') };
}

/** Most failing databases named in a collector's error; the rest are counted. */
const NAMED_FAILURES = 3;

/**
 * One collector's families over every database where it worked, in visiting
 * order. COLLECTOR_MAX_SERIES holds per database (SampleBuffer): a database
 * past it is left out alone, and the collector is marked.
 */
function assemble(collector: Collector, outcomes: readonly DatabaseOutcome[]): VisitedCollector {
  const failures: string[] = [];
  const kept: SampleBuffer[] = [];
  let series = 0;
  let overLimit = false;
  let durationMs = 0;
  for (const outcome of outcomes) {
    durationMs += outcome.durationMs.get(collector.name) ?? 0;
    const result = outcome.collectors.get(collector.name);
    if (outcome.failed !== undefined || result === undefined) {
      failures.push(`${outcome.database}: not visited: ${outcome.failed ?? 'not run'}`);
    } else if ('error' in result) {
      overLimit ||= result.overLimit;
      failures.push(`${outcome.database}: ${result.error}`);
    } else {
      series += result.series;
      kept.push(result);
    }
  }
  const writer = new FamilyWriter(collector.name, collector.families, Math.max(1, series));
  for (const family of collector.families) {
    const parts = kept.map((b) => b.families.get(family.name)).filter((p) => p !== undefined);
    if (parts.length === 0) continue;
    const samples = parts.flatMap((p) => p.samples);
    if (parts[0]?.kind === 'gauge') writer.gauge(family, samples);
    else writer.counter(family, samples);
  }
  const error =
    failures.length === 0
      ? undefined
      : `failed in ${failures.length} of ${outcomes.length} databases: ` +
        failures.slice(0, NAMED_FAILURES).join('; ') +
        (failures.length > NAMED_FAILURES ? `; and ${failures.length - NAMED_FAILURES} more` : '');
  return {
    name: collector.name,
    ok: error === undefined,
    durationMs: Math.round(durationMs * 10) / 10,
    ...(error === undefined ? {} : { error }),
    ...(overLimit ? { overLimit } : {}),
    ...(kept.length > 0 ? { registry: writer.registry } : {}),
  };
}
