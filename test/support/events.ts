import { randomUUID } from 'node:crypto';

export interface EventFields {
  readonly token: string;
  readonly autoScalingGroupName: string;
  readonly hookName: string;
  readonly instanceId: string;
}

/** The event EventBridge delivers for a termination lifecycle action. */
export function lifecycleEvent(fields: EventFields, time = new Date()): Record<string, unknown> {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'EC2 Instance-terminate Lifecycle Action',
    source: 'aws.autoscaling',
    account: '123456789012',
    time: time.toISOString(),
    region: 'us-east-1',
    resources: [
      `arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:u:autoScalingGroupName/${fields.autoScalingGroupName}`,
    ],
    detail: {
      LifecycleActionToken: fields.token,
      AutoScalingGroupName: fields.autoScalingGroupName,
      LifecycleHookName: fields.hookName,
      EC2InstanceId: fields.instanceId,
      LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
      NotificationMetadata: 'anything',
      Origin: 'AutoScalingGroup',
      Destination: 'EC2',
    },
  };
}

export const SAMPLE_FIELDS: EventFields = {
  token: '87654321-4321-4321-4321-210987654321',
  autoScalingGroupName: 'web-asg',
  hookName: 'eks-node-drainer',
  instanceId: 'i-0123456789abcdef0',
};

export function validEvent(): Record<string, unknown> {
  return lifecycleEvent(SAMPLE_FIELDS, new Date('2026-11-21T10:00:00Z'));
}

export function withDetail(detail: Record<string, unknown>): Record<string, unknown> {
  const event = validEvent();
  return { ...event, detail: { ...(event.detail as object), ...detail } };
}

/** Deterministic pseudo-random numbers (mulberry32), so a failing mutation can be replayed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const REPLACEMENTS: readonly (() => unknown)[] = [
  () => undefined,
  () => null,
  () => 42,
  () => '',
  () => true,
  () => ({ nested: 'object' }),
  () => ['list'],
  () => 'x'.repeat(300),
  () => 'i-0123456789abcdef0; DROP',
  () => ' ',
];

/** A valid event with one top-level or detail field deleted or replaced by something else. */
export function mutatedEvent(random: () => number): { event: Record<string, unknown>; path: string } {
  const event = validEvent();
  const detail = event.detail as Record<string, unknown>;
  const inDetail = random() < 0.7;
  const target = inDetail ? detail : event;
  const keys = Object.keys(target);
  const key = keys[Math.floor(random() * keys.length)] ?? 'source';
  const replacement = REPLACEMENTS[Math.floor(random() * REPLACEMENTS.length)] ?? (() => undefined);
  const value = replacement();
  if (value === undefined) delete target[key];
  else target[key] = value;
  return { event, path: `${inDetail ? 'detail.' : ''}${key}` };
}
