/**
 * A hostile PostgreSQL server for fault tests: a TCP server on 127.0.0.1 that
 * speaks just enough of the v3 wire protocol to hurt a client. It answers an
 * SSLRequest or GSSENCRequest with 'N' (no encryption), reads the real
 * StartupMessage, and then, by the mode chosen:
 *
 * - `errorOnStartup`: a FATAL ErrorResponse whose message is `bytes` bytes
 *   long, then closes the connection (a server that floods the client's logs);
 * - `acceptThenErrorOnQuery`: AuthenticationOk, some ParameterStatus,
 *   BackendKeyData and ReadyForQuery, then an ErrorResponse of `bytes` bytes
 *   (and ReadyForQuery) for every query, simple or extended;
 * - `silentAfterStartup`: never answers the StartupMessage (a server that hangs).
 *
 * Framing (protocol docs, "Message Formats"): a message is a type byte, an
 * int32 length that counts itself but not the type byte, and the payload; the
 * startup packets have no type byte. ErrorResponse fields are (byte code,
 * cstring) pairs ending with a zero byte.
 */
import net from 'node:net';
import { listenOnLoopback } from './ports.js';

/** An ErrorResponse to send: its M field is exactly `bytes` bytes long (UTF-8). */
export interface HostileError {
  /** Length of the message (M field) in bytes, `prefix` included. */
  readonly bytes: number;
  /** SQLSTATE (C field): default 28000 on startup, XX000 on a query. */
  readonly code?: string;
  /** The start of the message; the rest is 'x' up to `bytes`. No zero byte. */
  readonly prefix?: string;
}

export type HostilePostgresOptions =
  | {
      readonly errorOnStartup: HostileError;
      readonly acceptThenErrorOnQuery?: never;
      readonly silentAfterStartup?: never;
    }
  | {
      readonly acceptThenErrorOnQuery: HostileError;
      readonly errorOnStartup?: never;
      readonly silentAfterStartup?: never;
    }
  | {
      readonly silentAfterStartup: true;
      readonly errorOnStartup?: never;
      readonly acceptThenErrorOnQuery?: never;
    };

export interface HostilePostgresStats {
  /** TCP connections accepted so far. */
  connections: number;
  /** Connections open right now. */
  open: number;
  /** Bytes handed to the sockets (queued for sending), all connections together. */
  bytesSent: number;
  /** Bytes read from the clients, all connections together. */
  bytesReceived: number;
  /** SSLRequests answered with 'N'. */
  sslRequests: number;
  /** GSSENCRequests answered with 'N'. */
  gssEncRequests: number;
  /** The parameters (user, database, ...) of each StartupMessage read. */
  startups: Record<string, string>[];
  /** ErrorResponses sent for queries (acceptThenErrorOnQuery). */
  queryErrors: number;
  /** Simple Query ('Q') messages read. */
  simpleQueries: number;
  /** Parse ('P') messages read. */
  parses: number;
}

export interface HostilePostgres {
  readonly host: string;
  readonly port: number;
  readonly stats: HostilePostgresStats;
  /** Closes the server and destroys every open socket; safe to call again. */
  stop(): Promise<void>;
}

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
/** Bigger packets from a client are a bug here (or an attack on the harness). */
const MAX_CLIENT_PACKET = 16 * 1024 * 1024;

/** A backend message: type byte, int32 length (payload + 4), payload. */
export function message(type: string, payload: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, 1, 'latin1');
  header.writeInt32BE(payload.length + 4, 1);
  return Buffer.concat([header, payload]);
}

const cstring = (s: string) => Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]);

const int32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};

/** The M field of `spec`: `prefix` then 'x' up to exactly `bytes` bytes. */
export function errorText(spec: HostileError): string {
  const prefix = spec.prefix ?? '';
  const prefixBytes = Buffer.byteLength(prefix, 'utf8');
  if (!Number.isInteger(spec.bytes) || spec.bytes < 0)
    throw new RangeError(`bytes must be a non-negative integer, not ${spec.bytes}`);
  if (prefixBytes > spec.bytes)
    throw new RangeError(`prefix is ${prefixBytes} bytes, more than bytes=${spec.bytes}`);
  if (prefix.includes('\0')) throw new RangeError('prefix must not contain a zero byte');
  return prefix + 'x'.repeat(spec.bytes - prefixBytes);
}

/** An ErrorResponse ('E'): (code byte, cstring) fields, then a zero byte. */
export function errorResponse(fields: Record<string, string>): Buffer {
  const parts: Buffer[] = [];
  for (const [code, value] of Object.entries(fields)) {
    parts.push(Buffer.from(code, 'latin1').subarray(0, 1), cstring(value));
  }
  parts.push(Buffer.from([0]));
  return message('E', Buffer.concat(parts));
}

const PARAMETERS: readonly (readonly [string, string])[] = [
  ['server_version', '15.0'],
  ['server_encoding', 'UTF8'],
  ['client_encoding', 'UTF8'],
  ['standard_conforming_strings', 'on'],
  ['integer_datetimes', 'on'],
  ['DateStyle', 'ISO, MDY'],
];

/** ReadyForQuery, idle (no transaction). */
const readyForQuery = message('Z', Buffer.from('I', 'latin1'));

/** What a server says after authentication up to its first ReadyForQuery. */
function welcome(): Buffer {
  return Buffer.concat([
    message('R', int32(0)), // AuthenticationOk
    ...PARAMETERS.map(([k, v]) => message('S', Buffer.concat([cstring(k), cstring(v)]))),
    message('K', Buffer.concat([int32(4242), int32(0x5eed)])), // BackendKeyData
    readyForQuery,
  ]);
}

/** The key/value pairs of a StartupMessage payload after its protocol version. */
function startupParameters(body: Buffer): Record<string, string> {
  const parameters: Record<string, string> = {};
  const strings = body.toString('utf8').split('\0');
  for (let i = 0; i + 1 < strings.length; i += 2) {
    const key = strings[i]!;
    if (key === '') break;
    parameters[key] = strings[i + 1]!;
  }
  return parameters;
}

export async function startHostilePostgres(
  options: HostilePostgresOptions,
): Promise<HostilePostgres> {
  const modes = [
    options.errorOnStartup,
    options.acceptThenErrorOnQuery,
    options.silentAfterStartup,
  ].filter((m) => m !== undefined);
  if (modes.length !== 1)
    throw new TypeError(
      'startHostilePostgres: give exactly one of errorOnStartup, acceptThenErrorOnQuery, silentAfterStartup',
    );

  // Built once: a 1 MB error is not rebuilt for every connection.
  const startupError =
    options.errorOnStartup === undefined
      ? undefined
      : errorResponse({
          S: 'FATAL',
          V: 'FATAL',
          C: options.errorOnStartup.code ?? '28000',
          M: errorText(options.errorOnStartup),
        });
  const queryError =
    options.acceptThenErrorOnQuery === undefined
      ? undefined
      : errorResponse({
          S: 'ERROR',
          V: 'ERROR',
          C: options.acceptThenErrorOnQuery.code ?? 'XX000',
          M: errorText(options.acceptThenErrorOnQuery),
        });

  const stats: HostilePostgresStats = {
    connections: 0,
    open: 0,
    bytesSent: 0,
    bytesReceived: 0,
    sslRequests: 0,
    gssEncRequests: 0,
    startups: [],
    queryErrors: 0,
    simpleQueries: 0,
    parses: 0,
  };
  const sockets = new Set<net.Socket>();

  const server = net.createServer((socket) => {
    stats.connections++;
    stats.open++;
    sockets.add(socket);
    socket.on('error', () => {
      // ECONNRESET and the like: the client is allowed to go away.
    });
    socket.on('close', () => {
      stats.open--;
      sockets.delete(socket);
    });

    const send = (data: Buffer) => {
      if (socket.destroyed || socket.writableEnded) return;
      stats.bytesSent += data.length;
      socket.write(data);
    };

    let pending: Buffer = Buffer.alloc(0);
    let phase: 'startup' | 'ready' | 'silent' | 'done' = 'startup';
    /** Extended protocol: after an error, messages are skipped up to the next Sync. */
    let skipToSync = false;

    const onStartupPacket = (code: number, body: Buffer) => {
      if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
        if (code === SSL_REQUEST) stats.sslRequests++;
        else stats.gssEncRequests++;
        send(Buffer.from('N', 'latin1'));
        return; // the real StartupMessage follows
      }
      if (code === CANCEL_REQUEST) {
        phase = 'done';
        socket.end();
        return;
      }
      if (code >> 16 !== 3) {
        phase = 'done';
        socket.destroy();
        return;
      }
      stats.startups.push(startupParameters(body));
      if (startupError !== undefined) {
        phase = 'done';
        send(startupError);
        socket.end();
      } else if (queryError !== undefined) {
        phase = 'ready';
        send(welcome());
      } else {
        phase = 'silent';
      }
    };

    /** The first extended-protocol message fails; the rest wait for Sync. */
    const failExtended = () => {
      if (skipToSync) return;
      skipToSync = true;
      stats.queryErrors++;
      send(queryError!);
    };

    const onMessage = (type: string) => {
      switch (type) {
        case 'Q':
          stats.simpleQueries++;
          if (skipToSync) return; // a real server skips it too
          stats.queryErrors++;
          send(queryError!);
          send(readyForQuery);
          return;
        case 'S': // Sync
          skipToSync = false;
          send(readyForQuery);
          return;
        case 'H': // Flush
          return;
        case 'X': // Terminate
          phase = 'done';
          socket.end();
          return;
        case 'P':
          stats.parses++;
          failExtended();
          return;
        default: // Bind, Describe, Execute, Close: each fails as Parse does
          failExtended();
      }
    };

    socket.on('data', (chunk: Buffer) => {
      stats.bytesReceived += chunk.length;
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      for (;;) {
        if (phase === 'startup') {
          if (pending.length < 8) return;
          const length = pending.readInt32BE(0);
          if (length < 8 || length > MAX_CLIENT_PACKET) {
            phase = 'done';
            socket.destroy();
            return;
          }
          if (pending.length < length) return;
          const code = pending.readInt32BE(4);
          const body = pending.subarray(8, length);
          pending = pending.subarray(length);
          onStartupPacket(code, body);
        } else if (phase === 'ready') {
          if (pending.length < 5) return;
          const length = pending.readInt32BE(1);
          if (length < 4 || length > MAX_CLIENT_PACKET) {
            phase = 'done';
            socket.destroy();
            return;
          }
          if (pending.length < length + 1) return;
          const type = String.fromCharCode(pending[0]!);
          pending = pending.subarray(length + 1);
          onMessage(type);
        } else {
          pending = Buffer.alloc(0); // silent or done: what comes in is dropped
          return;
        }
      }
    });
  });

  const port = await listenOnLoopback(server);

  let stopped: Promise<void> | undefined;
  return {
    host: '127.0.0.1',
    port,
    stats,
    stop() {
      stopped ??= (async () => {
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
        for (const socket of sockets) socket.destroy();
        await Promise.all([closed, ...gone]);
      })();
      return stopped;
    },
  };
}
