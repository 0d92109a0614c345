import { describe, expect, it } from 'vitest';
import { jsonLogger, redact } from '../src/logger.js';

describe('redact', () => {
  it('replaces every occurrence of every secret', () => {
    expect(redact('a pw b pw c tok', ['pw', 'tok', undefined, ''])).toBe(
      'a [REDACTED] b [REDACTED] c [REDACTED]',
    );
  });
});

describe('jsonLogger', () => {
  it('writes one JSON object per line, with level, time and message', () => {
    const lines: string[] = [];
    jsonLogger(
      () => [],
      (line) => lines.push(line),
    ).info('run', { series: 3 });
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(entry).toMatchObject({ level: 'info', message: 'run', series: 3 });
    expect(typeof entry.time).toBe('string');
  });

  it('hides secrets, also where JSON escaping changed them', () => {
    const secret = 'pa"ss\\word';
    const lines: string[] = [];
    const log = jsonLogger(
      () => [secret],
      (line) => lines.push(line),
    );
    log.error('failed', { error: `password ${secret} refused` });
    expect(lines[0]).not.toContain(secret);
    expect(lines[0]).not.toContain(JSON.stringify(secret).slice(1, -1));
    expect(lines[0]).toContain('[REDACTED]');
  });
});
