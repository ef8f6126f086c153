import { afterEach, describe, expect, it } from 'vitest';
import type { Workload } from '../../scripts/harness/workload.js';
import { rebalanceEvent, spotInterruptionEvent } from '../support/ec2-events.js';
import {
  captureLogs,
  context,
  lifecycleAction,
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

/** A scenario's node with a PDB-guarded deployment (and a bare pod), kept in `world` for disposal. */
async function readyWorld(prefix: string, options?: Parameters<typeof fillReady>[1]): Promise<Workload> {
  world = await createScenario(prefix);
  return fillReady(world, options);
}

const EXCLUDE = 'node.kubernetes.io/exclude-from-external-load-balancers';

/** The world's instance is a Spot instance EC2 marked for interruption (its request's status). */
function markedSpot(w: Workload): void {
  aws.instances.set(w.instanceId, w.node);
  aws.spotInstances.set(w.instanceId, {
    requestId: `sir-${w.namespace}`,
    statusCode: 'marked-for-termination',
  });
}

describe('Spot interruption, end to end on the real apiserver', () => {
  it('drains with grace periods clamped to the time left, all pods gone before the instance goes', async () => {
    registerCluster(aws);
    const handler = await loadHandler(aws, { LOG_LEVEL: 'info' });
    world = await createScenario('spot');
    // pods that would take 30 s to stop (preStop) and may take 60 s: more than the 25 s left
    const labels = await world.deployment('web', 2, { preStopSeconds: 30, gracePeriodSeconds: 60 });
    await world.pdb('web', labels, { minAvailable: 1 });
    await world.waitRunning(2);
    await world.waitPdb('web', (s) => s.disruptionsAllowed === 1);
    await world.openSpare();
    markedSpot(world);
    // the warning was sent 95 s ago: the instance goes in 25 s
    const sentAt = Date.now() - 95_000;
    const instanceGoesAt = sentAt + 120_000;

    const { result, lines } = await captureLogs(() =>
      handler(spotInterruptionEvent(world?.instanceId ?? '', new Date(sentAt)), context()),
    );

    expect(result.outcome).toBe('spot-interrupted');
    expect(result.report?.evicted).toHaveLength(2);
    expect(result.report?.remaining).toEqual([]);
    expect(Date.now()).toBeLessThan(instanceGoesAt);
    const terminations = [...world.sim.terminations.values()].filter((t) => t.node === world?.node);
    expect(terminations).toHaveLength(2);
    for (const t of terminations) {
      // clamped: at most the time left less the 5 s margin, never the pod's own 60 s
      expect(t.deletionGracePeriodSeconds).toBeGreaterThanOrEqual(1);
      expect(t.deletionGracePeriodSeconds).toBeLessThanOrEqual(20);
      expect(t.finishedAt).toBeLessThan(instanceGoesAt);
    }
    expect(await world.podsOn()).toHaveLength(0);
    const final = lines.find((l) => l.message === 'invocation finished');
    expect(final).toMatchObject({
      outcome: 'spot-interrupted',
      notice: 'spot-interruption',
      node: world.node,
      hardEnd: new Date(instanceGoesAt).toISOString(),
    });
  });

  it('completes a termination lifecycle action that arrives meanwhile exactly once, with one drain', async () => {
    registerCluster(aws);
    const spotHandler = await loadHandler(aws);
    const lifecycleHandler = await loadHandler(aws); // another container
    const w = await readyWorld('spot-lc', { preStopSeconds: 3 });
    markedSpot(w);
    const group = `${w.namespace}-asg`;
    aws.autoScalingInstances.set(w.instanceId, { asg: group, lifecycleState: 'InService' });
    const sentAt = Date.now() - 80_000;

    const spot = spotHandler(spotInterruptionEvent(w.instanceId, new Date(sentAt)), context());
    // the ASG starts terminating the instance while the Spot drain runs
    await w.waitUntil('the drain to evict', async () => w.sim.terminations.size > 0, 20_000);
    aws.autoScalingInstances.set(w.instanceId, { asg: group, lifecycleState: 'Terminating:Wait' });
    const action = lifecycleAction(aws, w);
    const joined = await lifecycleHandler(lifecycleEvent(action), context());
    const interrupted = await spot;

    expect(joined.outcome).toBe('joined');
    expect(joined.lifecycleResult).toBeNull();
    expect(interrupted.outcome).toBe('spot-interrupted');
    expect(interrupted.lifecycleResult).toBe('CONTINUE');
    expect(action.result).toBe('CONTINUE');
    expect(aws.callsOf('autoscaling', 'CompleteLifecycleAction')).toHaveLength(1);
    // one drain: each pod evicted once
    expect(interrupted.report?.evicted).toHaveLength(3);
    expect(joined.report).toBeUndefined();
  });

  it('only cordons for a warning of an instance EC2 has not marked: no eviction, no deletion', async () => {
    registerCluster(aws);
    const handler = await loadHandler(aws);
    const w = await readyWorld('spot-forged');
    // an On-Demand instance: a hand-made warning (anyone allowed to invoke the function could send one)
    aws.instances.set(w.instanceId, w.node);
    const before = (await w.podsOn()).map((p) => p.metadata?.uid).sort();

    const result = await handler(
      spotInterruptionEvent(w.instanceId, new Date(Date.now() - 110_000)),
      context(),
    );

    expect(result.outcome).toBe('spot-unconfirmed');
    expect((await w.core.readNode({ name: w.node })).spec?.unschedulable).toBe(true);
    expect((await w.podsOn()).map((p) => p.metadata?.uid).sort()).toEqual(before);
    expect(w.sim.terminations.size).toBe(0);
  });

  it('is foreign for an instance in no group and with no node in the cluster, and touches nothing', async () => {
    registerCluster(aws);
    const handler = await loadHandler(aws);
    const w = await readyWorld('spot-foreign', { bare: false });

    const result = await handler(spotInterruptionEvent('i-0fedcba9876543210', new Date()), context());

    expect(result.outcome).toBe('foreign-instance');
    expect(result.report).toBeUndefined();
    expect((await w.core.readNode({ name: w.node })).spec?.unschedulable).toBeUndefined();
    expect(await w.podsOn()).toHaveLength(2);
  });
});

describe('rebalance recommendation, end to end on the real apiserver', () => {
  it('with cordon (the default): cordons and excludes the node from load balancers, evicts nothing', async () => {
    registerCluster(aws);
    const handler = await loadHandler(aws);
    const w = await readyWorld('rebalance');
    aws.instances.set(w.instanceId, w.node);
    const before = (await w.podsOn()).map((p) => p.metadata?.uid);

    const result = await handler(rebalanceEvent(w.instanceId), context());

    expect(result.outcome).toBe('rebalance-cordoned');
    const node = await w.core.readNode({ name: w.node });
    expect(node.spec?.unschedulable).toBe(true);
    expect(node.metadata?.labels?.[EXCLUDE]).toBe('true');
    expect((await w.podsOn()).map((p) => p.metadata?.uid)).toEqual(before);
    expect(w.sim.terminations.size).toBe(0);
  });

  it('with ignore: changes nothing', async () => {
    registerCluster(aws);
    const handler = await loadHandler(aws, { ON_REBALANCE_RECOMMENDATION: 'ignore' });
    const w = await readyWorld('rebalance-ignore', { bare: false });
    aws.instances.set(w.instanceId, w.node);

    const result = await handler(rebalanceEvent(w.instanceId), context());

    expect(result.outcome).toBe('ignored');
    expect((await w.core.readNode({ name: w.node })).spec?.unschedulable).toBeUndefined();
  });

  it('with drain: drains the node and completes no lifecycle action', async () => {
    registerCluster(aws);
    const handler = await loadHandler(aws, { ON_REBALANCE_RECOMMENDATION: 'drain' });
    const w = await readyWorld('rebalance-drain');
    aws.instances.set(w.instanceId, w.node);
    const completions = aws.callsOf('autoscaling', 'CompleteLifecycleAction').length;

    const result = await handler(rebalanceEvent(w.instanceId), context());

    expect(result.outcome).toBe('drained');
    expect(result.report?.evicted).toHaveLength(3);
    expect(await w.podsOn()).toHaveLength(0);
    expect(aws.callsOf('autoscaling', 'CompleteLifecycleAction')).toHaveLength(completions);
  });
});
