import { describe, expect, it } from 'vitest';
import { VERSION_QUERY, versionSamples } from '../../../src/collectors/general/version.js';

describe('VERSION_QUERY', () => {
  it('reads both version settings', () => {
    expect(VERSION_QUERY).toContain("current_setting('server_version')");
    expect(VERSION_QUERY).toContain("current_setting('server_version_num')::float8");
  });
});

describe('versionSamples', () => {
  it('gives the version label with 1 and the number', () => {
    expect(versionSamples([{ version: '17.10', version_num: '170010' }])).toEqual({
      info: [{ labels: { version: '17.10' }, value: 1 }],
      versionNum: [{ labels: {}, value: 170_010 }],
    });
  });

  it('gives nothing for no row or an all-NULL row', () => {
    const none = { info: [], versionNum: [] };
    expect(versionSamples([])).toEqual(none);
    expect(versionSamples([{ version: null, version_num: null }])).toEqual(none);
  });
});
