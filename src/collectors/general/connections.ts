import type { Collector } from '../types.js';
import { toNumber } from '../metric.js';

export const MAX_CONNECTIONS_METRIC = {
  name: 'postgresql_max_connections',
  help: 'Maximum number of concurrent connections (setting max_connections).',
  labelNames: [],
} as const;

export const RESERVED_CONNECTIONS_METRIC = {
  name: 'postgresql_reserved_connections',
  help: 'Connection slots reserved for superusers and, from PostgreSQL 16, for pg_use_reserved_connections (superuser_reserved_connections + reserved_connections).',
  labelNames: [],
} as const;

/** `reserved_connections` exists from 16 on; current_setting(..., true) gives NULL before. */
export const CONNECTIONS_QUERY = `
SELECT
  current_setting('max_connections')::float8 AS max_connections,
  current_setting('superuser_reserved_connections')::float8
    + coalesce(current_setting('reserved_connections', true)::float8, 0) AS reserved_connections`;

export interface ConnectionsRow {
  readonly max_connections: number | string | null;
  readonly reserved_connections: number | string | null;
}

export function connectionsSamples(rows: readonly ConnectionsRow[]) {
  const row = rows[0];
  const sample = (value: unknown) => {
    const n = toNumber(value);
    return n === undefined ? [] : [{ labels: {}, value: n }];
  };
  return { max: sample(row?.max_connections), reserved: sample(row?.reserved_connections) };
}

export const connections: Collector = {
  name: 'connections',
  families: [MAX_CONNECTIONS_METRIC, RESERVED_CONNECTIONS_METRIC],
  async collect({ db, metrics }) {
    const samples = connectionsSamples(await db.query<ConnectionsRow>(CONNECTIONS_QUERY));
    metrics.gauge(MAX_CONNECTIONS_METRIC, samples.max);
    metrics.gauge(RESERVED_CONNECTIONS_METRIC, samples.reserved);
  },
};
