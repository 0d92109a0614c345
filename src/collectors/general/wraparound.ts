import type { Collector } from '../types.js';
import { single, toNumber, type Sample } from '../metric.js';

export const DATABASE_XID_AGE_METRIC = {
  name: 'postgresql_database_xid_age',
  help: "Transactions since the database's oldest unfrozen transaction ID (age(pg_database.datfrozenxid)); autovacuum forces a freeze at autovacuum_freeze_max_age, wraparound protection stops writes near 2^31.",
  labelNames: ['database'],
} as const;

export const DATABASE_MXID_AGE_METRIC = {
  name: 'postgresql_database_mxid_age',
  help: "Multixacts since the database's oldest unfrozen multixact ID (mxid_age(pg_database.datminmxid)).",
  labelNames: ['database'],
} as const;

export const AUTOVACUUM_FREEZE_MAX_AGE_METRIC = {
  name: 'postgresql_autovacuum_freeze_max_age',
  help: 'Transaction age at which autovacuum forces a vacuum to prevent wraparound (setting autovacuum_freeze_max_age).',
  labelNames: [],
} as const;

/** One row per database, template0 too; the setting is repeated on every row. */
export const WRAPAROUND_QUERY = `
SELECT
  datname,
  age(datfrozenxid)::float8 AS xid_age,
  mxid_age(datminmxid)::float8 AS mxid_age,
  current_setting('autovacuum_freeze_max_age')::float8 AS autovacuum_freeze_max_age
FROM pg_database`;

export interface WraparoundRow {
  readonly datname: string | null;
  readonly xid_age: number | string | null;
  readonly mxid_age: number | string | null;
  readonly autovacuum_freeze_max_age: number | string | null;
}

export function wraparoundSamples(rows: readonly WraparoundRow[]): {
  xidAge: Sample<'database'>[];
  mxidAge: Sample<'database'>[];
  freezeMaxAge: Sample<never>[];
} {
  const xidAge: Sample<'database'>[] = [];
  const mxidAge: Sample<'database'>[] = [];
  for (const row of rows) {
    if (row.datname === null) continue;
    const labels = { database: row.datname };
    const xid = toNumber(row.xid_age);
    if (xid !== undefined) xidAge.push({ labels, value: xid });
    const mxid = toNumber(row.mxid_age);
    if (mxid !== undefined) mxidAge.push({ labels, value: mxid });
  }
  return { xidAge, mxidAge, freezeMaxAge: single(rows[0]?.autovacuum_freeze_max_age) };
}

export const wraparound: Collector = {
  name: 'wraparound',
  families: [DATABASE_XID_AGE_METRIC, DATABASE_MXID_AGE_METRIC, AUTOVACUUM_FREEZE_MAX_AGE_METRIC],
  async collect({ db, metrics }) {
    const samples = wraparoundSamples(await db.query<WraparoundRow>(WRAPAROUND_QUERY));
    metrics.gauge(DATABASE_XID_AGE_METRIC, samples.xidAge);
    metrics.gauge(DATABASE_MXID_AGE_METRIC, samples.mxidAge);
    // prom-client reads an unlabelled family without samples as 0: leave such a family out.
    if (samples.freezeMaxAge.length > 0)
      metrics.gauge(AUTOVACUUM_FREEZE_MAX_AGE_METRIC, samples.freezeMaxAge);
  },
};
