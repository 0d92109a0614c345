import type { Registry } from 'prom-client';
import { addGauge } from '../metric.js';

export const UP_METRIC = {
  name: 'postgresql_up',
  help: 'PostgreSQL exporter UP status',
  labelNames: [],
} as const;

/**
 * `postgresql_up`: 1 when the run connected and a query succeeded, else 0.
 * The run sets it, not a query: on a failed connection it is the only family
 * of the seed's that can still be pushed.
 */
export function recordUp(registry: Registry, up: boolean): void {
  addGauge(registry, UP_METRIC, [{ labels: {}, value: up ? 1 : 0 }]);
}
