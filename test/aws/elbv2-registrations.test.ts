/**
 * Elbv2Registrations at the SDK level (aws-sdk-client-mock): the edges of what counts as a target,
 * constructor checks, and the bounded concurrency of its calls.
 */
import {
  DescribeTagsCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  type TargetHealthDescription,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { Elbv2Registrations, isTargetGroupNotFound } from '../../lambda/aws/load-balancers.js';

const elbv2 = mockClient(ElasticLoadBalancingV2Client);
afterEach(() => elbv2.reset());

const CLUSTER = 'prod';
const INSTANCE = 'i-0123456789abcdef0';
const target = { instanceId: INSTANCE, privateIps: ['10.0.1.23'] };
const arn = (name: string) => `arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/${name}/abc`;
const client = () => new ElasticLoadBalancingV2Client({ region: 'us-east-1' });

/** Target groups (name → tags, target type), and what DescribeTargetHealth answers for each. */
function world(
  groups: Record<string, { tags: Record<string, string>; type?: 'instance' | 'ip' | 'lambda' }>,
  health: Record<string, TargetHealthDescription[] | (() => Promise<TargetHealthDescription[]>)>,
): void {
  elbv2.on(DescribeTargetGroupsCommand).resolves({
    TargetGroups: Object.entries(groups).map(([name, g]) => ({
      TargetGroupArn: arn(name),
      ...(g.type ? { TargetType: g.type } : {}),
    })),
  });
  elbv2.on(DescribeTagsCommand).callsFake(async (input: { ResourceArns: string[] }) => ({
    TagDescriptions: input.ResourceArns.map((resource) => {
      const name = Object.keys(groups).find((n) => arn(n) === resource) ?? '';
      const tags = groups[name]?.tags ?? {};
      return { ResourceArn: resource, Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) };
    }),
  }));
  elbv2.on(DescribeTargetHealthCommand).callsFake(async (input: { TargetGroupArn: string }) => {
    const name = Object.keys(health).find((n) => arn(n) === input.TargetGroupArn) ?? '';
    const answer = health[name] ?? [];
    return { TargetHealthDescriptions: typeof answer === 'function' ? await answer() : answer };
  });
}

const LBC = { 'elbv2.k8s.aws/cluster': CLUSTER };

function notFound(name: string): Error {
  const error = new Error('One or more target groups not found');
  error.name = name;
  return error;
}

describe('Elbv2Registrations, at the edges', () => {
  it('accepts a concurrency of 1 and refuses 0 and fractions', () => {
    expect(() => new Elbv2Registrations(client(), CLUSTER, { concurrency: 1 })).not.toThrow();
    expect(() => new Elbv2Registrations(client(), CLUSTER, { concurrency: 0 })).toThrow(
      'concurrency must be a whole number of at least 1, got 0',
    );
    expect(() => new Elbv2Registrations(client(), CLUSTER, { concurrency: 1.5 })).toThrow(
      'concurrency must be a whole number of at least 1, got 1.5',
    );
  });

  it('refuses an empty cluster name', () => {
    expect(() => new Elbv2Registrations(client(), '')).toThrow('clusterName must not be empty');
  });

  it('keeps a group whose target type is not given, and only groups tagged for this cluster', async () => {
    world(
      {
        untyped: { tags: LBC },
        lambda: { tags: LBC, type: 'lambda' },
        other: { tags: { 'elbv2.k8s.aws/cluster': 'staging' } },
        untagged: { tags: {} },
        foreign: { tags: { team: 'shop' } },
        // the cluster's name as the value of another tag means nothing
        lookalike: { tags: { environment: CLUSTER } },
      },
      {},
    );

    const groups = await new Elbv2Registrations(client(), CLUSTER).clusterTargetGroups();

    expect(groups).toEqual([arn('untyped')]);
  });

  it('asks about no target group without an ARN, and keeps none', async () => {
    elbv2
      .on(DescribeTargetGroupsCommand)
      .resolves({ TargetGroups: [{ TargetType: 'instance' }, { TargetGroupArn: arn('web') }] });
    elbv2.on(DescribeTagsCommand).resolves({
      TagDescriptions: [
        { Tags: [{ Key: 'elbv2.k8s.aws/cluster', Value: CLUSTER }] },
        { ResourceArn: arn('web'), Tags: [{ Key: 'elbv2.k8s.aws/cluster', Value: CLUSTER }] },
      ],
    });

    const groups = await new Elbv2Registrations(client(), CLUSTER).clusterTargetGroups();

    expect(groups).toEqual([arn('web')]);
    expect(elbv2.commandCalls(DescribeTagsCommand).map((c) => c.args[0].input.ResourceArns)).toEqual([
      [arn('web')],
    ]);
  });

  it("counts only this instance's targets, in use; a target without health state as still routing", async () => {
    world(
      { web: { tags: LBC, type: 'instance' } },
      {
        web: [
          { Target: { Id: INSTANCE }, TargetHealth: {} },
          { Target: { Id: 'i-0fedcba9876543210', Port: 80 }, TargetHealth: { State: 'healthy' } },
          { Target: { Id: INSTANCE, Port: 8080 }, TargetHealth: { State: 'unused' } },
          { TargetHealth: { State: 'healthy' } },
          { Target: { Id: INSTANCE, Port: 443 } },
        ],
      },
    );

    const found = await new Elbv2Registrations(client(), CLUSTER).registrations(target);

    // no port key at all when the target has none
    expect(found).toStrictEqual([
      { targetGroupArn: arn('web'), id: INSTANCE, state: 'unknown' },
      { targetGroupArn: arn('web'), id: INSTANCE, port: 443, state: 'unknown' },
    ]);
  });

  it('never has more DescribeTargetHealth calls in flight than its concurrency', async () => {
    let inFlight = 0;
    let most = 0;
    const slow = async (): Promise<TargetHealthDescription[]> => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 20));
      inFlight--;
      return [];
    };
    const names = ['a', 'b', 'c', 'd', 'e'];
    world(
      Object.fromEntries(names.map((n) => [n, { tags: LBC }])),
      Object.fromEntries(names.map((n) => [n, slow])),
    );

    await new Elbv2Registrations(client(), CLUSTER, { concurrency: 2 }).registrations(target);

    expect(most).toBe(2);
  });

  it('starts no further call once one has failed', async () => {
    const names = ['a', 'b', 'c', 'd'];
    world(Object.fromEntries(names.map((n) => [n, { tags: LBC }])), {
      a: async () => {
        throw Object.assign(new Error('Rate exceeded'), { name: 'Throttling' });
      },
      b: async () => {
        await new Promise((resolve) => setTimeout(resolve, 30));
        return [];
      },
    });

    await expect(
      new Elbv2Registrations(client(), CLUSTER, { concurrency: 2 }).registrations(target),
    ).rejects.toThrow('Rate exceeded');
    await new Promise((resolve) => setTimeout(resolve, 60));

    const asked = elbv2.commandCalls(DescribeTargetHealthCommand).map((c) => c.args[0].input.TargetGroupArn);
    expect(asked.sort()).toEqual([arn('a'), arn('b')]);
  });
});

describe('isTargetGroupNotFound', () => {
  it.each(['TargetGroupNotFoundException', 'TargetGroupNotFound'])('recognises %s', (name) => {
    expect(isTargetGroupNotFound(notFound(name))).toBe(true);
  });

  it.each([
    ['another error', notFound('Throttling')],
    ['a plain object', { name: 'TargetGroupNotFound' }],
  ])('does not recognise %s', (_case, error) => {
    expect(isTargetGroupNotFound(error)).toBe(false);
  });
});
