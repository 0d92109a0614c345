import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { SecretError } from '../src/errors.js';
import { parseDatabaseSecret, secretsManagerSource } from '../src/secrets.js';

const rdsSecret = {
  engine: 'postgres',
  username: 'monitor',
  password: 'p@ss"word',
  host: 'db.cluster.rds.amazonaws.com',
  port: 5432,
  dbname: 'app',
};

describe('parseDatabaseSecret', () => {
  it('reads an RDS secret', () => {
    expect(parseDatabaseSecret('s', JSON.stringify(rdsSecret))).toEqual({
      username: 'monitor',
      password: 'p@ss"word',
      host: 'db.cluster.rds.amazonaws.com',
      port: 5432,
      dbname: 'app',
    });
  });

  it('accepts a port given as a string and a secret without address', () => {
    expect(parseDatabaseSecret('s', '{"username":"u","password":"p","port":"6432"}')).toEqual({
      username: 'u',
      password: 'p',
      host: undefined,
      port: 6432,
      dbname: undefined,
    });
  });

  it.each([
    ['not json', /not valid JSON/],
    ['[]', /JSON object/],
    ['{"password":"hunter2"}', /no "username"/],
    ['{"username":"u"}', /no "password"/],
    ['{"username":"u","password":"hunter2","port":"x"}', /"port"/],
    ['{"username":"u","password":7}', /"password" must be a string/],
  ])('rejects %s with a message that names the secret but shows no value', (text, pattern) => {
    expect(() => parseDatabaseSecret('my-secret', text)).toThrow(pattern);
    try {
      parseDatabaseSecret('my-secret', text);
    } catch (error) {
      expect(error).toBeInstanceOf(SecretError);
      expect((error as Error).message).toContain('my-secret');
      expect((error as Error).message).not.toContain('hunter2');
    }
  });
});

describe('secretsManagerSource', () => {
  const sm = mockClient(SecretsManagerClient);
  afterEach(() => sm.reset());

  it('fetches once and reuses the secret across warm invocations until the TTL', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(rdsSecret) });
    let now = 0;
    const source = secretsManagerSource({ ttlMs: 1000, now: () => now });
    await source.get('db');
    await source.get('db');
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    expect(sm.commandCalls(GetSecretValueCommand)[0]?.args[0].input).toEqual({ SecretId: 'db' });
    now = 1001;
    await source.get('db');
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('fetches again after invalidate (a rotated password)', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(rdsSecret) });
    const source = secretsManagerSource();
    await source.get('db');
    source.invalidate('db');
    await source.get('db');
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('wraps SDK errors in a SecretError naming the secret', async () => {
    sm.on(GetSecretValueCommand).rejects(new Error('ResourceNotFoundException: no such secret'));
    await expect(secretsManagerSource().get('missing')).rejects.toThrow(
      /could not read secret missing: ResourceNotFoundException/,
    );
  });

  it('rejects a binary secret', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretBinary: new Uint8Array([1]) });
    await expect(secretsManagerSource().get('bin')).rejects.toThrow(/no SecretString/);
  });
});
