/**
 * A fleet's plan, before any I/O: the deployment's configuration, the
 * collectors every target starts from, and the targets of the targets file,
 * each already planned as a run (so every mistake in the file stops the run
 * before anything is read or sent). Targets found later (RDS discovery) are
 * planned one by one with `planTarget`; a bad one is skipped, not fatal.
 */
import { COLLECTOR_NAMES, selectCollectors } from '../collectors/index.js';
import type { Collector } from '../collectors/types.js';
import {
  ENV,
  FLEET_LABEL,
  loadConfig,
  type Config,
  type Env,
  type FleetConfig,
  type PostgresConfig,
} from '../config.js';
import { ConfigError, TargetsError } from '../errors.js';
import { checkRefreshNames, customCollectors, planFor, type RunPlan } from '../plan.js';
import type { Target } from '../target.js';
import { passwordFromEnv, targetWhere, type KnownNames, type TargetSpec } from './spec.js';
import { assignPushgateway } from './shard.js';
import { loadTargetsFile } from './targets_file.js';

export interface FleetPlan {
  readonly config: Config;
  readonly fleet: FleetConfig;
  /** The environment, for the passwords that targets name by variable. */
  readonly env: Env;
  /** The custom-query collectors, shared by every target. */
  readonly custom: readonly Collector[];
  /** Instead of the configured collectors, for every target (tests, benchmarks). */
  readonly override: readonly Collector[] | undefined;
  /** The targets file's targets, planned. */
  readonly fileTargets: readonly PlannedTarget[];
  /** Passwords read from the environment for the file's targets: never logged or pushed. */
  readonly secrets: readonly string[];
}

/** A target and its run. */
export interface PlannedTarget {
  readonly spec: TargetSpec;
  readonly plan: RunPlan;
}

export const KNOWN_NAMES: KnownNames = { collectors: new Set(COLLECTOR_NAMES) };

export interface FleetPlanOptions {
  readonly collectors?: readonly Collector[] | undefined;
  /**
   * Whether to read the targets file (default true). The per-target function
   * does not: its target comes in the event.
   */
  readonly readTargetsFile?: boolean;
}

/** Checks the deployment's settings and the targets file; throws a ConfigError or TargetsError. */
export function planFleet(env: Env, options: FleetPlanOptions = {}): FleetPlan {
  const config = loadConfig(env);
  const { fleet } = config;
  if (fleet === undefined) {
    throw new ConfigError(ENV.targetsFile, `or ${ENV.rdsTag} is needed for a fleet`);
  }
  if (Object.hasOwn(config.pushgateway.labels, FLEET_LABEL)) {
    throw new ConfigError(
      ENV.pushgatewayLabels,
      `label "${FLEET_LABEL}" is set by ${ENV.fleetName} in a fleet; choose another name`,
    );
  }
  const base = {
    config,
    fleet,
    env,
    custom: options.collectors === undefined ? customCollectors(config) : [],
    override: options.collectors,
  };
  // Once for the deployment, as a ConfigError: not once per target, where a discovered one is skipped.
  checkRefreshNames(config, [...base.custom, ...(base.override ?? [])]);
  const file = fleet.targetsFile;
  const specs =
    file === undefined || options.readTargetsFile === false
      ? []
      : loadTargetsFile(file, KNOWN_NAMES, env);
  const partial: FleetPlan = { ...base, fileTargets: [], secrets: [] };
  const fileTargets = specs.map((spec) => ({ spec, plan: planTarget(partial, spec) }));
  const secrets = specs.flatMap((spec) => {
    const value =
      spec.credentials.kind === 'env' ? passwordFromEnv(env, spec.credentials.variable) : undefined;
    return value === undefined ? [] : [value];
  });
  return { ...base, fileTargets, secrets };
}

/** Where a target is named in messages: its file, or discovery. */
export function whereTarget(fleetPlan: Pick<FleetPlan, 'fleet'>, spec: TargetSpec): string {
  const origin =
    spec.source === 'file' ? (fleetPlan.fleet.targetsFile ?? ENV.targetsFile) : 'RDS discovery';
  return targetWhere(origin, spec);
}

/**
 * The collector switches of a target on top of the deployment's: a target's
 * `enable` wins over COLLECTORS_DISABLE, its `disable` over COLLECTORS_ENABLE.
 */
function switches(config: Config, spec: TargetSpec): { enable: string[]; disable: string[] } {
  const own = spec.collectors;
  const enable = [...config.collectors.enable, ...own.enable].filter(
    (name) => !own.disable.includes(name),
  );
  const disable = [
    ...config.collectors.disable.filter((name) => !own.enable.includes(name)),
    ...own.disable,
  ];
  return { enable: [...new Set(enable)], disable: [...new Set(disable)] };
}

/** The connection settings of a target: its own address and login, the deployment's limits. */
function postgresOf(fleetPlan: FleetPlan, spec: TargetSpec, where: string): PostgresConfig {
  const deployment = fleetPlan.config.postgres;
  const { credentials } = spec;
  let region: string | undefined;
  if (credentials.kind === 'iam') {
    region = fleetPlan.config.fleet?.rds?.region ?? fleetPlan.env[ENV.awsRegion]?.trim();
    if (region === undefined || region === '') {
      throw new TargetsError(
        `${where}: field "iam_auth": needs ${ENV.awsRegion}, the region of the database (Lambda sets it)`,
      );
    }
  }
  const password = credentials.kind === 'env' ? fleetPlan.env[credentials.variable] : undefined;
  return {
    host: spec.host,
    port: spec.port,
    database: spec.database,
    username: spec.username,
    password,
    ssl: spec.ssl ?? deployment.ssl,
    sslRootCert: spec.sslRootCert ?? deployment.sslRootCert,
    iamAuth: region === undefined ? undefined : { region },
    secretId: credentials.kind === 'secret' ? credentials.secretId : undefined,
    connectTimeoutMs: deployment.connectTimeoutMs,
    statementTimeoutMs: deployment.statementTimeoutMs,
    applicationName: deployment.applicationName,
    keepConnectionSeconds: deployment.keepConnectionSeconds,
  };
}

/**
 * The run of one target: its connection, its group (`instance` is its name,
 * then `fleet`, the deployment's labels and its own), its collectors. A
 * target label that repeats a deployment label is refused, so one group is
 * never named two ways.
 */
export function planTarget(fleetPlan: FleetPlan, spec: TargetSpec): RunPlan {
  const { config, fleet } = fleetPlan;
  const where = whereTarget(fleetPlan, spec);
  const deploymentLabels = config.pushgateway.labels;
  for (const name of Object.keys(spec.labels)) {
    if (name === FLEET_LABEL || Object.hasOwn(deploymentLabels, name)) {
      throw new TargetsError(
        `${where}: field "labels": "${name}" is already a grouping label of the deployment ` +
          `(${name === FLEET_LABEL ? ENV.fleetName : ENV.pushgatewayLabels})`,
      );
    }
  }
  const target: Target = {
    postgres: postgresOf(fleetPlan, spec, where),
    instance: spec.name,
    labels: { [FLEET_LABEL]: fleet.name, ...deploymentLabels, ...spec.labels },
  };
  let collectors = fleetPlan.override;
  if (collectors === undefined) {
    const { enable, disable } = switches(config, spec);
    collectors = [...selectCollectors(enable, disable), ...fleetPlan.custom];
  }
  // Its one Pushgateway, when the fleet has several: the same one every run.
  const { urls } = config.pushgateway;
  const own =
    urls.length > 1
      ? {
          ...config,
          pushgateway: { ...config.pushgateway, url: assignPushgateway(spec.name, urls) },
        }
      : config;
  try {
    return planFor(own, target, collectors, `${where} (or ${ENV.pushgatewayLabels})`);
  } catch (error) {
    if (error instanceof ConfigError) throw new TargetsError(error.message, { cause: error });
    throw error;
  }
}
