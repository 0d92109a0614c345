// Values serverless.yml computes at package time, from its params. Every
// problem is an error here, at `serverless package`, not a broken deployment.
// Loaded by the Serverless Framework's ${file(./deploy/resolve.cjs):name}.
'use strict';

const tsx = require('tsx/cjs/api');
/** @type {typeof import('../src/schedule')} */
const { parseSchedule } = tsx.require('../src/schedule.ts', __filename);

/** Lambda's longest timeout. */
const LAMBDA_MAX_TIMEOUT_S = 900;

async function param(resolveVariable, name) {
  const value = await resolveVariable(`param:${name}`);
  return value === undefined || value === null ? '' : String(value).trim();
}

function fail(message) {
  throw new Error(`serverless.yml: ${message}`);
}

async function schedule({ resolveVariable }) {
  const expression = await param(resolveVariable, 'schedule');
  if (expression === '') {
    fail('the schedule is empty: set SCHEDULE or --param schedule=, e.g. "rate(1 minute)"');
  }
  try {
    return parseSchedule(expression);
  } catch (error) {
    return fail(error.message);
  }
}

/** The shortest time between two runs, in seconds; cron() fires at most once a minute. */
function intervalSeconds(parsed) {
  return parsed.kind === 'rate' ? parsed.intervalMs / 1000 : 60;
}

module.exports.schedule = async (context) => (await schedule(context)).expression;

/** The function timeout: below the interval, so that runs never overlap. */
module.exports.timeout = async (context) => {
  const raw = await param(context.resolveVariable, 'timeout');
  const timeout = Number(raw);
  if (!/^\d+$/.test(raw) || timeout < 3 || timeout > LAMBDA_MAX_TIMEOUT_S) {
    fail(`timeout must be whole seconds from 3 to ${LAMBDA_MAX_TIMEOUT_S}, got "${raw}"`);
  }
  const parsed = await schedule(context);
  const interval = intervalSeconds(parsed);
  if (timeout >= interval) {
    fail(
      `timeout ${timeout} s must be below the schedule's interval (${parsed.expression}: ${interval} s)`,
    );
  }
  return timeout;
};

/** A scheduled event older than one interval is dropped, not run late. */
module.exports.maximumEventAge = async (context) =>
  Math.min(Math.max(intervalSeconds(await schedule(context)), 60), 21_600);

module.exports.memorySize = async ({ resolveVariable }) => {
  const raw = await param(resolveVariable, 'memorySize');
  const memory = Number(raw);
  if (!/^\d+$/.test(raw) || memory < 128 || memory > 10_240) {
    fail(`memorySize must be MB from 128 to 10240, got "${raw}"`);
  }
  return memory;
};

const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[^*?]+$/;
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[0-9a-f-]+$/;

/**
 * Least privilege: read the one configured secret, decrypt with the one
 * configured key. Nothing at all when no secret is configured; never `*`.
 */
module.exports.iamStatements = async ({ resolveVariable }) => {
  const secretArn = await param(resolveVariable, 'secretArn');
  const kmsKeyArn = await param(resolveVariable, 'kmsKeyArn');
  const statements = [];
  if (secretArn !== '') {
    if (!SECRET_ARN.test(secretArn)) {
      fail(`secretArn must be the secret's full ARN (no wildcards), got "${secretArn}"`);
    }
    statements.push({
      Effect: 'Allow',
      Action: ['secretsmanager:GetSecretValue'],
      Resource: [secretArn],
    });
  }
  if (kmsKeyArn !== '') {
    if (secretArn === '') fail('kmsKeyArn is only used with secretArn');
    if (!KMS_KEY_ARN.test(kmsKeyArn)) fail(`kmsKeyArn must be a key ARN, got "${kmsKeyArn}"`);
    statements.push({
      Effect: 'Allow',
      Action: ['kms:Decrypt'],
      Resource: [kmsKeyArn],
      Condition: {
        StringEquals: {
          'kms:ViaService': `secretsmanager.${secretArn.split(':')[3]}.amazonaws.com`,
        },
      },
    });
  }
  return statements;
};

const list = (value) =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');

/** VPC placement for a database in private subnets: both lists, or neither. */
async function vpc({ resolveVariable }) {
  const subnetIds = list(await param(resolveVariable, 'subnetIds'));
  const securityGroupIds = list(await param(resolveVariable, 'securityGroupIds'));
  if (subnetIds.length === 0 && securityGroupIds.length === 0) return undefined;
  if (subnetIds.length === 0 || securityGroupIds.length === 0) {
    fail('VPC placement needs both subnetIds and securityGroupIds');
  }
  return { subnetIds, securityGroupIds };
}

/** custom.collect, plus `vpc` when one is configured. */
module.exports.collectFunction = async (context) => {
  const definition = await context.resolveConfigurationProperty(['custom', 'collect']);
  const placement = await vpc(context);
  return placement === undefined ? definition : { ...definition, vpc: placement };
};
