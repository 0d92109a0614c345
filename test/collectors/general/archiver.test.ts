import { describe, expect, it } from 'vitest';
import { ARCHIVER_QUERY, archiverSamples } from '../../../src/collectors/general/archiver.js';

describe('ARCHIVER_QUERY', () => {
  it('reads pg_stat_archiver', () => {
    expect(ARCHIVER_QUERY).toContain('FROM pg_stat_archiver');
    expect(ARCHIVER_QUERY).toContain('now() - last_archived_time');
  });
});

describe('archiverSamples', () => {
  it('gives the counts and the age of the last archived file', () => {
    expect(
      archiverSamples([{ archived: '120', failed: 2, last_archive_age_seconds: 31.5 }]),
    ).toEqual({
      archived: [{ labels: {}, value: 120 }],
      failed: [{ labels: {}, value: 2 }],
      lastArchiveAge: [{ labels: {}, value: 31.5 }],
    });
  });

  it('gives no age before the first archived file', () => {
    expect(
      archiverSamples([{ archived: 0, failed: 0, last_archive_age_seconds: null }]).lastArchiveAge,
    ).toEqual([]);
  });

  it('gives nothing for no row or an all-NULL row', () => {
    const none = { archived: [], failed: [], lastArchiveAge: [] };
    expect(archiverSamples([])).toEqual(none);
    expect(
      archiverSamples([{ archived: null, failed: null, last_archive_age_seconds: null }]),
    ).toEqual(none);
  });
});
