/** Which Auto Scaling groups the drainer serves: the allow-list, and discovery by tags through the real SDK against the local endpoint. */
import { describe, expect, it } from 'vitest';
import {
  AllowList,
  SERVE_ALL,
  servedGroups,
  TaggedGroups,
  taggedForCluster,
} from '../../lambda/aws/groups.js';
import { VirtualClock } from '../support/fakes.js';
import { useLocalAutoScaling } from '../support/local-autoscaling.js';

const local = useLocalAutoScaling(1);
const { aws } = local;

const describes = () => aws.callsOf('autoscaling', 'DescribeAutoScalingGroups').length;

describe('taggedForCluster', () => {
  it.each([
    [{ 'eks:cluster-name': 'prod' }, true],
    [{ 'kubernetes.io/cluster/prod': 'owned' }, true],
    [{ 'kubernetes.io/cluster/prod': 'shared' }, true],
    [{ 'eks:cluster-name': 'prod-eu' }, false],
    [{ 'kubernetes.io/cluster/prod': 'other' }, false],
    [{ 'kubernetes.io/cluster/prod-eu': 'owned' }, false],
    [{ 'eks:nodegroup-name': 'prod' }, false],
    [{}, false],
  ])('%j names cluster prod: %s', (tags, expected) => {
    expect(taggedForCluster(tags, 'prod')).toBe(expected);
  });
});

describe('AllowList', () => {
  it('serves exactly the named groups', async () => {
    const groups = new AllowList(['asg-a', 'asg-b']);

    expect(await groups.serves('asg-a')).toBe(true);
    expect(await groups.serves('asg-b')).toBe(true);
    expect(await groups.serves('asg-c')).toBe(false);
    expect(await groups.serves('asg')).toBe(false);
  });
});

describe('TaggedGroups', () => {
  it("serves a managed node group's and a self-managed group of the cluster, not another cluster's", async () => {
    aws.autoScalingGroups.groups.set('eks-ng-a-1a2b', { tags: { 'eks:cluster-name': 'prod' } });
    aws.autoScalingGroups.groups.set('self-managed', { tags: { 'kubernetes.io/cluster/prod': 'owned' } });
    aws.autoScalingGroups.groups.set('other-cluster', { tags: { 'eks:cluster-name': 'staging' } });
    const groups = new TaggedGroups(local.client(), 'prod', new VirtualClock());

    expect(await groups.serves('eks-ng-a-1a2b')).toBe(true);
    expect(await groups.serves('self-managed')).toBe(true);
    expect(await groups.serves('other-cluster')).toBe(false);
    expect(aws.callsOf('autoscaling', 'DescribeAutoScalingGroups').map((c) => c.params)).toContainEqual(
      expect.objectContaining({ 'AutoScalingGroupNames.member.1': 'eks-ng-a-1a2b' }),
    );
  });

  it('does not serve a group AWS does not know', async () => {
    const groups = new TaggedGroups(local.client(), 'prod', new VirtualClock());

    expect(await groups.serves('gone')).toBe(false);
  });

  it('asks AWS once per group within the TTL, and again after it', async () => {
    aws.autoScalingGroups.groups.set('asg', { tags: {} });
    const clock = new VirtualClock();
    const groups = new TaggedGroups(local.client(), 'prod', clock, 60_000);

    expect(await groups.serves('asg')).toBe(false);
    aws.autoScalingGroups.groups.set('asg', { tags: { 'eks:cluster-name': 'prod' } });
    clock.t += 59_999;
    expect(await groups.serves('asg')).toBe(false);
    expect(describes()).toBe(1);
    clock.t += 1;
    expect(await groups.serves('asg')).toBe(true);
    expect(describes()).toBe(2);
  });

  it('fails when DescribeAutoScalingGroups fails, caching nothing', async () => {
    aws.autoScalingGroups.groups.set('asg', { tags: { 'eks:cluster-name': 'prod' } });
    aws.failNext('autoscaling', 'DescribeAutoScalingGroups', {
      status: 403,
      code: 'AccessDenied',
      message: 'not authorized to perform autoscaling:DescribeAutoScalingGroups',
    });
    const groups = new TaggedGroups(local.client(), 'prod', new VirtualClock());

    await expect(groups.serves('asg')).rejects.toThrow(/not authorized/);
    expect(await groups.serves('asg')).toBe(true);
  });
});

describe('servedGroups', () => {
  const clock = new VirtualClock();
  it('discovers by tags when discovery is on', () => {
    expect(
      servedGroups({ clusterName: 'prod', discoverAutoScalingGroups: true }, local.client(), clock),
    ).toBeInstanceOf(TaggedGroups);
  });

  it('uses the allow-list when one is set', () => {
    expect(
      servedGroups(
        { clusterName: 'prod', discoverAutoScalingGroups: false, autoScalingGroupNames: ['a'] },
        local.client(),
        clock,
      ),
    ).toBeInstanceOf(AllowList);
  });

  it('serves every group with neither (a local or manual run)', () => {
    expect(
      servedGroups({ clusterName: 'prod', discoverAutoScalingGroups: false }, local.client(), clock),
    ).toBe(SERVE_ALL);
  });
});
