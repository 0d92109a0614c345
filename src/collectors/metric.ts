import { Counter, Gauge, Registry } from 'prom-client';
import { ENV } from '../config.js';
import { SeriesLimitError } from '../errors.js';

export interface MetricDefinition<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
}

export interface Sample<L extends string> {
  readonly labels: Readonly<Record<L, string>>;
  readonly value: number;
}

/**
 * prom-client's text format looks each series' `sharedLabels` up in a cache
 * (a WeakMap; histogram buckets have such labels), and gives a series without
 * any a new empty object: every series of a gauge or counter missed the cache
 * and added an entry to it, 6 % of a run's CPU at 1,000 databases. Every
 * series of these families shares one empty object instead; the text is the
 * same.
 */
const NO_SHARED_LABELS: Readonly<Record<string, string>> = Object.freeze({});

function shareNoLabels(values: readonly object[]): void {
  for (const value of values) (value as { sharedLabels?: object }).sharedLabels = NO_SHARED_LABELS;
}

/** A prom-client Gauge whose series share one empty `sharedLabels` (above). */
class SampleGauge<L extends string> extends Gauge<L> {
  override async get() {
    const metric = await super.get();
    shareNoLabels(metric.values);
    return metric;
  }
}

/** A prom-client Counter whose series share one empty `sharedLabels` (above). */
class SampleCounter<L extends string> extends Counter<L> {
  override async get() {
    const metric = await super.get();
    shareNoLabels(metric.values);
    return metric;
  }
}

/**
 * Registers a gauge on `registry` and sets one value per sample. A family
 * without samples is not registered at all: prom-client would print an
 * unlabelled one as 0, a value nobody measured.
 */
export function addGauge<L extends string>(
  registry: Registry,
  definition: MetricDefinition<L>,
  samples: Iterable<Sample<L>>,
): void {
  // Registered with its first sample; each sample set as it comes (no copy of the list).
  let gauge: Gauge<L> | undefined;
  const labelled = definition.labelNames.length > 0;
  for (const { labels, value } of samples) {
    gauge ??= new SampleGauge<L>({
      name: definition.name,
      help: definition.help,
      labelNames: definition.labelNames,
      registers: [registry],
    });
    if (labelled) gauge.set(labels as Partial<Record<L, string>>, value);
    else gauge.set(value);
  }
}

/**
 * Registers a counter on `registry` with one value per sample. The registry
 * is fresh every run, so incrementing from zero sets the cumulative value
 * PostgreSQL reports. Counter names end in `_total`. As with gauges, a family
 * without samples is not registered.
 */
export function addCounter<L extends string>(
  registry: Registry,
  definition: MetricDefinition<L>,
  samples: Iterable<Sample<L>>,
): void {
  let counter: Counter<L> | undefined;
  const labelled = definition.labelNames.length > 0;
  for (const { labels, value } of samples) {
    // A counter cannot go down; a negative value (never expected) is left out.
    if (!(value >= 0)) continue;
    counter ??= new SampleCounter<L>({
      name: definition.name,
      help: definition.help,
      labelNames: definition.labelNames,
      registers: [registry],
    });
    if (labelled) counter.inc(labels as Partial<Record<L, string>>, value);
    else counter.inc(value);
  }
}

/** What a collector writes its families to (CollectContext.metrics). */
export interface MetricWriter {
  gauge<L extends string>(definition: MetricDefinition<L>, samples: Iterable<Sample<L>>): void;
  counter<L extends string>(definition: MetricDefinition<L>, samples: Iterable<Sample<L>>): void;
}

/**
 * A collector's own registry, with two guards: it takes only the families the
 * collector declares (so the run's check that no two collectors push one
 * family holds), and at most `maxSeries` series, past which the collector
 * fails with a SeriesLimitError before more is held in memory.
 */
export class FamilyWriter implements MetricWriter {
  readonly registry = new Registry();
  #series = 0;
  readonly #declared: ReadonlySet<string>;

  constructor(
    readonly collector: string,
    families: readonly MetricDefinition<string>[],
    readonly maxSeries: number,
  ) {
    this.#declared = new Set(families.map((f) => f.name));
  }

  /** Series written so far. */
  get series(): number {
    return this.#series;
  }

  gauge<L extends string>(definition: MetricDefinition<L>, samples: Iterable<Sample<L>>): void {
    addGauge(this.registry, definition, this.#admit(definition, samples));
  }

  counter<L extends string>(definition: MetricDefinition<L>, samples: Iterable<Sample<L>>): void {
    addCounter(this.registry, definition, this.#admit(definition, samples));
  }

  /** The samples as a list (a list as given, not copied), once they are known to fit. */
  #admit<S>(definition: MetricDefinition<string>, samples: Iterable<S>): readonly S[] {
    if (!this.#declared.has(definition.name)) {
      throw new Error(
        `collector ${this.collector} wrote ${definition.name}, which is not among its families`,
      );
    }
    const list: readonly S[] = Array.isArray(samples) ? (samples as readonly S[]) : [...samples];
    this.#series += list.length;
    if (this.#series > this.maxSeries) {
      throw new SeriesLimitError(
        `more than ${this.maxSeries} series (${ENV.collectorMaxSeries}); nothing of this collector is pushed`,
      );
    }
    return list;
  }
}

/** One unlabelled sample from a column value, none when it is NULL. */
export function single(value: unknown): Sample<never>[] {
  const n = toNumber(value);
  return n === undefined ? [] : [{ labels: {}, value: n }];
}

/**
 * A column value as a number. pg returns bigint and numeric as strings; NULL,
 * and anything that is not a finite number, gives undefined (no sample).
 */
export function toNumber(value: unknown): number | undefined {
  if (value === null || value === undefined) return undefined;
  const n = typeof value === 'number' ? value : Number(value);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * The seed's wide-row pattern: one sample per column, the column name in the
 * `type` label. NULL columns are left out.
 */
export function typeSamples<L extends string>(
  row: Readonly<Record<string, unknown>>,
  columns: readonly string[],
  labels: Readonly<Record<Exclude<L, 'type'>, string>>,
): Sample<L>[] {
  const samples: Sample<L>[] = [];
  for (const column of columns) {
    const value = toNumber(row[column]);
    if (value === undefined) continue;
    samples.push({ labels: { ...labels, type: column } as Record<L, string>, value });
  }
  return samples;
}

/** A wide row of a per-database view: the database name and numeric columns. */
export type DatabaseRow = Readonly<Record<string, number | string | null>> & {
  readonly datname: string | null;
};

/**
 * `typeSamples` for every row of a per-database view, with a `database`
 * label. A row without a database name (shared objects) is left out.
 */
export function databaseTypeSamples(
  rows: readonly DatabaseRow[],
  columns: readonly string[],
): Sample<'database' | 'type'>[] {
  // typeSamples' loop with the two labels as one literal: a spread per sample
  // was a third of the mapping at 1,000 databases.
  const samples: Sample<'database' | 'type'>[] = [];
  for (const row of rows) {
    const database = row.datname;
    if (database === null) continue;
    for (const type of columns) {
      const value = toNumber(row[type]);
      if (value !== undefined) samples.push({ labels: { database, type }, value });
    }
  }
  return samples;
}

/** Minutes since a reset, as the seed computed it (whole minutes), in SQL. */
export function minutesSince(column: string): string {
  return `floor(extract(epoch from now() - ${column}) / 60)::float8`;
}

interface CountRow {
  readonly datname: string | null;
  readonly count: number | string | null;
}

/**
 * Counts per database and category (lock mode, session state), zero-filled:
 * every database gets every `known` category, and any other category seen is
 * kept. Rows are `{ datname, <column>, count }`; a NULL category row only
 * lists the database.
 */
export function zeroFilledCounts<K extends string>(
  rows: readonly (CountRow & { readonly [P in K]: string | null })[],
  column: K,
  known: readonly string[],
): Sample<'database' | K>[] {
  const categories = [...new Set(known)];
  const position = new Map(categories.map((category, i) => [category, i]));
  // Per database: the known categories' counts by position, then any other seen, in order.
  const byDatabase = new Map<string, { counts: number[]; other?: Map<string, number> }>();
  for (const row of rows) {
    const database = row.datname;
    if (database === null) continue;
    let entry = byDatabase.get(database);
    if (entry === undefined) {
      entry = { counts: categories.map(() => 0) };
      byDatabase.set(database, entry);
    }
    const category = row[column];
    if (category === null) continue;
    const value = toNumber(row.count) ?? 0;
    const i = position.get(category);
    if (i !== undefined) entry.counts[i] = value;
    else (entry.other ??= new Map()).set(category, value);
  }
  const samples: Sample<'database' | K>[] = [];
  const push = (database: string, category: string, value: number) => {
    samples.push({
      labels: { database, [column]: category } as Record<'database' | K, string>,
      value,
    });
  };
  for (const [database, { counts, other }] of byDatabase) {
    categories.forEach((category, i) => {
      push(database, category, counts[i] ?? 0);
    });
    if (other !== undefined) for (const [category, value] of other) push(database, category, value);
  }
  return samples;
}
