import {
  AutoScalingClient,
  AutoScalingServiceException,
  CompleteLifecycleActionCommand,
  RecordLifecycleActionHeartbeatCommand,
} from '@aws-sdk/client-auto-scaling';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { AutoScalingLifecycle } from '../../lambda/aws/lifecycle.js';
import { runLifecycleAction } from '../../lambda/job/lifecycle.js';
import { type LogEntry, memoryLogger } from '../../scripts/harness/memory-logger.js';
import { FakeCluster, lifecycleSettings, pod, VirtualClock } from '../support/fakes.js';
import { MemoryJobStore } from '../support/job-fakes.js';

const asg = mockClient(AutoScalingClient);
afterEach(() => asg.reset());

const action = {
  token: 'tok-1',
  autoScalingGroupName: 'web-asg',
  hookName: 'hook',
  instanceId: 'i-0123456789abcdef0',
};
const ref = { group: 'web-asg', hook: 'hook', instanceId: 'i-0123456789abcdef0', token: 'tok-1' };

function awsError(name: string, message: string, status = 400): AutoScalingServiceException {
  return new AutoScalingServiceException({
    name,
    message,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status },
  });
}

function run(clock: VirtualClock, logs: LogEntry[]) {
  return runLifecycleAction(
    lifecycleSettings(clock, { action: ref }),
    {
      cluster: new FakeCluster(clock, [pod('a')]),
      store: new MemoryJobStore(),
      lifecycle: () => new AutoScalingLifecycle(new AutoScalingClient({ region: 'us-east-1' }), action),
      instances: { privateDnsName: async () => 'node-a' },
      continuation: { continueLater: async () => {} },
    },
    { clock, log: memoryLogger(logs) },
  );
}

describe('AutoScalingLifecycle', () => {
  it('completes with the event token, group, hook and instance', async () => {
    asg.on(CompleteLifecycleActionCommand).resolves({});
    const lifecycle = new AutoScalingLifecycle(new AutoScalingClient({ region: 'us-east-1' }), action);

    expect(await lifecycle.complete('ABANDON')).toBe('completed');
    expect(asg.commandCalls(CompleteLifecycleActionCommand)[0]?.args[0].input).toEqual({
      AutoScalingGroupName: 'web-asg',
      LifecycleHookName: 'hook',
      LifecycleActionToken: 'tok-1',
      InstanceId: 'i-0123456789abcdef0',
      LifecycleActionResult: 'ABANDON',
    });
  });

  it('reports already-completed for "No active Lifecycle Action found"', async () => {
    asg
      .on(CompleteLifecycleActionCommand)
      .rejects(awsError('ValidationError', 'No active Lifecycle Action found with token tok-1'));
    const lifecycle = new AutoScalingLifecycle(new AutoScalingClient({ region: 'us-east-1' }), action);

    expect(await lifecycle.complete('CONTINUE')).toBe('already-completed');
  });

  it('fails on any other validation error', async () => {
    asg.on(CompleteLifecycleActionCommand).rejects(awsError('ValidationError', 'Invalid hook name'));
    const lifecycle = new AutoScalingLifecycle(new AutoScalingClient({ region: 'us-east-1' }), action);

    await expect(lifecycle.complete('CONTINUE')).rejects.toThrow('Invalid hook name');
  });
});

describe('runLifecycleAction with a throttled AutoScaling API', () => {
  it('keeps draining when heartbeats are throttled', async () => {
    asg.on(RecordLifecycleActionHeartbeatCommand).rejects(awsError('Throttling', 'Rate exceeded'));
    asg.on(CompleteLifecycleActionCommand).resolves({});
    const logs: LogEntry[] = [];

    const report = await run(new VirtualClock(), logs);

    expect(report.outcome).toBe('drained');
    expect(report.lifecycleResult).toBe('CONTINUE');
    expect(
      logs.some((l) => l.message === 'heartbeat failed' && String(l.data?.error).includes('Rate exceeded')),
    ).toBe(true);
  });

  it('retries a throttled completion until it goes through', async () => {
    asg.on(RecordLifecycleActionHeartbeatCommand).resolves({});
    asg
      .on(CompleteLifecycleActionCommand)
      .rejectsOnce(awsError('Throttling', 'Rate exceeded'))
      .rejectsOnce(awsError('ServiceUnavailable', 'try later', 503))
      .resolves({});
    const logs: LogEntry[] = [];

    const report = await run(new VirtualClock(), logs);

    expect(report.outcome).toBe('drained');
    expect(asg.commandCalls(CompleteLifecycleActionCommand)).toHaveLength(3);
    expect(logs.filter((l) => l.message === 'complete lifecycle action failed; retrying')).toHaveLength(2);
  });

  it('fails after five throttled completions, so the invocation is retried', async () => {
    asg.on(RecordLifecycleActionHeartbeatCommand).resolves({});
    asg.on(CompleteLifecycleActionCommand).rejects(awsError('Throttling', 'Rate exceeded'));

    await expect(run(new VirtualClock(), [])).rejects.toThrow('Rate exceeded');
    expect(asg.commandCalls(CompleteLifecycleActionCommand)).toHaveLength(5);
  });
});

describe('runLifecycleAction in a dry run', () => {
  it('never completes the lifecycle action, even when the cluster is unreachable until the deadline', async () => {
    const clock = new VirtualClock();
    const cluster = new FakeCluster(clock, [pod('a')]);
    cluster.failures.findNode = Number.POSITIVE_INFINITY;

    const report = await runLifecycleAction(
      lifecycleSettings(clock, {
        action: ref,
        drainTimeoutSeconds: 30,
        onDrainTimeout: 'continue',
        dryRun: true,
      }),
      {
        cluster,
        store: new MemoryJobStore(),
        lifecycle: () => new AutoScalingLifecycle(new AutoScalingClient({ region: 'us-east-1' }), action),
        instances: { privateDnsName: async () => 'node-a' },
        continuation: { continueLater: async () => {} },
      },
      { clock, log: memoryLogger([]) },
    );

    expect(report).toMatchObject({ outcome: 'dry-run', lifecycleResult: null });
    expect(asg.calls()).toHaveLength(0);
  });
});
