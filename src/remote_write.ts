/**
 * The only module that talks to a Prometheus remote-write receiver (remote
 * write 1.0: a protobuf WriteRequest, snappy-compressed, POSTed with the
 * X-Prometheus-Remote-Write-Version header). A run's rendered exposition is
 * read back into series (src/exposition.ts), its grouping labels added to
 * each, every sample stamped with the run's collection time, cut into
 * batches of at most REMOTE_WRITE_BATCH_SAMPLES, each batch retried on no
 * answer, 5xx or 429 only, all within REMOTE_WRITE_TIMEOUT_MS and the run's
 * deadline. Requests go through src/http.ts, like the Pushgateway's.
 *
 * Encoding is protobufjs's, by the code its pbjs generates from
 * src/prompb/remote.proto (`npm run prompb`), on its minimal runtime;
 * snappy's is snappyjs's block format.
 */
import type Long from 'long';
import snappy from 'snappyjs';
import { ENV, REMOTE_WRITE_VARS, type RemoteWriteConfig } from './config.js';
import { BUILD_VERSION } from './collectors/self.js';
import { PushError, describeError } from './errors.js';
import {
  eachSample,
  parseSample,
  type FamilyHeader,
  type MetricType,
  type ParsedSample,
} from './exposition.js';
import { displayUrl, exchange, isSuccess, retried, statusOnly, type Service } from './http.js';
import { clip } from './logger.js';
import { prometheus } from './prompb/remote.js';
import type { GroupingKey } from './target.js';

/** Remote write 1.0's version header value. */
export const REMOTE_WRITE_VERSION = '0.1.0';

const REMOTE_WRITE: Service = {
  name: 'remote write endpoint',
  vars: {
    username: REMOTE_WRITE_VARS.username,
    password: REMOTE_WRITE_VARS.password,
    bearerToken: REMOTE_WRITE_VARS.bearerToken,
    caFile: REMOTE_WRITE_VARS.caFile,
  },
};

/** Batches of one write sent at once: a receiver's parallelism, without a burst of a run's size. */
export const BATCHES_IN_FLIGHT = 4;

/**
 * Prometheus' staleness marker (value.StaleNaN, 0x7ff0000000000002): a
 * series that ends. As the fixed64 of its bits: protobufjs' writer takes
 * any `{ low, high }` for a 64-bit field (its own Long type is just that),
 * so the long library itself is never loaded twice for it.
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- see above
export const STALE_NAN_BITS = { low: 0x00000002, high: 0x7ff00000, unsigned: true } as Long;

const METADATA_TYPES: Readonly<Record<MetricType, number>> = {
  untyped: 0,
  counter: 1,
  gauge: 2,
  histogram: 3,
  summary: 5,
};

export interface Label {
  readonly name: string;
  readonly value: string;
}

export interface TimeSeries {
  readonly labels: Label[];
  readonly samples: { readonly value: number; readonly timestamp: number }[];
}

export interface Metadata {
  readonly type: number;
  readonly metricFamilyName: string;
  readonly help: string;
}

export interface WriteBatch {
  readonly timeseries: TimeSeries[];
  readonly metadata: Metadata[];
  /** Series that were in the target's previous write and are not in this one: marked stale. */
  readonly stale: Label[][];
  /** Every sample's timestamp, staleness markers' too, epoch ms. */
  readonly timestamp: number;
}

const byName = (a: Label, b: Label) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/**
 * The series of an exposition with the grouping labels (`job`, `instance`,
 * the extra ones) added, as the Pushgateway's scrape with honor_labels
 * would show them: a grouping label wins over a sample's label of the same
 * name, and an empty label value is no label. Labels sorted by name, as
 * remote write requires; one sample each, at `timestampMs`. Then, when
 * `previous` (the target's last written exposition) is given, a staleness
 * marker for each of its series this one no longer has. Handed to
 * `onBatch` in batches of at most `batchSamples` as each fills, so that a
 * caller never holds more than one batch of objects; a family's metadata
 * travels in the batch of its first series. At least one batch.
 */
export function eachWriteBatch(
  body: string,
  key: GroupingKey,
  timestampMs: number,
  batchSamples: number,
  previous: string | undefined,
  onBatch: (batch: WriteBatch) => void,
): void {
  const grouping: Label[] = [{ name: 'job', value: key.job }];
  for (const [name, value] of Object.entries(key.labels)) grouping.push({ name, value });
  const groupingNames = new Set(grouping.map((l) => l.name));
  const kept = grouping.filter((l) => l.value !== '');
  const labelsOf = (sample: ParsedSample): Label[] => {
    const labels: Label[] = [{ name: '__name__', value: sample.name }, ...kept];
    for (const [name, value] of sample.labels) {
      if (value !== '' && !groupingNames.has(name)) labels.push({ name, value });
    }
    return labels.sort(byName);
  };
  const timestamp = Math.round(timestampMs);
  let batch: WriteBatch = { timeseries: [], metadata: [], stale: [], timestamp };
  let sent = 0;
  const room = () => {
    if (batch.timeseries.length + batch.stale.length < batchSamples) return;
    onBatch(batch);
    sent += 1;
    batch = { timeseries: [], metadata: [], stale: [], timestamp };
  };
  // Only what staleness needs: this run's series, as written (slices of `body`).
  const current = previous === undefined ? undefined : new Set<string>();
  let family: FamilyHeader | undefined;
  eachSample(body, (sample, header) => {
    room();
    if (header !== family) {
      family = header;
      batch.metadata.push({
        type: METADATA_TYPES[header.type],
        metricFamilyName: header.name,
        help: header.help,
      });
    }
    current?.add(sample.series);
    batch.timeseries.push({
      labels: labelsOf(sample),
      samples: [{ value: sample.value, timestamp }],
    });
  });
  if (previous !== undefined && current !== undefined) {
    let number = 0;
    for (let start = 0; start < previous.length;) {
      let end = previous.indexOf('\n', start);
      if (end === -1) end = previous.length;
      const line = previous.slice(start, end);
      start = end + 1;
      number += 1;
      if (line === '' || line.charCodeAt(0) === 35 /* # */) continue;
      // The series part of the line, as eachSample cuts it: before the value, which has no space.
      if (current.has(line.slice(0, line.lastIndexOf(' ')))) continue;
      let gone: ParsedSample;
      try {
        gone = parseSample(line, number);
      } catch {
        // The last run was written, so it parsed: a line that does not is no series to end.
        continue;
      }
      room();
      batch.stale.push(labelsOf(gone));
    }
  }
  if (batch.timeseries.length + batch.stale.length > 0 || sent === 0) onBatch(batch);
}

/** The batches of eachWriteBatch, all at once (tests, small runs). */
export function toWriteBatches(
  body: string,
  key: GroupingKey,
  timestampMs: number,
  batchSamples: number,
  previous?: string,
): WriteBatch[] {
  const batches: WriteBatch[] = [];
  eachWriteBatch(body, key, timestampMs, batchSamples, previous, (batch) => batches.push(batch));
  return batches;
}

/** A batch as sent: the WriteRequest's protobuf, snappy-compressed. */
export function encodeBatch(batch: WriteBatch): { body: Buffer; rawBytes: number } {
  const fresh = prometheus.WriteRequest.encode({
    timeseries: batch.timeseries,
    metadata: batch.metadata,
  }).finish();
  let raw = fresh;
  if (batch.stale.length > 0) {
    // Two encoded messages one after the other are one message with both lists (protobuf's
    // merge of repeated fields): the stale series' samples, written as their bits, join the rest.
    const stale = prometheus.StaleWriteRequest.encode({
      timeseries: batch.stale.map((labels) => ({
        labels,
        samples: [{ value: STALE_NAN_BITS, timestamp: batch.timestamp }],
      })),
    }).finish();
    raw = Buffer.concat([fresh, stale]);
  }
  return { body: Buffer.from(snappy.compress(raw)), rawBytes: raw.length };
}

/** Signs a request with SigV4 for `aps`: the headers to send (authorization, x-amz-*, host). */
export type Sigv4Signer = (request: {
  readonly url: URL;
  readonly region: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}) => Promise<Record<string, string>>;

let defaultSigners:
  | Map<string, Promise<(r: Parameters<Sigv4Signer>[0]) => Promise<Record<string, string>>>>
  | undefined;

/**
 * The default signer: @smithy/signature-v4 with the default credential
 * chain (on Lambda, the function's role), one per region and process. The
 * SDK parts are loaded on first use, not with the function.
 */
export const sdkSigner: Sigv4Signer = async (request) => {
  defaultSigners ??= new Map();
  let made = defaultSigners.get(request.region);
  if (made === undefined) {
    made = (async () => {
      const [{ SignatureV4 }, { defaultProvider }, { Hash }] = await Promise.all([
        import('@smithy/signature-v4'),
        import('@aws-sdk/credential-provider-node'),
        import('@smithy/core/serde'),
      ]);
      const signer = new SignatureV4({
        credentials: defaultProvider(),
        region: request.region,
        service: 'aps',
        sha256: Hash.bind(null, 'sha256'),
      });
      return async (r: Parameters<Sigv4Signer>[0]) => {
        const signed = await signer.sign({
          method: 'POST',
          protocol: r.url.protocol,
          hostname: r.url.hostname,
          ...(r.url.port === '' ? {} : { port: Number(r.url.port) }),
          path: r.url.pathname,
          query: {},
          headers: { ...r.headers, host: r.url.host },
          body: r.body,
        });
        return signed.headers;
      };
    })();
    // A failed load is not kept: the next run tries again.
    made.catch(() => defaultSigners?.delete(request.region));
    defaultSigners.set(request.region, made);
  }
  return (await made)(request);
};

/** Most characters of written runs a process keeps for staleness markers, over all targets. */
export const MAX_WRITTEN_CHARS = 16 * 1024 * 1024;

/**
 * The last run each target wrote in full, in this process: the next write
 * marks stale what it no longer has, as Prometheus does for a scrape (a
 * collector that failed, a database dropped, every collector's series when
 * PostgreSQL is down). Bounded: past MAX_WRITTEN_CHARS the oldest targets
 * are forgotten, and their gone series end by Prometheus' lookback (5
 * minutes) instead. A cold process knows none.
 */
export class WrittenRuns {
  readonly #runs = new Map<string, string>();
  #chars = 0;

  constructor(private readonly maxChars = MAX_WRITTEN_CHARS) {}

  get(target: string): string | undefined {
    return this.#runs.get(target);
  }

  set(target: string, body: string): void {
    this.forget(target);
    if (body.length > this.maxChars) return;
    this.#runs.set(target, body);
    this.#chars += body.length;
    for (const [oldest, kept] of this.#runs) {
      if (this.#chars <= this.maxChars) break;
      this.#runs.delete(oldest);
      this.#chars -= kept.length;
    }
  }

  forget(target: string): void {
    const kept = this.#runs.get(target);
    if (kept === undefined) return;
    this.#runs.delete(target);
    this.#chars -= kept.length;
  }
}

/** This process's: a warm Lambda container's runs share it. */
export const processWrittenRuns = new WrittenRuns();

/** What one write sent. */
export interface WriteResult {
  /** Samples written, staleness markers included. */
  readonly samples: number;
  /** Of them, staleness markers: series of the target's previous write that this one ended. */
  readonly stale: number;
  readonly batches: number;
  /** Bytes sent: compressed protobuf. */
  readonly bytes: number;
}

export interface RemoteWriteDelivery {
  readonly config: RemoteWriteConfig;
  readonly key: GroupingKey;
  /** The run's rendered exposition. */
  readonly body: string;
  /** Every sample's timestamp, epoch ms: when the run collected. */
  readonly timestampMs: number;
  readonly deadline: number;
  /** SigV4 signing (default: sdkSigner). */
  readonly sign?: Sigv4Signer;
  /** The targets' last written runs, for staleness markers (default: this process's). */
  readonly written?: WrittenRuns;
}

/** Why a 4xx answer happened, when the receiver's text says so; appended to the error. */
function explain(status: number, said: string): string {
  if (status === 400 && /out of order|duplicate sample|too old|out of bounds/i.test(said)) {
    return (
      ' (a sample at or before one the receiver already has for the same series: another ' +
      'writer sends the same job and instance, or this function ran twice for one time; ' +
      'not retried)'
    );
  }
  if (status === 404) {
    return (
      ` (is ${ENV.remoteWriteUrl} the receiver's write path, e.g. /api/v1/write? Prometheus ` +
      'needs --web.enable-remote-write-receiver)'
    );
  }
  if (status === 413) return ` (lower ${ENV.remoteWriteBatchSamples})`;
  return '';
}

const rejected = (error: unknown) =>
  error instanceof PushError &&
  error.status !== undefined &&
  error.status >= 400 &&
  error.status < 500 &&
  error.status !== 429;

/**
 * Writes one run to the receiver. Resolves when every batch was accepted;
 * otherwise rejects, after every batch was tried, with a PushError naming
 * the endpoint and the first failure (no credential in it).
 */
export async function remoteWrite(delivery: RemoteWriteDelivery): Promise<WriteResult> {
  const { config } = delivery;
  const written = delivery.written ?? processWrittenRuns;
  const target = JSON.stringify([
    `${config.url.host}${config.url.pathname}`,
    delivery.key.job,
    Object.entries(delivery.key.labels),
  ]);
  // Each batch is encoded as it fills: the run holds compressed bytes, a fifth of the text, not
  // an object per label of every series.
  const batches: { body: Buffer; samples: number; stale: number }[] = [];
  eachWriteBatch(
    delivery.body,
    delivery.key,
    delivery.timestampMs,
    config.batchSamples,
    written.get(target),
    (batch) => {
      batches.push({
        body: encodeBatch(batch).body,
        samples: batch.timeseries.length + batch.stale.length,
        stale: batch.stale.length,
      });
    },
  );
  const bound = { timeoutMs: config.timeoutMs, deadline: delivery.deadline };
  const end = Math.min(delivery.deadline, Date.now() + config.timeoutMs);
  const sign = delivery.sign ?? sdkSigner;
  let bytes = 0;
  let samples = 0;
  let stale = 0;
  const failures: { index: number; error: unknown }[] = [];
  let next = 0;
  // Not a PushError: no credentials now is no credentials on the next attempt (not retried).
  const signedHeaders = async (headers: Record<string, string>, body: Buffer, region: string) => {
    try {
      return await sign({ url: config.url, region, headers, body });
    } catch (error) {
      throw new Error(
        `writing to remote write endpoint ${displayUrl(config.url)} failed: signing with SigV4 ` +
          `(${ENV.remoteWriteSigv4}, region ${region}) failed: ${clip(describeError(error))}`,
        { cause: error },
      );
    }
  };
  const send = async (index: number) => {
    const batch = batches[index] as (typeof batches)[number];
    const { body } = batch;
    await retried({ ...bound, deadline: end }, async (timeoutMs) => {
      const headers: Record<string, string> = {
        ...config.headers,
        'content-type': 'application/x-protobuf',
        'content-encoding': 'snappy',
        'user-agent': `postgresql-pushgateway-exporter/${BUILD_VERSION}`,
        'x-prometheus-remote-write-version': REMOTE_WRITE_VERSION,
      };
      const signed =
        config.sigv4 === undefined
          ? headers
          : await signedHeaders(headers, body, config.sigv4.region);
      return exchange({
        gateway: { url: config.url, auth: config.auth, caFile: config.caFile },
        service: REMOTE_WRITE,
        method: 'POST',
        target: config.url,
        headers: signed,
        body,
        timeoutMs,
        asked: 'writing to',
        toWhat: '',
        done: isSuccess,
        read: statusOnly,
        explain,
        secrets: [...Object.values(config.headers), signed['x-amz-security-token'] ?? ''],
      });
    });
    bytes += body.length;
    samples += batch.samples;
    stale += batch.stale;
  };
  const worker = async () => {
    while (next < batches.length) {
      const index = next;
      next += 1;
      try {
        await send(index);
      } catch (error) {
        failures.push({ index, error });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(BATCHES_IN_FLIGHT, batches.length) }, worker));
  if (failures.length === 0) {
    written.set(target, delivery.body);
    return { samples, stale, batches: batches.length, bytes };
  }
  // What the receiver holds now is not known: the last run written in full stays the reference,
  // unless the receiver refused what it was sent (4xx): then the staleness markers themselves may
  // be what it refuses, run after run, and the next write sends none (gone series end by
  // Prometheus' lookback instead).
  if (failures.some((f) => rejected(f.error))) written.forget(target);
  failures.sort((a, b) => a.index - b.index);
  const first = failures[0] as { index: number; error: unknown };
  const error = first.error instanceof Error ? first.error : new Error(String(first.error));
  if (batches.length > 1) {
    error.message +=
      ` (${failures.length} of ${batches.length} batches not written, the first of them ` +
      `batch ${first.index + 1}; ${samples} samples were written)`;
  }
  throw error instanceof PushError
    ? error
    : new PushError(error.message, undefined, { cause: error });
}
