/**
 * Credentials from AWS Secrets Manager, with the SDK stubbed at its boundary
 * (nothing here reaches AWS) and a real PostgreSQL and Pushgateway.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { collect } from '../../src/run.js';
import { secretsManagerSource } from '../../src/secrets.js';
import { runEnv, servers } from '../harness/context.js';

const sm = mockClient(SecretsManagerClient);

afterEach(() => {
  sm.reset();
  vi.restoreAllMocks();
});

function secretEnv() {
  return runEnv({
    POSTGRESQL_SECRET_ID: 'prod/db/monitor',
    POSTGRESQL_HOST: undefined,
    POSTGRESQL_PORT: undefined,
    POSTGRESQL_DATABASE: undefined,
    POSTGRESQL_USERNAME: undefined,
    POSTGRESQL_PASSWORD: undefined,
  });
}

function secret(password: string) {
  const { postgres } = servers();
  return JSON.stringify({
    engine: 'postgres',
    username: postgres.monitorUser,
    password,
    host: postgres.host,
    port: postgres.port,
    dbname: 'postgres',
  });
}

describe('POSTGRESQL_SECRET_ID', () => {
  it("connects with the secret's credentials and address, fetching it once for warm runs", async () => {
    sm.on(GetSecretValueCommand).resolves({
      SecretString: secret(servers().postgres.monitorPassword),
    });
    const secrets = secretsManagerSource();
    const env = secretEnv();
    const lines: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => lines.push(String(chunk)) > 0);
    const first = await collect(env, { secrets });
    const second = await collect(env, { secrets });
    expect(first.up).toBe(true);
    expect(second.up).toBe(true);
    expect(first.instance).toBe(`${servers().postgres.host}:${servers().postgres.port}/postgres`);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    expect(lines.join('')).not.toContain(servers().postgres.monitorPassword);
  });

  it('fetches the secret again after the database refused its password (rotation)', async () => {
    const rotated = 'old-rotated-password';
    sm.on(GetSecretValueCommand)
      .resolvesOnce({ SecretString: secret(rotated) })
      .resolves({ SecretString: secret(servers().postgres.monitorPassword) });
    const secrets = secretsManagerSource();
    const env = secretEnv();
    const lines: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => lines.push(String(chunk)) > 0);
    const refused = await collect(env, { secrets });
    expect(refused.up).toBe(false);
    expect(refused.downReason).toMatch(/password authentication failed/);
    const next = await collect(env, { secrets });
    expect(next.up).toBe(true);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
    expect(lines.join('')).not.toContain(rotated);
  });

  it('fails the invocation with an error naming the secret when it cannot be read', async () => {
    sm.on(GetSecretValueCommand).rejects(new Error('AccessDeniedException'));
    const lines: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => lines.push(String(chunk)) > 0);
    await expect(collect(secretEnv(), { secrets: secretsManagerSource() })).rejects.toThrow(
      /could not read secret prod\/db\/monitor: AccessDeniedException/,
    );
    expect(JSON.parse(lines.join(''))).toMatchObject({ level: 'error', message: 'secret error' });
  });
});
