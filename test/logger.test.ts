import { describe, expect, it } from 'vitest';
import { clip, createLogger, redact } from '../src/logger.js';

function capture(fields?: Record<string, unknown>) {
  const lines: string[] = [];
  const log = createLogger({ write: (line) => lines.push(line), ...(fields ? { fields } : {}) });
  return { lines, log };
}

describe('redact', () => {
  it('replaces every occurrence of every secret', () => {
    expect(redact('a pw b pw c tok', ['pw', 'tok', ''])).toBe(
      'a [REDACTED] b [REDACTED] c [REDACTED]',
    );
  });
});

describe('clip', () => {
  it('keeps short text and cuts long text, saying how much was left out', () => {
    expect(clip('short', 10)).toBe('short');
    expect(clip('x'.repeat(25), 10)).toBe(`${'x'.repeat(10)}… (15 more characters)`);
  });
});

describe('createLogger', () => {
  it('writes one JSON object per line, with level, time, message and its fields', () => {
    const { lines, log } = capture({ awsRequestId: 'req-1' });
    log.info('run', { series: 3 });
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(entry).toMatchObject({
      level: 'info',
      message: 'run',
      series: 3,
      awsRequestId: 'req-1',
    });
    expect(typeof entry.time).toBe('string');
  });

  it('hides secrets, also where JSON escaping or percent-encoding changed them', () => {
    const secret = 'pa"ss\\wo rd%';
    const { lines, log } = capture();
    log.hide(secret);
    log.error('failed', {
      error: `password ${secret} refused`,
      url: `http://u:${encodeURIComponent(secret)}@gw`,
    });
    expect(lines[0]).not.toContain(secret);
    expect(lines[0]).not.toContain(JSON.stringify(secret).slice(1, -1));
    expect(lines[0]).not.toContain(encodeURIComponent(secret));
    expect(lines[0]).toContain('[REDACTED]');
  });

  it('grows its redaction set as secrets are learned, shared with its children', () => {
    const { lines, log } = capture();
    const child = log.child({ target: 'a' });
    child.info('before', { x: 'late-secret-1' });
    log.hide('late-secret-1');
    child.info('after', { x: 'late-secret-1' });
    expect(lines[0]).toContain('late-secret-1');
    expect(lines[1]).not.toContain('late-secret-1');
    expect(JSON.parse(lines[1]!)).toMatchObject({ target: 'a' });
    expect(log.redact('a late-secret-1 b')).toBe('a [REDACTED] b');
  });

  it('replaces a secret that contains another as a whole', () => {
    const { log } = capture();
    log.hide('abc', 'xxabcxx');
    expect(log.redact('1 xxabcxx 2 abc')).toBe('1 [REDACTED] 2 [REDACTED]');
  });

  it('with a minimum length, leaves shorter secrets alone (the pushed-text guard)', () => {
    const { log } = capture();
    log.hide('short', 'a-much-longer-secret');
    expect(log.redact('short a-much-longer-secret', 8)).toBe('short [REDACTED]');
  });
});

describe('fork', () => {
  it('starts from a copy of the redaction set: what a fork learns stays its own', () => {
    const lines: string[] = [];
    const root = createLogger({
      write: (line) => lines.push(line),
      secrets: ['deployment-secret'],
    });
    const a = root.fork({ target: 'a' });
    const b = root.fork({ target: 'b' });
    a.hide('password-of-a');
    b.info('b', { text: 'deployment-secret password-of-a' });
    a.info('a', { text: 'deployment-secret password-of-a' });
    root.info('root', { text: 'password-of-a' });
    const [fromB, fromA, fromRoot] = lines.map((l) => JSON.parse(l) as Record<string, string>);
    // The deployment's secret is hidden everywhere; a's password only by a.
    expect(fromB?.text).toBe('[REDACTED] password-of-a');
    expect(fromB?.target).toBe('b');
    expect(fromA?.text).toBe('[REDACTED] [REDACTED]');
    expect(fromRoot?.text).toBe('password-of-a');
  });
});
