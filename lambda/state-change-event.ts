/**
 * EC2's "EC2 Instance State-change Notification": `detail` { "instance-id", "state" }. The states of a
 * lost instance (shutting-down, stopping, terminated) and `running` (a stopped instance back) are
 * acted on; any other state is ignored. Fields AWS may add later are ignored.
 */
import { BACK_STATE, LOST_STATES, STATE_CHANGE_DETAIL_TYPE } from './contract.js';
import { INSTANCE_ID, Invalid, type Json, object, optionalTime, show, text } from './event-fields.js';

export type LostState = (typeof LOST_STATES)[number];

export interface StateChange {
  readonly instanceId: string;
  readonly state: LostState | typeof BACK_STATE;
  /** When EC2 sent it, epoch ms. */
  readonly time?: number;
  /** `eksNodeDrainer.dryRun`: report what would be done, change nothing. */
  readonly dryRun?: true;
}

export type ParsedStateChange =
  | { readonly kind: 'state-change'; readonly change: StateChange }
  | { readonly kind: 'ignored'; readonly reason: string };

export function isStateChange(root: Json): boolean {
  return root.source === 'aws.ec2' && root['detail-type'] === STATE_CHANGE_DETAIL_TYPE;
}

/** Throws `Invalid` for a malformed field. */
export function parseStateChange(root: Json, drainerKey: string): ParsedStateChange {
  const detail = object(root.detail, 'detail');
  const instanceId = text(detail, 'instance-id', INSTANCE_ID);
  const state = text(detail, 'state', /^[a-z][a-z-]{0,31}$/);
  if (state !== BACK_STATE && !(LOST_STATES as readonly string[]).includes(state))
    return { kind: 'ignored', reason: `instance state ${state}` };
  return {
    kind: 'state-change',
    change: {
      instanceId,
      state: state as StateChange['state'],
      ...optionalTime(root.time),
      ...(dryRunRequested(root[drainerKey], drainerKey) ? { dryRun: true } : {}),
    },
  };
}

/** Only `dryRun` may ride on a state change: it can only make the invocation safer. */
function dryRunRequested(value: unknown, drainerKey: string): boolean {
  if (value === undefined) return false;
  const key = object(value, drainerKey);
  const extra = Object.keys(key).find((k) => k !== 'dryRun');
  if (extra !== undefined) throw new Invalid(`${drainerKey}.${extra}`, 'a state change carries only dryRun');
  if (key.dryRun !== true)
    throw new Invalid(`${drainerKey}.dryRun`, `expected true, got ${show(key.dryRun)}`);
  return true;
}

/** A state-change event as EventBridge delivers it (for `npm run invoke --instance-state` and tests). */
export function stateChangeEvent(
  instanceId: string,
  state: string,
  options: {
    readonly time?: Date;
    readonly region?: string;
    readonly account?: string;
    readonly dryRun?: boolean;
  } = {},
): Record<string, unknown> {
  const region = options.region ?? 'us-east-1';
  const account = options.account ?? '123456789012';
  return {
    version: '0',
    id: globalThis.crypto.randomUUID(),
    'detail-type': STATE_CHANGE_DETAIL_TYPE,
    source: 'aws.ec2',
    account,
    time: (options.time ?? new Date()).toISOString(),
    region,
    resources: [`arn:aws:ec2:${region}:${account}:instance/${instanceId}`],
    detail: { 'instance-id': instanceId, state },
    ...(options.dryRun ? { eksNodeDrainer: { dryRun: true } } : {}),
  };
}
