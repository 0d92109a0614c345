/**
 * Every error the exporter raises on purpose: one base class, a name each, a
 * cause where there is one. No message holds a secret.
 */

/** The base of the exporter's own errors. */
export class ExporterError extends Error {
  override readonly name: string = 'ExporterError';
}

/** A configuration value is missing or malformed. Raised before any I/O. */
export class ConfigError extends ExporterError {
  override readonly name = 'ConfigError';

  constructor(
    /** The environment variable at fault. */
    readonly variable: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(`${variable}: ${message}`, options);
  }
}

/** A custom-queries file that cannot be used; the message names the file, the query and the field. */
export class CustomQueriesError extends ExporterError {
  override readonly name = 'CustomQueriesError';
}

/**
 * A target of a fleet that cannot be used (an entry of the targets file, a
 * fan-out payload); the message names the file or payload, the target and the
 * field, never a secret.
 */
export class TargetsError extends ExporterError {
  override readonly name = 'TargetsError';
}

/** Credentials could not be read from AWS Secrets Manager. */
export class SecretError extends ExporterError {
  override readonly name = 'SecretError';
}

/** An RDS IAM auth token could not be made. The message never holds a token. */
export class IamAuthError extends ExporterError {
  override readonly name = 'IamAuthError';
}

/** The Pushgateway did not accept the push. The invocation fails with this error. */
export class PushError extends ExporterError {
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

/** A collector produced more series than COLLECTOR_MAX_SERIES allows: it fails alone. */
export class SeriesLimitError extends ExporterError {
  override readonly name = 'SeriesLimitError';
}

/** The time budget ran out before a step could start or finish. */
export class DeadlineError extends ExporterError {
  override readonly name = 'DeadlineError';
}

/** RDS discovery failed (the API refused, throttled or did not answer in time). */
export class DiscoveryError extends ExporterError {
  override readonly name = 'DiscoveryError';
}

/** Lambda did not accept an invocation of the per-target function (fan-out). */
export class InvokeError extends ExporterError {
  override readonly name = 'InvokeError';
}

/**
 * A fleet run that handled every target but left something undone (a
 * target not pushed or invoked, stale groups not deleted, the fleet's group
 * not pushed): the invocation fails with it, so Lambda's error metrics see it.
 */
export class FleetError extends ExporterError {
  override readonly name = 'FleetError';
}

/** Message of any thrown value, without assuming it is an Error. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/** The `code` of an error (a Node system error, a PostgreSQL SQLSTATE), if it is a string. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** A readable reason from any error (Node's AggregateError of a failed connect has an empty message). */
export function describeError(error: unknown): string {
  const message = errorMessage(error);
  if (message !== '') return message;
  if (error instanceof AggregateError) {
    const inner = error.errors.map(errorMessage).filter((m) => m !== '');
    if (inner.length > 0) return inner.join('; ');
  }
  return errorCode(error) ?? 'unknown error';
}
