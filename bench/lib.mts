/** What the benchmark scripts share: the bundle, the servers and their clean-up. */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { build } from 'esbuild';
import type pg from 'pg';
import { startPostgres, type PostgresServer } from '../test/harness/postgres.js';
import { startPushgateway, type PushgatewayServer } from '../test/harness/pushgateway.js';

/**
 * Bundles handlers/collect.ts into `outfile` with the esbuild options of
 * serverless.yml (custom.esbuild): the code the Lambda runs. `external`
 * adds packages left out of the bundle.
 */
/** Taken from the Lambda runtime, not bundled (serverless.yml, custom.esbuild.exclude). */
export const FLEET_SDK_CLIENTS = ['@aws-sdk/client-rds', '@aws-sdk/client-lambda'];

/**
 * Left out of the bundle and not shipped (serverless.yml, custom.esbuild.exclude):
 * protobufjs loads `long` only if it can, and remote write needs none of it.
 */
export const NOT_SHIPPED = ['long'];

export async function bundleHandler(
  outfile: string,
  external: readonly string[] = [],
  entry = 'handlers/collect.ts',
): Promise<void> {
  await build({
    entryPoints: [entry],
    bundle: true,
    minify: true,
    keepNames: true,
    sourcemap: true,
    target: 'node22',
    platform: 'node',
    format: 'cjs',
    // As serverless.yml's `exclude`: the fleet's SDK clients come from the Lambda runtime.
    external: ['pg-native', ...FLEET_SDK_CLIENTS, ...NOT_SHIPPED, ...external],
    outfile,
    logLevel: 'error',
  });
}

export const median = (values: readonly number[]): number => {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

export interface BenchServers {
  readonly postgres: PostgresServer;
  readonly pushgateway: PushgatewayServer;
  /** A superuser connection to `postgres`, for set-up and measurements. */
  readonly admin: pg.Client;
  /** The server log (log_connections lines when `settings` turned it on). */
  readonly logFile: string;
  /** collect()'s environment: a pg_monitor-only role, no TLS, the Pushgateway. */
  readonly env: Record<string, string>;
  /** Creates a LOGIN role in pg_monitor with a random password. */
  role(name: string): Promise<{ user: string; password: string }>;
  /** Adds databases bench_db_<i> until there are `count` of them. */
  growDatabases(from: number, count: number): Promise<void>;
  /** A temp dir removed at shutdown. */
  tempDir(prefix: string): string;
  /** Runs `stop` at shutdown, before the servers stop (an extra process). */
  onShutdown(stop: () => Promise<void>): void;
  /** Whether SIGINT/SIGTERM arrived. */
  interrupted(): boolean;
  /** Stops everything, removes every temp dir, lets stdout drain and exits with `code`. */
  shutdown(code: number): Promise<never>;
}

export interface BenchServerOptions {
  readonly binDir: string;
  readonly settings?: Readonly<Record<string, string>>;
  /** The role `env` connects as; default bench_pushgateway_exporter. */
  readonly role?: string;
}

/**
 * Starts PostgreSQL (pg_stat_statements preloaded and created) and a
 * Pushgateway on loopback. SIGINT/SIGTERM, an error and the normal end all
 * go through one shutdown() that leaves no process or temp dir behind, also
 * when a server is still starting.
 */
export async function startBenchServers(options: BenchServerOptions): Promise<BenchServers> {
  const state = { interrupted: false };
  const tempDirs: string[] = [];
  const extraStops: (() => Promise<void>)[] = [];
  let admin: pg.Client | undefined;
  let cleanup: Promise<void> | undefined;

  const stopAll = (): Promise<void> => {
    cleanup ??= (async () => {
      await admin?.end().catch(() => undefined);
      await Promise.allSettled(extraStops.map((stop) => stop()));
      const started = await Promise.allSettled([postgresStart, pushgatewayStart]);
      const dirs = [...tempDirs];
      const stops: Promise<void>[] = [];
      for (const result of started) {
        if (result.status !== 'fulfilled') continue;
        const server = result.value;
        dirs.push('dataDir' in server ? path.dirname(server.dataDir) : server.dir);
        stops.push(server.stop());
      }
      await Promise.allSettled(stops);
      for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
      const left = dirs.filter((dir) => fs.existsSync(dir));
      if (left.length > 0) console.error(`temp dirs left behind: ${left.join(', ')}`);
    })();
    return cleanup;
  };
  const shutdown = async (code: number): Promise<never> => {
    await stopAll();
    // Output to a pipe is asynchronous: let it drain before exiting.
    await new Promise((resolve) => process.stdout.write('', resolve));
    process.exit(code);
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      state.interrupted = true;
      console.error(`\n${signal}: stopping the servers`);
      void shutdown(130);
    });
  }
  // Only now, with the handlers in place: startPostgres() runs initdb
  // synchronously before it returns, and a signal then must not end the
  // process by default, leaving the server's temp dir behind.
  const postgresStart = startPostgres({
    binDir: options.binDir,
    settings: {
      shared_preload_libraries: 'pg_stat_statements',
      'pg_stat_statements.max': '10000',
      max_connections: '200',
      ...options.settings,
    },
  });
  const pushgatewayStart = startPushgateway();

  try {
    const [postgres, pushgateway] = await Promise.all([postgresStart, pushgatewayStart]);
    admin = await postgres.client();
    await admin.query('CREATE EXTENSION pg_stat_statements');
    const client = admin;
    const role = async (name: string) => {
      const password = randomBytes(12).toString('hex');
      await client.query(`CREATE ROLE ${name} LOGIN PASSWORD '${password}' IN ROLE pg_monitor`);
      return { user: name, password };
    };
    const project = await role(options.role ?? 'bench_pushgateway_exporter');
    const env: Record<string, string> = {
      POSTGRESQL_HOST: postgres.host,
      POSTGRESQL_PORT: String(postgres.port),
      POSTGRESQL_DATABASE: 'postgres',
      POSTGRESQL_USERNAME: project.user,
      POSTGRESQL_PASSWORD: project.password,
      POSTGRESQL_SSL: 'false',
      PUSHGATEWAY_URL: pushgateway.url,
      PUSHGATEWAY_JOB: 'bench',
    };
    return {
      postgres,
      pushgateway,
      admin: client,
      logFile: path.join(path.dirname(postgres.dataDir), 'server.log'),
      env,
      role,
      async growDatabases(from, count) {
        if (count <= from) return;
        const t0 = performance.now();
        await client.query('SET synchronous_commit = off');
        for (let i = from; i < count; i += 1) {
          if (state.interrupted) return;
          await client.query(`CREATE DATABASE bench_db_${i} TEMPLATE template0`);
        }
        const s = ((performance.now() - t0) / 1000).toFixed(1);
        console.log(`created databases ${from}..${count - 1} in ${s} s`);
      },
      tempDir(prefix) {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
        tempDirs.push(dir);
        return dir;
      },
      onShutdown(stop) {
        extraStops.push(stop);
      },
      interrupted: () => state.interrupted,
      shutdown,
    };
  } catch (error) {
    if (state.interrupted) return new Promise<never>(() => undefined);
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    return shutdown(1);
  }
}

/** How the scripts report a failure: the error on stderr, FAIL on stdout. */
export function reportFailure(error: unknown): void {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  console.log('FAIL');
}

/** `parse(process.argv.slice(2))`; a usage error is reported as a failure and exits 1. */
export function parseArgv<T>(parse: (argv: readonly string[]) => T): T {
  try {
    return parse(process.argv.slice(2));
  } catch (error) {
    reportFailure(error);
    process.exit(1);
  }
}

/**
 * Runs `main` and shuts `servers` down with its exit code. An error is a
 * failure (exit 1), except after SIGINT/SIGTERM: then the servers stopping
 * under a run is expected and shutdown() is already under way.
 */
export async function runToEnd(servers: BenchServers, main: () => Promise<number>): Promise<never> {
  let code = 1;
  try {
    code = await main();
  } catch (error) {
    if (!servers.interrupted()) reportFailure(error);
  }
  return servers.shutdown(code);
}

/** The heading of bench/series-cap.mts's section of RESULTS.md, which bench.mts keeps. */
export const SERIES_CAP_SECTION = '## Series cap (COLLECTOR_MAX_SERIES)';

/** The section bench/fleet.mts writes into the same file. */
export const FLEET_SECTION = '## Fleet';

/**
 * A Markdown table as Prettier lays it out (so the written file passes its
 * check): the first column left-aligned, the others right-aligned numbers.
 */
export function markdownTable(header: readonly string[], lines: readonly string[][]): string {
  const all = [header, ...lines];
  const widths = header.map((_, i) =>
    Math.max(3, ...all.map((l) => Array.from(l[i] ?? '').length)),
  );
  const pad = (c: string, i: number) => {
    const fill = ' '.repeat((widths[i] ?? 0) - Array.from(c).length);
    return i === 0 ? c + fill : fill + c;
  };
  const fmt = (cells: readonly string[]) => `| ${cells.map(pad).join(' | ')} |`;
  const sep = `| ${widths.map((w, i) => (i === 0 ? '-'.repeat(w) : `${'-'.repeat(w - 1)}:`)).join(' | ')} |`;
  return [fmt(header), sep, ...lines.map(fmt)].join('\n');
}

/** The section bench/tables.mts writes into the same file. */
export const TABLES_SECTION = '## Tables and indexes';

/** The section's text in `file` replaced by `section` (appended when there is none); the rest kept. */
export function replaceSection(file: string, title: string, section: string): void {
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.trimEnd() === title);
  let out: string;
  if (start === -1) {
    const body = text.replace(/\n*$/, '');
    out = body === '' ? `${section}\n` : `${body}\n\n${section}\n`;
  } else {
    let end = lines.findIndex((l, i) => i > start && /^#{1,2} /.test(l));
    if (end === -1) end = lines.length;
    const before = lines.slice(0, start).join('\n').replace(/\n*$/, '');
    const after = lines.slice(end).join('\n').replace(/^\n*/, '');
    out = [before, section, after]
      .filter((part) => part !== '')
      .join('\n\n')
      .concat('\n');
  }
  fs.writeFileSync(file, out);
}

/** The text of the section titled `title` in `file` (up to the next heading of level 1 or 2), if any. */
export function readSection(file: string, title: string): string | undefined {
  if (!fs.existsSync(file)) return undefined;
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const start = lines.findIndex((l) => l.trimEnd() === title);
  if (start === -1) return undefined;
  let end = lines.findIndex((l, i) => i > start && /^#{1,2} /.test(l));
  if (end === -1) end = lines.length;
  return lines.slice(start, end).join('\n').replace(/\n*$/, '');
}

/**
 * V8 heap flags as the Lambda Node.js runtime's bootstrap derives them from the
 * memory size (new space a tenth, semi-space half of that, old space the
 * rest), here for 128 MB, the cheapest size.
 */
export const LAMBDA_128_FLAGS = ['--max-semi-space-size=6', '--max-old-space-size=116'];

/** Peak RSS (VmHWM) of a live process in kB, NaN once it is gone. */
export function vmHwmKb(pid: number): number {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}

/** The section bench/remote_write.mts writes into the same file. */
export const REMOTE_WRITE_SECTION = '## Remote write';

let clockTicks: number | undefined;

/** The kernel's USER_HZ (`getconf CLK_TCK`): the unit of utime and stime in /proc/<pid>/stat. */
export function clockTicksPerSecond(): number {
  if (clockTicks === undefined) {
    const out = execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim();
    const ticks = Number(out);
    if (!Number.isInteger(ticks) || ticks <= 0) throw new Error(`getconf CLK_TCK printed ${out}`);
    clockTicks = ticks;
  }
  return clockTicks;
}

/** CPU time (utime + stime) a live process has used so far, in ms, from /proc/<pid>/stat; NaN once it is gone. */
export function processCpuMs(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // After the command name (in brackets, may hold spaces): field 3 on; utime, stime are 14, 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicksPerSecond();
  } catch {
    return NaN;
  }
}

/** This machine for a results file: CPUs (`nproc`), the CPU model (/proc/cpuinfo), RAM, Node. */
export function machineInfo(): { nproc: number; cpu: string; ramGb: string; node: string } {
  const nproc = Number(execFileSync('nproc', { encoding: 'utf8' }).trim());
  let cpu = os.cpus()[0]?.model ?? '?';
  try {
    const model = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (model?.[1] !== undefined) cpu = model[1].trim();
  } catch {
    // not Linux: os.cpus() it is
  }
  return { nproc, cpu, ramGb: (os.totalmem() / 1024 ** 3).toFixed(1), node: process.version };
}

/** One cold start of the handler's bundle, as bench.mts's and remote_write.mts's cold rows. */
export interface ColdRun {
  /** require() of the bundle. */
  readonly initMs: number;
  /** handler() once. */
  readonly runMs: number;
  readonly totalMs: number;
  /** process.resourceUsage().maxRSS of the child. */
  readonly maxRssKb: number;
  readonly series: number;
}

/**
 * A fresh `node -e` (with `nodeFlags`) that require()s the bundle and runs
 * handler() once with `env` (and PATH) as its whole environment. Rejects
 * when the child fails, PostgreSQL was down or a collector failed.
 */
export function coldHandlerRun(
  bundle: string,
  env: Record<string, string>,
  nodeFlags: readonly string[] = [],
): Promise<ColdRun> {
  const script = [
    'const t0=process.hrtime.bigint();',
    `const m=require(${JSON.stringify(bundle)});`,
    'const t1=process.hrtime.bigint();',
    'm.handler().then((s)=>{const t2=process.hrtime.bigint();',
    'process.stdout.write("BENCH "+JSON.stringify({initMs:Number(t1-t0)/1e6,runMs:Number(t2-t1)/1e6,',
    'totalMs:Number(t2-t0)/1e6,maxRssKb:process.resourceUsage().maxRSS,series:s.series,up:s.up,',
    'errors:s.collectorErrors,sinks:s.sinks.map((o)=>o.sink+":"+o.ok)})+"\\n");});',
  ].join('');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeFlags, '-e', script], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('BENCH '));
      if (code !== 0 || line === undefined) {
        reject(new Error(`cold run exited ${String(code)}: ${(err || out).slice(-2000)}`));
        return;
      }
      const parsed = JSON.parse(line.slice(6)) as ColdRun & { up: boolean; errors: number };
      if (!parsed.up || parsed.errors > 0) reject(new Error(`cold run failed: ${line}`));
      else resolve(parsed);
    });
  });
}
