/**
 * The one logger of a run: one JSON object per line on stdout (CloudWatch Logs
 * and `serverless invoke local` keep it as is), and the one redaction set.
 * Secrets are added as they are learned (the password from the environment,
 * the secret's password once read, an IAM token once made, the Pushgateway's
 * credentials in every form they are sent), and every line, error text and
 * pushed body passes through `redact`.
 */
export type Fields = Readonly<Record<string, unknown>>;

export interface Logger {
  info(message: string, fields?: Fields): void;
  error(message: string, fields?: Fields): void;
  /**
   * Never write `secret` again, in any of the forms it may be echoed in: as
   * is, JSON-escaped and percent-encoded. Empty and undefined are ignored.
   */
  hide(...secrets: readonly (string | undefined)[]): void;
  /** `text` with every hidden value (of at least `minChars` characters) replaced. */
  redact(text: string, minChars?: number): string;
  /** A logger adding `fields` to every line, sharing this one's redaction set. */
  child(fields: Fields): Logger;
  /**
   * A logger adding `fields` to every line, starting from a copy of this
   * one's redaction set: what it learns stays its own. One per target of a
   * fleet, so that each target's lines and pushed body are searched for the
   * deployment's secrets and its own, not for every other target's (which
   * made redaction grow with the square of the fleet: 30 % of a run's CPU
   * at 1,000 targets).
   */
  fork(fields: Fields): Logger;
}

export const REDACTED = '[REDACTED]';

/** Most characters of server-supplied text (an error, an HTTP answer) kept in a reason or log line. */
export const MAX_TEXT_CHARS = 1_000;

/** Replaces every occurrence of each secret in `text`. */
export function redact(text: string, secrets: Iterable<string>): string {
  let out = text;
  for (const secret of secrets) {
    if (secret !== '' && out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  return out;
}

/** At most `max` characters of `text`, saying how much was left out. */
export function clip(text: string, max = MAX_TEXT_CHARS): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}… (${text.length - max} more characters)`;
}

/** The forms a secret may be echoed in: as is, JSON-escaped, percent-encoded. */
function forms(secret: string): string[] {
  return [secret, JSON.stringify(secret).slice(1, -1), encodeURIComponent(secret)];
}

export interface LoggerOptions {
  readonly write?: (line: string) => void;
  readonly fields?: Fields;
  /** Secrets known from the start (e.g. passwords from the environment). */
  readonly secrets?: readonly (string | undefined)[];
}

export function createLogger(options: LoggerOptions = {}): Logger {
  return makeLogger(options, []);
}

function makeLogger(options: LoggerOptions, inherited: readonly string[]): Logger {
  const write =
    options.write ??
    ((line: string) => {
      process.stdout.write(`${line}\n`);
    });
  const hidden = new Set<string>();
  // Longest first, so a secret that contains another is replaced whole.
  let ordered: string[] = [];
  const hide = (...secrets: readonly (string | undefined)[]) => {
    let added = false;
    for (const secret of secrets) {
      if (secret === undefined || secret === '') continue;
      for (const form of forms(secret)) {
        if (!hidden.has(form)) {
          hidden.add(form);
          added = true;
        }
      }
    }
    if (added) ordered = [...hidden].sort((a, b) => b.length - a.length);
  };
  for (const form of inherited) hidden.add(form);
  ordered = [...hidden].sort((a, b) => b.length - a.length);
  hide(...(options.secrets ?? []));
  const redactText = (text: string, minChars = 0) =>
    redact(text, minChars === 0 ? ordered : ordered.filter((secret) => secret.length >= minChars));

  const make = (base: Fields): Logger => {
    const log = (level: string, message: string, fields: Fields = {}) => {
      const line = JSON.stringify({
        level,
        time: new Date().toISOString(),
        message,
        ...base,
        ...fields,
      });
      write(redactText(line));
    };
    return {
      info: (message, fields) => {
        log('info', message, fields);
      },
      error: (message, fields) => {
        log('error', message, fields);
      },
      hide,
      redact: redactText,
      child: (fields) => make({ ...base, ...fields }),
      fork: (fields) => makeLogger({ write, fields: { ...base, ...fields } }, [...hidden]),
    };
  };
  return make(options.fields ?? {});
}

/** A logger that writes nothing (tests, benchmarks), redacting as any other. */
export function silentLogger(): Logger {
  return createLogger({ write: () => undefined });
}
