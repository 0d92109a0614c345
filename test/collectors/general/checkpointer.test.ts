import { collectOnce } from '../../harness/collect.js';
import { describe, expect, it } from 'vitest';
import {
  CHECKPOINTER_QUERY_17,
  CHECKPOINTER_QUERY_BEFORE_17,
  checkpointer,
  checkpointerQuery,
  checkpointerSamples,
} from '../../../src/collectors/general/checkpointer.js';
import { DEFAULT_COLLECTOR_OPTIONS } from '../../../src/collectors/types.js';

describe('checkpointerQuery', () => {
  it('reads pg_stat_bgwriter before 17', () => {
    expect(checkpointerQuery(130_000)).toBe(CHECKPOINTER_QUERY_BEFORE_17);
    expect(checkpointerQuery(160_014)).toBe(CHECKPOINTER_QUERY_BEFORE_17);
    expect(CHECKPOINTER_QUERY_BEFORE_17).toContain('FROM pg_stat_bgwriter');
    for (const column of [
      'checkpoints_timed',
      'checkpoints_req',
      'buffers_checkpoint',
      'checkpoint_write_time',
      'checkpoint_sync_time',
    ]) {
      expect(CHECKPOINTER_QUERY_BEFORE_17).toContain(column);
    }
    expect(CHECKPOINTER_QUERY_BEFORE_17).not.toContain('restartpoints');
  });

  it('reads pg_stat_checkpointer from 17 on, with the restartpoints', () => {
    expect(checkpointerQuery(170_000)).toBe(CHECKPOINTER_QUERY_17);
    expect(checkpointerQuery(180_004)).toBe(CHECKPOINTER_QUERY_17);
    expect(CHECKPOINTER_QUERY_17).toContain('FROM pg_stat_checkpointer');
    expect(CHECKPOINTER_QUERY_17).not.toContain('pg_stat_bgwriter');
    for (const column of [
      'num_timed',
      'num_requested',
      'buffers_written',
      'write_time',
      'sync_time',
      'restartpoints_timed',
      'restartpoints_req',
      'restartpoints_done',
    ]) {
      expect(CHECKPOINTER_QUERY_17).toContain(column);
    }
  });

  it('gives times in seconds in both', () => {
    for (const query of [CHECKPOINTER_QUERY_BEFORE_17, CHECKPOINTER_QUERY_17]) {
      expect(query.match(/\/ 1000\)::float8 AS (write|sync)_time_seconds/g)).toHaveLength(2);
    }
  });
});

describe('checkpointerSamples', () => {
  const before17 = {
    timed: '12',
    requested: 3,
    buffers_written: '4096',
    write_time_seconds: 1.5,
    sync_time_seconds: 0.25,
  };

  it('gives checkpoints per kind and no restartpoints before 17', () => {
    expect(checkpointerSamples([before17])).toEqual({
      checkpoints: [
        { labels: { kind: 'timed' }, value: 12 },
        { labels: { kind: 'requested' }, value: 3 },
      ],
      buffersWritten: [{ labels: {}, value: 4096 }],
      writeTime: [{ labels: {}, value: 1.5 }],
      syncTime: [{ labels: {}, value: 0.25 }],
      restartpoints: [],
    });
  });

  it('gives restartpoints per kind from 17 on', () => {
    expect(
      checkpointerSamples([
        {
          ...before17,
          restartpoints_timed: 1,
          restartpoints_requested: '2',
          restartpoints_done: 3,
        },
      ]).restartpoints,
    ).toEqual([
      { labels: { kind: 'timed' }, value: 1 },
      { labels: { kind: 'requested' }, value: 2 },
      { labels: { kind: 'done' }, value: 3 },
    ]);
  });

  it('gives nothing for no row or an all-NULL row', () => {
    const none = {
      checkpoints: [],
      buffersWritten: [],
      writeTime: [],
      syncTime: [],
      restartpoints: [],
    };
    expect(checkpointerSamples([])).toEqual(none);
    expect(
      checkpointerSamples([
        {
          timed: null,
          requested: null,
          buffers_written: null,
          write_time_seconds: null,
          sync_time_seconds: null,
          restartpoints_timed: null,
          restartpoints_requested: null,
          restartpoints_done: null,
        },
      ]),
    ).toEqual(none);
  });
});

describe('checkpointer', () => {
  it('registers the restartpoints family only from 17 on', async () => {
    const families = async (serverVersion: number) => {
      const row = {
        ...{ timed: 1, requested: 2, buffers_written: 3 },
        ...{ write_time_seconds: 4, sync_time_seconds: 5 },
        ...{ restartpoints_timed: 0, restartpoints_requested: 0, restartpoints_done: 0 },
      };
      const registry = await collectOnce(checkpointer, {
        db: { query: <Row>() => Promise.resolve([row] as Row[]) },
        serverVersion,
        options: DEFAULT_COLLECTOR_OPTIONS,
      });
      return (await registry.getMetricsAsJSON()).map((m) => m.name);
    };
    expect(await families(160_000)).not.toContain('postgresql_checkpointer_restartpoints_total');
    expect(await families(170_000)).toContain('postgresql_checkpointer_restartpoints_total');
  });
});
