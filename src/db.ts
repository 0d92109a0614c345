import pg from 'pg';
import type { PostgresTarget, SslMode } from './config.js';

/** What a collector may do with the database: run read-only queries. */
export interface Queryable {
  query<Row>(sql: string): Promise<Row[]>;
}

export interface Database extends Queryable {
  /** `server_version_num`, e.g. 170004 for 17.4. */
  readonly serverVersion: number;
  close(): Promise<void>;
}

export interface ConnectOptions {
  readonly connectTimeoutMs: number;
  readonly statementTimeoutMs: number;
  readonly applicationName: string;
}

function tlsOptions(mode: SslMode): pg.ClientConfig['ssl'] {
  switch (mode) {
    case 'disable':
      return false;
    case 'require':
      return { rejectUnauthorized: false };
    case 'verify-ca':
      // Chain checked, host name not.
      return { rejectUnauthorized: true, checkServerIdentity: () => undefined };
    case 'verify-full':
      return { rejectUnauthorized: true };
  }
}

/** How long `close()` waits for a clean goodbye before it drops the socket. */
const CLOSE_TIMEOUT_MS = 1_000;

/**
 * Opens one connection and reads the server version. Every wait is bounded:
 * the connect by `connectTimeoutMs`, each statement by `statement_timeout` on
 * the server and, in case the server stops answering, the same bound plus a
 * second on the client.
 */
export async function connect(target: PostgresTarget, options: ConnectOptions): Promise<Database> {
  const client = new pg.Client({
    host: target.host,
    port: target.port,
    database: target.database,
    user: target.user,
    ...(target.password === undefined ? {} : { password: target.password }),
    ssl: tlsOptions(target.ssl),
    application_name: options.applicationName,
    connectionTimeoutMillis: options.connectTimeoutMs,
    statement_timeout: options.statementTimeoutMs,
    query_timeout: options.statementTimeoutMs + 1_000,
    keepAlive: true,
  });
  // A connection lost between queries is reported as an 'error' event; without a
  // listener it would crash the process. The next query fails and says why.
  client.on('error', () => undefined);

  try {
    await client.connect();
    const result = await client.query<{ server_version_num: string }>('SHOW server_version_num');
    const serverVersion = Number(result.rows[0]?.server_version_num);
    if (!Number.isInteger(serverVersion)) throw new Error('server did not report its version');
    return {
      serverVersion,
      async query<Row>(sql: string) {
        const res = await client.query(sql);
        return res.rows as Row[];
      },
      close: () => closeClient(client),
    };
  } catch (error) {
    await closeClient(client);
    throw error;
  }
}

async function closeClient(client: pg.Client): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => {
      resolve('timeout');
    }, CLOSE_TIMEOUT_MS);
  });
  try {
    const outcome = await Promise.race([client.end().then(() => 'closed' as const), timeout]);
    if (outcome === 'timeout') destroySocket(client);
  } catch {
    destroySocket(client);
  } finally {
    clearTimeout(timer);
  }
}

function destroySocket(client: pg.Client): void {
  // `connection.stream` is pg's socket; not in its type definitions.
  const stream = (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection
    ?.stream;
  stream?.destroy();
}
