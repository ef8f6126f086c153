/**
 * The local AutoScaling endpoint models lifecycle action expiry, hook timeouts and defaults and
 * CompleteLifecycleAction's input validation as AWS does, the local EC2 endpoint Spot instances and
 * their requests, and the local ELBv2 endpoint target groups, tags, target health and deregistration,
 * checked through the real AWS SDK. Most tests freeze Date (only Date: the SDK's timers and sockets stay real) and move
 * it by hand, so no test waits or races the clock; one test runs on the real clock.
 */
import {
  AutoScalingClient,
  CompleteLifecycleActionCommand,
  CreateOrUpdateTagsCommand,
  DeleteLifecycleHookCommand,
  DeleteTagsCommand,
  DescribeAutoScalingGroupsCommand,
  type DescribeAutoScalingGroupsCommandInput,
  DescribeAutoScalingInstancesCommand,
  DescribeLifecycleHooksCommand,
  PutLifecycleHookCommand,
  RecordLifecycleActionHeartbeatCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  DescribeInstancesCommand,
  DescribeSpotInstanceRequestsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import {
  DescribeTagsCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  LocalAwsEndpoint,
  type NewLifecycleAction,
  TEST_CREDENTIALS,
  TEST_REGION,
} from '../../scripts/harness/aws-endpoint.js';
import { ELBV2_THROTTLING, elbv2AccessDenied } from '../../scripts/harness/elbv2.js';

const ASG = 'web-asg';
const HOOK = 'eks-node-drainer';
const INSTANCE = 'i-0123456789abcdef0';
const T0 = Date.parse('2026-11-21T10:00:00.000Z');

const aws = new LocalAwsEndpoint();
let client: AutoScalingClient;

beforeAll(async () => {
  await aws.start();
  client = new AutoScalingClient({
    region: TEST_REGION,
    endpoint: aws.url,
    credentials: TEST_CREDENTIALS,
    maxAttempts: 1,
  });
});
afterAll(async () => {
  client.destroy();
  await aws.stop();
});
beforeEach(() => {
  aws.lifecycleActions.clear();
  aws.autoScalingGroups.clear();
  aws.autoScalingInstances.clear();
});
afterEach(() => {
  vi.useRealTimers();
});

function freezeClock(): void {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(T0);
}

function advance(seconds: number): void {
  vi.setSystemTime(Date.now() + seconds * 1000);
}

function addAction(extra: Partial<NewLifecycleAction> = {}) {
  return aws.addLifecycleAction({
    token: 'tok-1',
    autoScalingGroupName: ASG,
    hookName: HOOK,
    instanceId: INSTANCE,
    ...extra,
  });
}

const TERMINATING = 'autoscaling:EC2_INSTANCE_TERMINATING';
const target = { AutoScalingGroupName: ASG, LifecycleHookName: HOOK, InstanceId: INSTANCE };
const byToken = { ...target, LifecycleActionToken: 'tok-1' };

function heartbeat(address: typeof target = byToken) {
  return client.send(new RecordLifecycleActionHeartbeatCommand(address));
}

function complete(address: typeof target = byToken, result = 'CONTINUE') {
  return client.send(new CompleteLifecycleActionCommand({ ...address, LifecycleActionResult: result }));
}

async function lifecycleStateOf(instanceId: string): Promise<{ group?: string; state?: string } | undefined> {
  const out = await client.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [instanceId] }));
  const found = out.AutoScalingInstances?.[0];
  return found && { group: found.AutoScalingGroupName, state: found.LifecycleState };
}

describe('lifecycle action expiry', () => {
  it('keeps an action alive past its heartbeat timeout while heartbeats arrive', async () => {
    freezeClock();
    addAction({ heartbeatTimeoutSeconds: 10 });

    for (let i = 0; i < 3; i++) {
      advance(9);
      await heartbeat();
    }
    advance(9); // 36 s after the start, 9 s after the last heartbeat
    await complete();

    const state = aws.actionState('tok-1');
    expect(state?.heartbeats).toBe(3);
    expect(state?.result).toBe('CONTINUE');
    expect(state?.expiredAt).toBeUndefined();
  });

  it('expires an action without heartbeats, applying the hook default result, then refuses heartbeat and completion', async () => {
    freezeClock();
    aws.lifecycleHooks.set(ASG, [
      {
        name: HOOK,
        transition: 'autoscaling:EC2_INSTANCE_TERMINATING',
        heartbeatTimeout: 10,
        defaultResult: 'CONTINUE',
      },
    ]);
    addAction({ heartbeatTimeoutSeconds: 10 });

    advance(10);

    const noActive = {
      name: 'ValidationError',
      message: 'No active Lifecycle Action found with token tok-1',
    };
    await expect(heartbeat()).rejects.toMatchObject(noActive);
    await expect(complete()).rejects.toMatchObject(noActive);
    const state = aws.actionState('tok-1');
    expect(state?.expiredAt).toBe(T0 + 10_000);
    expect(state?.expiredWith).toBe('CONTINUE');
    expect(state?.result).toBeUndefined();
    expect(state?.heartbeats).toBe(0);
  });

  it('is still active a moment before the timeout', async () => {
    freezeClock();
    addAction({ heartbeatTimeoutSeconds: 10 });

    advance(9.999);
    await complete();

    expect(aws.actionState('tok-1')?.result).toBe('CONTINUE');
  });

  it('expires with ABANDON when neither the action nor a registered hook names a default result', () => {
    freezeClock();
    addAction({ heartbeatTimeoutSeconds: 1 });

    advance(1);

    expect(aws.actionState('tok-1')).toMatchObject({ expiredAt: T0 + 1000, expiredWith: 'ABANDON' });
  });

  it('addresses an action by instance id without a token, and says so once it has expired', async () => {
    freezeClock();
    addAction({ heartbeatTimeoutSeconds: 10 });

    advance(5);
    await heartbeat(target);
    advance(10);

    const noActive = {
      name: 'ValidationError',
      message: `No active Lifecycle Action found with instance ID ${INSTANCE}`,
    };
    await expect(heartbeat(target)).rejects.toMatchObject(noActive);
    await expect(complete(target)).rejects.toMatchObject(noActive);
    expect(aws.actionState('tok-1')).toMatchObject({ heartbeats: 1, expiredAt: T0 + 15_000 });
  });

  it('refuses a heartbeat that names neither a token nor an instance', async () => {
    addAction();

    await expect(
      client.send(
        new RecordLifecycleActionHeartbeatCommand({ AutoScalingGroupName: ASG, LifecycleHookName: HOOK }),
      ),
    ).rejects.toMatchObject({ name: 'ValidationError' });
    expect(aws.actionState('tok-1')?.heartbeats).toBe(0);
  });

  it('expires at the global timeout, 100 times the heartbeat timeout, however many heartbeats arrive', async () => {
    freezeClock();
    addAction({ heartbeatTimeoutSeconds: 2 });

    // a heartbeat every second: never 2 s without one, yet the whole wait is capped at 200 s
    for (let t = 1; t < 200; t++) {
      advance(1);
      await heartbeat();
    }
    advance(1);

    await expect(heartbeat()).rejects.toMatchObject({ name: 'ValidationError' });
    expect(aws.actionState('tok-1')).toMatchObject({ heartbeats: 199, expiredAt: T0 + 200_000 });
  });

  it('never expires an action added without a heartbeat timeout', async () => {
    freezeClock();
    addAction();

    advance(3 * 24 * 3600);
    await heartbeat();
    await complete();

    const state = aws.actionState('tok-1');
    expect(state).toMatchObject({ heartbeats: 1, result: 'CONTINUE' });
    expect(state?.expiredAt).toBeUndefined();
  });

  it('expires on the real clock after a fractional timeout', async () => {
    addAction({ heartbeatTimeoutSeconds: 0.05 });

    await new Promise((resolve) => setTimeout(resolve, 150));

    await expect(heartbeat()).rejects.toMatchObject({
      name: 'ValidationError',
      message: expect.stringMatching(/No active Lifecycle Action/),
    });
    expect(aws.actionState('tok-1')?.expiredAt).toBeDefined();
  });
});

describe('CompleteLifecycleAction refuses a result other than exactly CONTINUE or ABANDON', () => {
  it.each(['continue', 'abandon', 'Continue', 'DEFAULT', ' CONTINUE', 'CONTINUE ', ''])(
    'refuses %j with a 400 ValidationError and leaves the action active',
    async (result) => {
      addAction();

      await expect(complete(byToken, result)).rejects.toMatchObject({
        name: 'ValidationError',
        message: `1 validation error detected: Value '${result}' at 'lifecycleActionResult' failed to satisfy constraint: Member must satisfy enum value set: [CONTINUE, ABANDON]`,
        $metadata: { httpStatusCode: 400 },
      });
      await expect(complete(target, result)).rejects.toMatchObject({ name: 'ValidationError' });

      const state = aws.actionState('tok-1');
      expect(state?.result).toBeUndefined();
      expect(state?.expiredAt).toBeUndefined();
      expect(await lifecycleStateOf(INSTANCE)).toEqual({ group: ASG, state: 'Terminating:Wait' });
    },
  );

  it('refuses a missing result with a 400 ValidationError, and the action can still be completed', async () => {
    addAction();

    await expect(
      client.send(new CompleteLifecycleActionCommand({ ...byToken, LifecycleActionResult: undefined })),
    ).rejects.toMatchObject({
      name: 'ValidationError',
      message:
        "1 validation error detected: Value null at 'lifecycleActionResult' failed to satisfy constraint: Member must not be null",
      $metadata: { httpStatusCode: 400 },
    });
    expect(aws.actionState('tok-1')?.result).toBeUndefined();

    await complete(byToken, 'ABANDON');

    expect(aws.actionState('tok-1')?.result).toBe('ABANDON');
    expect(await lifecycleStateOf(INSTANCE)).toEqual({ group: ASG, state: 'Terminating:Proceed' });
  });

  it('validates the result before it looks for the action', async () => {
    const unknownToken = { ...target, LifecycleActionToken: 'unknown' };

    // no action at all: still the validation error, not "No active Lifecycle Action"
    await expect(complete(unknownToken, 'continue')).rejects.toMatchObject({
      name: 'ValidationError',
      message: expect.stringContaining("Value 'continue' at 'lifecycleActionResult'"),
    });
  });
});

describe('lifecycle action timeouts and default result from the registered hook', () => {
  beforeEach(() => {
    aws.autoScalingGroups.groups.set(ASG, { tags: {} });
  });

  function putHook(extra: { HeartbeatTimeout?: number; DefaultResult?: string } = {}) {
    return client.send(
      new PutLifecycleHookCommand({
        AutoScalingGroupName: ASG,
        LifecycleHookName: HOOK,
        LifecycleTransition: TERMINATING,
        ...extra,
      }),
    );
  }

  it("gives an action added without a heartbeat timeout its hook's HeartbeatTimeout", async () => {
    freezeClock();
    await putHook({ HeartbeatTimeout: 60, DefaultResult: 'CONTINUE' });
    const action = addAction();

    expect(action).toMatchObject({ heartbeatTimeoutSeconds: 60, globalTimeoutSeconds: 6000 });
    advance(59.999);
    await heartbeat();
    advance(59.999);
    await heartbeat(); // 119.998 s: alive only through the heartbeats
    advance(60);

    await expect(heartbeat()).rejects.toMatchObject({
      name: 'ValidationError',
      message: 'No active Lifecycle Action found with token tok-1',
    });
    expect(aws.actionState('tok-1')).toMatchObject({
      heartbeats: 2,
      expiredAt: T0 + 119_998 + 60_000,
      expiredWith: 'CONTINUE',
    });
  });

  it("caps an action's whole wait at its hook's global timeout, 100 × HeartbeatTimeout", async () => {
    freezeClock();
    await putHook({ HeartbeatTimeout: 30 });
    addAction();

    // a heartbeat every 20 s: never 30 s without one, yet the whole wait ends at 3000 s
    for (let t = 20; t < 3000; t += 20) {
      advance(20);
      await heartbeat();
    }
    advance(20);

    await expect(heartbeat()).rejects.toMatchObject({ name: 'ValidationError' });
    expect(aws.actionState('tok-1')).toMatchObject({ heartbeats: 149, expiredAt: T0 + 3_000_000 });
  });

  it('caps the global timeout of a long hook at 48 h', async () => {
    await putHook({ HeartbeatTimeout: 7200 });

    expect(addAction()).toMatchObject({ heartbeatTimeoutSeconds: 7200, globalTimeoutSeconds: 172_800 });
  });

  it("keeps a test's own heartbeat and global timeouts over the hook's", async () => {
    await putHook({ HeartbeatTimeout: 60 });

    expect(addAction({ heartbeatTimeoutSeconds: 5 })).toMatchObject({ heartbeatTimeoutSeconds: 5 });
    expect(addAction({ heartbeatTimeoutSeconds: 5 }).globalTimeoutSeconds).toBeUndefined(); // 500 s, computed
    expect(addAction({ globalTimeoutSeconds: 90 })).toMatchObject({
      heartbeatTimeoutSeconds: 60,
      globalTimeoutSeconds: 90,
    });
  });

  it('never expires an action whose group has no hook of that name (a hook elsewhere does not count)', async () => {
    freezeClock();
    aws.autoScalingGroups.putHook('other-asg', { name: HOOK, transition: TERMINATING, heartbeatTimeout: 30 });
    aws.autoScalingGroups.putHook(ASG, { name: 'other-hook', transition: TERMINATING, heartbeatTimeout: 30 });
    const action = addAction();

    advance(3 * 24 * 3600);
    await complete();

    expect(action.heartbeatTimeoutSeconds).toBeUndefined();
    expect(aws.actionState('tok-1')).toMatchObject({ result: 'CONTINUE' });
  });

  it('creates a hook without DefaultResult as ABANDON, and its actions expire with ABANDON', async () => {
    freezeClock();
    await putHook({ HeartbeatTimeout: 30 });
    const hooks = await client.send(new DescribeLifecycleHooksCommand({ AutoScalingGroupName: ASG }));
    addAction();

    advance(30);

    expect(hooks.LifecycleHooks).toEqual([
      expect.objectContaining({ HeartbeatTimeout: 30, GlobalTimeout: 3000, DefaultResult: 'ABANDON' }),
    ]);
    expect(aws.actionState('tok-1')).toMatchObject({ expiredAt: T0 + 30_000, expiredWith: 'ABANDON' });
  });

  it("registers a test's hook with AWS's defaults, 3600 s and ABANDON, and expires its actions so", async () => {
    freezeClock();
    aws.autoScalingGroups.putHook(ASG, { name: HOOK, transition: TERMINATING });
    const hooks = await client.send(new DescribeLifecycleHooksCommand({ AutoScalingGroupName: ASG }));
    addAction();

    advance(3599.999);
    const before = aws.actionState('tok-1')?.expiredAt;
    advance(0.001);

    expect(hooks.LifecycleHooks).toEqual([
      expect.objectContaining({ HeartbeatTimeout: 3600, GlobalTimeout: 172_800, DefaultResult: 'ABANDON' }),
    ]);
    expect(before).toBeUndefined();
    expect(aws.actionState('tok-1')).toMatchObject({ expiredAt: T0 + 3_600_000, expiredWith: 'ABANDON' });
  });

  it('keeps the DefaultResult and HeartbeatTimeout of an existing hook that PutLifecycleHook leaves out', async () => {
    await putHook({ HeartbeatTimeout: 120, DefaultResult: 'CONTINUE' });
    await client.send(new PutLifecycleHookCommand({ AutoScalingGroupName: ASG, LifecycleHookName: HOOK }));

    expect(aws.autoScalingGroups.hook(ASG, HOOK)).toMatchObject({
      heartbeatTimeout: 120,
      defaultResult: 'CONTINUE',
    });
  });

  it('refuses a DefaultResult other than CONTINUE or ABANDON', async () => {
    await expect(putHook({ DefaultResult: 'continue' })).rejects.toMatchObject({
      name: 'ValidationError',
      message: expect.stringContaining("Value 'continue' at 'defaultResult' failed to satisfy constraint"),
      $metadata: { httpStatusCode: 400 },
    });
    expect(aws.autoScalingGroups.hook(ASG, HOOK)).toBeUndefined();
  });
});

describe('EC2 Spot instances', () => {
  const SPOT = 'i-0aaaaaaaaaaaaaaa1';
  const ON_DEMAND = 'i-0bbbbbbbbbbbbbbb2';
  let ec2: EC2Client;

  beforeAll(() => {
    ec2 = new EC2Client({
      region: TEST_REGION,
      endpoint: aws.url,
      credentials: TEST_CREDENTIALS,
      maxAttempts: 1,
    });
  });
  afterAll(() => ec2.destroy());
  beforeEach(() => {
    aws.instances.clear();
    aws.spotInstances.clear();
    aws.instances.set(SPOT, 'ip-10-0-1-1.ec2.internal');
    aws.instances.set(ON_DEMAND, 'ip-10-0-1-2.ec2.internal');
    aws.spotInstances.set(SPOT, { requestId: 'sir-0spot0001', statusCode: 'marked-for-termination' });
  });

  function spotRequests(ids?: string[]) {
    return ec2
      .send(new DescribeSpotInstanceRequestsCommand(ids ? { SpotInstanceRequestIds: ids } : {}))
      .then((out) => out.SpotInstanceRequests ?? []);
  }

  it('answers DescribeInstances with instanceLifecycle spot and the request id for a Spot instance only', async () => {
    const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [SPOT, ON_DEMAND] }));
    const [spot, onDemand] = out.Reservations?.[0]?.Instances ?? [];

    expect(spot).toMatchObject({
      InstanceId: SPOT,
      PrivateDnsName: 'ip-10-0-1-1.ec2.internal',
      InstanceLifecycle: 'spot',
      SpotInstanceRequestId: 'sir-0spot0001',
    });
    expect(onDemand?.InstanceId).toBe(ON_DEMAND);
    expect(onDemand?.InstanceLifecycle).toBeUndefined();
    expect(onDemand?.SpotInstanceRequestId).toBeUndefined();
  });

  it('does not make an instance known to DescribeInstances by declaring it Spot', async () => {
    aws.spotInstances.set('i-0ccccccccccccccc3', { requestId: 'sir-0spot0003', statusCode: 'fulfilled' });

    await expect(
      ec2.send(new DescribeInstancesCommand({ InstanceIds: ['i-0ccccccccccccccc3'] })),
    ).rejects.toMatchObject({ name: 'InvalidInstanceID.NotFound', $metadata: { httpStatusCode: 400 } });
  });

  it('answers DescribeSpotInstanceRequests by request id with the instance, state and status', async () => {
    freezeClock();
    aws.spotInstances.set(ON_DEMAND, { requestId: 'sir-0spot0002', statusCode: 'fulfilled' });

    const [request, ...rest] = await spotRequests(['sir-0spot0001']);

    expect(rest).toEqual([]);
    expect(request).toMatchObject({
      SpotInstanceRequestId: 'sir-0spot0001',
      InstanceId: SPOT,
      State: 'closed',
      Status: {
        Code: 'marked-for-termination',
        Message: 'The Spot Instance is marked for termination.',
        UpdateTime: new Date(T0),
      },
    });
  });

  it('answers every request without ids; the state follows the status code unless the test sets it', async () => {
    aws.spotInstances.set(ON_DEMAND, { requestId: 'sir-0spot0002', statusCode: 'fulfilled' });
    aws.spotInstances.set('i-0ccccccccccccccc3', {
      requestId: 'sir-0spot0003',
      statusCode: 'marked-for-stop',
      state: 'disabled',
    });
    aws.spotInstances.set('i-0ddddddddddddddd4', {
      requestId: 'sir-0spot0004',
      statusCode: 'marked-for-hibernation',
    });

    const all = await spotRequests();

    expect(all.map((r) => [r.SpotInstanceRequestId, r.InstanceId, r.State, r.Status?.Code])).toEqual([
      ['sir-0spot0001', SPOT, 'closed', 'marked-for-termination'],
      ['sir-0spot0002', ON_DEMAND, 'active', 'fulfilled'],
      ['sir-0spot0003', 'i-0ccccccccccccccc3', 'disabled', 'marked-for-stop'],
      ['sir-0spot0004', 'i-0ddddddddddddddd4', 'active', 'marked-for-hibernation'],
    ]);
  });

  it("moves a request's status updateTime when its status code changes, not before", async () => {
    freezeClock();
    aws.spotInstances.set(SPOT, { requestId: 'sir-0spot0001', statusCode: 'fulfilled' });
    const first = await spotRequests(['sir-0spot0001']);
    advance(60);
    const same = await spotRequests(['sir-0spot0001']);
    aws.spotInstances.set(SPOT, { requestId: 'sir-0spot0001', statusCode: 'marked-for-termination' });
    advance(5);
    const changed = await spotRequests(['sir-0spot0001']);

    expect(first[0]?.Status?.UpdateTime).toEqual(new Date(T0));
    expect(same[0]?.Status?.UpdateTime).toEqual(new Date(T0));
    expect(changed[0]?.Status).toMatchObject({
      Code: 'marked-for-termination',
      UpdateTime: new Date(T0 + 65_000),
    });
  });

  it('refuses an unknown request id with InvalidSpotInstanceRequestID.NotFound', async () => {
    await expect(spotRequests(['sir-0spot0001', 'sir-gone'])).rejects.toMatchObject({
      name: 'InvalidSpotInstanceRequestID.NotFound',
      message: "The spot instance request ID 'sir-gone' does not exist",
      $metadata: { httpStatusCode: 400 },
    });
  });

  it('refuses filters, which it does not model, rather than answering unfiltered', async () => {
    await expect(
      ec2.send(
        new DescribeSpotInstanceRequestsCommand({ Filters: [{ Name: 'instance-id', Values: [SPOT] }] }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidParameterValue', $metadata: { httpStatusCode: 400 } });
  });
});

describe('DescribeAutoScalingInstances for instances with lifecycle actions', () => {
  it('answers Terminating:Wait in the action group while the action is active', async () => {
    addAction();

    expect(await lifecycleStateOf(INSTANCE)).toEqual({ group: ASG, state: 'Terminating:Wait' });
  });

  it('answers Terminating:Proceed once the action is completed', async () => {
    addAction();

    await complete();

    expect(await lifecycleStateOf(INSTANCE)).toEqual({ group: ASG, state: 'Terminating:Proceed' });
  });

  it('answers Terminating:Proceed once the action has expired', async () => {
    freezeClock();
    addAction({ heartbeatTimeoutSeconds: 10 });

    advance(10);

    expect(await lifecycleStateOf(INSTANCE)).toEqual({ group: ASG, state: 'Terminating:Proceed' });
  });

  it('lets an explicit autoScalingInstances entry win over the action', async () => {
    addAction();
    aws.autoScalingInstances.set(INSTANCE, { asg: 'other-asg', lifecycleState: 'InService' });

    expect(await lifecycleStateOf(INSTANCE)).toEqual({ group: 'other-asg', state: 'InService' });
  });

  it('leaves out an instance without an entry or an action', async () => {
    addAction();

    expect(await lifecycleStateOf('i-0fedcba9876543210')).toBeUndefined();
  });
});

describe('TerminateInstanceInAutoScalingGroup', () => {
  function terminate(instanceId = INSTANCE, decrement = false) {
    return client.send(
      new TerminateInstanceInAutoScalingGroupCommand({
        InstanceId: instanceId,
        ShouldDecrementDesiredCapacity: decrement,
      }),
    );
  }

  it('answers an Activity and holds the instance in Terminating:Wait under its group termination hook', async () => {
    aws.autoScalingGroups.putHook(ASG, { name: HOOK, transition: TERMINATING });
    aws.autoScalingInstances.set(INSTANCE, { asg: ASG, lifecycleState: 'InService' });

    const out = await terminate();

    expect(out.Activity).toMatchObject({ AutoScalingGroupName: ASG, StatusCode: 'InProgress' });
    expect(out.Activity?.Description).toBe(`Terminating EC2 instance: ${INSTANCE}`);
    expect(await lifecycleStateOf(INSTANCE)).toEqual({ group: ASG, state: 'Terminating:Wait' });
    const actions = [...aws.lifecycleActions.values()].filter((a) => a.instanceId === INSTANCE);
    expect(actions).toMatchObject([{ autoScalingGroupName: ASG, hookName: HOOK }]);
    expect(aws.callsOf('autoscaling', 'TerminateInstanceInAutoScalingGroup')[0]?.params).toMatchObject({
      InstanceId: INSTANCE,
      ShouldDecrementDesiredCapacity: 'false',
    });
  });

  it('moves the instance of a group without a termination hook to Terminating', async () => {
    aws.autoScalingInstances.set(INSTANCE, { asg: ASG, lifecycleState: 'InService' });

    await terminate();

    expect(await lifecycleStateOf(INSTANCE)).toEqual({ group: ASG, state: 'Terminating' });
    expect(aws.lifecycleActions.size).toBe(0);
  });

  it('refuses an unknown instance with a ValidationError', async () => {
    await expect(terminate()).rejects.toMatchObject({
      name: 'ValidationError',
      message: expect.stringContaining('No managed instance found'),
    });
  });

  it('refuses an instance that is already terminating with a ValidationError, and starts nothing', async () => {
    aws.autoScalingGroups.putHook(ASG, { name: HOOK, transition: TERMINATING });
    aws.autoScalingInstances.set(INSTANCE, { asg: ASG, lifecycleState: 'InService' });
    await terminate();

    await expect(terminate()).rejects.toMatchObject({ name: 'ValidationError' });
    expect(aws.lifecycleActions.size).toBe(1);
  });
});

describe('Elastic Load Balancing v2', () => {
  let elb: ElasticLoadBalancingV2Client;
  const tgs = aws.elbv2.targetGroups;

  beforeAll(() => {
    elb = new ElasticLoadBalancingV2Client({
      region: TEST_REGION,
      endpoint: aws.url,
      credentials: TEST_CREDENTIALS,
      maxAttempts: 1,
    });
  });
  afterAll(() => elb.destroy());
  beforeEach(() => tgs.clear());

  function health(arn: string, targets?: { Id: string; Port?: number }[]) {
    return elb
      .send(
        new DescribeTargetHealthCommand({ TargetGroupArn: arn, ...(targets ? { Targets: targets } : {}) }),
      )
      .then((out) =>
        (out.TargetHealthDescriptions ?? []).map((d) => ({
          id: d.Target?.Id,
          port: d.Target?.Port,
          state: d.TargetHealth?.State,
          reason: d.TargetHealth?.Reason,
        })),
      );
  }

  it('pages DescribeTargetGroups by PageSize with NextMarker, ending without one', async () => {
    for (let i = 0; i < 5; i++)
      aws.elbv2.addTargetGroup({ name: `tg-${i}`, targetType: i < 2 ? 'ip' : 'instance' });

    const pages = [];
    let marker: string | undefined;
    do {
      const out = await elb.send(new DescribeTargetGroupsCommand({ PageSize: 2, Marker: marker }));
      pages.push((out.TargetGroups ?? []).map((g) => `${g.TargetGroupName}:${g.TargetType}`));
      marker = out.NextMarker;
    } while (marker);

    expect(pages).toEqual([['tg-0:ip', 'tg-1:ip'], ['tg-2:instance', 'tg-3:instance'], ['tg-4:instance']]);
    const arn = [...tgs.keys()][0];
    expect(
      (await elb.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [arn ?? ''] }))).TargetGroups?.[0]
        ?.TargetGroupArn,
    ).toBe(arn);
  });

  it('refuses a PageSize above 400 and an unknown marker', async () => {
    await expect(elb.send(new DescribeTargetGroupsCommand({ PageSize: 401 }))).rejects.toMatchObject({
      name: 'ValidationError',
    });
    await expect(elb.send(new DescribeTargetGroupsCommand({ Marker: 'bm9wZQ==' }))).rejects.toMatchObject({
      name: 'ValidationError',
      message: 'Invalid marker',
    });
  });

  it('answers DescribeTags for up to 20 ARNs and refuses 21 with a ValidationError', async () => {
    const arns = Array.from(
      { length: 21 },
      (_, i) => aws.elbv2.addTargetGroup({ name: `tg-${i}`, tags: { team: `t${i}` } }).arn,
    );

    const out = await elb.send(new DescribeTagsCommand({ ResourceArns: arns.slice(0, 20) }));

    expect(out.TagDescriptions).toHaveLength(20);
    expect(out.TagDescriptions?.[7]).toEqual({ ResourceArn: arns[7], Tags: [{ Key: 'team', Value: 't7' }] });
    await expect(elb.send(new DescribeTagsCommand({ ResourceArns: arns }))).rejects.toMatchObject({
      name: 'ValidationError',
      message: expect.stringContaining('Member must have length less than or equal to 20'),
      $metadata: { httpStatusCode: 400 },
    });
  });

  it('refuses unknown target groups with TargetGroupNotFound', async () => {
    const arn = aws.elbv2.addTargetGroup({ name: 'gone' }).arn;
    tgs.delete(arn);

    const notFound = { name: 'TargetGroupNotFoundException', $metadata: { httpStatusCode: 400 } };
    await expect(health(arn)).rejects.toMatchObject(notFound);
    await expect(elb.send(new DescribeTagsCommand({ ResourceArns: [arn] }))).rejects.toMatchObject(notFound);
    await expect(elb.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [arn] }))).rejects.toMatchObject(
      notFound,
    );
  });

  it('answers DescribeTargetHealth with each target, port, state and reason', async () => {
    const tg = aws.elbv2.addTargetGroup({
      name: 'web',
      targetType: 'ip',
      targets: [
        { id: '10.0.1.23', port: 80 },
        { id: '10.0.1.57', port: 8080, state: 'initial' },
        { id: '10.0.1.58', port: 8080, state: 'unused' },
      ],
    });

    expect(await health(tg.arn)).toEqual([
      { id: '10.0.1.23', port: 80, state: 'healthy', reason: undefined },
      { id: '10.0.1.57', port: 8080, state: 'initial', reason: 'Elb.RegistrationInProgress' },
      { id: '10.0.1.58', port: 8080, state: 'unused', reason: 'Target.NotInUse' },
    ]);
    expect(await health(tg.arn, [{ Id: '10.0.9.9', Port: 80 }])).toEqual([
      { id: '10.0.9.9', port: 80, state: 'unused', reason: 'Target.NotRegistered' },
    ]);
  });

  it('drains a deregistered target for its delay, then drops it from DescribeTargetHealth', async () => {
    freezeClock();
    const a = aws.elbv2.addTargetGroup({
      name: 'a',
      targets: [{ id: INSTANCE, port: 80 }, { id: 'i-0other' }],
    });
    const b = aws.elbv2.addTargetGroup({ name: 'b', targets: [{ id: INSTANCE, port: 443 }] });

    expect(aws.elbv2.deregister('*', INSTANCE, 300_000)).toBe(2);
    advance(100);
    expect(aws.elbv2.deregister(a.arn, INSTANCE, 1_000)).toBe(0); // already draining: keeps its end
    vi.setSystemTime(T0 + 299_999);
    const draining = await health(a.arn);
    vi.setSystemTime(T0 + 300_000);
    const done = await health(a.arn);

    expect(draining).toEqual([
      { id: INSTANCE, port: 80, state: 'draining', reason: 'Target.DeregistrationInProgress' },
      { id: 'i-0other', port: undefined, state: 'healthy', reason: undefined },
    ]);
    expect(done).toEqual([{ id: 'i-0other', port: undefined, state: 'healthy', reason: undefined }]);
    expect(await health(b.arn)).toEqual([]);
    expect(await health(b.arn, [{ Id: INSTANCE }])).toMatchObject([{ state: 'unused' }]);
  });

  it('answers injected Throttling and AccessDenied faults as AWS does', async () => {
    const tg = aws.elbv2.addTargetGroup({ name: 'web' });
    aws.failNext('elasticloadbalancing', 'DescribeTargetHealth', ELBV2_THROTTLING);
    aws.failNext('elasticloadbalancing', 'DescribeTargetGroups', elbv2AccessDenied('DescribeTargetGroups'));

    await expect(health(tg.arn)).rejects.toMatchObject({
      name: 'Throttling',
      message: 'Rate exceeded',
      $metadata: { httpStatusCode: 400 },
    });
    await expect(elb.send(new DescribeTargetGroupsCommand({}))).rejects.toMatchObject({
      name: 'AccessDenied',
      $metadata: { httpStatusCode: 403 },
    });
    expect(await health(tg.arn)).toEqual([]);
  });

  it('is reached by an SDK client configured only through aws.env()', async () => {
    aws.elbv2.addTargetGroup({ name: 'via-env' });
    for (const [key, value] of Object.entries(aws.env())) vi.stubEnv(key, value);
    const fromEnv = new ElasticLoadBalancingV2Client({});
    try {
      const out = await fromEnv.send(new DescribeTargetGroupsCommand({}));
      expect(out.TargetGroups?.map((g) => g.TargetGroupName)).toEqual(['via-env']);
      expect(aws.env().AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2).toBe(aws.url);
    } finally {
      fromEnv.destroy();
      vi.unstubAllEnvs();
    }
  });
});

describe('Auto Scaling groups and hooks', () => {
  beforeEach(() => {
    aws.autoScalingGroups.groups.set('ng-a', {
      tags: { 'eks:cluster-name': 'prod', 'eks:nodegroup-name': 'a' },
      instanceIds: [INSTANCE],
    });
    aws.autoScalingGroups.groups.set('self-b', { tags: { 'kubernetes.io/cluster/prod': 'owned' } });
    aws.autoScalingGroups.groups.set('other', { tags: { 'eks:cluster-name': 'staging' } });
  });

  function groups(input: DescribeAutoScalingGroupsCommandInput) {
    return client.send(new DescribeAutoScalingGroupsCommand(input));
  }

  it('filters groups by tag and by name, with their tags and instances', async () => {
    const byTag = await groups({ Filters: [{ Name: 'tag:eks:cluster-name', Values: ['prod'] }] });
    expect(byTag.AutoScalingGroups?.map((g) => g.AutoScalingGroupName)).toEqual(['ng-a']);
    expect(byTag.AutoScalingGroups?.[0]?.Tags).toContainEqual(
      expect.objectContaining({ Key: 'eks:nodegroup-name', Value: 'a' }),
    );
    expect(byTag.AutoScalingGroups?.[0]?.Instances?.map((i) => i.InstanceId)).toEqual([INSTANCE]);
    const byKey = await groups({ Filters: [{ Name: 'tag-key', Values: ['kubernetes.io/cluster/prod'] }] });
    expect(byKey.AutoScalingGroups?.map((g) => g.AutoScalingGroupName)).toEqual(['self-b']);
    const byName = await groups({ AutoScalingGroupNames: ['other', 'missing'] });
    expect(byName.AutoScalingGroups?.map((g) => g.AutoScalingGroupName)).toEqual(['other']);
  });

  it('pages with MaxRecords and NextToken', async () => {
    const first = await groups({ MaxRecords: 2 });
    expect(first.AutoScalingGroups?.map((g) => g.AutoScalingGroupName)).toEqual(['ng-a', 'other']);
    expect(first.NextToken).toBeDefined();
    const second = await groups({ MaxRecords: 2, NextToken: first.NextToken });
    expect(second.AutoScalingGroups?.map((g) => g.AutoScalingGroupName)).toEqual(['self-b']);
    expect(second.NextToken).toBeUndefined();
  });

  it('puts, updates, lists and deletes a lifecycle hook; an unknown group is a ValidationError', async () => {
    await client.send(
      new PutLifecycleHookCommand({
        AutoScalingGroupName: 'ng-a',
        LifecycleHookName: HOOK,
        LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
        HeartbeatTimeout: 900,
      }),
    );
    await client.send(
      new PutLifecycleHookCommand({
        AutoScalingGroupName: 'ng-a',
        LifecycleHookName: HOOK,
        DefaultResult: 'CONTINUE',
      }),
    );
    const hooks = await client.send(new DescribeLifecycleHooksCommand({ AutoScalingGroupName: 'ng-a' }));
    expect(hooks.LifecycleHooks).toEqual([
      expect.objectContaining({
        LifecycleHookName: HOOK,
        LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
        HeartbeatTimeout: 900,
        DefaultResult: 'CONTINUE',
      }),
    ]);
    await client.send(
      new DeleteLifecycleHookCommand({ AutoScalingGroupName: 'ng-a', LifecycleHookName: HOOK }),
    );
    const after = await client.send(new DescribeLifecycleHooksCommand({ AutoScalingGroupName: 'ng-a' }));
    expect(after.LifecycleHooks).toEqual([]);
    await expect(
      client.send(new DescribeLifecycleHooksCommand({ AutoScalingGroupName: 'missing' })),
    ).rejects.toMatchObject({ name: 'ValidationError' });
    await expect(
      client.send(new DeleteLifecycleHookCommand({ AutoScalingGroupName: 'ng-a', LifecycleHookName: HOOK })),
    ).rejects.toMatchObject({ name: 'ValidationError' });
  });

  it('creates, updates and deletes group tags; a tag on an unknown group is a ValidationError', async () => {
    const tag = (Key: string, Value?: string) => ({
      ResourceId: 'ng-a',
      ResourceType: 'auto-scaling-group',
      Key,
      ...(Value === undefined ? {} : { Value, PropagateAtLaunch: false }),
    });
    await client.send(
      new CreateOrUpdateTagsCommand({ Tags: [tag('team', 'web'), tag('eks:nodegroup-name', 'b')] }),
    );
    expect(aws.autoScalingGroups.groups.get('ng-a')?.tags).toEqual({
      'eks:cluster-name': 'prod',
      'eks:nodegroup-name': 'b',
      team: 'web',
    });
    expect(aws.autoScalingGroups.groups.get('ng-a')?.instanceIds).toEqual([INSTANCE]);

    await client.send(new DeleteTagsCommand({ Tags: [tag('team')] }));
    expect(aws.autoScalingGroups.groups.get('ng-a')?.tags).toEqual({
      'eks:cluster-name': 'prod',
      'eks:nodegroup-name': 'b',
    });
    await expect(
      client.send(
        new CreateOrUpdateTagsCommand({ Tags: [{ ...tag('team', 'web'), ResourceId: 'missing' }] }),
      ),
    ).rejects.toMatchObject({ name: 'ValidationError' });
  });
});
