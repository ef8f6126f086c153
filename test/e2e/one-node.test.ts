/**
 * One node, one drain, whatever AWS sends: notices that meet on one node, through the real handler
 * (each invocation a container of its own), the local AWS endpoint and the real kube-apiserver. The
 * node's job record is the real one (an annotation on the node, written with the node's
 * resourceVersion as a precondition).
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { NO_TOTALS } from '../../lambda/drain/progress.js';
import { DRAINER_KEY } from '../../lambda/event.js';
import type { Workload } from '../../scripts/harness/workload.js';
import { rebalanceEvent, spotInterruptionEvent, warmPoolLaunchActionEvent } from '../support/ec2-events.js';
import {
  context,
  lifecycleAction,
  lifecycleEvent,
  loadHandler,
  localAws,
  registerCluster,
} from './support/lambda.js';
import { createScenario } from './support/scenario.js';
import { fillReady, fillStuck } from './support/worlds.js';

const aws = localAws();
let world: Workload | undefined;

afterEach(async () => {
  if (world) {
    expect(world.sim.failures).toEqual([]);
    await world.dispose();
    world = undefined;
  }
});

async function scenario(prefix: string): Promise<Workload> {
  world = await createScenario(prefix);
  registerCluster(aws);
  return world;
}

/** The world's instance in its group, InService until the group starts terminating it. */
function inGroup(w: Workload): string {
  const group = `${w.namespace}-asg`;
  aws.instances.set(w.instanceId, w.node);
  aws.autoScalingInstances.set(w.instanceId, { asg: group, lifecycleState: 'InService' });
  return group;
}

const JOB = 'eks-node-drainer/drain-job';

/** CompleteLifecycleAction calls for this action (by token, or by its instance when the token is left out). */
function completionsOf(token: string) {
  return aws
    .callsOf('autoscaling', 'CompleteLifecycleAction')
    .filter((c) => c.params.LifecycleActionToken === token);
}

describe('a rebalance drain, then the termination of the same instance', () => {
  it('completes the termination action once, CONTINUE, after the last pod is gone, PDB kept, each pod evicted once', async () => {
    const w = await fillReady(await scenario('one-rebalance'), { preStopSeconds: 3 });
    const group = inGroup(w);
    const health = w.sim.monitor(w.namespace, { app: 'web' });
    const before = (await w.podsOn()).map((p) => p.metadata?.uid ?? '');
    const rebalancer = await loadHandler(aws, { ON_REBALANCE_RECOMMENDATION: 'drain' });
    const terminator = await loadHandler(aws, { ON_REBALANCE_RECOMMENDATION: 'drain' });

    const rebalancing = rebalancer(rebalanceEvent(w.instanceId), context());
    await w.waitUntil('the rebalance drain to evict', async () => w.sim.terminations.size > 0, 20_000);
    // capacity rebalancing launched the replacement and now terminates the instance
    aws.autoScalingInstances.set(w.instanceId, { asg: group, lifecycleState: 'Terminating:Wait' });
    const action = lifecycleAction(aws, w);
    const terminated = await terminator(lifecycleEvent(action), context());
    const rebalanced = await rebalancing;

    expect(terminated.outcome).toBe('joined');
    expect(terminated.lifecycleResult).toBeNull();
    expect(rebalanced.outcome).toBe('drained');
    expect(rebalanced.completed).toEqual([
      expect.objectContaining({ result: 'CONTINUE', completion: 'completed' }),
    ]);
    expect(action.result).toBe('CONTINUE');
    const completions = completionsOf(action.token);
    expect(completions).toHaveLength(1);
    const lastGone = Math.max(
      ...[...w.sim.terminations.values()].map((t) => t.finishedAt ?? Number.POSITIVE_INFINITY),
    );
    expect(completions[0]?.at).toBeGreaterThanOrEqual(lastGone);
    expect(health.minHealthy).toBeGreaterThanOrEqual(1);
    // each original pod terminated once; nothing else (no replacement) was evicted
    expect([...w.sim.terminations.keys()].sort()).toEqual([...before].sort());
    expect((await w.core.readNode({ name: w.node })).metadata?.annotations?.[JOB]).toBeUndefined();
  });
});

describe('a Spot interruption warning during a lifecycle drain', () => {
  it('tightens the drain to the two minutes: the blocked pod is deleted, grace clamped, before the instance goes; the action completes once', async () => {
    const w = await fillStuck(await scenario('one-spot'));
    const group = inGroup(w);
    const lifecycle = await loadHandler(aws, { DRAIN_TIMEOUT_SECONDS: '900' });
    const spot = await loadHandler(aws);
    aws.autoScalingInstances.set(w.instanceId, { asg: group, lifecycleState: 'Terminating:Wait' });
    const action = lifecycleAction(aws, w);

    const draining = lifecycle(lifecycleEvent(action), context());
    await w.waitUntil('the lifecycle drain to hold the node', async () => {
      const node = await w.core.readNode({ name: w.node });
      return node.metadata?.annotations?.[JOB] !== undefined && node.spec?.unschedulable === true;
    });
    // EC2 marks the instance; the warning was sent 90 s ago: it goes in 30 s
    aws.spotInstances.set(w.instanceId, {
      requestId: `sir-${w.namespace}`,
      statusCode: 'marked-for-termination',
    });
    const warnedAt = Date.now() - 90_000;
    const goesAt = warnedAt + 120_000;
    const joined = await spot(spotInterruptionEvent(w.instanceId, new Date(warnedAt)), context());
    const drained = await draining;

    expect(joined.outcome).toBe('joined');
    expect(drained.outcome).toBe('deadline-deleted');
    expect(drained.report?.deleted).toHaveLength(1);
    const [termination] = [...w.sim.terminations.values()];
    // deleted at the Spot deadline (15 s before the end) with a grace clamped to end 5 s before it
    expect(termination?.deletionGracePeriodSeconds).toBeLessThanOrEqual(15);
    expect(termination?.finishedAt).toBeLessThan(goesAt);
    expect(action.result).toBe('CONTINUE');
    expect(completionsOf(action.token)).toHaveLength(1);
    expect(Date.now()).toBeLessThan(goesAt);
  });
});

describe('a duplicate delivery and a continuation racing', () => {
  it('lets the continuation drain and the duplicate join: one drain, one completion', async () => {
    const w = await fillStuck(await scenario('one-race'));
    const action = lifecycleAction(aws, w);
    const event = lifecycleEvent(action);
    const first = await (await loadHandler(aws))(event, context(3_000));
    expect(first.outcome).toBe('continued-in-new-invocation');
    const continuation = aws.invocations.at(-1)?.payload as Record<string, unknown>;
    expect(continuation[DRAINER_KEY]).toMatchObject({ attempt: 2 });
    await w.deletePdb('db');
    const [one, two] = [await loadHandler(aws), await loadHandler(aws)];

    const results = await Promise.all([one(continuation, context()), two(event, context())]);

    expect(results.map((r) => r.outcome).sort()).toEqual(['drained', 'joined']);
    expect(action.result).toBe('CONTINUE');
    expect(completionsOf(action.token)).toHaveLength(1);
    expect(w.sim.terminations.size).toBe(1);
    expect(await w.podsOn()).toEqual([]);
  });
});

describe('a forged or late continuation', () => {
  it('still offers every pod its eviction window although it carries a policy end in the past', async () => {
    const w = await fillStuck(await scenario('one-forged'));
    const handler = await loadHandler(aws, { DRAIN_TIMEOUT_SECONDS: '30', MIN_EVICTION_WINDOW_SECONDS: '4' });
    const action = lifecycleAction(aws, w);
    const now = Date.now();
    const forged = {
      ...lifecycleEvent(action, new Date(now - 600_000)),
      [DRAINER_KEY]: {
        startedAt: now - 600_000,
        attempt: 2,
        holder: 'someone',
        progress: {
          offeredAt: {},
          policyEndsAt: now - 300_000,
          totals: NO_TOTALS,
        },
      },
    };

    const result = await handler(forged, context());

    expect(result.outcome).toBe('deadline-deleted');
    expect(result.report?.evictionRefusals).toBeGreaterThanOrEqual(1);
    const [termination] = [...w.sim.terminations.values()];
    // offered at once, deleted only after its 4 s window
    expect(termination?.startedAt).toBeGreaterThanOrEqual(now + 4_000);
    expect(action.result).toBe('CONTINUE');
  });
});

describe('lifecycle hooks that are not the drainer’s', () => {
  it('ignores another hook’s termination and launch actions, calling nothing', async () => {
    const w = await fillReady(await scenario('one-hooks'), { bare: false });
    const handler = await loadHandler(aws);
    const calls = aws.calls.length;
    const backup = lifecycleEvent({
      token: randomUUID(),
      autoScalingGroupName: `${w.namespace}-asg`,
      hookName: 'backup-hook',
      instanceId: w.instanceId,
    });
    const launch = warmPoolLaunchActionEvent({
      instanceId: w.instanceId,
      autoScalingGroupName: `${w.namespace}-asg`,
      hookName: 'drain-hook',
      token: randomUUID(),
      origin: 'EC2',
    });

    const results = [await handler(backup, context()), await handler(launch, context())];

    expect(results.map((r) => r.outcome)).toEqual(['ignored', 'ignored']);
    expect(aws.calls.slice(calls)).toEqual([]);
    expect((await w.core.readNode({ name: w.node })).spec?.unschedulable).toBeUndefined();
    expect(await w.podsOn()).toHaveLength(2);
  });
});
