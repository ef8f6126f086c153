import { lifecycleEvent as buildEvent, type LifecycleEventFields } from '../../lambda/event.js';

/** The product's event builder, plus the free-form NotificationMetadata a hook may carry. */
export function lifecycleEvent(fields: LifecycleEventFields, time = new Date()): Record<string, unknown> {
  const event = buildEvent(fields, { time });
  return { ...event, detail: { ...(event.detail as object), NotificationMetadata: 'anything' } };
}

export const SAMPLE_FIELDS: LifecycleEventFields = {
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
export function mutatedEvent(
  random: () => number,
  valid: () => Record<string, unknown> = validEvent,
): { event: Record<string, unknown>; path: string } {
  const event = valid();
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
