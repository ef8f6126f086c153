/**
 * Elbv2Registrations through the real AWS SDK against the local ELBv2 endpoint: which targets count,
 * how many calls discovery and polling make, and which errors are dropped or thrown.
 */
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { Elbv2Registrations } from '../../lambda/aws/load-balancers.js';
import { LocalAwsEndpoint, TEST_CREDENTIALS, TEST_REGION } from '../../scripts/harness/aws-endpoint.js';
import { ELBV2_THROTTLING, elbv2AccessDenied, type NewTargetGroup } from '../../scripts/harness/elbv2.js';

const CLUSTER = 'prod';
const INSTANCE = 'i-0123456789abcdef0';
const NODE_IP = '10.0.1.23';
const POD_IP = '10.0.1.57';
const target = { instanceId: INSTANCE, privateIps: [NODE_IP, POD_IP] };
const LBC_TAGS = { 'elbv2.k8s.aws/cluster': CLUSTER, 'service.k8s.aws/stack': 'shop/web' };
const LEGACY_TAGS = {
  [`kubernetes.io/cluster/${CLUSTER}`]: 'owned',
  'kubernetes.io/service-name': 'shop/api',
};
const T0 = Date.parse('2026-11-21T10:00:00.000Z');

const aws = new LocalAwsEndpoint();
let client: ElasticLoadBalancingV2Client;

beforeAll(async () => {
  await aws.start();
  client = new ElasticLoadBalancingV2Client({
    region: TEST_REGION,
    endpoint: aws.url,
    credentials: TEST_CREDENTIALS,
    maxAttempts: 1,
  });
});
afterAll(async () => {
  client.destroy();
  await aws.stop();
});
beforeEach(() => {
  aws.elbv2.targetGroups.clear();
  aws.calls.splice(0);
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

function group(name: string, tags: Record<string, string>, extra: Partial<NewTargetGroup> = {}) {
  return aws.elbv2.addTargetGroup({ name, tags, ...extra });
}

function callCounts(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const call of aws.calls) counts[call.action] = (counts[call.action] ?? 0) + 1;
  return counts;
}

describe('Elbv2Registrations', () => {
  it('finds instance-mode targets by instance id and ip-mode targets by IP, in groups tagged either way', async () => {
    const web = group('k8s-shop-web', LBC_TAGS, {
      targets: [
        { id: INSTANCE, port: 30080 },
        { id: 'i-0aaaaaaaaaaaaaaaa', port: 30080 },
      ],
    });
    const api = group('k8s-shop-api', LEGACY_TAGS, {
      targetType: 'ip',
      targets: [
        { id: POD_IP, port: 8080, state: 'initial' },
        { id: '10.0.2.9', port: 8080 },
      ],
    });
    group('k8s-other-web', { 'elbv2.k8s.aws/cluster': 'staging' }, { targets: [{ id: INSTANCE, port: 80 }] });
    group('legacy-other', { 'kubernetes.io/cluster/staging': 'owned' }, { targets: [{ id: INSTANCE }] });
    group('hand-made', {}, { targetType: 'ip', targets: [{ id: POD_IP, port: 80 }] });

    const found = await new Elbv2Registrations(client, CLUSTER).registrations(target);

    expect(found).toEqual([
      { targetGroupArn: web.arn, id: INSTANCE, port: 30080, state: 'healthy' },
      { targetGroupArn: api.arn, id: POD_IP, port: 8080, state: 'initial' },
    ]);
  });

  it('reports every state but unused, one registration per port', async () => {
    const tg = group('k8s-shop-web', LBC_TAGS, {
      targetType: 'ip',
      targets: [
        { id: NODE_IP, port: 80, state: 'unhealthy' },
        { id: NODE_IP, port: 443, state: 'unhealthy.draining' },
        { id: POD_IP, port: 80, state: 'unused' },
        { id: POD_IP, port: 81, state: 'unavailable' },
      ],
    });

    const found = await new Elbv2Registrations(client, CLUSTER).registrations(target);

    expect(found).toEqual([
      { targetGroupArn: tg.arn, id: NODE_IP, port: 80, state: 'unhealthy' },
      { targetGroupArn: tg.arn, id: NODE_IP, port: 443, state: 'unhealthy.draining' },
      { targetGroupArn: tg.arn, id: POD_IP, port: 81, state: 'unavailable' },
    ]);
  });

  it('sees a target go from healthy to draining after deregistration, and gone after the delay', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(T0);
    const tg = group('k8s-shop-web', LBC_TAGS, { targets: [{ id: INSTANCE, port: 30080 }] });
    const registrations = new Elbv2Registrations(client, CLUSTER);

    const before = await registrations.registrations(target);
    aws.elbv2.deregister('*', INSTANCE, 30_000);
    vi.setSystemTime(T0 + 29_999);
    const draining = await registrations.registrations(target);
    vi.setSystemTime(T0 + 30_000);
    const after = await registrations.registrations(target);

    expect(before).toEqual([{ targetGroupArn: tg.arn, id: INSTANCE, port: 30080, state: 'healthy' }]);
    expect(draining).toEqual([{ targetGroupArn: tg.arn, id: INSTANCE, port: 30080, state: 'draining' }]);
    expect(after).toEqual([]);
  });

  it('pages through 1,050 target groups and reads their tags 20 at a time', async () => {
    for (let i = 0; i < 1050; i++) {
      // every 10th is the cluster's, alternating the two tag styles; the rest belong to other clusters
      const tags =
        i % 10 !== 0
          ? { 'elbv2.k8s.aws/cluster': `cluster-${i % 7}` }
          : i % 20 === 0
            ? LBC_TAGS
            : LEGACY_TAGS;
      group(`tg-${i}`, tags, { targets: i === 1040 ? [{ id: INSTANCE, port: 80 }] : [] });
    }

    const found = await new Elbv2Registrations(client, CLUSTER).registrations(target);

    expect(found.map((r) => r.targetGroupArn)).toEqual([[...aws.elbv2.targetGroups.values()][1040]?.arn]);
    expect(callCounts()).toEqual({ DescribeTargetGroups: 3, DescribeTags: 53, DescribeTargetHealth: 105 });
    const pages = aws.callsOf('elasticloadbalancing', 'DescribeTargetGroups');
    expect(pages.map((c) => [c.params.PageSize, c.params.Marker === undefined])).toEqual([
      ['400', true],
      ['400', false],
      ['400', false],
    ]);
    const batchSizes = aws
      .callsOf('elasticloadbalancing', 'DescribeTags')
      .map((c) => Object.keys(c.params).filter((k) => k.startsWith('ResourceArns.member.')).length);
    expect(Math.max(...batchSizes)).toBe(20);
    expect(batchSizes.reduce((a, b) => a + b, 0)).toBe(1050);
  });

  it('finds the instance among 300 targets of one group', async () => {
    const targets = Array.from({ length: 300 }, (_, i) => ({
      id: i === 217 ? INSTANCE : `i-0${String(i).padStart(16, '0')}`,
      port: 30080,
    }));
    const tg = group('k8s-shop-web', LBC_TAGS, { targets });

    const found = await new Elbv2Registrations(client, CLUSTER).registrations(target);

    expect(found).toEqual([{ targetGroupArn: tg.arn, id: INSTANCE, port: 30080, state: 'healthy' }]);
    expect(callCounts()).toEqual({ DescribeTargetGroups: 1, DescribeTags: 1, DescribeTargetHealth: 1 });
  });

  it('makes only DescribeTargetHealth calls once the target groups are known', async () => {
    group('k8s-shop-web', LBC_TAGS, { targets: [{ id: INSTANCE }] });
    group('k8s-shop-api', LEGACY_TAGS, { targetType: 'ip', targets: [{ id: POD_IP }] });
    group('k8s-other-web', { 'elbv2.k8s.aws/cluster': 'staging' });
    const registrations = new Elbv2Registrations(client, CLUSTER);
    await registrations.registrations(target);
    aws.calls.splice(0);

    const again = await registrations.registrations(target);

    expect(again).toHaveLength(2);
    expect(callCounts()).toEqual({ DescribeTargetHealth: 2 });
  });

  it('drops a target group deleted after discovery (TargetGroupNotFound) and stops asking for it', async () => {
    const web = group('k8s-shop-web', LBC_TAGS, { targets: [{ id: INSTANCE }] });
    const api = group('k8s-shop-api', LEGACY_TAGS, { targetType: 'ip', targets: [{ id: POD_IP }] });
    const registrations = new Elbv2Registrations(client, CLUSTER);
    await registrations.registrations(target);
    aws.elbv2.targetGroups.delete(api.arn);

    const found = await registrations.registrations(target);
    aws.calls.splice(0);
    const later = await registrations.registrations(target);

    expect(found).toEqual([{ targetGroupArn: web.arn, id: INSTANCE, state: 'healthy' }]);
    expect(later).toEqual(found);
    expect(await registrations.clusterTargetGroups()).toEqual([web.arn]);
    expect(callCounts()).toEqual({ DescribeTargetHealth: 1 });
  });

  it('drops a target group deleted between the listing and its tags', async () => {
    const groups = Array.from({ length: 5 }, (_, i) =>
      group(`k8s-shop-${i}`, LBC_TAGS, { targets: [{ id: INSTANCE }] }),
    );
    const doomed = groups[3]?.arn ?? '';
    const answer = aws.elbv2.answer.bind(aws.elbv2);
    vi.spyOn(aws.elbv2, 'answer').mockImplementation((action, params) => {
      const answered = answer(action, params);
      if (action === 'DescribeTargetGroups') aws.elbv2.targetGroups.delete(doomed);
      return answered;
    });

    const found = await new Elbv2Registrations(client, CLUSTER).registrations(target);

    expect(found.map((r) => r.targetGroupArn)).toEqual(
      groups.filter((g) => g.arn !== doomed).map((g) => g.arn),
    );
    // [0-4] refused; [0-2] fine, [3-4] refused; [3] refused, [4] fine
    expect(callCounts()).toMatchObject({ DescribeTags: 5, DescribeTargetHealth: 4 });
  });

  it('ignores target groups of types other than instance and ip', async () => {
    group('k8s-shop-web', LBC_TAGS, { targets: [{ id: INSTANCE }] });
    const answer = aws.elbv2.answer.bind(aws.elbv2);
    vi.spyOn(aws.elbv2, 'answer').mockImplementation((action, params) => {
      const answered = answer(action, params);
      return 'result' in answered
        ? {
            result: answered.result.replace(
              '<TargetType>instance</TargetType>',
              '<TargetType>alb</TargetType>',
            ),
          }
        : answered;
    });

    const found = await new Elbv2Registrations(client, CLUSTER).registrations(target);

    expect(found).toEqual([]);
    expect(callCounts()).toEqual({ DescribeTargetGroups: 1 });
  });

  it('fails with Throttling when DescribeTargetHealth is throttled, and succeeds on the next poll', async () => {
    group('k8s-shop-web', LBC_TAGS, { targets: [{ id: INSTANCE }] });
    const registrations = new Elbv2Registrations(client, CLUSTER);
    aws.failNext('elasticloadbalancing', 'DescribeTargetHealth', ELBV2_THROTTLING);

    await expect(registrations.registrations(target)).rejects.toMatchObject({
      name: 'Throttling',
      message: 'Rate exceeded',
    });
    expect(await registrations.registrations(target)).toHaveLength(1);
  });

  it('fails with AccessDenied when DescribeTargetGroups is not allowed, and discovers anew on the next poll', async () => {
    group('k8s-shop-web', LBC_TAGS, { targets: [{ id: INSTANCE }] });
    const registrations = new Elbv2Registrations(client, CLUSTER);
    aws.failNext('elasticloadbalancing', 'DescribeTargetGroups', elbv2AccessDenied('DescribeTargetGroups'));

    await expect(registrations.registrations(target)).rejects.toMatchObject({
      name: 'AccessDenied',
      message: expect.stringContaining('elasticloadbalancing:DescribeTargetGroups'),
      $metadata: { httpStatusCode: 403 },
    });
    expect(await registrations.registrations(target)).toHaveLength(1);
    expect(callCounts()).toMatchObject({ DescribeTargetGroups: 2, DescribeTags: 1 });
  });

  it('fails with AccessDenied when DescribeTags is not allowed', async () => {
    group('k8s-shop-web', LBC_TAGS, { targets: [{ id: INSTANCE }] });
    aws.failNext('elasticloadbalancing', 'DescribeTags', elbv2AccessDenied('DescribeTags'));

    await expect(new Elbv2Registrations(client, CLUSTER).registrations(target)).rejects.toMatchObject({
      name: 'AccessDenied',
    });
  });

  it('finds nothing, with one call, when the account has no target groups', async () => {
    expect(await new Elbv2Registrations(client, CLUSTER).registrations(target)).toEqual([]);
    expect(callCounts()).toEqual({ DescribeTargetGroups: 1 });
  });

  it('refuses a concurrency below 1', () => {
    expect(() => new Elbv2Registrations(client, CLUSTER, { concurrency: 0 })).toThrow(
      'concurrency must be a whole number of at least 1, got 0',
    );
  });
});
