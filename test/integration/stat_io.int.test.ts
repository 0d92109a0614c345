/**
 * The stat_io collector against a real PostgreSQL of the project's major, as
 * the pg_monitor-only role through the same connect() the handler uses. Real
 * I/O is done as superuser (a table filled, a checkpoint) and what the
 * collector pushes is checked against pg_stat_io read around it. On 13 to 15,
 * which have no pg_stat_io, the run skips the collector.
 */
import { collectOnce } from '../harness/collect.js';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statIo } from '../../src/collectors/general/stat_io.js';
import { supports } from '../../src/collectors/types.js';
import type { Database } from '../../src/db.js';
import { silentLogger } from '../../src/logger.js';
import { collect } from '../../src/run.js';
import { parseExposition, select, type ParsedExposition } from '../harness/exposition.js';
import {
  connectMonitor,
  pushgatewayMetrics,
  runEnv,
  servers,
  superuser,
  uniqueJob,
} from '../harness/context.js';
import { eventually } from '../harness/ports.js';

const major = servers().postgres.major;

/** The view's counts, times (ms) and, on 18, byte columns: column → family. */
const COUNTS = {
  reads: 'reads_total',
  writes: 'writes_total',
  writebacks: 'writebacks_total',
  extends: 'extends_total',
  hits: 'hits_total',
  evictions: 'evictions_total',
  reuses: 'reuses_total',
  fsyncs: 'fsyncs_total',
} as const;
const TIMES = {
  read_time: 'read_seconds_total',
  write_time: 'write_seconds_total',
  writeback_time: 'writeback_seconds_total',
  extend_time: 'extend_seconds_total',
  fsync_time: 'fsync_seconds_total',
} as const;
const BYTES = {
  read_bytes: ['reads', 'read_bytes_total'],
  write_bytes: ['writes', 'write_bytes_total'],
  extend_bytes: ['extends', 'extend_bytes_total'],
} as const;

type ViewRow = Record<string, string | number | null>;

let db: Database;
let admin: pg.Client;
const table = uniqueJob('stat_io_probe').replace('-', '_');

/** pg_stat_io as superuser, by `backend_type/object/context`; NULL stays null. */
async function view(): Promise<Map<string, ViewRow>> {
  const { rows } = await admin.query<ViewRow>('SELECT * FROM pg_stat_io');
  return new Map(rows.map((r) => [`${r.backend_type}/${r.object}/${r.context}`, r]));
}

async function run(): Promise<ParsedExposition> {
  const registry = await collectOnce(statIo, { db, serverVersion: db.serverVersion });
  return parseExposition(await registry.metrics());
}

/** The pushed value of `family` for a view key, undefined when there is no sample. */
function pushedValue(metrics: ParsedExposition, family: string, key: string): number | undefined {
  const [backend_type, object, context] = key.split('/') as [string, string, string];
  const samples = select(metrics, `postgresql_stat_io_${family}`, {
    backend_type,
    object,
    context,
  });
  expect(samples.length, `${family} ${key}`).toBeLessThanOrEqual(1);
  return samples[0]?.value;
}

const CLIENT = 'client backend/relation/normal';
const num = (v: string | number | null | undefined) => (v === null ? null : Number(v));

beforeAll(async () => {
  admin = await superuser();
  db = await connectMonitor();
});

afterAll(async () => {
  await db.close();
  await admin.query(`DROP TABLE IF EXISTS public.${table}`);
  await admin.end();
});

describe(`stat_io on PostgreSQL ${major}`, () => {
  it(
    major >= 16
      ? 'follows real I/O, matching pg_stat_io cell by cell (NULL: no sample, ms: s, bytes)'
      : 'is not supported before 16: there is no pg_stat_io',
    async () => {
      if (major < 16) {
        // The run skips the collector by version (asserted through a whole run below).
        expect(supports(statIo, db.serverVersion)).toBe(false);
        const { rows } = await admin.query<{ view: string | null }>(
          "SELECT to_regclass('pg_catalog.pg_stat_io')::text AS view",
        );
        expect(rows[0]?.view).toBeNull();
        return;
      }
      expect(supports(statIo, db.serverVersion)).toBe(true);
      const start = await view();
      // Times are measured only with track_io_timing: on in this session, for its own I/O.
      await admin.query('SET track_io_timing = on');
      await admin.query(`CREATE TABLE public.${table} (id int, pad text)`);
      await admin.query(
        `INSERT INTO public.${table} SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g`,
      );
      await admin.query('SELECT pg_stat_force_next_flush()');
      await admin.query('CHECKPOINT');

      await eventually(async () => {
        const metrics = await run();
        const client = (family: string) => pushedValue(metrics, family, CLIENT) ?? -1;
        // 20,000 rows of about 230 bytes: some 600 new blocks, by a client backend.
        expect(client('extends_total')).toBeGreaterThan(num(start.get(CLIENT)?.extends) ?? 0);
        expect(client('extend_bytes_total')).toBeGreaterThan(0);
        expect(client('extend_seconds_total')).toBeGreaterThan(
          (num(start.get(CLIENT)?.extend_time) ?? 0) / 1000,
        );
        expect(client('hits_total')).toBeGreaterThan(0);
        // The checkpoint wrote the new blocks.
        const checkpointer = 'checkpointer/relation/normal';
        expect(pushedValue(metrics, 'writes_total', checkpointer)).toBeGreaterThan(
          num(start.get(checkpointer)?.writes) ?? 0,
        );
      }, 20_000);

      // Every cell of the view, read before and after the collection.
      const before = await view();
      const metrics = await run();
      const after = await view();
      expect(after.size).toBe(before.size);
      let series = 0;
      for (const [key, row] of before) {
        const later = after.get(key);
        expect(later, key).toBeDefined();
        for (const [column, family] of Object.entries(COUNTS)) {
          const pushed = pushedValue(metrics, family, key);
          if (row[column] === null) {
            expect(pushed, `${family} ${key}: NULL gives no sample`).toBeUndefined();
            continue;
          }
          series += 1;
          expect(pushed, `${family} ${key}`).toBeGreaterThanOrEqual(num(row[column])!);
          expect(pushed, `${family} ${key}`).toBeLessThanOrEqual(num(later![column])!);
        }
        for (const [column, family] of Object.entries(TIMES)) {
          const pushed = pushedValue(metrics, family, key);
          if (row[column] === null) {
            expect(pushed, `${family} ${key}`).toBeUndefined();
            continue;
          }
          series += 1;
          expect(pushed, `${family} ${key}`).toBeGreaterThanOrEqual(num(row[column])! / 1000);
          expect(pushed, `${family} ${key}`).toBeLessThanOrEqual(num(later![column])! / 1000);
        }
        for (const [column, [count, family]] of Object.entries(BYTES)) {
          const pushed = pushedValue(metrics, family, key);
          if (major >= 18) {
            // The byte columns themselves.
            expect(row).not.toHaveProperty('op_bytes');
            if (row[column] === null) {
              expect(pushed, `${family} ${key}`).toBeUndefined();
              continue;
            }
            expect(pushed, `${family} ${key}`).toBeGreaterThanOrEqual(num(row[column])!);
            expect(pushed, `${family} ${key}`).toBeLessThanOrEqual(num(later![column])!);
          } else {
            // No byte columns: the count's blocks of op_bytes (BLCKSZ), from the same read.
            expect(row).not.toHaveProperty(column);
            expect(num(row.op_bytes)).toBe(8192);
            if (row[count] === null) {
              expect(pushed, `${family} ${key}`).toBeUndefined();
              continue;
            }
            expect(pushed, `${family} ${key}`).toBe(
              pushedValue(metrics, COUNTS[count], key)! * 8192,
            );
          }
          series += 1;
        }
      }
      // Nothing beyond the view's cells: every sample is one of them, and a family of the
      // collector's own (the stats_reset column is none).
      const pushed = metrics.samples.filter((s) => s.name.startsWith('postgresql_stat_io_'));
      expect(pushed).toHaveLength(series);
      expect(pushed).toHaveLength(metrics.samples.length);
      expect(new Set(pushed.map((s) => s.name)).size).toBe(16);
      // The series count is fixed by the major: about 30 to 80 rows, under 1,000 series.
      expect(before.size).toBeGreaterThanOrEqual(25);
      expect(before.size).toBeLessThanOrEqual(100);
      expect(series).toBeLessThan(1_000);
      if (major >= 18) {
        expect([...before.keys()].some((key) => key.split('/')[1] === 'wal')).toBe(true);
        expect(select(metrics, 'postgresql_stat_io_writes_total', { object: 'wal' })).not.toEqual(
          [],
        );
      }
    },
  );

  it(`a whole run ${major >= 16 ? 'pushes' : 'skips'} it`, async () => {
    const env = runEnv();
    const summary = await collect(env, { log: silentLogger() });
    const all = parseExposition(await pushgatewayMetrics());
    const job = all.samples.filter((s) => s.labels.job === env.PUSHGATEWAY_JOB);
    const statIoSamples = job.filter((s) => s.name.startsWith('postgresql_stat_io_'));
    const success = job.filter(
      (s) => s.name === 'postgresql_exporter_collector_success' && s.labels.collector === 'stat_io',
    );
    expect(summary.collectorErrors).toBe(0);
    expect(job.some((s) => s.name === 'postgresql_up' && s.value === 1)).toBe(true);
    if (major >= 16) {
      expect(summary.skipped).not.toContain('stat_io');
      expect(summary.collectors.find((c) => c.name === 'stat_io')?.ok).toBe(true);
      expect(success.map((s) => s.value)).toEqual([1]);
      expect(
        statIoSamples.filter(
          (s) =>
            s.name === 'postgresql_stat_io_hits_total' &&
            s.labels.backend_type === 'client backend' &&
            s.labels.object === 'relation' &&
            s.labels.context === 'normal',
        ),
      ).toHaveLength(1);
      expect(statIoSamples.length).toBeLessThan(1_000);
    } else {
      expect(summary.skipped).toContain('stat_io');
      expect(summary.collectors.map((c) => c.name)).not.toContain('stat_io');
      expect(success).toEqual([]);
      expect(statIoSamples).toEqual([]);
      expect(all.type.has('postgresql_stat_io_reads_total')).toBe(false);
    }
  });
});
