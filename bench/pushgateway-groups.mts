/**
 * node --import tsx bench/pushgateway-groups.mts [--quick]
 *
 * What a fleet costs the Pushgateway (Debian's 1.5.1 on loopback), and what
 * listing its groups costs this exporter, with groups of 300 series (30
 * families × 10 series, the size of one target's push):
 *   - for 100, 400 and 1,000 groups (--quick: 100 and 400): fills a
 *     Pushgateway with --push.disable-consistency-check, then measures a PUT
 *     that replaces one group (median of 20), GET /metrics read to its end
 *     (median of 3, and its size), listGroups in a child process under
 *     Lambda's 128 MB heap flags (median time of 3 children, largest peak
 *     RSS, against a child that only loads the module), and the
 *     Pushgateway's own peak RSS (VmHWM);
 *   - for 100 and 400 groups: restarts a Pushgateway on the same
 *     persistence file with the consistency check on, and measures the
 *     same PUT (median of 10).
 * Prints a markdown table, to compare with the one in issue 11. Timing is
 * reported, never asserted; exits 1 only when a step fails.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { listGroups, push } from '../src/pushgateway.js';
import { startPushgateway, type PushgatewayServer } from '../test/harness/pushgateway.js';
import { LAMBDA_128_FLAGS, median, vmHwmKb } from './lib.mjs';

const quick = process.argv.includes('--quick');
const SIZES = quick ? [100, 400] : [100, 400, 1_000];
const CHECKED_SIZES = new Set([100, 400]);
const NO_CHECK = ['--push.disable-consistency-check'];
const CHILD = path.join(import.meta.dirname, 'pushgateway-groups-child.mts');

/** One target's push: 30 families of 10 series each, labelled like the exporter's. */
function targetBody(): string {
  let body = '';
  for (let f = 0; f < 30; f++) {
    const name = `postgresql_bench_family_${f}`;
    body += `# HELP ${name} A family of the benchmark, as long as the exporter's help texts.\n`;
    body += `# TYPE ${name} gauge\n`;
    for (let s = 0; s < 10; s++) {
      body += `${name}{datname="database_${s}",state="active"} ${(f * 1_000 + s) * 1.5}\n`;
    }
  }
  return body;
}

const BODY = targetBody();
const key = (i: number) => ({
  instance: `target-${i}.abc.eu-west-1.rds.amazonaws.com`,
  fleet: 'bench',
});

async function put(gw: PushgatewayServer, i: number): Promise<number> {
  const started = performance.now();
  await push({ url: new URL(gw.url), job: 'bench', labels: key(i), body: BODY, timeoutMs: 60_000 });
  return performance.now() - started;
}

/** Pushes groups 0…n-1 and waits until the Pushgateway holds them all (its writes are queued). */
async function fill(gw: PushgatewayServer, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await put(gw, i);
  await holds(gw, n);
}

async function holds(gw: PushgatewayServer, n: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const groups = await listGroups({ url: new URL(gw.url), timeoutMs: 60_000 });
    if (groups.length === n) return;
    if (Date.now() > deadline) throw new Error(`${groups.length} groups, not ${n}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Median time of `count` PUTs, each replacing an existing group. */
async function putMs(gw: PushgatewayServer, n: number, count: number): Promise<number> {
  const times: number[] = [];
  for (let k = 0; k < count; k++) times.push(await put(gw, (k * 7) % n));
  return median(times);
}

async function getMetrics(gw: PushgatewayServer): Promise<{ ms: number; bytes: number }> {
  const times: number[] = [];
  let bytes = 0;
  for (let k = 0; k < 3; k++) {
    const started = performance.now();
    const res = await fetch(`${gw.url}/metrics`);
    bytes = (await res.arrayBuffer()).byteLength;
    times.push(performance.now() - started);
  }
  return { ms: median(times), bytes };
}

interface ChildResult {
  readonly ms?: number;
  readonly groups?: number;
  readonly maxRssKb: number;
}

function child(arg: string): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [...LAMBDA_128_FLAGS, '--import', 'tsx', CHILD, arg], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    proc.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    proc.on('error', reject);
    proc.on('exit', (code) => {
      if (code === 0) resolve(JSON.parse(out.trim().split('\n').pop()!) as ChildResult);
      else reject(new Error(`the listGroups child exited with ${code}: ${out}`));
    });
  });
}

interface Row {
  groups: number;
  putNoCheckMs: number;
  putCheckMs?: number;
  getMs: number;
  getMb: number;
  listMs: number;
  listRssMb: number;
  pushgatewayRssMb: number;
}

const mb = (kb: number) => Math.round(kb / 1024);

async function measure(n: number, dir: string, baselineKb: number): Promise<Row> {
  const file = path.join(dir, `groups-${n}.data`);
  const open = await startPushgateway({ args: NO_CHECK, persistenceFile: file });
  let row: Row;
  try {
    await fill(open, n);
    const putNoCheckMs = await putMs(open, n, 20);
    const get = await getMetrics(open);
    const lists: ChildResult[] = [];
    for (let k = 0; k < 3; k++) lists.push(await child(open.url));
    if (lists.some((l) => l.groups !== n))
      throw new Error(`listGroups found ${lists[0]?.groups}, not ${n}`);
    row = {
      groups: n,
      putNoCheckMs,
      getMs: get.ms,
      getMb: get.bytes / 1e6,
      listMs: median(lists.map((l) => l.ms ?? NaN)),
      listRssMb: mb(Math.max(...lists.map((l) => l.maxRssKb))),
      pushgatewayRssMb: mb(vmHwmKb(open.pid)),
    };
    console.error(`${n} groups: baseline child ${mb(baselineKb)} MB`, row);
  } finally {
    await open.stop();
  }
  if (CHECKED_SIZES.has(n)) {
    const checked = await startPushgateway({ persistenceFile: file });
    try {
      await holds(checked, n);
      row.putCheckMs = await putMs(checked, n, 10);
    } finally {
      await checked.stop();
    }
  }
  return row;
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-groups-'));
  try {
    const baseline = await child('--baseline');
    const rows: Row[] = [];
    for (const n of SIZES) rows.push(await measure(n, dir, baseline.maxRssKb));
    const ms = (v: number | undefined) =>
      v === undefined ? '' : `${v.toFixed(v < 10 ? 1 : 0)} ms`;
    console.log(
      `Pushgateway 1.5.1 on loopback, ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, Node ${process.version}; groups of 300 series (${(Buffer.byteLength(BODY) / 1024).toFixed(1)} KiB).`,
    );
    console.log(
      `listGroups RSS: peak RSS of a child process under ${LAMBDA_128_FLAGS.join(' ')}; the same child without the listing: ${mb(baseline.maxRssKb)} MB.\n`,
    );
    console.log(
      '| groups | PUT, default | PUT, `--push.disable-consistency-check` | GET /metrics | exposition | listGroups | listGroups RSS | Pushgateway RSS |',
    );
    console.log('|---|---|---|---|---|---|---|---|');
    for (const r of rows) {
      console.log(
        `| ${r.groups.toLocaleString('en')} | ${ms(r.putCheckMs)} | ${ms(r.putNoCheckMs)} | ${ms(r.getMs)} | ${r.getMb.toFixed(1)} MB | ${ms(r.listMs)} | ${r.listRssMb} MB | ${r.pushgatewayRssMb} MB |`,
      );
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  console.log('FAIL');
  process.exitCode = 1;
});
