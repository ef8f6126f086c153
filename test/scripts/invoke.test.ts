import { randomUUID } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { DRAINER_KEY, parseEvent, TERMINATE_DETAIL_TYPE, TERMINATING } from '../../lambda/event.js';
import type { InvocationSummary } from '../../lambda/handler.js';
import { LocalAwsEndpoint } from '../../scripts/harness/aws-endpoint.js';
import { main } from '../../scripts/invoke.js';

const INSTANCE = 'i-0123456789abcdef0';
const ASG = 'web-asg';
const FUNCTION = 'eks-node-drainer';
const LAUNCHING = 'autoscaling:EC2_INSTANCE_LAUNCHING';

const aws = new LocalAwsEndpoint();
beforeAll(async () => {
  await aws.start();
});
afterAll(async () => {
  await aws.stop();
});

/** What the registered function received, in order. */
let received: Record<string, unknown>[] = [];

const DRY_RUN_SUMMARY: InvocationSummary = {
  outcome: 'dry-run',
  lifecycleResult: null,
  report: {
    outcome: 'dry-run',
    node: 'ip-10-0-1-23.ec2.internal',
    dryRun: true,
    evicted: ['shop/web-1', 'shop/web-2'],
    skipped: [{ pod: 'kube-system/aws-node-x7k2p', reason: 'daemonset' }],
    warnings: [],
    blocked: [
      {
        pod: 'shop/db-0',
        reason: 'pdb',
        message: 'Cannot evict pod as it would violate the pod disruption budget.',
        attempts: 1,
        pdbs: [{ name: 'db', disruptionsAllowed: 0 }],
      },
    ],
    turns: [
      { pdb: 'shop/web', behind: ['ip-10-0-9-9.ec2.internal'] },
      { pdb: 'shop/db', behind: [] },
    ],
    deleted: [],
    remaining: [],
    evictionRequests: 3,
    evictionRefusals: 1,
    throttled: 0,
    errors: [],
    invocation: {
      evicted: 2,
      deleted: 0,
      evictionRequests: 3,
      evictionRefusals: 1,
      throttled: 0,
      errors: 0,
      staleReads: 0,
    },
    startedAt: '2026-11-21T10:00:00.000Z',
    durationMs: 1_234,
    progress: {
      offeredAt: {},
      totals: {
        evicted: [],
        deleted: [],
        evictionRequests: 3,
        evictionRefusals: 1,
        throttled: 0,
        errors: [],
      },
    },
  },
  release: {
    outcome: 'deadline',
    loadBalancers: {
      seen: [
        {
          targetGroupArn: 'arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/k8s-shop-web/0123',
          id: INSTANCE,
          port: 30080,
          state: 'healthy',
        },
      ],
      left: [],
      waitedMs: 0,
      errors: [],
    },
    volumes: { seen: ['csi-4f2a'], left: [], waitedMs: 0, errors: [] },
  },
};

const FUNCTION_LOGS = [
  '{"level":"info","time":"2026-11-21T10:00:01.000Z","message":"dry run planned","cluster":"prod","node":"ip-10-0-1-23.ec2.internal","wouldEvict":2}',
  '{"level":"info","time":"2026-11-21T10:00:01.100Z","message":"invocation finished","outcome":"dry-run"}',
].join('\n');

beforeEach(() => {
  aws.calls.length = 0;
  aws.autoScalingInstances.clear();
  aws.lifecycleHooks.clear();
  aws.functions.clear();
  aws.clusters.clear();
  aws.instances.clear();
  aws.lifecycleActions.clear();
  received = [];
  aws.autoScalingInstances.set(INSTANCE, { asg: ASG, lifecycleState: 'Terminating:Wait' });
  aws.lifecycleHooks.set(ASG, [
    { name: 'warm-up', transition: LAUNCHING, heartbeatTimeout: 300, defaultResult: 'CONTINUE' },
    { name: 'eks-node-drainer', transition: TERMINATING, heartbeatTimeout: 300, defaultResult: 'CONTINUE' },
  ]);
  aws.functions.set(FUNCTION, async (payload) => {
    received.push(payload as Record<string, unknown>);
    return { result: DRY_RUN_SUMMARY, logs: FUNCTION_LOGS };
  });
  for (const [key, value] of Object.entries(aws.env())) vi.stubEnv(key, value);
  // restored after each test: --local sets them for the handler
  vi.stubEnv('CLUSTER_NAME', undefined);
  vi.stubEnv('DRY_RUN', undefined);
});
afterEach(() => {
  vi.unstubAllEnvs();
});

/** Runs the tool as `npm run invoke -- …args` would, capturing what it writes. */
async function invoke(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, process.env, {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

function detailOf(event: Record<string, unknown> | undefined): Record<string, unknown> {
  return (event?.detail ?? {}) as Record<string, unknown>;
}

describe('npm run invoke: the event', () => {
  it('looks up the group and termination hook of the instance and sends a dry run by default', async () => {
    const began = Date.now();

    const { code } = await invoke('--instance-id', INSTANCE, '--function', FUNCTION);

    expect(code).toBe(0);
    expect(aws.callsOf('autoscaling', 'DescribeAutoScalingInstances')[0]?.params).toMatchObject({
      'InstanceIds.member.1': INSTANCE,
    });
    expect(aws.callsOf('autoscaling', 'DescribeLifecycleHooks')[0]?.params).toMatchObject({
      AutoScalingGroupName: ASG,
    });
    expect(received).toHaveLength(1);
    const event = received[0];
    expect(event).toMatchObject({
      source: 'aws.autoscaling',
      'detail-type': TERMINATE_DETAIL_TYPE,
      region: 'us-east-1',
      [DRAINER_KEY]: { dryRun: true },
    });
    expect(detailOf(event)).toMatchObject({
      EC2InstanceId: INSTANCE,
      AutoScalingGroupName: ASG,
      LifecycleHookName: 'eks-node-drainer',
      LifecycleTransition: TERMINATING,
    });
    expect(detailOf(event)).not.toHaveProperty('LifecycleActionToken');
    const time = Date.parse(String(event?.time));
    expect(time).toBeGreaterThanOrEqual(began - 1_000);
    expect(time).toBeLessThanOrEqual(Date.now());
    expect(parseEvent(event)).toMatchObject({ kind: 'action', dryRun: true });
  });

  it('invokes the function synchronously with the log tail requested', async () => {
    await invoke('--instance-id', INSTANCE, '--function', FUNCTION);

    expect(aws.callsOf('lambda', 'Invoke')).toEqual([
      expect.objectContaining({ params: { functionName: FUNCTION, type: 'RequestResponse' } }),
    ]);
    expect(aws.invocations).toEqual([]);
  });

  it('sends no dry-run request with --yes', async () => {
    const { code } = await invoke('--instance-id', INSTANCE, '--function', FUNCTION, '--yes');

    expect(code).toBe(0);
    expect(received[0]).not.toHaveProperty(DRAINER_KEY);
    expect(parseEvent(received[0])).toMatchObject({ kind: 'action' });
    expect(parseEvent(received[0])).not.toHaveProperty('dryRun');
  });

  it('uses --asg and --hook as given without looking anything up', async () => {
    const { code } = await invoke(
      '--instance-id',
      INSTANCE,
      '--asg',
      'batch-asg',
      '--hook',
      'drain-hook',
      '--function',
      FUNCTION,
    );

    expect(code).toBe(0);
    expect(aws.calls.filter((c) => c.service === 'autoscaling')).toEqual([]);
    expect(detailOf(received[0])).toMatchObject({
      AutoScalingGroupName: 'batch-asg',
      LifecycleHookName: 'drain-hook',
      EC2InstanceId: INSTANCE,
    });
  });

  it('refuses a real drain of an instance that is not waiting to terminate, exiting 2', async () => {
    aws.autoScalingInstances.set(INSTANCE, { asg: ASG, lifecycleState: 'InService' });

    const { code, out, err } = await invoke('--instance-id', INSTANCE, '--function', FUNCTION, '--yes');

    expect(code).toBe(2);
    expect(err).toBe(
      `invoke: instance ${INSTANCE} is InService, not Terminating:Wait: refusing to drain a node whose instance is not terminating (nothing would replace it, and there is no lifecycle action to complete). Nothing was changed. A dry run (without --yes) shows the plan; --force drains it anyway`,
    );
    expect(out).toBe('');
    expect(aws.callsOf('lambda', 'Invoke')).toEqual([]);
    expect(received).toEqual([]);
  });

  it('looks up the state before a real drain even when --asg and --hook are given', async () => {
    aws.autoScalingInstances.set(INSTANCE, { asg: ASG, lifecycleState: 'Pending' });

    const { code, err } = await invoke(
      '--instance-id',
      INSTANCE,
      '--asg',
      ASG,
      '--hook',
      'eks-node-drainer',
      '--function',
      FUNCTION,
      '--yes',
    );

    expect(code).toBe(2);
    expect(err).toContain(`invoke: instance ${INSTANCE} is Pending, not Terminating:Wait`);
    expect(aws.callsOf('autoscaling', 'DescribeAutoScalingInstances')).toHaveLength(1);
    expect(received).toEqual([]);
  });

  it('refuses a real drain when the instance is in another group than --asg names', async () => {
    const { code, err } = await invoke(
      '--instance-id',
      INSTANCE,
      '--asg',
      'batch-asg',
      '--function',
      FUNCTION,
      '--yes',
    );

    expect(code).toBe(2);
    expect(err).toBe(`invoke: instance ${INSTANCE} is in Auto Scaling group ${ASG}, not batch-asg (--asg)`);
    expect(received).toEqual([]);
  });

  it('drains an instance that is not waiting to terminate with --force, saying so in the event and a warning', async () => {
    aws.autoScalingInstances.set(INSTANCE, { asg: ASG, lifecycleState: 'InService' });

    const { code, err } = await invoke('--instance-id', INSTANCE, '--function', FUNCTION, '--yes', '--force');

    expect(code).toBe(0);
    expect(err).toContain(
      `warning: instance ${INSTANCE} is InService, not Terminating:Wait: its node will be cordoned and emptied although nothing terminates it`,
    );
    expect(received).toHaveLength(1);
    expect(received[0]?.[DRAINER_KEY]).toEqual({ force: true });
    expect(parseEvent(received[0])).toMatchObject({ kind: 'action', force: true });
    expect(parseEvent(received[0])).not.toHaveProperty('dryRun');
  });

  it('allows a dry run of an instance that is not waiting to terminate, noting that a drain would need --force', async () => {
    aws.autoScalingInstances.set(INSTANCE, { asg: ASG, lifecycleState: 'InService' });

    const { code, err } = await invoke('--instance-id', INSTANCE, '--function', FUNCTION);

    expect(code).toBe(0);
    expect(received).toHaveLength(1);
    expect(received[0]?.[DRAINER_KEY]).toEqual({ dryRun: true });
    expect(err).toContain(
      `note: instance ${INSTANCE} is InService, not Terminating:Wait: a real drain (--yes) of it would need --force`,
    );
  });

  it('sends force alongside dryRun for a forced dry run', async () => {
    aws.autoScalingInstances.set(INSTANCE, { asg: ASG, lifecycleState: 'InService' });

    const { code } = await invoke('--instance-id', INSTANCE, '--function', FUNCTION, '--force');

    expect(code).toBe(0);
    expect(received[0]?.[DRAINER_KEY]).toEqual({ dryRun: true, force: true });
  });

  it('sends no force for a real drain of an instance in Terminating:Wait', async () => {
    const { code, err } = await invoke('--instance-id', INSTANCE, '--function', FUNCTION, '--yes');

    expect(code).toBe(0);
    expect(received[0]).not.toHaveProperty(DRAINER_KEY);
    expect(err).not.toMatch(/warning|note/);
  });

  it('names --force in the JSON summary of a forced drain', async () => {
    aws.autoScalingInstances.set(INSTANCE, { asg: ASG, lifecycleState: 'InService' });

    const { out } = await invoke(
      '--instance-id',
      INSTANCE,
      '--function',
      FUNCTION,
      '--yes',
      '--force',
      '--json',
    );

    expect(JSON.parse(out)).toMatchObject({ dryRun: false, force: true });
  });

  it('prefers the hook named eks-node-drainer when the group has several termination hooks', async () => {
    aws.lifecycleHooks.set(ASG, [
      { name: 'audit', transition: TERMINATING, heartbeatTimeout: 60, defaultResult: 'CONTINUE' },
      { name: 'eks-node-drainer', transition: TERMINATING, heartbeatTimeout: 300, defaultResult: 'CONTINUE' },
    ]);

    await invoke('--instance-id', INSTANCE, '--function', FUNCTION);

    expect(detailOf(received[0]).LifecycleHookName).toBe('eks-node-drainer');
  });

  it('sets the event time from --event-time', async () => {
    await invoke('--instance-id', INSTANCE, '--function', FUNCTION, '--event-time', '2026-11-21T10:00:00Z');

    expect(received[0]?.time).toBe('2026-11-21T10:00:00.000Z');
  });
});

describe('npm run invoke: output', () => {
  it('prints the outcome, the pods by fate and the decoded log tail', async () => {
    const { code, out } = await invoke('--instance-id', INSTANCE, '--function', FUNCTION);

    expect(code).toBe(0);
    expect(out).toContain(`DRY RUN  instance ${INSTANCE} (ASG ${ASG}, hook eks-node-drainer)`);
    expect(out).toMatch(/^outcome: +dry-run$/m);
    expect(out).toMatch(/^lifecycle result: +none sent$/m);
    expect(out).toMatch(/^would evict \(2\): +shop\/web-1, shop\/web-2$/m);
    expect(out).toMatch(/^skipped \(1\): +kube-system\/aws-node-x7k2p \(daemonset\)$/m);
    expect(out).toMatch(/^blocked \(1\): +shop\/db-0 \(pdb: db allows 0\)$/m);
    expect(out).toMatch(
      /^would queue at \(2\): +shop\/web \(behind ip-10-0-9-9\.ec2\.internal\), shop\/db \(first\)$/m,
    );
    expect(out).toMatch(
      /^would wait for targets \(1\): +targetgroup\/k8s-shop-web\/0123 i-0123456789abcdef0:30080 \(healthy\)$/m,
    );
    expect(out).toMatch(/^would wait for volumes \(1\): +csi-4f2a$/m);
    expect(out).toContain('log tail:');
    expect(out).toMatch(/START RequestId: /);
    expect(out).toContain('10:00:01.000 info  dry run planned node=ip-10-0-1-23.ec2.internal wouldEvict=2');
  });

  it('prints the summary as one parseable JSON object with --json', async () => {
    const { code, out } = await invoke('--instance-id', INSTANCE, '--function', FUNCTION, '--json');

    expect(code).toBe(0);
    const printed = JSON.parse(out) as Record<string, unknown>;
    expect(printed).toMatchObject({
      instanceId: INSTANCE,
      autoScalingGroupName: ASG,
      hookName: 'eks-node-drainer',
      dryRun: true,
      mode: 'function',
      functionName: FUNCTION,
      outcome: 'dry-run',
      lifecycleResult: null,
      report: { evicted: ['shop/web-1', 'shop/web-2'] },
      ok: true,
    });
    expect(printed.logTail).toContain('"message":"dry run planned"');
  });

  it('prints the function error and its log tail and exits 1 when the function fails', async () => {
    aws.functions.set(FUNCTION, async () => {
      throw new TypeError('Cannot read properties of undefined');
    });

    const { code, out, err } = await invoke('--instance-id', INSTANCE, '--function', FUNCTION);

    expect(code).toBe(1);
    expect(err).toContain(
      'invoke: the function failed (Unhandled): TypeError: Cannot read properties of undefined',
    );
    expect(out).toMatch(/^function error: +Unhandled: TypeError: Cannot read properties of undefined$/m);
    expect(out).toMatch(/ERROR\tInvoke Error/);
  });

  it('exits 1 explaining a refusal by the drainer of an instance that is not terminating', async () => {
    aws.functions.set(FUNCTION, async () => ({
      result: { outcome: 'instance-not-terminating', lifecycleResult: null },
      logs: '',
    }));

    const { code, err } = await invoke('--instance-id', INSTANCE, '--function', FUNCTION, '--yes');

    expect(code).toBe(1);
    expect(err).toContain(
      'invoke: the drainer refused: the instance is not in Terminating:Wait (a hand-made event drains only a terminating instance; --force drains it anyway)',
    );
  });

  it('exits 1 naming the outcome when the drain did not finish', async () => {
    aws.functions.set(FUNCTION, async () => ({
      result: {
        ...DRY_RUN_SUMMARY,
        outcome: 'deadline-abandoned',
        lifecycleResult: 'ABANDON',
        report: { ...DRY_RUN_SUMMARY.report, outcome: 'deadline-abandoned', dryRun: false },
      },
      logs: '',
    }));

    const { code, err } = await invoke('--instance-id', INSTANCE, '--function', FUNCTION, '--yes');

    expect(code).toBe(1);
    expect(err).toContain('invoke: the drain did not finish: outcome deadline-abandoned, 1 pod(s) blocked');
  });
});

describe('npm run invoke: usage errors', () => {
  it.each([
    [
      'an unknown option',
      ['--instance-id', INSTANCE, '--function', FUNCTION, '--now'],
      "unknown option '--now'",
    ],
    ['no --instance-id', ['--function', FUNCTION], '--instance-id is required'],
    [
      'a malformed instance id',
      ['--instance-id', 'i-12ab', '--function', FUNCTION],
      '--instance-id must be an EC2 instance id (i- and 8 to 17 hex digits), got "i-12ab"',
    ],
    [
      '--dry-run and --yes together',
      ['--instance-id', INSTANCE, '--function', FUNCTION, '--dry-run', '--yes'],
      '--dry-run and --yes contradict each other',
    ],
    [
      'neither --function nor --local',
      ['--instance-id', INSTANCE],
      'say where the drainer runs: --function <name> (the deployed Lambda) or --local --cluster <name>',
    ],
    ['--local without --cluster', ['--instance-id', INSTANCE, '--local'], '--local needs --cluster <name>'],
    [
      'a malformed --event-time',
      ['--instance-id', INSTANCE, '--function', FUNCTION, '--event-time', 'yesterday'],
      '--event-time must be an ISO 8601 time, got "yesterday"',
    ],
  ])('fails with exit code 2 and a one-line message for %s', async (_case, args, message) => {
    const { code, out, err } = await invoke(...args);

    expect(code).toBe(2);
    expect(err.split('\n')).toEqual([expect.stringContaining(`invoke: ${message}`)]);
    expect(out).toBe('');
    expect(aws.calls).toEqual([]);
  });

  it('fails with exit code 2 when a given hook name could not be in a lifecycle event', async () => {
    const { code, err } = await invoke(
      '--instance-id',
      INSTANCE,
      '--asg',
      ASG,
      '--hook',
      'bad hook!',
      '--function',
      FUNCTION,
    );

    expect(code).toBe(2);
    expect(err).toMatch(/^invoke: the event would not be accepted by the drainer: detail\.LifecycleHookName/);
    expect(aws.callsOf('lambda', 'Invoke')).toEqual([]);
  });
});

describe('npm run invoke: AWS errors', () => {
  it('fails with a clear message when the instance is in no Auto Scaling group', async () => {
    aws.autoScalingInstances.clear();

    const { code, err } = await invoke('--instance-id', INSTANCE, '--function', FUNCTION);

    expect(code).toBe(1);
    expect(err).toBe(
      `invoke: instance ${INSTANCE} is not in any Auto Scaling group (DescribeAutoScalingInstances found nothing)`,
    );
    expect(aws.callsOf('lambda', 'Invoke')).toEqual([]);
  });

  it('fails with a clear message when the group has no termination lifecycle hook', async () => {
    aws.lifecycleHooks.set(ASG, [
      { name: 'warm-up', transition: LAUNCHING, heartbeatTimeout: 300, defaultResult: 'CONTINUE' },
    ]);

    const { code, err } = await invoke('--instance-id', INSTANCE, '--function', FUNCTION);

    expect(code).toBe(1);
    expect(err).toBe(
      `invoke: Auto Scaling group ${ASG} has no termination lifecycle hook (${TERMINATING}): is the drainer deployed for it? Name one with --hook`,
    );
  });

  it('fails asking for --hook when several termination hooks exist and none is the drainer default', async () => {
    aws.lifecycleHooks.set(ASG, [
      { name: 'audit', transition: TERMINATING, heartbeatTimeout: 60, defaultResult: 'CONTINUE' },
      { name: 'drain', transition: TERMINATING, heartbeatTimeout: 300, defaultResult: 'CONTINUE' },
    ]);

    const { code, err } = await invoke('--instance-id', INSTANCE, '--function', FUNCTION);

    expect(code).toBe(1);
    expect(err).toContain('has several termination lifecycle hooks (audit, drain): choose one with --hook');
  });

  it('fails with a clear message when no AWS credentials are found', async () => {
    for (const name of [
      'AWS_ACCESS_KEY_ID',
      'AWS_SECRET_ACCESS_KEY',
      'AWS_SESSION_TOKEN',
      'AWS_PROFILE',
      'AWS_WEB_IDENTITY_TOKEN_FILE',
      'AWS_ROLE_ARN',
      'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
      'AWS_CONTAINER_CREDENTIALS_FULL_URI',
    ]) {
      vi.stubEnv(name, undefined);
    }
    vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', '/nonexistent/eks-node-drainer/credentials');
    vi.stubEnv('AWS_CONFIG_FILE', '/nonexistent/eks-node-drainer/config');
    vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');

    const { code, err } = await invoke('--instance-id', INSTANCE, '--function', FUNCTION);

    expect(code).toBe(1);
    expect(err).toMatch(
      /^invoke: no AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID\/AWS_SECRET_ACCESS_KEY, or run where a role provides them/,
    );
    expect(aws.calls).toEqual([]);
  });

  it('fails with a clear message when AWS rejects the credentials', async () => {
    aws.failNext('autoscaling', 'DescribeAutoScalingInstances', {
      status: 403,
      code: 'ExpiredToken',
      message: 'The security token included in the request is expired',
    });

    const { code, err } = await invoke('--instance-id', INSTANCE, '--function', FUNCTION);

    expect(code).toBe(1);
    expect(err).toBe(
      'invoke: AWS rejected your credentials (ExpiredToken: The security token included in the request is expired): refresh them (a new session, aws sso login)',
    );
  });

  it('fails with a clear message when there is no such function', async () => {
    const { code, err } = await invoke('--instance-id', INSTANCE, '--function', 'eks-node-drainer-prod');

    expect(code).toBe(1);
    expect(err).toMatch(
      /^invoke: no Lambda function named eks-node-drainer-prod in us-east-1 \(check --function, the region and the account\): Function not found: arn:aws:lambda:/m,
    );
  });

  it('fails when the function answers something that is not a drainer summary', async () => {
    aws.functions.set(FUNCTION, async () => ({ result: { statusCode: 200 }, logs: '' }));

    const { code, err } = await invoke('--instance-id', INSTANCE, '--function', FUNCTION);

    expect(code).toBe(1);
    expect(err).toContain(`function ${FUNCTION} answered something that is not a drainer summary`);
  });
});

describe('npm run invoke --local', () => {
  const CLUSTER = 'prod';

  beforeEach(() => {
    // a fresh lambda/handler.ts reads CLUSTER_NAME and DRY_RUN from process.env at import
    vi.resetModules();
    vi.stubEnv('DRAIN_TIMEOUT_SECONDS', '30');
    // no pod is ever offered here (no cluster): the shortest window lets the deadline come at once
    vi.stubEnv('MIN_EVICTION_WINDOW_SECONDS', '1');
    vi.stubEnv('LOG_LEVEL', 'info');
    aws.instances.set(INSTANCE, 'ip-10-0-1-23.ec2.internal');
    // nothing listens on port 1: the cluster cannot be reached
    aws.clusters.set(CLUSTER, {
      endpoint: 'https://127.0.0.1:1',
      certificateAuthority: Buffer.from(rootCertificates[0] ?? '').toString('base64'),
    });
  });

  /** The lifecycle action began 28 s ago: with a 30 s drain timeout, 2 s of drain are left. */
  const nearDeadline = (): string => new Date(Date.now() - 28_000).toISOString();

  it('runs the handler here as a dry run and reports a cluster it cannot reach, exiting 1', async () => {
    const began = Date.now();

    const { code, out, err } = await invoke(
      '--instance-id',
      INSTANCE,
      '--local',
      '--cluster',
      CLUSTER,
      '--event-time',
      nearDeadline(),
    );

    expect(code).toBe(1);
    expect(err).toMatch(/^invoke: the cluster could not be reached: find node: .*ECONNREFUSED/m);
    expect(out).toContain(
      `DRY RUN  instance ${INSTANCE} (ASG ${ASG}, hook eks-node-drainer) · local, cluster ${CLUSTER}`,
    );
    expect(out).toMatch(/^node: +\(not found\)$/m);
    expect(out).toMatch(/^errors \(1\): +find node: /m);
    // the handler's own log lines go to stderr, readable
    expect(err).toMatch(/info +invocation finished outcome=/);
    expect(aws.callsOf('eks', 'DescribeCluster')[0]?.params).toEqual({ name: CLUSTER });
    expect(Date.now() - began).toBeLessThan(15_000);
  });

  it('runs the handler without a dry run with --yes, completing the waiting lifecycle action', async () => {
    const action = aws.addLifecycleAction({
      token: randomUUID(),
      autoScalingGroupName: ASG,
      hookName: 'eks-node-drainer',
      instanceId: INSTANCE,
    });

    const { out } = await invoke(
      '--instance-id',
      INSTANCE,
      '--local',
      '--cluster',
      CLUSTER,
      '--event-time',
      nearDeadline(),
      '--yes',
      '--json',
    );

    const printed = JSON.parse(out) as { dryRun: boolean; report?: { dryRun: boolean }; ok: boolean };
    expect(printed).toMatchObject({ dryRun: false, report: { dryRun: false }, ok: false });
    // the cluster stayed unreachable until the deadline: the default policy, then CONTINUE
    expect(action.result).toBe('CONTINUE');
  });

  it('fails with exit code 2 when the cluster name is not an EKS cluster name', async () => {
    const { code, err } = await invoke('--instance-id', INSTANCE, '--local', '--cluster', 'no such cluster');

    expect(code).toBe(2);
    expect(err).toContain('invoke: invalid configuration: CLUSTER_NAME must be an EKS cluster name');
  });
});
