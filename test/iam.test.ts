import { beforeEach, describe, expect, it, vi } from 'vitest';
import { IamAuthError } from '../src/errors.js';
import { iamPassword, type SignerConfig } from '../src/iam.js';
import type { PostgresTarget } from '../src/target.js';

/** The SDK's Signer, replaced: it would resolve AWS credentials. */
const sdk = vi.hoisted(() => ({
  constructed: [] as unknown[],
  getAuthToken: vi.fn<() => Promise<string>>(),
}));
vi.mock('@aws-sdk/rds-signer', () => ({
  Signer: class {
    constructor(config: unknown) {
      sdk.constructed.push(config);
    }
    getAuthToken() {
      return sdk.getAuthToken();
    }
  },
}));

const target: PostgresTarget = {
  host: 'mydb.abcdefghijkl.eu-west-1.rds.amazonaws.com',
  port: 5432,
  database: 'postgres',
  user: 'monitor',
  password: undefined,
  ssl: 'verify-full',
};
const TOKEN =
  'mydb.abcdefghijkl.eu-west-1.rds.amazonaws.com:5432/?Action=connect&DBUser=monitor&X-Amz-Signature=abc123';

beforeEach(() => {
  sdk.constructed.length = 0;
  sdk.getAuthToken.mockReset();
});

describe('iamPassword with an injected signer', () => {
  it("signs for the target's host, port and user in the given region and returns the token", async () => {
    const calls: SignerConfig[] = [];
    const factory = (config: SignerConfig) => {
      calls.push(config);
      return { getAuthToken: () => Promise.resolve(TOKEN) };
    };
    await expect(iamPassword(target, 'eu-west-1', factory)).resolves.toBe(TOKEN);
    expect(calls).toEqual([
      {
        hostname: 'mydb.abcdefghijkl.eu-west-1.rds.amazonaws.com',
        port: 5432,
        username: 'monitor',
        region: 'eu-west-1',
      },
    ]);
  });

  it('wraps a failure in an IamAuthError naming IAM auth, the user and the host', async () => {
    const factory = () => ({
      getAuthToken: () =>
        Promise.reject(new Error('Could not load credentials from any providers')),
    });
    const error = await iamPassword(target, 'eu-west-1', factory).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IamAuthError);
    expect((error as Error).message).toBe(
      'could not make the IAM auth token for user monitor at ' +
        'mydb.abcdefghijkl.eu-west-1.rds.amazonaws.com:5432 (eu-west-1): ' +
        'Could not load credentials from any providers',
    );
  });

  it('refuses an empty token, without a token in the message', async () => {
    const factory = () => ({ getAuthToken: () => Promise.resolve('') });
    await expect(iamPassword(target, 'eu-west-1', factory)).rejects.toThrow(
      /IAM auth token .*: the signer returned no token/,
    );
  });
});

describe('iamPassword with the SDK Signer (mocked)', () => {
  it('creates the Signer once per container and asks it for a new token each run', async () => {
    sdk.getAuthToken.mockResolvedValueOnce(`${TOKEN}-1`).mockResolvedValueOnce(`${TOKEN}-2`);
    await expect(iamPassword(target, 'eu-west-1')).resolves.toBe(`${TOKEN}-1`);
    await expect(iamPassword(target, 'eu-west-1')).resolves.toBe(`${TOKEN}-2`);
    expect(sdk.constructed).toEqual([
      {
        hostname: 'mydb.abcdefghijkl.eu-west-1.rds.amazonaws.com',
        port: 5432,
        username: 'monitor',
        region: 'eu-west-1',
      },
    ]);
    expect(sdk.getAuthToken).toHaveBeenCalledTimes(2);
  });

  it('makes another Signer for another user or host', async () => {
    sdk.getAuthToken.mockResolvedValue(TOKEN);
    await iamPassword({ ...target, user: 'other' }, 'eu-west-1');
    await iamPassword({ ...target, host: 'proxy.example.com' }, 'eu-west-1');
    expect(sdk.constructed).toHaveLength(2);
  });

  it("never puts a token in an error message (the previous run's token included)", async () => {
    sdk.getAuthToken
      .mockResolvedValueOnce(TOKEN)
      .mockRejectedValueOnce(new Error('ExpiredToken: the security token has expired'));
    await expect(iamPassword(target, 'us-east-1')).resolves.toBe(TOKEN);
    const error = (await iamPassword(target, 'us-east-1').catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(IamAuthError);
    expect(error.message).toMatch(/^could not make the IAM auth token for user monitor/);
    expect(error.message).toContain('ExpiredToken');
    expect(error.message).not.toContain(TOKEN);
    expect(error.message).not.toContain('X-Amz-Signature');
  });
});
