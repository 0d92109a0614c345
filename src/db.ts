import { readCaBundle } from './pem.js';
import tls from 'node:tls';
import pg from 'pg';
import { ENV, type PostgresTarget } from './config.js';

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
  /** Epoch ms by which connecting and every query must be done (the run's budget). */
  readonly deadline?: number;
}

/** The client gives a statement this much longer than statement_timeout before it drops the connection. */
const CLIENT_GRACE_MS = 1_000;

/** The certificates of POSTGRESQL_SSL_ROOT_CERT (see readCaBundle). */
export function loadRootCerts(file: string): readonly string[] {
  return readCaBundle(ENV.sslRootCert, file);
}

/**
 * libpq's sslmode with Node's TLS: require encrypts only; verify-ca checks the
 * chain against POSTGRESQL_SSL_ROOT_CERT (else Node's trusted CAs); verify-full
 * also checks that the certificate names the configured host.
 */
function tlsOptions(target: PostgresTarget): pg.ClientConfig['ssl'] {
  const ca = () =>
    target.sslRootCert === undefined ? {} : { ca: [...loadRootCerts(target.sslRootCert)] };
  switch (target.ssl) {
    case 'disable':
      return false;
    case 'require':
      return { rejectUnauthorized: false };
    case 'verify-ca':
      // Chain checked, host name not.
      return { rejectUnauthorized: true, ...ca(), checkServerIdentity: () => undefined };
    case 'verify-full':
      return {
        rejectUnauthorized: true,
        ...ca(),
        checkServerIdentity: (_servername: string, cert: tls.PeerCertificate) =>
          tls.checkServerIdentity(target.host, cert),
      };
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
  const deadline = options.deadline ?? Number.POSITIVE_INFINITY;
  const left = (wanted: number) => Math.max(1, Math.min(wanted, deadline - Date.now()));
  const statementTimeoutMs = left(options.statementTimeoutMs);
  const client = new pg.Client({
    host: target.host,
    port: target.port,
    database: target.database,
    user: target.user,
    ...(target.password === undefined ? {} : { password: target.password }),
    ssl: tlsOptions(target),
    application_name: options.applicationName,
    connectionTimeoutMillis: left(options.connectTimeoutMs),
    statement_timeout: statementTimeoutMs,
    keepAlive: true,
  });
  // A connection lost between queries is reported as an 'error' event; without a
  // listener it would crash the process. The next query fails and says why.
  client.on('error', () => undefined);

  /**
   * A query bounded on both sides: statement_timeout on the server and, in case
   * the server stops answering (paused, network gone), a timer on the client
   * that drops the connection. Neither outlasts the deadline.
   */
  const query = async <Row>(sql: string): Promise<Row[]> => {
    const limitMs = left(statementTimeoutMs + CLIENT_GRACE_MS);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        destroySocket(client);
        reject(new Error(`no answer from PostgreSQL within ${limitMs} ms; connection dropped`));
      }, limitMs);
    });
    try {
      const res = await Promise.race([client.query(sql), timedOut]);
      return res.rows as Row[];
    } finally {
      clearTimeout(timer);
    }
  };

  try {
    await client.connect();
    const rows = await query<{ server_version_num: string }>('SHOW server_version_num');
    const serverVersion = Number(rows[0]?.server_version_num);
    if (!Number.isInteger(serverVersion)) throw new Error('server did not report its version');
    return { serverVersion, query, close: () => closeClient(client) };
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
