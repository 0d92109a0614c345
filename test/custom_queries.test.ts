import { collectOnce } from './harness/collect.js';
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { customQueryCollector, parseCustomQueries } from '../src/custom_queries.js';
import { CustomQueriesError } from '../src/errors.js';
import { DEFAULT_COLLECTOR_OPTIONS } from '../src/collectors/types.js';

const valid = `
queries:
  - name: open_orders
    sql: SELECT warehouse, count(*) AS orders, sum(total) AS value_total FROM orders GROUP BY 1
    labels: [warehouse]
    metrics:
      - column: orders
        name: shop_open_orders
        type: gauge
        help: Open orders.
      - column: value_total
        name: shop_order_value_total
        type: counter
        help: Value of all orders.
    min_server_version: 14
    max_server_version: 17
`;

function error(text: string): string {
  try {
    parseCustomQueries('business.yml', text);
  } catch (e) {
    expect(e).toBeInstanceOf(CustomQueriesError);
    return (e as Error).message;
  }
  throw new Error('expected an error');
}

describe('parseCustomQueries', () => {
  it('reads a valid file, with major versions as server_version_num ranges', () => {
    expect(parseCustomQueries('business.yml', valid)).toEqual([
      {
        name: 'open_orders',
        sql: 'SELECT warehouse, count(*) AS orders, sum(total) AS value_total FROM orders GROUP BY 1',
        labels: ['warehouse'],
        metrics: [
          { column: 'orders', name: 'shop_open_orders', type: 'gauge', help: 'Open orders.' },
          {
            column: 'value_total',
            name: 'shop_order_value_total',
            type: 'counter',
            help: 'Value of all orders.',
          },
        ],
        minServerVersion: 140000,
        maxServerVersion: 179999,
      },
    ]);
  });

  it('reads the shipped example', () => {
    const queries = parseCustomQueries(
      'queries/example.yml',
      readFileSync('queries/example.yml', 'utf8'),
    );
    expect(queries.map((q) => q.name)).toEqual(['table_activity', 'autovacuum_workers']);
  });

  it.each([
    [
      'a typo in a query field',
      valid.replace('labels:', 'lables:'),
      'business.yml: query "open_orders": field "lables": unknown field',
    ],
    [
      'a typo in a metric field',
      valid.replace('help: Open orders.', 'hlep: Open orders.'),
      'business.yml: query "open_orders": field "metrics[0].hlep": unknown field',
    ],
    [
      'a wrong type',
      valid.replace('type: gauge', 'type: gage'),
      'business.yml: query "open_orders": field "metrics[0].type": must be gauge or counter, got string "gage"',
    ],
    [
      'a counter without _total',
      valid.replace('shop_order_value_total', 'shop_order_value'),
      'business.yml: query "open_orders": field "metrics[1].name": a counter\'s name must end in "_total"',
    ],
    [
      'a missing help',
      valid.replace('        help: Open orders.\n', ''),
      'business.yml: query "open_orders": field "metrics[0].help": must be a sentence, got nothing',
    ],
    [
      'a bad metric name',
      valid.replace('shop_open_orders', 'shop-open-orders'),
      'field "metrics[0].name": must be a Prometheus metric name',
    ],
    [
      'a reserved name',
      valid.replace('shop_open_orders', 'postgresql_exporter_x'),
      'is reserved for the exporter',
    ],
    [
      'no sql',
      valid.replace(/ {4}sql: .*\n/, ''),
      'business.yml: query "open_orders": field "sql": must be an SQL statement, got nothing',
    ],
    [
      'a label that is also a metric',
      valid.replace('labels: [warehouse]', 'labels: [orders]'),
      'field "metrics[0].column": "orders" is also a label',
    ],
    [
      'an inverted version range',
      valid.replace('max_server_version: 17', 'max_server_version: 13'),
      'field "max_server_version": is below min_server_version',
    ],
    [
      'a bad version',
      valid.replace('min_server_version: 14', 'min_server_version: fourteen'),
      'field "min_server_version": must be a major version',
    ],
    [
      'a query without a name',
      valid.replace('name: open_orders', 'nme: open_orders'),
      'business.yml: query #1: field "nme": unknown field',
    ],
    ['no queries list', 'query: []', 'business.yml: expected a mapping with a "queries" list'],
    ['broken YAML', 'queries: [', 'business.yml: not valid YAML'],
  ])('refuses %s, naming file, query and field', (_case, text, message) => {
    expect(error(text)).toContain(message);
  });

  it('refuses two queries of one name and two metrics of one name', () => {
    const twice = `queries:\n${valid.split('queries:\n')[1]!}${valid.split('queries:\n')[1]!}`;
    expect(error(twice)).toContain('query "open_orders": field "name": is used by another query');
    const sameMetric = twice.replace(/name: open_orders/g, (m, offset: number) =>
      offset > twice.length / 2 ? 'name: other' : m,
    );
    expect(error(sameMetric)).toContain(
      '"shop_open_orders" is also defined by query "open_orders"',
    );
  });
});

describe('customQueryCollector', () => {
  const [query] = parseCustomQueries('business.yml', valid);
  const collector = customQueryCollector(query!);

  it('is named custom_<name> and carries the version range', () => {
    expect(collector).toMatchObject({
      name: 'custom_open_orders',
      minServerVersion: 140000,
      maxServerVersion: 179999,
    });
  });

  it('maps each row to one sample per metric, the label columns as labels', async () => {
    const rows = [
      { warehouse: 'north', orders: '3', value_total: 10.5 },
      { warehouse: null, orders: 1, value_total: null },
    ];
    const registry = await collectOnce(collector, {
      db: { query: <R>() => Promise.resolve(rows as R[]) },
      serverVersion: 150000,
      options: DEFAULT_COLLECTOR_OPTIONS,
    });
    const text = await registry.metrics();
    expect(text).toContain(
      '# TYPE shop_open_orders gauge\nshop_open_orders{warehouse="north"} 3\nshop_open_orders{warehouse=""} 1\n',
    );
    expect(text).toContain(
      '# TYPE shop_order_value_total counter\nshop_order_value_total{warehouse="north"} 10.5\n',
    );
  });

  it('fails, naming the column, when the result lacks one', async () => {
    await expect(
      collectOnce(collector, {
        db: { query: <R>() => Promise.resolve([{ warehouse: 'x', orders: 1 }] as R[]) },
        serverVersion: 150000,
        options: DEFAULT_COLLECTOR_OPTIONS,
      }),
    ).rejects.toThrow('column "value_total" is not in the query\'s result');
  });
});
