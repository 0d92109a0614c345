/**
 * The only module that talks to the Pushgateway: one PUT per attempt,
 * retried on no answer, 5xx or 429 within one time bound for the whole push.
 */
import http from 'node:http';
import https from 'node:https';
import { retry } from './budget.js';
import { ENV, type PushgatewayAuth } from './config.js';
import { ConfigError, PushError, errorCode, errorMessage } from './errors.js';
import { clip, redact } from './logger.js';
import { readCaBundle } from './pem.js';
import type { GroupingKey } from './target.js';

/** The text exposition format's content type, as the Pushgateway expects it. */
export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Base64url (RFC 4648 §5), the Pushgateway's `@base64` label-value encoding. */
function base64url(value: string): string {
  // An empty value must still take a path segment: the Pushgateway reads "=" as empty.
  if (value === '') return '=';
  return Buffer.from(value, 'utf8').toString('base64url');
}

/**
 * The grouping key as a URL path below the Pushgateway's base URL:
 * `metrics/job@base64/<job>/<name>@base64/<value>/...`. Every value is
 * base64-encoded, so `/`, spaces and any Unicode are safe.
 */
export function groupingPath(job: string, labels: Readonly<Record<string, string>>): string {
  let path = `metrics/job@base64/${base64url(job)}`;
  for (const [name, value] of Object.entries(labels)) {
    path += `/${name}@base64/${base64url(value)}`;
  }
  return path;
}

export function groupingUrl(base: URL, job: string, labels: Readonly<Record<string, string>>): URL {
  const url = new URL(base.href);
  // Keep a path prefix (a Pushgateway behind a reverse proxy at /pushgateway/).
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/${groupingPath(job, labels)}`;
  return url;
}

/** The URL for logs and error messages: no user name or password. */
export function displayUrl(url: URL): string {
  const shown = new URL(url.href);
  shown.username = '';
  shown.password = '';
  return shown.href;
}

/** The certificates of PUSHGATEWAY_CA_FILE (see readCaBundle). */
export function caCertificates(file: string): readonly string[] {
  return readCaBundle(ENV.pushgatewayCaFile, file);
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
 * Whether a push failed because the Pushgateway's TLS certificate was not
 * accepted (untrusted CA, wrong host name, expired): another attempt would
 * fail the same way.
 */
export function isCertificateError(error: unknown): boolean {
  const cause = error instanceof PushError ? error.cause : error;
  const found = errorCode(cause);
  return found !== undefined && CERTIFICATE_CODES.has(found);
}

export interface PushRequest {
  readonly url: URL;
  readonly job: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly body: string;
  /** Deadline for the request, from connect to the last byte of the answer. */
  readonly timeoutMs: number;
  /**
   * Basic auth or bearer token (config.pushgateway.auth). Without it,
   * `user:password@` of `url`, if any, is sent as basic auth.
   */
  readonly auth?: PushgatewayAuth | undefined;
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
function credentials(request: Pick<PushRequest, 'url' | 'auth'>): {
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
        `no credentials were sent (set ${ENV.pushgatewayUsername}/${ENV.pushgatewayPassword} ` +
        `or ${ENV.pushgatewayBearerToken})`,
    };
  }
  return {
    header: `Basic ${Buffer.from(`${user}:${pass}`, 'utf8').toString('base64')}`,
    what: 'the basic auth credentials were refused',
  };
}

/**
 * Every form in which the exporter sends a Pushgateway credential: the
 * password or token as configured, the password as written in the URL
 * (percent-encoded) and decoded, and the Authorization header's value, whose
 * base64 an answer may echo. The one list to redact; no value may appear in
 * a log line or an error.
 */
export function credentialForms(url: URL, auth: PushgatewayAuth | undefined): string[] {
  const forms = [url.password, decoded(url.password)];
  if (auth?.kind === 'basic') forms.push(auth.password);
  if (auth?.kind === 'bearer') forms.push(auth.token);
  const { header } = credentials({ url, auth });
  if (header !== undefined) forms.push(header, header.slice(header.indexOf(' ') + 1));
  return forms.filter((form) => form !== '');
}

/** A network or TLS error, with what to do about a certificate that was not accepted. */
function networkReason(error: unknown, caFile: string | undefined): string {
  const message = errorMessage(error);
  const found = errorCode(error);
  if (isCertificateError(error)) {
    const trusted =
      caFile === undefined
        ? `trusting Node's default CAs (set ${ENV.pushgatewayCaFile} for a private CA)`
        : `trusting only the CAs of ${ENV.pushgatewayCaFile}=${caFile}`;
    return `TLS certificate not accepted: ${message} (${found}); ${trusted}`;
  }
  if (found === 'ERR_SSL_WRONG_VERSION_NUMBER' || found === 'EPROTO') {
    return `${message} (does it serve plain http rather than https?)`;
  }
  return message === '' && found !== undefined ? found : message;
}

/** TLS options of a request; a ConfigError when its CA file is unusable. */
function tlsOptions(request: PushRequest, where: string): https.RequestOptions {
  if (request.url.protocol !== 'https:') {
    if (request.caFile === undefined) return {};
    throw new ConfigError(ENV.pushgatewayCaFile, `needs an https Pushgateway URL, got ${where}`);
  }
  return {
    // Explicitly on, so that even NODE_TLS_REJECT_UNAUTHORIZED=0 cannot turn it off.
    rejectUnauthorized: true,
    ...(request.caFile === undefined ? {} : { ca: [...caCertificates(request.caFile)] }),
  };
}

/**
 * How much of a refused push's answer is read: what the error message keeps,
 * and room for a credential that straddles its end to be redacted whole. The
 * rest is never read (a hostile or broken server may answer gigabytes).
 */
const ANSWER_READ_BYTES = 16 * 1024;

/**
 * Replaces the group (HTTP PUT) with `body`, once. Resolves with the HTTP
 * status on a 2xx answer; rejects with a PushError naming the Pushgateway
 * otherwise (no credentials in it, at most MAX_TEXT_CHARS of its answer), or
 * with a ConfigError when `caFile` is unusable. An https server's
 * certificate is always verified.
 */
export function push(request: PushRequest): Promise<number> {
  const url = groupingUrl(request.url, request.job, request.labels);
  const where = displayUrl(request.url);
  const target = new URL(displayUrl(url));
  const secure = url.protocol === 'https:';
  const body = Buffer.from(request.body, 'utf8');
  const headers: http.OutgoingHttpHeaders = {
    'content-type': EXPOSITION_CONTENT_TYPE,
    'content-length': body.length,
  };
  const { header, what } = credentials(request);
  if (header !== undefined) headers.authorization = header;

  return new Promise((resolve, reject) => {
    // Throws (so rejects) a ConfigError when the CA file is unusable, before connecting.
    const options = { method: 'PUT', headers, ...tlsOptions(request, where) };
    const req = secure ? https.request(target, options) : http.request(target, options);
    const timer = setTimeout(() => {
      req.destroy(new Error(`no answer within ${request.timeoutMs} ms`));
    }, request.timeoutMs);
    const fail = (error: unknown, status?: number) => {
      clearTimeout(timer);
      reject(
        error instanceof PushError
          ? error
          : new PushError(
              `push to Pushgateway ${where} failed: ${networkReason(error, request.caFile)}`,
              status,
              { cause: error },
            ),
      );
    };
    req.on('error', fail);
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      const chunks: Buffer[] = [];
      let read = 0;
      let settled = false;
      const finish = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (status >= 200 && status < 300) {
          resolve(status);
          return;
        }
        const text = Buffer.concat(chunks).toString('utf8').trim();
        const secrets = credentialForms(request.url, request.auth).sort(
          (a, b) => b.length - a.length,
        );
        const answer = clip(redact(text, secrets));
        const reason =
          status === 401 ? ` (unauthorized: ${what})` : status === 403 ? ' (forbidden)' : '';
        fail(
          new PushError(
            `Pushgateway ${where} answered HTTP ${status}${reason}${answer === '' ? '' : `: ${answer}`}`,
            status,
          ),
        );
      };
      res.on('data', (chunk: Buffer) => {
        if (settled) return;
        const room = ANSWER_READ_BYTES - read;
        chunks.push(room < chunk.length ? chunk.subarray(0, room) : chunk);
        read += Math.min(room, chunk.length);
        if (read >= ANSWER_READ_BYTES) {
          // Enough to say what went wrong: the rest is not read.
          finish();
          res.destroy();
        }
      });
      res.on('error', (error) => {
        if (!settled) {
          settled = true;
          fail(error);
        }
      });
      res.on('end', finish);
    });
    req.end(body);
  });
}

/** A push failure that another attempt may get past: no answer, 5xx, or 429; not a bad certificate. */
export function retryablePush(error: unknown): boolean {
  // A certificate refused now is refused on every attempt.
  if (!(error instanceof PushError) || isCertificateError(error)) return false;
  return error.status === undefined || error.status >= 500 || error.status === 429;
}

export interface Delivery {
  readonly url: URL;
  readonly key: GroupingKey;
  readonly body: string;
  /**
   * The whole push, every attempt and every pause between them, ends within
   * this (PUSHGATEWAY_TIMEOUT_MS), and before `deadline`.
   */
  readonly timeoutMs: number;
  readonly deadline: number;
  readonly auth?: PushgatewayAuth | undefined;
  readonly caFile?: string | undefined;
}

/**
 * Replaces the group of `key` with `body`: attempts are retried on no answer,
 * 5xx or 429 (never on another 4xx or a refused certificate), all within
 * `timeoutMs` and the run's deadline, so an outage of the Pushgateway costs a
 * run no more than PUSHGATEWAY_TIMEOUT_MS.
 */
export async function deliver(delivery: Delivery): Promise<void> {
  const deadline = Math.min(delivery.deadline, Date.now() + delivery.timeoutMs);
  await retry(
    (timeoutMs) =>
      push({
        url: delivery.url,
        job: delivery.key.job,
        labels: delivery.key.labels,
        body: delivery.body,
        timeoutMs,
        auth: delivery.auth,
        caFile: delivery.caFile,
      }),
    { deadline, retryable: retryablePush },
  );
}
