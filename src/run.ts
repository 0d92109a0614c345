import { performance } from 'node:perf_hooks';
import { Registry } from 'prom-client';
import { selectCollectors } from './collectors/index.js';
import { recordSelfMetrics } from './collectors/self.js';
import { recordUp } from './collectors/general/up.js';
import { supports, type Collector, type CollectorOptions } from './collectors/types.js';
import {
  ENV,
  loadConfig,
  resolveTarget,
  type Config,
  type DatabaseSecret,
  type Env,
  type PostgresTarget,
  type PushgatewayConfig,
} from './config.js';
import { openSession, type Database } from './db.js';
import { budget, DEFAULT_BUDGET_MS, retry, within } from './budget.js';
import { ConfigError, PushError, errorMessage } from './errors.js';
import { iamPassword } from './iam.js';
import { CustomQueriesError, loadCustomQueries } from './custom_queries.js';
import { jsonLogger, redact, type Logger } from './logger.js';
import { displayUrl, isCertificateError, push } from './pushgateway.js';
import { secretsManagerSource, type SecretSource } from './secrets.js';

/** Closes the connection kept between runs (scripts, tests): from here, so it is the one collect() used. */
export { closeKeptConnection } from './db.js';

export interface CollectorOutcome {
  readonly name: string;
  readonly ok: boolean;
  readonly durationMs: number;
  readonly error?: string;
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
  readonly durationMs: number;
}

export interface RunDependencies {
  readonly secrets?: SecretSource;
  readonly collectors?: readonly Collector[];
  readonly log?: Logger;
  /**
   * Epoch ms by which the run must end; on Lambda from the invocation's
   * remaining time. Default: DEFAULT_BUDGET_MS from now.
   */
  readonly deadline?: number;
}

const ms = (start: number) => Math.round((performance.now() - start) * 10) / 10;

/** A readable reason from a connection error (Node's AggregateError has an empty message). */
function describe(error: unknown): string {
  const message = errorMessage(error);
  if (message !== '') return message;
  if (error instanceof AggregateError) {
    const inner = error.errors.map(errorMessage).filter((m) => m !== '');
    if (inner.length > 0) return inner.join('; ');
  }
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'unknown error';
}

/** How long reading the secret may take at most (the SDK retries throttling inside it). */
const SECRET_TIMEOUT_MS = 5_000;

/** A push failure that another attempt may get past: no answer, 5xx, or 429; not a bad certificate. */
function retryablePush(error: unknown): boolean {
  // A certificate refused now is refused on every attempt.
  if (!(error instanceof PushError) || isCertificateError(error)) return false;
  return error.status === undefined || error.status >= 500 || error.status === 429;
}

/**
 * Whether the `instance` grouping label can be had without the secret (so a
 * secret failure can still be pushed as postgresql_up 0): PUSHGATEWAY_INSTANCE
 * or POSTGRESQL_HOST is set.
 */
function groupKnownWithoutSecret(config: Config): boolean {
  return config.pushgateway.instance !== undefined || config.postgres.host !== undefined;
}

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
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !UNTRUSTED_CHAIN.has(code) || target.sslRootCert !== undefined) {
    return '';
  }
  return ` (set ${ENV.sslRootCert} to the server's CA bundle, e.g. the RDS global bundle; see README, Security)`;
}

/** The Pushgateway credentials, kept out of every log line. */
function pushgatewaySecrets(config: Config): string[] {
  const { auth, url } = config.pushgateway;
  const secrets = [decodeURIComponent(url.password)];
  if (auth?.kind === 'basic') secrets.push(auth.password);
  if (auth?.kind === 'bearer') secrets.push(auth.token);
  return secrets.filter((secret) => secret !== '');
}

/** PostgreSQL's SQLSTATE for a refused password. */
const INVALID_PASSWORD = '28P01';

async function runCollectors(
  db: Database,
  collectors: readonly Collector[],
  options: CollectorOptions,
  collectDeadline: number,
  redactText: (text: string) => string,
): Promise<{ outcomes: CollectorOutcome[]; registries: Registry[] }> {
  const outcomes: CollectorOutcome[] = [];
  const registries: Registry[] = [];
  /** Metric name → the collector that pushed it: two collectors may not push one family. */
  const owners = new Map<string, string>();
  for (const collector of collectors) {
    const start = performance.now();
    // Each collector writes to a registry of its own, merged only on success:
    // a collector that fails half-way pushes nothing rather than half a family.
    const registry = new Registry();
    try {
      if (Date.now() >= collectDeadline) {
        throw new Error('not run: the time budget for collecting was used up');
      }
      await collector.collect({ db, serverVersion: db.serverVersion, registry, options });
      const names = registry.getMetricsAsArray().map((m) => m.name);
      const taken = names.find((name) => owners.has(name));
      if (taken !== undefined) {
        throw new Error(
          `metric ${taken} is already pushed by collector ${owners.get(taken) ?? '?'}`,
        );
      }
      for (const name of names) owners.set(name, collector.name);
      registries.push(registry);
      outcomes.push({ name: collector.name, ok: true, durationMs: ms(start) });
    } catch (error) {
      outcomes.push({
        name: collector.name,
        ok: false,
        durationMs: ms(start),
        error: redactText(describe(error)),
      });
    }
  }
  return { outcomes, registries };
}

function countSeries(exposition: string): number {
  let series = 0;
  for (const line of exposition.split('\n')) {
    if (line !== '' && !line.startsWith('#')) series += 1;
  }
  return series;
}

/** What a run collected, before it is pushed. */
export interface Gathered {
  /** The exposition (Prometheus text format) of every family collected. */
  readonly body: string;
  readonly up: boolean;
  readonly downReason?: string;
  readonly serverVersion?: number;
  readonly target: PostgresTarget;
  readonly collectors: readonly CollectorOutcome[];
  readonly skipped: readonly string[];
  /** Secrets of this run, for the log's redaction. */
  readonly secrets: readonly (string | undefined)[];
}

/**
 * Connects, runs every collector into a fresh registry and closes. PostgreSQL
 * being down or refusing the login is a result (`up` false), not an error.
 */
export async function gather(config: Config, deps: RunDependencies = {}): Promise<Gathered> {
  const started = performance.now();
  const { postgres } = config;
  const { collectDeadline } = budget(
    deps.deadline ?? Date.now() + DEFAULT_BUDGET_MS,
    config.pushgateway.timeoutMs,
  );
  const collectors = deps.collectors ?? collectorsFor(config);
  const options = { statementsLimit: config.collectors.statementsLimit };
  const secrets = deps.secrets ?? secretsManagerSource();
  const hide: (string | undefined)[] = [postgres.password];
  let secret: DatabaseSecret | undefined;
  let downReason: string | undefined;
  if (postgres.secretId !== undefined) {
    try {
      secret = await secrets.get(postgres.secretId, {
        timeoutMs: within(SECRET_TIMEOUT_MS, collectDeadline),
      });
    } catch (error) {
      // Without the secret there is no connection. If the group is known without
      // it, that is pushed as postgresql_up 0; if not, nothing can be pushed.
      if (!groupKnownWithoutSecret(config)) {
        (deps.log ?? jsonLogger(() => hide)).error('secret error', { error: describe(error) });
        throw error;
      }
      downReason = describe(error);
    }
  }
  const target = resolveTarget(postgres, secret);
  hide.push(target.password);
  const redactText = (text: string) => redact(text, hide);

  let db: Database | undefined;
  try {
    if (downReason !== undefined) throw new Error(downReason);
    const { iamAuth } = postgres;
    // With IAM auth, a fresh token (they live 15 minutes) for each new connection;
    // a secret like a password.
    const token =
      iamAuth === undefined
        ? undefined
        : async () => {
            const password = await iamPassword(target, iamAuth.region);
            hide.push(password);
            return password;
          };
    db = await openSession(
      target,
      { ...postgres, deadline: collectDeadline, keepSeconds: postgres.keepConnectionSeconds },
      token,
    );
  } catch (error) {
    // An unusable CA file is a configuration error: fail, naming the variable.
    if (error instanceof ConfigError) throw error;
    downReason = redactText(describe(error)) + tlsHint(error, target);
    const code = (error as { code?: unknown } | null)?.code;
    // A rotated secret: fetch it afresh on the next run.
    if (code === INVALID_PASSWORD && postgres.secretId !== undefined) {
      secrets.invalidate(postgres.secretId);
    }
  }

  const upRegistry = new Registry();
  recordUp(upRegistry, db !== undefined);
  const registries = [upRegistry];
  let outcomes: CollectorOutcome[] = [];
  let skipped: string[] = [];
  const serverVersion = db?.serverVersion;
  if (db !== undefined) {
    const version = db.serverVersion;
    skipped = collectors.filter((c) => !supports(c, version)).map((c) => c.name);
    try {
      const runnable = collectors.filter((c) => supports(c, version));
      const result = await runCollectors(db, runnable, options, collectDeadline, redactText);
      outcomes = result.outcomes;
      registries.push(...result.registries);
    } finally {
      await db.close();
    }
  }
  const selfRegistry = new Registry();
  recordSelfMetrics(selfRegistry, outcomes, performance.now() - started);
  registries.push(selfRegistry);
  return {
    body: await Registry.merge(registries).metrics(),
    up: db !== undefined,
    ...(downReason === undefined ? {} : { downReason }),
    ...(serverVersion === undefined ? {} : { serverVersion }),
    target,
    collectors: outcomes,
    skipped,
    secrets: hide,
  };
}

/** The `instance` grouping label: PUSHGATEWAY_INSTANCE, else `host:port/database`. */
export function instanceLabel(pushgateway: PushgatewayConfig, target: PostgresTarget): string {
  return pushgateway.instance ?? `${target.host}:${target.port}/${target.database}`;
}

/**
 * One run: gather every family, then push it to the Pushgateway, replacing
 * the group (HTTP PUT). A push the Pushgateway does not accept rejects with a
 * PushError, so the invocation fails and Lambda's error metrics see it.
 */
export async function runOnce(config: Config, deps: RunDependencies = {}): Promise<RunSummary> {
  const started = performance.now();
  const { pushgateway } = config;
  const deadline = deps.deadline ?? Date.now() + DEFAULT_BUDGET_MS;
  const gathered = await gather(config, { ...deps, deadline });
  const log = deps.log ?? jsonLogger(() => [...gathered.secrets, ...pushgatewaySecrets(config)]);
  const instance = instanceLabel(pushgateway, gathered.target);
  const summaryBase = {
    up: gathered.up,
    ...(gathered.downReason === undefined ? {} : { downReason: gathered.downReason }),
    ...(gathered.serverVersion === undefined ? {} : { serverVersion: gathered.serverVersion }),
    instance,
    pushgateway: displayUrl(pushgateway.url),
    job: pushgateway.job,
    series: countSeries(gathered.body),
    bytes: Buffer.byteLength(gathered.body),
    collectorErrors: gathered.collectors.filter((o) => !o.ok).length,
    collectors: gathered.collectors,
    skipped: gathered.skipped,
  };

  try {
    // Connection errors, timeouts and 5xx are retried while the budget lasts;
    // a 4xx (a refused request) would be refused again.
    await retry(
      (timeoutMs) =>
        push({
          url: pushgateway.url,
          job: pushgateway.job,
          labels: { instance, ...pushgateway.labels },
          body: gathered.body,
          timeoutMs: Math.min(pushgateway.timeoutMs, timeoutMs),
          auth: pushgateway.auth,
          caFile: pushgateway.caFile,
        }),
      { deadline, retryable: retryablePush },
    );
  } catch (error) {
    log.error('push failed', { ...summaryBase, durationMs: ms(started), error: describe(error) });
    throw error;
  }
  const summary: RunSummary = { ...summaryBase, durationMs: ms(started) };
  log.info('run', { ...summary });
  return summary;
}

/**
 * The collectors a run executes: the built-in ones the switches select, then
 * one per query of the custom-queries file. A bad file is a ConfigError.
 */
export function collectorsFor(config: Config): Collector[] {
  const builtIn = selectCollectors(config.collectors.enable, config.collectors.disable);
  const file = config.collectors.customQueriesFile;
  if (file === undefined) return builtIn;
  try {
    return [...builtIn, ...loadCustomQueries(file)];
  } catch (error) {
    if (error instanceof CustomQueriesError)
      throw new ConfigError(ENV.customQueriesFile, error.message);
    throw error;
  }
}

/** Reads the configuration from `env` and runs once; the handler's whole body. */
export async function collect(env: Env, deps: RunDependencies = {}): Promise<RunSummary> {
  let config: Config;
  let collectors: readonly Collector[];
  try {
    config = loadConfig(env);
    collectors = deps.collectors ?? collectorsFor(config);
  } catch (error) {
    (deps.log ?? jsonLogger()).error('configuration error', { error: errorMessage(error) });
    throw error;
  }
  return runOnce(config, { ...deps, collectors });
}
