/**
 * The generated encoders (src/prompb/remote.js, remote.d.ts) are what `npm
 * run prompb` makes of src/prompb/remote.proto today: a change to the schema
 * without regenerating fails here. And the schema is the one read by
 * protobufjs' own parser: what the encoders write decodes with it.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { prometheus } from '../src/prompb/remote.js';

const PROTO = 'src/prompb/remote.proto';

describe('src/prompb', () => {
  it('is what pbjs and pbts generate from remote.proto', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prompb-'));
    try {
      const js = path.join(dir, 'remote.js');
      const dts = path.join(dir, 'remote.d.ts');
      const script = JSON.parse(fs.readFileSync('package.json', 'utf8')) as {
        scripts: Record<string, string>;
      };
      const command = (script.scripts.prompb ?? '')
        .replaceAll('src/prompb/remote.js', js)
        .replaceAll('src/prompb/remote.d.ts', dts);
      expect(command).toContain(PROTO);
      execFileSync('sh', ['-c', command], {
        env: { ...process.env, PATH: `node_modules/.bin:${process.env.PATH ?? ''}` },
        stdio: 'pipe',
      });
      expect(fs.readFileSync(js, 'utf8')).toBe(fs.readFileSync('src/prompb/remote.js', 'utf8'));
      expect(fs.readFileSync(dts, 'utf8')).toBe(fs.readFileSync('src/prompb/remote.d.ts', 'utf8'));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('writes what protobufjs reads back with the schema', () => {
    const root = protobuf.loadSync(PROTO);
    const request = {
      timeseries: [
        {
          labels: [
            { name: '__name__', value: 'postgresql_up' },
            { name: 'instance', value: 'db:5432/postgres' },
          ],
          samples: [{ value: 1, timestamp: 1_796_000_000_123 }],
        },
      ],
      metadata: [{ type: 2, metricFamilyName: 'postgresql_up', help: 'Up.' }],
    };
    const bytes = prometheus.WriteRequest.encode(request).finish();
    const decoded = root
      .lookupType('prometheus.WriteRequest')
      .toObject(root.lookupType('prometheus.WriteRequest').decode(bytes), { longs: Number });
    expect(decoded).toEqual(request);
  });
});
