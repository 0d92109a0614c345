/**
 * npm run bench:sdk (node --import tsx bench/sdk-bundling.mts) — should the Lambda bundle contain @aws-sdk/* or take it
 * from the Node.js runtime? Builds the handler both ways with the esbuild
 * options of serverless.yml and measures, in the same run:
 *   - bundle size (minified) and zipped size;
 *   - module init: a fresh `node` process requiring the bundle (median of N);
 * The "external" variant loads the SDK from node_modules, standing in for the
 * copy the Lambda runtime ships.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { bundleHandler } from './lib.mjs';

const rounds = Number(process.argv.find((a) => a.startsWith('--rounds='))?.slice(9) ?? 15);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sdk-bundling-'));

async function variant(name: string, external: string[]) {
  const outfile = path.join(dir, name, 'collect.js');
  await bundleHandler(outfile, external);
  const code = fs.readFileSync(outfile);
  const samples: number[] = [];
  const script = `const t=process.hrtime.bigint();require(${JSON.stringify(outfile)});console.log(Number(process.hrtime.bigint()-t)/1e6)`;
  for (let i = 0; i < rounds; i += 1) {
    const out = execFileSync(process.execPath, ['-e', script], {
      encoding: 'utf8',
      env: { ...process.env, NODE_PATH: path.resolve('node_modules') },
    });
    samples.push(Number(out.trim()));
  }
  samples.sort((a, b) => a - b);
  return {
    name,
    bytes: code.length,
    gzipped: zlib.gzipSync(code).length,
    initMs: samples[Math.floor(samples.length / 2)] ?? NaN,
  };
}

const bundled = await variant('bundled', []);
const external = await variant('external', ['@aws-sdk/*']);
fs.rmSync(dir, { recursive: true, force: true });

console.log(`node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'}, ${rounds} rounds`);
console.log('variant   bundle KB  gzip KB  init ms (median)');
for (const v of [bundled, external]) {
  console.log(
    `${v.name.padEnd(9)} ${(v.bytes / 1024).toFixed(0).padStart(9)}  ${(v.gzipped / 1024).toFixed(0).padStart(7)}  ${v.initMs.toFixed(1).padStart(16)}`,
  );
}
console.log(
  `ratio bundled/external: size=${(bundled.bytes / external.bytes).toFixed(2)} init=${(bundled.initMs / external.initMs).toFixed(2)}`,
);
