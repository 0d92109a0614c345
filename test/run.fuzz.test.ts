/**
 * Property-based: whatever the secrets are (quotes, %, backslashes, Unicode)
 * and wherever a hostile server echoes them (a connection error, a
 * collector's error, a label value, a Pushgateway answer with the request's
 * headers), no form the exporter sends them in appears in the pushed body,
 * a log line, the summary or the thrown error.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Collector } from '../src/collectors/types.js';
import type { Database } from '../src/db.js';
import { PushError } from '../src/errors.js';
import { createLogger } from '../src/logger.js';
import { plan, run } from '../src/run.js';

const NUM_RUNS = 300;

/** Secrets long enough to be searched for in the pushed text too (run.ts: 8 characters). */
const secret = fc
  .string({
    unit: fc.constantFrom(...Array.from('aZ9!@#$%^&*()_+-="\'\\/:;?.,<>|~`{}[] é✓数')),
    minLength: 8,
    maxLength: 40,
  })
  .filter((s) => s.trim() === s && s !== '');

/** The forms an echo may carry: as configured, percent-encoded, JSON-escaped. */
function forms(value: string): string[] {
  return [value, encodeURIComponent(value), JSON.stringify(value).slice(1, -1)];
}

type Echo = 'connect' | 'collector' | 'label' | 'push';

describe('run (property-based): no secret leaves', () => {
  it('in any form, wherever it is echoed', async () => {
    await fc.assert(
      fc.asyncProperty(
        secret,
        secret,
        fc.constantFrom<Echo>('connect', 'collector', 'label', 'push'),
        fc.boolean(),
        async (pgPassword, gwPassword, echo, inUrl) => {
          const user = 'ops';
          const env: Record<string, string> = {
            POSTGRESQL_HOST: 'db.internal',
            POSTGRESQL_PASSWORD: pgPassword,
            PUSHGATEWAY_URL: inUrl
              ? `http://${user}:${encodeURIComponent(gwPassword)}@gw:9091`
              : 'http://gw:9091',
            ...(inUrl ? {} : { PUSHGATEWAY_USERNAME: user, PUSHGATEWAY_PASSWORD: gwPassword }),
          };
          // The Pushgateway password is also sent as base64(user:password), in the Authorization header.
          const basic = Buffer.from(`${user}:${gwPassword}`).toString('base64');
          const all = [...forms(pgPassword), ...forms(gwPassword), basic, `Basic ${basic}`];
          const said = all.join(' | ');
          const family = { name: 'test_echo', help: 'x', labelNames: ['text'] };
          const echoing: Collector = {
            name: 'echoing',
            families: [family],
            collect({ metrics }) {
              if (echo === 'collector') return Promise.reject(new Error(`refused: ${said}`));
              if (echo === 'label') {
                metrics.gauge(family, [{ labels: { text: `value ${said}` }, value: 1 }]);
              }
              return Promise.resolve();
            },
          };
          const db: Database = {
            serverVersion: 170_000,
            startedAt: 1_700_000_000_000,
            privileges: { pg_read_all_stats: true },
            query: () => Promise.resolve([]),
            close: () => Promise.resolve(),
          };
          const lines: string[] = [];
          const bodies: string[] = [];
          let thrown: unknown;
          let summary: unknown;
          try {
            summary = await run(plan(env, [echoing]), {
              log: createLogger({ write: (line) => lines.push(line) }),
              connect: () =>
                echo === 'connect'
                  ? Promise.reject(new Error(`FATAL: ${said}`))
                  : Promise.resolve(db),
              deliver: ({ body }) => {
                bodies.push(body);
                if (echo === 'push') {
                  return Promise.reject(new PushError(`answered HTTP 401: ${said}`, 401));
                }
                return Promise.resolve();
              },
            });
          } catch (error) {
            thrown = error;
          }
          const visible = [
            ...bodies,
            ...lines,
            JSON.stringify(summary ?? {}),
            thrown instanceof Error ? thrown.message : '',
          ].join('\n');
          for (const form of all) expect(visible).not.toContain(form);
          // Something was said about it, redacted.
          expect(visible).toContain('[REDACTED]');
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });
});
