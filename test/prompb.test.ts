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

describe('the bundled encoders', () => {
  it('write the same bytes without the long library, which the bundle leaves out', async () => {
    const { build } = await import('esbuild');
    const { NOT_SHIPPED } = await import('../bench/lib.mjs');
    expect(NOT_SHIPPED).toContain('long');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prompb-bundle-'));
    try {
      const entry = path.join(dir, 'entry.ts');
      fs.writeFileSync(
        entry,
        [
          `import { encodeBatch, toWriteBatches } from ${JSON.stringify(path.resolve('src/remote_write.ts'))};`,
          'const [batch] = toWriteBatches(',
          '  "# TYPE a counter\\na{x=\\"1\\"} 5\\n",',
          '  { job: "j", labels: { instance: "i" } },',
          '  1796000000123, 10, "a{x=\\"2\\"} 1\\n");',
          'process.stdout.write(encodeBatch(batch).body.toString("hex"));',
        ].join('\n'),
      );
      const outfile = path.join(dir, 'out.cjs');
      await build({
        entryPoints: [entry],
        bundle: true,
        platform: 'node',
        format: 'cjs',
        external: [...NOT_SHIPPED],
        outfile,
        logLevel: 'error',
      });
      // From the temp dir, `long` cannot be found: as on Lambda, where it is not shipped.
      expect(() =>
        execFileSync(process.execPath, ['-e', 'require.resolve("long")'], {
          cwd: dir,
          stdio: 'pipe',
        }),
      ).toThrow(/Cannot find module 'long'/);
      const bundled = execFileSync(process.execPath, [outfile], { cwd: dir, encoding: 'utf8' });
      const { encodeBatch, toWriteBatches } = await import('../src/remote_write.js');
      const [batch] = toWriteBatches(
        '# TYPE a counter\na{x="1"} 5\n',
        { job: 'j', labels: { instance: 'i' } },
        1_796_000_000_123,
        10,
        'a{x="2"} 1\n',
      );
      expect(batch?.stale).toHaveLength(1);
      expect(bundled).toBe(encodeBatch(batch!).body.toString('hex'));
      // The staleness marker's bits are in it, as the 8 bytes of a fixed64.
      expect(bundled).toContain('09020000000000f07f');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
