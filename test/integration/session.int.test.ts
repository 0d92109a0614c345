/**
 * The connection a warm process keeps between runs (src/db.ts openSession):
 * reused while it answers, replaced when it is gone, never kept when it is
 * unusable, closed by the server itself after POSTGRESQL_KEEP_CONNECTION_SECONDS
 * (14+), and never in the way of the process exiting.
 */
import { silentLogger } from '../../src/logger.js';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { COLLECTORS } from '../../src/collectors/index.js';
import type { Collector } from '../../src/collectors/types.js';
import { closeKeptConnection } from '../../src/db.js';
import { collect, type RunDependencies, type RunSummary } from '../../src/run.js';
import { runEnv, superuser } from '../harness/context.js';
import { eventually, sleep } from '../harness/ports.js';

const silent = silentLogger();

/** The backends of one application_name: pid and start time. */
async function backends(applicationName: string): Promise<{ pid: number; start: string }[]> {
  const admin = await superuser();
  try {
    const { rows } = await admin.query<{ pid: number; start: string }>(
      `SELECT pid, backend_start::text AS start FROM pg_stat_activity
        WHERE application_name = $1 ORDER BY pid`,
      [applicationName],
    );
    return rows;
  } finally {
    await admin.end();
  }
}

async function terminate(pid: number): Promise<void> {
  const admin = await superuser();
  try {
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
  } finally {
    await admin.end();
  }
}

/**
 * A run of its own application_name. database_size (which runs on sessions
 * of its own, Collector.ownSession) and the per-database collectors (a short
 * session per visited database) are off, so each run has exactly one; the
 * second session has a test of its own below.
 */
function env(extra: Record<string, string> = {}): Record<string, string> {
  return runEnv({
    POSTGRESQL_APPLICATION_NAME: `session-${randomBytes(4).toString('hex')}`,
    COLLECTORS_DISABLE: 'database_size,tables,indexes',
    ...extra,
  });
}

/** The default collectors but those on a session of their own. */
const ONE_SESSION = COLLECTORS.filter((c) => c.ownSession !== true && c.scope !== 'database');

async function healthy(
  runEnvironment: Record<string, string>,
  deps: RunDependencies = {},
): Promise<RunSummary> {
  const summary = await collect(runEnvironment, { log: silent, ...deps });
  expect(summary).toMatchObject({ up: true, collectorErrors: 0 });
  return summary;
}

/** A collector that reads how many prepared statements its session holds. */
function preparedCounter(seen: number[]): Collector {
  return {
    name: 'prepared_count',
    families: [],
    async collect({ db }) {
      const [row] = await db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM pg_prepared_statements',
      );
      seen.push(row?.n ?? -1);
    },
  };
}

afterEach(async () => {
  await closeKeptConnection();
});

describe('the connection kept between runs', () => {
  it('serves the next run: same backend, statements already prepared', async () => {
    const e = env();
    const seen: number[] = [];
    const collectors = [preparedCounter(seen), ...ONE_SESSION];
    await healthy(e, { collectors });
    const first = await backends(e.POSTGRESQL_APPLICATION_NAME!);
    expect(first).toHaveLength(1);
    await healthy(e, { collectors });
    expect(await backends(e.POSTGRESQL_APPLICATION_NAME!)).toEqual(first);
    // First run: only the version check was prepared before the counter ran. The
    // second run finds every statement of the first still prepared.
    expect(seen[0]).toBeLessThanOrEqual(3);
    expect(seen[1]).toBeGreaterThan(ONE_SESSION.length / 2);

    await closeKeptConnection();
    await eventually(async () => {
      expect(await backends(e.POSTGRESQL_APPLICATION_NAME!)).toEqual([]);
    });
  });

  it('keeps database_size two sessions of its own, reused by its next run', async () => {
    // Sizes every run, so that both runs use the second session.
    const e = env({
      COLLECTORS_DISABLE: 'tables,indexes',
      COLLECTOR_REFRESH_SECONDS: 'database_size=0',
    });
    const first = await healthy(e);
    expect(first.collectors.find((c) => c.name === 'database_size')?.ok).toBe(true);
    const kept = await backends(e.POSTGRESQL_APPLICATION_NAME!);
    expect(kept).toHaveLength(3);
    await healthy(e);
    expect(await backends(e.POSTGRESQL_APPLICATION_NAME!)).toEqual(kept);
    await closeKeptConnection();
    await eventually(async () => {
      expect(await backends(e.POSTGRESQL_APPLICATION_NAME!)).toEqual([]);
    });
  });

  it('POSTGRESQL_KEEP_CONNECTION_SECONDS=0: a new connection every run, none left open', async () => {
    const e = env({ POSTGRESQL_KEEP_CONNECTION_SECONDS: '0' });
    await healthy(e);
    await eventually(async () => {
      expect(await backends(e.POSTGRESQL_APPLICATION_NAME!)).toEqual([]);
    });
  });

  it('a run with keep 0 neither takes nor closes the connection kept by other runs', async () => {
    const e = env();
    await healthy(e);
    const kept = await backends(e.POSTGRESQL_APPLICATION_NAME!);
    await healthy({ ...e, POSTGRESQL_KEEP_CONNECTION_SECONDS: '0' });
    await eventually(async () => {
      expect(await backends(e.POSTGRESQL_APPLICATION_NAME!)).toEqual(kept);
    });
    await healthy(e);
    expect(await backends(e.POSTGRESQL_APPLICATION_NAME!)).toEqual(kept);
  });

  it('replaces a kept connection the server ended between runs, without a failed collector', async () => {
    const e = env();
    await healthy(e);
    const [old] = await backends(e.POSTGRESQL_APPLICATION_NAME!);
    await terminate(old!.pid);
    await eventually(async () => {
      expect(await backends(e.POSTGRESQL_APPLICATION_NAME!)).toEqual([]);
    });
    const started = Date.now();
    await healthy(e);
    expect(Date.now() - started).toBeLessThan(2_000);
    const now = await backends(e.POSTGRESQL_APPLICATION_NAME!);
    expect(now).toHaveLength(1);
    expect(now[0]!.pid).not.toBe(old!.pid);
  });

  it('is kept per target: a run for another target keeps its own, and each is reused', async () => {
    const a = env();
    const b = { ...a, POSTGRESQL_APPLICATION_NAME: `${a.POSTGRESQL_APPLICATION_NAME!}-b` };
    await healthy(a);
    await healthy(b);
    const keptA = await backends(a.POSTGRESQL_APPLICATION_NAME!);
    const keptB = await backends(b.POSTGRESQL_APPLICATION_NAME);
    expect(keptA).toHaveLength(1);
    expect(keptB).toHaveLength(1);
    await healthy(a);
    await healthy(b);
    expect(await backends(a.POSTGRESQL_APPLICATION_NAME!)).toEqual(keptA);
    expect(await backends(b.POSTGRESQL_APPLICATION_NAME)).toEqual(keptB);
  });

  it("closes another target's connection once it has been idle past the keep time", async () => {
    const a = env({ POSTGRESQL_KEEP_CONNECTION_SECONDS: '1' });
    const b = { ...a, POSTGRESQL_APPLICATION_NAME: `${a.POSTGRESQL_APPLICATION_NAME!}-b` };
    await healthy(a);
    expect(await backends(a.POSTGRESQL_APPLICATION_NAME!)).toHaveLength(1);
    await sleep(1_500);
    // On 14+ the server may already have closed it (idle_session_timeout); on 13 the next
    // new connection of the process closes it.
    await healthy(b);
    await eventually(async () => {
      expect(await backends(a.POSTGRESQL_APPLICATION_NAME!)).toEqual([]);
    });
    expect(await backends(b.POSTGRESQL_APPLICATION_NAME)).toHaveLength(1);
  });

  it('is not kept when a run left it inside a transaction', async () => {
    const e = env();
    const opener: Collector = {
      name: 'opens_a_transaction',
      families: [],
      async collect({ db }) {
        await db.query('BEGIN');
      },
    };
    await healthy(e, { collectors: [opener] });
    await eventually(async () => {
      expect(await backends(e.POSTGRESQL_APPLICATION_NAME!)).toEqual([]);
    });
  });

  it('is closed by the server after the keep time (14+), else dropped by the next run', async () => {
    const e = env({ POSTGRESQL_KEEP_CONNECTION_SECONDS: '1' });
    const first = await healthy(e);
    const [old] = await backends(e.POSTGRESQL_APPLICATION_NAME!);
    expect(old).toBeDefined();
    if (first.serverVersion! >= 140_000) {
      // idle_session_timeout: the server ends the idle session by itself.
      await eventually(async () => {
        expect(await backends(e.POSTGRESQL_APPLICATION_NAME!)).toEqual([]);
      }, 5_000);
    } else {
      await sleep(1_500);
    }
    await healthy(e);
    const now = await backends(e.POSTGRESQL_APPLICATION_NAME!);
    expect(now).toHaveLength(1);
    expect(now[0]!.pid).not.toBe(old!.pid);
  });

  it('does not keep a process alive: a script that runs once exits right after the run', async () => {
    const e = env();
    const script = [
      "import('./src/run.ts').then(async (m) => {",
      // The package is CommonJS: the module's exports are under default.
      '  const { collect } = m.default ?? m;',
      "  const logger = await import('./src/logger.ts');",
      '  const { silentLogger } = logger.default ?? logger;',
      '  const s = await collect(process.env, { log: silentLogger() });',
      "  process.stdout.write(JSON.stringify({ up: s.up, errors: s.collectorErrors }) + '\\n');",
      '});',
    ].join('\n');
    const started = Date.now();
    const result = await new Promise<{ code: number | null; out: string; err: string; ms: number }>(
      (resolve, reject) => {
        const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], {
          env: { ...process.env, ...e },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        let err = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        child.on('error', reject);
        child.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code, out, err, ms: Date.now() - started });
        });
      },
    );
    expect(result.code, result.err).toBe(0);
    expect(JSON.parse(result.out)).toEqual({ up: true, errors: 0 });
    expect(result.ms).toBeLessThan(15_000);
  });
});
