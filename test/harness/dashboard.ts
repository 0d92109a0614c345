/**
 * The shipped Grafana dashboard's panel queries (ops/grafana/dashboards/),
 * with Grafana's variables filled in as the dashboard would, for the
 * end-to-end tests that run them against a real Prometheus.
 */
import fs from 'node:fs';

export const DASHBOARD = 'ops/grafana/dashboards/postgresql.json';
export const ALERTS = 'ops/prometheus/alerts.yml';

interface Panel {
  type?: string;
  title?: string;
  targets?: { expr?: string }[];
  panels?: Panel[];
}

export interface PanelQuery {
  /** The row the panel is in ('' before the first row). */
  readonly row: string;
  readonly title: string;
  readonly expr: string;
}

/**
 * The query of every panel of the Fleet row (`fleetRow`), or of every other
 * row: a single target pushes none of the fleet's families.
 */
export function panelQueries(fleetRow = false): PanelQuery[] {
  const dashboard = JSON.parse(fs.readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[] };
  const queries: PanelQuery[] = [];
  let row = '';
  const walk = (panels: Panel[]) => {
    for (const panel of panels) {
      if (panel.type === 'row') row = panel.title ?? '';
      if ((row === 'Fleet') !== fleetRow) continue;
      for (const target of panel.targets ?? []) {
        if (target.expr !== undefined)
          queries.push({ row, title: panel.title ?? '?', expr: target.expr });
      }
      walk(panel.panels ?? []);
    }
  };
  walk(dashboard.panels);
  return queries;
}

/** A panel query with Grafana's variables filled in as the dashboard would. */
export function concreteQuery(
  expr: string,
  fleet: string,
  target: string,
  job = 'postgresql-exporter',
): string {
  return expr
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$__interval', '1m')
    .replaceAll('$job', job)
    .replaceAll('$fleet', fleet)
    .replaceAll('$instance', target)
    .replaceAll('$database', '.*');
}

/**
 * Whether a query reads a series only the Pushgateway makes: it adds
 * push_time_seconds and push_failure_time_seconds to every group it holds.
 * Remote write has no such series (a sample's own timestamp is its time).
 */
export function pushgatewayOnly(expr: string): boolean {
  return /\bpush_(failure_)?time_seconds\b/.test(expr);
}

/**
 * Whether a query reads a family pushed only beside remote write: each
 * sink's last delivery, and a fleet's write failures by sink. A
 * Pushgateway-only deployment's groups stay as they were without them.
 */
export function remoteWriteOnly(expr: string): boolean {
  return /\bpostgresql_exporter_(last_write_\w+|fleet_write_failures)\b/.test(expr);
}
