/**
 * Refresh intervals (COLLECTOR_REFRESH_SECONDS): in a warm process, a
 * collector whose interval is not up is not run, and its families from its
 * last successful collection are pushed again as they were rendered then.
 * They must be: every push replaces the whole group, so a family left out is
 * gone from the Pushgateway. A cold process has nothing cached and collects
 * everything.
 *
 * One cache per process, one part of it per target (a fleet's warm container
 * serves many), invalidated when the server changed under the target (a
 * restart, a failover, an upgrade), bounded in bytes, and swept of entries
 * that can never be pushed again. The clock is given, never read here.
 */
import type { PostgresTarget, GroupingKey } from './target.js';

/** What must not change for cached numbers to describe the server still. */
export interface ServerIdentity {
  /** `server_version_num`. */
  readonly version: number;
  /** pg_postmaster_start_time(), epoch ms. */
  readonly startedAt: number;
}

/** One successful collection of one collector. */
export interface Collection {
  /** Its families, rendered (exposition text; empty when it wrote none). */
  readonly text: string;
  /** When it was collected: the run's clock, epoch ms. */
  readonly collectedAt: number;
  /** How long collecting it took. */
  readonly durationMs: number;
}

/**
 * The most bytes of cached text one process holds, all targets together.
 * Past it a collection is not cached (so that collector is collected every
 * run), rather than another target's evicted. 16 MB is about 200 targets of
 * 200 databases' sizes, or a few of many tables, well within a 256 MB Lambda.
 */
export const MAX_CACHE_BYTES = 16 * 1024 * 1024;

/** A target not run for this long (gone from a fleet) loses what it had cached. */
export const TARGET_IDLE_MS = 60 * 60 * 1_000;

/** How often, at most, the cache looks for entries to drop (besides when it is full). */
const SWEEP_EVERY_MS = 60_000;

/** An interval is up this much early, at most: a schedule's jitter must not cost a whole run. */
const MAX_EARLY_MS = 30_000;

/**
 * How old a collection may be before its interval is up, in ms: the
 * interval less a tenth of it (at most 30 s). A run every minute and an
 * interval of 300 s collect every fifth run, not every fifth or sixth
 * depending on how late the schedule fired; an interval of 60 s every run.
 */
export function refreshAfterMs(intervalSeconds: number): number {
  const ms = intervalSeconds * 1_000;
  return ms - Math.min(ms / 10, MAX_EARLY_MS);
}

/**
 * What identifies a target's cache: where it is pushed (the Pushgateway and
 * the whole group) and what is read (server, database, login). Two plans
 * that differ in any of these never share cached numbers. No credential.
 */
export function refreshKey(
  sink: URL | undefined,
  key: GroupingKey,
  address: PostgresTarget,
): string {
  return JSON.stringify([
    sink === undefined ? '' : `${sink.protocol}//${sink.host}${sink.pathname}`,
    key.job,
    Object.entries(key.labels),
    address.host,
    address.port,
    address.database,
    address.user,
  ]);
}

interface Entry extends Collection {
  /** What the collector was (its families, the run's options): another shape is not reused. */
  readonly shape: string;
  readonly bytes: number;
  /** collectedAt + refreshAfterMs(interval): from then on it is collected again. */
  readonly dueAt: number;
}

interface TargetEntries {
  server: ServerIdentity;
  lastUsed: number;
  readonly entries: Map<string, Entry>;
}

/** One target's part of the cache, for one run. */
export interface TargetCache {
  /**
   * The collector's last collection, if its interval is not up yet and it
   * was collected with the same `shape`; else undefined: collect it.
   */
  reuse(collector: string, intervalSeconds: number, shape: string): Collection | undefined;
  /**
   * Keeps a fresh collection, in place of the one before. False when it does
   * not fit under the byte cap: it is not cached (collected again next run).
   */
  keep(collector: string, intervalSeconds: number, shape: string, collection: Collection): boolean;
  /** Forgets the collector's collection (it failed this run). */
  drop(collector: string): void;
}

export interface RefreshCacheOptions {
  /** Default MAX_CACHE_BYTES. */
  readonly maxBytes?: number;
  /** Default TARGET_IDLE_MS. */
  readonly idleMs?: number;
}

export class RefreshCache {
  readonly #targets = new Map<string, TargetEntries>();
  readonly #maxBytes: number;
  readonly #idleMs: number;
  #bytes = 0;
  #lastSweep = Number.NEGATIVE_INFINITY;

  constructor(options: RefreshCacheOptions = {}) {
    this.#maxBytes = options.maxBytes ?? MAX_CACHE_BYTES;
    this.#idleMs = options.idleMs ?? TARGET_IDLE_MS;
  }

  /** Bytes of cached text held, all targets together. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Collections held, all targets together. */
  get entries(): number {
    let count = 0;
    for (const target of this.#targets.values()) count += target.entries.size;
    return count;
  }

  /**
   * The part of target `key` for a run at `now` against `server`. When the
   * server is not the one the target's collections came from (restarted,
   * failed over, upgraded), they are all dropped first.
   */
  target(key: string, server: ServerIdentity, now: number): TargetCache {
    if (now - this.#lastSweep >= SWEEP_EVERY_MS || now < this.#lastSweep) this.#sweep(now);
    this.#entriesOf(key, server).lastUsed = now;
    // Looked up by key on every call: a collector's collection takes a while, and the
    // sweep (or another run of the same target) may have replaced the target's part since.
    return {
      reuse: (collector, intervalSeconds, shape) => {
        const entry = this.#entriesOf(key, server).entries.get(collector);
        if (entry === undefined || entry.shape !== shape) return undefined;
        // Due by its interval now (it may have changed), or from the clock going back.
        const age = now - entry.collectedAt;
        if (age < 0 || age >= refreshAfterMs(intervalSeconds)) return undefined;
        return { text: entry.text, collectedAt: entry.collectedAt, durationMs: entry.durationMs };
      },
      keep: (collector, intervalSeconds, shape, collection) => {
        this.#drop(this.#entriesOf(key, server), collector);
        const bytes = Buffer.byteLength(collection.text);
        if (this.#bytes + bytes > this.#maxBytes) {
          this.#sweep(now);
          if (this.#bytes + bytes > this.#maxBytes) return false;
        }
        const dueAt = collection.collectedAt + refreshAfterMs(intervalSeconds);
        const target = this.#entriesOf(key, server);
        target.lastUsed = Math.max(target.lastUsed, now);
        target.entries.set(collector, { ...collection, shape, bytes, dueAt });
        this.#bytes += bytes;
        return true;
      },
      drop: (collector) => {
        const target = this.#targets.get(key);
        if (target !== undefined) this.#drop(target, collector);
      },
    };
  }

  /**
   * The part of target `key`, made if there is none. When `server` is not the
   * one its collections came from (restarted, failed over, upgraded), they
   * are all dropped first.
   */
  #entriesOf(key: string, server: ServerIdentity): TargetEntries {
    let target = this.#targets.get(key);
    if (target === undefined) {
      target = { server, lastUsed: Number.NEGATIVE_INFINITY, entries: new Map() };
      this.#targets.set(key, target);
    } else if (
      target.server.version !== server.version ||
      target.server.startedAt !== server.startedAt
    ) {
      this.#dropAll(target);
      target.server = server;
    }
    return target;
  }

  /** Forgets everything (tests, scripts). */
  clear(): void {
    this.#targets.clear();
    this.#bytes = 0;
  }

  #drop(target: TargetEntries, collector: string): void {
    const entry = target.entries.get(collector);
    if (entry === undefined) return;
    target.entries.delete(collector);
    this.#bytes -= entry.bytes;
  }

  #dropAll(target: TargetEntries): void {
    for (const entry of target.entries.values()) this.#bytes -= entry.bytes;
    target.entries.clear();
  }

  /**
   * Drops what can never be pushed again: collections whose interval is up
   * (the next run of their target collects afresh), and everything of a
   * target not run for `idleMs`.
   */
  #sweep(now: number): void {
    this.#lastSweep = now;
    for (const [key, target] of this.#targets) {
      if (now - target.lastUsed >= this.#idleMs) {
        this.#dropAll(target);
      } else {
        for (const [collector, entry] of target.entries) {
          if (now >= entry.dueAt) this.#drop(target, collector);
        }
      }
      if (target.entries.size === 0) this.#targets.delete(key);
    }
  }
}

/** The cache of this process: what a warm container keeps between runs. */
export const processRefreshCache = new RefreshCache();
