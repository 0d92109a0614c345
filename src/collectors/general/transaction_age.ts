import type { Collector } from '../types.js';
import { toNumber, type Sample } from '../metric.js';

export const OLDEST_TRANSACTION_METRIC = {
  name: 'postgresql_oldest_transaction_seconds',
  help: 'Age of the oldest open transaction per database, 0 when there is none (pg_stat_activity.xact_start).',
  labelNames: ['database'],
} as const;

export const OLDEST_IDLE_IN_TRANSACTION_METRIC = {
  name: 'postgresql_oldest_idle_in_transaction_seconds',
  help: "Longest time a session has been idle in transaction per database, 0 when there is none (pg_stat_activity.state_change of 'idle in transaction' sessions).",
  labelNames: ['database'],
} as const;

/** One row per database; ages of sessions other than the exporter's own. */
export const TRANSACTION_AGE_QUERY = `
SELECT
  d.datname,
  coalesce(max(extract(epoch FROM now() - a.xact_start)), 0)::float8 AS oldest_transaction,
  coalesce(max(extract(epoch FROM now() - a.state_change))
    FILTER (WHERE a.state IN ('idle in transaction', 'idle in transaction (aborted)')), 0)::float8
    AS oldest_idle_in_transaction
FROM pg_database d
LEFT JOIN pg_stat_activity a ON a.datid = d.oid AND a.pid <> pg_backend_pid()
GROUP BY d.datname`;

export interface TransactionAgeRow {
  readonly datname: string | null;
  readonly oldest_transaction: number | string | null;
  readonly oldest_idle_in_transaction: number | string | null;
}

export function transactionAgeSamples(rows: readonly TransactionAgeRow[]): {
  transaction: Sample<'database'>[];
  idle: Sample<'database'>[];
} {
  const transaction: Sample<'database'>[] = [];
  const idle: Sample<'database'>[] = [];
  for (const row of rows) {
    if (row.datname === null) continue;
    const labels = { database: row.datname };
    transaction.push({ labels, value: toNumber(row.oldest_transaction) ?? 0 });
    idle.push({ labels, value: toNumber(row.oldest_idle_in_transaction) ?? 0 });
  }
  return { transaction, idle };
}

export const transactionAge: Collector = {
  name: 'transaction_age',
  families: [OLDEST_TRANSACTION_METRIC, OLDEST_IDLE_IN_TRANSACTION_METRIC],
  // Without it, other roles' sessions (or statements) are hidden: the numbers would be low.
  needs: ['pg_read_all_stats'],
  async collect({ db, metrics }) {
    const samples = transactionAgeSamples(await db.query<TransactionAgeRow>(TRANSACTION_AGE_QUERY));
    metrics.gauge(OLDEST_TRANSACTION_METRIC, samples.transaction);
    metrics.gauge(OLDEST_IDLE_IN_TRANSACTION_METRIC, samples.idle);
  },
};
