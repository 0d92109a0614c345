/**
 * The only module that talks to the Pushgateway: a push is one PUT per
 * attempt, a stale group's removal one DELETE per attempt, both retried on no
 * answer, 5xx or 429 within one time bound; the list of groups is one GET of
 * its exposition, read as a stream. All three share one request function, so
 * credentials, TLS, time bounds and the redaction of answers are written once.
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

/** `path` below the base URL, keeping its path prefix (a Pushgateway behind a reverse proxy at /pushgateway/). */
function below(base: URL, path: string): URL {
  const url = new URL(base.href);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/${path}`;
  return url;
}

export function groupingUrl(base: URL, job: string, labels: Readonly<Record<string, string>>): URL {
  return below(base, groupingPath(job, labels));
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

/** A Pushgateway as configured: where it is, how to authenticate, which CAs to trust. */
export interface Gateway {
  /** The base URL; a path prefix in it is kept (a Pushgateway behind a reverse proxy). */
  readonly url: URL;
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

export interface PushRequest extends Gateway {
  readonly job: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly body: string;
  /** Deadline for the request, from connect to the last byte of the answer. */
  readonly timeoutMs: number;
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
function credentials(request: Gateway): {
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
function tlsOptions(gateway: Gateway, where: string): https.RequestOptions {
  if (gateway.url.protocol !== 'https:') {
    if (gateway.caFile === undefined) return {};
    throw new ConfigError(ENV.pushgatewayCaFile, `needs an https Pushgateway URL, got ${where}`);
  }
  return {
    // Explicitly on, so that even NODE_TLS_REJECT_UNAUTHORIZED=0 cannot turn it off.
    rejectUnauthorized: true,
    ...(gateway.caFile === undefined ? {} : { ca: [...caCertificates(gateway.caFile)] }),
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
interface AnswerReader<T> {
  /** Takes the next chunk; false when nothing more is wanted (the rest is not read). Throws to refuse the answer. */
  take(chunk: Buffer): boolean;
  /** The answer was read to its end, or as far as wanted: the result. Throws to refuse the answer. */
  end(): T;
}

/** One HTTP request to the Pushgateway, and how to read its answer. */
interface Exchange<T> {
  readonly gateway: Gateway;
  readonly method: 'GET' | 'PUT' | 'DELETE';
  /** The request's URL, below `gateway.url`; a user name or password in it is never sent in the request line. */
  readonly target: URL;
  readonly headers?: http.OutgoingHttpHeaders;
  readonly body?: Buffer;
  /** From connect to the last byte read of the answer. */
  readonly timeoutMs: number;
  /** What was asked, for messages: `${asked} Pushgateway <url> failed: …` (e.g. "push to"). */
  readonly asked: string;
  /** After the status of a refused answer: `Pushgateway <url> answered HTTP 500${toWhat}`; "" for a push. */
  readonly toWhat: string;
  /** Whether the answer's status means the request reached its goal. */
  readonly done: (status: number) => boolean;
  /** Reads an answer whose status is done, from its headers on; throws to refuse it. */
  readonly read: (answer: http.IncomingMessage) => AnswerReader<T>;
}

const isSuccess = (status: number) => status >= 200 && status < 300;

/** Reads at most the start of an answer that says nothing a caller needs, and gives its status. */
function statusOnly(answer: http.IncomingMessage): AnswerReader<number> {
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
 * PushError naming the Pushgateway (no credential in it, at most
 * MAX_TEXT_CHARS of its answer) otherwise, or with a ConfigError when the CA
 * file is unusable. An https server's certificate is always verified. The one
 * place that sends credentials, applies the CA file and reads an answer.
 */
function exchange<T>(request: Exchange<T>): Promise<T> {
  const { gateway } = request;
  const where = displayUrl(gateway.url);
  const target = new URL(displayUrl(request.target));
  const headers: http.OutgoingHttpHeaders = { ...request.headers };
  if (request.body !== undefined) headers['content-length'] = request.body.length;
  const { header, what } = credentials(gateway);
  if (header !== undefined) headers.authorization = header;
  const secrets = credentialForms(gateway.url, gateway.auth).sort((a, b) => b.length - a.length);
  const scrub = (text: string) => redact(text, secrets);

  return new Promise<T>((resolve, reject) => {
    // Throws (so rejects) a ConfigError when the CA file is unusable, before connecting.
    const options = { method: request.method, headers, ...tlsOptions(gateway, where) };
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
                `${request.asked} Pushgateway ${where} failed: ` +
                  clip(networkReason(error, gateway.caFile)),
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
            status === 401 ? ` (unauthorized: ${what})` : status === 403 ? ' (forbidden)' : '';
          fail(
            new PushError(
              scrub(
                `Pushgateway ${where} answered HTTP ${status}${request.toWhat}${reason}` +
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

/**
 * Replaces the group (HTTP PUT) with `body`, once. Resolves with the HTTP
 * status on a 2xx answer; rejects with a PushError naming the Pushgateway
 * otherwise (no credentials in it, at most MAX_TEXT_CHARS of its answer), or
 * with a ConfigError when `caFile` is unusable. An https server's
 * certificate is always verified.
 */
export function push(request: PushRequest): Promise<number> {
  return exchange({
    gateway: request,
    method: 'PUT',
    target: groupingUrl(request.url, request.job, request.labels),
    headers: { 'content-type': EXPOSITION_CONTENT_TYPE },
    body: Buffer.from(request.body, 'utf8'),
    timeoutMs: request.timeoutMs,
    asked: 'push to',
    toWhat: '',
    done: isSuccess,
    read: statusOnly,
  });
}

/** A push failure that another attempt may get past: no answer, 5xx, or 429; not a bad certificate. */
export function retryablePush(error: unknown): boolean {
  // A certificate refused now is refused on every attempt.
  if (!(error instanceof PushError) || isCertificateError(error)) return false;
  return error.status === undefined || error.status >= 500 || error.status === 429;
}

/**
 * `attempt` until it succeeds, retried on no answer, 5xx or 429 (never on
 * another 4xx or a refused certificate), every attempt and pause within
 * `timeoutMs` and before `deadline`: an outage of the Pushgateway costs no
 * more than PUSHGATEWAY_TIMEOUT_MS.
 */
function retried<T>(
  bound: { readonly timeoutMs: number; readonly deadline: number },
  attempt: (timeoutMs: number) => Promise<T>,
): Promise<T> {
  const deadline = Math.min(bound.deadline, Date.now() + bound.timeoutMs);
  return retry(attempt, { deadline, retryable: retryablePush });
}

export interface Delivery extends Gateway {
  readonly key: GroupingKey;
  readonly body: string;
  /**
   * The whole push, every attempt and every pause between them, ends within
   * this (PUSHGATEWAY_TIMEOUT_MS), and before `deadline`.
   */
  readonly timeoutMs: number;
  readonly deadline: number;
}

/**
 * Replaces the group of `key` with `body`: attempts are retried on no answer,
 * 5xx or 429 (never on another 4xx or a refused certificate), all within
 * `timeoutMs` and the run's deadline, so an outage of the Pushgateway costs a
 * run no more than PUSHGATEWAY_TIMEOUT_MS.
 */
export async function deliver(delivery: Delivery): Promise<void> {
  await retried(delivery, (timeoutMs) =>
    push({
      url: delivery.url,
      job: delivery.key.job,
      labels: delivery.key.labels,
      body: delivery.body,
      timeoutMs,
      auth: delivery.auth,
      caFile: delivery.caFile,
    }),
  );
}

/** A grouping key for messages: `{job="…",instance="…",…}`, its values escaped, at most a few hundred characters. */
function describeGroup(key: GroupingKey): string {
  const labels = [['job', key.job], ...Object.entries(key.labels)];
  return clip(
    `{${labels.map(([name, value]) => `${name}=${JSON.stringify(value)}`).join(',')}}`,
    300,
  );
}

export interface GroupDeletion extends Gateway {
  /** The group's whole label set: the Pushgateway deletes the group of exactly this key. */
  readonly key: GroupingKey;
  /** Every attempt and every pause between them ends within this, and before `deadline`. */
  readonly timeoutMs: number;
  readonly deadline: number;
}

/**
 * Deletes the group of `key` (HTTP DELETE on its grouping path), retried as
 * a push is. The Pushgateway deletes the one group whose label set is
 * exactly the key's (there is no wildcard), and answers 202 whether or not
 * it held one. A 404 (a proxy, or a Pushgateway that says "no such group")
 * is success too: the goal, no such group, is reached. A 404 for every path
 * (a wrong URL prefix) cannot hide a failure here: listGroups and every
 * push against that URL fail first.
 */
export async function deleteGroup(request: GroupDeletion): Promise<void> {
  const group = describeGroup(request.key);
  await retried(request, (timeoutMs) =>
    exchange({
      gateway: request,
      method: 'DELETE',
      target: groupingUrl(request.url, request.key.job, request.key.labels),
      timeoutMs,
      asked: `deleting group ${group} from`,
      toWhat: ` to the delete of group ${group}`,
      done: (status) => isSuccess(status) || status === 404,
      read: statusOnly,
    }),
  );
}

/**
 * The grouping label set of one group the Pushgateway holds, `job`
 * included: what its `push_time_seconds` series carries.
 */
export type GroupLabels = Readonly<Record<string, string>>;

/** Most groups listGroups accepts: a Pushgateway with more is past any use this exporter sizes for. */
export const MAX_LISTED_GROUPS = 100_000;

/**
 * Longest line of the exposition listGroups accepts. The Pushgateway's lines
 * are a series each (this exporter's longest label value is a 200-character
 * query); a line of a megabyte is not its exposition, or not one to trust.
 */
export const MAX_EXPOSITION_LINE_BYTES = 1024 * 1024;

/** The line start of every group's `push_time_seconds` series. */
const PUSH_TIME_PREFIX = 'push_time_seconds{';
const PUSH_TIME_BYTES = Buffer.from(PUSH_TIME_PREFIX, 'latin1');
const NEWLINE = 0x0a;
const LABEL_NAME = /[a-zA-Z_][a-zA-Z0-9_]*/y;
const QUOTE_OR_ESCAPE = /["\\]/g;

/**
 * The grouping labels of one `push_time_seconds{…} <value>` line as the
 * Pushgateway writes it: `name="value"` pairs, separated by commas, values
 * with the exposition's escapes (`\\`, `\"`, `\n`) and any other character as
 * is. Throws on anything else (no partial list of groups is ever taken for a
 * whole one). An empty `instance` is left out: the Pushgateway adds
 * `instance=""` to the series of every group that has none, so in the
 * exposition a group without an instance and one with an empty instance look
 * alike (they cannot both exist: their series would collide), and the group
 * without one is what this exporter pushes (the fleet's self-metrics).
 */
export function parseGroupLine(line: string): GroupLabels {
  const malformed = (why: string) =>
    new Error(`malformed push_time_seconds line (${why}): ${clip(JSON.stringify(line), 200)}`);
  if (!line.startsWith(PUSH_TIME_PREFIX)) throw malformed('not a push_time_seconds series');
  const labels = new Map<string, string>();
  let at = PUSH_TIME_PREFIX.length;
  while (line[at] !== '}') {
    LABEL_NAME.lastIndex = at;
    const name = LABEL_NAME.exec(line)?.[0];
    if (name === undefined) throw malformed(`a label name expected at character ${at}`);
    at += name.length;
    if (line[at] !== '=' || line[at + 1] !== '"') throw malformed(`="…" expected after ${name}`);
    at += 2;
    let value = '';
    for (;;) {
      QUOTE_OR_ESCAPE.lastIndex = at;
      const stop = QUOTE_OR_ESCAPE.exec(line);
      if (stop === null) throw malformed(`the value of ${name} does not end`);
      value += line.slice(at, stop.index);
      at = stop.index + 1;
      if (stop[0] === '"') break;
      const escaped = line[at];
      if (escaped === '\\' || escaped === '"') value += escaped;
      else if (escaped === 'n') value += '\n';
      else throw malformed(`an invalid escape in the value of ${name}`);
      at += 1;
    }
    if (labels.has(name)) throw malformed(`${name} twice`);
    labels.set(name, value);
    if (line[at] === ',') at += 1;
    else if (line[at] !== '}') throw malformed(`, or } expected after the value of ${name}`);
  }
  const after = line[at + 1];
  if (after !== ' ' && after !== '\t') throw malformed('a value expected after the labels');
  if (!labels.has('job')) throw malformed('no job label');
  if (labels.get('instance') === '') labels.delete('instance');
  // fromEntries defines every name as an own property, even "__proto__".
  return Object.fromEntries(labels);
}

/**
 * Finds the groups in an exposition read in chunks of any size: splits it
 * into lines (on the byte '\n', which never occurs inside a UTF-8 sequence),
 * keeps only `push_time_seconds` lines and parses them. Holds at most one
 * line, so a body of hundreds of megabytes costs the memory of its groups.
 */
export class GroupScanner implements AnswerReader<GroupLabels[]> {
  readonly #groups: GroupLabels[] = [];
  /** The start of the line being read, until its end arrives. */
  #held: Buffer[] = [];
  #heldBytes = 0;
  #lines = 0;

  constructor(
    private readonly maxGroups = MAX_LISTED_GROUPS,
    private readonly maxLineBytes = MAX_EXPOSITION_LINE_BYTES,
  ) {}

  /** Takes the next chunk; throws on a line too long, a group too many or a malformed group. */
  take(chunk: Buffer): boolean {
    let start = 0;
    for (let end = chunk.indexOf(NEWLINE); end >= 0; end = chunk.indexOf(NEWLINE, start)) {
      this.#line(chunk.subarray(start, end));
      start = end + 1;
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      this.#heldBytes += rest.length;
      this.#checkLength(this.#heldBytes);
      this.#held.push(rest);
    }
    return true;
  }

  /** The groups found; a last line without its newline is taken as a line. */
  end(): GroupLabels[] {
    if (this.#heldBytes > 0) this.#line(Buffer.alloc(0));
    return this.#groups;
  }

  #checkLength(bytes: number): void {
    if (bytes > this.maxLineBytes) {
      throw new Error(
        `line ${this.#lines + 1} is longer than ${this.maxLineBytes} bytes: ` +
          'not the exposition of a Pushgateway',
      );
    }
  }

  #line(end: Buffer): void {
    this.#lines += 1;
    let line = end;
    if (this.#held.length > 0) {
      this.#checkLength(this.#heldBytes + end.length);
      line = Buffer.concat([...this.#held, end]);
      this.#held = [];
      this.#heldBytes = 0;
    } else {
      this.#checkLength(end.length);
    }
    const isGroup =
      line.length > PUSH_TIME_BYTES.length &&
      line.compare(PUSH_TIME_BYTES, 0, PUSH_TIME_BYTES.length, 0, PUSH_TIME_BYTES.length) === 0;
    if (!isGroup) return;
    if (this.#groups.length >= this.maxGroups) {
      throw new Error(
        `more than ${this.maxGroups} groups: spread the fleet over several Pushgateways`,
      );
    }
    try {
      this.#groups.push(parseGroupLine(line.toString('utf8')));
    } catch (error) {
      throw new Error(`line ${this.#lines}: ${errorMessage(error)}`, { cause: error });
    }
  }
}

/** Refuses an answer that is not the plain text exposition (an HTML login page, JSON, protobuf, gzip). */
function checkExposition(answer: http.IncomingMessage): void {
  const type = answer.headers['content-type'] ?? '';
  if (!/^text\/plain\s*(;|$)/i.test(type)) {
    throw new Error(
      `answered ${type === '' ? 'no content type' : JSON.stringify(clip(type, 100))} ` +
        'rather than the text exposition (text/plain)',
    );
  }
  const encoding = answer.headers['content-encoding'] ?? 'identity';
  if (encoding.toLowerCase() !== 'identity') {
    throw new Error(
      `answered in the ${JSON.stringify(clip(encoding, 100))} encoding, not asked for`,
    );
  }
}

export interface GroupListing extends Gateway {
  /** The whole listing, from connect to the last byte of the exposition. */
  readonly timeoutMs: number;
  /** Most groups accepted; default and upper bound MAX_LISTED_GROUPS. */
  readonly maxGroups?: number;
}

/**
 * The grouping label sets of every group the Pushgateway holds (its own
 * metrics are in no group), from GET /metrics: the text exposition, in which
 * every group has one `push_time_seconds` series whose labels are its
 * grouping labels (a pushed `push_time_seconds` is dropped by the
 * Pushgateway, so no push can forge one; a failed push leaves a group too,
 * with the value 0). Read as a stream, line by line, keeping only those
 * lines: GET /api/v1/metrics (JSON) holds the same in one document a quarter
 * larger that would need a streaming JSON parser. One attempt, within
 * `timeoutMs` (a listing is big; a caller tries again on its next run);
 * rejects with a PushError naming the Pushgateway, never a credential.
 */
export function listGroups(request: GroupListing): Promise<GroupLabels[]> {
  const maxGroups = Math.min(request.maxGroups ?? MAX_LISTED_GROUPS, MAX_LISTED_GROUPS);
  return exchange({
    gateway: request,
    method: 'GET',
    target: below(request.url, 'metrics'),
    headers: { accept: 'text/plain; version=0.0.4', 'accept-encoding': 'identity' },
    timeoutMs: request.timeoutMs,
    asked: 'listing the groups of',
    toWhat: ' to GET /metrics',
    done: isSuccess,
    read: (answer) => {
      checkExposition(answer);
      return new GroupScanner(maxGroups);
    },
  });
}
