/**
 * The handler serves only its cluster's Auto Scaling groups (issue 13 §3): the allow-list of the stack
 * (AUTO_SCALING_GROUP_NAMES) or, with discovery, the groups tagged for the cluster. An event for any other
 * group ends `foreign-auto-scaling-group` with one log line and no Kubernetes or lifecycle call.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { LocalAwsEndpoint } from '../../scripts/harness/aws-endpoint.js';
import { LocalCustomResourceResponses } from '../../scripts/harness/cfn-responses.js';
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
const cfn = new LocalCustomResourceResponses();
let world: Workload | undefined;

beforeAll(async () => {
  await aws.start();
  await cfn.start();
  registerCluster(aws);
});
afterAll(async () => {
  await aws.stop();
  await cfn.stop();
});
afterEach(async () => {
  aws.autoScalingGroups.clear();
  if (world) {
    expect(world.sim.failures).toEqual([]);
    await world.dispose();
    world = undefined;
  }
});

async function readyWorld(prefix: string): Promise<Workload> {
  world = await createScenario(prefix);
  return fillReady(world);
}

/** Nothing but the group check happened: no EKS, EC2 or lifecycle call, the node untouched. */
async function expectUntouched(w: Workload, callsBefore: number): Promise<void> {
  const calls = aws.calls.slice(callsBefore).map((c) => `${c.service}:${c.action}`);
  expect(calls.filter((c) => c !== 'autoscaling:DescribeAutoScalingGroups')).toEqual([]);
  const node = await w.core.readNode({ name: w.node });
  expect(node.spec?.unschedulable).toBeFalsy();
  expect(await w.podsOn()).toHaveLength(3);
}

describe('handler: only the Auto Scaling groups of its cluster', () => {
  it('ends foreign-auto-scaling-group for a group outside AUTO_SCALING_GROUP_NAMES, with one log line and no call', async () => {
    const handler = await loadHandler(aws, { AUTO_SCALING_GROUP_NAMES: 'asg-a,asg-b', LOG_LEVEL: 'info' });
    const w = await readyWorld('g-foreign');
    const action = lifecycleAction(aws, w);
    const before = aws.calls.length;

    const { result, lines } = await captureLogs(() => handler(lifecycleEvent(action), context()));

    expect(result).toEqual({ outcome: 'foreign-auto-scaling-group', lifecycleResult: null });
    expect(lines).toEqual([
      expect.objectContaining({
        level: 'info',
        message: 'invocation finished',
        outcome: 'foreign-auto-scaling-group',
        asgName: action.autoScalingGroupName,
        instanceId: action.instanceId,
      }),
    ]);
    expect(aws.calls.slice(before)).toEqual([]);
    await expectUntouched(w, before);
    expect(action.result).toBeUndefined();
    expect(action.heartbeats).toBe(0);
  });

  it('drains a node of a group on the allow-list', async () => {
    const w = await readyWorld('g-listed');
    const handler = await loadHandler(aws, { AUTO_SCALING_GROUP_NAMES: `asg-a,${w.namespace}-asg` });
    const action = lifecycleAction(aws, w);

    const result = await handler(lifecycleEvent(action), context());

    expect(result.outcome).toBe('drained');
    expect(action.result).toBe('CONTINUE');
  });

  describe('with discovery', () => {
    it("drains a node of a group tagged for the cluster, and refuses another cluster's group", async () => {
      const handler = await loadHandler(aws, { DISCOVER_AUTO_SCALING_GROUPS: 'true' });
      const w = await readyWorld('g-discover');
      const action = lifecycleAction(aws, w);
      aws.autoScalingGroups.groups.set(action.autoScalingGroupName, {
        tags: { 'eks:cluster-name': 'another-cluster', 'kubernetes.io/cluster/another-cluster': 'owned' },
      });
      const before = aws.calls.length;

      const foreign = await handler(lifecycleEvent(action), context());

      expect(foreign.outcome).toBe('foreign-auto-scaling-group');
      await expectUntouched(w, before);
      expect(action.result).toBeUndefined();

      // tagged for this cluster (self-managed style): a fresh container drains it
      aws.autoScalingGroups.groups.set(action.autoScalingGroupName, {
        tags: { [`kubernetes.io/cluster/${E2E_CLUSTER_NAME}`]: 'shared' },
      });
      const fresh = await loadHandler(aws, { DISCOVER_AUTO_SCALING_GROUPS: 'true' });

      const drained = await fresh(lifecycleEvent(action), context());

      expect(drained.outcome).toBe('drained');
      expect(action.result).toBe('CONTINUE');
    });

    it('drains a node of a group whose hook the reconciler put; the stack removal takes the hook off again', async () => {
      const w = await readyWorld('g-reconciled');
      const group = `${w.namespace}-asg`;
      aws.autoScalingGroups.groups.set(group, { tags: { 'eks:cluster-name': E2E_CLUSTER_NAME } });
      vi.resetModules();
      for (const [key, value] of Object.entries({
        ...aws.env(),
        CLUSTER_NAME: E2E_CLUSTER_NAME,
        HOOK_NAME: 'eks-node-drainer',
        HOOK_HEARTBEAT_TIMEOUT_SECONDS: '1800',
        HOOK_DEFAULT_RESULT: 'CONTINUE',
        LOG_LEVEL: 'error',
      })) {
        vi.stubEnv(key, value);
      }
      const reconciler = (await import('../../lambda/reconciler/handler.js')).handler;

      const pass = await reconciler({ source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} });

      expect(pass.reconciled?.put).toEqual([group]);
      // the instance terminates: Auto Scaling holds it for the hook the reconciler put
      const hook = aws.autoScalingGroups.hooks.get(group)?.[0];
      expect(hook).toMatchObject({
        name: 'eks-node-drainer',
        transition: 'autoscaling:EC2_INSTANCE_TERMINATING',
      });
      const handler = await loadHandler(aws, { DISCOVER_AUTO_SCALING_GROUPS: 'true' });
      const action = lifecycleAction(aws, w);

      const drained = await handler(lifecycleEvent(action), context());

      expect(drained.outcome).toBe('drained');
      expect(action.result).toBe('CONTINUE');
      const removal = await reconciler({
        RequestType: 'Delete',
        ResponseURL: cfn.responseUrl('r-1'),
        StackId: 'arn:aws:cloudformation:us-east-1:000000000000:stack/s/g',
        RequestId: 'r-1',
        LogicalResourceId: 'Hooks',
        PhysicalResourceId: 'p',
        ResourceProperties: { HookName: 'eks-node-drainer' },
      });
      expect(removal.removed?.removed).toEqual([group]);
      expect(aws.autoScalingGroups.hooks.get(group)).toEqual([]);
      expect(cfn.responses.map((r) => r.body.Status)).toEqual(['SUCCESS']);
    });

    it('fails the invocation (retried by Lambda) when the tags cannot be read, touching nothing', async () => {
      const handler = await loadHandler(aws, { DISCOVER_AUTO_SCALING_GROUPS: 'true' });
      const w = await readyWorld('g-describe-fails');
      const action = lifecycleAction(aws, w);
      aws.failNext('autoscaling', 'DescribeAutoScalingGroups', {
        status: 403,
        code: 'AccessDenied',
        message: 'not authorized to perform DescribeAutoScalingGroups',
      });
      const before = aws.calls.length;

      const { result, lines } = await captureLogs(() =>
        handler(lifecycleEvent(action), context()).catch((error: Error) => error),
      );

      expect(result).toBeInstanceOf(Error);
      expect(lines.find((l) => l.message === 'invocation failed')).toMatchObject({
        level: 'error',
        error: expect.stringMatching(/not authorized/),
      });
      await expectUntouched(w, before);
      expect(action.result).toBeUndefined();
    });
  });
});
