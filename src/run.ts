/**
 * One run for one target, as a straight pipeline over one value built once:
 *
 *   configuration → plan (collectors, target) → credentials and grouping key
 *   → connect → collect → render → push → summary
 *
 * `plan` does every check that needs no I/O; `run` does the rest. Nothing
 * here knows whether the target is one of many.
 */
import { performance } from 'node:perf_hooks';
import { Registry } from 'prom-client';
import { budget, DEFAULT_BUDGET_MS, within } from './budget.js';
import { recordUp } from './collectors/general/up.js';
import { FamilyWriter } from './collectors/metric.js';
import { recordSelfMetrics, recordVisits } from './collectors/self.js';
import { supports, type Collector, type CollectorOptions } from './collectors/types.js';
import { ENV, environmentSecrets, type DatabasesConfig, type Env } from './config.js';
import { plan, type RunPlan } from './plan.js';
import {
  openSession,
  PRIVILEGES,
  type Database,
  type Privilege,
  type SessionOptions,
} from './db.js';
import { ConfigError, SecretError, SeriesLimitError, describeError, errorCode } from './errors.js';
import { iamPassword } from './iam.js';
import { clip, createLogger, type Logger } from './logger.js';
import { credentialForms } from './pushgateway.js';
import {
  deliverToSinks,
  deliveryError,
  deliveryTimeoutMs,
  processLastDeliveries,
  sinkUrls,
  type LastDeliveries,
  type SinkDependencies,
  type SinkOutcome,
} from './sinks.js';
import { processRefreshCache, refreshKey, type RefreshCache, type TargetCache } from './refresh.js';
import { secretsManagerSource, type SecretSource } from './secrets.js';
import { visitDatabases, type VisitReport, type VisitedCollector } from './visits.js';
import {
  groupingKey,
  resolveTarget,
  type DatabaseSecret,
  type PostgresTarget,
  type Target,
} from './target.js';

export { plan, type RunPlan } from './plan.js';

/** Closes the connection kept between runs (scripts, tests): from here, so it is the one collect() used. */
export { closeKeptConnection } from './db.js';

export interface CollectorOutcome {
  readonly name: string;
  readonly ok: boolean;
  readonly durationMs: number;
  readonly error?: string;
  /** It produced more series than COLLECTOR_MAX_SERIES. */
  readonly overLimit?: boolean;
  /**
   * Not run: its refresh interval is not up, and its last collection was
   * pushed again (`durationMs` is that collection's).
   */
  readonly cached?: boolean;
  /** With `cached`: seconds since its pushed families were collected (else 0: in this run). */
  readonly ageSeconds?: number;
  /**
   * It has a refresh interval but its collection did not fit under the
   * refresh cache's byte cap, so it was not cached: collected every run.
   */
  readonly cacheFull?: boolean;
}

/** What one run did; returned by the handler and logged as one JSON line. */
export interface RunSummary {
  readonly up: boolean;
  /** Why postgresql_up is 0, when it is. */
  readonly downReason?: string;
  readonly serverVersion?: number;
  readonly instance: string;
  /** The Pushgateway's URL (no credentials), when there is one. */
  readonly pushgateway?: string;
  /** The remote-write receiver's URL (no credentials), when there is one. */
  readonly remoteWrite?: string;
  readonly job: string;
  readonly series: number;
  readonly bytes: number;
  readonly collectorErrors: number;
  readonly collectors: readonly CollectorOutcome[];
  /** Enabled collectors this server's version does not support. */
  readonly skipped: readonly string[];
  /** Predefined roles whose privileges the role lacks and an enabled collector needs. */
  readonly missingPrivileges: readonly Privilege[];
  /** The per-database collectors' visits, when any ran: how many, and which failed why. */
  readonly databases?: DatabasesSummary;
  /** Each sink's delivery of this run. */
  readonly sinks: readonly SinkOutcome[];
  readonly durationMs: number;
}

export interface DatabasesSummary {
  readonly visited: number;
  /** Left out by DATABASES_LIMIT. */
  readonly overLimit: number;
  /** The first few that failed (MAX_FAILED_NAMED), each with why. */
  readonly failed: readonly { readonly database: string; readonly error: string }[];
}

/** Most failed databases the summary names: a log line stays bounded. */
const MAX_FAILED_NAMED = 10;

function databasesSummary(report: VisitReport): DatabasesSummary {
  return {
    visited: report.visits.length,
    overLimit: report.overLimit,
    failed: report.visits
      .filter((v) => !v.ok)
      .slice(0, MAX_FAILED_NAMED)
      .map((v) => ({ database: v.database, error: v.error ?? '' })),
  };
}

export interface RunDependencies extends SinkDependencies {
  readonly secrets?: SecretSource;
  /** Instead of the configured collectors (tests, benchmarks). */
  readonly collectors?: readonly Collector[];
  readonly log?: Logger;
  /**
   * Epoch ms by which the run must end; on Lambda from the invocation's
   * remaining time. Default: DEFAULT_BUDGET_MS from now.
   */
  readonly deadline?: number;
  /** Opens the run's database session (default: src/db.ts, keeping it between runs). */
  readonly connect?: (
    target: PostgresTarget,
    options: SessionOptions,
    password?: () => Promise<string>,
  ) => Promise<Database>;
  /** Where each target's last delivery outcomes are kept for the next run (default: this process's). */
  readonly lastDeliveries?: LastDeliveries;
  /** Told each sink's outcome once the run was delivered, before it resolves or rejects. */
  readonly onDelivered?: (outcomes: readonly SinkOutcome[]) => void;
  /** Where collections are kept between runs for refresh intervals (default: this process's). */
  readonly refreshCache?: RefreshCache;
  /** The clock of refresh intervals and collection ages, epoch ms (default: Date.now). */
  readonly now?: () => number;
}

const ms = (start: number) => Math.round((performance.now() - start) * 10) / 10;

/** How long reading the secret may take at most (the SDK retries throttling inside it). */
const SECRET_TIMEOUT_MS = 5_000;

/** PostgreSQL's SQLSTATE for a refused password. */
const INVALID_PASSWORD = '28P01';

/** Node's codes for a certificate chain it could not verify. */
const UNTRUSTED_CHAIN = new Set([
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
]);

/** What to do about an untrusted server certificate, when no CA bundle is configured. */
function tlsHint(error: unknown, target: PostgresTarget): string {
  const code = errorCode(error);
  if (code === undefined || !UNTRUSTED_CHAIN.has(code) || target.sslRootCert !== undefined) {
    return '';
  }
  return ` (set ${ENV.sslRootCert} to the server's CA bundle, e.g. the RDS global bundle; see README, Security)`;
}

/** Secrets shorter than this are not searched for in the pushed text: too likely a real label value. */
const MIN_PUSH_REDACT_CHARS = 8;

/** Reads the configuration from `env` and runs once; the handler's whole body. */
export async function collect(env: Env, deps: RunDependencies = {}): Promise<RunSummary> {
  const log = deps.log ?? createLogger();
  log.hide(...environmentSecrets(env));
  let runPlan: RunPlan;
  try {
    runPlan = plan(env, deps.collectors);
  } catch (error) {
    const failure = scrubbed(error, log);
    log.error('configuration error', { error: describeError(failure) });
    throw failure;
  }
  return run(runPlan, { ...deps, log });
}

/** Credentials and address for the connection: the secret's, when there is one. */
async function readSecret(
  target: Target,
  secrets: SecretSource,
  deadline: number,
  log: Logger,
): Promise<{ secret?: DatabaseSecret; error?: unknown }> {
  const { secretId } = target.postgres;
  if (secretId === undefined) return {};
  try {
    const secret = await secrets.get(secretId, { timeoutMs: within(SECRET_TIMEOUT_MS, deadline) });
    log.hide(secret.password);
    return { secret };
  } catch (error) {
    return { error };
  }
}

/** A session, or why there is none: PostgreSQL being down is a result, not an error. */
type Session = { readonly db: Database } | { readonly downReason: string };

/** Opens a session on `address` (the target's, or another database of its server). */
type Opener = (
  address: PostgresTarget,
  deadline: number,
  keepSeconds: number,
  lane?: string,
) => Promise<Database>;

function opener(runPlan: RunPlan, deps: RunDependencies, log: Logger): Opener {
  const { postgres } = runPlan.target;
  const { iamAuth } = postgres;
  return (address, deadline, keepSeconds, lane) =>
    (deps.connect ?? openSession)(
      address,
      { ...postgres, deadline, keepSeconds, ...(lane === undefined ? {} : { lane }) },
      // With IAM auth, a fresh token (they live 15 minutes) for each new connection.
      iamAuth === undefined
        ? undefined
        : async () => {
            const password = await iamPassword(address, iamAuth.region);
            log.hide(password);
            return password;
          },
    );
}

async function connectTarget(
  runPlan: RunPlan,
  address: PostgresTarget,
  open: Opener,
  collectDeadline: number,
  log: Logger,
  secrets: SecretSource,
): Promise<Session> {
  const { postgres } = runPlan.target;
  try {
    const db = await open(address, collectDeadline, postgres.keepConnectionSeconds);
    return { db };
  } catch (error) {
    // An unusable CA file is a configuration error: fail, naming the variable.
    if (error instanceof ConfigError) throw error;
    // A rotated secret: fetch it afresh on the next run.
    if (errorCode(error) === INVALID_PASSWORD && postgres.secretId !== undefined) {
      secrets.invalidate(postgres.secretId);
    }
    return { downReason: clip(log.redact(describeError(error))) + tlsHint(error, address) };
  }
}

interface Collected {
  readonly outcomes: CollectorOutcome[];
  /** In collector order: a registry to render, or the text of a collection (kept, or reused). */
  readonly parts: (Registry | string)[];
  readonly skipped: string[];
  readonly privileges: Partial<Record<Privilege, boolean>>;
  readonly missing: Privilege[];
  readonly visits?: VisitReport;
  /** The visits' own families, rendered: this run's, or the last visit's while cached. */
  readonly visitsText?: string;
}

/** What collectAll needs beyond the run's session: for the per-database visits. */
interface CollectSetting {
  readonly options: CollectorOptions;
  readonly databases: DatabasesConfig;
  /** The target's database (the session's). */
  readonly connected: string;
  /** A session on another database of the target's server, not kept. */
  readonly open: (database: string, deadline: number) => Promise<Database>;
  /**
   * A second session on the target's database, kept apart by `lane`
   * (Collector.ownSession); undefined when connections are not kept between
   * runs (a second new connection every run would cost more than it saves)
   * and in a fleet.
   */
  readonly openOwn: ((lane: string) => Promise<Database>) | undefined;
  readonly collectDeadline: number;
}

/** This run's view of the refresh cache: the target's part, the intervals, the clock. */
interface Refresh {
  readonly cache: TargetCache;
  /** Collector name → interval in seconds, for those that have one. */
  readonly intervals: ReadonlyMap<string, number>;
  /** The run's clock when collecting began, epoch ms. */
  readonly now: number;
}

/**
 * What a collection depends on besides the server: a cached one is reused
 * only by a collector of the same families, run with the same options.
 */
function shapeOf(collector: Collector, options: CollectorOptions): string {
  return JSON.stringify([collector.families.map((f) => f.name), options]);
}

/**
 * Runs every collector the server supports, each into a writer of its own
 * that is rendered only if the collector succeeds. A collector that needs a
 * privilege the role lacks is not run: it would report less than there is.
 * A collector with a refresh interval that is not up is not run either: its
 * last collection is pushed again; a fresh collection of one is kept for the
 * next runs, and a failed one forgets the last. The per-database collectors
 * that are due run last, in one visit per database (visitAll).
 */
async function collectAll(
  db: Database,
  collectors: readonly Collector[],
  setting: CollectSetting,
  log: Logger,
  refresh: Refresh,
): Promise<Collected> {
  const version = db.serverVersion;
  const runnable = collectors.filter((c) => supports(c, version));
  const needed = PRIVILEGES.filter((p) => runnable.some((c) => c.needs?.includes(p)));
  const privileges: Partial<Record<Privilege, boolean>> = {};
  for (const privilege of needed) privileges[privilege] = db.privileges[privilege];
  const missing = needed.filter((p) => !db.privileges[p]);
  // In the collectors' order, whatever order they finish in.
  const results: (Ran | undefined)[] = [];
  const perDatabase: Collector[] = [];
  const aside: Promise<void>[] = [];
  for (const [index, collector] of runnable.entries()) {
    const interval = refresh.intervals.get(collector.name) ?? 0;
    const shape = interval > 0 ? shapeOf(collector, setting.options) : '';
    const lacking = collector.needs?.filter((p) => missing.includes(p)) ?? [];
    if (lacking.length > 0) {
      if (interval > 0) refresh.cache.drop(collector.name);
      results[index] = {
        outcome: {
          name: collector.name,
          ok: false,
          durationMs: 0,
          error:
            `not run: the role lacks the privileges of ${lacking.join(', ')} (GRANT pg_monitor ` +
            "TO the exporter's role); without them it would see only the role's own sessions",
        },
      };
      continue;
    }
    const cached = interval > 0 ? refresh.cache.reuse(collector.name, interval, shape) : undefined;
    if (cached !== undefined) {
      results[index] = {
        outcome: {
          name: collector.name,
          ok: true,
          durationMs: cached.durationMs,
          cached: true,
          ageSeconds: (refresh.now - cached.collectedAt) / 1_000,
        },
        part: cached.text,
      };
      continue;
    }
    if (collector.scope === 'database') {
      perDatabase.push(collector);
      continue;
    }
    const job = { collector, interval, shape };
    if (collector.ownSession === true && setting.openOwn !== undefined) {
      aside.push(
        onOwnSession(db, setting.openOwn, job, setting, log, refresh).then((ran) => {
          results[index] = ran;
        }),
      );
      continue;
    }
    results[index] = await runCollector(db, job, setting, log, refresh);
  }
  await Promise.all(aside);
  const visits = await perDatabaseParts(
    db,
    perDatabase,
    runnable.filter((c) => c.scope === 'database'),
    setting,
    log,
    refresh,
  );
  const ran = results.filter((r): r is Ran => r !== undefined);
  return {
    outcomes: [...ran.map((r) => r.outcome), ...visits.outcomes],
    parts: [...ran.flatMap((r) => (r.part === undefined ? [] : [r.part])), ...visits.parts],
    skipped: collectors.filter((c) => !supports(c, version)).map((c) => c.name),
    privileges,
    missing,
    ...(visits.report === undefined ? {} : { visits: visits.report }),
    ...(visits.reportText === undefined ? {} : { visitsText: visits.reportText }),
  };
}

/** One collector's result: its outcome, and what it pushes (none when it failed). */
interface Ran {
  readonly outcome: CollectorOutcome;
  readonly part?: Registry | string;
}

interface Job {
  readonly collector: Collector;
  /** Its refresh interval in seconds; 0: every run, not cached. */
  readonly interval: number;
  readonly shape: string;
}

/**
 * Runs one collector on `db` into a writer of its own. With an interval, the
 * result is rendered and kept for the next runs; a failure forgets the last.
 */
async function runCollector(
  db: Database,
  { collector, interval, shape }: Job,
  setting: CollectSetting,
  log: Logger,
  refresh: Refresh,
  parallel: readonly Database[] = [],
): Promise<Ran> {
  const start = performance.now();
  const { options } = setting;
  try {
    if (Date.now() >= setting.collectDeadline) {
      throw new Error('not run: the time budget for collecting was used up');
    }
    const writer = new FamilyWriter(collector.name, collector.families, options.maxSeries);
    await collector.collect({
      db,
      serverVersion: db.serverVersion,
      metrics: writer,
      options,
      ...(parallel.length > 0 ? { parallel } : {}),
      database: setting.connected,
    });
    const durationMs = ms(start);
    // Rendered at once, so that its registry (an object per series) is garbage before the next
    // collector fills its own: the run holds text, a few bytes per series, not every registry.
    const text = await renderPart(writer.registry);
    if (interval === 0) {
      return { outcome: { name: collector.name, ok: true, durationMs }, part: text };
    }
    return {
      outcome: {
        name: collector.name,
        ok: true,
        durationMs,
        ...keep(refresh, collector.name, interval, shape, text, durationMs),
      },
      part: text,
    };
  } catch (error) {
    if (interval > 0) refresh.cache.drop(collector.name);
    return {
      outcome: {
        name: collector.name,
        ok: false,
        durationMs: ms(start),
        error: clip(log.redact(describeError(error))),
        ...(error instanceof SeriesLimitError ? { overLimit: true } : {}),
      },
    };
  }
}

/** Sessions a collector of Collector.ownSession gets: its server work split over two cores. */
export const OWN_SESSIONS = 2;

/**
 * A collector that spends its time on the server (Collector.ownSession), on
 * sessions of its own while the others use the run's: its time overlaps
 * theirs, and its work may be split over them. They are kept like the run's.
 * When none can be opened, the collector runs on the run's session after all.
 */
async function onOwnSession(
  db: Database,
  openOwn: (lane: string) => Promise<Database>,
  job: Job,
  setting: CollectSetting,
  log: Logger,
  refresh: Refresh,
): Promise<Ran> {
  const opened = await Promise.allSettled(
    Array.from({ length: OWN_SESSIONS }, (_, i) => openOwn(`${job.collector.name}#${i}`)),
  );
  const own = opened.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
  const [first, ...parallel] = own;
  try {
    if (first === undefined) return await runCollector(db, job, setting, log, refresh);
    return await runCollector(first, job, setting, log, refresh, parallel);
  } finally {
    await Promise.all(own.map((session) => session.close()));
  }
}

/** Keeps a fresh collection in the cache; `cacheFull` when it did not fit. */
function keep(
  refresh: Refresh,
  name: string,
  interval: number,
  shape: string,
  text: string,
  durationMs: number,
): { cacheFull?: true } {
  const kept = refresh.cache.keep(name, interval, shape, {
    text,
    collectedAt: refresh.now,
    durationMs,
  });
  return kept ? {} : { cacheFull: true };
}

/**
 * The cache entry of the visits' own families (visit_success,
 * databases_not_visited): pushed again with the per-database collectors'
 * cached families, so they do not vanish between refreshes. Not a
 * collector name (those are snake_case words).
 */
const VISITS_ENTRY = '#visits';

/**
 * The due per-database collectors, in one visit per database; each one's
 * families over every database where it worked are pushed, and kept for its
 * interval only when it worked in every one. Without a visit this run (all
 * cached), the last visit's own families are pushed again.
 */
async function perDatabaseParts(
  db: Database,
  due: readonly Collector[],
  perDatabase: readonly Collector[],
  setting: CollectSetting,
  log: Logger,
  refresh: Refresh,
): Promise<{
  outcomes: CollectorOutcome[];
  parts: (Registry | string)[];
  report?: VisitReport;
  reportText?: string;
}> {
  // The visits' families live as long as the shortest interval among the per-database collectors.
  const shortest = Math.min(...perDatabase.map((c) => refresh.intervals.get(c.name) ?? 0));
  if (due.length === 0) {
    const cached =
      perDatabase.length > 0
        ? refresh.cache.reuse(VISITS_ENTRY, shortest, VISITS_ENTRY)
        : undefined;
    return {
      outcomes: [],
      parts: [],
      ...(cached === undefined ? {} : { reportText: cached.text }),
    };
  }
  const visited = await visitAll(db, due, setting, log);
  const outcomes: CollectorOutcome[] = [];
  const parts: (Registry | string)[] = [];
  for (const { registry, ...outcome } of visited.collectors) {
    const interval = refresh.intervals.get(outcome.name) ?? 0;
    if (registry === undefined || interval === 0 || !outcome.ok) {
      if (interval > 0) refresh.cache.drop(outcome.name);
      if (registry !== undefined) parts.push(await renderPart(registry));
      outcomes.push(outcome);
      continue;
    }
    const collector = due.find((c) => c.name === outcome.name);
    const shape = collector === undefined ? '' : shapeOf(collector, setting.options);
    const text = await renderPart(registry);
    parts.push(text);
    outcomes.push({
      ...outcome,
      ...keep(refresh, outcome.name, interval, shape, text, outcome.durationMs),
    });
  }
  if (visited.report === undefined) return { outcomes, parts };
  const reportPart = new Registry();
  recordVisits(reportPart, visited.report);
  const reportText = await renderPart(reportPart);
  if (shortest > 0) {
    refresh.cache.keep(VISITS_ENTRY, shortest, VISITS_ENTRY, {
      text: reportText,
      collectedAt: refresh.now,
      durationMs: 0,
    });
  }
  return { outcomes, parts, report: visited.report, reportText };
}

/** The exposition of one part; empty when it holds no family. */
async function renderPart(part: Registry): Promise<string> {
  return part.getMetricsAsArray().length > 0 ? part.metrics() : '';
}

/**
 * The per-database collectors, once per visited database (src/visits.ts).
 * Listing the databases failing fails each of them, and only them.
 */
async function visitAll(
  db: Database,
  collectors: readonly Collector[],
  setting: CollectSetting,
  log: Logger,
): Promise<{ collectors: VisitedCollector[]; report?: VisitReport }> {
  const describe = (error: unknown) => clip(log.redact(describeError(error)));
  const start = performance.now();
  try {
    return await visitDatabases({
      session: db,
      connected: setting.connected,
      collectors,
      options: setting.options,
      databases: setting.databases,
      open: setting.open,
      deadline: setting.collectDeadline,
      describe,
    });
  } catch (error) {
    const message = `the databases could not be listed: ${describe(error)}`;
    return {
      collectors: collectors.map((c) => ({
        name: c.name,
        ok: false,
        durationMs: ms(start),
        error: message,
      })),
    };
  }
}

/**
 * The exposition of every part, in order, rendered ones as they are. Each
 * family comes from exactly one part (the plan checked it), so nothing can
 * collide here.
 */
async function render(parts: readonly (Registry | string)[]): Promise<string> {
  const texts: string[] = [];
  for (const part of parts) {
    const text = typeof part === 'string' ? part : await renderPart(part);
    if (text !== '') texts.push(text);
  }
  return texts.join('\n');
}

const HASH = '#'.charCodeAt(0);

/** Lines that are neither empty nor comments, counted in place (a split made 40,000 strings at 1,000 databases). */
function countSeries(exposition: string): number {
  let series = 0;
  for (let start = 0; start < exposition.length;) {
    let end = exposition.indexOf('\n', start);
    if (end === -1) end = exposition.length;
    if (end > start && exposition.charCodeAt(start) !== HASH) series += 1;
    start = end + 1;
  }
  return series;
}

/**
 * One run of a plan: credentials and grouping key, connect, collect, render,
 * push (a PUT replacing the group), summary. PostgreSQL down is pushed as
 * `postgresql_up 0`; a push the Pushgateway does not accept, or a secret
 * failure with no way to know the group, rejects, so the invocation fails
 * and Lambda's error metrics see it.
 */
export async function run(runPlan: RunPlan, deps: RunDependencies = {}): Promise<RunSummary> {
  const started = performance.now();
  const { config, target } = runPlan;
  const { pushgateway, remoteWrite } = config;
  const log = deps.log ?? createLogger();
  log.hide(target.postgres.password);
  if (pushgateway.url !== undefined) {
    log.hide(...credentialForms(pushgateway.url, pushgateway.auth));
  }
  if (remoteWrite !== undefined) {
    log.hide(
      ...credentialForms(remoteWrite.url, remoteWrite.auth),
      ...Object.values(remoteWrite.headers),
    );
  }
  const { deadline, collectDeadline } = budget(
    deps.deadline ?? Date.now() + DEFAULT_BUDGET_MS,
    deliveryTimeoutMs(config),
  );
  const secrets = deps.secrets ?? secretsManagerSource();

  // Credentials and the grouping key: the same group for a good run and a down run.
  const { secret, error: secretError } = await readSecret(target, secrets, collectDeadline, log);
  const key = groupingKey(pushgateway.job, target, secret);
  if (key === undefined) {
    const reason = clip(log.redact(describeError(secretError)));
    const error = new SecretError(
      `${reason}; nothing was pushed: the instance label comes from the secret's address, so ` +
        `there is no group to push postgresql_up 0 to (set ${ENV.pushgatewayInstance}, or ` +
        `${ENV.host}, ${ENV.port} and ${ENV.database}, to push it)`,
      { cause: secretError },
    );
    log.error('secret error', { error: error.message });
    throw error;
  }
  const address = resolveTarget(target.postgres, secret);

  const open = opener(runPlan, deps, log);
  const session: Session =
    secretError === undefined
      ? await connectTarget(runPlan, address, open, collectDeadline, log, secrets)
      : { downReason: clip(log.redact(describeError(secretError))) };

  // Remote write stamps every sample with this: when the run found the server answering, or not.
  let collectedAt = (deps.now ?? Date.now)();
  const upPart = new Registry();
  recordUp(upPart, 'db' in session);
  let collected: Collected = { outcomes: [], parts: [], skipped: [], privileges: {}, missing: [] };
  if ('db' in session) {
    // Only an answering server can vouch for cached numbers: a down run pushes none of them.
    const { db } = session;
    const now = (deps.now ?? Date.now)();
    collectedAt = now;
    const refresh: Refresh = {
      cache: (deps.refreshCache ?? processRefreshCache).target(
        refreshKey(pushgateway.url ?? remoteWrite?.url, key, address),
        { version: db.serverVersion, startedAt: db.startedAt },
        now,
      ),
      intervals: runPlan.refreshSeconds,
      now,
    };
    try {
      collected = await collectAll(
        db,
        runPlan.collectors,
        {
          options: collectorOptions(config),
          databases: config.collectors.databases,
          connected: address.database,
          // Not kept: a database is visited once per refresh, not every run.
          open: (database, end) => open({ ...address, database }, end, 0),
          // Not in a fleet: the kept connections of a container are capped (MAX_KEPT_CONNECTIONS),
          // and a second one per target would halve the targets that keep theirs.
          openOwn:
            runPlan.target.postgres.keepConnectionSeconds > 0 && config.fleet === undefined
              ? (lane) =>
                  open(
                    address,
                    collectDeadline,
                    runPlan.target.postgres.keepConnectionSeconds,
                    lane,
                  )
              : undefined,
          collectDeadline,
        },
        log,
        refresh,
      );
    } finally {
      await session.db.close();
    }
  }
  const lastDeliveries = deps.lastDeliveries ?? processLastDeliveries;
  const group = JSON.stringify([key.job, Object.entries(key.labels)]);
  const selfPart = new Registry();
  recordSelfMetrics(selfPart, {
    collectors: collected.outcomes,
    privileges: collected.privileges,
    runDurationMs: performance.now() - started,
    // Only beside remote write: a Pushgateway alone already keeps
    // push_time_seconds and push_failure_time_seconds, and its series stay as they were.
    ...(config.remoteWrite === undefined ? {} : { lastDeliveries: lastDeliveries.get(group) }),
  });
  const body = redactPushed(
    await render([upPart, ...collected.parts, selfPart, collected.visitsText ?? '']),
    log,
  );

  const summaryBase = {
    up: 'db' in session,
    ...('downReason' in session ? { downReason: session.downReason } : {}),
    ...('db' in session ? { serverVersion: session.db.serverVersion } : {}),
    instance: key.labels.instance ?? '',
    ...sinkUrls(config),
    job: key.job,
    series: countSeries(body),
    bytes: Buffer.byteLength(body),
    collectorErrors: collected.outcomes.filter((o) => !o.ok).length,
    collectors: collected.outcomes,
    skipped: collected.skipped,
    missingPrivileges: collected.missing,
    ...(collected.visits === undefined ? {} : { databases: databasesSummary(collected.visits) }),
  };
  const delivered = await deliverToSinks(config, { key, body, collectedAt, deadline }, log, deps);
  lastDeliveries.set(group, delivered.outcomes);
  deps.onDelivered?.(delivered.outcomes);
  const summary: RunSummary = {
    ...summaryBase,
    sinks: delivered.outcomes,
    durationMs: ms(started),
  };
  if (delivered.errors.length > 0) {
    const failure = scrubbed(deliveryError(delivered.outcomes, delivered.errors), log);
    log.error('push failed', { ...summary, error: describeError(failure) });
    throw failure;
  }
  log.info('run', { ...summary });
  return summary;
}

/** The collectors' settings, from the configuration. */
function collectorOptions(config: RunPlan['config']): CollectorOptions {
  const { collectors } = config;
  return {
    statementsLimit: collectors.statementsLimit,
    maxSeries: collectors.maxSeries,
    tablesLimit: collectors.tablesLimit,
    indexesLimit: collectors.indexesLimit,
  };
}

/**
 * The error as thrown to the caller (Lambda prints it): its message and
 * stack redacted and cut, like every other text that leaves the process.
 */
function scrubbed(error: unknown, log: Logger): unknown {
  if (!(error instanceof Error)) return new Error(clip(log.redact(String(error))));
  error.message = clip(log.redact(error.message));
  if (error.stack !== undefined) error.stack = clip(log.redact(error.stack), 8_000);
  return error;
}

/**
 * The last guard on what leaves: a known secret in the pushed text is
 * replaced. Only secrets long enough not to be a real label value (a
 * database named like a short password) are searched for.
 */
function redactPushed(body: string, log: Logger): string {
  return log.redact(body, MIN_PUSH_REDACT_CHARS);
}
