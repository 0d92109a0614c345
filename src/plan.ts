/**
 * The first step of a run: everything that needs no I/O. The configuration,
 * the collectors (built-in by the switches, then one per custom query) and
 * the target, checked so that no two collectors push one family, no custom
 * name takes a built-in family or a grouping label, and no grouping label is
 * a label of a pushed family. Every problem is a ConfigError naming the
 * variable, before anything is read or sent.
 */
import {
  COLLECTOR_NAMES,
  COLLECTOR_TABLE,
  defaultRefreshSeconds,
  familyOwners,
  RUN_FAMILIES,
  RUN_OWNER,
  selectCollectors,
} from './collectors/index.js';
import type { Collector } from './collectors/types.js';
import { ENV, FLEET_LABEL, loadConfig, type Config, type Env } from './config.js';
import { loadCustomQueries, type Reserved } from './custom_queries.js';
import { ConfigError, CustomQueriesError, describeError } from './errors.js';
import { targetOf, type Target } from './target.js';

/** What a run is made of before any I/O: checked configuration, collectors, target. */
export interface RunPlan {
  readonly config: Config;
  readonly target: Target;
  readonly collectors: readonly Collector[];
  /**
   * Collector name → its refresh interval in seconds, for the collectors of
   * the plan that have one (> 0); the others are collected every run.
   */
  readonly refreshSeconds: ReadonlyMap<string, number>;
}

/**
 * Checks everything that needs no I/O and builds the run's value: the
 * configuration, the collectors (built-in by the switches, then one per
 * custom query, no two pushing one family, no custom name taking a built-in
 * or grouping one), and the target. Throws a ConfigError naming the variable.
 */
export function plan(env: Env, collectors?: readonly Collector[]): RunPlan {
  const config = loadConfig(env);
  if (config.fleet !== undefined) {
    const variable = config.fleet.targetsFile !== undefined ? ENV.targetsFile : ENV.rdsTag;
    throw new ConfigError(
      variable,
      'configures a fleet, which collectFleet runs (src/fleet/fleet.ts)',
    );
  }
  const builtIn = selectCollectors(config.collectors.enable, config.collectors.disable);
  return planFor(config, targetOf(config), collectors ?? [...builtIn, ...customCollectors(config)]);
}

/**
 * The run of `target` with `collectors`, checked: no two collectors push one
 * family, no grouping label of the target is a label of a pushed family.
 * `labelSource` names where the target's labels were set, in messages.
 */
export function planFor(
  config: Config,
  target: Target,
  collectors: readonly Collector[],
  labelSource: string = ENV.pushgatewayLabels,
): RunPlan {
  let owners: Map<string, string>;
  try {
    owners = familyOwners(collectors);
  } catch (error) {
    throw new ConfigError(ENV.customQueriesFile, describeError(error));
  }
  checkGroupingLabels(target.labels, collectors, owners, labelSource);
  return { config, target, collectors, refreshSeconds: refreshIntervals(config, collectors) };
}

/**
 * Checks the names of COLLECTOR_REFRESH_SECONDS: each a built-in collector
 * (enabled or not: a fleet's target may switch one off) or one of `collectors`
 * (the custom queries'). Throws a ConfigError naming the variable.
 */
export function checkRefreshNames(config: Config, collectors: readonly Collector[]): void {
  const known = [...new Set([...COLLECTOR_NAMES, ...collectors.map((c) => c.name)])];
  for (const name of config.collectors.refreshSeconds.keys()) {
    if (!known.includes(name)) {
      throw new ConfigError(
        ENV.collectorRefreshSeconds,
        `unknown collector "${name}"; known: ${known.join(', ')}`,
      );
    }
  }
}

/**
 * The refresh interval of each of `collectors` that has one: COLLECTOR_REFRESH_SECONDS,
 * else the default of the collectors' table (src/collectors/index.ts).
 */
function refreshIntervals(config: Config, collectors: readonly Collector[]): Map<string, number> {
  checkRefreshNames(config, collectors);
  const intervals = new Map<string, number>();
  for (const { name } of collectors) {
    const seconds = config.collectors.refreshSeconds.get(name) ?? defaultRefreshSeconds(name);
    if (seconds > 0) intervals.set(name, seconds);
  }
  return intervals;
}

/** Grouping label name → the variable that sets it. */
function groupingLabelOwners(config: Config): Map<string, string> {
  const owners = new Map<string, string>([
    ['job', ENV.pushgatewayJob],
    ['instance', config.fleet === undefined ? ENV.pushgatewayInstance : ENV.targetsFile],
  ]);
  if (config.fleet !== undefined) owners.set(FLEET_LABEL, ENV.fleetName);
  for (const name of Object.keys(config.pushgateway.labels)) {
    owners.set(name, ENV.pushgatewayLabels);
  }
  return owners;
}

/**
 * One collector per query of the custom-queries file, checked against every
 * built-in name, enabled or not (switching one on later must not collide).
 */
export function customCollectors(config: Config): Collector[] {
  const file = config.collectors.customQueriesFile;
  if (file === undefined) return [];
  const reserved: Reserved = {
    families: familyOwners(COLLECTOR_TABLE.map((entry) => entry.collector)),
    labels: groupingLabelOwners(config),
  };
  try {
    return loadCustomQueries(file, reserved);
  } catch (error) {
    if (error instanceof CustomQueriesError) {
      throw new ConfigError(ENV.customQueriesFile, error.message, { cause: error });
    }
    throw error;
  }
}

/**
 * No grouping label may be a label of a pushed family: the Pushgateway
 * refuses such a push (400), or the grouping value overwrites the family's.
 */
function checkGroupingLabels(
  labels: Readonly<Record<string, string>>,
  collectors: readonly Collector[],
  owners: ReadonlyMap<string, string>,
  labelSource: string,
): void {
  const families = [...RUN_FAMILIES, ...collectors.flatMap((c) => c.families)];
  for (const name of Object.keys(labels)) {
    const family = families.find((f) => f.labelNames.includes(name));
    if (family !== undefined) {
      throw new ConfigError(
        labelSource,
        `label "${name}" is also a label of ${family.name} (pushed by ` +
          `${owners.get(family.name) ?? RUN_OWNER}); choose another name`,
      );
    }
  }
}
