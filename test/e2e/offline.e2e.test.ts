/**
 * `npm run offline` (serverless offline) runs `collect` on its schedule, and
 * the run reaches a real Pushgateway. EventBridge's rate(1 minute) fires at
 * the next minute boundary, so this waits up to ~70 s.
 */
import { describe, expect, it } from 'vitest';
import { pushgatewayMetrics, runEnv } from '../harness/context.js';
import { parseExposition, select } from '../harness/exposition.js';
import { startOffline } from '../harness/offline.js';
import { sleep } from '../harness/ports.js';

describe('npm run offline', () => {
  it('invokes collect on the schedule and the metrics reach the Pushgateway', async () => {
    const env = runEnv();
    const offline = await startOffline({ ...env, SCHEDULE: 'rate(1 minute)' });
    try {
      const deadline = Date.now() + 100_000;
      let up: number | undefined;
      while (up === undefined && Date.now() < deadline) {
        await sleep(1_000);
        const metrics = parseExposition(await pushgatewayMetrics());
        up = select(metrics, 'postgresql_up', { job: env.PUSHGATEWAY_JOB! })[0]?.value;
      }
      expect(offline.output()).toMatch(/Scheduling \[collect\] cron: \[\*\/1 \* \* \* \*\]/);
      expect(up, offline.output()).toBe(1);
      expect(offline.output()).toContain('Successfully invoked scheduled function: [collect]');
      expect(offline.output()).toMatch(/"message":"run",.*"up":true/);
      // The Lambda request id is on the run's log line.
      expect(offline.output()).toMatch(/"message":"run","awsRequestId":"[0-9a-f-]{36}"/);
    } finally {
      await offline.stop();
    }
  }, 120_000);
});
