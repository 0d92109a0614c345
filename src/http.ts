/**
 * The one HTTP client of the sinks (src/pushgateway.ts, src/remote_write.ts):
 * one request per call, within one time bound from connect to the last byte
 * of the answer, its credentials sent and redacted from every message, an
 * https server's certificate always verified (against a CA file when one is
 * set), and at most the start of a refused answer read.
 */
import http from 'node:http';
import https from 'node:https';
import { retry } from './budget.js';
import { ConfigError, PushError, errorCode, errorMessage } from './errors.js';
import { clip, redact } from './logger.js';
import { readCaBundle } from './pem.js';

/** How the exporter authenticates to an endpoint: basic auth or a bearer token. */
export type HttpAuth =
  | { readonly kind: 'basic'; readonly username: string; readonly password: string }
  | { readonly kind: 'bearer'; readonly token: string };

/** The URL for logs and error messages: no user name or password. */
export function displayUrl(url: URL): string {
  const shown = new URL(url.href);
  shown.username = '';
  shown.password = '';
  return shown.href;
}

/** Node's codes for a server certificate that was not accepted. */
const CERTIFICATE_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'PATH_LENGTH_EXCEEDED',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * Whether a request failed because the server's TLS certificate was not
 * accepted (untrusted CA, wrong host name, expired): another attempt would
 * fail the same way.
 */
export function isCertificateError(error: unknown): boolean {
  const cause = error instanceof PushError ? error.cause : error;
  const found = errorCode(cause);
  return found !== undefined && CERTIFICATE_CODES.has(found);
}

/**
 * The variables that configure one kind of endpoint, for messages that say
 * what to set, and its name in them ("Pushgateway", "remote write endpoint").
 */
export interface Service {
  readonly name: string;
  readonly vars: {
    readonly username: string;
    readonly password: string;
    readonly bearerToken: string;
    readonly caFile: string;
  };
}

/** An HTTP endpoint as configured: where it is, how to authenticate, which CAs to trust. */
export interface Gateway {
  /** The base URL; a path prefix in it is kept (a server behind a reverse proxy). */
  readonly url: URL;
  /**
   * Basic auth or bearer token (config.pushgateway.auth). Without it,
   * `user:password@` of `url`, if any, is sent as basic auth.
   */
  readonly auth?: HttpAuth | undefined;
  /**
   * PEM file of the CAs to trust for an https `url` (config.pushgateway.caFile),
   * instead of Node's default CAs, as curl's --cacert. Read once, on first use.
   */
  readonly caFile?: string | undefined;
}

/**
 * A percent-decoded URL user name or password. A `%` not followed by a valid
 * escape stays as written (URL's setters do not encode `%`).
 */
function decoded(part: string): string {
  return part.replace(/(?:%[0-9A-Fa-f]{2})+/g, (escaped) => {
    try {
      return decodeURIComponent(escaped);
    } catch {
      return escaped;
    }
  });
}

/** The Authorization header, and what it is, for error messages. */
function credentials(
  request: Gateway,
  service?: Service,
): {
  header?: string;
  what: string;
} {
  const { auth, url } = request;
  if (auth?.kind === 'bearer') {
    return { header: `Bearer ${auth.token}`, what: 'the bearer token was refused' };
  }
  let user: string;
  let pass: string;
  if (auth?.kind === 'basic') {
    user = auth.username;
    pass = auth.password;
  } else if (url.username !== '' || url.password !== '') {
    user = decoded(url.username);
    pass = decoded(url.password);
  } else {
    return {
      what:
        service === undefined
          ? 'no credentials were sent'
          : `no credentials were sent (set ${service.vars.username}/${service.vars.password} ` +
            `or ${service.vars.bearerToken})`,
    };
  }
  return {
    header: `Basic ${Buffer.from(`${user}:${pass}`, 'utf8').toString('base64')}`,
    what: 'the basic auth credentials were refused',
  };
}

/**
 * Every form in which the exporter sends an endpoint's credential: the
 * password or token as configured, the password as written in the URL
 * (percent-encoded) and decoded, and the Authorization header's value, whose
 * base64 an answer may echo. The one list to redact; no value may appear in
 * a log line or an error.
 */
export function credentialForms(url: URL, auth: HttpAuth | undefined): string[] {
  const forms = [url.password, decoded(url.password)];
  if (auth?.kind === 'basic') forms.push(auth.password);
  if (auth?.kind === 'bearer') forms.push(auth.token);
  const { header } = credentials({ url, auth });
  if (header !== undefined) forms.push(header, header.slice(header.indexOf(' ') + 1));
  return forms.filter((form) => form !== '');
}

/** A network or TLS error, with what to do about a certificate that was not accepted. */
function networkReason(error: unknown, caFile: string | undefined, service: Service): string {
  const message = errorMessage(error);
  const found = errorCode(error);
  if (isCertificateError(error)) {
    const trusted =
      caFile === undefined
        ? `trusting Node's default CAs (set ${service.vars.caFile} for a private CA)`
        : `trusting only the CAs of ${service.vars.caFile}=${caFile}`;
    return `TLS certificate not accepted: ${message} (${found}); ${trusted}`;
  }
  if (found === 'ERR_SSL_WRONG_VERSION_NUMBER' || found === 'EPROTO') {
    return `${message} (does it serve plain http rather than https?)`;
  }
  return message === '' && found !== undefined ? found : message;
}

/** TLS options of a request; a ConfigError when its CA file is unusable. */
function tlsOptions(gateway: Gateway, where: string, service: Service): https.RequestOptions {
  if (gateway.url.protocol !== 'https:') {
    if (gateway.caFile === undefined) return {};
    throw new ConfigError(service.vars.caFile, `needs an https ${service.name} URL, got ${where}`);
  }
  return {
    // Explicitly on, so that even NODE_TLS_REJECT_UNAUTHORIZED=0 cannot turn it off.
    rejectUnauthorized: true,
    ...(gateway.caFile === undefined
      ? {}
      : { ca: [...readCaBundle(service.vars.caFile, gateway.caFile)] }),
  };
}

/**
 * How much of a refused request's answer is read: what the error message
 * keeps, and room for a credential that straddles its end to be redacted
 * whole. The rest is never read (a hostile or broken server may answer
 * gigabytes). A push's or delete's successful answer is read no further either.
 */
const ANSWER_READ_BYTES = 16 * 1024;

/** Reads the body of an answer whose status reached the request's goal, chunk by chunk. */
export interface AnswerReader<T> {
  /** Takes the next chunk; false when nothing more is wanted (the rest is not read). Throws to refuse the answer. */
  take(chunk: Buffer): boolean;
  /** The answer was read to its end, or as far as wanted: the result. Throws to refuse the answer. */
  end(): T;
}

/** One HTTP request to an endpoint, and how to read its answer. */
export interface Exchange<T> {
  readonly gateway: Gateway;
  readonly service: Service;
  readonly method: 'GET' | 'PUT' | 'DELETE' | 'POST';
  /** The request's URL, below `gateway.url`; a user name or password in it is never sent in the request line. */
  readonly target: URL;
  readonly headers?: http.OutgoingHttpHeaders;
  readonly body?: Buffer;
  /** From connect to the last byte read of the answer. */
  readonly timeoutMs: number;
  /** What was asked, for messages: `${asked} <service> <url> failed: …` (e.g. "push to"). */
  readonly asked: string;
  /** After the status of a refused answer: `<service> <url> answered HTTP 500${toWhat}`; "" for a push. */
  readonly toWhat: string;
  /** Whether the answer's status means the request reached its goal. */
  readonly done: (status: number) => boolean;
  /** Reads an answer whose status is done, from its headers on; throws to refuse it. */
  readonly read: (answer: http.IncomingMessage) => AnswerReader<T>;
  /** What to add to a refused answer's message, by its status and text (a hint); "" for nothing. */
  readonly explain?: (status: number, said: string) => string;
  /** Values sent besides the credentials (a header's) that no message may show. */
  readonly secrets?: readonly string[];
}

export const isSuccess = (status: number) => status >= 200 && status < 300;

/** Reads at most the start of an answer that says nothing a caller needs, and gives its status. */
export function statusOnly(answer: http.IncomingMessage): AnswerReader<number> {
  let read = 0;
  return {
    take(chunk) {
      read += chunk.length;
      return read < ANSWER_READ_BYTES;
    },
    end: () => answer.statusCode ?? 0,
  };
}

/**
 * Sends one request and reads its answer, all within `timeoutMs`. Resolves
 * with what `read` makes of an answer whose status is `done`; rejects with a
 * PushError naming the endpoint (no credential in it, at most
 * MAX_TEXT_CHARS of its answer) otherwise, or with a ConfigError when the CA
 * file is unusable. An https server's certificate is always verified. The one
 * place that sends credentials, applies the CA file and reads an answer.
 */
export function exchange<T>(request: Exchange<T>): Promise<T> {
  const { gateway, service } = request;
  const where = displayUrl(gateway.url);
  const target = new URL(displayUrl(request.target));
  const headers: http.OutgoingHttpHeaders = { ...request.headers };
  if (request.body !== undefined) headers['content-length'] = request.body.length;
  const { header, what: sent } = credentials(gateway, service);
  if (header !== undefined) headers.authorization = header;
  // A request signed by its caller (SigV4) did send credentials: not the auth settings' hint.
  const what =
    header === undefined && Object.keys(headers).some((n) => n.toLowerCase() === 'authorization')
      ? 'the Authorization header sent (a signature) was refused'
      : sent;
  const secrets = [...credentialForms(gateway.url, gateway.auth), ...(request.secrets ?? [])]
    .filter((secret) => secret !== '')
    .sort((a, b) => b.length - a.length);
  const scrub = (text: string) => redact(text, secrets);

  return new Promise<T>((resolve, reject) => {
    // Throws (so rejects) a ConfigError when the CA file is unusable, before connecting.
    const options = { method: request.method, headers, ...tlsOptions(gateway, where, service) };
    const req = (target.protocol === 'https:' ? https : http).request(target, options);
    let answer: http.IncomingMessage | undefined;
    let bytes = 0;
    let settled = false;
    // The whole exchange, from connect to the last byte read, ends by then.
    const timer = setTimeout(() => {
      fail(
        new Error(
          answer === undefined
            ? `no answer within ${request.timeoutMs} ms`
            : `answer not complete within ${request.timeoutMs} ms (${bytes} bytes read)`,
        ),
      );
    }, request.timeoutMs);
    /** True once: the first outcome wins, later events are ignored. */
    const settle = () => {
      if (settled) return false;
      settled = true;
      clearTimeout(timer);
      return true;
    };
    const fail = (error: unknown, status?: number) => {
      if (!settle()) return;
      // Nothing more is read or sent, and the connection is not reused.
      answer?.destroy();
      req.destroy();
      reject(
        error instanceof PushError
          ? error
          : new PushError(
              scrub(
                `${request.asked} ${service.name} ${where} failed: ` +
                  clip(networkReason(error, gateway.caFile, service)),
              ),
              status,
              { cause: error },
            ),
      );
    };

    req.on('error', fail);
    req.on('response', (res) => {
      answer = res;
      const status = res.statusCode ?? 0;
      // Cut off by the server or the network: a partial answer is never taken for a whole one.
      const cutOff = (error?: Error) =>
        new Error(
          `the answer was cut off after ${bytes} bytes` +
            (error === undefined ? '' : ` (${errorMessage(error)})`),
          { cause: error },
        );
      res.on('error', (error) => {
        fail(cutOff(error), status);
      });
      res.on('close', () => {
        if (!res.complete) fail(cutOff(), status);
      });

      if (!request.done(status)) {
        const chunks: Buffer[] = [];
        let kept = 0;
        const refuse = () => {
          const said = clip(scrub(Buffer.concat(chunks).toString('utf8').trim()));
          const reason =
            (status === 401 ? ` (unauthorized: ${what})` : status === 403 ? ' (forbidden)' : '') +
            (request.explain?.(status, said) ?? '');
          fail(
            new PushError(
              scrub(
                `${service.name} ${where} answered HTTP ${status}${request.toWhat}${reason}` +
                  (said === '' ? '' : `: ${said}`),
              ),
              status,
            ),
          );
        };
        res.on('data', (chunk: Buffer) => {
          if (settled) return;
          bytes += chunk.length;
          const room = ANSWER_READ_BYTES - kept;
          chunks.push(room < chunk.length ? chunk.subarray(0, room) : chunk);
          kept += Math.min(room, chunk.length);
          // Enough to say what went wrong: the rest is not read.
          if (kept >= ANSWER_READ_BYTES) refuse();
        });
        res.on('end', refuse);
        return;
      }

      let reader: AnswerReader<T>;
      try {
        reader = request.read(res);
      } catch (error) {
        fail(error, status);
        return;
      }
      const finish = (early: boolean) => {
        if (settled) return;
        let value: T;
        try {
          value = reader.end();
        } catch (error) {
          fail(error, status);
          return;
        }
        settle();
        if (early) res.destroy();
        resolve(value);
      };
      res.on('data', (chunk: Buffer) => {
        if (settled) return;
        bytes += chunk.length;
        let more: boolean;
        try {
          more = reader.take(chunk);
        } catch (error) {
          fail(error, status);
          return;
        }
        if (!more) finish(true);
      });
      res.on('end', () => {
        finish(false);
      });
    });
    req.end(request.body);
  });
}

/** A failure that another attempt may get past: no answer, 5xx, or 429; not a bad certificate. */
export function retryablePush(error: unknown): boolean {
  // A certificate refused now is refused on every attempt.
  if (!(error instanceof PushError) || isCertificateError(error)) return false;
  return error.status === undefined || error.status >= 500 || error.status === 429;
}

/**
 * `attempt` until it succeeds, retried on no answer, 5xx or 429 (never on
 * another 4xx or a refused certificate), every attempt and pause within
 * `timeoutMs` and before `deadline`: an outage of the endpoint costs no
 * more than its timeout.
 */
export function retried<T>(
  bound: { readonly timeoutMs: number; readonly deadline: number },
  attempt: (timeoutMs: number) => Promise<T>,
): Promise<T> {
  const deadline = Math.min(bound.deadline, Date.now() + bound.timeoutMs);
  return retry(attempt, { deadline, retryable: retryablePush });
}
