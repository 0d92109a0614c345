import { describe, expect, it } from 'vitest';
import type { GroupLabels } from '../../src/pushgateway.js';
import {
  MAX_STALE_FRACTION,
  keyOfGroup,
  planCleanup,
  staleGroups,
  type FleetGroups,
} from '../../src/fleet/stale.js';

const JOB = 'postgresql-exporter';
const fleet = (instances: string[], more: Partial<FleetGroups> = {}): FleetGroups => ({
  job: JOB,
  fleet: 'prod',
  instances: new Set(instances),
  ...more,
});

/** A group of the fleet `prod` with this instance (and extra labels). */
const ours = (instance: string, extra: Record<string, string> = {}): GroupLabels => ({
  job: JOB,
  fleet: 'prod',
  instance,
  ...extra,
});

describe('staleGroups', () => {
  it('finds the fleet groups whose instance is not current, as keys of their whole label set', () => {
    const groups = [ours('a'), ours('gone', { team: 'checkout', app: 'x' }), ours('b')];
    expect(staleGroups(groups, fleet(['a', 'b']))).toEqual([
      { job: JOB, labels: { instance: 'gone', app: 'x', fleet: 'prod', team: 'checkout' } },
    ]);
  });

  it('never touches another job, another fleet, a single-target group or the fleet self group', () => {
    const groups: GroupLabels[] = [
      { job: 'other-job', fleet: 'prod', instance: 'gone' },
      { job: JOB, fleet: 'staging', instance: 'gone' },
      // A single-target deployment of the same job: no fleet label.
      { job: JOB, instance: 'gone', app: 'prometheus-postgresql-exporter' },
      // The fleet's own group: no instance (the listing drops the empty one the Pushgateway adds).
      { job: JOB, fleet: 'prod' },
      { job: JOB, fleet: 'prod', instance: '' },
      // Case and spacing matter: these are other fleets and jobs.
      { job: JOB, fleet: 'Prod', instance: 'gone' },
      { job: ` ${JOB}`, fleet: 'prod', instance: 'gone' },
    ];
    expect(staleGroups(groups, fleet(['a']))).toEqual([]);
  });

  it('keeps a current instance whatever its other labels, unless the current labels are given', () => {
    const groups = [ours('a', { team: 'old' }), ours('a', { team: 'new' })];
    expect(staleGroups(groups, fleet(['a']))).toEqual([]);
    const labels = new Map([['a', { instance: 'a', fleet: 'prod', team: 'new' }]]);
    expect(staleGroups(groups, fleet(['a'], { labels }))).toEqual([
      { job: JOB, labels: { instance: 'a', fleet: 'prod', team: 'old' } },
    ]);
    // Fewer labels than the current set is another group too.
    expect(staleGroups([ours('a')], fleet(['a'], { labels }))).toEqual([
      { job: JOB, labels: { instance: 'a', fleet: 'prod' } },
    ]);
  });

  it('takes hostile instance names as they are', () => {
    const names = ['we"ird', 'a/b', 'new\nline', 'Zürich ✓', '__proto__'];
    const groups = [...names.map((n) => ours(n)), ours('gone\\')];
    expect(staleGroups(groups, fleet(names)).map((k) => k.labels.instance)).toEqual(['gone\\']);
  });
});

describe('keyOfGroup', () => {
  it('puts instance first and the other labels by name, job apart', () => {
    const key = keyOfGroup({ zeta: '1', job: 'j', fleet: 'f', instance: 'i', alpha: '2' });
    expect(key.job).toBe('j');
    expect(Object.entries(key.labels)).toEqual([
      ['instance', 'i'],
      ['alpha', '2'],
      ['fleet', 'f'],
      ['zeta', '1'],
    ]);
  });

  it('keeps an empty label value (the Pushgateway addresses it as its own group) and __proto__', () => {
    const key = keyOfGroup({ job: 'j', instance: 'i', team: '', ['__proto__']: 'p' });
    expect(Object.entries(key.labels)).toEqual([
      ['instance', 'i'],
      ['__proto__', 'p'],
      ['team', ''],
    ]);
  });
});

describe('planCleanup: the cap against a bad targets file or a discovery glitch', () => {
  const present = ['a', 'b', 'c', 'd'].map((n) => ours(n));

  it('deletes stale groups up to half of the fleet groups present', () => {
    const plan = planCleanup(present, fleet(['a', 'b']));
    expect(plan.present).toBe(4);
    expect(plan.held).toBeUndefined();
    expect(plan.remove.map((k) => k.labels.instance)).toEqual(['c', 'd']);
    expect(MAX_STALE_FRACTION).toBe(0.5);
  });

  it('holds every one (not a part) when more than half would go, and says why', () => {
    const plan = planCleanup(present, fleet(['a']));
    expect(plan.stale).toHaveLength(3);
    expect(plan.remove).toEqual([]);
    expect(plan.held).toMatch(
      /^3 of the fleet's 4 groups are stale, more than 50 %: none is deleted/,
    );
  });

  it('holds everything when no target is current, even for a fleet of one', () => {
    const plan = planCleanup([ours('only')], fleet([]));
    expect(plan.remove).toEqual([]);
    expect(plan.held).toMatch(/no current target/);
  });

  it('deletes when forced, or with a higher fraction', () => {
    expect(planCleanup(present, fleet([]), { force: true }).remove).toHaveLength(4);
    expect(planCleanup(present, fleet(['a']), { maxFraction: 0.75 }).remove).toHaveLength(3);
  });

  it('counts only the fleet target groups: foreign groups and the self group neither help nor hurt', () => {
    const foreign = Array.from({ length: 50 }, (_, i) => ({ job: 'other', instance: `x${i}` }));
    const plan = planCleanup([...present, ...foreign, { job: JOB, fleet: 'prod' }], fleet(['a']));
    expect(plan.present).toBe(4);
    expect(plan.held).toBeDefined();
  });

  it('is not held when nothing is stale', () => {
    const plan = planCleanup(present, fleet(['a', 'b', 'c', 'd', 'new']));
    expect(plan).toEqual({ stale: [], remove: [], present: 4, held: undefined });
  });
});
