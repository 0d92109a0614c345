/**
 * Where a run's metrics go: the Pushgateway (PUSHGATEWAY_URL), remote write
 * (REMOTE_WRITE_URL), or both. A run renders once and hands the same text to
 * every configured sink at the same time; each sink's outcome is its own,
 * and is remembered per target for the next run's self-metrics
 * (postgresql_exporter_last_write_success), since a run cannot report its
 * own delivery in what it delivers.
 */
import { performance } from 'node:perf_hooks';
import type { Config } from './config.js';
import { PushError, describeError } from './errors.js';
import { clip, type Logger } from './logger.js';
import { deliver, displayUrl, type Delivery } from './pushgateway.js';
import type { RemoteWriteDelivery, WriteResult } from './remote_write.js';
import type { GroupingKey } from './target.js';

export type SinkName = 'pushgateway' | 'remote_write';

/** What delivering one run to one sink did. */
export interface SinkOutcome {
  readonly sink: SinkName;
  /** The endpoint, without credentials. */
  readonly url: string;
  readonly ok: boolean;
  readonly durationMs: number;
  /** Bytes sent on success: the text for the Pushgateway, compressed protobuf for remote write. */
  readonly bytes?: number;
  /** Remote write: samples written (staleness markers included), and in how many requests. */
  readonly samples?: number;
  /** Remote write: staleness markers for series of the target's previous write now gone. */
  readonly stale?: number;
  readonly batches?: number;
  readonly error?: string;
}

export interface SinkDependencies {
  /** Delivers the rendered body to the Pushgateway (default: PUT, retried). */
  readonly deliver?: (delivery: Delivery) => Promise<void>;
  /** Writes the rendered body to the remote-write receiver (default: src/remote_write.ts). */
  readonly remoteWrite?: (delivery: RemoteWriteDelivery) => Promise<WriteResult>;
}

export interface Shipment {
  readonly key: GroupingKey;
  /** The rendered exposition, redacted. */
  readonly body: string;
  /** When the run collected, epoch ms: remote write's sample timestamps. */
  readonly collectedAt: number;
  readonly deadline: number;
}

/** The sinks of a configuration, for messages and summaries: their URLs without credentials. */
export function sinkUrls(config: Pick<Config, 'pushgateway' | 'remoteWrite'>): {
  pushgateway?: string;
  remoteWrite?: string;
} {
  const { pushgateway, remoteWrite: rw } = config;
  return {
    ...(pushgateway.url === undefined ? {} : { pushgateway: displayUrl(pushgateway.url) }),
    ...(rw === undefined ? {} : { remoteWrite: displayUrl(rw.url) }),
  };
}

/** The longest time bound among the configured sinks: what a run keeps back for delivering. */
export function deliveryTimeoutMs(config: Pick<Config, 'pushgateway' | 'remoteWrite'>): number {
  return Math.max(
    config.pushgateway.url === undefined ? 0 : config.pushgateway.timeoutMs,
    config.remoteWrite?.timeoutMs ?? 0,
  );
}

const ms = (start: number) => Math.round((performance.now() - start) * 10) / 10;

/**
 * Delivers one run to every configured sink at once. Never rejects: each
 * outcome says whether its sink took the run, and why not (redacted, cut).
 * `errors` holds each failed sink's error as thrown, for the caller to
 * rethrow.
 */
export async function deliverToSinks(
  config: Pick<Config, 'pushgateway' | 'remoteWrite'>,
  shipment: Shipment,
  log: Logger,
  deps: SinkDependencies = {},
): Promise<{ outcomes: SinkOutcome[]; errors: unknown[] }> {
  const { pushgateway, remoteWrite: rw } = config;
  const errors: unknown[] = [];
  const attempt = async (
    sink: SinkName,
    url: URL,
    send: () => Promise<Partial<SinkOutcome>>,
  ): Promise<SinkOutcome> => {
    const start = performance.now();
    try {
      const done = await send();
      return { sink, url: displayUrl(url), ok: true, durationMs: ms(start), ...done };
    } catch (error) {
      errors.push(error);
      return {
        sink,
        url: displayUrl(url),
        ok: false,
        durationMs: ms(start),
        error: clip(log.redact(describeError(error))),
      };
    }
  };
  const sends: Promise<SinkOutcome>[] = [];
  const gateway = pushgateway.url;
  if (gateway !== undefined) {
    sends.push(
      attempt('pushgateway', gateway, async () => {
        await (deps.deliver ?? deliver)({
          url: gateway,
          key: shipment.key,
          body: shipment.body,
          timeoutMs: pushgateway.timeoutMs,
          deadline: shipment.deadline,
          auth: pushgateway.auth,
          caFile: pushgateway.caFile,
        });
        return { bytes: Buffer.byteLength(shipment.body) };
      }),
    );
  }
  if (rw !== undefined) {
    sends.push(
      attempt('remote_write', rw.url, async () => {
        // Loaded on first use: a Pushgateway-only function never evaluates protobufjs.
        const write = deps.remoteWrite ?? (await import('./remote_write.js')).remoteWrite;
        const written = await write({
          config: rw,
          key: shipment.key,
          body: shipment.body,
          timestampMs: shipment.collectedAt,
          deadline: shipment.deadline,
        });
        return {
          bytes: written.bytes,
          samples: written.samples,
          stale: written.stale,
          batches: written.batches,
        };
      }),
    );
  }
  return { outcomes: await Promise.all(sends), errors };
}

/**
 * The error a failed delivery rejects with: the one sink's error as it was
 * (the Pushgateway's alone is what it always was), or, when both failed, a
 * PushError naming both.
 */
export function deliveryError(
  outcomes: readonly SinkOutcome[],
  errors: readonly unknown[],
): unknown {
  if (errors.length === 1) return errors[0];
  const failed = outcomes.filter((o) => !o.ok);
  return new PushError(
    `no sink took the run: ${failed.map((o) => `${o.sink}: ${o.error ?? ''}`).join('; ')}`,
    undefined,
    { cause: errors[0] },
  );
}

/** Most targets whose last outcomes a process remembers (a fleet's; the oldest forgotten first). */
export const MAX_REMEMBERED_TARGETS = 10_000;

/**
 * The last delivery outcomes per target in this process: what the next
 * run's self-metrics report. Nothing of a credential: sink names, success
 * and duration.
 */
export class LastDeliveries {
  readonly #outcomes = new Map<string, readonly SinkOutcome[]>();

  constructor(private readonly max = MAX_REMEMBERED_TARGETS) {}

  get(target: string): readonly SinkOutcome[] {
    return this.#outcomes.get(target) ?? [];
  }

  set(target: string, outcomes: readonly SinkOutcome[]): void {
    this.#outcomes.delete(target);
    this.#outcomes.set(target, outcomes);
    if (this.#outcomes.size > this.max) {
      const oldest = this.#outcomes.keys().next().value;
      if (oldest !== undefined) this.#outcomes.delete(oldest);
    }
  }
}

/** This process's: a warm Lambda container's runs share it. */
export const processLastDeliveries = new LastDeliveries();
