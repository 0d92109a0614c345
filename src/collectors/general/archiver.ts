import type { Collector } from '../types.js';
import { single } from '../metric.js';

export const ARCHIVER_ARCHIVED_METRIC = {
  name: 'postgresql_archiver_archived_total',
  help: 'WAL files successfully archived (pg_stat_archiver.archived_count).',
  labelNames: [],
} as const;

export const ARCHIVER_FAILED_METRIC = {
  name: 'postgresql_archiver_failed_total',
  help: 'Failed attempts to archive a WAL file (pg_stat_archiver.failed_count).',
  labelNames: [],
} as const;

export const ARCHIVER_LAST_ARCHIVE_AGE_METRIC = {
  name: 'postgresql_archiver_last_archive_age_seconds',
  help: 'Seconds since the last WAL file was archived (now() - pg_stat_archiver.last_archived_time). No sample before the first.',
  labelNames: [],
} as const;

export const ARCHIVER_QUERY = `
SELECT
  archived_count::float8 AS archived,
  failed_count::float8 AS failed,
  extract(epoch FROM now() - last_archived_time)::float8 AS last_archive_age_seconds
FROM pg_stat_archiver`;

export interface ArchiverRow {
  readonly archived: number | string | null;
  readonly failed: number | string | null;
  readonly last_archive_age_seconds: number | string | null;
}

export function archiverSamples(rows: readonly ArchiverRow[]) {
  const row = rows[0];
  return {
    archived: single(row?.archived),
    failed: single(row?.failed),
    lastArchiveAge: single(row?.last_archive_age_seconds),
  };
}

export const archiver: Collector = {
  name: 'archiver',
  families: [ARCHIVER_ARCHIVED_METRIC, ARCHIVER_FAILED_METRIC, ARCHIVER_LAST_ARCHIVE_AGE_METRIC],
  async collect({ db, metrics }) {
    const samples = archiverSamples(await db.query<ArchiverRow>(ARCHIVER_QUERY));
    // prom-client reads an unlabelled family without samples as 0: leave such a family out.
    if (samples.archived.length > 0) metrics.counter(ARCHIVER_ARCHIVED_METRIC, samples.archived);
    if (samples.failed.length > 0) metrics.counter(ARCHIVER_FAILED_METRIC, samples.failed);
    if (samples.lastArchiveAge.length > 0)
      metrics.gauge(ARCHIVER_LAST_ARCHIVE_AGE_METRIC, samples.lastArchiveAge);
  },
};
