/**
 * The README's metric reference and switch table must match the code: every
 * family a collector defines is documented, and every collector is listed
 * with its real default.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { COLLECTOR_TABLE } from '../src/collectors/index.js';
import {
  LAST_WRITE_DURATION_METRIC,
  LAST_WRITE_SUCCESS_METRIC,
  SELF_FAMILIES,
} from '../src/collectors/self.js';
import { FLEET_FAMILIES, FLEET_WRITE_FAILURES_METRIC } from '../src/fleet/metrics.js';

const readme = fs.readFileSync('README.md', 'utf8');

async function definedFamilies(): Promise<string[]> {
  const names: string[] = [];
  for (const dir of ['general', 'business']) {
    const folder = path.join('src/collectors', dir);
    for (const file of fs.readdirSync(folder).sort()) {
      const module = (await import(`../${folder}/${file}`)) as Record<string, unknown>;
      for (const value of Object.values(module)) {
        const v = value as { name?: unknown; help?: unknown; labelNames?: unknown } | null;
        if (
          typeof v?.name === 'string' &&
          typeof v.help === 'string' &&
          Array.isArray(v.labelNames)
        ) {
          names.push(v.name);
        }
      }
    }
  }
  // Families built from tables of columns (tables.ts) are found through their collectors.
  for (const { collector } of COLLECTOR_TABLE) names.push(...collector.families.map((f) => f.name));
  return [...new Set(names)];
}

/** A family is documented by name, or by a `prefix_*` / `_suffix` shorthand row. */
function documented(name: string): boolean {
  if (readme.includes(`\`${name}\``)) return true;
  const suffix = name.slice(name.indexOf('_', 'postgresql_'.length + 1));
  return (
    [...readme.matchAll(/`(postgresql_[a-z_]+?)_\*(_total)?`/g)].some(
      ([, prefix, total]) =>
        name.startsWith(`${prefix!}_`) && (total === undefined || name.endsWith('_total')),
    ) ||
    (readme.includes(`\`${suffix}\``) && suffix.length > 6)
  );
}

describe('README', () => {
  it('documents every metric family the collectors define', async () => {
    const families = await definedFamilies();
    expect(families.length).toBeGreaterThan(40);
    expect(families.filter((name) => !documented(name))).toEqual([]);
  });

  it("documents every one of the exporter's own families, the fleet's too", () => {
    for (const family of [...SELF_FAMILIES, ...FLEET_FAMILIES]) {
      expect(readme, family.name).toContain(`\`${family.name}\``);
    }
  });

  it("gives remote write's families with their labels and help texts as the exporter writes them", () => {
    for (const family of [
      LAST_WRITE_SUCCESS_METRIC,
      LAST_WRITE_DURATION_METRIC,
      FLEET_WRITE_FAILURES_METRIC,
    ]) {
      const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      const labels = family.labelNames.map((l) => `\`${l}\``).join(', ');
      const row = new RegExp(
        `^\\| \`${family.name}\` +\\| ${escape(labels)} +\\| ${escape(family.help)} +\\|$`,
        'm',
      );
      expect(readme, family.name).toMatch(row);
    }
  });

  it('documents every remote-write setting in its own table, with its default', async () => {
    const { ENV, DEFAULTS } = await import('../src/config.js');
    const start = readme.indexOf('### Remote-write endpoint\n');
    const section = readme.slice(start, readme.indexOf('\n### ', start + 1));
    const names = Object.values(ENV).filter((name) => name.startsWith('REMOTE_WRITE_'));
    expect(names.length).toBeGreaterThanOrEqual(10);
    for (const name of names) expect(section, name).toContain(`| \`${name}\``);
    expect(section).toMatch(
      new RegExp(`\\| \`REMOTE_WRITE_TIMEOUT_MS\` +\\| \`${DEFAULTS.remoteWriteTimeoutMs}\` `),
    );
    expect(section).toMatch(
      new RegExp(
        `\\| \`REMOTE_WRITE_BATCH_SAMPLES\` +\\| \`${DEFAULTS.remoteWriteBatchSamples}\` `,
      ),
    );
  });

  it('lists every collector with its real default in the switch table', () => {
    for (const { collector, enabled } of COLLECTOR_TABLE) {
      const row = new RegExp(`^\\| \`${collector.name}\` +\\| (on|off) `, 'm').exec(readme);
      expect(row?.[1], collector.name).toBe(enabled ? 'on' : 'off');
    }
  });

  it('keeps the configuration section readable in a 100-column terminal', () => {
    const start = readme.indexOf('## Configuration\n');
    const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
    expect(section.length).toBeGreaterThan(1_000);
    const wide = section.split('\n').filter((line) => Array.from(line).length > 100);
    expect(wide).toEqual([]);
  });

  it("speaks to users, not of the project's tracker", () => {
    expect(readme).not.toMatch(/\bissues? \d+|#\d+\b/i);
  });

  it('documents every environment variable the configuration reads', async () => {
    const { ENV } = await import('../src/config.js');
    for (const name of Object.values(ENV)) expect(readme, name).toContain(`| \`${name}\``);
  });
});
