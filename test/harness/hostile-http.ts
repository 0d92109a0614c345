/**
 * A hostile Pushgateway for fault tests: a node:http server on 127.0.0.1 that
 * answers every request with the status chosen and a body that is a short
 * text, a stream of `bytes` bytes or an endless stream (written in chunks,
 * waiting for 'drain', so a client that buffers the whole answer would see
 * hundreds of MB), or the request's own headers (to check that echoed
 * credentials are redacted). It records each request, and for each response how
 * many body bytes were written and whether the client closed the connection
 * before the end.
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import { listenOnLoopback } from './ports.js';

export type HostileHttpBody =
  /** This text (Content-Length set). */
  | { readonly text: string }
  /** `bytes` bytes of 'x' (Content-Length set), in chunks of `chunkBytes`. */
  | { readonly bytes: number; readonly chunkBytes?: number }
  /** 'x' without end (chunked transfer encoding) until the client goes away. */
  | { readonly endlessBytes: true; readonly chunkBytes?: number };

export interface HostileHttpOptions {
  /** The status of every answer; default 500. */
  readonly status?: number;
  /** The body of every answer; default empty text. Not with `echoHeaders`. */
  readonly body?: HostileHttpBody;
  /** The body is the request's headers as sent, one `Name: value` line each. */
  readonly echoHeaders?: boolean;
  /** Response headers added to every answer (e.g. content-type). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Wait this long after the request's body has been read before answering. */
  readonly delayMs?: number;
}

export interface HostileHttpRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  /** The request body (as UTF-8). */
  readonly body: string;
}

export interface HostileHttpResponse {
  /** The status sent (0 while the answer is delayed and nothing was sent). */
  status: number;
  /** Body bytes passed to res.write/end, counted until the connection closed. */
  bytesWritten: number;
  /** The whole response was handed to the OS ('finish'). */
  finished: boolean;
  /** The connection closed before 'finish': the client went away early. */
  closedEarly: boolean;
  /** The response is over, finished or not ('close'). */
  closed: boolean;
}

export interface HostileHttpStats {
  /** TCP connections accepted so far. */
  connections: number;
  /** Connections open right now. */
  open: number;
  /** Every request received, in order. */
  readonly requests: HostileHttpRequest[];
  /** The response to requests[i] is responses[i]. */
  readonly responses: HostileHttpResponse[];
}

export interface HostileHttp {
  readonly host: string;
  readonly port: number;
  /** http://127.0.0.1:<port> */
  readonly url: string;
  readonly stats: HostileHttpStats;
  /** Closes the server and every open connection; safe to call again. */
  stop(): Promise<void>;
}

const DEFAULT_CHUNK = 64 * 1024;

/** The request's headers as the client sent them, `Name: value` per line. */
function headerText(req: http.IncomingMessage): string {
  const lines: string[] = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    lines.push(`${req.rawHeaders[i]!}: ${req.rawHeaders[i + 1]!}`);
  }
  return lines.join('\n') + '\n';
}

export async function startHostileHttp(options: HostileHttpOptions = {}): Promise<HostileHttp> {
  if (options.echoHeaders === true && options.body !== undefined)
    throw new TypeError('startHostileHttp: body and echoHeaders exclude each other');
  const body = options.body ?? { text: '' };
  const chunkBytes = 'text' in body ? 0 : (body.chunkBytes ?? DEFAULT_CHUNK);
  if ('bytes' in body && (!Number.isInteger(body.bytes) || body.bytes < 0))
    throw new RangeError(`bytes must be a non-negative integer, not ${body.bytes}`);
  if (!('text' in body) && (!Number.isInteger(chunkBytes) || chunkBytes < 1))
    throw new RangeError(`chunkBytes must be a positive integer, not ${chunkBytes}`);
  const chunk = Buffer.alloc(chunkBytes, 'x');
  const status = options.status ?? 500;

  const stats: HostileHttpStats = { connections: 0, open: 0, requests: [], responses: [] };
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const answer = (req: http.IncomingMessage, res: http.ServerResponse, r: HostileHttpResponse) => {
    if (r.closed) return; // gone during the delay
    r.status = status;
    res.statusCode = status;
    for (const [name, value] of Object.entries(options.headers ?? {})) res.setHeader(name, value);

    const text =
      options.echoHeaders === true ? headerText(req) : 'text' in body ? body.text : undefined;
    if (text !== undefined) {
      const data = Buffer.from(text, 'utf8');
      res.setHeader('content-length', data.length);
      r.bytesWritten += data.length;
      res.end(data);
      return;
    }

    let remaining = 'bytes' in body ? body.bytes : Infinity;
    if ('bytes' in body) res.setHeader('content-length', body.bytes);
    const pump = () => {
      while (!r.closed) {
        if (remaining === 0) {
          res.end();
          return;
        }
        const n = Math.min(chunk.length, remaining);
        const more = res.write(n === chunk.length ? chunk : chunk.subarray(0, n));
        r.bytesWritten += n;
        remaining -= n;
        if (!more) {
          res.once('drain', pump);
          return;
        }
      }
    };
    pump();
  };

  const server = http.createServer((req, res) => {
    const r: HostileHttpResponse = {
      status: 0,
      bytesWritten: 0,
      finished: false,
      closedEarly: false,
      closed: false,
    };
    res.on('finish', () => {
      r.finished = true;
    });
    res.on('close', () => {
      r.closed = true;
      if (!r.finished) r.closedEarly = true;
    });
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      stats.requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      stats.responses.push(r);
      if (options.delayMs === undefined || options.delayMs <= 0) {
        answer(req, res, r);
        return;
      }
      const timer = setTimeout(() => {
        timers.delete(timer);
        answer(req, res, r);
      }, options.delayMs);
      timers.add(timer);
    });
  });
  server.on('connection', (socket: Socket) => {
    stats.connections++;
    stats.open++;
    sockets.add(socket);
    socket.on('close', () => {
      stats.open--;
      sockets.delete(socket);
    });
  });
  server.on('clientError', (_error, socket) => {
    socket.destroy();
  });

  const port = await listenOnLoopback(server);

  let stopped: Promise<void> | undefined;
  return {
    host: '127.0.0.1',
    port,
    url: `http://127.0.0.1:${port}`,
    stats,
    stop() {
      stopped ??= (async () => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        const closed = new Promise<void>((resolve) =>
          server.close(() => {
            resolve();
          }),
        );
        const gone = [...sockets].map(
          (socket) =>
            new Promise<void>((resolve) =>
              socket.once('close', () => {
                resolve();
              }),
            ),
        );
        server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
        await Promise.all([closed, ...gone]);
      })();
      return stopped;
    },
  };
}
