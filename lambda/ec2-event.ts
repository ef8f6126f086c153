/**
 * The events besides the termination lifecycle action: EC2's Spot interruption warning and rebalance
 * recommendation (source `aws.ec2`), and an instance coming back from the warm pool (source
 * `aws.autoscaling`: the launch lifecycle action or "EC2 Instance Launch Successful", Origin WarmPool).
 * Fields AWS may add later are ignored; the fields relied on are checked.
 */
import {
  LAUNCH_LIFECYCLE_DETAIL_TYPE,
  REBALANCE_RECOMMENDATION_DETAIL_TYPE,
  SPOT_INTERRUPTION_DETAIL_TYPE,
  WARM_POOL,
} from './contract.js';
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

const LAUNCHING = 'autoscaling:EC2_INSTANCE_LAUNCHING';

/** An EC2 notice about one instance. `time` is when EC2 sent it (the Spot 2-minute notice counts from it). */
export type Ec2Notice =
  | {
      readonly kind: 'spot-interruption';
      readonly instanceId: string;
      /** `terminate`, `stop` or `hibernate` (a value AWS adds later is carried as it is). */
      readonly instanceAction: string;
      readonly time?: number;
    }
  | { readonly kind: 'rebalance-recommendation'; readonly instanceId: string; readonly time?: number };

/**
 * An instance launching: back from the warm pool into its group (`fromWarmPool`), or, for the
 * drainer's own launch hook, any other launch, whose action is simply continued. `action` when a
 * launch lifecycle hook holds the instance.
 */
export interface WarmPoolLaunch {
  readonly fromWarmPool: boolean;
  readonly instanceId: string;
  readonly autoScalingGroupName: string;
  readonly action?: { readonly hookName: string; readonly token?: string };
  readonly time?: number;
}

type Parsed =
  | { readonly kind: 'notice'; readonly notice: Ec2Notice }
  | { readonly kind: 'warm-pool-launch'; readonly launch: WarmPoolLaunch }
  | { readonly kind: 'ignored'; readonly reason: string };

/** An `aws.ec2` event: a Spot interruption warning or a rebalance recommendation; other detail-types are ignored. */
export function parseEc2Event(root: Json): Parsed {
  const detailType = root['detail-type'];
  if (typeof detailType !== 'string')
    throw new Invalid('detail-type', `expected a string, got ${show(detailType)}`);
  const spot = detailType === SPOT_INTERRUPTION_DETAIL_TYPE;
  if (!spot && detailType !== REBALANCE_RECOMMENDATION_DETAIL_TYPE)
    return { kind: 'ignored', reason: `detail-type ${detailType}` };
  const detail = object(root.detail, 'detail');
  const instanceId = text(detail, 'instance-id', INSTANCE_ID);
  const time = optionalTime(root.time);
  if (!spot) return { kind: 'notice', notice: { kind: 'rebalance-recommendation', instanceId, ...time } };
  const instanceAction = text(detail, 'instance-action', /^[a-z][a-z-]{0,31}$/);
  return { kind: 'notice', notice: { kind: 'spot-interruption', instanceId, instanceAction, ...time } };
}

/**
 * A launch lifecycle action or "EC2 Instance Launch Successful" of the `aws.autoscaling` source: a
 * return from the warm pool (`Origin: WarmPool`, `Destination: AutoScalingGroup`) is undone on the
 * node; any other launch lifecycle action (the stack's launch hook holds every launch) is continued
 * at once; any other successful launch is ignored.
 */
export function parseWarmPoolLaunch(root: Json, detail: Json): Parsed {
  const hooked = root['detail-type'] === LAUNCH_LIFECYCLE_DETAIL_TYPE;
  const fromWarmPool = detail.Origin === WARM_POOL && detail.Destination === 'AutoScalingGroup';
  if (!fromWarmPool && !hooked) {
    return { kind: 'ignored', reason: `launch from ${show(detail.Origin)} to ${show(detail.Destination)}` };
  }
  if (hooked) {
    const transition = text(detail, 'LifecycleTransition', /^autoscaling:[A-Z0-9_]+$/);
    if (transition !== LAUNCHING) return { kind: 'ignored', reason: `transition ${transition}` };
  }
  const token =
    hooked && detail.LifecycleActionToken !== undefined
      ? text(detail, 'LifecycleActionToken', TOKEN)
      : undefined;
  const launch: WarmPoolLaunch = {
    fromWarmPool,
    instanceId: text(detail, 'EC2InstanceId', INSTANCE_ID),
    autoScalingGroupName: text(detail, 'AutoScalingGroupName', GROUP_NAME),
    ...(hooked
      ? { action: { hookName: text(detail, 'LifecycleHookName', HOOK_NAME), ...(token ? { token } : {}) } }
      : {}),
    ...optionalTime(root.time),
  };
  return { kind: 'warm-pool-launch', launch };
}
