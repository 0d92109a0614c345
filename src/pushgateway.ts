/**
 * The only module that talks to the Pushgateway: a push is one PUT per
 * attempt, a stale group's removal one DELETE per attempt, both retried on no
 * answer, 5xx or 429 within one time bound; the list of groups is one GET of
 * its exposition, read as a stream. All three go through src/http.ts, so
 * credentials, TLS, time bounds and the redaction of answers are written once.
 */
import type http from 'node:http';
import { ENV } from './config.js';
import {
  exchange,
  isSuccess,
  retried,
  statusOnly,
  type AnswerReader,
  type Gateway,
  type Service,
} from './http.js';
import { errorMessage } from './errors.js';
import { clip } from './logger.js';
import { readCaBundle } from './pem.js';
import type { GroupingKey } from './target.js';

export {
  credentialForms,
  displayUrl,
  isCertificateError,
  retryablePush,
  type Gateway,
} from './http.js';

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

/** How the Pushgateway is configured, for messages that say what to set. */
const PUSHGATEWAY: Service = {
  name: 'Pushgateway',
  vars: {
    username: ENV.pushgatewayUsername,
    password: ENV.pushgatewayPassword,
    bearerToken: ENV.pushgatewayBearerToken,
    caFile: ENV.pushgatewayCaFile,
  },
};

export interface PushRequest extends Gateway {
  readonly job: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly body: string;
  /** Deadline for the request, from connect to the last byte of the answer. */
  readonly timeoutMs: number;
}

/** The certificates of PUSHGATEWAY_CA_FILE (see readCaBundle). */
export function caCertificates(file: string): readonly string[] {
  return readCaBundle(ENV.pushgatewayCaFile, file);
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
    service: PUSHGATEWAY,
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
      service: PUSHGATEWAY,
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
    service: PUSHGATEWAY,
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
