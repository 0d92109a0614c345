// A local Serverless Framework plugin (serverless.yml `plugins:`) for what
// deploy/resolve.cjs cannot do from variable resolution, which runs for every
// command alike (invoke local, offline, print, remove):
//
// checks that only packaging and deploying need: PUSHGATEWAY_URL, which a
// local run may take from elsewhere, but a deployed function must have.
'use strict';

const { URL } = require('node:url');

const PUSHGATEWAY_URL = 'PUSHGATEWAY_URL';

/**
 * PUSHGATEWAY_URL as the deployed function reads it: required, http or https,
 * no query string or fragment (src/config.ts refuses those at every run).
 * Returns the problem, or undefined. Never repeats the value: it may hold a
 * user:password@.
 */
function pushgatewayUrlProblem(value) {
  const raw = value === undefined || value === null ? '' : String(value).trim();
  const example = 'e.g. PUSHGATEWAY_URL=https://pushgateway.example.com:9091';
  if (raw === '') {
    return `${PUSHGATEWAY_URL} is required: the function pushes there on every run (${example})`;
  }
  let url;
  try {
    url = new URL(raw);
  } catch {
    return `${PUSHGATEWAY_URL} is not a URL (${example})`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return `${PUSHGATEWAY_URL} must be an http:// or https:// URL, got the scheme "${url.protocol}" (${example})`;
  }
  if (url.search !== '' || url.hash !== '') {
    return `${PUSHGATEWAY_URL} must not have a query string or fragment`;
  }
  return undefined;
}

class DeployPlugin {
  constructor(serverless, options) {
    this.serverless = serverless;
    this.options = options;
    this.hooks = {
      // `serverless package`, and `serverless deploy`, which runs package first.
      'before:package:initialize': () => {
        this.checkFunctions(Object.keys(this.serverless.service.functions ?? {}));
      },
      // `serverless deploy function -f collect` updates the environment too.
      'before:deploy:function:initialize': () => {
        this.checkFunctions([this.options.function]);
      },
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
      const problem = pushgatewayUrlProblem(environment[PUSHGATEWAY_URL]);
      if (problem !== undefined) this.fail(problem);
    }
  }
}

module.exports = DeployPlugin;
