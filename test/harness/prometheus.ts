/**
 * Starts a real Prometheus (Debian's `prometheus`) on 127.0.0.1, scraping a
 * Pushgateway every second with honor_labels, with the shipped alert rules
 * loaded, and storage in a temp dir.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MissingToolError, freePort, sleep } from './ports.js';

export interface PrometheusServer {
  readonly url: string;
  /** An instant query through the HTTP API; the result vector. */
  query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  stop(): Promise<void>;
}

function binary(name: string): string {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  if (found.status !== 0)
    throw new MissingToolError(`no ${name} binary: apt-get install prometheus`);
  return found.stdout.trim();
}

export async function startPrometheus(
  pushgatewayUrl: string,
  ruleFiles: string[] = [],
): Promise<PrometheusServer> {
  const prometheus = binary('prometheus');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prometheus-'));
  const port = await freePort();
  const rules = ruleFiles.map((file) => {
    const copy = path.join(dir, path.basename(file));
    fs.copyFileSync(file, copy);
    return copy;
  });
  const config = [
    'global:',
    '  scrape_interval: 1s',
    '  evaluation_interval: 1s',
    ...(rules.length > 0 ? ['rule_files:', ...rules.map((r) => `  - ${JSON.stringify(r)}`)] : []),
    'scrape_configs:',
    '  - job_name: pushgateway',
    '    honor_labels: true',
    '    static_configs:',
    `      - targets: [${JSON.stringify(new URL(pushgatewayUrl).host)}]`,
  ].join('\n');
  fs.writeFileSync(path.join(dir, 'prometheus.yml'), config);
  const log = fs.openSync(path.join(dir, 'prometheus.log'), 'a');
  const child = spawn(
    prometheus,
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.enable-lifecycle',
    ],
    { stdio: ['ignore', log, log] },
  );
  fs.closeSync(log);
  const state = { exited: false };
  child.on('exit', () => {
    state.exited = true;
  });
  const url = `http://127.0.0.1:${port}`;
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
      const text = fs.readFileSync(path.join(dir, 'prometheus.log'), 'utf8');
      await stop();
      throw new Error(`prometheus exited:\n${text.slice(-2000)}`);
    }
    try {
      if ((await fetch(`${url}/-/ready`)).ok) break;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error('prometheus did not become ready in 30 s');
    }
    await sleep(100);
  }

  return {
    url,
    async query(expr) {
      const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = (await res.json()) as {
        status: string;
        error?: string;
        data?: { result: { metric: Record<string, string>; value: [number, string] }[] };
      };
      if (body.status !== 'success')
        throw new Error(`query ${expr} failed: ${body.error ?? res.status}`);
      return body.data?.result ?? [];
    },
    stop,
  };
}
