/**
 * Fan-out for real through `serverless offline`: `collect` is invoked on
 * offline's local Lambda endpoint, invokes `collectTarget` once per target
 * with the Lambda SDK (InvocationType Event, AWS_ENDPOINT_URL_LAMBDA pointing
 * at the same endpoint), and every target's group appears on the real
 * Pushgateway, each pushed by its own invocation.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pushgatewayMetrics, servers, uniqueJob } from '../harness/context.js';
import { parseExposition, select } from '../harness/exposition.js';
import { startOffline } from '../harness/offline.js';
import { sleep } from '../harness/ports.js';

const SERVICE = 'postgresql-pushgateway-exporter';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fanout-e2e-'));
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('a fan-out fleet under serverless offline', () => {
  it('collect invokes collectTarget once per target and every group appears', async () => {
    const { postgres, pushgatewayUrl } = servers();
    const job = uniqueJob('fanout');
    const fleet = `fanout-${randomBytes(3).toString('hex')}`;
    const names = ['alpha', 'beta', 'gamma', 'delta'];
    const file = path.join(dir, 'targets.yml');
    fs.writeFileSync(
      file,
      `targets:\n${names
        .map(
          (name) =>
            `  - name: ${name}\n    host: ${postgres.host}\n    port: ${postgres.port}\n` +
            `    username: ${postgres.monitorUser}\n    password_env: FANOUT_PG_PASSWORD\n`,
        )
        .join('')}`,
    );
    const offline = await startOffline(
      {
        TARGETS_FILE: file,
        FLEET_MODE: 'fanout',
        FLEET_NAME: fleet,
        FANOUT_PG_PASSWORD: postgres.monitorPassword,
        PUSHGATEWAY_URL: pushgatewayUrl,
        PUSHGATEWAY_JOB: job,
        // A schedule that will not fire during the test: collect is invoked directly.
        SCHEDULE: 'rate(1 hour)',
        AWS_REGION: 'eu-west-1',
        AWS_ACCESS_KEY_ID: 'offline',
        AWS_SECRET_ACCESS_KEY: 'offline',
      },
      ['--localEnvironment'],
    );
    const output = () => offline.output();
    try {
      // Offline is ready when its Lambda endpoint answers.
      const invokeUrl = `${offline.lambdaUrl}/2015-03-31/functions/${SERVICE}-dev-collect/invocations`;
      let answer: Response | undefined;
      const ready = Date.now() + 60_000;
      while (answer === undefined && Date.now() < ready) {
        try {
          answer = await fetch(invokeUrl, { method: 'POST', body: '{}' });
        } catch {
          await sleep(500);
        }
      }
      expect(answer?.status, output()).toBe(200);
      const summary = (await answer!.json()) as {
        mode?: string;
        targets?: number;
        invokeFailures?: number;
      };
      expect(summary, output()).toMatchObject({ mode: 'fanout', targets: 4, invokeFailures: 0 });

      // Each target's own invocation pushes its group, asynchronously.
      let ups: string[] = [];
      const deadline = Date.now() + 60_000;
      while (ups.length < names.length && Date.now() < deadline) {
        await sleep(500);
        ups = select(parseExposition(await pushgatewayMetrics()), 'postgresql_up', { job, fleet })
          .map((s) => `${s.labels.instance ?? ''}=${s.value}`)
          .sort();
      }
      expect(ups, output()).toEqual(names.map((n) => `${n}=1`).sort());
      // One collectTarget run per target, each logging its own target.
      for (const name of names) {
        expect(output()).toMatch(new RegExp(`"message":"run".*"target":"${name}"`));
      }
      // The fleet's own group, from collect.
      const fleetGroup = select(
        parseExposition(await pushgatewayMetrics()),
        'postgresql_exporter_fleet_invoke_failures',
        { job, fleet },
      );
      expect(fleetGroup.map((s) => s.value)).toEqual([0]);
      expect(output()).not.toContain(postgres.monitorPassword);
    } finally {
      await offline.stop();
    }
  }, 150_000);
});
