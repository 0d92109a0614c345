/**
 * Starts a real Prometheus (Debian's `prometheus`) on 127.0.0.1 with its
 * storage in a temp dir: scraping a Pushgateway every second with
 * honor_labels when given one, with alert rules loaded when given them, and
 * with its remote-write receiver on (`--web.enable-remote-write-receiver`)
 * when asked, optionally behind basic auth (`--web.config.file`).
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import bcrypt from 'bcryptjs';
import { MissingToolError, freePort, sleep } from './ports.js';

export interface PrometheusOptions {
  /** Scraped every second with honor_labels, as ops/prometheus/prometheus.yml does. Default: no scrape. */
  readonly pushgatewayUrl?: string;
  /** Rule files to load (copied into the temp dir), evaluated every second. */
  readonly ruleFiles?: readonly string[];
  /** Accept remote writes on `writeUrl`. */
  readonly remoteWriteReceiver?: boolean;
  /** Basic auth on every endpoint (the write path and the query API too). */
  readonly basicAuth?: { readonly username: string; readonly password: string };
}

export interface InstantSample {
  readonly metric: Record<string, string>;
  /** Evaluation time in epoch seconds, and the value as Prometheus writes it. */
  readonly value: [number, string];
}

export interface StoredSeries {
  readonly metric: Record<string, string>;
  /** Epoch seconds and the value as Prometheus writes it, oldest first. */
  readonly values: [number, string][];
}

export interface PrometheusServer {
  readonly url: string;
  /** The remote-write receiver's path, `<url>/api/v1/write` (answers 404 unless it is on). */
  readonly writeUrl: string;
  /**
   * An instant query through the HTTP API, at `time` (epoch seconds, may
   * have a fraction) or now; the result vector.
   */
  query(expr: string, time?: number): Promise<InstantSample[]>;
  /**
   * The stored samples of the series `selector` matches, in the `rangeSeconds`
   * up to `time` (epoch seconds) or now: a range selector's matrix, each
   * sample with the timestamp it was stored with.
   */
  samples(selector: string, rangeSeconds?: number, time?: number): Promise<StoredSeries[]>;
  /** Prometheus's own /metrics, as text (e.g. prometheus_http_requests_total of the write path). */
  metrics(): Promise<string>;
  /** The last characters of Prometheus's own log. */
  logTail(): string;
  stop(): Promise<void>;
}

function binary(name: string): string {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  if (found.status !== 0)
    throw new MissingToolError(`no ${name} binary: apt-get install prometheus`);
  return found.stdout.trim();
}

export async function startPrometheus(options: PrometheusOptions = {}): Promise<PrometheusServer> {
  const prometheus = binary('prometheus');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prometheus-'));
  const port = await freePort();
  const rules = (options.ruleFiles ?? []).map((file) => {
    const copy = path.join(dir, path.basename(file));
    fs.copyFileSync(file, copy);
    return copy;
  });
  const { pushgatewayUrl, basicAuth } = options;
  const config = [
    'global:',
    '  scrape_interval: 1s',
    '  evaluation_interval: 1s',
    ...(rules.length > 0 ? ['rule_files:', ...rules.map((r) => `  - ${JSON.stringify(r)}`)] : []),
    ...(pushgatewayUrl === undefined
      ? []
      : [
          'scrape_configs:',
          '  - job_name: pushgateway',
          '    honor_labels: true',
          '    static_configs:',
          `      - targets: [${JSON.stringify(new URL(pushgatewayUrl).host)}]`,
        ]),
  ].join('\n');
  fs.writeFileSync(path.join(dir, 'prometheus.yml'), `${config}\n`);
  const args = [
    `--config.file=${path.join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${path.join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--web.enable-lifecycle',
  ];
  if (options.remoteWriteReceiver === true) args.push('--web.enable-remote-write-receiver');
  const headers: Record<string, string> = {};
  if (basicAuth !== undefined) {
    const webConfig = path.join(dir, 'web-config.yml');
    // JSON is YAML; cost 4 keeps bcrypt fast (every request is checked).
    fs.writeFileSync(
      webConfig,
      JSON.stringify({
        basic_auth_users: { [basicAuth.username]: bcrypt.hashSync(basicAuth.password, 4) },
      }),
    );
    args.push(`--web.config.file=${webConfig}`);
    headers.authorization = `Basic ${Buffer.from(`${basicAuth.username}:${basicAuth.password}`).toString('base64')}`;
  }
  const logFile = path.join(dir, 'prometheus.log');
  const log = fs.openSync(logFile, 'a');
  const child = spawn(prometheus, args, { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  const state = { exited: false };
  child.on('exit', () => {
    state.exited = true;
  });
  const url = `http://127.0.0.1:${port}`;
  const logTail = () => {
    try {
      return fs.readFileSync(logFile, 'utf8').slice(-4000);
    } catch {
      return '';
    }
  };
  const stop = async () => {
    if (!state.exited) {
      const done = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await done;
      clearTimeout(timer);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (state.exited) {
      const text = logTail();
      await stop();
      throw new Error(`prometheus exited:\n${text.slice(-2000)}`);
    }
    try {
      if ((await fetch(`${url}/-/ready`, { headers })).ok) break;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error('prometheus did not become ready in 30 s');
    }
    await sleep(100);
  }

  const api = async <T>(expr: string, time?: number): Promise<T[]> => {
    const params = new URLSearchParams({ query: expr });
    if (time !== undefined) params.set('time', String(time));
    const res = await fetch(`${url}/api/v1/query?${params.toString()}`, { headers });
    const text = await res.text();
    let body: { status?: string; error?: string; data?: { result: T[] } };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      body = { error: `${res.status} ${text.slice(0, 200)}` };
    }
    if (body.status !== 'success')
      throw new Error(`query ${expr} failed: ${body.error ?? res.status}`);
    return body.data?.result ?? [];
  };

  return {
    url,
    writeUrl: `${url}/api/v1/write`,
    query: (expr, time) => api<InstantSample>(expr, time),
    samples: (selector, rangeSeconds = 300, time) =>
      api<StoredSeries>(`${selector}[${rangeSeconds}s]`, time),
    async metrics() {
      return (await fetch(`${url}/metrics`, { headers })).text();
    },
    logTail,
    stop,
  };
}
