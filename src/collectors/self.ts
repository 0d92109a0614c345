/**
 * The exporter's own metrics, in every push: which collectors worked and how
 * long they took, how old each one's numbers are, whether one hit the series
 * limit, which privileges the role lacks, how long the run took, and which
 * version ran.
 */
import type { Registry } from 'prom-client';
import { version } from '../../package.json';
import type { VisitReport } from '../visits.js';
import { addGauge, type MetricDefinition } from './metric.js';

export const BUILD_INFO_METRIC = {
  name: 'postgresql_exporter_build_info',
  help: 'Version of postgresql-pushgateway-exporter that pushed these metrics; always 1.',
  labelNames: ['version'],
} as const;

export const COLLECTOR_SUCCESS_METRIC = {
  name: 'postgresql_exporter_collector_success',
  help: 'Whether the collector succeeded in this run (1) or failed or was not run (0).',
  labelNames: ['collector'],
} as const;

export const COLLECTOR_DURATION_METRIC = {
  name: 'postgresql_exporter_collector_duration_seconds',
  help: 'How long the collector took in this run; for one pushed from the refresh cache, how long the collection it pushed took.',
  labelNames: ['collector'],
} as const;

export const COLLECTOR_AGE_METRIC = {
  name: 'postgresql_exporter_collector_age_seconds',
  help: "Seconds since the collector's families in this push were collected: 0 when collected in this run, more when its refresh interval (COLLECTOR_REFRESH_SECONDS) is not up and a warm process pushed its last collection again.",
  labelNames: ['collector'],
} as const;

export const SERIES_LIMIT_EXCEEDED_METRIC = {
  name: 'postgresql_exporter_collector_series_limit_exceeded',
  help: 'Whether the collector produced more series than COLLECTOR_MAX_SERIES in this run (1; none of its series were pushed) or not (0).',
  labelNames: ['collector'],
} as const;

export const ROLE_PRIVILEGE_METRIC = {
  name: 'postgresql_exporter_role_privilege',
  help: "Whether the exporter's role has the privileges of this predefined role (1) or not (0), for those the enabled collectors need; a collector that needs a missing one is not run.",
  labelNames: ['privilege'],
} as const;

export const RUN_DURATION_METRIC = {
  name: 'postgresql_exporter_run_duration_seconds',
  help: 'How long this run took to connect, collect and close, before the push.',
  labelNames: [],
} as const;

export const DATABASE_VISIT_METRIC = {
  name: 'postgresql_exporter_database_visit_success',
  help: 'Whether the per-database collectors (tables, indexes) visited this database and worked there (1) or not (0); one series per database chosen by DATABASES_INCLUDE, DATABASES_EXCLUDE and DATABASES_LIMIT.',
  labelNames: ['database'],
} as const;

export const DATABASES_NOT_VISITED_METRIC = {
  name: 'postgresql_exporter_databases_not_visited',
  help: 'Databases the per-database collectors could have visited but did not, by reason: limit (past DATABASES_LIMIT).',
  labelNames: ['reason'],
} as const;

export const LAST_WRITE_SUCCESS_METRIC = {
  name: 'postgresql_exporter_last_write_success',
  help: "Whether this process's previous run for this target delivered its metrics to the sink (1) or not (0): pushgateway, remote_write. Absent in a process's first run for the target: a run cannot report its own delivery in what it delivers.",
  labelNames: ['sink'],
} as const;

export const LAST_WRITE_DURATION_METRIC = {
  name: 'postgresql_exporter_last_write_duration_seconds',
  help: "How long this process's previous run for this target took to deliver to the sink, retries included.",
  labelNames: ['sink'],
} as const;

/** Every family of this module: no collector may push one of them. */
export const SELF_FAMILIES: readonly MetricDefinition<string>[] = [
  BUILD_INFO_METRIC,
  COLLECTOR_SUCCESS_METRIC,
  COLLECTOR_DURATION_METRIC,
  COLLECTOR_AGE_METRIC,
  SERIES_LIMIT_EXCEEDED_METRIC,
  ROLE_PRIVILEGE_METRIC,
  RUN_DURATION_METRIC,
  DATABASE_VISIT_METRIC,
  DATABASES_NOT_VISITED_METRIC,
  LAST_WRITE_SUCCESS_METRIC,
  LAST_WRITE_DURATION_METRIC,
];

export const BUILD_VERSION: string = version;

export interface CollectorResult {
  readonly name: string;
  readonly ok: boolean;
  readonly durationMs: number;
  /** It produced more series than the limit. */
  readonly overLimit?: boolean;
  /** Seconds since what is pushed of it was collected; unset: in this run. */
  readonly ageSeconds?: number;
}

export interface SelfReport {
  readonly collectors: readonly CollectorResult[];
  /** The privileges checked (those the enabled collectors need) and whether the role has them. */
  readonly privileges: Readonly<Record<string, boolean>>;
  readonly runDurationMs: number;
  /** The previous run's delivery to each sink, in this process; none on its first run. */
  readonly lastDeliveries?: readonly {
    readonly sink: string;
    readonly ok: boolean;
    readonly durationMs: number;
  }[];
}

export function recordSelfMetrics(registry: Registry, report: SelfReport): void {
  const { collectors } = report;
  const byCollector = (value: (r: CollectorResult) => number) =>
    collectors.map((r) => ({ labels: { collector: r.name }, value: value(r) }));
  addGauge(registry, BUILD_INFO_METRIC, [{ labels: { version: BUILD_VERSION }, value: 1 }]);
  addGauge(
    registry,
    COLLECTOR_SUCCESS_METRIC,
    byCollector((r) => (r.ok ? 1 : 0)),
  );
  addGauge(
    registry,
    COLLECTOR_DURATION_METRIC,
    byCollector((r) => r.durationMs / 1000),
  );
  // Only for collectors whose families are in the push: a failed one has none.
  addGauge(
    registry,
    COLLECTOR_AGE_METRIC,
    collectors
      .filter((r) => r.ok)
      .map((r) => ({ labels: { collector: r.name }, value: r.ageSeconds ?? 0 })),
  );
  addGauge(
    registry,
    SERIES_LIMIT_EXCEEDED_METRIC,
    byCollector((r) => (r.overLimit ? 1 : 0)),
  );
  addGauge(
    registry,
    ROLE_PRIVILEGE_METRIC,
    Object.entries(report.privileges).map(([privilege, has]) => ({
      labels: { privilege },
      value: has ? 1 : 0,
    })),
  );
  addGauge(registry, RUN_DURATION_METRIC, [{ labels: {}, value: report.runDurationMs / 1000 }]);
  const last = report.lastDeliveries ?? [];
  if (last.length > 0) {
    addGauge(
      registry,
      LAST_WRITE_SUCCESS_METRIC,
      last.map((d) => ({ labels: { sink: d.sink }, value: d.ok ? 1 : 0 })),
    );
    addGauge(
      registry,
      LAST_WRITE_DURATION_METRIC,
      last.map((d) => ({ labels: { sink: d.sink }, value: d.durationMs / 1000 })),
    );
  }
}

/**
 * The per-database collectors' visits: in a part of their own, so that they
 * can be pushed again with those collectors' cached families.
 */
export function recordVisits(registry: Registry, visits: VisitReport): void {
  addGauge(
    registry,
    DATABASE_VISIT_METRIC,
    visits.visits.map((v) => ({ labels: { database: v.database }, value: v.ok ? 1 : 0 })),
  );
  addGauge(registry, DATABASES_NOT_VISITED_METRIC, [
    { labels: { reason: 'limit' }, value: visits.overLimit },
  ]);
}
