/**
 * `serverless package` and the CloudFormation template it writes: the
 * schedule, the function's limits and the IAM policy, for the default, the
 * SCHEDULE variable, --param and a stage; what it must refuse (deploy too);
 * and that it leaves nothing in the temp directory.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanEnv, runCommand } from '../harness/command.js';
import { runEnv } from '../harness/context.js';

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

async function packaged(args: string[] = [], env: Record<string, string> = {}) {
  const dir = tempDir('sls-package-');
  const result = await runCommand(
    'node_modules/.bin/serverless',
    ['package', '--package', dir, ...args],
    cleanEnv({ PUSHGATEWAY_URL, ...env }),
  );
  expect(result.code, result.stdout + result.stderr).toBe(0);
  const template = JSON.parse(
    fs.readFileSync(path.join(dir, 'cloudformation-template-update-stack.json'), 'utf8'),
  ) as Template;
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
    cleanEnv({ PUSHGATEWAY_URL, ...env }),
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
    expect(zipBytes).toBeLessThan(1_500_000);
  });

  it('packages the bundle and the custom-queries folder, nothing else', async () => {
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
    expect(list).toEqual(['handlers/collect.js', 'handlers/collect.js.map', 'queries/example.yml']);
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
