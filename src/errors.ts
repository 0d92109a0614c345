/** A configuration value is missing or malformed. Raised before any I/O. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';

  constructor(
    /** The environment variable at fault. */
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

/** Credentials could not be read from AWS Secrets Manager. */
export class SecretError extends Error {
  override readonly name = 'SecretError';
}

/** The Pushgateway did not accept the push. The invocation fails with this error. */
export class PushError extends Error {
  override readonly name = 'PushError';

  constructor(
    message: string,
    /** HTTP status when the Pushgateway answered, undefined on a network error or timeout. */
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Message of any thrown value, without assuming it is an Error. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
