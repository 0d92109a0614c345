/**
 * Starts a real Prometheus Pushgateway (Debian's prometheus-pushgateway) on
 * 127.0.0.1 with its persistence file in a temp dir, so runs never share state.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MissingToolError, freePort, sleep } from './ports.js';

export interface PushgatewayServer {
  readonly url: string;
  readonly pid: number;
  /** Its temp directory (persistence file and log). */
  readonly dir: string;
  /** The Pushgateway's own /metrics, as text. */
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

export function pushgatewayBinary(): string {
  const fromEnv = process.env.PUSHGATEWAY_BIN;
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!fs.existsSync(fromEnv))
      throw new MissingToolError(
        `PUSHGATEWAY_BIN=${fromEnv} does not exist: apt-get install prometheus-pushgateway`,
      );
    return fromEnv;
  }
  for (const name of ['prometheus-pushgateway', 'pushgateway']) {
    const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
    if (found.status === 0) return found.stdout.trim();
  }
  throw new MissingToolError(
    'no Pushgateway binary: apt-get install prometheus-pushgateway, or set PUSHGATEWAY_BIN',
  );
}

export async function startPushgateway(
  options: {
    binary?: string;
    /** Extra flags, e.g. `--push.disable-consistency-check`. */
    args?: string[];
    /**
     * The persistence file to load and write (kept by stop(), unlike the temp
     * dir): a benchmark fills a Pushgateway once and restarts it with other
     * flags on the same groups. Default: a new file in the temp dir.
     */
    persistenceFile?: string;
    scheme?: 'http' | 'https';
    /**
     * Whether the server at `url` is ready; default: plain GET /-/ready. Needed
     * with a --web.config.file that turns on TLS or basic auth.
     */
    ready?: (url: string) => Promise<boolean>;
  } = {},
): Promise<PushgatewayServer> {
  const binary = options.binary ?? pushgatewayBinary();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgateway-'));
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const logFile = path.join(dir, 'pushgateway.log');
  const log = fs.openSync(logFile, 'a');
  const child = spawn(
    binary,
    [
      `--web.listen-address=${address}`,
      `--persistence.file=${options.persistenceFile ?? path.join(dir, 'pushgateway.data')}`,
      ...(options.args ?? []),
    ],
    { stdio: ['ignore', log, log] },
  );
  fs.closeSync(log);
  const state = { exited: false };
  child.on('exit', () => {
    state.exited = true;
  });
  const url = `${options.scheme ?? 'http'}://${address}`;

  const stop = async () => {
    if (!state.exited) {
      const done = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await done;
      clearTimeout(timer);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 15_000;
  for (;;) {
    if (state.exited) {
      const text = fs.readFileSync(logFile, 'utf8');
      await stop();
      throw new Error(`Pushgateway exited:\n${text}`);
    }
    try {
      if (options.ready !== undefined) {
        if (await options.ready(url)) break;
      } else {
        const res = await fetch(`http://${address}/-/ready`);
        if (res.ok) break;
      }
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error('Pushgateway did not become ready in 15 s');
    }
    await sleep(50);
  }

  return {
    url,
    pid: child.pid ?? -1,
    dir,
    async metrics() {
      const res = await fetch(`http://${address}/metrics`);
      return res.text();
    },
    stop,
  };
}
