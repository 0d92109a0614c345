import type { Registry } from 'prom-client';
import { FamilyWriter } from '../../src/collectors/metric.js';
import {
  DEFAULT_COLLECTOR_OPTIONS,
  type CollectContext,
  type Collector,
} from '../../src/collectors/types.js';

/** Runs one collector as the run does (its own writer, its declared families, the series limit) and returns its registry. */
export async function collectOnce(
  collector: Collector,
  context: Omit<CollectContext, 'metrics' | 'options' | 'database'> & {
    readonly options?: Partial<CollectContext['options']>;
    /** The database db is connected to; default postgres (the harness's). */
    readonly database?: string;
  },
): Promise<Registry> {
  const options = { ...DEFAULT_COLLECTOR_OPTIONS, ...context.options };
  const writer = new FamilyWriter(collector.name, collector.families, options.maxSeries);
  await collector.collect({ database: 'postgres', ...context, metrics: writer, options });
  return writer.registry;
}
