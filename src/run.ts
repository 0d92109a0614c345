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
import { recordSelfMetrics } from './collectors/self.js';
import { supports, type Collector, type CollectorOptions } from './collectors/types.js';
import { ENV, environmentSecrets, type Env } from './config.js';
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
import { credentialForms, deliver, displayUrl, type Delivery } from './pushgateway.js';
import { secretsManagerSource, type SecretSource } from './secrets.js';
import {
  groupingKey,
  resolveTarget,
  type DatabaseSecret,
  type GroupingKey,
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
}

/** What one run did; returned by the handler and logged as one JSON line. */
export interface RunSummary {
  readonly up: boolean;
  /** Why postgresql_up is 0, when it is. */
  readonly downReason?: string;
  readonly serverVersion?: number;
  readonly instance: string;
  readonly pushgateway: string;
  readonly job: string;
  readonly series: number;
  readonly bytes: number;
  readonly collectorErrors: number;
  readonly collectors: readonly CollectorOutcome[];
  /** Enabled collectors this server's version does not support. */
  readonly skipped: readonly string[];
  /** Predefined roles whose privileges the role lacks and an enabled collector needs. */
  readonly missingPrivileges: readonly Privilege[];
  readonly durationMs: number;
}

export interface RunDependencies {
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
  /** Delivers the rendered body (default: PUT to the Pushgateway, retried). */
  readonly deliver?: (delivery: Delivery) => Promise<void>;
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

async function connectTarget(
  runPlan: RunPlan,
  address: PostgresTarget,
  deps: RunDependencies,
  collectDeadline: number,
  log: Logger,
  secrets: SecretSource,
): Promise<Session> {
  const { postgres } = runPlan.target;
  const { iamAuth } = postgres;
  // With IAM auth, a fresh token (they live 15 minutes) for each new connection.
  const token =
    iamAuth === undefined
      ? undefined
      : async () => {
          const password = await iamPassword(address, iamAuth.region);
          log.hide(password);
          return password;
        };
  try {
    const db = await (deps.connect ?? openSession)(
      address,
      { ...postgres, deadline: collectDeadline, keepSeconds: postgres.keepConnectionSeconds },
      token,
    );
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
  readonly parts: Registry[];
  readonly skipped: string[];
  readonly privileges: Partial<Record<Privilege, boolean>>;
  readonly missing: Privilege[];
}

/**
 * Runs every collector the server supports, each into a writer of its own
 * that is rendered only if the collector succeeds. A collector that needs a
 * privilege the role lacks is not run: it would report less than there is.
 */
async function collectAll(
  db: Database,
  collectors: readonly Collector[],
  options: CollectorOptions,
  collectDeadline: number,
  log: Logger,
): Promise<Collected> {
  const version = db.serverVersion;
  const runnable = collectors.filter((c) => supports(c, version));
  const needed = PRIVILEGES.filter((p) => runnable.some((c) => c.needs?.includes(p)));
  const privileges: Partial<Record<Privilege, boolean>> = {};
  for (const privilege of needed) privileges[privilege] = db.privileges[privilege];
  const missing = needed.filter((p) => !db.privileges[p]);
  const outcomes: CollectorOutcome[] = [];
  const parts: Registry[] = [];
  for (const collector of runnable) {
    const start = performance.now();
    const lacking = collector.needs?.filter((p) => missing.includes(p)) ?? [];
    try {
      if (lacking.length > 0) {
        throw new Error(
          `not run: the role lacks the privileges of ${lacking.join(', ')} (GRANT pg_monitor ` +
            "TO the exporter's role); without them it would see only the role's own sessions",
        );
      }
      if (Date.now() >= collectDeadline) {
        throw new Error('not run: the time budget for collecting was used up');
      }
      const writer = new FamilyWriter(collector.name, collector.families, options.maxSeries);
      await collector.collect({ db, serverVersion: version, metrics: writer, options });
      parts.push(writer.registry);
      outcomes.push({ name: collector.name, ok: true, durationMs: ms(start) });
    } catch (error) {
      outcomes.push({
        name: collector.name,
        ok: false,
        durationMs: ms(start),
        error: clip(log.redact(describeError(error))),
        ...(error instanceof SeriesLimitError ? { overLimit: true } : {}),
      });
    }
  }
  return {
    outcomes,
    parts,
    skipped: collectors.filter((c) => !supports(c, version)).map((c) => c.name),
    privileges,
    missing,
  };
}

/**
 * The exposition of every part, in order. Each family comes from exactly one
 * part (the plan checked it), so nothing can collide here.
 */
async function render(parts: readonly Registry[]): Promise<string> {
  const texts: string[] = [];
  for (const part of parts) {
    if (part.getMetricsAsArray().length > 0) texts.push(await part.metrics());
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
  const { pushgateway } = config;
  const log = deps.log ?? createLogger();
  log.hide(target.postgres.password, ...credentialForms(pushgateway.url, pushgateway.auth));
  const { deadline, collectDeadline } = budget(
    deps.deadline ?? Date.now() + DEFAULT_BUDGET_MS,
    pushgateway.timeoutMs,
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

  const session: Session =
    secretError === undefined
      ? await connectTarget(runPlan, address, deps, collectDeadline, log, secrets)
      : { downReason: clip(log.redact(describeError(secretError))) };

  const upPart = new Registry();
  recordUp(upPart, 'db' in session);
  let collected: Collected = { outcomes: [], parts: [], skipped: [], privileges: {}, missing: [] };
  if ('db' in session) {
    try {
      collected = await collectAll(
        session.db,
        runPlan.collectors,
        {
          statementsLimit: config.collectors.statementsLimit,
          maxSeries: config.collectors.maxSeries,
        },
        collectDeadline,
        log,
      );
    } finally {
      await session.db.close();
    }
  }
  const selfPart = new Registry();
  recordSelfMetrics(selfPart, {
    collectors: collected.outcomes,
    privileges: collected.privileges,
    runDurationMs: performance.now() - started,
  });
  const body = redactPushed(await render([upPart, ...collected.parts, selfPart]), log);

  const summaryBase = {
    up: 'db' in session,
    ...('downReason' in session ? { downReason: session.downReason } : {}),
    ...('db' in session ? { serverVersion: session.db.serverVersion } : {}),
    instance: key.labels.instance ?? '',
    pushgateway: displayUrl(pushgateway.url),
    job: key.job,
    series: countSeries(body),
    bytes: Buffer.byteLength(body),
    collectorErrors: collected.outcomes.filter((o) => !o.ok).length,
    collectors: collected.outcomes,
    skipped: collected.skipped,
    missingPrivileges: collected.missing,
  };
  try {
    await push(runPlan, key, body, deadline, deps);
  } catch (error) {
    const failure = scrubbed(error, log);
    log.error('push failed', {
      ...summaryBase,
      durationMs: ms(started),
      error: describeError(failure),
    });
    throw failure;
  }
  const summary: RunSummary = { ...summaryBase, durationMs: ms(started) };
  log.info('run', { ...summary });
  return summary;
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

function push(
  runPlan: RunPlan,
  key: GroupingKey,
  body: string,
  deadline: number,
  deps: RunDependencies,
): Promise<void> {
  const { pushgateway } = runPlan.config;
  return (deps.deliver ?? deliver)({
    url: pushgateway.url,
    key,
    body,
    timeoutMs: pushgateway.timeoutMs,
    deadline,
    auth: pushgateway.auth,
    caFile: pushgateway.caFile,
  });
}
