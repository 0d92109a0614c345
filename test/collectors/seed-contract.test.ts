/**
 * The seed's "Existing metrics" block is a contract: users have dashboards on
 * these names, help texts and label names. This test pins them.
 */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { LOCK_METRIC } from '../../src/collectors/general/lock.js';
import { STAT_ACTIVITY_METRIC } from '../../src/collectors/general/stat_activity.js';
import { STAT_BGWRITER_METRIC } from '../../src/collectors/general/stat_bgwriter.js';
import { STAT_DATABASE_METRIC } from '../../src/collectors/general/stat_database.js';
import { STAT_DATABASE_CONFLICTS_METRIC } from '../../src/collectors/general/stat_database_conflicts.js';
import { UP_METRIC, recordUp } from '../../src/collectors/general/up.js';
import { UPTIME_METRIC } from '../../src/collectors/general/uptime.js';
import { SEED_FAMILIES } from '../fixtures/seed-families.js';

const definitions = [
  LOCK_METRIC,
  STAT_ACTIVITY_METRIC,
  STAT_BGWRITER_METRIC,
  STAT_DATABASE_METRIC,
  STAT_DATABASE_CONFLICTS_METRIC,
  UP_METRIC,
  UPTIME_METRIC,
];

describe('seed contract', () => {
  it.each(SEED_FAMILIES)('%s keeps its name, help text and label names', (name, help, labels) => {
    const definition = definitions.find((d) => d.name === name);
    expect(definition).toBeDefined();
    expect(definition?.labelNames).toEqual(labels);
    if (help === null) expect(definition?.help.length).toBeGreaterThan(10);
    else expect(definition?.help).toBe(help);
  });

  it('postgresql_up is a gauge with 1 or 0', async () => {
    const up = new Registry();
    recordUp(up, true);
    expect(await up.metrics()).toContain('# TYPE postgresql_up gauge\npostgresql_up 1\n');
    const down = new Registry();
    recordUp(down, false);
    expect(await down.metrics()).toContain('postgresql_up 0\n');
  });
});
