import { IamAuthError, errorMessage } from './errors.js';
import type { PostgresTarget } from './target.js';

/** What @aws-sdk/rds-signer's Signer is given: the database and the login. */
export interface SignerConfig {
  readonly hostname: string;
  readonly port: number;
  readonly username: string;
  readonly region: string;
}

/** The one method of the Signer that is used. */
export interface AuthTokenSigner {
  getAuthToken(): Promise<string>;
}

/** Makes a signer for one database and login; injectable for tests. */
export type SignerFactory = (config: SignerConfig) => AuthTokenSigner;

/**
 * Signers by database and login: created once per container (a Signer
 * resolves the role's credentials and refreshes them when they near expiry),
 * while each run asks it for a fresh token.
 */
const signers = new Map<string, AuthTokenSigner>();

/** The default factory: one @aws-sdk/rds-signer Signer per database, login and region. */
export const cachedSigner: SignerFactory = (config) => {
  const key = JSON.stringify([config.hostname, config.port, config.username, config.region]);
  let signer = signers.get(key);
  if (signer === undefined) {
    // The SDK is loaded on first use, not with the function (see README, Performance).
    const made = import('@aws-sdk/rds-signer').then(({ Signer }) => new Signer({ ...config }));
    signer = { getAuthToken: async () => (await made).getAuthToken() };
    signers.set(key, signer);
  }
  return signer;
};

/**
 * A new RDS IAM authentication token for `target` (its host, port and user),
 * signed in `region` with the function's role: the password of one
 * connection. Tokens live 15 minutes, so call it once per run, just before
 * connecting. The token is a secret: redact it like a password. Rejects with
 * an IamAuthError naming the database and user, never the token.
 */
export async function iamPassword(
  target: PostgresTarget,
  region: string,
  signer: SignerFactory = cachedSigner,
): Promise<string> {
  const config: SignerConfig = {
    hostname: target.host,
    port: target.port,
    username: target.user,
    region,
  };
  const about = `IAM auth token for user ${target.user} at ${target.host}:${target.port} (${region})`;
  let token: unknown;
  try {
    token = await signer(config).getAuthToken();
  } catch (error) {
    throw new IamAuthError(`could not make the ${about}: ${errorMessage(error)}`, {
      cause: error,
    });
  }
  if (typeof token !== 'string' || token === '') {
    throw new IamAuthError(`could not make the ${about}: the signer returned no token`);
  }
  return token;
}
