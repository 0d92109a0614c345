/**
 * npm run soak [-- --runs N] [--quick]   (default N = 10000; --quick = 300)
 *
 * Memory and connection soak of a warm Lambda container: one Node process
 * invokes `collect(env)` N times in a row against a real, throwaway
 * PostgreSQL (embedded default major; the servers of bench/lib.mts, so with
 * pg_stat_statements preloaded) and a real Pushgateway on loopback, and
 * checks that it neither grows nor leaks connections:
 *   - RSS and heapUsed after a warm-up of 100 runs ("start", after gc()), at
 *     the end ("end", after gc()), and the peak RSS over every run;
 *   - runs that threw, or returned up=false or collectorErrors > 0;
 *   - connections in pg_stat_activity with the run's application_name: at
 *     most those kept between runs (the run's, and database_size's two) at
 *     every checkpoint, and
 *     none after closeKeptConnection() at the end;
 *   - per-run wall time (mean, p50, p99 over all N runs).
 * Prints PASS, or FAIL and exits 1 when RSS grew more than 10 % (end vs
 * start), more connections than are kept were open at a checkpoint, one
 * was left over after closing the kept ones, or any run failed. The servers are
 * stopped and their temp dirs removed also on error and Ctrl-C.
 *
 * Run with --expose-gc (the npm script does) so the start/end samples are
 * taken after a full collection.
 */
import { silentLogger } from '../src/logger.js';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import { closeKeptConnection, collect, OWN_SESSIONS } from '../src/run.js';
import { parseArgv, runToEnd, startBenchServers, type BenchServers } from './lib.mjs';
import { DEFAULT_MAJOR, embeddedBinDir } from '../test/harness/postgres.js';

const WARM_UP = 100;
const MAX_GROWTH_PERCENT = 10;
const CHECKPOINTS = 10;
/** Connections a warm process keeps for one target: the run's, and database_size's own. */
const KEPT_AT_MOST = 1 + OWN_SESSIONS;

function parseRuns(argv: readonly string[]): number {
  let runs = 10_000;
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    if (arg === '--quick') runs = 300;
    else if (arg === '--runs' || arg.startsWith('--runs=')) {
      const value = arg === '--runs' ? argv[(i += 1)] : arg.slice('--runs='.length);
      runs = Number(value);
      if (!Number.isInteger(runs) || runs <= WARM_UP) {
        throw new Error(`--runs must be an integer above the warm-up of ${WARM_UP}`);
      }
    } else {
      throw new Error(`unknown argument ${arg}; usage: npm run soak -- [--runs N] [--quick]`);
    }
  }
  return runs;
}

const MB = 1024 * 1024;
const mb = (bytes: number) => (bytes / MB).toFixed(1);
const gc = (globalThis as { gc?: () => void }).gc;

interface Sample {
  readonly run: number;
  readonly rss: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly handles: number;
  readonly connections: number;
  readonly segmentMeanMs: number;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)]!;
}

async function countConnections(admin: pg.Client, applicationName: string): Promise<number> {
  const result = await admin.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1',
    [applicationName],
  );
  return result.rows[0]?.n ?? -1;
}

/** Connections left after the last run; a closed backend may take a moment to leave the view. */
async function leftoverConnections(admin: pg.Client, applicationName: string): Promise<number> {
  const deadline = Date.now() + 2_000;
  for (;;) {
    const n = await countConnections(admin, applicationName);
    if (n === 0 || Date.now() > deadline) return n;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A few databases with tables and rows, so the per-database families have work. */
async function createDatabases({ admin, postgres }: BenchServers): Promise<string[]> {
  const names = ['soak_shop', 'soak_billing', 'soak_auth', 'soak_reports'];
  for (const name of names) await admin.query(`CREATE DATABASE ${name}`);
  for (const name of names) {
    const db = await postgres.client(name);
    try {
      for (const table of ['orders', 'customers', 'events']) {
        await db.query(`CREATE TABLE ${table} (id serial PRIMARY KEY, payload text, n numeric)`);
        await db.query(
          `INSERT INTO ${table} (payload, n) SELECT md5(g::text), random() * 100 FROM generate_series(1, 2000) g`,
        );
        await db.query(`CREATE INDEX ON ${table} (payload)`);
        await db.query(`SELECT count(*) FROM ${table} WHERE n > 50`);
      }
      await db.query('ANALYZE');
    } finally {
      await db.end();
    }
  }
  return names;
}

function sample(run: number, connections: number, segmentMeanMs: number): Sample {
  gc?.();
  const usage = process.memoryUsage();
  return {
    run,
    rss: usage.rss,
    heapUsed: usage.heapUsed,
    external: usage.external,
    handles: process.getActiveResourcesInfo().length,
    connections,
    segmentMeanMs,
  };
}

async function main(servers: BenchServers, runs: number): Promise<number> {
  const { admin, postgres, pushgateway } = servers;
  const silent = silentLogger();
  const applicationName = `soak-${process.pid}-${randomBytes(4).toString('hex')}`;

  const version =
    (await admin.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]
      ?.v ?? '?';
  const databases = await createDatabases(servers);

  console.log(
    `node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'} x${os.availableParallelism()}, gc ${gc === undefined ? 'not exposed' : 'exposed'}`,
  );
  console.log(
    `PostgreSQL ${version} on ${postgres.host}:${postgres.port} (databases ${databases.join(', ')}), Pushgateway ${pushgateway.url}`,
  );
  console.log(
    `${runs} sequential runs of collect() in one process, warm-up ${WARM_UP}, application_name ${applicationName}\n`,
  );

  // The superuser (not servers.env's pg_monitor role), in the first soak database, with the
  // run's application_name (to count its connections) and the example business collector on.
  const env = {
    POSTGRESQL_HOST: postgres.host,
    POSTGRESQL_PORT: String(postgres.port),
    POSTGRESQL_DATABASE: databases[0],
    POSTGRESQL_USERNAME: postgres.user,
    POSTGRESQL_PASSWORD: postgres.password,
    POSTGRESQL_SSL: 'false',
    POSTGRESQL_APPLICATION_NAME: applicationName,
    PUSHGATEWAY_URL: pushgateway.url,
    PUSHGATEWAY_JOB: 'soak',
    COLLECTORS_ENABLE: 'business_user_tables',
  };

  const durations: number[] = [];
  let failed = 0;
  const failures = new Map<string, number>();
  const fail = (reason: string) => {
    failed += 1;
    failures.set(reason, (failures.get(reason) ?? 0) + 1);
  };
  let peakRss = process.memoryUsage.rss();
  let series = 0;
  let bytes = 0;
  const samples: Sample[] = [];
  const every = Math.max(1, Math.floor((runs - WARM_UP) / CHECKPOINTS));
  let segmentStart = 0;
  const started = performance.now();

  for (let run = 1; run <= runs; run += 1) {
    if (servers.interrupted()) return 130;
    const t0 = performance.now();
    try {
      const summary = await collect(env, { log: silent });
      if (!summary.up) fail(`up=false: ${summary.downReason ?? '?'}`);
      else if (summary.collectorErrors > 0) {
        const errors = summary.collectors.filter((c) => !c.ok).map((c) => `${c.name}: ${c.error}`);
        fail(`collectorErrors: ${errors.join('; ')}`);
      }
      series = summary.series;
      bytes = summary.bytes;
    } catch (error) {
      fail(`threw: ${error instanceof Error ? error.message : String(error)}`);
    }
    durations.push(performance.now() - t0);
    peakRss = Math.max(peakRss, process.memoryUsage.rss());

    const checkpoint =
      run === WARM_UP || run === runs || (run > WARM_UP && (run - WARM_UP) % every === 0);
    if (checkpoint && !samples.some((s) => s.run === run)) {
      const segment = durations.slice(segmentStart);
      const segmentMean = segment.reduce((a, b) => a + b, 0) / segment.length;
      segmentStart = durations.length;
      samples.push(sample(run, await countConnections(admin, applicationName), segmentMean));
    }
  }
  const elapsedS = (performance.now() - started) / 1000;
  const mostOpen = Math.max(...samples.map((s) => s.connections));
  await closeKeptConnection();
  const leftover = await leftoverConnections(admin, applicationName);

  const start = samples[0]!;
  const end = samples[samples.length - 1]!;
  const growth = ((end.rss - start.rss) / start.rss) * 100;
  const sorted = [...durations].sort((a, b) => a - b);
  const mean = durations.reduce((a, b) => a + b, 0) / durations.length;

  console.log('     run   rss MB  heapUsed MB  external MB  handles  conns  mean ms (since last)');
  for (const s of samples) {
    console.log(
      [
        String(s.run).padStart(8),
        mb(s.rss).padStart(8),
        mb(s.heapUsed).padStart(12),
        mb(s.external).padStart(12),
        String(s.handles).padStart(8),
        String(s.connections).padStart(6),
        s.segmentMeanMs.toFixed(2).padStart(21),
      ].join(' '),
    );
  }
  console.log(
    `\nlast run: ${series} series, ${bytes} bytes pushed; ${elapsedS.toFixed(1)} s in all (${(runs / elapsedS).toFixed(1)} runs/s)`,
  );
  for (const [reason, count] of failures) console.log(`failure x${count}: ${reason}`);
  console.log('');
  console.log(
    `rss start=${mb(start.rss)}MB end=${mb(end.rss)}MB peak=${mb(peakRss)}MB growth=${growth.toFixed(1)}%`,
  );
  console.log(`heap start=${mb(start.heapUsed)}MB end=${mb(end.heapUsed)}MB`);
  console.log(
    `connections open at checkpoints: at most ${mostOpen}; after closing the kept ones: ${leftover}`,
  );
  console.log(
    `runs=${runs} failed=${failed} mean=${mean.toFixed(2)}ms p50=${percentile(sorted, 50).toFixed(2)}ms p99=${percentile(sorted, 99).toFixed(2)}ms`,
  );

  const problems: string[] = [];
  if (growth > MAX_GROWTH_PERCENT)
    problems.push(`RSS grew ${growth.toFixed(1)}% (> ${MAX_GROWTH_PERCENT}%)`);
  if (mostOpen > KEPT_AT_MOST) {
    problems.push(
      `${mostOpen} connections open at once (${KEPT_AT_MOST} are kept at most: the run's, the sizes' two)`,
    );
  }
  if (leftover !== 0) problems.push(`${leftover} connection(s) left over`);
  if (failed > 0) problems.push(`${failed} run(s) failed`);
  for (const problem of problems) console.log(`problem: ${problem}`);
  console.log(problems.length === 0 ? 'PASS' : 'FAIL');
  return problems.length === 0 ? 0 : 1;
}

const runs = parseArgv(parseRuns);
const servers = await startBenchServers({ binDir: embeddedBinDir(DEFAULT_MAJOR) });
await runToEnd(servers, () => main(servers, runs));
