import { describe, expect, it } from 'vitest';
import { displayUrl, groupingPath, groupingUrl } from '../src/pushgateway.js';

const decode = (segment: string) => Buffer.from(segment, 'base64url').toString('utf8');

describe('groupingPath', () => {
  it('base64url-encodes the job and every label value', () => {
    const path = groupingPath('postgresql-exporter', { instance: 'db:5432/app', app: 'x' });
    const parts = path.split('/');
    expect(parts[0]).toBe('metrics');
    expect(parts[1]).toBe('job@base64');
    expect(decode(parts[2]!)).toBe('postgresql-exporter');
    expect(parts[3]).toBe('instance@base64');
    expect(decode(parts[4]!)).toBe('db:5432/app');
    expect(parts[5]).toBe('app@base64');
    expect(decode(parts[6]!)).toBe('x');
    // No character outside the URL-safe alphabet: '/' and '+' would break the path.
    expect(path).toMatch(/^[A-Za-z0-9_@/=-]+$/);
  });

  it('round-trips spaces, slashes and unicode', () => {
    const value = 'prod / main db ✓ Zürich';
    const path = groupingPath('j', { instance: value });
    expect(decode(path.split('/')[4]!)).toBe(value);
  });

  it('encodes an empty value as "=", which the Pushgateway reads as empty', () => {
    expect(groupingPath('j', { env: '' }).endsWith('/env@base64/=')).toBe(true);
  });
});

describe('groupingUrl', () => {
  it('keeps a path prefix of the base URL', () => {
    const url = groupingUrl(new URL('https://gw.example.com/pushgateway/'), 'j', {});
    expect(url.href).toBe(`https://gw.example.com/pushgateway/${groupingPath('j', {})}`);
    expect(groupingUrl(new URL('http://gw:9091'), 'j', {}).pathname).toBe(
      `/${groupingPath('j', {})}`,
    );
  });
});

describe('displayUrl', () => {
  it('hides user name and password', () => {
    expect(displayUrl(new URL('https://user:pa55@gw.example.com/x'))).toBe(
      'https://gw.example.com/x',
    );
  });
});
