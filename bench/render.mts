/**
 * npm run bench:render [-- --databases 200,1000] [--rounds 30] [--against ../main]
 *
 * The CPU of one run without I/O: the real run (src/run.ts) over the fixed
 * rows of test/fixtures/large-run.ts (the default collectors at N
 * databases, answered at once by a fake session) and a delivery that
 * only keeps the body. What is left is the exporter's own work: mapping
 * rows to samples (per collector), the prom-client registries, render,
 * redaction and counting. Prints medians of CPU ms (user + system) per run:
 * map (all collectors), the rest (render and bookkeeping), total.
 *
 * `--against <checkout>` runs that checkout's src/run.ts on the same rows,
 * round by round interleaved with this one, and checks that both push the
 * same text (durations masked): a before/after on one busy machine. With
 * `--cpu-prof` Node writes a CPU profile (see README).
 */
import path from 'node:path';
import type { Collector } from '../src/collectors/types.js';
import { silentLogger } from '../src/logger.js';
import type { run as runFn, plan as planFn } from '../src/run.js';
import { median, parseArgv } from './lib.mjs';
import {
  edgeCollector,
  LARGE_RUN_PASSWORD,
  largeRunDatabase,
  largeRunRows,
} from '../test/fixtures/large-run.js';

interface Options {
  readonly sizes: readonly number[];
  readonly rounds: number;
  readonly against?: string;
}

function parseArgs(argv: readonly string[]): Options {
  let sizes = [200, 1000];
  let rounds = 30;
  let against: string | undefined;
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    const value = () => {
      const v = argv[(i += 1)];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === '--databases') sizes = value().split(',').map(Number);
    else if (arg === '--rounds') rounds = Number(value());
    else if (arg === '--against') against = path.resolve(value());
    else
      throw new Error(
        `unknown argument ${arg}; usage: npm run bench:render -- [--databases 200,1000] [--rounds N] [--against DIR]`,
      );
  }
  if (sizes.some((n) => !Number.isInteger(n) || n < 0) || !(rounds >= 1)) {
    throw new Error('--databases takes whole numbers, --rounds at least 1');
  }
  return { sizes, rounds, ...(against === undefined ? {} : { against }) };
}

interface Pipeline {
  readonly name: string;
  readonly plan: typeof planFn;
  readonly run: typeof runFn;
  readonly collectors: readonly Collector[];
}

async function pipeline(name: string, root: string): Promise<Pipeline> {
  const runModule = (await import(path.join(root, 'src/run.ts'))) as {
    plan: typeof planFn;
    run: typeof runFn;
  };
  const { COLLECTORS } = (await import(path.join(root, 'src/collectors/index.ts'))) as {
    COLLECTORS: readonly Collector[];
  };
  return { name, plan: runModule.plan, run: runModule.run, collectors: COLLECTORS };
}

const cpuMs = (since: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
};

const ENV = {
  POSTGRESQL_HOST: 'db.internal',
  POSTGRESQL_PASSWORD: LARGE_RUN_PASSWORD,
  PUSHGATEWAY_URL: 'http://gw:9091',
};

/** One run: CPU ms in the collectors (map), in total, and the pushed text. */
async function once(
  p: Pipeline,
  rows: ReturnType<typeof largeRunRows>,
): Promise<{ map: number; total: number; body: string }> {
  let map = 0;
  const collectors = [...p.collectors, edgeCollector].map((collector): Collector => ({
    ...collector,
    async collect(context) {
      const c0 = process.cpuUsage();
      await collector.collect(context);
      map += cpuMs(c0);
    },
  }));
  const db = largeRunDatabase(rows);
  let body = '';
  const t0 = process.cpuUsage();
  await p.run(p.plan(ENV, collectors), {
    connect: () => Promise.resolve(db),
    deliver: (delivery) => {
      body = delivery.body;
      return Promise.resolve();
    },
    log: silentLogger(),
  });
  return { map, total: cpuMs(t0), body };
}

const masked = (text: string) =>
  text.replace(/^(postgresql_exporter_(?:collector|run)_duration_seconds\S*) \S+$/gm, '$1 0');

async function main(options: Options): Promise<number> {
  const pipelines = [await pipeline('this checkout', path.resolve('.'))];
  if (options.against !== undefined) {
    pipelines.unshift(await pipeline(options.against, options.against));
  }
  for (const n of options.sizes) {
    const rows = largeRunRows(n);
    const results = pipelines.map(() => ({ map: [] as number[], total: [] as number[] }));
    const bodies = await Promise.all(pipelines.map(async (p) => (await once(p, rows)).body)); // warm-up
    if (bodies.some((b) => masked(b) !== masked(bodies[0]!))) {
      console.log(`databases=${n}: the pushed texts differ`);
      return 1;
    }
    for (let round = 0; round < options.rounds; round += 1) {
      // The order alternates: a run pays for some of the garbage of the one before it.
      const order = [...pipelines.keys()];
      if (round % 2 === 1) order.reverse();
      for (const i of order) {
        const p = pipelines[i]!;
        const r = await once(p, rows);
        results[i]!.map.push(r.map);
        results[i]!.total.push(r.total);
      }
    }
    const series = bodies[0]!.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;
    console.log(
      `\n### databases=${n}: ${series} series, ${Buffer.byteLength(bodies[0]!)} bytes, CPU ms per run, median of ${options.rounds}\n`,
    );
    console.log('| code | map (all collectors) | render and bookkeeping | total |');
    console.log('| --- | ---: | ---: | ---: |');
    for (const [i, p] of pipelines.entries()) {
      const map = median(results[i]!.map);
      const total = median(results[i]!.total);
      const rest = median(results[i]!.total.map((t, k) => t - results[i]!.map[k]!));
      console.log(`| ${p.name} | ${map.toFixed(1)} | ${rest.toFixed(1)} | ${total.toFixed(1)} |`);
    }
  }
  return 0;
}

process.exitCode = await main(parseArgv(parseArgs));
