import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  DRAINER_KEY,
  lifecycleEvent,
  parseEvent,
  TERMINATE_DETAIL_TYPE,
  TERMINATING,
} from '../lambda/event.js';
import { mutatedEvent, SAMPLE_FIELDS, seededRandom, validEvent, withDetail } from './support/events.js';

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
    expect(parsed.kind).toBe('action');
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
      'a launch action whose transition is not launching',
      { ...validEvent(), 'detail-type': 'EC2 Instance-launch Lifecycle Action' },
      'transition autoscaling:EC2_INSTANCE_TERMINATING',
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
    ['another source', { ...validEvent(), source: 'aws.s3' }, 'source'],
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

/** The problem parseEvent reports for an invalid event, or the kind it returned instead. */
function problem(event: unknown): string {
  const parsed = parseEvent(event);
  return parsed.kind === 'invalid' ? `${parsed.field}: ${parsed.problem}` : `not invalid: ${parsed.kind}`;
}

function fieldOf(event: unknown): string {
  const parsed = parseEvent(event);
  return parsed.kind === 'invalid' ? parsed.field : `not invalid: ${parsed.kind}`;
}

function accepted(event: unknown): boolean {
  return parseEvent(event).kind === 'action';
}

const withKey = (key: unknown): Record<string, unknown> => ({ ...validEvent(), [DRAINER_KEY]: key });

const TOTALS = {
  evicted: ['default/a'],
  deleted: [],
  evictionRequests: 4,
  evictionRefusals: 2,
  throttled: 1,
  errors: ['list pods: timeout'],
};

const withProgress = (progress: Record<string, unknown>): Record<string, unknown> =>
  withKey({ startedAt: 1_700_000_000_000, attempt: 2, progress: { totals: TOTALS, ...progress } });

const withTotals = (totals: Record<string, unknown>): Record<string, unknown> =>
  withProgress({ totals: { ...TOTALS, ...totals } });

describe('parseEvent, the problem it reports', () => {
  it('shows the value it got', () => {
    expect(problem({ ...validEvent(), source: 'aws.s3' })).toBe(
      'source: expected "aws.autoscaling", "aws.ec2" or "aws.health", got "aws.s3"',
    );
  });

  it('says nothing came when a field is missing', () => {
    expect(problem({ ...validEvent(), source: undefined })).toBe(
      'source: expected "aws.autoscaling", "aws.ec2" or "aws.health", got nothing',
    );
  });

  it('shows a long value cut to 80 characters', () => {
    const shown = JSON.stringify('x'.repeat(100)).slice(0, 80);
    expect(problem({ ...validEvent(), source: 'x'.repeat(100) })).toBe(
      `source: expected "aws.autoscaling", "aws.ec2" or "aws.health", got ${shown}…`,
    );
  });

  it('shows a value of exactly 80 characters whole', () => {
    const value = 'x'.repeat(78);
    expect(problem({ ...validEvent(), source: value })).toBe(
      `source: expected "aws.autoscaling", "aws.ec2" or "aws.health", got "${value}"`,
    );
  });

  it('names the pattern a detail field must match', () => {
    expect(problem(withDetail({ EC2InstanceId: 'i-XYZ' }))).toBe(
      'detail.EC2InstanceId: expected a string matching /^i-[0-9a-f]{8,17}$/, got "i-XYZ"',
    );
  });

  it.each([
    ['the event', null, 'event: expected an object, got null'],
    ['the detail', { ...validEvent(), detail: 'x' }, 'detail: expected an object, got "x"'],
    ['the detail-type', { ...validEvent(), 'detail-type': 7 }, 'detail-type: expected a string, got 7'],
    ['the time', { ...validEvent(), time: 'yesterday' }, 'time: expected an ISO 8601 time, got "yesterday"'],
    [
      'the continuation start',
      withKey({ startedAt: 0, attempt: 1 }),
      `${DRAINER_KEY}.startedAt: expected epoch milliseconds, got 0`,
    ],
    [
      'the continuation attempt',
      withKey({ startedAt: 1, attempt: 211 }),
      `${DRAINER_KEY}.attempt: expected a whole number in [1, 210], got 211`,
    ],
    [
      'the claim holder',
      withKey({ startedAt: 1, attempt: 1, holder: '' }),
      `${DRAINER_KEY}.holder: expected a short string, got ""`,
    ],
    [
      'the force flag',
      withKey({ force: 'yes' }),
      `${DRAINER_KEY}.force: expected true or nothing, got "yes"`,
    ],
    [
      'a carried list',
      withTotals({ evicted: 'default/a' }),
      `${DRAINER_KEY}.progress.totals.evicted: expected a list of at most 1000 names, got "default/a"`,
    ],
    [
      'a carried count',
      withTotals({ throttled: -1 }),
      `${DRAINER_KEY}.progress.totals.throttled: expected a whole number in [0, ${Number.MAX_SAFE_INTEGER}], got -1`,
    ],
    [
      'too many offers',
      withProgress({
        offeredAt: Object.fromEntries(Array.from({ length: 1_001 }, (_, i) => [`uid-${i}`, 1])),
      }),
      `${DRAINER_KEY}.progress.offeredAt: too many pods`,
    ],
  ])('explains what is wrong with %s', (_, event, expected) => {
    expect(problem(event)).toBe(expected);
  });

  it('does not pass off a programming error as an invalid event', () => {
    const event = {
      get source(): string {
        throw new TypeError('boom');
      },
    };

    expect(() => parseEvent(event)).toThrow('boom');
  });
});

describe('parseEvent, the lifecycle transition', () => {
  it('rejects a transition with something after the name', () => {
    expect(fieldOf(withDetail({ LifecycleTransition: 'autoscaling:EC2 terminating' }))).toBe(
      'detail.LifecycleTransition',
    );
  });

  it('rejects a transition with something before the name', () => {
    expect(fieldOf(withDetail({ LifecycleTransition: `x${TERMINATING}` }))).toBe(
      'detail.LifecycleTransition',
    );
  });

  it('rejects a transition with no name', () => {
    expect(fieldOf(withDetail({ LifecycleTransition: 'autoscaling:' }))).toBe('detail.LifecycleTransition');
  });
});

describe('parseEvent, the lifecycle action token', () => {
  it.each([
    ['letters of both cases, digits and hyphens', 'Ab-9'],
    ['a single character', 'a'],
    ['64 characters', 'a'.repeat(64)],
  ])('accepts %s', (_, token) => {
    const parsed = parseEvent(withDetail({ LifecycleActionToken: token }));
    expect(parsed.kind === 'action' && parsed.action.token).toBe(token);
  });

  it.each([
    ['an empty token', ''],
    ['65 characters', 'a'.repeat(65)],
    ['a token with something after it', 'abc;'],
    ['a token with something before it', ';abc'],
    ['a numeric token', 7],
  ])('rejects %s', (_, token) => {
    expect(fieldOf(withDetail({ LifecycleActionToken: token }))).toBe('detail.LifecycleActionToken');
  });
});

describe('parseEvent, the Auto Scaling group name', () => {
  it.each([
    ['any characters but spaces and colons', 'Web_asg-1.prod/ä'],
    ['a single character', 'w'],
    ['255 characters', 'w'.repeat(255)],
  ])('accepts %s', (_, name) => {
    const parsed = parseEvent(withDetail({ AutoScalingGroupName: name }));
    expect(parsed.kind === 'action' && parsed.action.autoScalingGroupName).toBe(name);
  });

  it.each([
    ['256 characters', 'w'.repeat(256)],
    ['a space inside', 'web asg'],
    ['a colon inside', 'web:asg'],
    ['a tab at the end', 'web\t'],
  ])('rejects %s', (_, name) => {
    expect(fieldOf(withDetail({ AutoScalingGroupName: name }))).toBe('detail.AutoScalingGroupName');
  });
});

describe('parseEvent, the lifecycle hook name', () => {
  it.each([
    ['letters of both cases, digits and - _ / .', 'My_Hook/v1.2-x'],
    ['a single character', 'h'],
    ['255 characters', 'h'.repeat(255)],
  ])('accepts %s', (_, name) => {
    const parsed = parseEvent(withDetail({ LifecycleHookName: name }));
    expect(parsed.kind === 'action' && parsed.action.hookName).toBe(name);
  });

  it.each([
    ['an empty name', ''],
    ['256 characters', 'h'.repeat(256)],
    ['a space inside', 'my hook'],
    ['a colon at the end', 'hook:'],
  ])('rejects %s', (_, name) => {
    expect(fieldOf(withDetail({ LifecycleHookName: name }))).toBe('detail.LifecycleHookName');
  });
});

describe('parseEvent, the instance id', () => {
  it.each([
    ['8 hex digits', 'i-0123abcd'],
    ['17 hex digits', 'i-0123456789abcdef0'],
  ])('accepts %s', (_, id) => {
    const parsed = parseEvent(withDetail({ EC2InstanceId: id }));
    expect(parsed.kind === 'action' && parsed.action.instanceId).toBe(id);
  });

  it.each([
    ['7 hex digits', 'i-0123abc'],
    ['18 hex digits', 'i-0123456789abcdef01'],
    ['something before it', 'xi-0123456789abcdef0'],
    ['upper-case hex digits', 'i-0123ABCD'],
  ])('rejects %s', (_, id) => {
    expect(fieldOf(withDetail({ EC2InstanceId: id }))).toBe('detail.EC2InstanceId');
  });
});

describe('parseEvent, the event time', () => {
  it('leaves the time out when the event has none', () => {
    const parsed = parseEvent({ ...validEvent(), time: undefined });
    expect(parsed.kind).toBe('action');
    expect(parsed.kind === 'action' && parsed.action).not.toHaveProperty('time');
  });

  it('rejects a time that is not a string, even one that would read as a year', () => {
    expect(fieldOf({ ...validEvent(), time: 2026 })).toBe('time');
  });
});

describe("parseEvent, the drainer's own key", () => {
  it('reads a force request', () => {
    const parsed = parseEvent(withKey({ force: true }));
    expect(parsed).toMatchObject({ kind: 'action', force: true });
    expect(parsed).not.toHaveProperty('dryRun');
    expect(parsed).not.toHaveProperty('continuation');
  });

  it('reads an empty key as no options', () => {
    const parsed = parseEvent(withKey({}));
    expect(parsed).toEqual({ kind: 'action', action: expect.any(Object) });
  });

  it('rejects a key that is not an object', () => {
    expect(fieldOf(withKey('force'))).toBe(DRAINER_KEY);
  });

  it('rejects a continuation without a start', () => {
    expect(fieldOf(withKey({ attempt: 2 }))).toBe(`${DRAINER_KEY}.startedAt`);
  });

  it('rejects a continuation without an attempt', () => {
    expect(fieldOf(withKey({ startedAt: 1_700_000_000_000 }))).toBe(`${DRAINER_KEY}.attempt`);
  });

  it('reads the whole continuation: start, attempt, holder and progress', () => {
    const progress = {
      offeredAt: { 'uid-a': 1_700_000_000_500 },
      pdbRefused: ['uid-a'],
      policyEndsAt: 1_700_000_900_000,
      totals: TOTALS,
    };

    const parsed = parseEvent(
      withKey({ startedAt: 1_700_000_000_000, attempt: 210, holder: 'request-1', progress, dryRun: true }),
    );

    expect(parsed).toEqual({
      kind: 'action',
      action: expect.any(Object),
      dryRun: true,
      continuation: { startedAt: 1_700_000_000_000, attempt: 210, holder: 'request-1', progress },
    });
  });

  it('reads a progress without offers, PDB refusals or policy end', () => {
    const parsed = parseEvent(withProgress({}));
    expect(parsed.kind === 'action' && parsed.continuation?.progress).toEqual({
      offeredAt: {},
      totals: TOTALS,
    });
  });

  it.each([
    ['a start of 1 ms', { startedAt: 1, attempt: 1 }],
    ['the first attempt', { startedAt: 1_700_000_000_000, attempt: 1 }],
    ['a holder of 300 characters', { startedAt: 1, attempt: 1, holder: 'h'.repeat(300) }],
  ])('accepts %s', (_, key) => {
    expect(accepted(withKey(key))).toBe(true);
  });

  it.each([
    ['an infinite start', { startedAt: Number.POSITIVE_INFINITY, attempt: 1 }, 'startedAt'],
    ['a negative start', { startedAt: -1, attempt: 1 }, 'startedAt'],
    ['a fractional attempt', { startedAt: 1, attempt: 1.5 }, 'attempt'],
    ['an attempt as a string', { startedAt: 1, attempt: '2' }, 'attempt'],
    ['a holder of 301 characters', { startedAt: 1, attempt: 1, holder: 'h'.repeat(301) }, 'holder'],
    ['a numeric holder', { startedAt: 1, attempt: 1, holder: 7 }, 'holder'],
  ])('rejects %s', (_, key, field) => {
    expect(fieldOf(withKey(key))).toBe(`${DRAINER_KEY}.${field}`);
  });
});

describe('parseEvent, the carried drain progress', () => {
  const P = `${DRAINER_KEY}.progress`;

  it('accepts offers to 1000 pods', () => {
    const offeredAt = Object.fromEntries(Array.from({ length: 1_000 }, (_, i) => [`uid-${i}`, 1]));
    expect(accepted(withProgress({ offeredAt }))).toBe(true);
  });

  it('accepts lists of 1000 names of up to 300 characters and errors of up to 2000', () => {
    const evicted = Array.from({ length: 1_000 }, () => 'p'.repeat(300));
    expect(accepted(withTotals({ evicted, errors: ['e'.repeat(2_000)] }))).toBe(true);
  });

  it('accepts zero counts', () => {
    expect(accepted(withTotals({ evictionRequests: 0, evictionRefusals: 0, throttled: 0 }))).toBe(true);
  });

  it.each([
    ['a progress that is not an object', withKey({ startedAt: 1, attempt: 1, progress: [] }), P],
    ['no totals', withProgress({ totals: undefined }), `${P}.totals`],
    ['offers that are not an object', withProgress({ offeredAt: ['uid-a'] }), `${P}.offeredAt`],
    ['an offer at no time', withProgress({ offeredAt: { 'uid-a': 0 } }), `${P}.offeredAt`],
    ['an offer to an over-long uid', withProgress({ offeredAt: { ['u'.repeat(301)]: 1 } }), `${P}.offeredAt`],
    ['PDB refusals that are not a list', withProgress({ pdbRefused: 'uid-a' }), `${P}.pdbRefused`],
    ['a policy end at no time', withProgress({ policyEndsAt: -1 }), `${P}.policyEndsAt`],
    [
      '1001 evicted pods',
      withTotals({ evicted: Array.from({ length: 1_001 }, () => 'p') }),
      `${P}.totals.evicted`,
    ],
    ['an evicted pod of 301 characters', withTotals({ evicted: ['p'.repeat(301)] }), `${P}.totals.evicted`],
    ['an empty deleted pod name', withTotals({ deleted: [''] }), `${P}.totals.deleted`],
    ['an error of 2001 characters', withTotals({ errors: ['e'.repeat(2_001)] }), `${P}.totals.errors`],
    ['a fractional request count', withTotals({ evictionRequests: 1.5 }), `${P}.totals.evictionRequests`],
    ['a negative refusal count', withTotals({ evictionRefusals: -1 }), `${P}.totals.evictionRefusals`],
    ['no throttled count', withTotals({ throttled: undefined }), `${P}.totals.throttled`],
  ])('rejects %s', (_, event, field) => {
    expect(fieldOf(event)).toBe(field);
  });
});

describe('lifecycleEvent', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('builds the event EventBridge delivers for a termination lifecycle action', () => {
    const event = lifecycleEvent(SAMPLE_FIELDS, {
      time: new Date('2026-11-21T10:00:00Z'),
      account: '111122223333',
      region: 'eu-west-1',
    });

    expect(event).toEqual({
      version: '0',
      id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
      'detail-type': TERMINATE_DETAIL_TYPE,
      source: 'aws.autoscaling',
      account: '111122223333',
      time: '2026-11-21T10:00:00.000Z',
      region: 'eu-west-1',
      resources: [
        'arn:aws:autoscaling:eu-west-1:111122223333:autoScalingGroup:*:autoScalingGroupName/web-asg',
      ],
      detail: {
        LifecycleActionToken: SAMPLE_FIELDS.token,
        AutoScalingGroupName: 'web-asg',
        LifecycleHookName: 'eks-node-drainer',
        EC2InstanceId: 'i-0123456789abcdef0',
        LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
        Origin: 'AutoScalingGroup',
        Destination: 'EC2',
      },
    });
    expect(TERMINATE_DETAIL_TYPE).toBe('EC2 Instance-terminate Lifecycle Action');
  });

  it('defaults to now, a sample account and us-east-1', () => {
    vi.useFakeTimers({ now: new Date('2026-12-01T08:00:00Z'), toFake: ['Date'] });

    const event = lifecycleEvent(SAMPLE_FIELDS);

    expect(event).toMatchObject({
      time: '2026-12-01T08:00:00.000Z',
      account: '123456789012',
      region: 'us-east-1',
    });
  });

  it('leaves the token out of a hand-made event, and the drainer key out without options', () => {
    const event = lifecycleEvent({ ...SAMPLE_FIELDS, token: undefined });

    expect(event.detail).not.toHaveProperty('LifecycleActionToken');
    expect(event).not.toHaveProperty(DRAINER_KEY);
  });

  it.each([
    [{ dryRun: true }, { dryRun: true }],
    [{ force: true }, { force: true }],
    [
      { dryRun: true, force: true },
      { dryRun: true, force: true },
    ],
  ])('carries the manual options %j in the drainer key', (options, key) => {
    expect(lifecycleEvent(SAMPLE_FIELDS, options)[DRAINER_KEY]).toEqual(key);
  });

  it('builds an event parseEvent reads back', () => {
    expect(parseEvent(lifecycleEvent(SAMPLE_FIELDS, { force: true }))).toMatchObject({
      kind: 'action',
      force: true,
      action: { instanceId: SAMPLE_FIELDS.instanceId },
    });
  });
});
