/**
 * EventBridge lifecycle events → a LifecycleAction, or why not. The drainer's own key in the event
 * (`eksNodeDrainer`) carries a continuation (drain start, attempt) and a manual dry-run request.
 */

export const TERMINATE_DETAIL_TYPE = 'EC2 Instance-terminate Lifecycle Action';
export const TERMINATING = 'autoscaling:EC2_INSTANCE_TERMINATING';
const TEST_NOTIFICATION = 'autoscaling:TEST_NOTIFICATION';

export interface LifecycleAction {
  /** Absent in a hand-made event: the action is then addressed by instance id alone. */
  readonly token?: string;
  readonly autoScalingGroupName: string;
  readonly hookName: string;
  readonly instanceId: string;
  /** When the lifecycle action began (the event's time), epoch ms. */
  readonly time?: number;
}

/** Added by the drainer when it continues a drain in a new invocation. */
export interface Continuation {
  readonly startedAt: number;
  readonly attempt: number;
}

export const DRAINER_KEY = 'eksNodeDrainer';

/** What the drainer's key may carry. A dry-run request can only make an invocation safer. */
export interface DrainerOptions {
  readonly continuation?: Continuation;
  readonly dryRun?: true;
}

export type ParsedEvent =
  | ({ readonly kind: 'action'; readonly action: LifecycleAction } & DrainerOptions)
  | { readonly kind: 'ignored'; readonly reason: string }
  | { readonly kind: 'invalid'; readonly field: string; readonly problem: string };

class Invalid {
  constructor(
    readonly field: string,
    readonly problem: string,
  ) {}
}

type Json = Record<string, unknown>;

export function parseEvent(event: unknown): ParsedEvent {
  try {
    return parse(event);
  } catch (error) {
    if (error instanceof Invalid) return { kind: 'invalid', field: error.field, problem: error.problem };
    throw error;
  }
}

function parse(event: unknown): ParsedEvent {
  const root = object(event, 'event');
  if (root.Event === TEST_NOTIFICATION) return { kind: 'ignored', reason: 'test notification' };
  if (root.source !== 'aws.autoscaling')
    throw new Invalid('source', `expected "aws.autoscaling", got ${show(root.source)}`);
  const detail = object(root.detail, 'detail');
  if (detail.Event === TEST_NOTIFICATION) return { kind: 'ignored', reason: 'test notification' };
  const detailType = root['detail-type'];
  if (typeof detailType !== 'string')
    throw new Invalid('detail-type', `expected a string, got ${show(detailType)}`);
  if (detailType !== TERMINATE_DETAIL_TYPE) return { kind: 'ignored', reason: `detail-type ${detailType}` };
  const transition = text(detail, 'LifecycleTransition', /^autoscaling:[A-Z0-9_]+$/);
  if (transition !== TERMINATING) return { kind: 'ignored', reason: `transition ${transition}` };

  const token =
    detail.LifecycleActionToken === undefined
      ? undefined
      : text(detail, 'LifecycleActionToken', /^[A-Za-z0-9-]{1,64}$/);
  const action: LifecycleAction = {
    ...(token ? { token } : {}),
    autoScalingGroupName: text(detail, 'AutoScalingGroupName', /^[^\s:]{1,255}$/u),
    hookName: text(detail, 'LifecycleHookName', /^[A-Za-z0-9\-_/.]{1,255}$/),
    instanceId: text(detail, 'EC2InstanceId', /^i-[0-9a-f]{8,17}$/),
    ...optionalTime(root.time),
  };
  return {
    kind: 'action',
    action,
    ...(root[DRAINER_KEY] === undefined ? {} : drainerOptions(root[DRAINER_KEY])),
  };
}

function drainerOptions(value: unknown): DrainerOptions {
  const { startedAt, attempt, dryRun } = object(value, DRAINER_KEY);
  if (dryRun !== undefined && dryRun !== true) {
    throw new Invalid(`${DRAINER_KEY}.dryRun`, `expected true or nothing, got ${show(dryRun)}`);
  }
  const options: DrainerOptions = dryRun ? { dryRun: true } : {};
  if (startedAt === undefined && attempt === undefined) return options;
  if (typeof startedAt !== 'number' || !Number.isFinite(startedAt) || startedAt <= 0) {
    throw new Invalid(`${DRAINER_KEY}.startedAt`, `expected epoch milliseconds, got ${show(startedAt)}`);
  }
  if (typeof attempt !== 'number' || !Number.isInteger(attempt) || attempt < 1) {
    throw new Invalid(`${DRAINER_KEY}.attempt`, `expected a whole number ≥ 1, got ${show(attempt)}`);
  }
  return { ...options, continuation: { startedAt, attempt } };
}

function optionalTime(value: unknown): { time?: number } {
  if (value === undefined) return {};
  const time = typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(time)) throw new Invalid('time', `expected an ISO 8601 time, got ${show(value)}`);
  return { time };
}

function object(value: unknown, field: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Invalid(field, `expected an object, got ${show(value)}`);
  }
  return value as Json;
}

function text(detail: Json, field: string, pattern: RegExp): string {
  const value = detail[field];
  if (typeof value !== 'string' || !pattern.test(value)) {
    throw new Invalid(`detail.${field}`, `expected a string matching ${pattern}, got ${show(value)}`);
  }
  return value;
}

function show(value: unknown): string {
  const shown = value === undefined ? 'nothing' : JSON.stringify(value);
  return shown.length > 80 ? `${shown.slice(0, 80)}…` : shown;
}

export interface LifecycleEventFields {
  readonly token?: string;
  readonly autoScalingGroupName: string;
  readonly hookName: string;
  readonly instanceId: string;
}

/** A termination lifecycle event as EventBridge delivers it (for manual invokes, the demo and tests). */
export function lifecycleEvent(
  fields: LifecycleEventFields,
  options: {
    readonly time?: Date;
    readonly account?: string;
    readonly region?: string;
    readonly dryRun?: boolean;
  } = {},
): Record<string, unknown> {
  const account = options.account ?? '123456789012';
  const region = options.region ?? 'us-east-1';
  return {
    version: '0',
    id: globalThis.crypto.randomUUID(),
    'detail-type': TERMINATE_DETAIL_TYPE,
    source: 'aws.autoscaling',
    account,
    time: (options.time ?? new Date()).toISOString(),
    region,
    resources: [
      `arn:aws:autoscaling:${region}:${account}:autoScalingGroup:*:autoScalingGroupName/${fields.autoScalingGroupName}`,
    ],
    detail: {
      ...(fields.token ? { LifecycleActionToken: fields.token } : {}),
      AutoScalingGroupName: fields.autoScalingGroupName,
      LifecycleHookName: fields.hookName,
      EC2InstanceId: fields.instanceId,
      LifecycleTransition: TERMINATING,
      Origin: 'AutoScalingGroup',
      Destination: 'EC2',
    },
    ...(options.dryRun ? { [DRAINER_KEY]: { dryRun: true } } : {}),
  };
}
