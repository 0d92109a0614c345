import type { Collector } from '../types.js';
import { toNumber } from '../metric.js';

export const UPTIME_METRIC = {
  name: 'postgresql_uptime',
  help: 'Gauge metric with uptime in days of the Instance.',
  labelNames: [],
} as const;

/** Whole days since the postmaster started, as the seed reported it. */
export const UPTIME_QUERY = `
SELECT floor(extract(epoch from now() - pg_postmaster_start_time()) / 86400)::float8 AS days`;

export interface UptimeRow {
  readonly days: number | string | null;
}

export function uptimeSamples(rows: readonly UptimeRow[]) {
  const days = toNumber(rows[0]?.days);
  return days === undefined ? [] : [{ labels: {}, value: days }];
}

export const uptime: Collector = {
  name: 'uptime',
  families: [UPTIME_METRIC],
  async collect({ db, metrics }) {
    metrics.gauge(UPTIME_METRIC, uptimeSamples(await db.query<UptimeRow>(UPTIME_QUERY)));
  },
};
