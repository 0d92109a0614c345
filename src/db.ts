import { readCaBundle } from './pem.js';
import { createHash } from 'node:crypto';
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

/** How long a kept connection has to answer before the run connects afresh. */
const PING_TIMEOUT_MS = 1_000;

/**
 * One name per statement text, for the whole process: each statement is
 * parsed and planned once per connection (a named prepared statement), not
 * on every run of a kept connection.
 */
const statementNames = new Map<string, string>();

function statementName(sql: string): string {
  let name = statementNames.get(sql);
  if (name === undefined) {
    name = `ppe_${statementNames.size + 1}`;
    statementNames.set(sql, name);
  }
  return name;
}

/** A connection, with what the session code below needs of it. */
interface Connection extends Database {
  /** Starts a run on this connection: `deadline` (epoch ms) bounds its queries. */
  begin(deadline: number): void;
  /** Reads the server version within `limitMs`: the proof that the connection still answers. */
  ping(limitMs: number): Promise<void>;
  /** False once the connection broke, was dropped or is not idle (an open transaction). */
  usable(): boolean;
  /** Whether the socket keeps the process alive: not while it only waits for the next run. */
  hold(held: boolean): void;
}

/**
 * Opens one connection and reads the server version. Every wait is bounded:
 * the connect by `connectTimeoutMs`, each statement by `statement_timeout` on
 * the server and, in case the server stops answering, the same bound plus a
 * second on the client. Statements are named prepared statements (parsed and
 * planned once per connection).
 */
export function connect(target: PostgresTarget, options: ConnectOptions): Promise<Database> {
  return open(target, options);
}

async function open(
  target: PostgresTarget,
  options: ConnectOptions,
  password?: () => Promise<string>,
): Promise<Connection> {
  const state = {
    deadline: options.deadline ?? Number.POSITIVE_INFINITY,
    broken: false,
    serverVersion: 0,
  };
  const left = (wanted: number) => Math.max(1, Math.min(wanted, state.deadline - Date.now()));
  const statementTimeoutMs = left(options.statementTimeoutMs);
  const secret = password ?? target.password;
  const client = new pg.Client({
    host: target.host,
    port: target.port,
    database: target.database,
    user: target.user,
    ...(secret === undefined ? {} : { password: secret }),
    ssl: tlsOptions(target),
    application_name: options.applicationName,
    connectionTimeoutMillis: left(options.connectTimeoutMs),
    statement_timeout: statementTimeoutMs,
    keepAlive: true,
  });
  // A connection lost between queries is reported as an 'error' event; without a
  // listener it would crash the process. The next query fails and says why.
  const broken = () => {
    state.broken = true;
  };
  client.on('error', broken);
  client.on('end', broken);

  /**
   * A query bounded on both sides: statement_timeout on the server and, in case
   * the server stops answering (paused, network gone), a timer on the client
   * that drops the connection. Neither outlasts the deadline.
   */
  const query = async <Row>(sql: string, limitMs?: number): Promise<Row[]> => {
    const clientLimitMs = left(limitMs ?? statementTimeoutMs + CLIENT_GRACE_MS);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        broken();
        destroySocket(client);
        reject(
          new Error(`no answer from PostgreSQL within ${clientLimitMs} ms; connection dropped`),
        );
      }, clientLimitMs);
    });
    try {
      const named = { name: statementName(sql), text: sql };
      const res = await Promise.race([client.query<pg.QueryResultRow>(named), timedOut]);
      return res.rows as Row[];
    } finally {
      clearTimeout(timer);
    }
  };
  const ping = async (limitMs?: number) => {
    const rows = await query<{ server_version_num: string }>('SHOW server_version_num', limitMs);
    const serverVersion = Number(rows[0]?.server_version_num);
    if (!Number.isInteger(serverVersion)) throw new Error('server did not report its version');
    state.serverVersion = serverVersion;
  };

  try {
    await client.connect();
    await ping();
  } catch (error) {
    await closeClient(client);
    throw error;
  }
  return {
    get serverVersion() {
      return state.serverVersion;
    },
    query: (sql) => query(sql),
    close: () => closeClient(client),
    begin: (deadline) => {
      state.deadline = deadline;
    },
    ping,
    usable: () => !state.broken && client.getTransactionStatus() === 'I',
    hold: (held) => {
      const internals = client as unknown as ClientInternals;
      if (held) internals.ref?.();
      else internals.unref?.();
    },
  };
}

export interface SessionOptions extends ConnectOptions {
  readonly deadline: number;
  /** How long the connection may wait idle for the next run, in seconds; 0: closed after the run. */
  readonly keepSeconds: number;
}

/** The connection a warm process keeps between runs (one at most). */
let kept:
  | { readonly key: string; readonly connection: Connection; idleSince: number; busy: boolean }
  | undefined;

/** What must match for a kept connection to serve a run: everything but the deadline. */
function sessionKey(target: PostgresTarget, options: SessionOptions, tokenAuth: boolean): string {
  return createHash('sha256')
    .update(
      JSON.stringify([
        target.host,
        target.port,
        target.database,
        target.user,
        tokenAuth ? 'token' : (target.password ?? ''),
        target.ssl,
        target.sslRootCert ?? '',
        options.applicationName,
        options.statementTimeoutMs,
      ]),
    )
    .digest('hex');
}

/**
 * A connection for one run: the one kept from an earlier run of this process
 * when it is for the same target and answers within a second, else a new one
 * (`password`, when given, makes its password, e.g. an IAM token, only then).
 * The returned database's close() keeps the connection for the next run when
 * `keepSeconds` > 0 and it is healthy and idle; PostgreSQL 14+ also closes it
 * itself after `keepSeconds` idle (idle_session_timeout), so a process that
 * goes away leaves no session behind for long.
 */
export async function openSession(
  target: PostgresTarget,
  options: SessionOptions,
  password?: () => Promise<string>,
): Promise<Database> {
  const key = sessionKey(target, options, password !== undefined);
  const keep = options.keepSeconds > 0;
  // Without keeping, a run neither takes nor disturbs the kept connection.
  if (!keep) return lease(await open(target, options, password), options, key);
  const previous = kept;
  if (previous !== undefined && !previous.busy) {
    kept = undefined;
    const fresh = Date.now() - previous.idleSince <= options.keepSeconds * 1_000;
    const { connection } = previous;
    if (fresh && previous.key === key && connection.usable()) {
      connection.begin(options.deadline);
      connection.hold(true);
      try {
        await connection.ping(Math.min(PING_TIMEOUT_MS, options.connectTimeoutMs));
        previous.busy = true;
        kept = previous;
        return lease(connection, options, key);
      } catch {
        // Gone while the process waited (server restarted, network dropped): connect afresh.
      }
    }
    await connection.close();
  }
  const connection = await open(target, options, password);
  try {
    if (connection.serverVersion >= 140_000) {
      await connection.query(`SET idle_session_timeout = '${options.keepSeconds}s'`);
    }
  } catch (error) {
    await connection.close();
    throw error;
  }
  return lease(connection, options, key);
}

/** The run's view of a session connection: close() hands it back. */
function lease(connection: Connection, options: SessionOptions, key: string): Database {
  return {
    serverVersion: connection.serverVersion,
    query: (sql) => connection.query(sql),
    close: () => release(connection, options, key),
  };
}

async function release(
  connection: Connection,
  options: SessionOptions,
  key: string,
): Promise<void> {
  const keep = options.keepSeconds > 0 && connection.usable();
  if (kept?.connection === connection) {
    if (keep) {
      kept.busy = false;
      kept.idleSince = Date.now();
      connection.hold(false);
      return;
    }
    kept = undefined;
  } else if (keep && kept === undefined) {
    kept = { key, connection, idleSince: Date.now(), busy: false };
    connection.hold(false);
    return;
  }
  await connection.close();
}

/** Closes the connection kept between runs, if any (tests, scripts, shutdown). */
export async function closeKeptConnection(): Promise<void> {
  const previous = kept;
  kept = undefined;
  await previous?.connection.close();
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

/** pg's socket and its ref()/unref(); not in its type definitions. */
interface ClientInternals {
  connection?: { stream?: { destroy(): void } };
  ref?(): void;
  unref?(): void;
}

function destroySocket(client: pg.Client): void {
  (client as unknown as ClientInternals).connection?.stream?.destroy();
}
