import { describe, expect, it } from 'vitest';
import { transactionAgeSamples } from '../../../src/collectors/general/transaction_age.js';

describe('transactionAgeSamples', () => {
  it('gives both ages per database, 0 for NULL, and skips a NULL database', () => {
    expect(
      transactionAgeSamples([
        { datname: 'app', oldest_transaction: '12.5', oldest_idle_in_transaction: 10 },
        { datname: 'quiet', oldest_transaction: null, oldest_idle_in_transaction: null },
        { datname: null, oldest_transaction: 1, oldest_idle_in_transaction: 1 },
      ]),
    ).toEqual({
      transaction: [
        { labels: { database: 'app' }, value: 12.5 },
        { labels: { database: 'quiet' }, value: 0 },
      ],
      idle: [
        { labels: { database: 'app' }, value: 10 },
        { labels: { database: 'quiet' }, value: 0 },
      ],
    });
  });
});
