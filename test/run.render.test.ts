/**
 * The pushed text of a large run, byte for byte: 1,000 databases' rows of the
 * default collectors (test/fixtures/large-run.ts) and a collector of edge
 * cases, through the real run (mapping, prom-client registries, render,
 * redaction), against a golden file written by the code before the
 * rendering was optimized (commit 2192400). Only the durations, which
 * differ every run, are masked.
 *
 * An intended change of the pushed text (a new family, a new label) updates
 * the golden file: UPDATE_GOLDEN=1 npx vitest run --project unit test/run.render.test.ts
 */
import fs from 'node:fs';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { COLLECTORS } from '../src/collectors/index.js';
import { silentLogger } from '../src/logger.js';
import { plan, run } from '../src/run.js';
import { RefreshCache } from '../src/refresh.js';
import {
  edgeCollector,
  LARGE_RUN_PASSWORD,
  largeRunDatabase,
  largeRunRows,
} from './fixtures/large-run.js';

const GOLDEN = path.resolve('test/fixtures/large-run.prom.gz');
const DATABASES = 1_000;

/** The durations differ every run: their values become 0. */
function maskDurations(text: string): string {
  return text.replace(
    /^(postgresql_exporter_(?:collector|run)_duration_seconds(?:\{[^}\n]*\})?) \S+$/gm,
    '$1 0',
  );
}

async function pushedText(): Promise<{ body: string; series: number; bytes: number }> {
  const bodies: string[] = [];
  const env = {
    POSTGRESQL_HOST: 'db.internal',
    POSTGRESQL_PASSWORD: LARGE_RUN_PASSWORD,
    PUSHGATEWAY_URL: 'http://gw:9091',
    // One session: database_size sizes in the one statement the fixture answers, not shared out
    // over sessions of its own (test/collectors/general/database_size.test.ts has that).
    POSTGRESQL_KEEP_CONNECTION_SECONDS: '0',
  };
  const db = largeRunDatabase(largeRunRows(DATABASES));
  const summary = await run(plan(env, [...COLLECTORS, edgeCollector]), {
    connect: () => Promise.resolve(db),
    // A cold process: every collector runs.
    refreshCache: new RefreshCache(),
    deliver: (delivery) => {
      bodies.push(delivery.body);
      return Promise.resolve();
    },
    log: silentLogger(),
  });
  expect(bodies).toHaveLength(1);
  return { body: bodies[0]!, series: summary.series, bytes: summary.bytes };
}

describe('run: the pushed text of 1,000 databases', () => {
  it('is byte for byte the golden file', async () => {
    const { body, series, bytes } = await pushedText();
    const actual = maskDurations(body);
    if (process.env.UPDATE_GOLDEN === '1') fs.writeFileSync(GOLDEN, gzipSync(actual, { level: 9 }));
    const golden = gunzipSync(fs.readFileSync(GOLDEN)).toString('utf8');
    if (actual !== golden) {
      // The first line that differs, rather than a diff of 3 MB.
      const a = actual.split('\n');
      const g = golden.split('\n');
      const i = a.findIndex((line, n) => line !== g[n]);
      expect({ line: i + 1, text: a[i] ?? '(end)' }).toEqual({
        line: i + 1,
        text: g[i] ?? '(end)',
      });
      expect(a.length).toBe(g.length);
    }
    expect(actual).toBe(golden);
    // The summary counts what was pushed.
    const lines = body.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    expect(series).toBe(lines.length);
    expect(series).toBeGreaterThan(40 * DATABASES);
    expect(bytes).toBe(Buffer.byteLength(body));
    expect(body).not.toContain(LARGE_RUN_PASSWORD);
  });
});
