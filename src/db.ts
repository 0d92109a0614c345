/**
 * The only module that talks to PostgreSQL (pg). Every wait is bounded, every
 * session is read-only, and each run sets its own limits on the connection,
 * kept or new.
 */
import { createHash } from 'node:crypto';
import tls from 'node:tls';
import pg from 'pg';
import Cursor from 'pg-cursor';
import { ENV } from './config.js';
import { errorCode } from './errors.js';
import { readCaBundle } from './pem.js';
import type { PostgresTarget } from './target.js';

/** Predefined roles whose privileges collectors may need (Collector.needs). */
export type Privilege = 'pg_read_all_stats';

export const PRIVILEGES: readonly Privilege[] = ['pg_read_all_stats'];

export interface QueryOptions {
  /** Values of $1, $2, … */
  readonly params?: readonly unknown[];
  /**
   * Read at most this many rows, through a cursor: the rest is never fetched
   * from the server, so a huge result costs no memory. Such a query is not a
   * named prepared statement (it is parsed on every run).
   */
  readonly maxRows?: number;
}

/** What a collector may do with the database: run queries in a read-only session. */
export interface Queryable {
  query<Row>(sql: string, options?: QueryOptions): Promise<Row[]>;
}

export interface Database extends Queryable {
  /** `server_version_num`, e.g. 170004 for 17.4. */
  readonly serverVersion: number;
  /**
   * When the server started (pg_postmaster_start_time()), epoch ms, read this
   * run: with the version, what tells a restarted or failed-over server from
   * the one numbers were cached from (src/refresh.ts).
   */
  readonly startedAt: number;
  /** Whether the login role has the privileges of each predefined role, read this run. */
  readonly privileges: Readonly<Record<Privilege, boolean>>;
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
 * The start of every run on a connection, new or kept, in one round trip:
 * this run's statement_timeout, a read-only session (no collector or custom
 * query can write, whatever the role may do), the server version and start
 * time, and the role's privileges.
 */
const RUN_SETUP = `
SELECT current_setting('server_version_num') AS server_version_num,
  (extract(epoch FROM pg_postmaster_start_time()) * 1000)::float8 AS started_at_ms,
  set_config('statement_timeout', $1, false) AS statement_timeout,
  set_config('default_transaction_read_only', 'on', false) AS read_only,
  pg_has_role('pg_read_all_stats', 'USAGE') AS pg_read_all_stats`;

interface RunSetupRow {
  readonly server_version_num: string;
  readonly started_at_ms: number;
  readonly pg_read_all_stats: boolean;
}

/**
 * One name per statement text, for the whole process: each statement is
 * parsed and planned once per connection (a named prepared statement), not
 * on every run of a kept connection. A statement whose result type changed
 * under it (DDL on what it reads) gets a new name, so it is prepared afresh.
 */
const statementNames = new Map<string, string>();
let statementCount = 0;

function statementName(sql: string, renew = false): string {
  let name = statementNames.get(sql);
  if (name === undefined || renew) {
    statementCount += 1;
    name = `ppe_${statementCount}`;
    statementNames.set(sql, name);
  }
  return name;
}

/** PostgreSQL's answer to a prepared statement whose result columns changed (ALTER TABLE, an extension update). */
function isStalePlan(error: unknown): boolean {
  return (
    errorCode(error) === '0A000' &&
    /cached plan must not change result type/.test((error as Error).message)
  );
}

/** A connection, with what the session code below needs of it. */
interface Connection extends Database {
  /**
   * Starts a run on this connection: `deadline` (epoch ms) bounds its
   * queries; sets this run's statement_timeout (`statementTimeoutMs`, less
   * if the deadline is nearer) and the read-only session, and reads the
   * version and privileges, within `limitMs`.
   */
  begin(deadline: number, statementTimeoutMs: number, limitMs?: number): Promise<void>;
  /** False once the connection broke, was dropped or is not idle (an open transaction). */
  usable(): boolean;
  /** Whether the socket keeps the process alive: not while it only waits for the next run. */
  hold(held: boolean): void;
}

/**
 * Opens one connection and starts a run on it. Every wait is bounded: the
 * connect by `connectTimeoutMs`, each statement by `statement_timeout` on the
 * server and, in case the server stops answering, the same bound plus a
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
    statementTimeoutMs: options.statementTimeoutMs,
    broken: false,
    serverVersion: 0,
    startedAt: 0,
    privileges: { pg_read_all_stats: false } as Record<Privilege, boolean>,
  };
  const left = (wanted: number) => Math.max(1, Math.min(wanted, state.deadline - Date.now()));
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
    statement_timeout: left(options.statementTimeoutMs),
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
   * `work` bounded on the client: in case the server stops answering (paused,
   * network gone), a timer drops the connection. Never past the deadline.
   */
  const guarded = async <T>(work: () => Promise<T>, limitMs?: number): Promise<T> => {
    const clientLimitMs = left(limitMs ?? state.statementTimeoutMs + CLIENT_GRACE_MS);
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
      return await Promise.race([work(), timedOut]);
    } finally {
      clearTimeout(timer);
    }
  };

  const named = async <Row>(sql: string, params: readonly unknown[], renew = false) => {
    const res = await client.query<pg.QueryResultRow>({
      name: statementName(sql, renew),
      text: sql,
      values: [...params],
    });
    return res.rows as Row[];
  };

  const limited = async <Row>(sql: string, params: readonly unknown[], maxRows: number) => {
    const cursor = client.query(new Cursor<Row>(sql, [...params]));
    // On an error the cursor has already ended its portal (and synced): not closed again.
    const rows = await cursor.read(maxRows);
    // Ends the portal: the rows not read are never sent.
    await cursor.close();
    return rows;
  };

  const query = <Row>(sql: string, queryOptions: QueryOptions = {}, limitMs?: number) =>
    guarded(async () => {
      const params = queryOptions.params ?? [];
      if (queryOptions.maxRows !== undefined) {
        return limited<Row>(sql, params, queryOptions.maxRows);
      }
      try {
        return await named<Row>(sql, params);
      } catch (error) {
        // Prepared before a DDL changed what it returns: prepare it again, once.
        if (!isStalePlan(error)) throw error;
        return named<Row>(sql, params, true);
      }
    }, limitMs);

  const begin = async (deadline: number, statementTimeoutMs: number, limitMs?: number) => {
    state.deadline = deadline;
    state.statementTimeoutMs = left(statementTimeoutMs);
    const [row] = await query<RunSetupRow>(
      RUN_SETUP,
      { params: [String(state.statementTimeoutMs)] },
      limitMs,
    );
    const serverVersion = Number(row?.server_version_num);
    if (!Number.isInteger(serverVersion)) throw new Error('server did not report its version');
    const startedAt = Number(row?.started_at_ms);
    if (!Number.isFinite(startedAt)) throw new Error('server did not report its start time');
    state.serverVersion = serverVersion;
    state.startedAt = startedAt;
    state.privileges = { pg_read_all_stats: row?.pg_read_all_stats === true };
  };

  try {
    await client.connect();
    await begin(state.deadline, options.statementTimeoutMs);
  } catch (error) {
    await closeClient(client);
    throw error;
  }
  return {
    get serverVersion() {
      return state.serverVersion;
    },
    get startedAt() {
      return state.startedAt;
    },
    get privileges() {
      return state.privileges;
    },
    query: (sql, queryOptions) => query(sql, queryOptions),
    close: () => closeClient(client),
    begin,
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
  /**
   * Which of a run's sessions on the same target this is, when it has more
   * than one at once (Collector.ownSession): each is kept apart. Default ''.
   */
  readonly lane?: string;
}

/** A connection kept between runs, and whether a run has it now. */
interface Kept {
  readonly key: string;
  readonly connection: Connection;
  idleSince: number;
  busy: boolean;
}

/**
 * The connections a warm process keeps between runs, one per target (a
 * fleet collected inline keeps one for each of its targets), by session key.
 */
const kept = new Map<string, Kept>();

/**
 * At most this many connections are kept; a run past it closes its own. Not
 * the one idle longest: a fleet visits its targets in the same order every
 * run, so evicting that one would evict each just before its target comes
 * round again, and none would ever be reused. Each is an idle backend on its
 * server and a socket here.
 */
export const MAX_KEPT_CONNECTIONS = 200;

/**
 * What must match for a kept connection to serve a run: the server, the
 * login and the session's name. Not the limits: each run sets its own.
 */
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
        options.lane ?? '',
      ]),
    )
    .digest('hex');
}

/**
 * A connection for one run: the one kept from an earlier run of this process
 * when it is for the same target and answers within a second, else a new one
 * (`password`, when given, makes its password, e.g. an IAM token, only then).
 * Either way the run's own statement_timeout and the read-only session are
 * set first. The returned database's close() keeps the connection for the
 * next run when `keepSeconds` > 0 and it is healthy and idle; PostgreSQL 14+
 * also closes it itself after `keepSeconds` idle (idle_session_timeout), so a
 * process that goes away leaves no session behind for long.
 */
export async function openSession(
  target: PostgresTarget,
  options: SessionOptions,
  password?: () => Promise<string>,
): Promise<Database> {
  const key = sessionKey(target, options, password !== undefined);
  const keep = options.keepSeconds > 0;
  // Without keeping, a run neither takes nor disturbs a kept connection.
  if (!keep) return lease(await open(target, options, password), options, key);
  const previous = kept.get(key);
  if (previous !== undefined && !previous.busy) {
    kept.delete(key);
    const fresh = Date.now() - previous.idleSince <= options.keepSeconds * 1_000;
    const { connection } = previous;
    if (fresh && connection.usable()) {
      connection.hold(true);
      try {
        await connection.begin(
          options.deadline,
          options.statementTimeoutMs,
          Math.min(PING_TIMEOUT_MS, options.connectTimeoutMs),
        );
        previous.busy = true;
        kept.set(key, previous);
        return lease(connection, options, key);
      } catch {
        // Gone while the process waited (server restarted, network dropped): connect afresh.
      }
    }
    await connection.close();
  }
  await closeExpired(options.keepSeconds);
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
    startedAt: connection.startedAt,
    privileges: connection.privileges,
    query: (sql, queryOptions) => connection.query(sql, queryOptions),
    close: () => release(connection, options, key),
  };
}

async function release(
  connection: Connection,
  options: SessionOptions,
  key: string,
): Promise<void> {
  const keep = options.keepSeconds > 0 && connection.usable();
  const entry = kept.get(key);
  if (entry?.connection === connection) {
    if (keep) {
      entry.busy = false;
      entry.idleSince = Date.now();
      connection.hold(false);
      return;
    }
    kept.delete(key);
  } else if (keep && entry === undefined && kept.size < MAX_KEPT_CONNECTIONS) {
    kept.set(key, { key, connection, idleSince: Date.now(), busy: false });
    connection.hold(false);
    return;
  }
  await connection.close();
}

/** Closes kept connections idle for longer than `keepSeconds`: no run will take them. */
async function closeExpired(keepSeconds: number): Promise<void> {
  const limit = Date.now() - keepSeconds * 1_000;
  const expired = [...kept.values()].filter((e) => !e.busy && e.idleSince < limit);
  for (const entry of expired) kept.delete(entry.key);
  await Promise.all(expired.map((e) => e.connection.close()));
}

/** Closes every connection kept between runs (tests, scripts, shutdown). */
export async function closeKeptConnection(): Promise<void> {
  const all = [...kept.values()];
  kept.clear();
  await Promise.all(all.map((e) => e.connection.close()));
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
