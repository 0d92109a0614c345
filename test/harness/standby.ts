/**
 * A real streaming replication chain of one major, without pg_basebackup:
 * primary → standby → cascade. The primary (wal_level replica) is set up, then
 * stopped cleanly; two copies of its data directory start as hot standbys
 * (standby.signal, primary_conninfo, primary_slot_name on their own ports),
 * the primary starts again, and start() resolves once both standbys stream.
 * The standby streams from the primary through a physical slot of the
 * primary; the cascade streams from the standby through a physical slot of
 * the standby. The pg_monitor role is created on the primary before the copy,
 * so every server has it. stop() leaves no process or directory behind.
 */
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { MONITOR_USER, createMonitorRole } from './global-setup.js';
import { eventually } from './ports.js';
import { startPostgres, type PostgresServer } from './postgres.js';

/** A standby's name in pg_stat_replication and the slot it streams through. */
export interface StandbyName {
  readonly applicationName: string;
  readonly slot: string;
}

export const STANDBY: StandbyName = { applicationName: 'standby1', slot: 'standby1_slot' };
export const CASCADE: StandbyName = { applicationName: 'cascade1', slot: 'cascade1_slot' };

/** The role the standbys connect as (REPLICATION, no superuser). */
export const REPLICATION_USER = 'replicator';

export interface ReplicationChain {
  readonly primary: PostgresServer;
  /** Streams from the primary. */
  readonly standby: PostgresServer;
  /** Streams from the standby (cascading replication). */
  readonly cascade: PostgresServer;
  /** The pg_monitor-only role on every server. */
  readonly monitorUser: string;
  readonly monitorPassword: string;
  stop(): Promise<void>;
}

/** Settings of every server of the chain; a standby takes them from the copy too. */
const SETTINGS = {
  shared_preload_libraries: 'pg_stat_statements',
  wal_level: 'replica',
  max_wal_senders: '5',
  max_replication_slots: '5',
  hot_standby: 'on',
  // The harness turns it off; on, a commit's WAL is written (pg_current_wal_lsn()) when it returns.
  synchronous_commit: 'on',
  // Replies (and so the primary's replay_lsn) every second, not every 10 s.
  wal_receiver_status_interval: '1s',
  // A standby started before its upstream retries soon, not after 5 s.
  wal_retrieve_retry_interval: '200ms',
};

/** How long the standbys may take to stream, on a loaded machine. */
const STREAMING_TIMEOUT_MS = 30_000;

async function query<T extends pg.QueryResultRow>(
  server: PostgresServer,
  sql: string,
  values: unknown[] = [],
): Promise<T[]> {
  const client = await server.client();
  try {
    return (await client.query<T>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

/** Waits until `upstream`'s pg_stat_replication shows `name` streaming. */
async function waitStreaming(
  upstream: PostgresServer,
  name: StandbyName,
  standby: PostgresServer,
): Promise<void> {
  try {
    await eventually(async () => {
      const rows = await query<{ state: string }>(
        upstream,
        'SELECT state FROM pg_stat_replication WHERE application_name = $1',
        [name.applicationName],
      );
      if (rows[0]?.state !== 'streaming') {
        throw new Error(`state ${JSON.stringify(rows.map((r) => r.state))}`);
      }
    }, STREAMING_TIMEOUT_MS);
  } catch (error) {
    throw new Error(
      `${name.applicationName} is not streaming from port ${upstream.port}: ${String(error)}\n` +
        `standby log:\n${standby.logTail()}\nupstream log:\n${upstream.logTail()}`,
    );
  }
}

export async function startReplicationChain(binDir: string): Promise<ReplicationChain> {
  const started: PostgresServer[] = [];
  const stopAll = async () => {
    await Promise.all(started.map((server) => server.stop()));
  };
  try {
    const primary = await startPostgres({ binDir, settings: SETTINGS });
    started.push(primary);
    const replicationPassword = `rep-${randomBytes(9).toString('base64url')}`;
    const admin = await primary.client();
    let monitorPassword: string;
    try {
      await admin.query(
        `CREATE ROLE ${REPLICATION_USER} LOGIN REPLICATION PASSWORD '${replicationPassword}'`,
      );
      monitorPassword = await createMonitorRole(admin);
      await admin.query('CREATE EXTENSION pg_stat_statements');
      // Reserved now, so the primary keeps the WAL the standby needs from its first start.
      await admin.query('SELECT pg_create_physical_replication_slot($1, true)', [STANDBY.slot]);
    } finally {
      await admin.end();
    }

    const standbyOf = (upstream: PostgresServer, name: StandbyName) =>
      startPostgres({
        binDir,
        from: { dataDir: primary.dataDir, password: primary.password },
        files: { 'standby.signal': '' },
        settings: {
          ...SETTINGS,
          primary_conninfo: [
            `host=${upstream.host}`,
            `port=${upstream.port}`,
            `user=${REPLICATION_USER}`,
            `password=${replicationPassword}`,
            `application_name=${name.applicationName}`,
            'connect_timeout=5',
          ].join(' '),
          primary_slot_name: name.slot,
        },
      });

    let standby: PostgresServer | undefined;
    let cascade: PostgresServer | undefined;
    // Both copies are of the cleanly stopped primary; a hot standby accepts
    // connections before its upstream is up (a shutdown checkpoint is consistent).
    await primary.restart(async () => {
      standby = await standbyOf(primary, STANDBY);
      started.push(standby);
      await query(standby, 'SELECT pg_create_physical_replication_slot($1, true)', [CASCADE.slot]);
      cascade = await standbyOf(standby, CASCADE);
      started.push(cascade);
    });
    if (standby === undefined || cascade === undefined) throw new Error('no standby started');
    await waitStreaming(primary, STANDBY, standby);
    await waitStreaming(standby, CASCADE, cascade);
    return {
      primary,
      standby,
      cascade,
      monitorUser: MONITOR_USER,
      monitorPassword,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
