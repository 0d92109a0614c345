// Values serverless.yml computes at package time, from its params. Every
// problem is an error here, at `serverless package`, not a broken deployment.
// Loaded by the Serverless Framework's ${file(./deploy/resolve.cjs):name}.
'use strict';

// tsx's disk cache (os.tmpdir()/tsx-<uid>) would gain a file on every serverless command:
// tsx.require() keys it by a namespace made of Date.now(), so it never hits.
// Compiling the one small file is quick. tsx reads this when it loads: set before require.
const process = require('node:process');
process.env.TSX_DISABLE_CACHE ??= '1';
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
module.exports.iamStatements = async (context) => {
  const { resolveVariable } = context;
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
  const connect = await rdsConnectStatement(context);
  if (connect !== undefined) statements.push(connect);
  return statements;
};

const TRUE_WORDS = new Set(['true', '1', 'yes', 't', 'y', 'on']);
const FALSE_WORDS = new Set(['', 'false', '0', 'no', 'f', 'n', 'off']);

/** The iamAuth param (POSTGRESQL_IAM_AUTH at deploy time) as a boolean. */
async function iamAuthEnabled({ resolveVariable }) {
  const raw = (await param(resolveVariable, 'iamAuth')).toLowerCase();
  if (TRUE_WORDS.has(raw)) return true;
  if (FALSE_WORDS.has(raw)) return false;
  return fail(`iamAuth must be true or false, got "${raw}"`);
}

/** POSTGRESQL_IAM_AUTH of the function: "true" when enabled, else empty (unset). */
module.exports.iamAuth = async (context) => ((await iamAuthEnabled(context)) ? 'true' : '');

/** The DbiResourceId of an instance, the cluster resource id of Aurora, or an RDS Proxy's id. */
const RDS_RESOURCE_ID = /^(db|cluster|prx)-[A-Za-z0-9]+$/;
/** A PostgreSQL role name as IAM takes it literally: no wildcard, no path, no blank. */
const DB_USER = /^[^*?/\s]+$/;

/** A value of the function's environment, as serverless.yml resolved it. */
async function functionEnv({ resolveConfigurationProperty }, name) {
  const value = await resolveConfigurationProperty(['provider', 'environment', name]);
  return value === undefined || value === null ? '' : String(value);
}

/**
 * rds-db:connect on the one database user the function logs in as, on the
 * one database: only with iamAuth, and never with a wildcard.
 */
async function rdsConnectStatement(context) {
  const resourceId = await param(context.resolveVariable, 'rdsDbResourceId');
  if (!(await iamAuthEnabled(context))) {
    if (resourceId !== '') fail('rdsDbResourceId is only used with iamAuth=true');
    return undefined;
  }
  if (resourceId === '') {
    fail(
      'iamAuth needs rdsDbResourceId (POSTGRESQL_RDS_RESOURCE_ID): the DbiResourceId of the ' +
        'database, e.g. db-ABCDEFGHIJKLMNOPQRSTUVWXYZ (aws rds describe-db-instances)',
    );
  }
  if (!RDS_RESOURCE_ID.test(resourceId)) {
    fail(
      `rdsDbResourceId must be a resource id like db-ABCDEFGHIJKLMNOPQRSTUVWXYZ ` +
        `(cluster-... for Aurora, prx-... for RDS Proxy), not a name or a wildcard; got "${resourceId}"`,
    );
  }
  if ((await param(context.resolveVariable, 'secretArn')) !== '') {
    fail('iamAuth cannot be used with secretArn: the password is an IAM auth token');
  }
  if ((await functionEnv(context, 'POSTGRESQL_PASSWORD')) !== '') {
    fail('iamAuth cannot be used with POSTGRESQL_PASSWORD: the password is an IAM auth token');
  }
  const ssl = (await functionEnv(context, 'POSTGRESQL_SSL')).trim().toLowerCase();
  if (['disable', 'false', '0', 'no', 'f', 'n', 'off'].includes(ssl)) {
    fail(`iamAuth needs TLS: POSTGRESQL_SSL must not be "${ssl}"`);
  }
  // The user the function logs in as: POSTGRESQL_USERNAME, else the function's default.
  const user = (await functionEnv(context, 'POSTGRESQL_USERNAME')).trim() || 'postgres';
  if (!DB_USER.test(user)) {
    fail(`POSTGRESQL_USERNAME "${user}" cannot name an IAM database user (no *, ?, / or blanks)`);
  }
  return {
    Effect: 'Allow',
    Action: ['rds-db:connect'],
    Resource: [
      {
        'Fn::Join': [
          '',
          [
            'arn:',
            { Ref: 'AWS::Partition' },
            ':rds-db:',
            { Ref: 'AWS::Region' },
            ':',
            { Ref: 'AWS::AccountId' },
            `:dbuser:${resourceId}/${user}`,
          ],
        ],
      },
    ],
  };
}

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
