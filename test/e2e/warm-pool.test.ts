import { randomUUID } from 'node:crypto';
import { PatchStrategy, setHeaderOptions, type V1Node } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { WARM_POOL_MARK } from '../../lambda/kube/marks.js';
import type { Workload } from '../../scripts/harness/workload.js';
import { warmPoolLaunchActionEvent, warmPoolLaunchSuccessfulEvent } from '../support/ec2-events.js';
import {
  context,
  type Handler,
  lifecycleAction,
  lifecycleEvent,
  loadHandler,
  localAws,
  registerCluster,
} from './support/lambda.js';
import { createScenario } from './support/scenario.js';
import { fillReady } from './support/worlds.js';

const aws = localAws();
const worlds: Workload[] = [];

afterEach(async () => {
  for (const w of worlds.splice(0)) {
    expect(w.sim.failures).toEqual([]);
    await w.dispose();
  }
});

const EXCLUDE = 'node.kubernetes.io/exclude-from-external-load-balancers';

async function readyWorld(prefix: string): Promise<Workload> {
  const w = await createScenario(prefix);
  worlds.push(w);
  return fillReady(w, { bare: false });
}

/** Drains the world's node through a termination lifecycle action whose destination is the warm pool. */
async function drainToWarmPool(handler: Handler, w: Workload): Promise<void> {
  const action = lifecycleAction(aws, w);
  const event = lifecycleEvent(action);
  const toPool = { ...event, detail: { ...(event.detail as object), Destination: 'WarmPool' } };
  const result = await handler(toPool, context());
  expect(result.outcome).toBe('drained');
  expect(action.result).toBe('CONTINUE');
}

const readNode = (w: Workload): Promise<V1Node> => w.core.readNode({ name: w.node });

/** The node's kubelet reports Ready again (as after the instance came back from the warm pool). */
async function readyAgain(w: Workload): Promise<void> {
  const now = new Date(Date.now() + 1_000);
  await w.core.patchNodeStatus(
    {
      name: w.node,
      body: {
        status: {
          conditions: [
            {
              type: 'Ready',
              status: 'True',
              reason: 'KubeletReady',
              lastHeartbeatTime: now,
              lastTransitionTime: now,
            },
          ],
        },
      },
    },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
}

describe('warm pools, end to end on the real apiserver', () => {
  it('marks the node drained toward the warm pool and undoes it when the instance launches back', async () => {
    registerCluster(aws);
    const handler = await loadHandler(aws);
    const w = await readyWorld('warm');

    await drainToWarmPool(handler, w);

    const drained = await readNode(w);
    expect(drained.spec?.unschedulable).toBe(true);
    expect(drained.metadata?.labels?.[EXCLUDE]).toBe('true');
    expect(drained.metadata?.labels?.[WARM_POOL_MARK]).toBe('true');
    expect(JSON.parse(drained.metadata?.annotations?.[WARM_POOL_MARK] ?? '{}')).toMatchObject({
      instanceId: w.instanceId,
      at: expect.any(String),
      wasUnschedulable: false,
      hadExcludeLabel: false,
    });

    const group = `${w.namespace}-asg`;
    const launch = aws.addLifecycleAction({
      token: randomUUID(),
      autoScalingGroupName: group,
      hookName: 'eks-node-drainer-launch',
      instanceId: w.instanceId,
    });
    const back = await handler(
      warmPoolLaunchActionEvent({
        instanceId: w.instanceId,
        autoScalingGroupName: group,
        hookName: launch.hookName,
        token: launch.token,
      }),
      context(),
    );

    expect(back.outcome).toBe('warm-pool-restored');
    expect(back.lifecycleResult).toBe('CONTINUE');
    expect(launch.result).toBe('CONTINUE');
    const restored = await readNode(w);
    expect(restored.spec?.unschedulable).toBeFalsy();
    expect(restored.metadata?.labels?.[EXCLUDE]).toBeUndefined();
    expect(restored.metadata?.labels?.[WARM_POOL_MARK]).toBeUndefined();
    expect(restored.metadata?.annotations?.[WARM_POOL_MARK]).toBeUndefined();
  });

  it('leaves a node that someone else cordoned cordoned', async () => {
    registerCluster(aws);
    const handler = await loadHandler(aws);
    const w = await readyWorld('warm-cordoned');
    await w.core.patchNode(
      { name: w.node, body: { spec: { unschedulable: true } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );

    await drainToWarmPool(handler, w);
    const back = await handler(
      warmPoolLaunchSuccessfulEvent({ instanceId: w.instanceId, autoScalingGroupName: `${w.namespace}-asg` }),
      context(),
    );

    expect(back.outcome).toBe('warm-pool-restored');
    expect(back.lifecycleResult).toBeNull();
    const node = await readNode(w);
    expect(node.spec?.unschedulable).toBe(true);
    // what the drainer did itself is undone
    expect(node.metadata?.labels?.[EXCLUDE]).toBeUndefined();
    expect(node.metadata?.annotations?.[WARM_POOL_MARK]).toBeUndefined();
  });

  it('restores a marked node that is Ready again at the next drain, when its launch event was missed', async () => {
    registerCluster(aws);
    const handler = await loadHandler(aws);
    const returned = await readyWorld('warm-missed');
    await drainToWarmPool(handler, returned);
    const other = await readyWorld('warm-next');
    aws.instances.set(other.instanceId, other.node);

    await readyAgain(returned);
    const next = await handler(lifecycleEvent(lifecycleAction(aws, other)), context());

    expect(next.outcome).toBe('drained');
    const node = await readNode(returned);
    expect(node.spec?.unschedulable).toBeFalsy();
    expect(node.metadata?.labels?.[EXCLUDE]).toBeUndefined();
    expect(node.metadata?.annotations?.[WARM_POOL_MARK]).toBeUndefined();
  });

  it('keeps the mark of a node that is not Ready again', async () => {
    registerCluster(aws);
    const handler = await loadHandler(aws);
    const away = await readyWorld('warm-away');
    await drainToWarmPool(handler, away);
    const other = await readyWorld('warm-other');

    await handler(lifecycleEvent(lifecycleAction(aws, other)), context());

    const node = await readNode(away);
    expect(node.spec?.unschedulable).toBe(true);
    expect(node.metadata?.annotations?.[WARM_POOL_MARK]).toContain(away.instanceId);
  });
});
