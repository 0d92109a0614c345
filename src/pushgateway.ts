import http from 'node:http';
import https from 'node:https';
import { PushError, errorMessage } from './errors.js';

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

export interface PushRequest {
  readonly url: URL;
  readonly job: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly body: string;
  /** Deadline for the whole request, from connect to the last byte of the answer. */
  readonly timeoutMs: number;
}

/**
 * Replaces the group (HTTP PUT) with `body`. Resolves with the HTTP status on
 * a 2xx answer; rejects with a PushError naming the Pushgateway otherwise.
 */
export function push(request: PushRequest): Promise<number> {
  const url = groupingUrl(request.url, request.job, request.labels);
  const where = displayUrl(request.url);
  const target = new URL(displayUrl(url));
  const transport = url.protocol === 'https:' ? https : http;
  const body = Buffer.from(request.body, 'utf8');
  const headers: http.OutgoingHttpHeaders = {
    'content-type': EXPOSITION_CONTENT_TYPE,
    'content-length': body.length,
  };
  if (url.username !== '' || url.password !== '') {
    const user = decodeURIComponent(url.username);
    const pass = decodeURIComponent(url.password);
    headers.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
  }

  return new Promise((resolve, reject) => {
    const req = transport.request(target, { method: 'PUT', headers });
    const timer = setTimeout(() => {
      req.destroy(new Error(`no answer within ${request.timeoutMs} ms`));
    }, request.timeoutMs);
    const fail = (error: unknown, status?: number) => {
      clearTimeout(timer);
      reject(
        error instanceof PushError
          ? error
          : new PushError(`push to Pushgateway ${where} failed: ${errorMessage(error)}`, status, {
              cause: error,
            }),
      );
    };
    req.on('error', fail);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', fail);
      res.on('end', () => {
        clearTimeout(timer);
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) {
          resolve(status);
          return;
        }
        const answer = Buffer.concat(chunks).toString('utf8').trim().slice(0, 500);
        fail(
          new PushError(
            `Pushgateway ${where} answered HTTP ${status}${answer === '' ? '' : `: ${answer}`}`,
            status,
          ),
        );
      });
    });
    req.end(body);
  });
}
