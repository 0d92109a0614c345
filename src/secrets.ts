import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { DatabaseSecret } from './target.js';
import { SecretError, errorMessage } from './errors.js';

/**
 * Parses the JSON of an RDS database secret (`username`, `password`, `host`,
 * `port`, `dbname`). Error messages name the secret and the field, never a value.
 */
export function parseDatabaseSecret(secretId: string, text: string): DatabaseSecret {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new SecretError(`secret ${secretId} is not valid JSON`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new SecretError(`secret ${secretId} must be a JSON object`);
  }
  const fields = data as Record<string, unknown>;
  const text_ = (name: string, required: boolean): string | undefined => {
    const value = fields[name];
    if (value === undefined || value === null || value === '') {
      if (required) throw new SecretError(`secret ${secretId} has no "${name}"`);
      return undefined;
    }
    if (typeof value !== 'string')
      throw new SecretError(`secret ${secretId}: "${name}" must be a string`);
    return value;
  };
  const rawPort = fields.port;
  let port: number | undefined;
  if (rawPort !== undefined && rawPort !== null && rawPort !== '') {
    port = typeof rawPort === 'number' ? rawPort : Number(rawPort);
    if (!Number.isInteger(port) || port < 1 || port > 65_535) {
      throw new SecretError(`secret ${secretId}: "port" must be a port number`);
    }
  }
  return {
    username: text_('username', true) as string,
    password: text_('password', true) as string,
    host: text_('host', false),
    port,
    dbname: text_('dbname', false),
  };
}

/** `promise`, or a rejection after `ms`. */
async function bounded<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`no answer within ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface SecretSource {
  /** The secret; gives up after `timeoutMs` (default: the SDK's own). */
  get(secretId: string, options?: { readonly timeoutMs?: number }): Promise<DatabaseSecret>;
  /** Forget a cached secret, e.g. after the database refused its password (rotation). */
  invalidate(secretId: string): void;
}

export interface SecretsManagerSourceOptions {
  /** How long a fetched secret is reused across warm invocations. */
  readonly ttlMs?: number;
  readonly client?: Pick<SecretsManagerClient, 'send'>;
  readonly now?: () => number;
}

export const SECRET_CACHE_TTL_MS = 5 * 60_000;

/** Reads secrets from AWS Secrets Manager and caches them for warm invocations. */
export function secretsManagerSource(options: SecretsManagerSourceOptions = {}): SecretSource {
  const ttlMs = options.ttlMs ?? SECRET_CACHE_TTL_MS;
  const now = options.now ?? Date.now;
  let client = options.client;
  const cache = new Map<string, { secret: DatabaseSecret; expires: number }>();

  return {
    async get(secretId, { timeoutMs } = {}) {
      const hit = cache.get(secretId);
      if (hit !== undefined && hit.expires > now()) return hit.secret;
      let text: string | undefined;
      try {
        // Loaded on first use: most deployments have no secret, and the SDK takes
        // time and memory to load (see README, Performance).
        const sdk = await import('@aws-sdk/client-secrets-manager');
        client ??= new sdk.SecretsManagerClient({});
        const { GetSecretValueCommand } = sdk;
        const request = client.send(
          new GetSecretValueCommand({ SecretId: secretId }),
          timeoutMs === undefined ? {} : { abortSignal: AbortSignal.timeout(timeoutMs) },
        );
        // The abort signal cancels the SDK's request; the timer bounds the wait anyway.
        const out = timeoutMs === undefined ? await request : await bounded(request, timeoutMs);
        text = out.SecretString;
      } catch (error) {
        throw new SecretError(`could not read secret ${secretId}: ${errorMessage(error)}`, {
          cause: error,
        });
      }
      if (text === undefined) throw new SecretError(`secret ${secretId} has no SecretString`);
      const secret = parseDatabaseSecret(secretId, text);
      cache.set(secretId, { secret, expires: now() + ttlMs });
      return secret;
    },
    invalidate(secretId) {
      cache.delete(secretId);
    },
  };
}
