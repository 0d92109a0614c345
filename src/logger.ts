export type Fields = Readonly<Record<string, unknown>>;

export interface Logger {
  info(message: string, fields?: Fields): void;
  error(message: string, fields?: Fields): void;
}

const REDACTED = '[REDACTED]';

/** Replaces every occurrence of each secret in `text`. */
export function redact(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret !== undefined && secret !== '') out = out.split(secret).join(REDACTED);
  }
  return out;
}

/**
 * One JSON object per line on stdout, which CloudWatch Logs (and `serverless
 * invoke local`) keep as is. Every line passes through `redact` with the
 * secrets known to the logger, as a last guard.
 */
export function jsonLogger(
  secrets: () => readonly (string | undefined)[] = () => [],
  write: (line: string) => void = (line) => {
    process.stdout.write(`${line}\n`);
  },
): Logger {
  const log = (level: string, message: string, fields: Fields = {}) => {
    const line = JSON.stringify({ level, time: new Date().toISOString(), message, ...fields });
    // A secret with quotes or backslashes appears escaped in JSON: hide both forms.
    const hidden = secrets().flatMap((s) =>
      s === undefined ? [] : [s, JSON.stringify(s).slice(1, -1)],
    );
    write(redact(line, hidden));
  };
  return {
    info: (message, fields) => {
      log('info', message, fields);
    },
    error: (message, fields) => {
      log('error', message, fields);
    },
  };
}
