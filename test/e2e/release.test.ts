/**
 * Zero dropped requests: the lifecycle action completes only after the load balancers let go of the
 * instance and its volumes are detached. Real apiserver, real handler, the local ELBv2 endpoint with a
 * stand-in for the AWS Load Balancer Controller that deregisters a node once it carries the label.
 */
import { randomUUID } from 'node:crypto';
import { StorageV1Api } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { LocalAwsEndpoint } from '../../scripts/harness/aws-endpoint.js';
import { kubeConfigFor } from '../../scripts/harness/cluster.js';
import { LoadBalancerControllerStandIn } from '../../scripts/harness/load-balancer-controller.js';
import type { Workload } from '../../scripts/harness/workload.js';
import { E2E_CLUSTER_NAME } from './global-setup.js';
import {
  captureLogs,
  context,
  lifecycleAction,
  lifecycleEvent,
  loadHandler,
  registerCluster,
} from './support/lambda.js';
import { createScenario } from './support/scenario.js';
import { fillReady } from './support/worlds.js';

const aws = new LocalAwsEndpoint();
let world: Workload | undefined;
let controller: LoadBalancerControllerStandIn | undefined;

beforeAll(async () => {
  await aws.start();
  registerCluster(aws);
});
afterAll(async () => {
  await aws.stop();
});
afterEach(async () => {
  await controller?.stop();
  controller = undefined;
  if (world) {
    expect(world.sim.failures).toEqual([]);
    await world.dispose();
    world = undefined;
  }
});

async function readyWorld(prefix: string): Promise<Workload> {
  world = await createScenario(prefix);
  return fillReady(world, { bare: false });
}

/** The instance is a target of one of the cluster's target groups (the AWS Load Balancer Controller's tag). */
function registerTarget(w: Workload) {
  return aws.elbv2.addTargetGroup({
    name: `k8s-${w.namespace}`.slice(0, 32),
    tags: { 'elbv2.k8s.aws/cluster': E2E_CLUSTER_NAME },
    targets: [{ id: w.instanceId, port: 30080 }],
  });
}

describe('load balancers let go of the instance before it goes', () => {
  it('completes the action only after the target left draining', async () => {
    const handler = await loadHandler(aws, { LOG_LEVEL: 'info' });
    const w = await readyWorld('r-lb');
    const action = lifecycleAction(aws, w);
    const group = registerTarget(w);
    const delayMs = 3_000;
    controller = new LoadBalancerControllerStandIn({
      kubeConfig: kubeConfigFor(inject('cluster'), 'admin'),
      aws,
      nodeName: w.node,
      instanceId: w.instanceId,
      deregistrationDelayMs: delayMs,
    }).start();

    const { result, lines } = await captureLogs(() => handler(lifecycleEvent(action), context()));

    expect(result.outcome).toBe('drained');
    expect(action.result).toBe('CONTINUE');
    expect(await controller.result).toBe('deregistered');
    const completedAt = aws
      .callsOf('autoscaling', 'CompleteLifecycleAction')
      .find((c) => c.params.LifecycleActionToken === action.token)?.at;
    // the label came with the cordon; the action waited out the deregistration delay after it
    expect(completedAt).toBeGreaterThanOrEqual(
      (controller.labelSeenAt ?? Number.POSITIVE_INFINITY) + delayMs,
    );
    expect(result.release?.loadBalancers).toMatchObject({
      seen: [{ targetGroupArn: group.arn, id: w.instanceId, port: 30080 }],
      left: [],
    });
    expect(result.release?.loadBalancers?.waitedMs).toBeGreaterThanOrEqual(delayMs - 1_000);
    expect(lines.some((l) => typeof l.LoadBalancerWait === 'number')).toBe(true);
  });

  it('without the exclusion label, waits until the deadline, says why, and completes per the policy', async () => {
    const handler = await loadHandler(aws, {
      EXCLUDE_FROM_LOAD_BALANCERS: 'false',
      DRAIN_TIMEOUT_SECONDS: '30',
      ON_DRAIN_TIMEOUT: 'continue',
      // the waits get at least this window past the deadline; the deadline is later here
      MIN_EVICTION_WINDOW_SECONDS: '3',
    });
    const w = await readyWorld('r-nolabel');
    const action = lifecycleAction(aws, w);
    registerTarget(w);
    controller = new LoadBalancerControllerStandIn({
      kubeConfig: kubeConfigFor(inject('cluster'), 'admin'),
      aws,
      nodeName: w.node,
      instanceId: w.instanceId,
      deregistrationDelayMs: 1_000,
    }).start();
    // 24 s of the 30 s drain budget are gone
    const began = Date.now();

    const result = await handler(lifecycleEvent(action, new Date(began - 24_000)), context());

    expect(result.outcome).toBe('deadline-continued');
    expect(action.result).toBe('CONTINUE');
    expect(result.release?.outcome).toBe('deadline');
    expect(result.release?.loadBalancers?.left).toMatchObject([{ id: w.instanceId, state: 'healthy' }]);
    expect(controller.labelSeenAt).toBeUndefined();
    expect(Date.now()).toBeGreaterThanOrEqual(began + 6_000 - 500);
  });

  it('in a dry run, lists the targets it would wait for and changes nothing', async () => {
    const handler = await loadHandler(aws);
    const w = await readyWorld('r-dry');
    const action = lifecycleAction(aws, w);
    registerTarget(w);

    const result = await handler({ ...lifecycleEvent(action), eksNodeDrainer: { dryRun: true } }, context());

    expect(result.outcome).toBe('dry-run');
    expect(result.release?.loadBalancers?.seen).toMatchObject([{ id: w.instanceId }]);
    expect(action.result).toBeUndefined();
    expect(await w.podsOn()).toHaveLength(2);
  });
});

describe('volumes are detached before the instance goes', () => {
  it('completes the action only after the node VolumeAttachment is deleted', async () => {
    const handler = await loadHandler(aws, { WAIT_FOR_LOAD_BALANCERS: 'false' });
    const w = await readyWorld('r-vol');
    const action = lifecycleAction(aws, w);
    const storage = kubeConfigFor(inject('cluster'), 'admin').makeApiClient(StorageV1Api);
    const name = `csi-${randomUUID().slice(0, 8)}`;
    await storage.createVolumeAttachment({
      body: {
        metadata: { name },
        spec: {
          attacher: 'ebs.csi.aws.com',
          nodeName: w.node,
          source: { persistentVolumeName: `pv-${name}` },
        },
      },
    });
    // the CSI driver: detach 2 s after the node's pods are gone
    let detachedAt = 0;
    const detacher = (async () => {
      await w.waitUntil('pods gone', async () => (await w.podsOn()).length === 0, 60_000);
      await new Promise((r) => setTimeout(r, 2_000));
      await storage.deleteVolumeAttachment({ name });
      detachedAt = Date.now();
    })();

    const result = await handler(lifecycleEvent(action), context());
    await detacher;

    expect(result.outcome).toBe('drained');
    expect(result.release?.volumes).toMatchObject({ seen: [name], left: [] });
    const completedAt = aws
      .callsOf('autoscaling', 'CompleteLifecycleAction')
      .find((c) => c.params.LifecycleActionToken === action.token)?.at;
    expect(completedAt).toBeGreaterThanOrEqual(detachedAt);
  });
});
