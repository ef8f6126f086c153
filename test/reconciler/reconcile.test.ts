/** waitForNodegroup on the injected clock, with the real AutoScaling adapter against the local endpoint. */
import { describe, expect, it } from 'vitest';
import { AutoScalingHooks } from '../../lambda/reconciler/autoscaling.js';
import { waitForNodegroup } from '../../lambda/reconciler/reconcile.js';
import { VirtualClock } from '../support/fakes.js';
import { useLocalAutoScaling } from '../support/local-autoscaling.js';

const local = useLocalAutoScaling();
const { aws } = local;

const WAIT = { timeoutMs: 600_000, intervalMs: 20_000 };
const nodegroupGroup = { tags: { 'eks:cluster-name': 'prod', 'eks:nodegroup-name': 'ng-c' } };

describe('waitForNodegroup', () => {
  it("looks every interval until the node group's Auto Scaling group exists", async () => {
    const clock = new VirtualClock();
    const real = new AutoScalingHooks(local.client(), 'prod');
    let looks = 0;
    const api = Object.assign(Object.create(real) as AutoScalingHooks, {
      clusterGroups: async () => {
        // EKS creates the group between the second and the third look
        if (++looks === 3) aws.autoScalingGroups.groups.set('eks-ng-c-5e6f', nodegroupGroup);
        return real.clusterGroups();
      },
    });

    expect(await waitForNodegroup(api, 'ng-c', clock, WAIT)).toBe(true);
    expect(looks).toBe(3);
    expect(clock.sleeps).toEqual([20_000, 20_000]);
  });

  it('gives up at the timeout when no group appears', async () => {
    const clock = new VirtualClock();
    const started = clock.now();
    aws.autoScalingGroups.groups.set('eks-ng-other', {
      tags: { 'eks:cluster-name': 'prod', 'eks:nodegroup-name': 'ng-other' },
    });

    expect(await waitForNodegroup(new AutoScalingHooks(local.client(), 'prod'), 'ng-c', clock, WAIT)).toBe(
      false,
    );
    expect(clock.now() - started).toBe(600_000);
    expect(clock.sleeps).toHaveLength(30);
  });
});
