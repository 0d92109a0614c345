/**
 * The exporter's own metrics, in every push: which collectors worked and how
 * long they took, how long the run took, and which version ran.
 */
import type { Registry } from 'prom-client';
import { version } from '../../package.json';
import { addGauge } from './metric.js';

export const BUILD_INFO_METRIC = {
  name: 'postgresql_exporter_build_info',
  help: 'Version of postgresql-pushgateway-exporter that pushed these metrics; always 1.',
  labelNames: ['version'],
} as const;

export const COLLECTOR_SUCCESS_METRIC = {
  name: 'postgresql_exporter_collector_success',
  help: 'Whether the collector succeeded in this run (1) or failed (0).',
  labelNames: ['collector'],
} as const;

export const COLLECTOR_DURATION_METRIC = {
  name: 'postgresql_exporter_collector_duration_seconds',
  help: 'How long the collector took in this run.',
  labelNames: ['collector'],
} as const;

export const RUN_DURATION_METRIC = {
  name: 'postgresql_exporter_run_duration_seconds',
  help: 'How long this run took to connect, collect and close, before the push.',
  labelNames: [],
} as const;

export const BUILD_VERSION: string = version;

export interface CollectorResult {
  readonly name: string;
  readonly ok: boolean;
  readonly durationMs: number;
}

export function recordSelfMetrics(
  registry: Registry,
  results: readonly CollectorResult[],
  runDurationMs: number,
): void {
  addGauge(registry, BUILD_INFO_METRIC, [{ labels: { version: BUILD_VERSION }, value: 1 }]);
  addGauge(
    registry,
    COLLECTOR_SUCCESS_METRIC,
    results.map((r) => ({ labels: { collector: r.name }, value: r.ok ? 1 : 0 })),
  );
  addGauge(
    registry,
    COLLECTOR_DURATION_METRIC,
    results.map((r) => ({ labels: { collector: r.name }, value: r.durationMs / 1000 })),
  );
  addGauge(registry, RUN_DURATION_METRIC, [{ labels: {}, value: runDurationMs / 1000 }]);
}
