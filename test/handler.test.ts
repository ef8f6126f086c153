import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { AutoScalingClient, CompleteLifecycleActionCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { DescribeClusterCommand, EKSClient, EKSServiceException } from '@aws-sdk/client-eks';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { lifecycleEvent, SAMPLE_FIELDS } from './support/events.js';

const asg = mockClient(AutoScalingClient);
const ec2 = mockClient(EC2Client);
const eks = mockClient(EKSClient);
afterEach(() => {
  asg.reset();
  ec2.reset();
  eks.reset();
  vi.unstubAllEnvs();
});

async function loadHandler(env: Record<string, string>) {
  vi.resetModules();
  const all = {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIDUNITTEST00000000',
    AWS_SECRET_ACCESS_KEY: 'unit-test-secret',
    CLUSTER_NAME: 'prod',
    LOG_LEVEL: 'error',
    ...env,
  };
  for (const [key, value] of Object.entries(all)) vi.stubEnv(key, value);
  return (await import('../lambda/handler.js')).handler;
}

const context = {
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:1:function:f',
  getRemainingTimeInMillis: () => 600_000,
};

describe('handler with an EKS API that fails', () => {
  it('retries DescribeCluster until the deadline, then completes per policy and names the failure', async () => {
    eks.on(DescribeClusterCommand).rejects(
      new EKSServiceException({
        name: 'ServerException',
        message: 'EKS is having a moment',
        $fault: 'server',
        $metadata: {},
      }),
    );
    ec2
      .on(DescribeInstancesCommand)
      .resolves({ Reservations: [{ Instances: [{ PrivateDnsName: 'ip-10-0-0-1.ec2.internal' }] }] });
    asg.onAnyCommand().resolves({});
    const handler = await loadHandler({
      ON_DRAIN_TIMEOUT: 'continue',
      DRAIN_TIMEOUT_SECONDS: '30',
      MIN_EVICTION_WINDOW_SECONDS: '1',
    });
    // the action began 29 s ago: one second of drain budget is left
    const event = lifecycleEvent(SAMPLE_FIELDS, new Date(Date.now() - 29_000));

    const summary = await handler(event, context);

    expect(summary.outcome).toBe('deadline-continued');
    expect(summary.report?.errors.join('\n')).toMatch(/find node: EKS is having a moment/);
    expect(eks.commandCalls(DescribeClusterCommand).length).toBeGreaterThan(1);
    const completions = asg.commandCalls(CompleteLifecycleActionCommand);
    expect(completions.map((c) => c.args[0].input.LifecycleActionResult)).toEqual(['CONTINUE']);
  });
});

describe('handler cold start', () => {
  it('fails to load with a message naming the bad variable and value', async () => {
    const run = promisify(execFile);
    const failure = await run(
      'npx',
      [
        'tsx',
        '-e',
        "import('./lambda/handler.ts').catch((e) => { console.error(e.message); process.exit(3); })",
      ],
      {
        env: { ...process.env, CLUSTER_NAME: 'prod', DRAIN_TIMEOUT_SECONDS: 'ten' },
      },
    ).catch((error: { code: number; stderr: string }) => error);

    expect(failure).toMatchObject({ code: 3 });
    expect((failure as { stderr: string }).stderr).toContain(
      'DRAIN_TIMEOUT_SECONDS must be a whole number between 30 and 172800, got "ten"',
    );
  });
});
