import { describe, expect, it } from 'vitest';
import { DRAINER_KEY, parseEvent } from '../lambda/event.js';
import { mutatedEvent, seededRandom, validEvent, withDetail } from './support/events.js';

describe('parseEvent', () => {
  it('reads a termination lifecycle action', () => {
    expect(parseEvent(validEvent())).toEqual({
      kind: 'action',
      action: {
        token: '87654321-4321-4321-4321-210987654321',
        autoScalingGroupName: 'web-asg',
        hookName: 'eks-node-drainer',
        instanceId: 'i-0123456789abcdef0',
        time: Date.parse('2026-11-21T10:00:00Z'),
      },
    });
  });

  it('accepts a hand-made event without a token (the action is then addressed by instance id)', () => {
    const parsed = parseEvent(withDetail({ LifecycleActionToken: undefined }));
    expect(parsed.kind === 'action' && parsed.action).not.toHaveProperty('token');
  });

  it('reads a manual dry-run request, and refuses to read one that would turn dry run off', () => {
    expect(parseEvent({ ...validEvent(), [DRAINER_KEY]: { dryRun: true } })).toMatchObject({
      kind: 'action',
      dryRun: true,
    });
    expect(parseEvent({ ...validEvent(), [DRAINER_KEY]: { dryRun: false } })).toMatchObject({
      kind: 'invalid',
      field: `${DRAINER_KEY}.dryRun`,
    });
  });

  it('reads the continuation the drainer adds', () => {
    const parsed = parseEvent({
      ...validEvent(),
      [DRAINER_KEY]: { startedAt: 1_700_000_000_000, attempt: 3 },
    });
    expect(parsed).toMatchObject({
      kind: 'action',
      continuation: { startedAt: 1_700_000_000_000, attempt: 3 },
    });
  });

  it.each([
    [
      'a test notification in detail',
      withDetail({ Event: 'autoscaling:TEST_NOTIFICATION' }),
      'test notification',
    ],
    [
      'a bare test notification',
      { Event: 'autoscaling:TEST_NOTIFICATION', AutoScalingGroupName: 'a' },
      'test notification',
    ],
    [
      'a launch action',
      { ...validEvent(), 'detail-type': 'EC2 Instance-launch Lifecycle Action' },
      'detail-type EC2 Instance-launch Lifecycle Action',
    ],
    [
      'another transition',
      withDetail({ LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING' }),
      'transition autoscaling:EC2_INSTANCE_LAUNCHING',
    ],
  ])('ignores %s', (_, event, reason) => {
    expect(parseEvent(event)).toEqual({ kind: 'ignored', reason });
  });

  it.each([
    ['null', null, 'event'],
    ['a string', 'hello', 'event'],
    ['an array', [], 'event'],
    ['another source', { ...validEvent(), source: 'aws.ec2' }, 'source'],
    ['no detail', { ...validEvent(), detail: undefined }, 'detail'],
    ['no detail-type', { ...validEvent(), 'detail-type': undefined }, 'detail-type'],
    ['a token with spaces', withDetail({ LifecycleActionToken: 'a b' }), 'detail.LifecycleActionToken'],
    ['no ASG', withDetail({ AutoScalingGroupName: '' }), 'detail.AutoScalingGroupName'],
    ['a numeric hook name', withDetail({ LifecycleHookName: 7 }), 'detail.LifecycleHookName'],
    ['a malformed instance id', withDetail({ EC2InstanceId: 'i-XYZ' }), 'detail.EC2InstanceId'],
    [
      'an instance id with a shell suffix',
      withDetail({ EC2InstanceId: 'i-0123456789abcdef0;rm' }),
      'detail.EC2InstanceId',
    ],
    ['no transition', withDetail({ LifecycleTransition: undefined }), 'detail.LifecycleTransition'],
    ['a bad time', { ...validEvent(), time: 'yesterday' }, 'time'],
    [
      'a bad continuation start',
      { ...validEvent(), [DRAINER_KEY]: { startedAt: 'then', attempt: 1 } },
      `${DRAINER_KEY}.startedAt`,
    ],
    [
      'a bad continuation attempt',
      { ...validEvent(), [DRAINER_KEY]: { startedAt: 1, attempt: 0 } },
      `${DRAINER_KEY}.attempt`,
    ],
  ])('rejects %s, naming the field', (_, event, field) => {
    const parsed = parseEvent(event);
    expect(parsed).toMatchObject({ kind: 'invalid', field });
    expect(parsed.kind === 'invalid' && parsed.problem).toMatch(/expected/);
  });
});

describe('parseEvent on randomized mutations of a valid event', () => {
  it('never throws, and accepts a mutation only when what it relies on is unchanged', () => {
    const random = seededRandom(20261121);
    const relied =
      /^(source|detail-type|detail|detail\.(AutoScalingGroupName|LifecycleHookName|EC2InstanceId|LifecycleTransition))$/;
    let rejected = 0;
    for (let i = 0; i < 500; i++) {
      const { event, path } = mutatedEvent(random);
      const parsed = parseEvent(event);
      if (parsed.kind !== 'action') {
        rejected++;
        continue;
      }
      expect(path, `mutation ${i} of ${path} was accepted`).not.toMatch(relied);
      // a token is optional, but never taken in another shape than the event's own
      expect(parsed.action.token).toBe(
        (event.detail as { LifecycleActionToken?: string }).LifecycleActionToken,
      );
    }
    expect(rejected).toBeGreaterThan(250);
  });
});
