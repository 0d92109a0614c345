/**
 * Which Pushgateway groups a fleet run deletes, and when it deletes none.
 * Pure: the groups come from listGroups, the current targets from the run;
 * deleteGroup does the rest. A group is touched only if it is provably this
 * deployment's and provably a target that is gone: same job, this fleet's
 * `fleet` label, an `instance` that no current target has. Everything else
 * is never deleted: other jobs, other fleets, groups without a fleet label
 * (single-target deployments), and the fleet's own self-metrics group (it
 * has no instance).
 */
import { FLEET_LABEL } from '../config.js';
import type { GroupLabels } from '../pushgateway.js';
import type { GroupingKey } from '../target.js';

/** This deployment's fleet on one Pushgateway. */
export interface FleetGroups {
  readonly job: string;
  /** The value of the `fleet` grouping label (FLEET_NAME). */
  readonly fleet: string;
  /** The `instance` of every current target assigned to this Pushgateway (pushed or not this run). */
  readonly instances: ReadonlySet<string>;
  /**
   * Optional: instance → the grouping labels the target is pushed with now
   * (its GroupingKey.labels: instance, fleet and its extra labels). When
   * given, a group of a current instance with another label set (a target
   * whose labels were changed) is stale too; without it such a group stays.
   */
  readonly labels?: ReadonlyMap<string, Readonly<Record<string, string>>>;
}

/** The grouping key that addresses exactly `group`: its job, `instance` first, the other labels by name. */
export function keyOfGroup(group: GroupLabels): GroupingKey {
  const names = Object.keys(group)
    .filter((name) => name !== 'job' && name !== 'instance')
    .sort();
  if (Object.hasOwn(group, 'instance')) names.unshift('instance');
  // fromEntries defines every name as an own property, even "__proto__".
  return {
    job: group.job ?? '',
    labels: Object.fromEntries(names.map((n) => [n, group[n] ?? ''])),
  };
}

/** A group of one of the fleet's targets: this job, this fleet, a non-empty instance. */
function isTargetGroup(group: GroupLabels, fleet: FleetGroups): boolean {
  return (
    group.job === fleet.job &&
    group[FLEET_LABEL] === fleet.fleet &&
    group.instance !== undefined &&
    group.instance !== ''
  );
}

/** Whether `group` (less its job) has exactly the labels `wanted`. */
function sameLabels(group: GroupLabels, wanted: Readonly<Record<string, string>>): boolean {
  const names = Object.keys(group).filter((name) => name !== 'job');
  return (
    names.length === Object.keys(wanted).length &&
    names.every((name) => Object.hasOwn(wanted, name) && wanted[name] === group[name])
  );
}

/**
 * The fleet's groups whose target is gone: job and `fleet` label this
 * fleet's, a non-empty `instance` not in `fleet.instances` (or, with
 * `fleet.labels`, a current instance under an old label set). Each as the
 * key that addresses the group's whole label set, as listed: a DELETE
 * removes only the group of exactly that set, so a group with more or fewer
 * labels than a target's key is still addressed exactly. In listing order.
 */
export function staleGroups(groups: readonly GroupLabels[], fleet: FleetGroups): GroupingKey[] {
  const stale: GroupingKey[] = [];
  for (const group of groups) {
    if (!isTargetGroup(group, fleet)) continue;
    const instance = group.instance ?? '';
    if (fleet.instances.has(instance)) {
      const wanted = fleet.labels?.get(instance);
      if (wanted === undefined || sameLabels(group, wanted)) continue;
    }
    stale.push(keyOfGroup(group));
  }
  return stale;
}

/** Most stale groups deleted in one run by default: half of the fleet's groups present. */
export const MAX_STALE_FRACTION = 0.5;

export interface CleanupLimit {
  /**
   * Most stale groups deleted in one run, as a fraction of the fleet's
   * target groups present on the Pushgateway; default MAX_STALE_FRACTION.
   */
  readonly maxFraction?: number;
  /** Deletes every stale group whatever the cap says: the operator confirmed the fleet shrank. */
  readonly force?: boolean;
}

/** What a fleet run deletes on one Pushgateway. */
export interface Cleanup {
  /** Every stale group found. */
  readonly stale: readonly GroupingKey[];
  /** What to delete now: every stale group, or none when the cap holds them. */
  readonly remove: readonly GroupingKey[];
  /** The fleet's target groups present (the base of the cap). */
  readonly present: number;
  /** Why the stale groups are kept this run (for the log and a metric); undefined when they are not. */
  readonly held: string | undefined;
}

/**
 * The stale groups, and whether the cap keeps them: a fleet that seems to
 * have lost no current target at all, or more than `maxFraction` of its
 * groups at once, is far likelier a bad targets file, a wrong tag or a
 * discovery glitch than a real shrink, and deleting would empty the
 * dashboards of servers that still run. The cap holds all or nothing: a
 * partial delete repeated every run would reach the same end in a few
 * minutes. A held cleanup deletes nothing and says why, every run, until the
 * targets come back or `force` confirms the shrink. Deleting is cheap to undo
 * (the next push recreates a group), keeping is cheap too (stale series,
 * which the stale-group alert shows): the cap only guards against mass
 * deletion. Call it only after the targets were read successfully (a
 * failed discovery keeps its last list and deletes nothing).
 */
export function planCleanup(
  groups: readonly GroupLabels[],
  fleet: FleetGroups,
  limit: CleanupLimit = {},
): Cleanup {
  const stale = staleGroups(groups, fleet);
  const present = groups.filter((group) => isTargetGroup(group, fleet)).length;
  const maxFraction = limit.maxFraction ?? MAX_STALE_FRACTION;
  let held: string | undefined;
  if (stale.length > 0 && limit.force !== true) {
    if (fleet.instances.size === 0) {
      held =
        `the fleet has no current target, so all ${stale.length} of its groups would be ` +
        'deleted: none is, in case the targets file or discovery is wrong';
    } else if (stale.length > maxFraction * present) {
      held =
        `${stale.length} of the fleet's ${present} groups are stale, more than ` +
        `${Math.round(maxFraction * 100)} %: none is deleted, in case the targets file or ` +
        'discovery is wrong (delete them by hand, or confirm the shrink)';
    }
  }
  return { stale, remove: held === undefined ? stale : [], present, held };
}
