import { afterEach, describe, expect, it } from 'vitest';
import { SCHEDULED_REPLACEMENTS_REQUEST } from '../../lambda/contract.js';
import { formatRecord, JOB_ANNOTATION } from '../../lambda/kube/job-format.js';
import { markFields, WARM_POOL_MARK } from '../../lambda/kube/marks.js';
import { SCHEDULED_EVENT_MARK } from '../../lambda/kube/scheduled-marks.js';
import type { Workload } from '../../scripts/harness/workload.js';
import { warmPoolLaunchSuccessfulEvent } from '../support/ec2-events.js';
import { healthEvent, scheduledEventArn } from '../support/health-events.js';
import {
  context,
  type Handler,
  lifecycleEvent,
  loadHandler,
  localAws,
  registerCluster,
} from './support/lambda.js';
import { createScenario } from './support/scenario.js';
import { fillReady } from './support/worlds.js';

const aws = localAws();
let world: Workload | undefined;

afterEach(async () => {
  if (world) {
    expect(world.sim.failures).toEqual([]);
    await world.dispose();
    world = undefined;
  }
});

const HOUR = 3_600_000;
const HOOK = 'eks-node-drainer';
const TERMINATE = 'TerminateInstanceInAutoScalingGroup';

/**
 * A node whose instance is InService in a served group with the drainer's termination hook, its
 * private DNS name known to EC2; the handler serves that group with a lead time of `leadHours`.
 */
async function servedWorld(
  prefix: string,
  leadHours = 1,
): Promise<{ w: Workload; group: string; handler: Handler }> {
  registerCluster(aws);
  world = await createScenario(prefix);
  const w = await fillReady(world, { bare: false });
  const group = `${w.namespace}-asg`;
  aws.autoScalingGroups.putHook(group, { name: HOOK, transition: 'autoscaling:EC2_INSTANCE_TERMINATING' });
  aws.autoScalingInstances.set(w.instanceId, { asg: group, lifecycleState: 'InService' });
  aws.instances.set(w.instanceId, w.node);
  return { w, group, handler: await withLead(group, leadHours) };
}

/** A fresh container serving `group` with this lead time. */
function withLead(group: string, leadHours: number): Promise<Handler> {
  return loadHandler(aws, {
    AUTO_SCALING_GROUP_NAMES: group,
    SCHEDULED_EVENT_LEAD_SECONDS: String(leadHours * 3_600),
  });
}

async function nodeOf(w: Workload) {
  const node = await w.core.readNode({ name: w.node });
  return {
    unschedulable: node.spec?.unschedulable === true,
    label: node.metadata?.labels?.[SCHEDULED_EVENT_MARK],
    annotation: node.metadata?.annotations?.[SCHEDULED_EVENT_MARK],
    version: node.metadata?.resourceVersion,
  };
}

const terminations = (instanceId: string) =>
  aws.callsOf('autoscaling', TERMINATE).filter((c) => c.params.InstanceId === instanceId);

const sweep = (handler: Handler) => handler(structuredClone(SCHEDULED_REPLACEMENTS_REQUEST), context());

describe('EC2 scheduled events (AWS Health), end to end on the real apiserver', () => {
  it('cordons on a retirement event, replaces the instance once at the lead time, and drains the termination that follows', async () => {
    const { w, group, handler } = await servedWorld('sched');
    const event = healthEvent({ instanceIds: [w.instanceId], startTime: Date.now() + 2 * HOUR });

    const planned = await handler(event, context());

    expect(planned.outcome).toBe('scheduled-replacement-planned');
    expect(await nodeOf(w)).toMatchObject({ unschedulable: true, label: 'planned' });
    const marked = await nodeOf(w);

    // the same event again (EventBridge delivers at least once): nothing changes
    const duplicate = await handler(event, context());
    expect(duplicate.outcome).toBe('ignored');
    expect(duplicate.scheduled).toMatchObject([{ instanceId: w.instanceId, result: 'duplicate' }]);
    expect((await nodeOf(w)).version).toBe(marked.version);

    // an hour before the replacement is due: the sweep leaves it
    expect((await sweep(handler)).outcome).toBe('scheduled-sweep');
    expect(terminations(w.instanceId)).toHaveLength(0);

    // with a 3-hour lead time the window (2 h away) is inside it: due now
    const later = await withLead(group, 3);
    const swept = await sweep(later);
    expect(swept.outcome).toBe('scheduled-replacement-requested');
    expect(terminations(w.instanceId).map((c) => c.params)).toEqual([
      expect.objectContaining({ InstanceId: w.instanceId, ShouldDecrementDesiredCapacity: 'false' }),
    ]);
    expect((await nodeOf(w)).label).toBe('requested');
    // a second sweep and a late duplicate of the event ask nothing more
    expect((await sweep(later)).outcome).toBe('scheduled-sweep');
    expect((await later(event, context())).outcome).toBe('ignored');
    expect(terminations(w.instanceId)).toHaveLength(1);

    // the group holds the instance in Terminating:Wait: its lifecycle action drains the node as a scale-in does
    const action = [...aws.lifecycleActions.values()].find((a) => a.instanceId === w.instanceId);
    expect(action).toBeDefined();
    const drained = await (await withLead(group, 1))(
      lifecycleEvent({
        token: action?.token ?? '',
        autoScalingGroupName: group,
        hookName: HOOK,
        instanceId: w.instanceId,
      }),
      context(),
    );
    expect(drained.outcome).toBe('drained');
    expect(drained.report?.evicted).toHaveLength(2);
    expect(action?.result).toBe('CONTINUE');
    expect(await w.podsOn()).toHaveLength(0);
  });

  it('uncordons when the maintenance is cancelled before its window, but never a node someone else cordoned', async () => {
    const { w, handler } = await servedWorld('sched-cancel');
    const startTime = Date.now() + 48 * HOUR;
    await handler(healthEvent({ instanceIds: [w.instanceId], startTime }), context());
    expect((await nodeOf(w)).unschedulable).toBe(true);

    const cancelled = await handler(
      healthEvent({ instanceIds: [w.instanceId], startTime, statusCode: 'closed' }),
      context(),
    );

    expect(cancelled.outcome).toBe('scheduled-event-cancelled');
    expect(await nodeOf(w)).toMatchObject({ unschedulable: false, label: undefined, annotation: undefined });

    // cordoned by hand first: the drainer's mark says so, and the cancellation leaves the cordon
    await w.core.patchNode({ name: w.node, body: [{ op: 'add', path: '/spec/unschedulable', value: true }] });
    const other = scheduledEventArn('AWS_EC2_INSTANCE_STOP_SCHEDULED', 'def456');
    const stop = {
      instanceIds: [w.instanceId],
      startTime,
      eventTypeCode: 'AWS_EC2_INSTANCE_STOP_SCHEDULED',
      eventArn: other,
    };
    expect((await handler(healthEvent(stop), context())).outcome).toBe('scheduled-replacement-planned');
    const closed = await handler(healthEvent({ ...stop, statusCode: 'closed' }), context());
    expect(closed.outcome).toBe('scheduled-event-cancelled');
    expect(await nodeOf(w)).toMatchObject({ unschedulable: true, label: undefined });
    expect(terminations(w.instanceId)).toHaveLength(0);
  });

  it('replaces at once for an event already inside the lead time; its cancellation then undoes nothing', async () => {
    const { w, handler } = await servedWorld('sched-now');
    const startTime = Date.now() + HOUR / 2;

    const replaced = await handler(healthEvent({ instanceIds: [w.instanceId], startTime }), context());

    expect(replaced.outcome).toBe('scheduled-replacement-requested');
    expect(terminations(w.instanceId)).toHaveLength(1);
    const cancelled = await handler(
      healthEvent({ instanceIds: [w.instanceId], startTime, statusCode: 'closed' }),
      context(),
    );
    expect(cancelled.scheduled).toMatchObject([{ result: 'already-requested' }]);
    expect(await nodeOf(w)).toMatchObject({ unschedulable: true, label: 'requested' });
  });

  it('leaves a node that a drain job holds to its drain: no mark, no replacement', async () => {
    const { w, handler } = await servedWorld('sched-job');
    const record = formatRecord({
      chain: 'other',
      holder: 'other',
      until: Date.now() + 60_000,
      before: { unschedulable: false, excludedFromLoadBalancers: false },
      requests: [
        {
          id: `rebalance:${w.instanceId}`,
          kind: 'rebalance',
          instanceId: w.instanceId,
          startedAt: Date.now(),
          deadline: Date.now() + 900_000,
          policy: 'continue',
        },
      ],
    });
    const annotations = (await w.core.readNode({ name: w.node })).metadata?.annotations ?? {};
    await w.core.patchNode({
      name: w.node,
      body: [
        { op: 'add', path: '/metadata/annotations', value: { ...annotations, [JOB_ANNOTATION]: record } },
      ],
    });

    const result = await handler(
      healthEvent({ instanceIds: [w.instanceId], startTime: Date.now() + HOUR / 2 }),
      context(),
    );

    expect(result.scheduled).toMatchObject([{ result: 'draining' }]);
    expect(await nodeOf(w)).toMatchObject({ unschedulable: false, label: undefined });
    expect(terminations(w.instanceId)).toHaveLength(0);
  });

  it('is a logged no-op for an instance gone from its group or in a group not served; a sweep settles a planned node whose instance is gone', async () => {
    const { w, group, handler } = await servedWorld('sched-gone');
    const startTime = Date.now() + 2 * HOUR;
    const foreign = await (await loadHandler(aws, { AUTO_SCALING_GROUP_NAMES: 'another-asg' }))(
      healthEvent({ instanceIds: [w.instanceId], startTime }),
      context(),
    );
    expect(foreign.outcome).toBe('foreign-instance');
    expect((await nodeOf(w)).unschedulable).toBe(false);

    await handler(healthEvent({ instanceIds: [w.instanceId], startTime }), context());
    aws.autoScalingInstances.delete(w.instanceId);
    const swept = await sweep(await withLead(group, 3));

    expect(swept.scheduled).toMatchObject([{ instanceId: w.instanceId, result: 'gone' }]);
    expect((await nodeOf(w)).label).toBe('gone');
    expect(terminations(w.instanceId)).toHaveLength(0);
    const gone = await handler(healthEvent({ instanceIds: [w.instanceId], startTime }), context());
    expect(gone.outcome).toBe('ignored');
    expect(gone.scheduled).toMatchObject([{ result: 'gone' }]);
  });

  it('gives the replacement back when AutoScaling fails, so the next sweep asks again', async () => {
    const { w, group, handler } = await servedWorld('sched-fail');
    await handler(healthEvent({ instanceIds: [w.instanceId], startTime: Date.now() + 2 * HOUR }), context());
    const later = await withLead(group, 3);
    aws.failNext('autoscaling', TERMINATE, { status: 400, code: 'Throttling', message: 'Rate exceeded' }, 10);

    await expect(sweep(later)).rejects.toThrow('scheduled replacements failed');

    expect((await nodeOf(w)).label).toBe('planned');
    aws.failNext('autoscaling', TERMINATE, { status: 400, code: 'Throttling', message: 'Rate exceeded' }, 0);
    expect((await sweep(later)).outcome).toBe('scheduled-replacement-requested');
    expect((await nodeOf(w)).label).toBe('requested');
  });

  it('shows in a dry run which node it would cordon and when it would replace it, changing nothing', async () => {
    const { w, handler } = await servedWorld('sched-dry');
    // Health writes whole seconds
    const startTime = Math.floor(Date.now() / 1000) * 1000 + 2 * HOUR;
    const event = {
      ...healthEvent({ instanceIds: [w.instanceId], startTime }),
      eksNodeDrainer: { dryRun: true },
    };

    const result = await handler(event, context());

    expect(result.outcome).toBe('dry-run');
    expect(result.scheduled).toEqual([
      {
        instanceId: w.instanceId,
        node: w.node,
        result: 'dry-run',
        replaceAt: new Date(startTime - HOUR).toISOString(),
      },
    ]);
    expect(await nodeOf(w)).toMatchObject({ unschedulable: false, label: undefined });
    expect(terminations(w.instanceId)).toHaveLength(0);
  });

  it('keeps a node with a planned replacement cordoned when its warm-pool mark is undone', async () => {
    const { w, group, handler } = await servedWorld('sched-warm');
    // drained toward the warm pool earlier (the drainer cordoned it), back in service, not yet restored
    const warm = markFields({
      instanceId: w.instanceId,
      at: Date.now() - 60_000,
      wasUnschedulable: false,
      hadExcludeLabel: false,
    });
    const before = (await w.core.readNode({ name: w.node })).metadata;
    await w.core.patchNode({
      name: w.node,
      body: [
        { op: 'add', path: '/spec/unschedulable', value: true },
        { op: 'add', path: '/metadata/labels', value: { ...before?.labels, ...warm.labels } },
        { op: 'add', path: '/metadata/annotations', value: { ...before?.annotations, ...warm.annotations } },
      ],
    });
    const planned = await handler(
      healthEvent({ instanceIds: [w.instanceId], startTime: Date.now() + 2 * HOUR }),
      context(),
    );
    expect(planned.outcome).toBe('scheduled-replacement-planned');

    const restored = await handler(
      warmPoolLaunchSuccessfulEvent({ instanceId: w.instanceId, autoScalingGroupName: group }),
      context(),
    );

    expect(restored.outcome).toBe('warm-pool-restored');
    const node = await w.core.readNode({ name: w.node });
    expect(node.metadata?.annotations?.[WARM_POOL_MARK]).toBeUndefined();
    expect(node.spec?.unschedulable).toBe(true);
    expect(node.metadata?.labels?.[SCHEDULED_EVENT_MARK]).toBe('planned');
  });

  it('follows a rescheduled event, leaves an event closed once its window began, and skips an instance already terminating', async () => {
    const { w, handler } = await servedWorld('sched-more');
    const first = Date.now() + 48 * HOUR;
    await handler(healthEvent({ instanceIds: [w.instanceId], startTime: first }), context());
    const startOf = async () => JSON.parse((await nodeOf(w)).annotation ?? '{}').startTime;

    // AWS moved the window earlier: the same event, updated
    const moved = Math.floor((Date.now() + 24 * HOUR) / 1000) * 1000;
    const rescheduled = await handler(
      healthEvent({ instanceIds: [w.instanceId], startTime: moved }),
      context(),
    );
    expect(rescheduled.scheduled).toMatchObject([{ result: 'planned' }]);
    expect(await startOf()).toBe(new Date(moved).toISOString());
    // another event with a later window does not replace the earlier one
    const later = {
      instanceIds: [w.instanceId],
      startTime: first,
      eventArn: scheduledEventArn(undefined, 'zzz'),
    };
    expect((await handler(healthEvent(later), context())).scheduled).toMatchObject([{ result: 'duplicate' }]);

    // closed after its window began: the maintenance happened, nothing is undone
    const over = await handler(
      healthEvent({ instanceIds: [w.instanceId], startTime: Date.now() - HOUR, statusCode: 'closed' }),
      context(),
    );
    expect(over.scheduled).toMatchObject([{ result: 'window-passed' }]);
    expect((await nodeOf(w)).label).toBe('planned');

    aws.autoScalingInstances.set(w.instanceId, {
      asg: `${w.namespace}-asg`,
      lifecycleState: 'Terminating:Wait',
    });
    const terminating = await handler(
      healthEvent({ instanceIds: [w.instanceId], startTime: moved - HOUR }),
      context(),
    );
    expect(terminating.scheduled).toMatchObject([{ result: 'not-in-service' }]);
    expect(await startOf()).toBe(new Date(moved).toISOString());
    expect(terminations(w.instanceId)).toHaveLength(0);
  });
});
