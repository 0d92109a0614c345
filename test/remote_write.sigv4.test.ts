/**
 * SigV4 for Amazon Managed Service for Prometheus, checked by a local https
 * endpoint that verifies each request as AWS would: the body's hash against
 * x-amz-content-sha256, then the signature recomputed with
 * @smithy/signature-v4's own SignatureV4 (service `aps`) over the method,
 * path, signed headers and body it received, with the same static test
 * credentials. The exporter gets them as on Lambda, from the environment
 * through the default provider chain (sdkSigner); nothing reads ~/.aws or
 * asks the instance metadata service.
 */
import { createHash, createHmac } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfig, type RemoteWriteConfig } from '../src/config.js';
import { PushError } from '../src/errors.js';
import { createLogger } from '../src/logger.js';
import { RefreshCache } from '../src/refresh.js';
import { WrittenRuns, remoteWrite } from '../src/remote_write.js';
import { collect } from '../src/run.js';
import { LastDeliveries } from '../src/sinks.js';
import {
  decodeWrite,
  startReceiver,
  type ReceivedRequest,
  type Receiver,
} from './harness/rw-receiver.js';
import { makeCertificates } from './harness/certs.js';

const ACCESS_KEY_ID = 'AKIDTESTEXAMPLE0001';
const SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYTESTSECRET1';
const SESSION_TOKEN = 'FQoGZXIvYXdzEXAMPLE-session-token-0123456789';
const REGION = 'eu-west-2';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rw-sigv4-'));
const certs = makeCertificates(tmp, 'sigv4-ca');
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

beforeEach(() => {
  // The default chain finds these first; nothing else of it may be asked.
  vi.stubEnv('AWS_ACCESS_KEY_ID', ACCESS_KEY_ID);
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', SECRET_ACCESS_KEY);
  vi.stubEnv('AWS_SESSION_TOKEN', SESSION_TOKEN);
  vi.stubEnv('AWS_PROFILE', undefined);
  vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
  vi.stubEnv('AWS_CONFIG_FILE', path.join(tmp, 'no-config'));
  vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', path.join(tmp, 'no-credentials'));
  vi.stubEnv('AWS_CONTAINER_CREDENTIALS_FULL_URI', undefined);
  vi.stubEnv('AWS_CONTAINER_CREDENTIALS_RELATIVE_URI', undefined);
  vi.stubEnv('AWS_WEB_IDENTITY_TOKEN_FILE', undefined);
});

let receiver: Receiver | undefined;
afterEach(async () => {
  vi.unstubAllEnvs();
  await receiver?.stop();
  receiver = undefined;
});

/** What the SDK hashes (@smithy/types' SourceData). */
type SourceData = string | ArrayBuffer | ArrayBufferView;

const bytes = (data: SourceData): string | Uint8Array =>
  typeof data === 'string' || data instanceof Uint8Array
    ? data
    : ArrayBuffer.isView(data)
      ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      : new Uint8Array(data);

/** node:crypto's SHA-256 and HMAC in the SDK's Checksum shape: independent of the exporter's. */
class Sha256 {
  readonly #hash;
  constructor(secret?: SourceData) {
    this.#hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: SourceData): void {
    this.#hash.update(bytes(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.#hash.digest()));
  }
}

interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

const GOOD: Credentials = {
  accessKeyId: ACCESS_KEY_ID,
  secretAccessKey: SECRET_ACCESS_KEY,
  sessionToken: SESSION_TOKEN,
};

/**
 * Whether a received request carries a valid SigV4 signature for `aps` in
 * `region` with `credentials`: why not, or undefined when it does.
 */
async function verify(
  request: ReceivedRequest,
  credentials: Credentials,
  region: string,
  body: Buffer = request.body,
): Promise<string | undefined> {
  const authorization = request.headers.authorization ?? '';
  const match =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/.exec(
      authorization,
    );
  if (match === null) return `not a SigV4 Authorization header: ${authorization.slice(0, 40)}`;
  const [, , , , , signedHeaders = ''] = match;
  const bodyHash = createHash('sha256').update(body).digest('hex');
  if (request.headers['x-amz-content-sha256'] !== bodyHash) return 'the body is not the one signed';
  const amzDate = String(request.headers['x-amz-date'] ?? '');
  const date = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (date === null) return `no x-amz-date: ${amzDate}`;
  const [, y, mo, d, h, mi, s] = date;
  const signingDate = new Date(`${y!}-${mo!}-${d!}T${h!}:${mi!}:${s!}Z`);
  const headers: Record<string, string> = {};
  for (const name of signedHeaders.split(';')) {
    // Recomputed from the body received, not taken from the request.
    if (name === 'x-amz-content-sha256') continue;
    const value = request.headers[name];
    if (typeof value !== 'string') return `signed header ${name} was not received`;
    headers[name] = value;
  }
  const host = request.headers.host ?? '';
  const signer = new SignatureV4({ credentials, region, service: 'aps', sha256: Sha256 });
  const resigned = await signer.sign(
    {
      method: request.method,
      protocol: 'https:',
      hostname: host.replace(/:\d+$/, ''),
      port: Number(host.slice(host.lastIndexOf(':') + 1)),
      path: request.url,
      query: {},
      headers,
      body,
    },
    { signingDate },
  );
  return resigned.headers.authorization === authorization
    ? undefined
    : 'the signature does not match';
}

/** A remote-write configuration as loadConfig makes it, for the local https endpoint. */
function sigv4Config(url: string, extra: Record<string, string> = {}): RemoteWriteConfig {
  const config = loadConfig({
    REMOTE_WRITE_URL: url,
    REMOTE_WRITE_SIGV4: 'true',
    REMOTE_WRITE_SIGV4_REGION: REGION,
    REMOTE_WRITE_CA_FILE: certs.ca,
    ...extra,
  }).remoteWrite;
  if (config === undefined) throw new Error('expected remote write');
  return config;
}

const key = { job: 'j', labels: { instance: 'i' } };
const BODY = '# TYPE g gauge\ng{n="0"} 1\ng{n="1"} 2\n';

function write(config: RemoteWriteConfig) {
  return remoteWrite({
    config,
    key,
    body: BODY,
    timestampMs: Date.now(),
    deadline: Date.now() + 20_000,
    written: new WrittenRuns(),
  });
}

describe('SigV4 through the default credential chain', () => {
  it('signs every request as SignatureV4 itself verifies it: service aps, the configured region', async () => {
    receiver = await startReceiver({ tls: { cert: certs.cert, key: certs.key } });
    const config = sigv4Config(receiver.url, {
      REMOTE_WRITE_HEADERS: 'X-Scope-OrgID: tenant-1',
      REMOTE_WRITE_BATCH_SAMPLES: '1',
    });
    expect(config.sigv4).toEqual({ region: REGION });
    const result = await write(config);
    expect(result.batches).toBe(2);
    expect(receiver.requests).toHaveLength(2);
    for (const request of receiver.requests) {
      expect(await verify(request, GOOD, REGION)).toBeUndefined();
      const authorization = request.headers.authorization ?? '';
      expect(authorization).toContain(`Credential=${ACCESS_KEY_ID}/`);
      expect(authorization).toMatch(/\/eu-west-2\/aps\/aws4_request, /);
      // The protocol's headers and the custom one are signed, as is the session token.
      const signed = /SignedHeaders=([^,]+)/.exec(authorization)?.[1]?.split(';');
      expect(signed).toEqual(
        expect.arrayContaining([
          'content-encoding',
          'content-type',
          'host',
          'x-amz-content-sha256',
          'x-amz-date',
          'x-amz-security-token',
          'x-prometheus-remote-write-version',
          'x-scope-orgid',
        ]),
      );
      expect(request.headers['x-amz-security-token']).toBe(SESSION_TOKEN);
      expect(request.headers['content-encoding']).toBe('snappy');
      expect(decodeWrite(request.body).timeseries).toHaveLength(1);
    }
  });

  it('a wrong secret key or a tampered body does not verify', async () => {
    receiver = await startReceiver({ tls: { cert: certs.cert, key: certs.key } });
    await write(sigv4Config(receiver.url));
    const [request] = receiver.requests;
    expect(await verify(request!, GOOD, REGION)).toBeUndefined();
    expect(
      await verify(request!, { ...GOOD, secretAccessKey: `${SECRET_ACCESS_KEY}x` }, REGION),
    ).toBe('the signature does not match');
    expect(await verify(request!, { ...GOOD, sessionToken: 'another-token' }, REGION)).toBe(
      'the signature does not match',
    );
    expect(await verify(request!, GOOD, 'us-east-1')).toBe('the signature does not match');
    const tampered = Buffer.from(request!.body);
    tampered[tampered.length - 1] = (tampered.at(-1) ?? 0) ^ 0xff;
    expect(await verify(request!, GOOD, REGION, tampered)).toBe('the body is not the one signed');
    // Even with the body hash header made to fit, the signature over it does not.
    const forged = {
      ...request!,
      headers: {
        ...request!.headers,
        'x-amz-content-sha256': createHash('sha256').update(tampered).digest('hex'),
      },
    };
    expect(await verify(forged, GOOD, REGION, tampered)).toBe('the signature does not match');
  });

  it('a 401 to a signed request does not say that no credentials were sent', async () => {
    receiver = await startReceiver({
      tls: { cert: certs.cert, key: certs.key },
      answer: () => ({ status: 401, body: 'bad signature' }),
    });
    await expect(write(sigv4Config(receiver.url))).rejects.toThrow(
      /HTTP 401 \(unauthorized: the Authorization header sent \(a signature\) was refused\): bad signature$/,
    );
  });

  it('no AWS credentials: an error naming remote write and SigV4 at once, nothing sent, not retried', async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', undefined);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', undefined);
    vi.stubEnv('AWS_SESSION_TOKEN', undefined);
    receiver = await startReceiver({ tls: { cert: certs.cert, key: certs.key } });
    const started = Date.now();
    // A region of its own: the signer of a region, and its credentials, are kept per process.
    const config = sigv4Config(receiver.url, { REMOTE_WRITE_SIGV4_REGION: 'ca-central-1' });
    await expect(write(config)).rejects.toThrow(
      new RegExp(
        `^writing to remote write endpoint ${receiver.url.replaceAll('.', '\\.')} failed: ` +
          'signing with SigV4 \\(REMOTE_WRITE_SIGV4, region ca-central-1\\) failed: .*credentials',
      ),
    );
    expect(Date.now() - started).toBeLessThan(config.timeoutMs);
    expect(receiver.requests).toHaveLength(0);
  });

  it('a retried request is signed afresh and still verifies', async () => {
    receiver = await startReceiver({
      tls: { cert: certs.cert, key: certs.key },
      answer: (index) => (index === 0 ? { status: 503 } : { status: 200 }),
    });
    await write(sigv4Config(receiver.url));
    expect(receiver.requests).toHaveLength(2);
    for (const request of receiver.requests) {
      expect(await verify(request, GOOD, REGION)).toBeUndefined();
    }
  });

  it('a refusal echoing the request: neither the secret key nor the session token in the error', async () => {
    receiver = await startReceiver({
      tls: { cert: certs.cert, key: certs.key },
      answer: (_index, request) => ({
        status: 403,
        body: `denied: ${JSON.stringify(request.headers)}`,
      }),
    });
    let error: unknown;
    try {
      await write(sigv4Config(receiver.url));
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(PushError);
    const message = (error as Error).message;
    expect(message).toMatch(/HTTP 403 \(forbidden\)/);
    // The token was sent and echoed.
    expect(receiver.requests[0]!.headers['x-amz-security-token']).toBe(SESSION_TOKEN);
    expect(message).not.toContain(SESSION_TOKEN);
    expect(message).not.toContain(SECRET_ACCESS_KEY);
    expect(receiver.requests).toHaveLength(1);
  });

  it("a whole run's log and error hold neither the secret key nor the session token", async () => {
    receiver = await startReceiver({
      tls: { cert: certs.cert, key: certs.key },
      answer: (_index, request) => ({
        status: 403,
        body: `denied: ${JSON.stringify(request.headers)}`,
      }),
    });
    const lines: string[] = [];
    let thrown: unknown;
    try {
      await collect(
        {
          POSTGRESQL_HOST: '127.0.0.1',
          REMOTE_WRITE_URL: receiver.url,
          REMOTE_WRITE_SIGV4: 'true',
          REMOTE_WRITE_SIGV4_REGION: REGION,
          REMOTE_WRITE_CA_FILE: certs.ca,
          AWS_ACCESS_KEY_ID: ACCESS_KEY_ID,
          AWS_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY,
          AWS_SESSION_TOKEN: SESSION_TOKEN,
        },
        {
          connect: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432')),
          log: createLogger({ write: (line) => lines.push(line) }),
          lastDeliveries: new LastDeliveries(),
          refreshCache: new RefreshCache(),
        },
      );
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(PushError);
    expect(receiver.requests).toHaveLength(1);
    expect(await verify(receiver.requests[0]!, GOOD, REGION)).toBeUndefined();
    expect(lines.some((l) => l.includes('HTTP 403'))).toBe(true);
    const everything = [...lines, (thrown as Error).message, (thrown as Error).stack ?? ''].join(
      '\n',
    );
    expect(everything).not.toContain(SECRET_ACCESS_KEY);
    expect(everything).not.toContain(SESSION_TOKEN);
  });

  it('the region of an AMP workspace URL is the signing region', () => {
    const config = loadConfig({
      REMOTE_WRITE_URL:
        'https://aps-workspaces.ap-southeast-2.amazonaws.com/workspaces/ws-1/api/v1/remote_write',
    }).remoteWrite;
    expect(config?.sigv4).toEqual({ region: 'ap-southeast-2' });
  });
});
