import type { Collector } from '../types.js';
import { single, type Sample } from '../metric.js';

export const VERSION_INFO_METRIC = {
  name: 'postgresql_version_info',
  help: 'Always 1; the version label is the server version (setting server_version, e.g. 17.10).',
  labelNames: ['version'],
} as const;

export const SERVER_VERSION_NUM_METRIC = {
  name: 'postgresql_server_version_num',
  help: 'The server version as a number (setting server_version_num, e.g. 170010 for 17.10).',
  labelNames: [],
} as const;

export const VERSION_QUERY = `
SELECT
  current_setting('server_version') AS version,
  current_setting('server_version_num')::float8 AS version_num`;

export interface VersionRow {
  readonly version: string | null;
  readonly version_num: number | string | null;
}

export function versionSamples(rows: readonly VersionRow[]) {
  const row = rows[0];
  const version = row?.version;
  const info: Sample<'version'>[] =
    version === undefined || version === null ? [] : [{ labels: { version }, value: 1 }];
  return { info, versionNum: single(row?.version_num) };
}

export const version: Collector = {
  name: 'version',
  families: [VERSION_INFO_METRIC, SERVER_VERSION_NUM_METRIC],
  async collect({ db, metrics }) {
    const samples = versionSamples(await db.query<VersionRow>(VERSION_QUERY));
    metrics.gauge(VERSION_INFO_METRIC, samples.info);
    // prom-client reads an unlabelled family without samples as 0: leave such a family out.
    if (samples.versionNum.length > 0) metrics.gauge(SERVER_VERSION_NUM_METRIC, samples.versionNum);
  },
};
