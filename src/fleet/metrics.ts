/**
 * The fleet's own metrics, pushed by the scheduling run to the fleet's own
 * group (`job` and `fleet`, no `instance`): how many targets there are and
 * what became of them, stale groups deleted, and how discovery went.
 */
import type { Registry } from 'prom-client';
import { addGauge, type MetricDefinition } from '../collectors/metric.js';

export const FLEET_TARGETS_METRIC = {
  name: 'postgresql_exporter_fleet_targets',
  help: 'Targets of the fleet in this run, by where they were found (file, rds).',
  labelNames: ['source'],
} as const;

export const FLEET_TARGETS_SKIPPED_METRIC = {
  name: 'postgresql_exporter_fleet_targets_skipped',
  help: 'Discovered instances that could not be targets in this run (no credentials, a bad label, a name taken by the targets file).',
  labelNames: [],
} as const;

export const FLEET_TARGETS_PUSHED_METRIC = {
  name: 'postgresql_exporter_fleet_targets_pushed',
  help: 'Targets collected inline whose group was pushed in this run (postgresql_up 1 or 0).',
  labelNames: [],
} as const;

export const FLEET_TARGETS_DOWN_METRIC = {
  name: 'postgresql_exporter_fleet_targets_down',
  help: 'Targets collected inline that were pushed with postgresql_up 0 in this run.',
  labelNames: [],
} as const;

export const FLEET_TARGETS_FAILED_METRIC = {
  name: 'postgresql_exporter_fleet_targets_failed',
  help: 'Targets collected inline whose group could not be pushed in this run.',
  labelNames: [],
} as const;

export const FLEET_WRITE_FAILURES_METRIC = {
  name: 'postgresql_exporter_fleet_write_failures',
  help: 'Targets collected inline whose run this sink did not take in this run (pushgateway, remote_write); with two sinks, a target may fail on one only.',
  labelNames: ['sink'],
} as const;

export const FLEET_INVOKE_FAILURES_METRIC = {
  name: 'postgresql_exporter_fleet_invoke_failures',
  help: 'Per-target invocations that Lambda did not accept in this run (fan-out).',
  labelNames: [],
} as const;

export const FLEET_GROUPS_DELETED_METRIC = {
  name: 'postgresql_exporter_fleet_groups_deleted',
  help: 'Pushgateway groups of this fleet deleted in this run because their target is gone.',
  labelNames: [],
} as const;

export const FLEET_CLEANUP_SUCCESS_METRIC = {
  name: 'postgresql_exporter_fleet_cleanup_success',
  help: 'Whether stale groups were looked for and deleted in this run (1), or not (0: the target list was not known for sure, or the Pushgateway failed).',
  labelNames: [],
} as const;

export const FLEET_CLEANUP_HELD_METRIC = {
  name: 'postgresql_exporter_fleet_cleanup_held',
  help: 'Whether stale groups were kept this run (1) because deleting them would remove more than half of the fleet, or all of it; FLEET_CLEANUP_FORCE=true deletes them.',
  labelNames: [],
} as const;

export const FLEET_DISCOVERY_SUCCESS_METRIC = {
  name: 'postgresql_exporter_fleet_discovery_success',
  help: 'Whether RDS discovery succeeded in this run (1) or failed and the last good list was used (0).',
  labelNames: [],
} as const;

export const FLEET_DISCOVERY_DURATION_METRIC = {
  name: 'postgresql_exporter_fleet_discovery_duration_seconds',
  help: 'How long RDS discovery took in this run (0 when a cached list was used).',
  labelNames: [],
} as const;

export const FLEET_DISCOVERY_LAST_SUCCESS_METRIC = {
  name: 'postgresql_exporter_fleet_discovery_last_success_timestamp_seconds',
  help: 'When RDS discovery last succeeded, in seconds since the epoch.',
  labelNames: [],
} as const;

export const FLEET_RUN_DURATION_METRIC = {
  name: 'postgresql_exporter_fleet_run_duration_seconds',
  help: 'How long the fleet run took, from start to the last target pushed or invoked and stale groups deleted.',
  labelNames: [],
} as const;

/** Every family of the fleet's group. */
export const FLEET_FAMILIES: readonly MetricDefinition<string>[] = [
  FLEET_TARGETS_METRIC,
  FLEET_TARGETS_SKIPPED_METRIC,
  FLEET_TARGETS_PUSHED_METRIC,
  FLEET_TARGETS_DOWN_METRIC,
  FLEET_TARGETS_FAILED_METRIC,
  FLEET_WRITE_FAILURES_METRIC,
  FLEET_INVOKE_FAILURES_METRIC,
  FLEET_GROUPS_DELETED_METRIC,
  FLEET_CLEANUP_SUCCESS_METRIC,
  FLEET_CLEANUP_HELD_METRIC,
  FLEET_DISCOVERY_SUCCESS_METRIC,
  FLEET_DISCOVERY_DURATION_METRIC,
  FLEET_DISCOVERY_LAST_SUCCESS_METRIC,
  FLEET_RUN_DURATION_METRIC,
];

export interface FleetReport {
  readonly targets: { readonly file: number; readonly rds: number };
  readonly skipped: number;
  readonly mode: 'inline' | 'fanout';
  /** Inline only. */
  readonly pushed: number;
  readonly down: number;
  readonly failed: number;
  /** Fan-out only. */
  readonly invokeFailures: number;
  readonly deleted: number;
  /** Inline: per configured sink, the targets whose run it did not take. */
  readonly writeFailures?: readonly { readonly sink: string; readonly count: number }[];
  readonly cleanup: boolean;
  /** Stale groups were kept by the clean-up cap. */
  readonly held: boolean;
  /** Undefined when discovery is off. */
  readonly discovery:
    | { readonly fresh: boolean; readonly durationMs: number; readonly lastSuccess?: number }
    | undefined;
  readonly durationMs: number;
}

const one = (value: number) => [{ labels: {}, value }];

export function recordFleetMetrics(registry: Registry, report: FleetReport): void {
  addGauge(registry, FLEET_TARGETS_METRIC, [
    { labels: { source: 'file' }, value: report.targets.file },
    { labels: { source: 'rds' }, value: report.targets.rds },
  ]);
  addGauge(registry, FLEET_TARGETS_SKIPPED_METRIC, one(report.skipped));
  if (report.mode === 'inline') {
    addGauge(registry, FLEET_TARGETS_PUSHED_METRIC, one(report.pushed));
    addGauge(registry, FLEET_TARGETS_DOWN_METRIC, one(report.down));
    addGauge(registry, FLEET_TARGETS_FAILED_METRIC, one(report.failed));
    addGauge(
      registry,
      FLEET_WRITE_FAILURES_METRIC,
      (report.writeFailures ?? []).map((f) => ({ labels: { sink: f.sink }, value: f.count })),
    );
  } else {
    addGauge(registry, FLEET_INVOKE_FAILURES_METRIC, one(report.invokeFailures));
  }
  addGauge(registry, FLEET_GROUPS_DELETED_METRIC, one(report.deleted));
  addGauge(registry, FLEET_CLEANUP_SUCCESS_METRIC, one(report.cleanup ? 1 : 0));
  addGauge(registry, FLEET_CLEANUP_HELD_METRIC, one(report.held ? 1 : 0));
  const { discovery } = report;
  if (discovery !== undefined) {
    addGauge(registry, FLEET_DISCOVERY_SUCCESS_METRIC, one(discovery.fresh ? 1 : 0));
    addGauge(registry, FLEET_DISCOVERY_DURATION_METRIC, one(discovery.durationMs / 1000));
    if (discovery.lastSuccess !== undefined) {
      addGauge(registry, FLEET_DISCOVERY_LAST_SUCCESS_METRIC, one(discovery.lastSuccess / 1000));
    }
  }
  addGauge(registry, FLEET_RUN_DURATION_METRIC, one(report.durationMs / 1000));
}
