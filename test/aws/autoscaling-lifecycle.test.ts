import {
  AutoScalingClient,
  AutoScalingServiceException,
  CompleteLifecycleActionCommand,
  DescribeAutoScalingInstancesCommand,
  RecordLifecycleActionHeartbeatCommand,
} from '@aws-sdk/client-auto-scaling';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { AutoScalingLifecycle, isNoActiveAction } from '../../lambda/aws/lifecycle.js';

const asg = mockClient(AutoScalingClient);
afterEach(() => asg.reset());

const INSTANCE = 'i-0123456789abcdef0';
const withToken = { token: 'tok-1', autoScalingGroupName: 'web-asg', hookName: 'hook', instanceId: INSTANCE };
const { token: _token, ...tokenless } = withToken;
const lifecycle = (action: typeof tokenless & { token?: string } = withToken) =>
  new AutoScalingLifecycle(new AutoScalingClient({ region: 'us-east-1' }), action);

function awsError(name: string, message: string): AutoScalingServiceException {
  return new AutoScalingServiceException({
    name,
    message,
    $fault: 'client',
    $metadata: { httpStatusCode: 400 },
  });
}

const NO_ACTIVE = () => awsError('ValidationError', 'No active Lifecycle Action found with token tok-1');

describe('AutoScalingLifecycle.heartbeat', () => {
  it('records a heartbeat for the event token, group, hook and instance', async () => {
    asg.on(RecordLifecycleActionHeartbeatCommand).resolves({});

    expect(await lifecycle().heartbeat()).toBe('recorded');
    expect(asg.commandCalls(RecordLifecycleActionHeartbeatCommand).map((c) => c.args[0].input)).toEqual([
      {
        AutoScalingGroupName: 'web-asg',
        LifecycleHookName: 'hook',
        LifecycleActionToken: 'tok-1',
        InstanceId: INSTANCE,
      },
    ]);
  });

  it('addresses a token-less action by instance id alone', async () => {
    asg.on(RecordLifecycleActionHeartbeatCommand).resolves({});

    await lifecycle(tokenless).heartbeat();

    expect(asg.commandCalls(RecordLifecycleActionHeartbeatCommand)[0]?.args[0].input).toEqual({
      AutoScalingGroupName: 'web-asg',
      LifecycleHookName: 'hook',
      InstanceId: INSTANCE,
    });
  });

  it('answers expired when AWS has no active lifecycle action any more', async () => {
    asg.on(RecordLifecycleActionHeartbeatCommand).rejects(NO_ACTIVE());

    expect(await lifecycle().heartbeat()).toBe('expired');
  });

  it('fails with any other error', async () => {
    asg.on(RecordLifecycleActionHeartbeatCommand).rejects(awsError('Throttling', 'Rate exceeded'));

    await expect(lifecycle().heartbeat()).rejects.toThrow('Rate exceeded');
  });
});

describe('AutoScalingLifecycle.state', () => {
  it("answers the instance's lifecycle state", async () => {
    asg.on(DescribeAutoScalingInstancesCommand).resolves({
      AutoScalingInstances: [
        {
          InstanceId: INSTANCE,
          AutoScalingGroupName: 'web-asg',
          AvailabilityZone: 'us-east-1a',
          LifecycleState: 'Terminating:Wait',
          HealthStatus: 'HEALTHY',
          ProtectedFromScaleIn: false,
        },
      ],
    });

    expect(await lifecycle().state()).toBe('Terminating:Wait');
    expect(asg.commandCalls(DescribeAutoScalingInstancesCommand)[0]?.args[0].input).toEqual({
      InstanceIds: [INSTANCE],
    });
  });

  it('answers undefined for an instance in no group', async () => {
    asg.on(DescribeAutoScalingInstancesCommand).resolves({ AutoScalingInstances: [] });

    expect(await lifecycle().state()).toBeUndefined();
  });

  it('answers undefined for an empty answer', async () => {
    asg.on(DescribeAutoScalingInstancesCommand).resolves({});

    expect(await lifecycle().state()).toBeUndefined();
  });
});

describe('AutoScalingLifecycle.complete', () => {
  it('completes a token-less action by instance id, with the result', async () => {
    asg.on(CompleteLifecycleActionCommand).resolves({});

    expect(await lifecycle(tokenless).complete('CONTINUE')).toBe('completed');
    expect(asg.commandCalls(CompleteLifecycleActionCommand)[0]?.args[0].input).toEqual({
      AutoScalingGroupName: 'web-asg',
      LifecycleHookName: 'hook',
      InstanceId: INSTANCE,
      LifecycleActionResult: 'CONTINUE',
    });
  });

  it('answers already-completed when AWS has no active lifecycle action', async () => {
    asg.on(CompleteLifecycleActionCommand).rejects(NO_ACTIVE());

    expect(await lifecycle().complete('ABANDON')).toBe('already-completed');
  });

  it('fails with a throttling error', async () => {
    asg.on(CompleteLifecycleActionCommand).rejects(awsError('Throttling', 'Rate exceeded'));

    await expect(lifecycle().complete('CONTINUE')).rejects.toThrow('Rate exceeded');
  });
});

describe('isNoActiveAction', () => {
  it.each([
    ['ValidationError', 'No active Lifecycle Action found with token tok-1'],
    ['ValidationError', 'no active lifecycle action found for instance i-0123456789abcdef0'],
  ])('recognises %s "%s"', (name, message) => {
    expect(isNoActiveAction(awsError(name, message))).toBe(true);
  });

  it.each([
    ['another error name', awsError('Throttling', 'No active Lifecycle Action found with token tok-1')],
    ['another validation error', awsError('ValidationError', 'Invalid hook name')],
    [
      'something that is not an Error',
      { name: 'ValidationError', message: 'No active Lifecycle Action found' },
    ],
    ['nothing', undefined],
  ])('does not for %s', (_case, error) => {
    expect(isNoActiveAction(error)).toBe(false);
  });
});
