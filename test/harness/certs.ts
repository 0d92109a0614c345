/**
 * Certificates for TLS tests, made with the openssl CLI: a self-signed CA and
 * a server certificate for 127.0.0.1 and localhost signed by it.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

function openssl(dir: string, args: string[]): void {
  try {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(
      `openssl ${args[0] ?? ''} failed (apt-get install openssl): ${String(error)}\n${stderr}`,
    );
  }
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/**
 * A self-signed CA `<name>.pem` in `dir` and a server certificate for
 * 127.0.0.1 and localhost signed by it (`<name>-server.pem`, `.key`).
 */
export function makeCertificates(
  dir: string,
  name: string,
): { ca: string; cert: string; key: string } {
  openssl(dir, [
    'req',
    '-x509',
    ...EC,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.pem`,
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  fs.writeFileSync(
    path.join(dir, `${name}-server.ext`),
    [
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      'basicConstraints=CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=serverAuth',
      '',
    ].join('\n'),
  );
  openssl(dir, [
    'req',
    '-new',
    ...EC,
    '-keyout',
    `${name}-server.key`,
    '-out',
    `${name}-server.csr`,
    '-subj',
    '/CN=localhost',
  ]);
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}-server.csr`,
    '-CA',
    `${name}.pem`,
    '-CAkey',
    `${name}.key`,
    '-set_serial',
    `0x${randomBytes(8).toString('hex')}`,
    '-days',
    '2',
    '-extfile',
    `${name}-server.ext`,
    '-out',
    `${name}-server.pem`,
  ]);
  return {
    ca: path.join(dir, `${name}.pem`),
    cert: path.join(dir, `${name}-server.pem`),
    key: path.join(dir, `${name}-server.key`),
  };
}
