/**
 * `serverless package` and the CloudFormation template it writes: the
 * schedule, the function's limits and the IAM policy, for the default, the
 * SCHEDULE variable, --param and a stage; a fleet's functions and their
 * roles, inline and fanned out; remote write instead of or beside the
 * Pushgateway (its settings, aps:RemoteWrite, and invoke local writing to a
 * real receiver); what it must refuse (deploy too); and that it leaves nothing
 * in the temp directory.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as prettier from 'prettier';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ENV } from '../../src/config.js';
import { cleanEnv, runCommand } from '../harness/command.js';
import { runEnv } from '../harness/context.js';
import { MissingToolError, freePort, sleep } from '../harness/ports.js';

/** Every folder a test makes (package output, private TMPDIR, HOME), removed at the end. */
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** Package and deploy refuse a function without it; the tests that package give one. */
const PUSHGATEWAY_URL = 'https://pushgateway.example.com:9091';

/** An Amazon Managed Service for Prometheus workspace and its remote-write URL. */
const AMP_WORKSPACE =
  'arn:aws:aps:eu-west-1:123456789012:workspace/ws-1234abcd-56ef-78ab-90cd-1234567890ab';
const AMP_URL =
  'https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1234abcd-56ef-78ab-90cd-1234567890ab/api/v1/remote_write';

/**
 * cleanEnv without the fleet settings of the developer's shell, which it
 * keeps: a single-target test stays one. An empty value would not do: an
 * empty LAMBDA_TARGET_TIMEOUT is a value, and refused.
 */
function packageEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const result = cleanEnv({ PUSHGATEWAY_URL, ...env });
  for (const name of Object.keys(result)) {
    if (
      /^(TARGETS_|FLEET_|LAMBDA_TARGET_|REMOTE_WRITE_|AMP_WORKSPACE_ARN$)/.test(name) &&
      !(name in env)
    ) {
      Reflect.deleteProperty(result, name);
    }
  }
  return result;
}

interface Resource {
  Type: string;
  Properties: Record<string, unknown>;
}
interface Template {
  Resources: Record<string, Resource>;
}
interface Statement {
  Effect: string;
  Action: string[];
  Resource: unknown;
  Condition?: unknown;
}

/** `serverless package` into a fresh folder: the folder and the template it wrote. */
async function packageTemplate(args: string[], env: Record<string, string>) {
  const dir = tempDir('sls-package-');
  const result = await runCommand(
    'node_modules/.bin/serverless',
    ['package', '--package', dir, ...args],
    packageEnv(env),
  );
  expect(result.code, result.stdout + result.stderr).toBe(0);
  const template = JSON.parse(
    fs.readFileSync(path.join(dir, 'cloudformation-template-update-stack.json'), 'utf8'),
  ) as Template;
  return { dir, template };
}

async function packaged(args: string[] = [], env: Record<string, string> = {}) {
  const { dir, template } = await packageTemplate(args, env);
  const ofType = (type: string) => Object.values(template.Resources).filter((r) => r.Type === type);
  const one = (type: string) => {
    const found = ofType(type);
    expect(found, type).toHaveLength(1);
    return found[0]!.Properties;
  };
  const role = one('AWS::IAM::Role');
  const policies = role.Policies as { PolicyDocument: { Statement: Statement[] } }[];
  return {
    template,
    fn: one('AWS::Lambda::Function'),
    rule: one('AWS::Events::Rule'),
    invokeConfig: one('AWS::Lambda::EventInvokeConfig'),
    logGroup: one('AWS::Logs::LogGroup'),
    role,
    statements: policies.flatMap((p) => p.PolicyDocument.Statement),
    zipFile: path.join(dir, 'postgresql-pushgateway-exporter.zip'),
    zipBytes: fs.statSync(path.join(dir, 'postgresql-pushgateway-exporter.zip')).size,
  };
}

async function refused(args: string[], env: Record<string, string> = {}, command = ['package']) {
  const result = await runCommand(
    'node_modules/.bin/serverless',
    [...command, ...args],
    packageEnv(env),
  );
  expect(result.code).not.toBe(0);
  return result.stdout + result.stderr;
}

/**
 * No AWS credentials at all, whatever the developer's machine has: a deploy
 * that got past the checks could not reach an account.
 */
function noAwsEnv(): Record<string, string> {
  const home = tempDir('sls-home-');
  return {
    HOME: home,
    AWS_ACCESS_KEY_ID: '',
    AWS_SECRET_ACCESS_KEY: '',
    AWS_SESSION_TOKEN: '',
    AWS_PROFILE: 'postgresql-pushgateway-exporter-test-no-such-profile',
    AWS_SHARED_CREDENTIALS_FILE: path.join(home, 'no-credentials'),
    AWS_CONFIG_FILE: path.join(home, 'no-config'),
  };
}

const resources = (s: Statement): unknown[] =>
  Array.isArray(s.Resource) ? (s.Resource as unknown[]) : [s.Resource];

/** No statement may grant anything on "*"; only the framework's own log-group ARNs may use a wildcard. */
function expectLeastPrivilege(statements: Statement[]) {
  for (const statement of statements) {
    for (const resource of resources(statement)) {
      expect(resource).not.toBe('*');
      if (typeof resource === 'string') expect(resource).not.toContain('*');
      else
        expect(JSON.stringify(resource)).toMatch(
          /log-group:\/aws\/lambda\/postgresql-pushgateway-exporter-/,
        );
    }
    for (const action of statement.Action) expect(action.startsWith('logs:'), action).toBe(true);
  }
}

describe('serverless package', () => {
  it('by default: rate(1 minute), one run at a time, timeout below the interval, no extra access', async () => {
    const { fn, rule, invokeConfig, logGroup, role, statements, zipBytes } = await packaged();
    expect(rule.ScheduleExpression).toBe('rate(1 minute)');
    expect(rule.State).toBe('ENABLED');
    expect(fn).toMatchObject({
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      MemorySize: 256,
      Timeout: 30,
      ReservedConcurrentExecutions: 1,
      Handler: 'handlers/collect.handler',
    });
    expect(fn.Timeout as number).toBeLessThan(60);
    expect(fn.VpcConfig).toBeUndefined();
    expect(invokeConfig).toMatchObject({ MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 });
    expect(logGroup.RetentionInDays).toBe(30);
    expect(role.ManagedPolicyArns).toBeUndefined();
    expectLeastPrivilege(statements);
    const env = (fn.Environment as { Variables: Record<string, string> }).Variables;
    expect(env.POSTGRESQL_SECRET_ID).toBe('');
    expect(env.POSTGRESQL_IAM_AUTH).toBe('');
    expect(env.NODE_OPTIONS).toBe('--enable-source-maps');
    expect(env.PUSHGATEWAY_URL).toBe(PUSHGATEWAY_URL);
    // A Pushgateway-only deployment: no remote-write variable, no aps permission.
    expect(Object.keys(env).filter((name) => name.startsWith('REMOTE_WRITE_'))).toEqual([]);
    expect(statements.flatMap((s) => s.Action).filter((a) => a.startsWith('aps:'))).toEqual([]);
    expect(zipBytes).toBeLessThan(1_500_000);
  });

  it('packages the bundle and the custom-queries and targets folders, nothing else', async () => {
    // A handler left in serverless-esbuild's build folder by an earlier build (offline of a
    // fan-out fleet builds collectTarget there) is not packaged.
    const stale = path.join('.esbuild', '.build', 'handlers');
    fs.mkdirSync(stale, { recursive: true });
    fs.writeFileSync(path.join(stale, 'target.js'), '// left by an earlier build\n');
    const { zipFile } = await packaged();
    const list = execFileSync(
      'python3',
      [
        '-c',
        'import sys, zipfile; print("\\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))',
        zipFile,
      ],
      { encoding: 'utf8' },
    )
      .trim()
      .split('\n')
      .sort();
    expect(list).toEqual([
      'handlers/collect.js',
      'handlers/collect.js.map',
      'queries/example.yml',
      'targets/compose.yml',
      'targets/example.yml',
    ]);
  });

  it('takes the schedule from SCHEDULE, and the event age follows the interval', async () => {
    const { rule, invokeConfig, fn } = await packaged([], { SCHEDULE: 'rate(7 minutes)' });
    expect(rule.ScheduleExpression).toBe('rate(7 minutes)');
    expect(invokeConfig.MaximumEventAgeInSeconds).toBe(420);
    expect(fn.Timeout as number).toBeLessThan(420);
  });

  it('lets --param schedule win over SCHEDULE, and accepts cron()', async () => {
    const { rule } = await packaged(['--param', 'schedule=cron(0/5 * * * ? *)'], {
      SCHEDULE: 'rate(7 minutes)',
    });
    expect(rule.ScheduleExpression).toBe('cron(0/5 * * * ? *)');
  });

  it("takes the stage's params (staging: every 5 minutes)", async () => {
    const { rule } = await packaged(['--stage', 'staging']);
    expect(rule.ScheduleExpression).toBe('rate(5 minutes)');
  });

  it('grants GetSecretValue on the configured secret only, and kms:Decrypt on its key only', async () => {
    const secretArn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-monitor-AbCdEf';
    const kmsKeyArn = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const { fn, statements } = await packaged([
      '--param',
      `secretArn=${secretArn}`,
      '--param',
      `kmsKeyArn=${kmsKeyArn}`,
    ]);
    const data = statements.filter((s) => !s.Action.every((a) => a.startsWith('logs:')));
    expect(data).toEqual([
      { Effect: 'Allow', Action: ['secretsmanager:GetSecretValue'], Resource: secretArn },
      {
        Effect: 'Allow',
        Action: ['kms:Decrypt'],
        Resource: kmsKeyArn,
        Condition: { StringEquals: { 'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com' } },
      },
    ]);
    for (const statement of statements) {
      for (const resource of resources(statement)) expect(resource).not.toBe('*');
    }
    expect(
      (fn.Environment as { Variables: Record<string, string> }).Variables.POSTGRESQL_SECRET_ID,
    ).toBe(secretArn);
  });

  it('with IAM auth: rds-db:connect on the one database user only, and POSTGRESQL_IAM_AUTH set', async () => {
    const { fn, statements } = await packaged([], {
      POSTGRESQL_IAM_AUTH: 'true',
      POSTGRESQL_RDS_RESOURCE_ID: 'db-ABCDEFGHIJKLMNOPQRSTUVWXY1',
      POSTGRESQL_USERNAME: 'exporter_monitor',
      POSTGRESQL_HOST: 'mydb.abcdefghijkl.eu-west-1.rds.amazonaws.com',
    });
    const data = statements.filter((s) => !s.Action.every((a) => a.startsWith('logs:')));
    expect(data).toEqual([
      {
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
                ':dbuser:db-ABCDEFGHIJKLMNOPQRSTUVWXY1/exporter_monitor',
              ],
            ],
          },
        ],
      },
    ]);
    expect(JSON.stringify(data)).not.toContain('*');
    const env = (fn.Environment as { Variables: Record<string, string> }).Variables;
    expect(env.POSTGRESQL_IAM_AUTH).toBe('true');
    expect(env.POSTGRESQL_PASSWORD).toBe('');
  });

  it("with IAM auth and no POSTGRESQL_USERNAME: scoped to the function's default user", async () => {
    const { statements } = await packaged([
      '--param',
      'iamAuth=yes',
      '--param',
      'rdsDbResourceId=cluster-ABCDEFGHIJKLMNOPQRSTUVWXY1',
    ]);
    const connect = statements.find((s) => s.Action.includes('rds-db:connect'));
    expect(JSON.stringify(connect?.Resource)).toContain(
      ':dbuser:cluster-ABCDEFGHIJKLMNOPQRSTUVWXY1/postgres"',
    );
  });

  it('places the function in a VPC when subnets and security groups are given', async () => {
    const { fn, role } = await packaged([
      '--param',
      'subnetIds=subnet-aaa,subnet-bbb',
      '--param',
      'securityGroupIds=sg-123',
    ]);
    expect(fn.VpcConfig).toEqual({
      SubnetIds: ['subnet-aaa', 'subnet-bbb'],
      SecurityGroupIds: ['sg-123'],
    });
    expect(JSON.stringify(role.ManagedPolicyArns)).toContain('AWSLambdaVPCAccessExecutionRole');
  });

  it.each([
    ['an empty SCHEDULE', [], { SCHEDULE: '' }, /the schedule is empty/],
    ['a malformed SCHEDULE', [], { SCHEDULE: 'every minute' }, /is not an EventBridge expression/],
    ['rate(1 minutes)', [], { SCHEDULE: 'rate(1 minutes)' }, /write rate\(1 minute\)/],
    [
      'a timeout not below the interval',
      ['--param', 'timeout=60'],
      {},
      /timeout 60 s must be below/,
    ],
    [
      'a wildcard secret ARN',
      ['--param', 'secretArn=arn:aws:secretsmanager:eu-west-1:123456789012:secret:*'],
      {},
      /full ARN/,
    ],
    [
      'subnets without security groups',
      ['--param', 'subnetIds=subnet-1'],
      {},
      /needs both subnetIds and securityGroupIds/,
    ],
    ['too little memory', ['--param', 'memorySize=64'], {}, /memorySize must be MB from 128/],
    [
      'IAM auth without the resource id',
      ['--param', 'iamAuth=true'],
      {},
      /iamAuth needs rdsDbResourceId \(POSTGRESQL_RDS_RESOURCE_ID\)/,
    ],
    [
      'a wildcard resource id',
      ['--param', 'iamAuth=true', '--param', 'rdsDbResourceId=db-*'],
      {},
      /rdsDbResourceId must be a resource id like db-/,
    ],
    [
      'a database name as the resource id',
      ['--param', 'iamAuth=true', '--param', 'rdsDbResourceId=mydb'],
      {},
      /rdsDbResourceId must be a resource id like db-/,
    ],
    [
      'a wildcard user',
      ['--param', 'iamAuth=true', '--param', 'rdsDbResourceId=db-ABC123'],
      { POSTGRESQL_USERNAME: '*' },
      /POSTGRESQL_USERNAME "\*" cannot name an IAM database user/,
    ],
    [
      'a resource id without IAM auth',
      ['--param', 'rdsDbResourceId=db-ABC123'],
      {},
      /rdsDbResourceId is only used with iamAuth=true/,
    ],
    [
      'IAM auth without TLS',
      ['--param', 'iamAuth=true', '--param', 'rdsDbResourceId=db-ABC123'],
      { POSTGRESQL_SSL: 'disable' },
      /iamAuth needs TLS/,
    ],
    [
      'IAM auth with a secret',
      [
        '--param',
        'iamAuth=true',
        '--param',
        'rdsDbResourceId=db-ABC123',
        '--param',
        'secretArn=arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf',
      ],
      {},
      /iamAuth cannot be used with secretArn/,
    ],
    ['a malformed iamAuth', ['--param', 'iamAuth=maybe'], {}, /iamAuth must be true or false/],
    [
      'no PUSHGATEWAY_URL',
      [],
      { PUSHGATEWAY_URL: '' },
      /serverless\.yml: PUSHGATEWAY_URL is required/,
    ],
    [
      'a blank PUSHGATEWAY_URL',
      [],
      { PUSHGATEWAY_URL: '   ' },
      /serverless\.yml: PUSHGATEWAY_URL is required/,
    ],
    [
      'a PUSHGATEWAY_URL without a scheme',
      [],
      { PUSHGATEWAY_URL: 'localhost:9091' },
      /serverless\.yml: PUSHGATEWAY_URL must be an http:\/\/ or https:\/\/ URL, got the scheme "localhost:"/,
    ],
    [
      'a PUSHGATEWAY_URL of another scheme',
      [],
      { PUSHGATEWAY_URL: 'ftp://pushgateway:9091' },
      /serverless\.yml: PUSHGATEWAY_URL must be an http:\/\/ or https:\/\/ URL, got the scheme "ftp:"/,
    ],
    [
      'a PUSHGATEWAY_URL that is no URL',
      [],
      { PUSHGATEWAY_URL: 'pushgateway 9091' },
      /serverless\.yml: PUSHGATEWAY_URL is not a URL/,
    ],
    [
      'a PUSHGATEWAY_URL with a query string',
      [],
      { PUSHGATEWAY_URL: 'http://pushgateway:9091/?job=x' },
      /serverless\.yml: PUSHGATEWAY_URL must not have a query string or fragment/,
    ],
    [
      'a REMOTE_WRITE_URL of another scheme',
      [],
      { PUSHGATEWAY_URL: '', REMOTE_WRITE_URL: 'ftp://mimir:9009/api/v1/push' },
      /serverless\.yml: REMOTE_WRITE_URL must be an http:\/\/ or https:\/\/ URL, got the scheme "ftp:"/,
    ],
    [
      'a REMOTE_WRITE_URL with a query string, beside a good PUSHGATEWAY_URL',
      [],
      { REMOTE_WRITE_URL: 'https://mimir:9009/api/v1/push?tenant=a' },
      /serverless\.yml: REMOTE_WRITE_URL must not have a query string or fragment/,
    ],
    [
      'a REMOTE_WRITE_ setting without REMOTE_WRITE_URL',
      [],
      { REMOTE_WRITE_HEADERS: 'X-Scope-OrgID: tenant-1' },
      /serverless\.yml: REMOTE_WRITE_HEADERS is set but REMOTE_WRITE_URL is not/,
    ],
    [
      'an ampWorkspaceArn without REMOTE_WRITE_URL',
      ['--param', `ampWorkspaceArn=${AMP_WORKSPACE}`],
      {},
      /ampWorkspaceArn \(AMP_WORKSPACE_ARN\) is only used with REMOTE_WRITE_URL/,
    ],
    [
      'a wildcard ampWorkspaceArn',
      ['--param', 'ampWorkspaceArn=arn:aws:aps:eu-west-1:123456789012:workspace/*'],
      { REMOTE_WRITE_URL: AMP_URL },
      /ampWorkspaceArn must be the full ARN of an Amazon Managed Service for Prometheus workspace/,
    ],
    [
      "an ampWorkspaceArn of another workspace than REMOTE_WRITE_URL's",
      [],
      {
        REMOTE_WRITE_URL: AMP_URL,
        AMP_WORKSPACE_ARN: 'arn:aws:aps:eu-west-1:123456789012:workspace/ws-other',
      },
      /ampWorkspaceArn names workspace ws-other in eu-west-1, but REMOTE_WRITE_URL writes to workspace ws-1234abcd-56ef-78ab-90cd-1234567890ab in eu-west-1/,
    ],
  ] as const)('refuses %s with a clear message', async (_case, args, env, message) => {
    expect(await refused([...args], env)).toMatch(message);
  });

  it('never repeats a refused PUSHGATEWAY_URL, which may hold a password', async () => {
    const output = await refused([], { PUSHGATEWAY_URL: 'user:s3cret-pw@pushgateway:9091' });
    expect(output).toMatch(
      /serverless\.yml: PUSHGATEWAY_URL must be an http:\/\/ or https:\/\/ URL/,
    );
    expect(output).not.toContain('s3cret-pw');
  });

  it('never repeats a refused REMOTE_WRITE_URL, which may hold a password', async () => {
    const output = await refused([], {
      PUSHGATEWAY_URL: '',
      REMOTE_WRITE_URL: 'user:s3cret-pw@mimir:9009/api/v1/push',
    });
    expect(output).toMatch(
      /serverless\.yml: REMOTE_WRITE_URL must be an http:\/\/ or https:\/\/ URL/,
    );
    expect(output).not.toContain('s3cret-pw');
  });

  it.each([
    ['deploy', ['deploy']],
    ['deploy function', ['deploy', 'function', '-f', 'collect']],
  ])('serverless %s refuses no PUSHGATEWAY_URL before reaching AWS', async (_name, command) => {
    const output = await refused([], { ...noAwsEnv(), PUSHGATEWAY_URL: '' }, command);
    expect(output).toMatch(/serverless\.yml: PUSHGATEWAY_URL is required/);
    expect(output).not.toMatch(/credentials|profile/i);
  });

  it('leaves invoke local to the function: without PUSHGATEWAY_URL its ConfigError names it', async () => {
    const result = await runCommand(
      'node_modules/.bin/serverless',
      ['invoke', 'local', '-f', 'collect'],
      cleanEnv(runEnv({ PUSHGATEWAY_URL: undefined })),
    );
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toContain('PUSHGATEWAY_URL: is required');
    expect(result.stdout + result.stderr).toContain('ConfigError');
    expect(result.stdout + result.stderr).not.toContain('serverless.yml: PUSHGATEWAY_URL');
  });
});

// ---------------------------------------------------------------------------
// Remote write.

const APS_WRITE = { Effect: 'Allow', Action: ['aps:RemoteWrite'], Resource: AMP_WORKSPACE };

describe('serverless package, remote write', () => {
  it('passes every REMOTE_WRITE_* variable the function reads, and only those', () => {
    const yml = record(parse(fs.readFileSync('serverless.yml', 'utf8')), 'serverless.yml');
    const custom = record(yml.custom, 'custom');
    const passed = Object.keys(record(custom.remoteWriteEnvironment, 'remoteWriteEnvironment'));
    const read = Object.values(ENV).filter((name) => name.startsWith('REMOTE_WRITE_'));
    expect(passed.sort()).toEqual([...read].sort());
  });

  it('invoke local with REMOTE_WRITE_URL alone: the bundled function writes the run to a real receiver', async () => {
    const receiver = await startReceiver();
    try {
      const writeUrl = `${receiver.url}/api/v1/write`;
      const env = runEnv({ PUSHGATEWAY_URL: undefined, REMOTE_WRITE_URL: writeUrl });
      const result = await runCommand(
        'node_modules/.bin/serverless',
        ['invoke', 'local', '-f', 'collect'],
        cleanEnv(env),
      );
      expect(result.code, result.stdout + result.stderr).toBe(0);
      const summary = printedSummary(result.stdout);
      expect(summary.pushgateway).toBeUndefined();
      expect(summary.remoteWrite).toBe(writeUrl);
      expect(summary.sinks).toEqual([
        expect.objectContaining({ sink: 'remote_write', url: writeUrl, ok: true, stale: 0 }),
      ]);
      const [sink] = summary.sinks as { samples: number; batches: number; bytes: number }[];
      expect(sink!.samples).toBe(summary.series);
      expect(sink!.batches).toBeGreaterThanOrEqual(1);
      expect(sink!.bytes).toBeGreaterThan(0);
      // Stored with the grouping labels, as the Pushgateway's scrape would show them.
      const up = await receiver.query(`postgresql_up{job="${env.PUSHGATEWAY_JOB!}"}`);
      expect(up.map((r) => [r.metric.instance, r.metric.app, r.value[1]])).toEqual([
        [summary.instance, 'prometheus-postgresql-exporter', '1'],
      ]);
    } finally {
      await receiver.stop();
    }
  });

  it('takes REMOTE_WRITE_URL instead of PUSHGATEWAY_URL: its settings on the function, no aps grant', async () => {
    const { fn, statements } = await packaged([], {
      PUSHGATEWAY_URL: '',
      REMOTE_WRITE_URL: 'https://mimir.example.com/api/v1/push',
      REMOTE_WRITE_HEADERS: 'X-Scope-OrgID: tenant-1',
      REMOTE_WRITE_BATCH_SAMPLES: '500',
    });
    const env = (fn.Environment as { Variables: Record<string, string> }).Variables;
    expect(env).toMatchObject({
      PUSHGATEWAY_URL: '',
      REMOTE_WRITE_URL: 'https://mimir.example.com/api/v1/push',
      REMOTE_WRITE_HEADERS: 'X-Scope-OrgID: tenant-1',
      REMOTE_WRITE_BATCH_SAMPLES: '500',
      REMOTE_WRITE_SIGV4: '',
    });
    // Only the log group: nothing was asked for beyond it.
    expectLeastPrivilege(statements);
  });

  it('with ampWorkspaceArn: aps:RemoteWrite on exactly that workspace, beside both sinks', async () => {
    const { fn, statements } = await packaged([], {
      REMOTE_WRITE_URL: AMP_URL,
      AMP_WORKSPACE_ARN: AMP_WORKSPACE,
    });
    const data = statements.filter((s) => !s.Action.every((a) => a.startsWith('logs:')));
    expect(data).toEqual([APS_WRITE]);
    expect(JSON.stringify(data)).not.toContain('*');
    const env = (fn.Environment as { Variables: Record<string, string> }).Variables;
    expect(env).toMatchObject({ PUSHGATEWAY_URL, REMOTE_WRITE_URL: AMP_URL });
  });

  it('in a fan-out fleet: both functions write, so both roles get aps:RemoteWrite and the settings', async () => {
    expectTargetHandler();
    const { functions } = await packagedFleet(['--param', `ampWorkspaceArn=${AMP_WORKSPACE}`], {
      TARGETS_FILE: targetsFile(TWO_SECRETS),
      FLEET_MODE: 'fanout',
      PUSHGATEWAY_URL: '',
      REMOTE_WRITE_URL: AMP_URL,
    });
    for (const name of ['collect', 'collectTarget']) {
      const f = functions[name]!;
      expect(dataStatements(f), name).toContainEqual({ ...APS_WRITE, Resource: [AMP_WORKSPACE] });
      expect(wildcards(f.statements), name).toEqual([]);
      expect(f.environment.REMOTE_WRITE_URL, name).toBe(AMP_URL);
    }
  });
});

/**
 * A real Prometheus with its remote-write receiver on, scraping nothing, on
 * 127.0.0.1; a missing binary fails the test, never skips it.
 */
async function startReceiver() {
  const found = spawnSync('sh', ['-c', 'command -v prometheus'], { encoding: 'utf8' });
  if (found.status !== 0)
    throw new MissingToolError('no prometheus binary: apt-get install prometheus');
  const dir = tempDir('remote-write-receiver-');
  fs.writeFileSync(path.join(dir, 'prometheus.yml'), 'global:\n  evaluation_interval: 15s\n');
  const port = await freePort();
  const child = spawn(
    found.stdout.trim(),
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.enable-remote-write-receiver',
    ],
    { stdio: 'ignore' },
  );
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ready = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline || child.exitCode !== null) {
      await stop();
      throw new Error(`Prometheus did not become ready on ${url}`);
    }
    await sleep(200);
  }
  const query = async (expr: string) => {
    const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await res.json()) as {
      data: { result: { metric: Record<string, string>; value: [number, string] }[] };
    };
    return body.data.result;
  };
  return { url, query, stop };
}

/** The summary `serverless invoke local` prints last: the pretty-printed JSON from a line "{". */
function printedSummary(stdout: string): Record<string, unknown> {
  const lines = stdout.split('\n');
  const start = lines.lastIndexOf('{');
  expect(start, stdout).toBeGreaterThanOrEqual(0);
  const end = lines.indexOf('}', start);
  return record(JSON.parse(lines.slice(start, end + 1).join('\n')), 'summary');
}

function record(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${what}: expected a mapping`);
  }
  return value as Record<string, unknown>;
}

/**
 * The template with what changes on every build taken out: the artifact's
 * path (a timestamp) and the code hash, also part of the version's logical id.
 * Formatted as Prettier formats JSON, so that `npm run format` leaves the file be.
 */
async function stableTemplate(template: Template, file: string): Promise<string> {
  const text = JSON.stringify(template, null, 2)
    .replace(/LambdaVersion[A-Za-z0-9]+/g, 'LambdaVersion<code hash>')
    .replace(/"CodeSha256": "[^"]*"/g, '"CodeSha256": "<code hash>"')
    .replace(/"S3Key": "[^"]*"/g, '"S3Key": "<artifact>"');
  return prettier.format(text, { ...(await prettier.resolveConfig(file)), filepath: file });
}

const GOLDEN_SINGLE_TARGET = path.resolve('test/e2e/golden/single-target.template.json');

describe('serverless package, one target', () => {
  it('writes the template it wrote before fleets existed, byte for byte but for the code hash', async () => {
    // The golden file was written by the serverless.yml and deploy/ of before the fleet: a
    // deliberate change to the single-target deployment updates it with `vitest run -u`.
    const { template } = await packageTemplate([], {});
    await expect(await stableTemplate(template, GOLDEN_SINGLE_TARGET)).toMatchFileSnapshot(
      GOLDEN_SINGLE_TARGET,
    );
    const types = Object.values(template.Resources).map((r) => r.Type);
    expect(types.filter((t) => t === 'AWS::Lambda::Function')).toHaveLength(1);
    expect(types.filter((t) => t === 'AWS::IAM::Role')).toHaveLength(1);
    expect(template.Resources.IamRoleLambdaExecution).toBeDefined();
  });
});

// ---------------------------------------------------------------------------
// A fleet.

const ACCOUNT = '123456789012';
const secret = (name: string) => `arn:aws:secretsmanager:eu-west-1:${ACCOUNT}:secret:${name}`;
const ORDERS_SECRET = secret('fleet/orders-AbCdEf');
const BILLING_SECRET = secret('fleet/billing-GhIjKl');
const DISCOVERED_PREFIX = secret('rds-monitor/');
const KMS_KEY = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
const RESOURCE_ID = 'db-ABCDEFGHIJKLMNOPQRSTUVWXY1';

/** Two targets, each with the full ARN of its secret. */
const TWO_SECRETS = `targets:
  - name: orders
    host: orders.abcdefghijkl.eu-west-1.rds.amazonaws.com
    secret_id: ${ORDERS_SECRET}
  - name: billing
    host: billing.abcdefghijkl.eu-west-1.rds.amazonaws.com
    secret_id: ${BILLING_SECRET}
`;

/** Every way the file can name a target's credentials. */
const EVERY_CREDENTIAL = `${TWO_SECRETS}  - name: reports
    host: reports.abcdefghijkl.eu-west-1.rds.amazonaws.com
    username: exporter_monitor
    iam_auth: true
    rds_resource_id: ${RESOURCE_ID}
  - name: legacy
    host: legacy.internal.example.com
    password_env: LEGACY_PG_PASSWORD
`;

/** A test-only value, in the environment the way a deployer would export it. */
const LEGACY_PASSWORD = 'test-only-not-a-real-password';

/**
 * Targets files of the test in targets/, the packaged folder a deployed
 * TARGETS_FILE must be in: one folder per file, removed after each test so
 * that no other package holds them.
 */
const targetsDirs: string[] = [];
let madeTargetsFolder = false;
afterEach(() => {
  for (const dir of targetsDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});
afterAll(() => {
  if (madeTargetsFolder) fs.rmSync('targets', { recursive: true, force: true });
});

/** Writes a targets file under targets/ and returns TARGETS_FILE for it. */
function targetsFile(yaml: string): string {
  if (!fs.existsSync('targets')) {
    fs.mkdirSync('targets');
    madeTargetsFolder = true;
  }
  const dir = fs.mkdtempSync(path.join('targets', 'package-e2e-'));
  targetsDirs.push(dir);
  fs.writeFileSync(path.join(dir, 'fleet.yml'), yaml);
  return path.join(dir, 'fleet.yml');
}

/** Fan-out packages handlers/target.ts, the lead's per-target handler. */
function expectTargetHandler() {
  expect(fs.existsSync('handlers/target.ts'), 'handlers/target.ts, the per-target handler').toBe(
    true,
  );
}

interface PackagedFunction {
  properties: Record<string, unknown>;
  environment: Record<string, string>;
  /** The logical id of its role. */
  role: string;
  statements: Statement[];
  managedPolicies: unknown;
}

/** A fleet's template: its functions by their name in serverless.yml, each with its role. */
async function packagedFleet(args: string[], env: Record<string, string>) {
  const { template } = await packageTemplate(args, env);
  const ofType = (type: string) =>
    Object.entries(template.Resources).filter(([, r]) => r.Type === type);
  const functions: Record<string, PackagedFunction> = {};
  for (const [, resource] of ofType('AWS::Lambda::Function')) {
    const properties = resource.Properties;
    const name = (properties.FunctionName as string).replace(
      /^postgresql-pushgateway-exporter-dev-/,
      '',
    );
    const role = (properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const roleProperties = template.Resources[role]!.Properties;
    const policies = roleProperties.Policies as { PolicyDocument: { Statement: Statement[] } }[];
    functions[name] = {
      properties,
      environment: (properties.Environment as { Variables: Record<string, string> }).Variables,
      role,
      statements: policies.flatMap((p) => p.PolicyDocument.Statement),
      managedPolicies: roleProperties.ManagedPolicyArns,
    };
  }
  return {
    template,
    functions,
    roles: ofType('AWS::IAM::Role').map(([id]) => id),
    rules: ofType('AWS::Events::Rule').map(([, r]) => r.Properties),
    invokeConfigs: Object.fromEntries(
      ofType('AWS::Lambda::EventInvokeConfig').map(([, r]) => [
        (r.Properties.FunctionName as { Ref: string }).Ref,
        r.Properties,
      ]),
    ),
  };
}

const isLogs = (s: Statement) => s.Action.every((a) => a.startsWith('logs:'));
const dataStatements = (f: PackagedFunction) => f.statements.filter((s) => !isLogs(s));
const actions = (f: PackagedFunction) => f.statements.flatMap((s) => s.Action);

/**
 * Every grant whose resource has a wildcard, as "action… on resource"; the
 * log statements checked apart: they name a log group, never "*". A test
 * lists exactly the wildcards it expects, each documented in deploy/resolve.cjs:
 * Describe* on "*", a discovered-secret prefix, a discovered IAM user on any instance.
 */
function wildcards(statements: Statement[]): string[] {
  const found: string[] = [];
  for (const statement of statements) {
    for (const resource of resources(statement)) {
      const text = typeof resource === 'string' ? resource : JSON.stringify(resource);
      if (isLogs(statement)) {
        expect(resource).not.toBe('*');
        expect(text).toMatch(/:log-group:/);
      } else if (text.includes('*')) {
        found.push(`${statement.Action.join(',')} on ${text}`);
      }
    }
  }
  return found;
}

const dbUser = (resourceId: string, user: string) => ({
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
});

/** Its own log group, nothing else: the logs statement of a fan-out function's role. */
const ownLogs = (logGroup: string) => ({
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
          { Ref: logGroup },
          ':*',
        ],
      ],
    },
  ],
});

const DESCRIBE = {
  Effect: 'Allow',
  Action: ['rds:DescribeDBInstances', 'rds:DescribeDBClusters'],
  Resource: '*',
};
const DESCRIBE_WILDCARD = 'rds:DescribeDBInstances,rds:DescribeDBClusters on *';

/** Discovery with secrets under one prefix (the tag names them). */
const DISCOVERY = {
  TARGETS_RDS_TAG: 'monitoring=pushgateway',
  TARGETS_RDS_SECRET_ARN_PREFIX: DISCOVERED_PREFIX,
};

describe('serverless package, a fleet inline', () => {
  it('grants GetSecretValue on exactly the two secrets the targets file names, no wildcard', async () => {
    const file = targetsFile(TWO_SECRETS);
    const { functions, roles } = await packagedFleet([], { TARGETS_FILE: file });
    expect(Object.keys(functions)).toEqual(['collect']);
    expect(roles).toEqual(['IamRoleLambdaExecution']);
    const { collect } = functions;
    expect(dataStatements(collect!)).toEqual([
      {
        Effect: 'Allow',
        Action: ['secretsmanager:GetSecretValue'],
        Resource: [ORDERS_SECRET, BILLING_SECRET],
      },
    ]);
    expect(wildcards(collect!.statements)).toEqual([]);
    expect(collect!.environment).toMatchObject({
      TARGETS_FILE: file,
      TARGETS_RDS_TAG: '',
      FLEET_NAME: 'postgresql-pushgateway-exporter-dev',
      FLEET_MODE: 'inline',
      POSTGRESQL_SECRET_ID: '',
      POSTGRESQL_IAM_AUTH: '',
    });
    expect(collect!.environment).not.toHaveProperty('FLEET_TARGET_FUNCTION');
    expect(collect!.properties.ReservedConcurrentExecutions).toBe(1);
  });

  it('gives the one function every credential of the file, and the password it names', async () => {
    const file = targetsFile(EVERY_CREDENTIAL);
    const { functions } = await packagedFleet(['--param', `kmsKeyArn=${KMS_KEY}`], {
      TARGETS_FILE: file,
      FLEET_NAME: 'orders-fleet',
      FLEET_CONCURRENCY: '20',
      LEGACY_PG_PASSWORD: LEGACY_PASSWORD,
    });
    const { collect } = functions;
    expect(dataStatements(collect!)).toEqual([
      {
        Effect: 'Allow',
        Action: ['secretsmanager:GetSecretValue'],
        Resource: [ORDERS_SECRET, BILLING_SECRET],
      },
      {
        Effect: 'Allow',
        Action: ['kms:Decrypt'],
        Resource: KMS_KEY,
        Condition: { StringEquals: { 'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com' } },
      },
      {
        Effect: 'Allow',
        Action: ['rds-db:connect'],
        Resource: [dbUser(RESOURCE_ID, 'exporter_monitor')],
      },
    ]);
    expect(wildcards(collect!.statements)).toEqual([]);
    expect(collect!.environment).toMatchObject({
      FLEET_NAME: 'orders-fleet',
      FLEET_CONCURRENCY: '20',
      LEGACY_PG_PASSWORD: LEGACY_PASSWORD,
    });
  });

  it('with discovery: Describe* on "*", the one documented wildcard besides the secret prefix', async () => {
    const { functions } = await packagedFleet([], DISCOVERY);
    const { collect } = functions;
    expect(dataStatements(collect!)).toEqual([
      DESCRIBE,
      // Serverless writes a one-item list as the item in the role it makes.
      {
        Effect: 'Allow',
        Action: ['secretsmanager:GetSecretValue'],
        Resource: `${DISCOVERED_PREFIX}*`,
      },
    ]);
    expect(wildcards(collect!.statements)).toEqual([
      DESCRIBE_WILDCARD,
      `secretsmanager:GetSecretValue on ${DISCOVERED_PREFIX}*`,
    ]);
    expect(collect!.environment).toMatchObject({
      TARGETS_FILE: '',
      TARGETS_RDS_TAG: 'monitoring=pushgateway',
    });
  });

  it('with discovery by IAM auth: rds-db:connect for the one user, on the instances given', async () => {
    const env = {
      TARGETS_RDS_TAG: 'monitoring',
      TARGETS_RDS_IAM_AUTH: 'true',
      TARGETS_RDS_USERNAME: 'exporter_monitor',
      TARGETS_RDS_LABEL_TAGS: 'team',
    };
    const listed = await packagedFleet(
      ['--param', `rdsDbResourceIds=${RESOURCE_ID},cluster-ABCDEFGHIJKLMNOPQRSTUVWXY2`],
      env,
    );
    expect(dataStatements(listed.functions.collect!)).toEqual([
      DESCRIBE,
      {
        Effect: 'Allow',
        Action: ['rds-db:connect'],
        Resource: [
          dbUser(RESOURCE_ID, 'exporter_monitor'),
          dbUser('cluster-ABCDEFGHIJKLMNOPQRSTUVWXY2', 'exporter_monitor'),
        ],
      },
    ]);
    expect(wildcards(listed.functions.collect!.statements)).toEqual([DESCRIBE_WILDCARD]);
    expect(listed.functions.collect!.environment).toMatchObject({
      TARGETS_RDS_IAM_AUTH: 'true',
      TARGETS_RDS_USERNAME: 'exporter_monitor',
      TARGETS_RDS_LABEL_TAGS: 'team',
    });
    // Any instance, asked for in so many words: still the one user.
    const any = await packagedFleet(['--param', 'rdsDbResourceIds=*'], env);
    expect(wildcards(any.functions.collect!.statements)).toEqual([
      DESCRIBE_WILDCARD,
      `rds-db:connect on ${JSON.stringify(dbUser('*', 'exporter_monitor'))}`,
    ]);
  });
});

describe('serverless package, a fleet fanned out', () => {
  it('two functions, two roles: collect may invoke collectTarget alone, collectTarget reads the secrets', async () => {
    expectTargetHandler();
    const file = targetsFile(EVERY_CREDENTIAL);
    const { functions, roles, rules, invokeConfigs } = await packagedFleet([], {
      TARGETS_FILE: file,
      FLEET_MODE: 'fanout',
      LEGACY_PG_PASSWORD: LEGACY_PASSWORD,
    });
    expect(Object.keys(functions).sort()).toEqual(['collect', 'collectTarget']);
    expect(roles.sort()).toEqual(['IamRoleCollect', 'IamRoleCollectTarget']);
    const collect = functions.collect!;
    const target = functions.collectTarget!;
    expect(collect.role).toBe('IamRoleCollect');
    expect(target.role).toBe('IamRoleCollectTarget');

    expect(collect.statements).toEqual([
      ownLogs('CollectLogGroup'),
      {
        Effect: 'Allow',
        Action: ['lambda:InvokeFunction'],
        Resource: [{ 'Fn::GetAtt': ['CollectTargetLambdaFunction', 'Arn'] }],
      },
    ]);
    expect(target.statements).toEqual([
      ownLogs('CollectTargetLogGroup'),
      {
        Effect: 'Allow',
        Action: ['secretsmanager:GetSecretValue'],
        Resource: [ORDERS_SECRET, BILLING_SECRET],
      },
      {
        Effect: 'Allow',
        Action: ['rds-db:connect'],
        Resource: [dbUser(RESOURCE_ID, 'exporter_monitor')],
      },
    ]);
    expect(actions(target).filter((a) => a.startsWith('lambda:'))).toEqual([]);
    expect(actions(target).filter((a) => a.startsWith('rds:'))).toEqual([]);
    for (const f of [collect, target]) {
      expect(wildcards(f.statements)).toEqual([]);
      expect(f.managedPolicies).toBeUndefined();
    }

    // collect is scheduled, and names the function it invokes; collectTarget has no event.
    expect(rules).toHaveLength(1);
    expect(JSON.stringify(rules[0]!.Targets)).toContain('CollectLambdaFunction');
    expect(collect.environment.FLEET_MODE).toBe('fanout');
    expect(collect.environment.FLEET_TARGET_FUNCTION).toBe(target.properties.FunctionName);
    expect(target.properties).toMatchObject({
      Handler: 'handlers/target.handler',
      Timeout: 20,
      ReservedConcurrentExecutions: 50,
      MemorySize: 256,
    });
    expect(invokeConfigs.CollectTargetLambdaFunction).toMatchObject({
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 60,
    });
    // One configuration for both; the password only where it is used.
    const { LEGACY_PG_PASSWORD: password, ...shared } = target.environment;
    expect(password).toBe(LEGACY_PASSWORD);
    expect(shared).toEqual(collect.environment);
  });

  it('with discovery: Describe* on the scheduler only, the discovered secrets on collectTarget only', async () => {
    expectTargetHandler();
    const { functions } = await packagedFleet(
      ['--param', 'fleetMode=fanout', '--param', `kmsKeyArn=${KMS_KEY}`],
      { ...DISCOVERY, TARGETS_RDS_MASTER_SECRET: 'true' },
    );
    const collect = functions.collect!;
    const target = functions.collectTarget!;
    expect(dataStatements(collect)).toEqual([
      DESCRIBE,
      {
        Effect: 'Allow',
        Action: ['lambda:InvokeFunction'],
        Resource: [{ 'Fn::GetAtt': ['CollectTargetLambdaFunction', 'Arn'] }],
      },
    ]);
    expect(wildcards(collect.statements)).toEqual([DESCRIBE_WILDCARD]);
    expect(dataStatements(target)).toEqual([
      {
        Effect: 'Allow',
        Action: ['secretsmanager:GetSecretValue'],
        Resource: [`${DISCOVERED_PREFIX}*`],
      },
      {
        Effect: 'Allow',
        Action: ['kms:Decrypt'],
        Resource: [KMS_KEY],
        Condition: { StringEquals: { 'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com' } },
      },
    ]);
    expect(wildcards(target.statements)).toEqual([
      `secretsmanager:GetSecretValue on ${DISCOVERED_PREFIX}*`,
    ]);
    expect(actions(collect).some((a) => a.startsWith('secretsmanager:'))).toBe(false);
  });

  it('takes the per-target params, and gives both roles VPC access in a VPC', async () => {
    expectTargetHandler();
    const file = targetsFile(TWO_SECRETS);
    const { functions } = await packagedFleet(
      [
        '--param',
        'targetConcurrency=200',
        '--param',
        'targetTimeout=45',
        '--param',
        'subnetIds=subnet-aaa',
        '--param',
        'securityGroupIds=sg-123',
      ],
      { TARGETS_FILE: file, FLEET_MODE: 'fanout', SCHEDULE: 'rate(2 minutes)' },
    );
    const target = functions.collectTarget!;
    expect(target.properties).toMatchObject({ Timeout: 45, ReservedConcurrentExecutions: 200 });
    for (const f of [functions.collect!, target]) {
      expect(f.properties.VpcConfig).toEqual({
        SubnetIds: ['subnet-aaa'],
        SecurityGroupIds: ['sg-123'],
      });
      expect(JSON.stringify(f.managedPolicies)).toContain('AWSLambdaVPCAccessExecutionRole');
    }
  });
});

/** A refused fleet: the case's targets file (if any) is written, then its env applied. */
type FleetCase = readonly [
  string,
  { file?: string; args?: readonly string[]; env?: Record<string, string> },
  RegExp,
];

describe('serverless package refuses a fleet it cannot scope', () => {
  it.each<FleetCase>([
    [
      'a secret_id that is a name, not an ARN',
      { file: `targets:\n  - name: orders\n    secret_id: prod/orders-monitor\n` },
      /target "orders": secret_id must be the secret's full ARN .*got "prod\/orders-monitor"/,
    ],
    [
      'a secret_id with a wildcard',
      { file: `targets:\n  - name: orders\n    secret_id: ${secret('prod/*')}\n` },
      /target "orders": secret_id must be the secret's full ARN/,
    ],
    [
      'iam_auth without rds_resource_id',
      { file: `targets:\n  - name: reports\n    username: monitor\n    iam_auth: true\n` },
      /target "reports": iam_auth needs rds_resource_id/,
    ],
    [
      'a wildcard rds_resource_id',
      {
        file: `targets:\n  - name: reports\n    iam_auth: true\n    rds_resource_id: "db-*"\n`,
      },
      /target "reports": iam_auth needs rds_resource_id.*got "db-\*"/,
    ],
    [
      'a password_env that is not set',
      { file: `targets:\n  - name: legacy\n    password_env: LEGACY_PG_PASSWORD\n` },
      /target "legacy": password_env LEGACY_PG_PASSWORD is not set/,
    ],
    [
      'a password_env naming a setting of the function',
      { file: `targets:\n  - name: legacy\n    password_env: PUSHGATEWAY_URL\n` },
      /password_env PUSHGATEWAY_URL is a variable the function uses for something else/,
    ],
    [
      "more password_env variables than Lambda's 4 KB environment holds",
      {
        file: `targets:\n${Array.from(
          { length: 120 },
          (_, i) =>
            `  - name: t${i}\n    host: db${i}.internal\n    password_env: PG_PASSWORD_${i}\n`,
        ).join('')}`,
        env: Object.fromEntries(
          Array.from({ length: 120 }, (_, i) => [`PG_PASSWORD_${i}`, `password-of-target-${i}`]),
        ),
      },
      /environment of function collect is \d+ bytes, over Lambda's 4096.*use secret_id/,
    ],
    ['a targets file without a list', { file: 'targets: {}\n' }, /expected a "targets:" list/],
    [
      'a targets file that is not there',
      { env: { TARGETS_FILE: 'targets/no-such-file.yml' } },
      /targetsFile targets\/no-such-file.yml cannot be read \(ENOENT\)/,
    ],
    [
      'a discoveredSecretPrefix of "*"',
      { env: { TARGETS_RDS_TAG: 'monitoring', TARGETS_RDS_SECRET_ARN_PREFIX: '*' } },
      /discoveredSecretPrefix must be secret ARN prefixes with a name part.*got "\*"/,
    ],
    [
      'a discoveredSecretPrefix of every secret of the account',
      {
        env: {
          TARGETS_RDS_TAG: 'monitoring',
          TARGETS_RDS_SECRET_ARN_PREFIX: secret(''),
        },
      },
      /discoveredSecretPrefix must be secret ARN prefixes with a name part/,
    ],
    [
      'discovery with no way to log in',
      { env: { TARGETS_RDS_TAG: 'monitoring' } },
      /rdsTag needs a way to log in to what it finds: discoveredSecretPrefix/,
    ],
    [
      'discovered IAM auth without resource ids',
      {
        env: {
          TARGETS_RDS_TAG: 'monitoring',
          TARGETS_RDS_IAM_AUTH: 'true',
          TARGETS_RDS_USERNAME: 'monitor',
        },
      },
      /TARGETS_RDS_IAM_AUTH needs rdsDbResourceIds \(TARGETS_RDS_RESOURCE_IDS\)/,
    ],
    [
      'master secrets without a prefix for them',
      {
        env: {
          TARGETS_RDS_TAG: 'monitoring',
          TARGETS_RDS_IAM_AUTH: 'true',
          TARGETS_RDS_USERNAME: 'monitor',
          TARGETS_RDS_RESOURCE_IDS: '*',
          TARGETS_RDS_MASTER_SECRET: 'true',
        },
      },
      /TARGETS_RDS_MASTER_SECRET needs discoveredSecretPrefix/,
    ],
    [
      'a TARGETS_RDS_ setting without discovery',
      { file: TWO_SECRETS, env: { TARGETS_RDS_USERNAME: 'monitor' } },
      /TARGETS_RDS_USERNAME is only used with rdsTag/,
    ],
    [
      'a fleetConcurrency without a fleet',
      { env: { FLEET_CONCURRENCY: '5' } },
      /fleetConcurrency is only used with a fleet: set targetsFile or rdsTag/,
    ],
    [
      'fleetMode=fanout without a fleet',
      { args: ['--param', 'fleetMode=fanout'] },
      /fleetMode=fanout needs a fleet: set targetsFile or rdsTag/,
    ],
    [
      'an unknown fleetMode',
      { file: TWO_SECRETS, env: { FLEET_MODE: 'batch' } },
      /fleetMode must be inline or fanout, got "batch"/,
    ],
    [
      'a discovery param without a fleet',
      { env: { TARGETS_RDS_SECRET_ARN_PREFIX: DISCOVERED_PREFIX } },
      /discoveredSecretPrefix is only used with rdsTag \(RDS discovery\)/,
    ],
    [
      'the single-target secretArn with a fleet',
      { file: TWO_SECRETS, args: ['--param', `secretArn=${ORDERS_SECRET}`] },
      /secretArn is for a single target and cannot be used with targetsFile/,
    ],
    [
      'POSTGRESQL_HOST with a fleet',
      { file: TWO_SECRETS, env: { POSTGRESQL_HOST: 'db.example.com' } },
      /POSTGRESQL_HOST is for a single target and cannot be set with targetsFile/,
    ],
    [
      'kmsKeyArn with no secret to decrypt',
      {
        file: `targets:\n  - name: legacy\n    password_env: LEGACY_PG_PASSWORD\n`,
        args: ['--param', `kmsKeyArn=${KMS_KEY}`],
        env: { LEGACY_PG_PASSWORD: LEGACY_PASSWORD },
      },
      /kmsKeyArn is only used with a secret/,
    ],
    [
      'a fleetConcurrency past the most',
      { file: TWO_SECRETS, env: { FLEET_CONCURRENCY: '500' } },
      /fleetConcurrency must be a whole number from 1 to 100, got "500"/,
    ],
    [
      'a targetTimeout not below the interval',
      { file: TWO_SECRETS, env: { FLEET_MODE: 'fanout' }, args: ['--param', 'targetTimeout=60'] },
      /targetTimeout 60 s must be below the schedule's interval/,
    ],
    [
      'a targetConcurrency of 0',
      {
        file: TWO_SECRETS,
        env: { FLEET_MODE: 'fanout' },
        args: ['--param', 'targetConcurrency=0'],
      },
      /targetConcurrency must be a whole number of at least 1, got "0"/,
    ],
    [
      'a fan-out fleet without PUSHGATEWAY_URL',
      { file: TWO_SECRETS, env: { FLEET_MODE: 'fanout', PUSHGATEWAY_URL: '' } },
      /serverless\.yml: PUSHGATEWAY_URL is required/,
    ],
  ])('%s, with a clear message', async (_case, { file, args = [], env = {} }, message) => {
    const fileEnv = file === undefined ? {} : { TARGETS_FILE: targetsFile(file) };
    expect(await refused([...args], { ...fileEnv, ...env })).toMatch(message);
  });

  it('refuses a TARGETS_FILE outside targets/, which would not be packaged', async () => {
    const dir = tempDir('sls-targets-');
    fs.writeFileSync(path.join(dir, 'fleet.yml'), TWO_SECRETS);
    for (const file of [path.join(dir, 'fleet.yml'), path.resolve(targetsFile(TWO_SECRETS))]) {
      expect(await refused([], { TARGETS_FILE: file })).toMatch(
        /TARGETS_FILE must be a file under targets\/, which is packaged with the function/,
      );
    }
  });

  it('leaves TARGETS_FILE outside targets/ to the commands that do not deploy (serverless print)', async () => {
    const dir = tempDir('sls-targets-');
    fs.writeFileSync(path.join(dir, 'fleet.yml'), TWO_SECRETS);
    const result = await runCommand(
      'node_modules/.bin/serverless',
      ['print', '--path', 'functions.collect.environment.TARGETS_FILE'],
      packageEnv({ TARGETS_FILE: path.join(dir, 'fleet.yml') }),
    );
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain(path.join(dir, 'fleet.yml'));
  });
});

describe('the temp directory', () => {
  /** Runs serverless with TMPDIR set to a fresh folder and returns what is left in it. */
  async function leftIn(args: string[], env: Record<string, string>) {
    const tmp = tempDir('sls-tmpdir-');
    const result = await runCommand(
      'node_modules/.bin/serverless',
      args,
      cleanEnv({ ...env, TMPDIR: tmp }),
    );
    return { result, left: fs.readdirSync(tmp) };
  }

  it('serverless package leaves nothing in it (no zip staging folder, no tsx cache)', async () => {
    const out = tempDir('sls-package-');
    const { result, left } = await leftIn(['package', '--package', out], { PUSHGATEWAY_URL });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(fs.existsSync(path.join(out, 'postgresql-pushgateway-exporter.zip'))).toBe(true);
    expect(left).toEqual([]);
  });

  it('a refused serverless package leaves nothing in it', async () => {
    const { result, left } = await leftIn(['package'], { PUSHGATEWAY_URL: '' });
    expect(result.code).not.toBe(0);
    expect(left).toEqual([]);
  });

  it('serverless invoke local leaves nothing in it', async () => {
    const { result, left } = await leftIn(['invoke', 'local', '-f', 'collect'], runEnv());
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(left).toEqual([]);
  });
});
