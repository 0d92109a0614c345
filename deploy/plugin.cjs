// A local Serverless Framework plugin (serverless.yml `plugins:`) for what
// deploy/resolve.cjs cannot do from variable resolution, which runs for every
// command alike (invoke local, offline, print, remove):
//
// - checks that only packaging and deploying need: a sink (PUSHGATEWAY_URL or
//   REMOTE_WRITE_URL, or both), which a local run may take from elsewhere, but
//   a deployed function must have, and TARGETS_FILE, which a local run may
//   read from anywhere, but a deployed function only from its package;
// - removing serverless-esbuild's zip staging folder from the temp directory.
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const process = require('node:process');
const { Buffer } = require('node:buffer');
const { URL } = require('node:url');

const PUSHGATEWAY_URL = 'PUSHGATEWAY_URL';
const REMOTE_WRITE_URL = 'REMOTE_WRITE_URL';
const TARGETS_FILE = 'TARGETS_FILE';
/** The folder serverless.yml packages for targets files (package.patterns). */
const TARGETS_FOLDER = 'targets';

const text = (value) => (value === undefined || value === null ? '' : String(value).trim());

/**
 * A sink's URL as the deployed function reads it: http or https, no query
 * string or fragment (src/config.ts refuses those at every run). Returns the
 * problem, or undefined. Never repeats the value: it may hold a
 * user:password@.
 */
function urlProblem(name, raw, example) {
  let url;
  try {
    url = new URL(raw);
  } catch {
    return `${name} is not a URL (${example})`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return `${name} must be an http:// or https:// URL, got the scheme "${url.protocol}" (${example})`;
  }
  if (url.search !== '' || url.hash !== '') {
    return `${name} must not have a query string or fragment`;
  }
  return undefined;
}

/**
 * The sinks of the deployed function: PUSHGATEWAY_URL, REMOTE_WRITE_URL, or
 * both; at least one, since the function delivers every run to them.
 * Returns the problem, or undefined.
 */
function sinksProblem(environment) {
  const pushgateway = text(environment[PUSHGATEWAY_URL]);
  const remoteWrite = text(environment[REMOTE_WRITE_URL]);
  const example = 'e.g. PUSHGATEWAY_URL=https://pushgateway.example.com:9091';
  if (pushgateway === '' && remoteWrite === '') {
    return (
      `${PUSHGATEWAY_URL} is required, unless ${REMOTE_WRITE_URL} is set: the function ` +
      `delivers every run there (${example}, or REMOTE_WRITE_URL=https://mimir.example.com/api/v1/push)`
    );
  }
  return (
    (pushgateway === '' ? undefined : urlProblem(PUSHGATEWAY_URL, pushgateway, example)) ??
    (remoteWrite === ''
      ? undefined
      : urlProblem(
          REMOTE_WRITE_URL,
          remoteWrite,
          "e.g. REMOTE_WRITE_URL=https://prometheus.example.com/api/v1/write, the receiver's write path",
        ))
  );
}

/**
 * TARGETS_FILE as the deployed function reads it, relative to its root: it
 * must be a file under targets/, the folder packaged with it. Returns the
 * problem, or undefined when it is unset.
 */
function targetsFileProblem(value) {
  const raw = value === undefined || value === null ? '' : String(value).trim();
  if (raw === '') return undefined;
  const relative = path.posix.normalize(raw);
  const segments = relative.split('/');
  if (
    path.posix.isAbsolute(relative) ||
    segments[0] !== TARGETS_FOLDER ||
    segments.length < 2 ||
    segments.some((segment) => segment.startsWith('.'))
  ) {
    return (
      `${TARGETS_FILE} must be a file under ${TARGETS_FOLDER}/, which is packaged with the ` +
      `function (no hidden folder), e.g. ${TARGETS_FOLDER}/fleet.yml; got "${raw}"`
    );
  }
  return undefined;
}

/** Lambda refuses a function whose environment (names and values together) is over 4 KB. */
const MAX_ENVIRONMENT_BYTES = 4096;

/**
 * A function environment past Lambda's 4 KB would fail the deploy in
 * CloudFormation, late and with AWS's message: say it here, and what to do.
 * Values that are not plain text yet (CloudFormation references) count by
 * their JSON, an over-estimate.
 */
function environmentSizeProblem(name, environment) {
  let bytes = 0;
  for (const [key, value] of Object.entries(environment)) {
    const text = typeof value === 'string' ? value : JSON.stringify(value ?? '');
    bytes += Buffer.byteLength(key) + Buffer.byteLength(text);
  }
  if (bytes <= MAX_ENVIRONMENT_BYTES) return undefined;
  return (
    `the environment of function ${name} is ${bytes} bytes, over Lambda's ` +
    `${MAX_ENVIRONMENT_BYTES}: a targets file's password_env variables are set on the ` +
    'function, one each; use secret_id (or iam_auth) for the targets of a large fleet'
  );
}

const escapeRegExp = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

class DeployPlugin {
  constructor(serverless, options) {
    this.serverless = serverless;
    this.options = options;
    this.cleanupRegistered = false;
    this.hooks = {
      // `serverless package`, and `serverless deploy`, which runs package first.
      'before:package:initialize': () => {
        this.checkFunctions(Object.keys(this.serverless.service.functions ?? {}));
        this.cleanZipStagingOnExit();
        this.removeStaleBuild();
      },
      // `serverless deploy function -f collect` updates the environment too.
      'before:deploy:function:initialize': () => {
        this.checkFunctions([this.options.function]);
        this.cleanZipStagingOnExit();
        this.removeStaleBuild();
      },
      'after:package:createDeploymentArtifacts': () => this.cleanZipStaging(),
      'after:deploy:function:packageFunction': () => this.cleanZipStaging(),
    };
  }

  fail(message) {
    throw new this.serverless.classes.Error(`serverless.yml: ${message}`, 'DEPLOY_CHECK_FAILED');
  }

  /** The environment each function is deployed with: the provider's, then its own. */
  checkFunctions(names) {
    const { service } = this.serverless;
    for (const name of names) {
      const environment = {
        ...service.provider.environment,
        ...(service.getFunction(name).environment ?? {}),
      };
      const problem =
        sinksProblem(environment) ??
        targetsFileProblem(environment[TARGETS_FILE]) ??
        environmentSizeProblem(name, environment);
      if (problem !== undefined) this.fail(problem);
    }
  }

  /**
   * serverless-esbuild (1.57.2) copies the artifact's files into
   * os.tmpdir()/<zip name>-<pid>-<ms>-<8 hex> to zip them, then removes that
   * folder without `recursive` and ignores the failure (ENOTEMPTY): the folder,
   * the whole bundle, stays. The zip is named after the service, or after each
   * function when packaged individually. Only this process's folders match.
   */
  cleanZipStaging() {
    const { service } = this.serverless;
    const names = [service.service, ...Object.keys(service.functions ?? {})].map(escapeRegExp);
    const staging = new RegExp(`^(?:${names.join('|')})-${process.pid}-\\d+-[0-9a-f]{8}$`);
    const tmp = os.tmpdir();
    let entries;
    try {
      entries = fs.readdirSync(tmp, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (entry.isDirectory() && staging.test(entry.name)) {
        fs.rmSync(path.join(tmp, entry.name), { recursive: true, force: true });
      }
    }
  }

  /**
   * serverless-esbuild zips everything in its build folder, .esbuild/.build: a
   * handler built there earlier (collectTarget, by `serverless offline` of a
   * fan-out fleet) would be packaged with a deployment that has no such
   * function. A package starts from an empty build folder.
   */
  removeStaleBuild() {
    fs.rmSync(path.join(this.serverless.serviceDir ?? process.cwd(), '.esbuild'), {
      recursive: true,
      force: true,
    });
  }

  /** Also when packaging fails after the copy, before the after: hooks. */
  cleanZipStagingOnExit() {
    if (this.cleanupRegistered) return;
    this.cleanupRegistered = true;
    process.once('exit', () => this.cleanZipStaging());
  }
}

module.exports = DeployPlugin;
