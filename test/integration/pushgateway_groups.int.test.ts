/**
 * The Pushgateway's groups for real (Debian's Pushgateway 1.5.1): listGroups
 * finds exactly the groups pushed, hostile label values included; deleteGroup
 * deletes exactly one; stale clean-up leaves foreign jobs, other fleets and
 * the fleet's own group alone. And `--push.disable-consistency-check`: the
 * exporter's real pushes (every collector, custom queries, a target that is
 * down) are consistent by construction, so the check, which costs a fleet
 * most of its push time, finds nothing to refuse; a deliberately
 * inconsistent push shows what the oracles here would see if that broke.
 *
 * Why by construction (src/plan.ts, src/custom_queries.ts): every family name
 * has one definition (name, HELP, type, label names) in a fixed table, the
 * same for every target and server version; familyOwners() refuses two
 * collectors pushing one name; a custom query may not take a built-in name, a
 * reserved prefix or a grouping label; no grouping label may be a family's
 * label. So two groups of one deployment can differ only in which families
 * they hold and in their grouping values, never in a family's HELP, type or
 * label names, and no two groups share a series (their grouping values
 * differ). Not covered: another deployment's custom query taking the same
 * name with another type, or one named like the Pushgateway's own families.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RUN_FAMILIES } from '../../src/collectors/index.js';
import type { MetricDefinition } from '../../src/collectors/metric.js';
import { planCleanup } from '../../src/fleet/stale.js';
import { keyOfGroup } from '../../src/fleet/stale.js';
import { silentLogger } from '../../src/logger.js';
import { deleteGroup, listGroups, push, type GroupLabels } from '../../src/pushgateway.js';
import { collect, plan } from '../../src/run.js';
import type { GroupingKey } from '../../src/target.js';
import { runEnv } from '../harness/context.js';
import { eventually } from '../harness/ports.js';
import { startPushgateway, type PushgatewayServer } from '../harness/pushgateway.js';

const NO_CHECK = ['--push.disable-consistency-check'];

const started: PushgatewayServer[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((gw) => gw.stop()));
});

/** A Pushgateway of this test alone, so its groups are exactly the ones the test pushes. */
async function gateway(args: string[] = []): Promise<PushgatewayServer> {
  const gw = await startPushgateway({ args });
  started.push(gw);
  return gw;
}

const groupKey = (group: GroupLabels) =>
  JSON.stringify(Object.entries(group).sort(([a], [b]) => (a < b ? -1 : 1)));
const sorted = (groups: readonly GroupLabels[]) => groups.map(groupKey).sort();

/** The key of a group as pushed: job apart, every other label in the path. */
function keyOf(group: GroupLabels): GroupingKey {
  const { job = '', ...labels } = group;
  return { job, labels };
}

async function pushGroup(gw: PushgatewayServer, group: GroupLabels, body = 'postgresql_up 1\n') {
  const { job, labels } = keyOf(group);
  await push({ url: new URL(gw.url), job, labels, body, timeoutMs: 5_000 });
}

/** listGroups, once the Pushgateway has applied every queued write (202: applied later). */
async function groupsOf(gw: PushgatewayServer, expected: readonly GroupLabels[]) {
  let groups: GroupLabels[] = [];
  await eventually(async () => {
    groups = await listGroups({ url: new URL(gw.url), timeoutMs: 10_000 });
    expect(sorted(groups)).toEqual(sorted(expected));
  });
  return groups;
}

/** The Pushgateway's own record of its groups (GET /api/v1/metrics): an oracle independent of our parser. */
async function apiGroups(gw: PushgatewayServer): Promise<GroupLabels[]> {
  const res = await fetch(`${gw.url}/api/v1/metrics`);
  const json = (await res.json()) as { data: { labels: Record<string, string> }[] };
  return json.data.map((g) => g.labels);
}

/** Label values that break naive parsers and paths: quotes, backslashes, newlines, commas, braces, `/`, Unicode. */
const HOSTILE = 'we"ird\\x\ny}, {a="b"} / Zürich ✓ 🐘 =';

describe('listGroups against a real Pushgateway', () => {
  it('finds exactly the groups pushed, with their exact labels, hostile values included', async () => {
    const gw = await gateway(NO_CHECK);
    const groups: GroupLabels[] = [
      { job: 'pg', instance: 'a', fleet: 'prod' },
      { job: 'pg', instance: HOSTILE, fleet: 'prod', team: 'a,b=c' },
      { job: 'pg', instance: 'c', fleet: 'prod', team: '' },
      { job: 'pg', fleet: 'prod' },
      { job: `pg-${HOSTILE}`, instance: 'a' },
      { job: 'other', instance: 'a', fleet: 'prod' },
    ];
    for (const group of groups) await pushGroup(gw, group);
    await groupsOf(gw, groups);
    // The Pushgateway's own view agrees (it has no instance on the self group either).
    expect(sorted(await apiGroups(gw))).toEqual(sorted(groups));
  });

  it('lists a Pushgateway with no group as none, and a group whose push was refused as a group', async () => {
    const gw = await gateway();
    expect(await listGroups({ url: new URL(gw.url), timeoutMs: 5_000 })).toEqual([]);
    await pushGroup(gw, { job: 'pg', instance: 'first' }, '# TYPE x gauge\nx 1\n');
    // Refused by the consistency check (x is a gauge already), yet kept as a group with push_time_seconds 0.
    await expect(
      pushGroup(gw, { job: 'pg', instance: 'refused' }, '# TYPE x counter\nx 1\n'),
    ).rejects.toThrow(/HTTP 400/);
    await groupsOf(gw, [
      { job: 'pg', instance: 'first' },
      { job: 'pg', instance: 'refused' },
    ]);
  });
});

describe('deleteGroup against a real Pushgateway', () => {
  it('deletes exactly the group of its key, not one with a label more, another fleet or job', async () => {
    const gw = await gateway();
    const target = { job: 'pg', instance: HOSTILE, fleet: 'prod' };
    const lookalikes: GroupLabels[] = [
      { ...target, team: 'x' },
      { ...target, fleet: 'staging' },
      { ...target, job: 'other' },
      { job: 'pg', fleet: 'prod' },
    ];
    for (const group of [target, ...lookalikes]) await pushGroup(gw, group);
    const listed = await groupsOf(gw, [target, ...lookalikes]);
    const found = listed.find((g) => groupKey(g) === groupKey(target))!;

    await deleteGroup({
      url: new URL(gw.url),
      key: keyOfGroup(found),
      timeoutMs: 5_000,
      deadline: Date.now() + 10_000,
    });
    await groupsOf(gw, lookalikes);
    expect(sorted(await apiGroups(gw))).toEqual(sorted(lookalikes));
  });

  it('deleting a group that is gone succeeds (the Pushgateway answers 202)', async () => {
    const gw = await gateway();
    await deleteGroup({
      url: new URL(gw.url),
      key: { job: 'pg', labels: { instance: 'never-pushed' } },
      timeoutMs: 5_000,
      deadline: Date.now() + 10_000,
    });
    expect(await listGroups({ url: new URL(gw.url), timeoutMs: 5_000 })).toEqual([]);
  });
});

describe('stale clean-up round trip', () => {
  it('deletes the fleet groups of gone targets and nothing else, their series with them', async () => {
    const gw = await gateway(NO_CHECK);
    const fleet = (instance: string, extra: Record<string, string> = {}) => ({
      job: 'pg',
      fleet: 'prod',
      instance,
      ...extra,
    });
    const kept: GroupLabels[] = [
      fleet('a'),
      fleet('b', { team: 'checkout' }),
      // The fleet's own self-metrics group: no instance.
      { job: 'pg', fleet: 'prod' },
      // A foreign job, another fleet, a single-target deployment: all with a gone instance.
      { job: 'other', fleet: 'prod', instance: 'gone' },
      { job: 'pg', fleet: 'staging', instance: 'gone' },
      { job: 'pg', instance: 'gone', app: 'prometheus-postgresql-exporter' },
    ];
    const gone: GroupLabels[] = [fleet('gone'), fleet(HOSTILE, { team: 'x' })];
    for (const group of [...kept, ...gone]) await pushGroup(gw, group);
    const groups = await groupsOf(gw, [...kept, ...gone]);

    const cleanup = planCleanup(groups, {
      job: 'pg',
      fleet: 'prod',
      instances: new Set(['a', 'b']),
    });
    expect(cleanup.held).toBeUndefined();
    expect(cleanup.present).toBe(4);
    expect(sorted(cleanup.remove.map((k) => ({ job: k.job, ...k.labels })))).toEqual(sorted(gone));
    for (const key of cleanup.remove) {
      await deleteGroup({
        url: new URL(gw.url),
        key,
        timeoutMs: 5_000,
        deadline: Date.now() + 10_000,
      });
    }
    await groupsOf(gw, kept);
    // Their series went with them; the others' stayed.
    const up = (await gw.metrics()).split('\n').filter((l) => l.startsWith('postgresql_up{'));
    expect(up).toHaveLength(kept.length);
    expect(up.filter((l) => l.includes('fleet="prod"') && l.includes('job="pg"'))).toEqual([
      'postgresql_up{fleet="prod",instance="",job="pg"} 1',
      'postgresql_up{fleet="prod",instance="a",job="pg"} 1',
      'postgresql_up{fleet="prod",instance="b",job="pg",team="checkout"} 1',
    ]);
  });
});

/** Every family of a run's push: the run's own and each planned collector's, name → definition. */
function familyTable(env: Record<string, string>): Map<string, MetricDefinition<string>> {
  const { collectors } = plan(env);
  const families = [...RUN_FAMILIES, ...collectors.flatMap((c) => c.families)];
  return new Map(families.map((f) => [f.name, f]));
}

/** Families the Pushgateway adds to each group, or exposes as its own. */
const PUSHGATEWAY_FAMILIES = new Set(['push_time_seconds', 'push_failure_time_seconds']);

function unescapeHelp(text: string): string {
  return text.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

/**
 * What would make the merged exposition of several groups inconsistent,
 * checked line by line: a family with two HELP or TYPE lines, samples
 * outside their family's block, a HELP other than the exporter's table, and
 * series whose label names are not exactly the family's plus the grouping
 * labels (the same in every group). Empty when all is well.
 */
function inconsistencies(
  text: string,
  table: ReadonlyMap<string, MetricDefinition<string>>,
  groupingNames: readonly string[],
): string[] {
  const problems: string[] = [];
  const help = new Map<string, string>();
  const type = new Map<string, string>();
  const closed = new Set<string>();
  let current: string | undefined;
  const labelSets = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta !== null) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      const seen = kind === 'HELP' ? help : type;
      if (seen.has(name)) problems.push(`${name}: a second ${kind} line`);
      seen.set(name, kind === 'HELP' ? unescapeHelp(rest) : rest);
      if (current !== undefined && current !== name) closed.add(current);
      if (closed.has(name)) problems.push(`${name}: its block is opened again`);
      current = name;
      continue;
    }
    if (line === '') continue;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? \S+$/.exec(line);
    if (sample === null) {
      problems.push(`not a sample line: ${line.slice(0, 200)}`);
      continue;
    }
    const name = sample[1]!;
    const family = [name, name.replace(/_(sum|count|bucket)$/, '')].find((n) => type.has(n));
    if (family === undefined || family !== current) {
      problems.push(`${name}: a sample outside its family's block`);
      continue;
    }
    const labels = [...(sample[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="(?:[^"\\]|\\.)*"/g)]
      .map((m) => m[1]!)
      .sort();
    // The Pushgateway's own metrics are in no group (no job label).
    if (!labels.includes('job') || PUSHGATEWAY_FAMILIES.has(family)) continue;
    const set = labelSets.get(family) ?? new Set<string>();
    set.add(labels.join(','));
    labelSets.set(family, set);
  }
  for (const [family, sets] of labelSets) {
    const definition = table.get(family);
    if (definition === undefined) {
      problems.push(`${family}: not a family of the exporter`);
      continue;
    }
    if (help.get(family) !== definition.help) {
      problems.push(`${family}: HELP ${JSON.stringify(help.get(family))} is not the table's`);
    }
    const wanted = [...definition.labelNames, ...groupingNames].sort().join(',');
    if (sets.size !== 1 || !sets.has(wanted)) {
      problems.push(`${family}: label names ${[...sets].join(' | ')}, expected ${wanted}`);
    }
  }
  return problems;
}

/** promtool's verdict on an exposition ('' when it has nothing to say). */
function promtool(text: string): string {
  try {
    return execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  } catch (error) {
    const failed = error as { status?: number; stdout?: string; stderr?: string };
    return `exit ${failed.status ?? '?'}: ${failed.stdout ?? ''}${failed.stderr ?? ''}`;
  }
}

function pushgatewayLog(gw: PushgatewayServer): string {
  return fs.readFileSync(path.join(gw.dir, 'pushgateway.log'), 'utf8');
}

/** The targets of the consistency test: every collector on, custom queries, one target down. */
function targets(gw: PushgatewayServer): Record<string, string>[] {
  const every = { COLLECTORS_ENABLE: 'statements', CUSTOM_QUERIES_FILE: 'queries/example.yml' };
  const env = (instance: string, more: Record<string, string> = {}) =>
    runEnv({
      PUSHGATEWAY_URL: gw.url,
      PUSHGATEWAY_JOB: 'pg',
      PUSHGATEWAY_INSTANCE: instance,
      ...more,
    });
  return [
    env('t1', every),
    env('t2', every),
    env('t3', every),
    // The default collectors only: fewer families in this group.
    env('t4'),
    // Down: only postgresql_up 0 and the self-metrics.
    env('down', { ...every, POSTGRESQL_PORT: '1', POSTGRESQL_CONNECT_TIMEOUT_MS: '1000' }),
  ];
}

describe('--push.disable-consistency-check: the exporter pushes are consistent by construction', () => {
  const GROUPING = ['app', 'instance', 'job'];

  it('the consistency check accepts every real push of several groups, so turning it off loses nothing', async () => {
    const [checked, unchecked] = await Promise.all([gateway(), gateway(NO_CHECK)]);
    const table = familyTable(targets(checked)[0]!);
    for (const gw of [checked, unchecked]) {
      // Each push is checked against every group already there: a refusal would reject.
      for (const env of targets(gw)) await collect(env, { log: silentLogger() });
    }
    const expected = ['t1', 't2', 't3', 't4', 'down'].map((instance) => ({
      job: 'pg',
      instance,
      app: 'prometheus-postgresql-exporter',
    }));
    for (const gw of [checked, unchecked]) {
      await groupsOf(gw, expected);
      const res = await fetch(`${gw.url}/metrics`);
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(promtool(text)).toBe('');
      expect(inconsistencies(text, table, GROUPING)).toEqual([]);
      // The Pushgateway says so when two groups give one family two HELP texts.
      expect(pushgatewayLog(gw)).not.toMatch(/inconsistent|invalid/);
      // The test has teeth: the groups hold many families and series.
      expect(text.split('\n').filter((l) => l.startsWith('postgresql_')).length).toBeGreaterThan(
        100,
      );
    }
  });

  it('an inconsistent push is what the check refuses, and what these oracles catch when it is off', async () => {
    const [checked, unchecked] = await Promise.all([gateway(), gateway(NO_CHECK)]);
    const table = familyTable(targets(checked)[0]!);
    const up = table.get('postgresql_up')!;
    const otherHelp = `# HELP postgresql_up Another text.\n# TYPE postgresql_up gauge\npostgresql_up 1\n`;
    const otherType = `# HELP postgresql_up ${up.help}\n# TYPE postgresql_up counter\npostgresql_up 1\n`;
    for (const gw of [checked, unchecked]) {
      await collect(targets(gw)[0]!, { log: silentLogger() });
    }

    // A HELP that differs: accepted by both, but the Pushgateway logs it.
    await pushGroup(unchecked, { job: 'pg', instance: 'help' }, otherHelp);
    await eventually(async () => {
      // It checks HELP texts when it merges the groups for a scrape.
      expect((await fetch(`${unchecked.url}/metrics`)).status).toBe(200);
      expect(pushgatewayLog(unchecked)).toMatch(/inconsistent help strings/);
    });
    // A TYPE that differs: refused by the check...
    await expect(pushGroup(checked, { job: 'pg', instance: 'type' }, otherType)).rejects.toThrow(
      /HTTP 400.*is not a (GAUGE|COUNTER)/s,
    );
    // ...accepted without it, and then the Pushgateway cannot serve /metrics at all.
    await pushGroup(unchecked, { job: 'pg', instance: 'type' }, otherType);
    await eventually(async () => {
      const res = await fetch(`${unchecked.url}/metrics`);
      const text = await res.text();
      expect(res.status).toBe(500);
      expect(promtool(text)).not.toBe('');
      expect(inconsistencies(text, table, GROUPING)).not.toEqual([]);
    });
  });
});
