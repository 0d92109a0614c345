/**
 * Self-tests of the hostile PostgreSQL server: its framing byte by byte over a
 * raw socket, and each mode against the real `pg` client.
 */
import net from 'node:net';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import {
  errorResponse,
  errorText,
  message,
  startHostilePostgres,
  type HostilePostgres,
  type HostilePostgresOptions,
} from './hostile-postgres.js';
import { eventually } from './ports.js';

const MB = 1024 * 1024;
let servers: HostilePostgres[] = [];
const clients: pg.Client[] = [];

async function start(options: HostilePostgresOptions): Promise<HostilePostgres> {
  const server = await startHostilePostgres(options);
  servers.push(server);
  return server;
}

function client(server: HostilePostgres, extra: pg.ClientConfig = {}): pg.Client {
  const c = new pg.Client({
    host: server.host,
    port: server.port,
    user: 'u',
    database: 'd',
    password: 'p',
    ...extra,
  });
  c.on('error', () => {
    // a connection error after connect() is reported by the rejected promise
  });
  clients.push(c);
  return c;
}

afterEach(async () => {
  for (const c of clients.splice(0)) await c.end().catch(() => undefined);
  await Promise.all(servers.map((s) => s.stop()));
  servers = [];
});

/** A StartupMessage for protocol 3.0 with these parameters. */
function startupMessage(parameters: Record<string, string>): Buffer {
  const pairs = Object.entries(parameters).flatMap(([k, v]) => [k, v]);
  const body = Buffer.from(pairs.map((s) => s + '\0').join('') + '\0', 'utf8');
  const head = Buffer.alloc(8);
  head.writeInt32BE(body.length + 8, 0);
  head.writeInt32BE(196608, 4);
  return Buffer.concat([head, body]);
}

function request(code: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeInt32BE(8, 0);
  b.writeInt32BE(code, 4);
  return b;
}

/** Everything the server sends until it closes the connection. */
function rawSession(
  server: HostilePostgres,
  steps: ((socket: net.Socket, received: Buffer) => void)[],
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(server.port, server.host);
    let received = Buffer.alloc(0);
    let step = 0;
    socket.on('connect', () => steps[step++]?.(socket, received));
    socket.on('data', (c: Buffer) => {
      received = Buffer.concat([received, c]);
      steps[step++]?.(socket, received);
    });
    socket.on('error', reject);
    socket.on('close', () => {
      resolve(received);
    });
  });
}

/** The ErrorResponse fields of one 'E' message at the start of `data`. */
function parseError(data: Buffer): { fields: Record<string, string>; length: number } {
  expect(String.fromCharCode(data[0]!)).toBe('E');
  const length = data.readInt32BE(1);
  const payload = data.subarray(5, 1 + length);
  expect(payload.length).toBe(length - 4);
  expect(payload[payload.length - 1]).toBe(0);
  const fields: Record<string, string> = {};
  let at = 0;
  while (payload[at] !== 0) {
    const code = String.fromCharCode(payload[at]!);
    const end = payload.indexOf(0, at + 1);
    fields[code] = payload.subarray(at + 1, end).toString('utf8');
    at = end + 1;
  }
  expect(at).toBe(payload.length - 1);
  return { fields, length: 1 + length };
}

describe('framing', () => {
  it('writes the type byte, an int32 length that counts itself, and the payload', () => {
    expect([...message('Z', Buffer.from('I'))]).toEqual([0x5a, 0, 0, 0, 5, 0x49]);
    expect([...message('S')]).toEqual([0x53, 0, 0, 0, 4]);
  });

  it('writes ErrorResponse fields as (code, cstring) pairs ending with a zero byte', () => {
    const e = errorResponse({ S: 'FATAL', C: '28000', M: 'no' });
    expect(e.toString('latin1')).toBe('E\0\0\0\x17SFATAL\0C28000\0Mno\0\0');
    expect(e.readInt32BE(1)).toBe(e.length - 1);
  });

  it('makes a message of exactly `bytes` bytes, prefix included', () => {
    expect(errorText({ bytes: 5 })).toBe('xxxxx');
    expect(errorText({ bytes: 6, prefix: 'é:' })).toBe('é:xxx');
    expect(() => errorText({ bytes: 1, prefix: 'ab' })).toThrow(RangeError);
    expect(() => errorText({ bytes: 3, prefix: 'a\0' })).toThrow(RangeError);
  });

  it('wants exactly one mode', async () => {
    await expect(startHostilePostgres({} as HostilePostgresOptions)).rejects.toThrow(TypeError);
    await expect(
      startHostilePostgres({
        silentAfterStartup: true,
        errorOnStartup: { bytes: 1 },
      } as unknown as HostilePostgresOptions),
    ).rejects.toThrow(TypeError);
  });
});

describe('errorOnStartup', () => {
  it("answers an SSLRequest with 'N', then the StartupMessage with a FATAL error, and closes", async () => {
    const server = await start({ errorOnStartup: { bytes: 1000, prefix: 'boom ' } });
    const received = await rawSession(server, [
      (s) => s.write(request(80877103)),
      (s, got) => {
        expect(got.toString('latin1')).toBe('N');
        s.write(startupMessage({ user: 'u', database: 'd' }));
      },
    ]);
    expect(received.toString('latin1', 0, 1)).toBe('N');
    const { fields, length } = parseError(received.subarray(1));
    expect(length).toBe(received.length - 1);
    expect(fields.S).toBe('FATAL');
    expect(fields.V).toBe('FATAL');
    expect(fields.C).toBe('28000');
    expect(fields.M).toHaveLength(1000);
    expect(fields.M!.startsWith('boom xxx')).toBe(true);
    expect(server.stats.sslRequests).toBe(1);
    expect(server.stats.startups).toEqual([{ user: 'u', database: 'd' }]);
    expect(server.stats.bytesSent).toBe(received.length);
  });

  it("answers a GSSENCRequest with 'N' as well", async () => {
    const server = await start({ errorOnStartup: { bytes: 10, code: '53300' } });
    const received = await rawSession(server, [
      (s) => s.write(request(80877104)),
      (s) => s.write(startupMessage({ user: 'u' })),
    ]);
    expect(received.toString('latin1', 0, 1)).toBe('N');
    expect(parseError(received.subarray(1)).fields.C).toBe('53300');
    expect(server.stats.gssEncRequests).toBe(1);
  });

  it('hands pg a 1 MB error on connect', async () => {
    const server = await start({ errorOnStartup: { bytes: MB } });
    const error = await client(server)
      .connect()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(Error);
    expect((error as pg.DatabaseError).message).toHaveLength(MB);
    expect((error as pg.DatabaseError).code).toBe('28000');
    expect((error as pg.DatabaseError).severity).toBe('FATAL');
    expect(server.stats.connections).toBe(1);
    expect(server.stats.bytesSent).toBeGreaterThan(MB);
    expect(server.stats.startups[0]).toMatchObject({ user: 'u', database: 'd' });
  });

  it("makes pg's ssl: true fail on the 'N'", async () => {
    const server = await start({ errorOnStartup: { bytes: 1 } });
    await expect(client(server, { ssl: true }).connect()).rejects.toThrow(
      'The server does not support SSL connections',
    );
    expect(server.stats.sslRequests).toBe(1);
  });
});

describe('acceptThenErrorOnQuery', () => {
  it('lets pg connect, then fails every extended and simple query with a long error', async () => {
    const bytes = 256 * 1024;
    const server = await start({ acceptThenErrorOnQuery: { bytes } });
    const c = client(server);
    await c.connect();

    const named = await c.query({ name: 's1', text: 'SELECT 1' }).then(
      () => undefined,
      (e: unknown) => e as pg.DatabaseError,
    );
    expect(named?.message).toHaveLength(bytes);
    expect(named?.severity).toBe('ERROR');
    expect(named?.code).toBe('XX000');

    const simple = await c.query('SELECT 1').then(
      () => undefined,
      (e: unknown) => e as pg.DatabaseError,
    );
    expect(simple?.message).toHaveLength(bytes);

    // ReadyForQuery came each time: the connection still takes queries.
    await expect(c.query('SELECT $1::int', [1])).rejects.toThrow('xxxx');
    await expect(c.query({ name: 's1', text: 'SELECT 1' })).rejects.toThrow('xxxx');
    expect(server.stats.queryErrors).toBe(4);
    expect(server.stats.simpleQueries).toBe(1);
    expect(server.stats.parses).toBeGreaterThanOrEqual(2);
    expect(server.stats.bytesSent).toBeGreaterThan(4 * bytes);
    await c.end();
  });

  it('sends ParameterStatus and BackendKeyData before ReadyForQuery, and honours the code', async () => {
    const server = await start({ acceptThenErrorOnQuery: { bytes: 3, code: '57014' } });
    const c = client(server);
    const statuses: Record<string, string> = {};
    const connection = (
      c as unknown as {
        connection: {
          on(
            e: 'parameterStatus',
            f: (m: { parameterName: string; parameterValue: string }) => void,
          ): void;
        };
      }
    ).connection;
    connection.on('parameterStatus', (m) => {
      statuses[m.parameterName] = m.parameterValue;
    });
    await c.connect();
    expect(statuses).toMatchObject({
      server_version: '15.0',
      server_encoding: 'UTF8',
      client_encoding: 'UTF8',
      standard_conforming_strings: 'on',
      integer_datetimes: 'on',
    });
    expect((c as unknown as { processID: number }).processID).toBe(4242);
    await expect(c.query('SELECT 1')).rejects.toMatchObject({ code: '57014', message: 'xxx' });
  });
});

describe('silentAfterStartup', () => {
  it('reads the startup and never answers, so pg times out', async () => {
    const server = await start({ silentAfterStartup: true });
    const started = Date.now();
    await expect(client(server, { connectionTimeoutMillis: 300 }).connect()).rejects.toThrow(
      /timeout/i,
    );
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(server.stats.startups).toHaveLength(1);
    expect(server.stats.bytesSent).toBe(0);
  });
});

describe('stop', () => {
  it('destroys open sockets, and may be called again', async () => {
    const server = await start({ silentAfterStartup: true });
    const socket = net.connect(server.port, server.host);
    socket.on('error', () => undefined);
    const closed = new Promise((resolve) => socket.on('close', resolve));
    await new Promise((resolve) => socket.on('connect', resolve));
    socket.write(startupMessage({ user: 'u' }));
    await eventually(async () => {
      expect(server.stats.startups).toHaveLength(1);
      await Promise.resolve();
    }, 2_000);
    expect(server.stats.open).toBe(1);
    const started = Date.now();
    const first = server.stop();
    expect(server.stop()).toBe(first);
    await first;
    await closed;
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(server.stats.open).toBe(0);
    await expect(
      new Promise((resolve, reject) => {
        const s = net.connect(server.port, server.host);
        s.on('connect', () => {
          s.destroy();
          resolve('connected');
        });
        s.on('error', reject);
      }),
    ).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});
