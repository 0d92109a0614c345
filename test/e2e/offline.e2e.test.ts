/**
 * `npm run offline` (serverless offline) runs `collect` on its schedule, and
 * the run reaches a real Pushgateway. EventBridge's rate(1 minute) fires at
 * the next minute boundary, so this waits up to ~70 s.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { cleanEnv } from '../harness/command.js';
import { pushgatewayMetrics, runEnv } from '../harness/context.js';
import { parseExposition, select } from '../harness/exposition.js';
import { freePort, sleep } from '../harness/ports.js';

describe('npm run offline', () => {
  it('invokes collect on the schedule and the metrics reach the Pushgateway', async () => {
    const env = runEnv();
    const child = spawn('npm', ['run', 'offline'], {
      env: cleanEnv({
        ...env,
        SCHEDULE: 'rate(1 minute)',
        OFFLINE_LAMBDA_PORT: String(await freePort()),
        OFFLINE_HTTP_PORT: String(await freePort()),
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
    try {
      const deadline = Date.now() + 100_000;
      let up: number | undefined;
      while (up === undefined && Date.now() < deadline) {
        await sleep(1_000);
        const metrics = parseExposition(await pushgatewayMetrics());
        up = select(metrics, 'postgresql_up', { job: env.PUSHGATEWAY_JOB! })[0]?.value;
      }
      expect(output).toMatch(/Scheduling \[collect\] cron: \[\*\/1 \* \* \* \*\]/);
      expect(up, output).toBe(1);
      expect(output).toContain('Successfully invoked scheduled function: [collect]');
      expect(output).toMatch(/"message":"run",.*"up":true/);
      // The Lambda request id is on the run's log line.
      expect(output).toMatch(/"message":"run","awsRequestId":"[0-9a-f-]{36}"/);
    } finally {
      process.kill(-child.pid!, 'SIGINT');
      await Promise.race([exited, sleep(10_000)]);
    }
  }, 120_000);
});
