import { describe, expect, it } from 'vitest';
import { parseEvent } from '../lambda/event.js';
import {
  rebalanceEvent,
  spotInterruptionEvent,
  warmPoolLaunchActionEvent,
  warmPoolLaunchSuccessfulEvent,
} from './support/ec2-events.js';
import { mutatedEvent, SAMPLE_FIELDS, seededRandom, validEvent } from './support/events.js';

const INSTANCE = 'i-0123456789abcdef0';
const TIME = new Date('2026-11-21T10:00:00Z');
const LAUNCH = { instanceId: INSTANCE, autoScalingGroupName: 'web-asg', hookName: 'eks-node-drainer-launch' };

const withDetail = (event: Record<string, unknown>, detail: Record<string, unknown>) => ({
  ...event,
  detail: { ...(event.detail as object), ...detail },
});

describe('parseEvent on EC2 notices', () => {
  it('reads a Spot interruption warning', () => {
    expect(parseEvent(spotInterruptionEvent(INSTANCE, TIME))).toEqual({
      kind: 'notice',
      notice: {
        kind: 'spot-interruption',
        instanceId: INSTANCE,
        instanceAction: 'terminate',
        time: TIME.getTime(),
      },
    });
  });

  it.each(['stop', 'hibernate', 'a-later-action'])('carries the instance action %s', (instanceAction) => {
    expect(parseEvent(spotInterruptionEvent(INSTANCE, TIME, instanceAction))).toMatchObject({
      notice: { instanceAction },
    });
  });

  it('reads a rebalance recommendation', () => {
    expect(parseEvent(rebalanceEvent(INSTANCE, TIME))).toEqual({
      kind: 'notice',
      notice: { kind: 'rebalance-recommendation', instanceId: INSTANCE, time: TIME.getTime() },
    });
  });

  it('tolerates fields AWS adds later, at the top and in detail', () => {
    const event = { ...withDetail(rebalanceEvent(INSTANCE, TIME), { 'new-field': { any: 1 } }), extra: [1] };
    expect(parseEvent(event)).toMatchObject({ kind: 'notice', notice: { instanceId: INSTANCE } });
  });

  it('ignores other aws.ec2 detail-types, loudly', () => {
    const event = { ...rebalanceEvent(INSTANCE), 'detail-type': 'EC2 AMI State Change' };
    expect(parseEvent(event)).toEqual({
      kind: 'ignored',
      reason: 'detail-type EC2 AMI State Change',
    });
  });

  it.each([
    [
      'no instance id',
      withDetail(spotInterruptionEvent(INSTANCE), { 'instance-id': undefined }),
      'detail.instance-id',
    ],
    [
      'a malformed instance id',
      withDetail(rebalanceEvent(INSTANCE), { 'instance-id': 'i-XYZ' }),
      'detail.instance-id',
    ],
    [
      'no instance action',
      withDetail(spotInterruptionEvent(INSTANCE), { 'instance-action': undefined }),
      'detail.instance-action',
    ],
    [
      'an instance action with spaces',
      withDetail(spotInterruptionEvent(INSTANCE), { 'instance-action': 'rm -rf' }),
      'detail.instance-action',
    ],
    ['no detail', { ...spotInterruptionEvent(INSTANCE), detail: undefined }, 'detail'],
    ['no detail-type', { ...spotInterruptionEvent(INSTANCE), 'detail-type': undefined }, 'detail-type'],
    ['a bad time', { ...rebalanceEvent(INSTANCE), time: 'soon' }, 'time'],
  ])('rejects %s, naming the field', (_, event, field) => {
    expect(parseEvent(event)).toMatchObject({ kind: 'invalid', field });
  });
});

describe('parseEvent on warm pool events', () => {
  it('reads a launch lifecycle action from the warm pool', () => {
    const token = '71514b9d-6a40-4b26-8523-05e7eEXAMPLE';
    expect(parseEvent(warmPoolLaunchActionEvent({ ...LAUNCH, token }))).toEqual({
      kind: 'warm-pool-launch',
      launch: {
        fromWarmPool: true,
        instanceId: INSTANCE,
        autoScalingGroupName: 'web-asg',
        action: { hookName: 'eks-node-drainer-launch', token },
        time: expect.any(Number),
      },
    });
  });

  it('reads "EC2 Instance Launch Successful" from the warm pool, without an action', () => {
    const parsed = parseEvent(warmPoolLaunchSuccessfulEvent(LAUNCH));
    expect(parsed).toMatchObject({
      kind: 'warm-pool-launch',
      launch: { instanceId: INSTANCE, autoScalingGroupName: 'web-asg' },
    });
    expect(parsed.kind === 'warm-pool-launch' && parsed.launch.action).toBeUndefined();
  });

  it.each([
    [
      'a launch into the warm pool',
      warmPoolLaunchActionEvent({ ...LAUNCH, origin: 'EC2', destination: 'WarmPool' }),
    ],
    ['a launch straight into the group', warmPoolLaunchActionEvent({ ...LAUNCH, origin: 'EC2' })],
  ])(
    'reads the launch action of %s as not from the warm pool (it is continued, nothing undone)',
    (_, event) => {
      expect(parseEvent(event)).toMatchObject({
        kind: 'warm-pool-launch',
        launch: { fromWarmPool: false, action: { hookName: LAUNCH.hookName } },
      });
    },
  );

  it('ignores a successful launch that is no return from the warm pool', () => {
    expect(parseEvent(warmPoolLaunchSuccessfulEvent({ ...LAUNCH, origin: 'EC2' }))).toEqual({
      kind: 'ignored',
      reason: 'launch from "EC2" to "AutoScalingGroup"',
    });
  });

  it('marks a termination toward the warm pool', () => {
    const toPool = withDetail(validEvent(), { Origin: 'AutoScalingGroup', Destination: 'WarmPool' });
    expect(parseEvent(toPool)).toMatchObject({ kind: 'action', action: { toWarmPool: true } });
    const parsed = parseEvent(validEvent());
    expect(parsed.kind === 'action' && parsed.action.toWarmPool).toBeUndefined();
  });

  it.each([
    ['a malformed instance id', { EC2InstanceId: 'i-1' }, 'detail.EC2InstanceId'],
    ['no group', { AutoScalingGroupName: undefined }, 'detail.AutoScalingGroupName'],
    ['a hook name with spaces', { LifecycleHookName: 'a b' }, 'detail.LifecycleHookName'],
    ['a token with spaces', { LifecycleActionToken: 'a b' }, 'detail.LifecycleActionToken'],
  ])('rejects a launch action with %s', (_, detail, field) => {
    expect(parseEvent(withDetail(warmPoolLaunchActionEvent(LAUNCH), detail))).toMatchObject({
      kind: 'invalid',
      field,
    });
  });
});

describe('parseEvent on randomized mutations of the new events', () => {
  it.each([
    [
      'a Spot interruption',
      () => spotInterruptionEvent(SAMPLE_FIELDS.instanceId, TIME),
      'notice',
      /^(source|detail-type|detail|detail\.(instance-id|instance-action))$/,
    ],
    [
      'a rebalance recommendation',
      () => rebalanceEvent(SAMPLE_FIELDS.instanceId, TIME),
      'notice',
      /^(source|detail-type|detail|detail\.instance-id)$/,
    ],
    [
      'a warm-pool launch action',
      () => warmPoolLaunchActionEvent({ ...LAUNCH, token: SAMPLE_FIELDS.token }),
      'warm-pool-launch',
      /^(source|detail-type|detail|detail\.(EC2InstanceId|AutoScalingGroupName|LifecycleHookName|LifecycleTransition))$/,
    ],
    [
      'a warm-pool launch success',
      () => warmPoolLaunchSuccessfulEvent(LAUNCH),
      'warm-pool-launch',
      /^(source|detail-type|detail|detail\.(EC2InstanceId|AutoScalingGroupName|Origin|Destination))$/,
    ],
  ] as const)(
    '%s: never throws, accepts a mutation only when what it relies on is unchanged',
    (_, valid, kind, relied) => {
      const random = seededRandom(20261202);
      let rejected = 0;
      for (let i = 0; i < 400; i++) {
        const { event, path } = mutatedEvent(random, valid);
        const parsed = parseEvent(event);
        if (parsed.kind !== kind) {
          rejected++;
          continue;
        }
        expect(path, `mutation ${i} of ${path} was accepted`).not.toMatch(relied);
      }
      expect(rejected).toBeGreaterThan(100);
    },
  );
});
