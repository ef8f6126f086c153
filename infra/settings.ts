/** The construct's props with their defaults applied, and the combinations that cannot work refused. */
import { Annotations, Duration, Token } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import {
  DEFAULT_HOOK_NAME,
  DEFAULT_SCHEDULED_EVENT_ACTION,
  SCHEDULED_SWEEP_MINUTES,
  type ScheduledEventAction,
} from '../lambda/contract.js';
import type { NodeDrainerProps } from './node-drainer.js';
import { autoScalingGroupTargets, clusterNameOf, type GroupTarget, nodegroupTargets } from './targets.js';

// Limits of EC2 Auto Scaling lifecycle hooks, and of the handler's HEARTBEAT_INTERVAL_SECONDS.
const HOOK_HEARTBEAT_SECONDS = { min: 30, max: 7_200 };
const HOOK_GLOBAL_TIMEOUT_FACTOR = 100;
const HOOK_GLOBAL_TIMEOUT_MAX_SECONDS = 48 * 3_600;
const MIN_DRAIN_SECONDS = 30;
const HANDLER_HEARTBEAT_INTERVAL_SECONDS = { min: 10, max: 3_600 };

/**
 * The hook's default heartbeat timeout: twice the drain timeout (5 min to 2 h). A heartbeat timeout
 * only matters while nobody heartbeats, which is when an event waits for a free execution (more
 * nodes terminating at once than the reserved concurrency): then a drain that starts up to
 * `heartbeatTimeout` late still finds its action alive. See `nodesDrainableAtOnce`.
 */
export function defaultHeartbeatTimeout(drainTimeout: Duration): Duration {
  const seconds = Math.min(HOOK_HEARTBEAT_SECONDS.max, Math.max(300, 2 * drainTimeout.toSeconds()));
  return Duration.seconds(seconds);
}

/**
 * How many nodes may start terminating at once with no hook expiring before its drain starts: every
 * wave of `reservedConcurrency` drains takes at most `drainTimeout`, and a wave may start no later
 * than `heartbeatTimeout` after the terminations began.
 */
export function nodesDrainableAtOnce(
  reservedConcurrency: number,
  heartbeatTimeout: Duration,
  drainTimeout: Duration,
): number {
  return reservedConcurrency * (Math.floor(heartbeatTimeout.toSeconds() / drainTimeout.toSeconds()) + 1);
}

export interface Settings {
  /** From `clusterName` or `cluster` (then maybe a token). */
  readonly clusterName: string;
  /** Named groups and groups given as constructs ([] with discovery or node groups only). */
  readonly autoScalingGroups: readonly GroupTarget[];
  /** EKS managed node groups (by name or as constructs) whose groups are resolved at deploy time. */
  readonly nodegroups: readonly GroupTarget[];
  /** Every group tagged for the cluster, now and later (the reconciler). */
  readonly discover: boolean;
  readonly lifecycleHookName: string;
  readonly defaultResult: 'CONTINUE' | 'ABANDON';
  readonly heartbeatTimeout: Duration;
  readonly heartbeatInterval: Duration;
  readonly drainTimeout: Duration;
  readonly onScheduledEvent: ScheduledEventAction;
  readonly scheduledEventLeadTime: Duration;
}

/** Applies the defaults and rejects combinations that cannot work, showing the bad value. */
export function validate(props: NodeDrainerProps): Settings {
  const drainTimeoutDuration = props.drainTimeout ?? Duration.minutes(15);
  const settings: Settings = {
    clusterName: clusterNameOf(props),
    autoScalingGroups: autoScalingGroupTargets(props),
    nodegroups: nodegroupTargets(props),
    discover: props.discover ?? false,
    lifecycleHookName: props.lifecycleHookName ?? DEFAULT_HOOK_NAME,
    defaultResult: props.defaultResult ?? 'CONTINUE',
    heartbeatTimeout: props.heartbeatTimeout ?? defaultHeartbeatTimeout(drainTimeoutDuration),
    heartbeatInterval: props.heartbeatInterval ?? Duration.minutes(1),
    drainTimeout: drainTimeoutDuration,
    onScheduledEvent: props.onScheduledEvent ?? DEFAULT_SCHEDULED_EVENT_ACTION,
    scheduledEventLeadTime: props.scheduledEventLeadTime ?? defaultLeadTime(drainTimeoutDuration),
  };
  validateGroups(settings, props);
  if (props.applyRbac === true && props.createAccessEntry === false) {
    throw new Error(
      'applyRbac needs createAccessEntry (API authentication mode): the drainer is bound to its group through the ' +
        'access entry; got applyRbac true, createAccessEntry false (apply the RBAC with kubectl instead)',
    );
  }
  validateLeadTime(settings);
  const heartbeatTimeout = settings.heartbeatTimeout.toSeconds();
  const heartbeatInterval = settings.heartbeatInterval.toSeconds();
  const drainTimeout = settings.drainTimeout.toSeconds();
  inRange('heartbeatTimeout', heartbeatTimeout, HOOK_HEARTBEAT_SECONDS, 'the lifecycle hook');
  inRange('heartbeatInterval', heartbeatInterval, HANDLER_HEARTBEAT_INTERVAL_SECONDS, 'the handler');
  if (heartbeatInterval >= heartbeatTimeout) {
    throw new Error(
      `heartbeatInterval must be shorter than heartbeatTimeout, or the hook times out between two heartbeats; ` +
        `got heartbeatInterval ${heartbeatInterval} s, heartbeatTimeout ${heartbeatTimeout} s`,
    );
  }
  if (drainTimeout < MIN_DRAIN_SECONDS) {
    throw new Error(`drainTimeout must be at least ${MIN_DRAIN_SECONDS} s, got ${drainTimeout} s`);
  }
  const hookLimit = Math.min(HOOK_GLOBAL_TIMEOUT_FACTOR * heartbeatTimeout, HOOK_GLOBAL_TIMEOUT_MAX_SECONDS);
  if (drainTimeout > hookLimit) {
    throw new Error(
      `drainTimeout must be at most ${hookLimit} s, the longest a lifecycle action lasts ` +
        `(min(100 × heartbeatTimeout ${heartbeatTimeout} s, 48 h)); got ${drainTimeout} s`,
    );
  }
  return settings;
}

const SWEEP_SECONDS = SCHEDULED_SWEEP_MINUTES * 60;
const MAX_LEAD_SECONDS = 14 * 24 * 3_600;

/** The lead time's default: an hour, or longer when the drain may take longer (a drain and two sweeps). */
export function defaultLeadTime(drainTimeout: Duration): Duration {
  return Duration.seconds(Math.max(3_600, drainTimeout.toSeconds() + 2 * SWEEP_SECONDS));
}

/** The replacement must be asked for early enough that the sweep finds it and the drain ends before the window. */
function validateLeadTime({ scheduledEventLeadTime, drainTimeout }: Settings): void {
  const lead = scheduledEventLeadTime.toSeconds();
  const least = drainTimeout.toSeconds() + SWEEP_SECONDS;
  if (lead < least || lead > MAX_LEAD_SECONDS) {
    throw new Error(
      `scheduledEventLeadTime must be between drainTimeout + the ${SWEEP_SECONDS} s sweep interval (${least} s) and 14 days ` +
        `(${MAX_LEAD_SECONDS} s), or the node may still be draining when the window starts; got ${lead} s`,
    );
  }
}

/** Named groups, node groups, or discovery: at least one way, and discovery alone. */
function validateGroups(settings: Settings, props: NodeDrainerProps): void {
  const { autoScalingGroups, nodegroups, discover, clusterName } = settings;
  const shown = (targets: readonly GroupTarget[]) => JSON.stringify(targets.map((t) => t.shown));
  if (discover && (autoScalingGroups.length > 0 || nodegroups.length > 0)) {
    throw new Error(
      `discover serves every Auto Scaling Group of the cluster: leave autoScalingGroupNames and nodegroupNames out, ` +
        `got autoScalingGroupNames ${shown(autoScalingGroups)}, nodegroupNames ${shown(nodegroups)}`,
    );
  }
  if (discover && Token.isUnresolved(clusterName)) {
    throw new Error(
      `discover needs the cluster's name at synth (its IAM conditions and tags are keyed by it): give clusterName, ` +
        `got cluster <${props.cluster?.node.path}> whose name is a token`,
    );
  }
  if (!discover && autoScalingGroups.length === 0 && nodegroups.length === 0) {
    throw new Error(
      `autoScalingGroupNames must name at least one Auto Scaling Group (or give autoScalingGroups, nodegroupNames, nodegroups, or discover: true), ` +
        `got ${JSON.stringify(props.autoScalingGroupNames ?? [])}`,
    );
  }
  for (const [key, targets] of [
    [
      props.autoScalingGroups ? 'autoScalingGroupNames and autoScalingGroups' : 'autoScalingGroupNames',
      autoScalingGroups,
    ],
    [props.nodegroups ? 'nodegroupNames and nodegroups' : 'nodegroupNames', nodegroups],
  ] as const) {
    if (new Set(targets.map((t) => t.name)).size !== targets.length) {
      throw new Error(`${key} must not repeat a name, got ${shown(targets)}`);
    }
  }
}

function inRange(name: string, value: number, range: { min: number; max: number }, owner: string): void {
  if (value < range.min || value > range.max) {
    throw new Error(
      `${name} must be between ${range.min} and ${range.max} s (the range of ${owner}), got ${value} s`,
    );
  }
}

/** Pods gone, the load balancers still need their deregistration delay: the drain timeout should hold both. */
export function warnIfNoRoomForDeregistration(
  scope: IConstruct,
  props: NodeDrainerProps,
  drainTimeout: Duration,
): void {
  if (props.waitForLoadBalancers === false) return;
  const delay = (
    props.deregistrationDelay ?? Duration.seconds(DEFAULT_DEREGISTRATION_DELAY_SECONDS)
  ).toSeconds();
  const needed = delay + ROOM_FOR_PODS_SECONDS;
  if (drainTimeout.toSeconds() < needed) {
    Annotations.of(scope).addWarningV2(
      'eks-node-drainer:deregistration',
      `drainTimeout ${drainTimeout.toSeconds()} s leaves no room for the load balancers' deregistration delay ` +
        `(${delay} s) after the pods are gone: raise drainTimeout to at least ${needed} s, lower ` +
        `deregistration_delay.timeout_seconds, or set waitForLoadBalancers: false`,
    );
  }
}

/** ELBv2's default deregistration_delay.timeout_seconds. */
const DEFAULT_DEREGISTRATION_DELAY_SECONDS = 300;
/** A minute for the pods themselves before the deregistration wait. */
const ROOM_FOR_PODS_SECONDS = 60;
