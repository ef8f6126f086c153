import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { AUTO_SCALING_GROUP_TAG, OUT_OF_SERVICE_TAINT } from '../../lambda/contract.js';
import { LOST_MARK } from '../../lambda/kube/out-of-service.js';
import { LOST_NODE_CONTROLLERS, startControllers } from '../../scripts/harness/cluster.js';
import type { Workload } from '../../scripts/harness/workload.js';
import { stateChangeEvent } from '../support/ec2-events.js';
import {
  captureLogs,
  context,
  type Handler,
  lifecycleAction,
  lifecycleEvent,
  loadHandler,
  localAws,
  registerCluster,
} from './support/lambda.js';
import { createScenario } from './support/scenario.js';

const aws = localAws();
let world: Workload | undefined;
/** 1.28+ releases by the out-of-service taint; the 1.20 server by deleting the pods. */
const tainting = inject('cluster').version !== '1.20';
/** What a NotReady node's pods wait for without the drainer: the default unreachable toleration. */
const DEFAULT_TOLERATION_MS = 300_000;

// what acts on the out-of-service taint runs for this file only (scripts/harness/cluster.ts)
let stopControllers: (() => Promise<void>) | undefined;
beforeAll(async () => {
  if (tainting) stopControllers = await startControllers(inject('cluster'), LOST_NODE_CONTROLLERS);
});
afterAll(async () => {
  await stopControllers?.();
});

afterEach(async () => {
  if (world) {
    expect(world.sim.failures).toEqual([]);
    await world.dispose();
    world = undefined;
  }
});

const groupOf = (w: Workload) => `${w.namespace}-asg`;

/**
 * A node with a 2-replica deployment and a DaemonSet pod, its instance in a served group in
 * `lifecycleState`, EC2 describing it in `state` with its group's tag; the spare node open for
 * the replacements.
 */
async function lostWorld(prefix: string, lifecycleState = 'InService', state = 'shutting-down') {
  registerCluster(aws);
  world = await createScenario(prefix);
  const w = world;
  const handler = await loadHandler(aws, { LOG_LEVEL: 'info', AUTO_SCALING_GROUP_NAMES: groupOf(w) });
  await w.deployment('web', 2);
  await w.daemonSetPod('agent');
  await w.waitRunning(3);
  await w.openSpare();
  aws.instances.set(w.instanceId, w.node);
  aws.instanceStates.set(w.instanceId, state);
  aws.instanceTags.set(w.instanceId, { [AUTO_SCALING_GROUP_TAG]: groupOf(w) });
  aws.autoScalingInstances.set(w.instanceId, { asg: groupOf(w), lifecycleState });
  return { w, handler };
}

const web = (pods: V1Pod[]) => pods.filter((p) => p.metadata?.labels?.app === 'web');
const readNode = (w: Workload) => w.core.readNode({ name: w.node });
const outOfService = async (w: Workload) =>
  (await readNode(w)).spec?.taints?.filter((t) => t.key === OUT_OF_SERVICE_TAINT) ?? [];

async function waitReplacements(w: Workload): Promise<void> {
  await w.waitUntil(
    'two replacement pods bound to the spare node',
    async () => web(await w.podsOn(w.spare)).length === 2,
    60_000,
  );
}

/** An instance goes (`state`) while the hook holds nothing: the handler releases its node. */
async function lose(handler: Handler, w: Workload, state = 'shutting-down') {
  aws.instanceStates.set(w.instanceId, state);
  return captureLogs(() => handler(stateChangeEvent(w.instanceId, state), context()));
}

describe('an instance lost outside its group’s lifecycle, end to end on the real apiserver', () => {
  it('releases its pods within seconds: replacements bound elsewhere, long before the 5-minute toleration', async () => {
    const { w, handler } = await lostWorld('lost');
    // the instance goes: its kubelet stops, the node turns NotReady
    await w.sim.loseNode(w.node);
    const lostAt = Date.now();

    const { result, lines } = await lose(handler, w);
    await waitReplacements(w);
    const replacedMs = Date.now() - lostAt;
    // a figure, not an assertion of speed
    console.log(
      `lost node (${tainting ? 'out-of-service taint' : 'pod deletion'}): replacements bound ${replacedMs} ms after the event; without the drainer the pods wait ${DEFAULT_TOLERATION_MS} ms`,
    );

    expect(result.outcome).toBe('node-lost');
    const node = await readNode(w);
    expect(node.spec?.unschedulable).toBe(true);
    expect(JSON.parse(node.metadata?.annotations?.[LOST_MARK] ?? '{}')).toMatchObject({
      instanceId: w.instanceId,
      state: 'shutting-down',
      tainted: tainting,
      cordoned: true,
    });
    if (tainting) {
      expect(await outOfService(w)).toEqual([
        expect.objectContaining({ value: 'nodeshutdown', effect: 'NoExecute' }),
      ]);
      expect(result.lostNode).toMatchObject({ by: 'out-of-service-taint', tainted: true, podsDeleted: 0 });
      // the taint eviction marks the pods, podgc force-deletes them from the NotReady tainted node
      await w.waitUntil(
        'the lost node’s pods to be gone',
        async () => (await w.podsOn()).length === 0,
        60_000,
      );
    } else {
      expect(await outOfService(w)).toEqual([]);
      expect(result.lostNode).toMatchObject({ by: 'pod-deletion', podsDeleted: 2 });
      // the DaemonSet's pod stays: its controller would only put it back on the node
      expect((await w.podsOn()).map((p) => p.metadata?.name)).toEqual(['agent-x1']);
    }
    const final = lines.find((l) => l.message === 'invocation finished');
    expect(final).toMatchObject({ outcome: 'node-lost', node: w.node, asgName: groupOf(w) });
    expect(lines.find((l) => l.NodesLost === 1)).toBeDefined();
    const events = await w.core.listNamespacedEvent({ namespace: 'default' });
    expect(
      events.items.filter((e) => e.involvedObject.name === w.node && e.reason === 'NodeLost'),
    ).toHaveLength(1);
  });

  it('counts a lost node once when its terminated notice follows its shutting-down one', async () => {
    const { w, handler } = await lostWorld('lost-twice');
    await w.sim.loseNode(w.node);

    const first = await lose(handler, w, 'shutting-down');
    // the group has forgotten the terminated instance; EC2 still describes it, with its group's tag
    aws.autoScalingInstances.delete(w.instanceId);
    const second = await lose(handler, w, 'terminated');

    expect(first.result.outcome).toBe('node-lost');
    expect(second.result.outcome).toBe('node-lost');
    expect(second.result.lostNode).toMatchObject({ repeat: true, cordoned: true, tainted: tainting });
    expect(second.lines.find((l) => 'NodesLost' in l)).toBeUndefined();
    expect(await outOfService(w)).toHaveLength(tainting ? 1 : 0);
  });

  it('gives a stopped instance that runs again its node back: taint removed, uncordoned', async () => {
    const { w, handler } = await lostWorld('lost-back');
    await w.sim.loseNode(w.node);
    const stopped = await lose(handler, w, 'stopping');
    expect(stopped.result.outcome).toBe('node-lost');

    const { result } = await lose(handler, w, 'running');

    expect(result.outcome).toBe('lost-node-restored');
    const node = await readNode(w);
    expect(node.spec?.unschedulable).toBeFalsy();
    expect(await outOfService(w)).toEqual([]);
    expect(node.metadata?.annotations?.[LOST_MARK]).toBeUndefined();
  });

  it('leaves a node cordoned before the loss cordoned when the instance comes back', async () => {
    const { w, handler } = await lostWorld('lost-cordoned');
    await w.core.patchNode({ name: w.node, body: [{ op: 'add', path: '/spec/unschedulable', value: true }] });
    await lose(handler, w, 'stopping');

    const { result } = await lose(handler, w, 'running');

    expect(result.outcome).toBe('lost-node-restored');
    expect((await readNode(w)).spec?.unschedulable).toBe(true);
  });

  it('ignores a stale notice that EC2 contradicts (a stop then start delivered out of order), both ways', async () => {
    const { w, handler } = await lostWorld('lost-stale', 'InService', 'running');
    // stopping arrives after the instance already runs again: the node is left alone
    const late = await handler(stateChangeEvent(w.instanceId, 'stopping'), context());
    expect(late.outcome).toBe('ignored');
    expect((await readNode(w)).spec?.unschedulable).toBeUndefined();
    // released on stopping; a running notice from before the stop arrives after it: the release stays
    await lose(handler, w, 'stopping');
    aws.instanceStates.set(w.instanceId, 'stopped');
    const early = await handler(stateChangeEvent(w.instanceId, 'running'), context());

    expect(early.outcome).toBe('ignored');
    expect((await readNode(w)).metadata?.annotations?.[LOST_MARK]).toBeDefined();
  });

  it('ignores a running instance whose node carries no mark (every launch), changing nothing', async () => {
    const { w, handler } = await lostWorld('lost-launch', 'InService', 'running');

    const { result } = await lose(handler, w, 'running');

    expect(result.outcome).toBe('ignored');
    expect((await readNode(w)).spec?.unschedulable).toBeUndefined();
  });

  it.each([
    ['Terminating:Proceed', 'shutting-down', 'the group terminates it after its hook'],
    ['Warmed:Pending:Proceed', 'stopping', 'the warm pool stops it'],
  ])('is not lost when %s (%s): %s — the node is left alone', async (lifecycleState, state) => {
    const { w, handler } = await lostWorld('lost-owned', lifecycleState, state);

    const { result } = await lose(handler, w, state);

    expect(result.outcome).toBe('ignored');
    const node = await readNode(w);
    expect(node.spec?.unschedulable).toBeUndefined();
    expect(node.metadata?.annotations?.[LOST_MARK]).toBeUndefined();
    expect(web(await w.podsOn())).toHaveLength(2);
  });

  it('does not call a drained node of a terminated instance its group forgot lost', async () => {
    const { w, handler } = await lostWorld('lost-drained');
    // what the hook's drain leaves: cordoned, only the DaemonSet's pod
    await w.core.patchNode({ name: w.node, body: [{ op: 'add', path: '/spec/unschedulable', value: true }] });
    await w.apps.deleteNamespacedDeployment({ namespace: w.namespace, name: 'web' });
    for (const pod of web(await w.podsOn()))
      await w.core.deleteNamespacedPod({ namespace: w.namespace, name: pod.metadata?.name ?? '' });
    await w.waitUntil('the node drained', async () => web(await w.podsOn()).length === 0);
    aws.autoScalingInstances.delete(w.instanceId);

    const { result } = await lose(handler, w, 'terminated');

    expect(result.outcome).toBe('ignored');
    expect((await readNode(w)).metadata?.annotations?.[LOST_MARK]).toBeUndefined();
  });

  it('is foreign for an instance of another group, and touches nothing', async () => {
    const { w, handler } = await lostWorld('lost-foreign');
    aws.instanceTags.set(w.instanceId, { [AUTO_SCALING_GROUP_TAG]: 'someone-elses-asg' });
    aws.autoScalingInstances.set(w.instanceId, { asg: 'someone-elses-asg', lifecycleState: 'InService' });
    const describes = aws.callsOf('autoscaling', 'DescribeAutoScalingInstances').length;

    const { result } = await lose(handler, w);

    expect(result.outcome).toBe('foreign-instance');
    // the EC2 tag answered: no AutoScaling call
    expect(aws.callsOf('autoscaling', 'DescribeAutoScalingInstances')).toHaveLength(describes);
    expect((await readNode(w)).spec?.unschedulable).toBeUndefined();
  });

  it('with ON_NODE_LOST=ignore: no AWS call, nothing changed', async () => {
    const { w } = await lostWorld('lost-ignore');
    const handler = await loadHandler(aws, { ON_NODE_LOST: 'ignore', AUTO_SCALING_GROUP_NAMES: groupOf(w) });
    const calls = aws.calls.length;

    const { result } = await lose(handler, w);

    expect(result.outcome).toBe('ignored');
    expect(aws.calls).toHaveLength(calls);
    expect((await readNode(w)).spec?.unschedulable).toBeUndefined();
  });

  it('dry run (DRY_RUN, or the event’s own request): reports what would be done, changes nothing', async () => {
    const { w, handler } = await lostWorld('lost-dry');
    const asked = await handler(
      { ...stateChangeEvent(w.instanceId, 'shutting-down'), eksNodeDrainer: { dryRun: true } },
      context(),
    );
    const dryHandler = await loadHandler(aws, { DRY_RUN: 'true', AUTO_SCALING_GROUP_NAMES: groupOf(w) });

    const { result } = await lose(dryHandler, w);

    expect(asked.outcome).toBe('dry-run');
    expect(result.outcome).toBe('dry-run');
    expect((await readNode(w)).spec?.unschedulable).toBeUndefined();
    expect(web(await w.podsOn())).toHaveLength(2);
  });

  it('releases a node lost mid-drain; the drain job then ends drained and completes its action once', async () => {
    const { w, handler } = await lostWorld('lost-mid-drain');
    // a PDB that allows no eviction: the hook's drain waits on it
    await w.pdb('web', { app: 'web' }, { minAvailable: 2 });
    await w.waitPdb('web', (s) => s.currentHealthy === 2);
    aws.autoScalingInstances.delete(w.instanceId);
    const action = lifecycleAction(aws, w);
    const drainer = await loadHandler(aws, { AUTO_SCALING_GROUP_NAMES: groupOf(w) });
    const drain = drainer(lifecycleEvent(action), context());
    await w.waitUntil('the drain job on the node', async () =>
      Boolean((await readNode(w)).metadata?.annotations?.['eks-node-drainer/drain-job']),
    );
    // someone terminates the instance by hand while the hook holds it
    await w.sim.loseNode(w.node);

    const { result } = await lose(handler, w);
    const drained = await drain;

    expect(result.outcome).toBe('node-lost');
    expect(result.lostNode?.drainJob).toEqual(expect.any(String));
    expect(drained.lifecycleResult).toBe('CONTINUE');
    expect(action.result).toBe('CONTINUE');
    expect(web(await w.podsOn())).toHaveLength(0);
  });
});
