/**
 * A target of a fleet as its sources give it (the targets file, RDS
 * discovery) and as the fan-out payload carries it: plain data, no secret
 * value in it (a password is named by the environment variable holding it).
 * `checkTargetSpec` is the one checker of that shape, for the file and for
 * an event coming in to the per-target function alike.
 */
import type { SslMode } from '../config.js';

/** Where a target's password comes from. Never the password itself. */
export type CredentialSource =
  /** The password is in this environment variable of the function. */
  | { readonly kind: 'env'; readonly variable: string }
  /** An RDS-style JSON secret in AWS Secrets Manager (username, password, …). */
  | { readonly kind: 'secret'; readonly secretId: string }
  /** An RDS IAM auth token, made for `username` in the deployment's region. */
  | { readonly kind: 'iam' }
  /** No password (trust or peer auth, a local test server). */
  | { readonly kind: 'none' };

export interface TargetSpec {
  /** The `instance` grouping label; unique in the fleet. */
  readonly name: string;
  /** Undefined only when the secret gives it. */
  readonly host: string | undefined;
  readonly port: number | undefined;
  readonly database: string | undefined;
  readonly username: string | undefined;
  readonly credentials: CredentialSource;
  readonly ssl: SslMode | undefined;
  readonly sslRootCert: string | undefined;
  /** Extra grouping labels of this target, besides the deployment's. */
  readonly labels: Readonly<Record<string, string>>;
  /** Collector switches of this target, on top of COLLECTORS_ENABLE/DISABLE. */
  readonly collectors: { readonly enable: readonly string[]; readonly disable: readonly string[] };
  /** Where it was found: shown in logs and the summary. */
  readonly source: 'file' | 'rds';
}
