/**
 * `npm run offline` (serverless offline) as a child process of its own
 * process group, its output collected, stopped with SIGINT like Ctrl-C.
 */
import { spawn } from 'node:child_process';
import { cleanEnv } from './command.js';
import { freePort, sleep } from './ports.js';

export interface Offline {
  /** Offline's local Lambda endpoint, http://127.0.0.1:<port>. */
  readonly lambdaUrl: string;
  /** Everything it printed so far, stdout and stderr. */
  output(): string;
  stop(): Promise<void>;
}

/** Starts offline on free loopback ports; `args` follow `npm run offline --`. */
export async function startOffline(
  env: Readonly<Record<string, string>>,
  args: readonly string[] = [],
): Promise<Offline> {
  const lambdaPort = await freePort();
  const child = spawn('npm', ['run', 'offline', ...(args.length > 0 ? ['--', ...args] : [])], {
    env: cleanEnv({
      OFFLINE_LAMBDA_PORT: String(lambdaPort),
      OFFLINE_HTTP_PORT: String(await freePort()),
      // A Lambda SDK in a function (fan-out) reaches offline's own endpoint (with
      // --localEnvironment, which hands this process's variables to the functions).
      AWS_ENDPOINT_URL_LAMBDA: `http://127.0.0.1:${lambdaPort}`,
      ...env,
    }),
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) =>
    child.on('exit', () => {
      resolve();
    }),
  );
  return {
    lambdaUrl: `http://127.0.0.1:${lambdaPort}`,
    output: () => output,
    stop: async () => {
      process.kill(-child.pid!, 'SIGINT');
      await Promise.race([exited, sleep(10_000)]);
    },
  };
}
