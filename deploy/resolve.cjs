// Values serverless.yml computes at package time, from its params. Every
// problem is an error here, at `serverless package`, not a broken deployment.
// Loaded by the Serverless Framework's ${file(./deploy/resolve.cjs):name}.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { URL } = require('node:url');
const YAML = require('yaml');

// tsx's disk cache (os.tmpdir()/tsx-<uid>) would gain a file on every serverless command:
// tsx.require() keys it by a namespace made of Date.now(), so it never hits.
// Compiling the one small file is quick. tsx reads this when it loads: set before require.
const process = require('node:process');
process.env.TSX_DISABLE_CACHE ??= '1';
const tsx = require('tsx/cjs/api');
/** @type {typeof import('../src/schedule')} */
const { parseSchedule } = tsx.require('../src/schedule.ts', __filename);
// The variable names and limits the function reads, from their one owner.
/** @type {typeof import('../src/config')} */
// SINGLE_TARGET_VARIABLES: refused next to a fleet here too, so that the mistake shows at
// package time, not at every run of a deployed fleet.
const { DEFAULTS, ENV, MAX_FLEET_CONCURRENCY, SINGLE_TARGET_VARIABLES } = tsx.require(
  '../src/config.ts',
  __filename,
);

/** The folder of serverless.yml: a relative TARGETS_FILE is relative to it, as to the function's root. */
const SERVICE_DIR = path.join(path.dirname(__filename), '..');

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

/** A timeout param: whole seconds, below the interval. */
async function timeoutBelowInterval(context, name) {
  const raw = await param(context.resolveVariable, name);
  const timeout = Number(raw);
  if (!/^\d+$/.test(raw) || timeout < 3 || timeout > LAMBDA_MAX_TIMEOUT_S) {
    fail(`${name} must be whole seconds from 3 to ${LAMBDA_MAX_TIMEOUT_S}, got "${raw}"`);
  }
  const parsed = await schedule(context);
  const interval = intervalSeconds(parsed);
  if (timeout >= interval) {
    fail(
      `${name} ${timeout} s must be below the schedule's interval (${parsed.expression}: ${interval} s)`,
    );
  }
  return timeout;
}

/** The function timeout: below the interval, so that runs never overlap. */
module.exports.timeout = (context) => timeoutBelowInterval(context, 'timeout');

/**
 * collectTarget's timeout: below the interval too, so that one target's
 * invocations never pile up behind each other.
 */
module.exports.targetTimeout = (context) => timeoutBelowInterval(context, 'targetTimeout');

/** collectTarget's reserved concurrency: at least 1 (0 would throttle every invocation). */
module.exports.targetConcurrency = async ({ resolveVariable }) => {
  const raw = await param(resolveVariable, 'targetConcurrency');
  if (!/^\d+$/.test(raw) || Number(raw) < 1) {
    fail(`targetConcurrency must be a whole number of at least 1, got "${raw}"`);
  }
  return Number(raw);
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
 * The statements of the role Serverless makes, which the function shares
 * when it has no `role:` of its own: a single target's, an inline fleet's
 * (everything the one function does), or none for a fan-out fleet, whose two
 * functions have their own roles (`resources`).
 */
module.exports.iamStatements = async (context) => {
  const plan = await fleet(context);
  const write = await remoteWriteStatements(context);
  if (plan === undefined) return [...(await singleTargetStatements(context)), ...write];
  if (plan.mode === 'fanout') return [];
  return [...schedulerStatements(plan), ...(await targetStatements(context, plan)), ...write];
};

/**
 * kms:Decrypt on the secret's customer-managed key, only through Secrets
 * Manager in `region`; the key ARN checked first.
 */
function kmsDecryptStatement(kmsKeyArn, region) {
  if (!KMS_KEY_ARN.test(kmsKeyArn)) fail(`kmsKeyArn must be a key ARN, got "${kmsKeyArn}"`);
  return {
    Effect: 'Allow',
    Action: ['kms:Decrypt'],
    Resource: [kmsKeyArn],
    Condition: {
      StringEquals: { 'kms:ViaService': `secretsmanager.${region}.amazonaws.com` },
    },
  };
}

/**
 * Least privilege: read the one configured secret, decrypt with the one
 * configured key. Nothing at all when no secret is configured; never `*`.
 */
async function singleTargetStatements(context) {
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
    statements.push(kmsDecryptStatement(kmsKeyArn, secretArn.split(':')[3]));
  }
  const connect = await rdsConnectStatement(context);
  if (connect !== undefined) statements.push(connect);
  return statements;
}

const TRUE_WORDS = new Set(['true', '1', 'yes', 't', 'y', 'on']);
const FALSE_WORDS = new Set(['', 'false', '0', 'no', 'f', 'n', 'off']);

/** A yes/no setting, read as src/config.ts reads it; empty is no. */
function yesNo(raw, name) {
  const value = String(raw).trim().toLowerCase();
  if (TRUE_WORDS.has(value)) return true;
  if (FALSE_WORDS.has(value)) return false;
  return fail(`${name} must be true or false, got "${value}"`);
}

/** The iamAuth param (POSTGRESQL_IAM_AUTH at deploy time) as a boolean. */
async function iamAuthEnabled({ resolveVariable }) {
  return yesNo(await param(resolveVariable, 'iamAuth'), 'iamAuth');
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
  return { Effect: 'Allow', Action: ['rds-db:connect'], Resource: [dbUserArn(resourceId, user)] };
}

/** The rds-db:connect resource of one database user, in the deployment's account and region. */
function dbUserArn(resourceId, user) {
  return {
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

// ---------------------------------------------------------------------------
// Remote write (REMOTE_WRITE_URL): the function's settings, and aps:RemoteWrite for Amazon
// Managed Service for Prometheus.

/** An AMP workspace: arn:aws:aps:<region>:<account>:workspace/ws-<id>, no wildcard. */
const AMP_WORKSPACE_ARN = /^arn:aws[a-z-]*:aps:([a-z0-9-]+):\d{12}:workspace\/(ws-[A-Za-z0-9-]+)$/;
/** An AMP remote-write URL: its region and workspace, to check the ARN against. */
const AMP_URL_HOST = /^aps-workspaces\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/;
const AMP_URL_PATH = /^\/workspaces\/(ws-[A-Za-z0-9-]+)\//;

/**
 * custom.remoteWriteEnvironment as the functions get it: all of it when
 * REMOTE_WRITE_URL is set, nothing otherwise, so that a Pushgateway-only
 * deployment is deployed as it was before remote write. A REMOTE_WRITE_*
 * setting without the URL is refused, as src/config.ts refuses it at every
 * run.
 */
async function remoteWriteEnvironment(context) {
  const environment =
    (await context.resolveConfigurationProperty(['custom', 'remoteWriteEnvironment'])) ?? {};
  const values = Object.fromEntries(
    Object.entries(environment).map(([name, value]) => [
      name,
      value === undefined || value === null ? '' : String(value),
    ]),
  );
  if ((values[ENV.remoteWriteUrl] ?? '').trim() !== '') return values;
  // The password is not trimmed, as the function does not trim it: spaces alone are a value.
  const stray = Object.keys(values).find((name) =>
    name === ENV.remoteWritePassword ? values[name] !== '' : values[name].trim() !== '',
  );
  if (stray !== undefined) fail(`${stray} is set but ${ENV.remoteWriteUrl} is not`);
  return {};
}

/**
 * aps:RemoteWrite on the one AMP workspace of ampWorkspaceArn, for every
 * function that writes (each run's targets and a fleet's own group); none
 * without it. The ARN must name the workspace of an AMP REMOTE_WRITE_URL.
 */
async function remoteWriteStatements(context) {
  const arn = await param(context.resolveVariable, 'ampWorkspaceArn');
  if (arn === '') return [];
  const url = ((await remoteWriteEnvironment(context))[ENV.remoteWriteUrl] ?? '').trim();
  if (url === '') {
    fail(
      `ampWorkspaceArn (AMP_WORKSPACE_ARN) is only used with ${ENV.remoteWriteUrl}: ` +
        "set it to the workspace's remote-write URL",
    );
  }
  const parts = AMP_WORKSPACE_ARN.exec(arn);
  if (parts === null) {
    fail(
      'ampWorkspaceArn must be the full ARN of an Amazon Managed Service for Prometheus ' +
        'workspace, like arn:aws:aps:eu-west-1:123456789012:workspace/ws-1234abcd-56ef-78ab-90cd-1234567890ab ' +
        `(no wildcard); got "${arn}"`,
    );
  }
  const [, region, workspace] = parts;
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  const host = parsed === undefined ? null : AMP_URL_HOST.exec(parsed.hostname);
  const path = parsed === undefined ? null : AMP_URL_PATH.exec(parsed.pathname);
  if (host !== null && path !== null && (host[1] !== region || path[1] !== workspace)) {
    fail(
      `ampWorkspaceArn names workspace ${workspace} in ${region}, but ${ENV.remoteWriteUrl} ` +
        `writes to workspace ${path[1]} in ${host[1]}: the role could not write there`,
    );
  }
  return [{ Effect: 'Allow', Action: ['aps:RemoteWrite'], Resource: [arn] }];
}

// ---------------------------------------------------------------------------
// A fleet: many targets from one deployment (targetsFile and/or rdsTag).

/** The role of each function of a fan-out fleet (logical ids of `resources`). */
const COLLECT_ROLE = 'IamRoleCollect';
const TARGET_ROLE = 'IamRoleCollectTarget';
/** What Serverless names the per-target function and its log group (provider naming). */
const TARGET_FUNCTION = 'collectTarget';
const TARGET_FUNCTION_LOGICAL_ID = 'CollectTargetLambdaFunction';

/** The TARGETS_RDS_* settings besides the tag, passed through custom.fleetEnvironment. */
const RDS_VARIABLES = [
  ENV.rdsLabelTags,
  ENV.rdsSecretTag,
  ENV.rdsIamAuth,
  ENV.rdsUsername,
  ENV.rdsDatabase,
  ENV.rdsMasterSecret,
];
/** An environment variable name a target's password may be read from. */
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

async function fleetEnv(context, name) {
  const value = await context.resolveConfigurationProperty(['custom', 'fleetEnvironment', name]);
  return value === undefined || value === null ? '' : String(value).trim();
}

/**
 * The fleet this deployment runs, or undefined for the one target of
 * POSTGRESQL_* (deployed exactly as before fleets existed). Settings of the
 * other kind are refused, as src/config.ts refuses them at every run.
 */
async function fleet(context) {
  const { resolveVariable } = context;
  const targetsFile = await param(resolveVariable, 'targetsFile');
  const rdsTag = await param(resolveVariable, 'rdsTag');
  const mode = (await param(resolveVariable, 'fleetMode')) || 'inline';
  if (mode !== 'inline' && mode !== 'fanout') {
    fail(`fleetMode must be inline or fanout, got "${mode}"`);
  }
  if (targetsFile === '' && rdsTag === '') {
    // The params of a fleet whose default is empty: one that is set is a mistake.
    if ((await param(resolveVariable, 'fleetConcurrency')) !== '') {
      fail('fleetConcurrency is only used with a fleet: set targetsFile or rdsTag');
    }
    if (mode === 'fanout') fail('fleetMode=fanout needs a fleet: set targetsFile or rdsTag');
    await discovery(context, '');
    return undefined;
  }
  const source = targetsFile !== '' ? 'targetsFile' : 'rdsTag';
  for (const name of ['secretArn', 'rdsDbResourceId']) {
    if ((await param(resolveVariable, name)) !== '') {
      fail(`${name} is for a single target and cannot be used with ${source} (a fleet)`);
    }
  }
  if (await iamAuthEnabled(context)) {
    fail(`iamAuth is for a single target and cannot be used with ${source} (a fleet)`);
  }
  for (const name of SINGLE_TARGET_VARIABLES) {
    const value = await functionEnv(context, name);
    if ((name === ENV.password ? value : value.trim()) !== '') {
      fail(
        `${name} is for a single target and cannot be set with ${source}: ` +
          "a fleet's targets come from the targets file or RDS discovery (unset one of the two)",
      );
    }
  }
  const concurrency = await param(resolveVariable, 'fleetConcurrency');
  if (
    concurrency !== '' &&
    (!/^\d+$/.test(concurrency) || +concurrency < 1 || +concurrency > MAX_FLEET_CONCURRENCY)
  ) {
    fail(
      `fleetConcurrency must be a whole number from 1 to ${MAX_FLEET_CONCURRENCY}, got "${concurrency}"`,
    );
  }
  if ((await param(resolveVariable, 'fleetName')) === '') {
    fail('fleetName is empty: it is the `fleet` grouping label of every group the fleet pushes');
  }
  return {
    mode,
    file: targetsFile === '' ? undefined : readTargetsFile(targetsFile),
    rds: await discovery(context, rdsTag),
  };
}

/**
 * What the targets file asks of IAM and of the environment, read at package
 * time: src/fleet's parser checks the rest of it at every run. Only what
 * scopes a permission is checked here, and a target that cannot be scoped
 * stops the package.
 */
function readTargetsFile(file) {
  const where = `targetsFile ${file}`;
  let text;
  try {
    text = fs.readFileSync(path.resolve(SERVICE_DIR, file), 'utf8');
  } catch (error) {
    return fail(
      `${where} cannot be read (${error.code ?? error.message}): ` +
        'it is read at package time, relative to the folder of serverless.yml, to scope IAM',
    );
  }
  let document;
  try {
    document = YAML.parse(text);
  } catch (error) {
    return fail(`${where} is not valid YAML: ${error.message.split('\n')[0]}`);
  }
  const targets = document?.targets;
  if (!Array.isArray(targets)) return fail(`${where}: expected a "targets:" list`);
  const secretArns = [];
  const dbUsers = [];
  const passwordVariables = [];
  targets.forEach((target, index) => {
    if (target === null || typeof target !== 'object' || Array.isArray(target)) return;
    const at = `${file}: target "${target.name ?? `#${index + 1}`}"`;
    if (target.secret_id !== undefined && target.secret_id !== null) {
      const secretId = String(target.secret_id).trim();
      if (!SECRET_ARN.test(secretId)) {
        fail(
          `${at}: secret_id must be the secret's full ARN ` +
            '(arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6 characters>), so that the ' +
            `function may read that secret alone; got "${secretId}"`,
        );
      }
      if (!secretArns.includes(secretId)) secretArns.push(secretId);
    }
    // A YAML boolean, as src/fleet's parser takes it (it refuses anything else).
    const iam = target.iam_auth === true;
    const resourceId = target.rds_resource_id === undefined ? '' : String(target.rds_resource_id);
    if (iam) {
      if (!RDS_RESOURCE_ID.test(resourceId)) {
        fail(
          `${at}: iam_auth needs rds_resource_id, the database's resource id for rds-db:connect ` +
            '(db-... of aws rds describe-db-instances, cluster-... for Aurora, prx-... for RDS Proxy)' +
            (resourceId === '' ? '' : `; got "${resourceId}"`),
        );
      }
      const user = String(target.username ?? DEFAULTS.username).trim();
      if (!DB_USER.test(user)) {
        fail(`${at}: username "${user}" cannot name an IAM database user (no *, ?, / or blanks)`);
      }
      dbUsers.push({ resourceId, user });
    } else if (resourceId !== '') {
      fail(`${at}: rds_resource_id is only used with iam_auth: true`);
    }
    if (target.password_env !== undefined && target.password_env !== null) {
      const variable = String(target.password_env).trim();
      if (!VARIABLE_NAME.test(variable)) {
        fail(`${at}: password_env must name an environment variable, got "${variable}"`);
      }
      passwordVariables.push({ at, variable });
    }
  });
  return { secretArns, dbUsers, passwordVariables };
}

/**
 * RDS discovery as the per-target function logs in to what it finds: with
 * the secrets under discoveredSecretPrefix, or IAM auth as one user. Without
 * rdsTag, every TARGETS_RDS_* setting and discovery param is refused.
 */
async function discovery(context, rdsTag) {
  const { resolveVariable } = context;
  const prefixes = list(await param(resolveVariable, 'discoveredSecretPrefix'));
  const resourceIds = list(await param(resolveVariable, 'rdsDbResourceIds'));
  if (rdsTag === '') {
    for (const name of RDS_VARIABLES) {
      if ((await fleetEnv(context, name)) !== '') {
        fail(`${name} is only used with rdsTag (TARGETS_RDS_TAG, RDS discovery), which is unset`);
      }
    }
    for (const [name, value] of [
      ['discoveredSecretPrefix', prefixes],
      ['rdsDbResourceIds', resourceIds],
    ]) {
      if (value.length > 0) fail(`${name} is only used with rdsTag (RDS discovery)`);
    }
    return undefined;
  }
  for (const prefix of prefixes) {
    // SECRET_ARN takes a name of one character on: `<prefix>*` is a family of secrets, never all.
    if (!SECRET_ARN.test(prefix)) {
      fail(
        'discoveredSecretPrefix must be secret ARN prefixes with a name part, like ' +
          'arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds-monitor/ (no wildcard: ' +
          `"*" would let the function read every secret); got "${prefix}"`,
      );
    }
  }
  const iam = yesNo(await fleetEnv(context, ENV.rdsIamAuth), ENV.rdsIamAuth);
  const masterSecret = yesNo(await fleetEnv(context, ENV.rdsMasterSecret), ENV.rdsMasterSecret);
  const dbUsers = [];
  if (iam) {
    const user = await fleetEnv(context, ENV.rdsUsername);
    if (user === '') fail(`${ENV.rdsIamAuth} needs ${ENV.rdsUsername}: the database user`);
    if (!DB_USER.test(user)) {
      fail(`${ENV.rdsUsername} "${user}" cannot name an IAM database user (no *, ?, / or blanks)`);
    }
    if (resourceIds.length === 0) {
      fail(
        `${ENV.rdsIamAuth} needs rdsDbResourceIds (TARGETS_RDS_RESOURCE_IDS): the resource ids ` +
          `(db-..., cluster-...) of the instances ${user} may connect to, or * for any instance ` +
          'of this account and region',
      );
    }
    const any = resourceIds.length === 1 && resourceIds[0] === '*';
    for (const resourceId of any ? [] : resourceIds) {
      if (!RDS_RESOURCE_ID.test(resourceId)) {
        fail(
          'rdsDbResourceIds must be resource ids like db-ABCDEFGHIJKLMNOPQRSTUVWXYZ, or * alone; ' +
            `got "${resourceId}"`,
        );
      }
    }
    // "*" in place of the resource id: discovery finds instances after the deployment, and
    // rds-db:connect takes no tag condition; the user part stays the one user.
    for (const resourceId of any ? ['*'] : resourceIds) dbUsers.push({ resourceId, user });
  } else if (resourceIds.length > 0) {
    fail(`rdsDbResourceIds is only used with ${ENV.rdsIamAuth}=true`);
  }
  if (masterSecret && prefixes.length === 0) {
    fail(
      `${ENV.rdsMasterSecret} needs discoveredSecretPrefix covering the managed master secrets, ` +
        'e.g. arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!',
    );
  }
  if (!iam && prefixes.length === 0) {
    fail(
      'rdsTag needs a way to log in to what it finds: discoveredSecretPrefix ' +
        `(TARGETS_RDS_SECRET_ARN_PREFIX) for the secrets its tags name, or ${ENV.rdsIamAuth}`,
    );
  }
  return { prefixes, dbUsers };
}

/**
 * What the function that schedules needs, whichever function collects:
 * discovery, and in fan-out invoking collectTarget, that function alone.
 */
function schedulerStatements(plan) {
  const statements = [];
  if (plan.rds !== undefined) {
    // "*" is the only resource these take: a Describe* list call without an identifier names
    // no instance to scope to. Read-only metadata; no database access and no secret value.
    statements.push({
      Effect: 'Allow',
      Action: ['rds:DescribeDBInstances', 'rds:DescribeDBClusters'],
      Resource: '*',
    });
  }
  if (plan.mode === 'fanout') {
    statements.push({
      Effect: 'Allow',
      Action: ['lambda:InvokeFunction'],
      Resource: [{ 'Fn::GetAtt': [TARGET_FUNCTION_LOGICAL_ID, 'Arn'] }],
    });
  }
  return statements;
}

/**
 * What the function that collects needs to log in to the targets: the secret
 * ARNs the targets file names and the discovered prefixes, their key, and
 * rds-db:connect for each IAM user. Nothing for a target of password_env.
 */
async function targetStatements(context, plan) {
  const secrets = [
    ...(plan.file?.secretArns ?? []),
    ...(plan.rds?.prefixes ?? []).map((prefix) => `${prefix}*`),
  ];
  const dbUsers = [...(plan.file?.dbUsers ?? []), ...(plan.rds?.dbUsers ?? [])];
  const statements = [];
  if (secrets.length > 0) {
    statements.push({
      Effect: 'Allow',
      Action: ['secretsmanager:GetSecretValue'],
      Resource: secrets,
    });
  }
  const kmsKeyArn = await param(context.resolveVariable, 'kmsKeyArn');
  if (kmsKeyArn !== '') {
    if (secrets.length === 0) {
      fail('kmsKeyArn is only used with a secret: secret_id targets or discoveredSecretPrefix');
    }
    statements.push(kmsDecryptStatement(kmsKeyArn, kmsKeyArn.split(':')[3]));
  }
  if (dbUsers.length > 0) {
    statements.push({
      Effect: 'Allow',
      Action: ['rds-db:connect'],
      Resource: dbUsers.map(({ resourceId, user }) => dbUserArn(resourceId, user)),
    });
  }
  return statements;
}

/**
 * The environment a fleet's functions get on top of provider.environment:
 * custom.fleetEnvironment, and the per-target function's name in fan-out.
 * Both functions get the same, so that they read one configuration.
 */
async function fleetEnvironment(context, plan) {
  const environment = {
    ...(await context.resolveConfigurationProperty(['custom', 'fleetEnvironment'])),
  };
  if (plan.mode === 'fanout') {
    const service = await context.resolveVariable('self:service');
    const stage = await context.resolveVariable('sls:stage');
    environment[ENV.fleetTargetFunction] = `${service}-${stage}-${TARGET_FUNCTION}`;
  }
  return environment;
}

/**
 * The passwords the targets file names with password_env, from the
 * environment at deploy time as POSTGRESQL_PASSWORD was: set only on the
 * function that logs in. A name the function already uses is refused, since
 * it would replace that setting.
 */
function passwordEnvironment(plan, taken) {
  const environment = {};
  for (const { at, variable } of plan.file?.passwordVariables ?? []) {
    if (taken.has(variable) || /^(AWS_|LAMBDA_|_)/.test(variable)) {
      fail(`${at}: password_env ${variable} is a variable the function uses for something else`);
    }
    const value = process.env[variable] ?? '';
    if (value === '') {
      fail(
        `${at}: password_env ${variable} is not set: the function gets the password from ` +
          'this environment at deploy time',
      );
    }
    environment[variable] = value;
  }
  return environment;
}

/**
 * The functions: `collect` (custom.collect, plus `vpc` when one is
 * configured); in a fleet with the fleet's environment, and with fan-out
 * `collectTarget` (custom.collectTarget) beside it, each with its own role.
 */
module.exports.functions = async (context) => {
  const placement = await vpc(context);
  const placed = (definition) =>
    placement === undefined ? definition : { ...definition, vpc: placement };
  const collect = await context.resolveConfigurationProperty(['custom', 'collect']);
  const plan = await fleet(context);
  const remoteWrite = await remoteWriteEnvironment(context);
  if (plan === undefined) {
    // No `environment` key without remote write: the template stays as it was.
    return {
      collect: placed(
        Object.keys(remoteWrite).length === 0 ? collect : { ...collect, environment: remoteWrite },
      ),
    };
  }
  const environment = { ...(await fleetEnvironment(context, plan)), ...remoteWrite };
  const provided = await context.resolveConfigurationProperty(['provider', 'environment']);
  const taken = new Set([...Object.keys(provided ?? {}), ...Object.keys(environment)]);
  const passwords = passwordEnvironment(plan, taken);
  if (plan.mode === 'inline') {
    return { collect: placed({ ...collect, environment: { ...environment, ...passwords } }) };
  }
  const target = await context.resolveConfigurationProperty(['custom', TARGET_FUNCTION]);
  return {
    collect: placed({ ...collect, role: COLLECT_ROLE, environment }),
    [TARGET_FUNCTION]: placed({
      ...target,
      role: TARGET_ROLE,
      environment: { ...environment, ...passwords },
    }),
  };
};

/** One function's role: its own log group, `statements`, and VPC access when placed in one. */
function role(policyName, logGroupLogicalId, statements, placement) {
  return {
    Type: 'AWS::IAM::Role',
    Properties: {
      AssumeRolePolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { Service: ['lambda.amazonaws.com'] },
            Action: ['sts:AssumeRole'],
          },
        ],
      },
      Policies: [
        {
          PolicyName: policyName,
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              {
                // Its own log group only (CloudFormation creates it: no logs:CreateLogGroup).
                Effect: 'Allow',
                Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
                Resource: [
                  {
                    'Fn::Join': [
                      '',
                      [
                        'arn:',
                        { Ref: 'AWS::Partition' },
                        ':logs:',
                        { Ref: 'AWS::Region' },
                        ':',
                        { Ref: 'AWS::AccountId' },
                        ':log-group:',
                        { Ref: logGroupLogicalId },
                        ':*',
                      ],
                    ],
                  },
                ],
              },
              ...statements,
            ],
          },
        },
      ],
      ...(placement === undefined
        ? {}
        : {
            // What Serverless attaches to its own role for a function in a VPC.
            ManagedPolicyArns: [
              {
                'Fn::Join': [
                  '',
                  [
                    'arn:',
                    { Ref: 'AWS::Partition' },
                    ':iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole',
                  ],
                ],
              },
            ],
          }),
    },
  };
}

/**
 * CloudFormation resources: with fan-out, the two functions' roles. The
 * scheduler may discover and invoke collectTarget, nothing of the targets;
 * collectTarget may log in to the targets, and neither discover nor invoke.
 * Both may write to the one AMP workspace of ampWorkspaceArn, when given.
 */
module.exports.resources = async (context) => {
  const plan = await fleet(context);
  if (plan === undefined || plan.mode !== 'fanout') return {};
  const placement = await vpc(context);
  // Both write: collectTarget each target's run, collect the fleet's own group.
  const write = await remoteWriteStatements(context);
  return {
    Resources: {
      [COLLECT_ROLE]: role(
        'collect',
        'CollectLogGroup',
        [...schedulerStatements(plan), ...write],
        placement,
      ),
      [TARGET_ROLE]: role(
        TARGET_FUNCTION,
        'CollectTargetLogGroup',
        [...(await targetStatements(context, plan)), ...write],
        placement,
      ),
    },
  };
};
