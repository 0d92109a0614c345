/**
 * npm run bench:module-init -- --against DIR [--rounds N]
 *
 * Module init of the handler's bundle, this tree's beside another checkout's
 * (DIR, e.g. a `git worktree` of an older commit, with its node_modules),
 * built the same way (bench/lib.mts bundleHandler, each tree its own) and
 * `require()`d by a fresh `node` with the heap flags of a 128 MB Lambda,
 * the two interleaved round by round: what a change to the bundle costs a
 * cold start before any handler code runs. Nothing is connected to; no
 * server is started. Prints the medians and the ratio; writes nothing.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LAMBDA_128_FLAGS, bundleHandler, median, parseArgv, reportFailure } from './lib.mjs';

interface Options {
  readonly against: string;
  readonly rounds: number;
}

function parseArgs(argv: readonly string[]): Options {
  let against: string | undefined;
  let rounds = 20;
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--against') against = argv[++i];
    else if (arg === '--rounds') rounds = Number(argv[++i]);
    else throw new Error(`unknown argument ${String(arg)}`);
  }
  if (against === undefined || !fs.existsSync(path.join(against, 'handlers/collect.ts'))) {
    throw new Error(
      'usage: npm run bench:module-init -- --against DIR (a checkout with handlers/collect.ts)',
    );
  }
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds: a positive integer');
  return { against: path.resolve(against), rounds };
}

/** The other tree's bundle, by its own bench/lib.mts when it has one. */
async function bundleOf(tree: string, outfile: string): Promise<void> {
  if (tree === process.cwd()) return bundleHandler(outfile);
  const lib = (await import(path.join(tree, 'bench/lib.mts'))) as {
    bundleHandler: (outfile: string, external?: readonly string[], entry?: string) => Promise<void>;
  };
  const cwd = process.cwd();
  process.chdir(tree);
  try {
    await lib.bundleHandler(outfile);
  } finally {
    process.chdir(cwd);
  }
}

function requireMs(bundle: string): number {
  const script =
    'const t0=process.hrtime.bigint();' +
    `require(${JSON.stringify(bundle)});` +
    'process.stdout.write(String(Number(process.hrtime.bigint()-t0)/1e6));';
  const run = spawnSync(process.execPath, [...LAMBDA_128_FLAGS, '-e', script], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '' },
  });
  if (run.status !== 0) throw new Error(`require of ${bundle} failed: ${run.stderr.slice(-2000)}`);
  return Number(run.stdout);
}

async function main(options: Options): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-module-init-'));
  try {
    const trees = { this: process.cwd(), against: options.against };
    const bundles = { this: path.join(dir, 'this.js'), against: path.join(dir, 'against.js') };
    await bundleOf(trees.this, bundles.this);
    await bundleOf(trees.against, bundles.against);
    const times: Record<keyof typeof bundles, number[]> = { this: [], against: [] };
    requireMs(bundles.this);
    requireMs(bundles.against);
    for (let round = 0; round < options.rounds; round += 1) {
      const order: (keyof typeof bundles)[] =
        round % 2 === 0 ? ['this', 'against'] : ['against', 'this'];
      for (const which of order) times[which].push(requireMs(bundles[which]));
    }
    for (const which of ['this', 'against'] as const) {
      const bytes = fs.statSync(bundles[which]).size;
      console.log(
        `${which.padEnd(7)} ${trees[which]}: bundle ${bytes} bytes, module init median ` +
          `${median(times[which]).toFixed(1)} ms (min ${Math.min(...times[which]).toFixed(1)}, ` +
          `${options.rounds} rounds, ${LAMBDA_128_FLAGS.join(' ')})`,
      );
    }
    console.log(
      `ratio this/against module init=${(median(times.this) / median(times.against)).toFixed(2)}`,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

try {
  await main(parseArgv(parseArgs));
} catch (error) {
  reportFailure(error);
  process.exitCode = 1;
}
