import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, errorMessage } from './errors.js';

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** Bundles already read, by variable and absolute path: each is read once per container. */
const bundles = new Map<string, readonly string[]>();

/**
 * The certificates of a PEM CA bundle named by `variable` (e.g. the RDS
 * global bundle). A relative path is taken from the function's root
 * (LAMBDA_TASK_ROOT on Lambda, else the working directory). Read on first use,
 * as loading the configuration does no I/O. A file that cannot be read or
 * holds no valid certificate is a ConfigError naming the variable and path.
 */
export function readCaBundle(variable: string, file: string): readonly string[] {
  const full = path.resolve(process.env.LAMBDA_TASK_ROOT ?? process.cwd(), file);
  const key = `${variable}\0${full}`;
  const cached = bundles.get(key);
  if (cached !== undefined) return cached;
  const where = full === file ? file : `${file} (${full})`;
  let text: string;
  try {
    text = fs.readFileSync(full, 'utf8');
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new ConfigError(
      variable,
      `cannot read ${where}: ${typeof code === 'string' ? code : errorMessage(error)}`,
    );
  }
  const certificates = text.match(PEM_CERTIFICATE) ?? [];
  if (certificates.length === 0) {
    throw new ConfigError(
      variable,
      `${where} is not a PEM bundle: no "-----BEGIN CERTIFICATE-----" block`,
    );
  }
  certificates.forEach((pem, index) => {
    try {
      new X509Certificate(pem);
    } catch (error) {
      throw new ConfigError(
        variable,
        `${where}: certificate ${index + 1} of ${certificates.length} is not valid: ${errorMessage(error)}`,
      );
    }
  });
  bundles.set(key, certificates);
  return certificates;
}
