/**
 * EventBridge lifecycle events → a LifecycleAction, or why not. The drainer's own key in the event
 * (`eksNodeDrainer`) carries a continuation (drain start, attempt) and a manual dry-run request.
 */

import {
  DRAINER_KEY,
  HEALTH_SOURCE,
  LAUNCH_LIFECYCLE_DETAIL_TYPE,
  LAUNCH_SUCCESSFUL_DETAIL_TYPE,
  WARM_POOL,
} from './contract.js';
import { type DrainProgress, MAX_CARRIED_NAMES } from './drain/progress.js';
import { type Ec2Notice, parseEc2Event, parseWarmPoolLaunch, type WarmPoolLaunch } from './ec2-event.js';
import {
  GROUP_NAME,
  HOOK_NAME,
  INSTANCE_ID,
  Invalid,
  type Json,
  object,
  optionalTime,
  show,
  TOKEN,
  text,
} from './event-fields.js';
import { parseHealthEvent, parseSweepRequest, type ScheduledEvent } from './health-event.js';
import { type Continuation, MAX_ATTEMPTS } from './job/continuation.js';
import { isStateChange, type ParsedStateChange, parseStateChange } from './state-change-event.js';

export type { Ec2Notice, WarmPoolLaunch } from './ec2-event.js';
export type { Continuation } from './job/continuation.js';

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
  /** `Destination: WarmPool`: the instance comes back later, with the same node name. */
  readonly toWarmPool?: true;
}

export { DRAINER_KEY };

/**
 * What the drainer's key may carry: a continuation (added by the drainer itself), a dry-run request
 * (can only make an invocation safer) and `force` (a manual invoke may drain an instance that is not
 * in Terminating:Wait).
 */
export interface DrainerOptions {
  readonly continuation?: Continuation;
  readonly dryRun?: true;
  readonly force?: true;
}

export type ParsedEvent =
  | ({ readonly kind: 'action'; readonly action: LifecycleAction } & DrainerOptions)
  /** `{ "eksNodeDrainer": { "check": true } }`: the read-only self-check (npm run doctor). */
  | { readonly kind: 'check' }
  /** An EC2 notice; `continuation` when the drainer re-sent it to continue its drain. */
  | { readonly kind: 'notice'; readonly notice: Ec2Notice; readonly continuation?: Continuation }
  | { readonly kind: 'warm-pool-launch'; readonly launch: WarmPoolLaunch }
  /** An instance's EC2 state changed (lambda/state-change-event.ts). */
  | Extract<ParsedStateChange, { kind: 'state-change' }>
  /** An AWS Health EC2 scheduled change; `dryRun` from the drainer's key (a manual invoke). */
  | { readonly kind: 'scheduled'; readonly event: ScheduledEvent; readonly dryRun?: true }
  /** `SCHEDULED_REPLACEMENTS_REQUEST`: the schedule asks for the replacements that are due. */
  | { readonly kind: 'scheduled-sweep' }
  | { readonly kind: 'ignored'; readonly reason: string }
  | { readonly kind: 'invalid'; readonly field: string; readonly problem: string };

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
  if (isCheckRequest(root)) return checkRequest(root);
  if (root.Event === TEST_NOTIFICATION) return { kind: 'ignored', reason: 'test notification' };
  if (isStateChange(root)) return parseStateChange(root, DRAINER_KEY);
  const sweep = parseSweepRequest(root);
  if (sweep) return sweep;
  if (root.source === 'aws.ec2') return withContinuation(parseEc2Event(root), root);
  if (root.source === HEALTH_SOURCE) return withDryRun(parseHealthEvent(root), root);
  if (root.source !== 'aws.autoscaling')
    throw new Invalid(
      'source',
      `expected "aws.autoscaling", "aws.ec2" or "aws.health", got ${show(root.source)}`,
    );
  const detail = object(root.detail, 'detail');
  if (detail.Event === TEST_NOTIFICATION) return { kind: 'ignored', reason: 'test notification' };
  const detailType = root['detail-type'];
  if (typeof detailType !== 'string')
    throw new Invalid('detail-type', `expected a string, got ${show(detailType)}`);
  if (detailType === LAUNCH_LIFECYCLE_DETAIL_TYPE || detailType === LAUNCH_SUCCESSFUL_DETAIL_TYPE)
    return parseWarmPoolLaunch(root, detail);
  if (detailType !== TERMINATE_DETAIL_TYPE) return { kind: 'ignored', reason: `detail-type ${detailType}` };
  const transition = text(detail, 'LifecycleTransition', /^autoscaling:[A-Z0-9_]+$/);
  if (transition !== TERMINATING) return { kind: 'ignored', reason: `transition ${transition}` };

  const token =
    detail.LifecycleActionToken === undefined ? undefined : text(detail, 'LifecycleActionToken', TOKEN);
  const action: LifecycleAction = {
    ...(token ? { token } : {}),
    autoScalingGroupName: text(detail, 'AutoScalingGroupName', GROUP_NAME),
    hookName: text(detail, 'LifecycleHookName', HOOK_NAME),
    instanceId: text(detail, 'EC2InstanceId', INSTANCE_ID),
    ...optionalTime(root.time),
    ...(detail.Destination === WARM_POOL ? { toWarmPool: true } : {}),
  };
  return {
    kind: 'action',
    action,
    ...(root[DRAINER_KEY] === undefined ? {} : drainerOptions(root[DRAINER_KEY])),
  };
}

/** An EC2 notice the drainer re-sent to itself carries its continuation in the drainer's key. */
function withContinuation(parsed: ReturnType<typeof parseEc2Event>, root: Json): ParsedEvent {
  if (parsed.kind !== 'notice' || root[DRAINER_KEY] === undefined) return parsed;
  const { continuation } = drainerOptions(root[DRAINER_KEY]);
  return continuation ? { ...parsed, continuation } : parsed;
}

/** A Health event sent by hand (npm run invoke) may ask for a dry run in the drainer's key. */
function withDryRun(parsed: ReturnType<typeof parseHealthEvent>, root: Json): ParsedEvent {
  if (parsed.kind !== 'scheduled' || root[DRAINER_KEY] === undefined) return parsed;
  return drainerOptions(root[DRAINER_KEY]).dryRun ? { ...parsed, dryRun: true } : parsed;
}

/** The check request is the drainer's key with `check` and nothing else, in an event of nothing else. */
export const CHECK_REQUEST = { [DRAINER_KEY]: { check: true } } as const;

function isCheckRequest(root: Json): boolean {
  const key = root[DRAINER_KEY];
  return typeof key === 'object' && key !== null && 'check' in key;
}

function checkRequest(root: Json): ParsedEvent {
  const key = object(root[DRAINER_KEY], DRAINER_KEY);
  if (key.check !== true) {
    throw new Invalid(`${DRAINER_KEY}.check`, `expected true or nothing, got ${show(key.check)}`);
  }
  const extra = [
    ...Object.keys(root).filter((k) => k !== DRAINER_KEY),
    ...Object.keys(key)
      .filter((k) => k !== 'check')
      .map((k) => `${DRAINER_KEY}.${k}`),
  ];
  if (extra.length > 0) {
    throw new Invalid(extra[0] as string, `a check request carries nothing but ${DRAINER_KEY}.check`);
  }
  return { kind: 'check' };
}

function drainerOptions(value: unknown): DrainerOptions {
  const key = object(value, DRAINER_KEY);
  const { startedAt, attempt, holder, progress } = key;
  const options: DrainerOptions = {
    ...(flag(key, 'dryRun') ? { dryRun: true } : {}),
    ...(flag(key, 'force') ? { force: true } : {}),
  };
  if (startedAt === undefined && attempt === undefined) return options;
  const continuation: Continuation = {
    startedAt: epochMs(startedAt, `${DRAINER_KEY}.startedAt`),
    attempt: count(attempt, `${DRAINER_KEY}.attempt`, 1, MAX_ATTEMPTS),
    ...(holder === undefined ? {} : { holder: name(holder, `${DRAINER_KEY}.holder`) }),
    ...(progress === undefined ? {} : { progress: drainProgress(progress, `${DRAINER_KEY}.progress`) }),
  };
  return { ...options, continuation };
}

function flag(key: Json, field: 'dryRun' | 'force'): boolean {
  const value = key[field];
  if (value !== undefined && value !== true) {
    throw new Invalid(`${DRAINER_KEY}.${field}`, `expected true or nothing, got ${show(value)}`);
  }
  return value === true;
}

/** A continuation's memory comes back in an event: every field is checked and bounded. */
function drainProgress(value: unknown, field: string): DrainProgress {
  const { offeredAt, pdbRefused, policyEndsAt, totals } = object(value, field);
  const offered = object(offeredAt ?? {}, `${field}.offeredAt`);
  if (Object.keys(offered).length > MAX_CARRIED_NAMES)
    throw new Invalid(`${field}.offeredAt`, 'too many pods');
  const t = object(totals, `${field}.totals`);
  return {
    offeredAt: Object.fromEntries(
      Object.entries(offered).map(([uid, at]) => [
        name(uid, `${field}.offeredAt`),
        epochMs(at, `${field}.offeredAt`),
      ]),
    ),
    ...(pdbRefused === undefined ? {} : { pdbRefused: names(pdbRefused, `${field}.pdbRefused`) }),
    ...(policyEndsAt === undefined ? {} : { policyEndsAt: epochMs(policyEndsAt, `${field}.policyEndsAt`) }),
    totals: {
      evicted: names(t.evicted, `${field}.totals.evicted`),
      deleted: names(t.deleted, `${field}.totals.deleted`),
      evictionRequests: count(t.evictionRequests, `${field}.totals.evictionRequests`),
      evictionRefusals: count(t.evictionRefusals, `${field}.totals.evictionRefusals`),
      throttled: count(t.throttled, `${field}.totals.throttled`),
      errors: names(t.errors, `${field}.totals.errors`, 2_000),
    },
  };
}

function epochMs(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new Invalid(field, `expected epoch milliseconds, got ${show(value)}`);
  }
  return value;
}

function count(value: unknown, field: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new Invalid(field, `expected a whole number in [${min}, ${max}], got ${show(value)}`);
  }
  return value;
}

function name(value: unknown, field: string, maxLength = 300): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > maxLength) {
    throw new Invalid(field, `expected a short string, got ${show(value)}`);
  }
  return value;
}

function names(value: unknown, field: string, maxLength = 300): string[] {
  if (!Array.isArray(value) || value.length > MAX_CARRIED_NAMES) {
    throw new Invalid(field, `expected a list of at most ${MAX_CARRIED_NAMES} names, got ${show(value)}`);
  }
  return value.map((item) => name(item, field, maxLength));
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
    readonly force?: boolean;
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
    ...(options.dryRun || options.force
      ? {
          [DRAINER_KEY]: {
            ...(options.dryRun ? { dryRun: true } : {}),
            ...(options.force ? { force: true } : {}),
          },
        }
      : {}),
  };
}
