/**
 * A remote-write receiver for unit tests: a node:http (or node:https) server
 * on 127.0.0.1 that keeps every request's raw bytes and headers and answers
 * as a test's script says (a status per request, a body, a delay). What was
 * sent is read back with protobufjs' own parser of src/prompb/remote.proto
 * and snappyjs' uncompress, never with the exporter's encoder. TLS
 * certificates are made with the openssl CLI, as the Pushgateway's TLS tests
 * make theirs.
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import protobuf from 'protobufjs';
import snappy from 'snappyjs';
import type { RemoteWriteConfig } from '../../src/config.js';
import { listenOnLoopback } from './ports.js';

export interface ReceivedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  /** Names and values as sent, alternating (node's rawHeaders). */
  readonly rawHeaders: readonly string[];
  readonly body: Buffer;
}

export interface ReceiverAnswer {
  readonly status: number;
  readonly body?: string;
  /** Wait this long after the request was read before answering. */
  readonly delayMs?: number;
}

export interface ReceiverOptions {
  /** The answer to the `index`th request (from 0); default 200 with no body. */
  readonly answer?: (index: number, request: ReceivedRequest) => ReceiverAnswer;
  /** Serve https with this certificate and key (PEM files). */
  readonly tls?: { readonly cert: string; readonly key: string };
}

export interface Receiver {
  /** http(s)://127.0.0.1:<port>/api/v1/write */
  readonly url: string;
  readonly requests: ReceivedRequest[];
  stop(): Promise<void>;
}

export async function startReceiver(options: ReceiverOptions = {}): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const request: ReceivedRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body: Buffer.concat(chunks),
      };
      const index = requests.length;
      requests.push(request);
      const answer = options.answer?.(index, request) ?? { status: 200 };
      const send = () => {
        if (res.destroyed) return;
        res.statusCode = answer.status;
        res.end(answer.body ?? '');
      };
      if (answer.delayMs === undefined) send();
      else {
        const timer = setTimeout(() => {
          timers.delete(timer);
          send();
        }, answer.delayMs);
        timers.add(timer);
      }
    });
  };
  const server =
    options.tls === undefined
      ? http.createServer(handler)
      : https.createServer(
          { cert: fs.readFileSync(options.tls.cert), key: fs.readFileSync(options.tls.key) },
          handler,
        );
  server.on(options.tls === undefined ? 'connection' : 'secureConnection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  // A client that refuses the certificate drops the connection: not a test failure.
  server.on('tlsClientError', () => undefined);
  const port = await listenOnLoopback(server);
  let stopped: Promise<void> | undefined;
  return {
    url: `${options.tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}/api/v1/write`,
    requests,
    stop() {
      stopped ??= (async () => {
        for (const timer of timers) clearTimeout(timer);
        const closed = new Promise<void>((resolve) =>
          server.close(() => {
            resolve();
          }),
        );
        server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
        await closed;
      })();
      return stopped;
    },
  };
}

const root = protobuf.loadSync('src/prompb/remote.proto');
const WRITE_REQUEST = root.lookupType('prometheus.WriteRequest');
// The same wire format with each sample's value read as its 64 bits (fixed64, wire type 1 as double).
const AS_BITS = root.lookupType('prometheus.StaleWriteRequest');

export interface DecodedSample {
  readonly value: number;
  readonly timestamp: number;
  /** The value's 64 bits, hex, e.g. 7ff0000000000002 for Prometheus' StaleNaN. */
  readonly bits: string;
}

export interface DecodedSeries {
  readonly labels: { readonly name: string; readonly value: string }[];
  readonly samples: DecodedSample[];
}

export interface DecodedWrite {
  readonly timeseries: DecodedSeries[];
  readonly metadata: {
    readonly type: string;
    readonly metricFamilyName: string;
    readonly help: string;
  }[];
}

interface RawSeries {
  labels?: { name: string; value: string }[];
  samples?: { value: number; timestamp: number }[];
}

/** A request body as a receiver reads it: snappy block format, then a WriteRequest. */
export function decodeWrite(body: Uint8Array): DecodedWrite {
  const raw = snappy.uncompress(body);
  const message = WRITE_REQUEST.toObject(WRITE_REQUEST.decode(raw), {
    longs: Number,
    enums: String,
    defaults: true,
    arrays: true,
  }) as { timeseries: RawSeries[]; metadata: DecodedWrite['metadata'] };
  const bits = AS_BITS.toObject(AS_BITS.decode(raw), { longs: String, arrays: true }) as {
    timeseries: { samples?: { value: string }[] }[];
  };
  return {
    timeseries: message.timeseries.map((series, i) => ({
      labels: series.labels ?? [],
      samples: (series.samples ?? []).map((sample, j) => ({
        value: sample.value,
        timestamp: sample.timestamp,
        bits: BigInt(bits.timeseries[i]?.samples?.[j]?.value ?? '0')
          .toString(16)
          .padStart(16, '0'),
      })),
    })),
    metadata: message.metadata,
  };
}

/** A series' labels as one object, `__name__` included. */
export function labelsOf(series: DecodedSeries): Record<string, string> {
  return Object.fromEntries(series.labels.map((l) => [l.name, l.value]));
}

/** Prometheus' staleness marker, value.StaleNaN. */
export const STALE_NAN_HEX = '7ff0000000000002';

/** A remote-write configuration for `url`: the defaults' bounds, no auth, 5 s to write. */
export function remoteWriteConfig(
  url: string,
  overrides: Partial<RemoteWriteConfig> = {},
): RemoteWriteConfig {
  return {
    url: new URL(url),
    timeoutMs: 5_000,
    auth: undefined,
    sigv4: undefined,
    caFile: undefined,
    headers: {},
    batchSamples: 2_000,
    ...overrides,
  };
}
