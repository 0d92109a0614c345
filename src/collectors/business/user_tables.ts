/**
 * Worked example of a business metric: the number of user tables per schema
 * in the database the exporter connects to. Copy this file to add your own;
 * see "Add a metric" in the README.
 */
import type { Collector } from '../types.js';
import { toNumber, type Sample } from '../metric.js';

export const USER_TABLES_METRIC = {
  name: 'postgresql_business_user_tables',
  help: 'Number of user tables per schema in the connected database (example business metric).',
  labelNames: ['schema'],
} as const;

export const USER_TABLES_QUERY = `
SELECT schemaname AS schema, count(*)::float8 AS tables
FROM pg_stat_user_tables
GROUP BY schemaname`;

export interface UserTablesRow {
  readonly schema: string;
  readonly tables: number | string | null;
}

export function userTablesSamples(rows: readonly UserTablesRow[]): Sample<'schema'>[] {
  return rows.map((row) => ({ labels: { schema: row.schema }, value: toNumber(row.tables) ?? 0 }));
}

export const userTables: Collector = {
  name: 'business_user_tables',
  families: [USER_TABLES_METRIC],
  async collect({ db, metrics }) {
    const rows = await db.query<UserTablesRow>(USER_TABLES_QUERY);
    metrics.gauge(USER_TABLES_METRIC, userTablesSamples(rows));
  },
};
