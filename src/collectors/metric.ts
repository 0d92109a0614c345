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
 * Registers a gauge on `registry` and sets one value per sample. A family
 * without samples is not registered at all: prom-client would print an
 * unlabelled one as 0, a value nobody measured.
 */
export function addGauge<L extends string>(
  registry: Registry,
  definition: MetricDefinition<L>,
  samples: Iterable<Sample<L>>,
): void {
  const values = [...samples];
  if (values.length === 0) return;
  const gauge = new Gauge<L>({
    name: definition.name,
    help: definition.help,
    labelNames: definition.labelNames,
    registers: [registry],
  });
  for (const sample of values) {
    if (definition.labelNames.length === 0) gauge.set(sample.value);
    else gauge.set(sample.labels as Partial<Record<L, string>>, sample.value);
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
  // A counter cannot go down; a negative value (never expected) is left out.
  const values = [...samples].filter((sample) => sample.value >= 0);
  if (values.length === 0) return;
  const counter = new Counter<L>({
    name: definition.name,
    help: definition.help,
    labelNames: definition.labelNames,
    registers: [registry],
  });
  for (const sample of values) {
    if (definition.labelNames.length === 0) counter.inc(sample.value);
    else counter.inc(sample.labels as Partial<Record<L, string>>, sample.value);
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
    addGauge(this.registry, definition, this.#admit(definition, [...samples]));
  }

  counter<L extends string>(definition: MetricDefinition<L>, samples: Iterable<Sample<L>>): void {
    addCounter(this.registry, definition, this.#admit(definition, [...samples]));
  }

  #admit<S>(definition: MetricDefinition<string>, samples: S[]): S[] {
    if (!this.#declared.has(definition.name)) {
      throw new Error(
        `collector ${this.collector} wrote ${definition.name}, which is not among its families`,
      );
    }
    this.#series += samples.length;
    if (this.#series > this.maxSeries) {
      throw new SeriesLimitError(
        `more than ${this.maxSeries} series (${ENV.collectorMaxSeries}); nothing of this collector is pushed`,
      );
    }
    return samples;
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
  return rows.flatMap((row) =>
    row.datname === null
      ? []
      : typeSamples<'database' | 'type'>(row, columns, { database: row.datname }),
  );
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
  const byDatabase = new Map<string, Map<string, number>>();
  for (const row of rows) {
    const database = row.datname;
    if (database === null) continue;
    let counts = byDatabase.get(database);
    if (counts === undefined) {
      counts = new Map(known.map((category) => [category, 0]));
      byDatabase.set(database, counts);
    }
    const category = row[column];
    if (category !== null) counts.set(category, toNumber(row.count) ?? 0);
  }
  const samples: Sample<'database' | K>[] = [];
  for (const [database, counts] of byDatabase) {
    for (const [category, value] of counts) {
      samples.push({
        labels: { database, [column]: category } as Record<'database' | K, string>,
        value,
      });
    }
  }
  return samples;
}
