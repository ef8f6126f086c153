import { Duration } from 'aws-cdk-lib';
import {
  DEADLINE_POLICIES,
  NODE_LOST_ACTIONS,
  NOTIFY_ON_VALUES,
  type NotifyOn,
  REBALANCE_ACTIONS,
  SCHEDULED_EVENT_ACTIONS,
  STANDARD_TOPIC_ARN,
} from '../lambda/contract.js';
import type { NodeDrainerProps } from './node-drainer.js';

export const DEPLOY_COMMAND =
  'npx cdk deploy -c clusterName=<cluster> -c autoScalingGroupNames=<asg-a,asg-b> (or -c nodegroupNames=<ng-a,ng-b>, or -c discover=true)';

/** A context value that cannot work; the message names the key and shows the value. */
export class ContextError extends Error {
  override name = 'ContextError';
}

/** Existing subnets (and optionally security groups) to run the function in, by id. */
export interface NetworkSettings {
  readonly vpcId: string;
  readonly subnetIds: string[];
  readonly securityGroupIds: string[];
}

export type DrainerSettings = Pick<
  NodeDrainerProps,
  | 'autoScalingGroupNames'
  | 'nodegroupNames'
  | 'discover'
  | 'drainTimeout'
  | 'heartbeatTimeout'
  | 'heartbeatInterval'
  | 'onDrainTimeout'
  | 'dryRun'
  | 'createAccessEntry'
  | 'applyRbac'
  | 'metricsNamespace'
  | 'excludeFromLoadBalancers'
  | 'waitForLoadBalancers'
  | 'waitForVolumeDetach'
  | 'onRebalanceRecommendation'
  | 'onNodeLost'
  | 'warmPoolLaunchHook'
  | 'onScheduledEvent'
  | 'scheduledEventLeadTime'
> & {
  readonly clusterName: string;
  readonly network?: NetworkSettings;
  readonly notifications?: NotificationSettings;
  /** Every alarm notifies this standard SNS topic (`-c alarmTopicArn=…`). */
  readonly alarmTopicArn?: string;
};

/** Drain notifications: an existing topic by ARN, or a topic the stack makes; email subscriptions. */
export interface NotificationSettings {
  readonly topicArn?: string;
  readonly notifyOn?: NotifyOn;
  readonly emailAddresses?: string[];
}

type Lookup = (key: string) => unknown;

/**
 * Reads the `-c key=value` context of one deployment. Values from the command line are strings;
 * values from cdk.json may also be booleans, numbers or arrays.
 */
export function settingsFromContext(get: Lookup): DrainerSettings {
  const clusterName = text(get, 'clusterName');
  if (clusterName === undefined) {
    throw new ContextError(
      `Missing context "clusterName" (the EKS cluster whose nodes to drain). Deploy with: ${DEPLOY_COMMAND}`,
    );
  }
  // the EKS rule for cluster names; it also keeps the stack name valid
  if (!/^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$/.test(clusterName)) {
    throw new ContextError(
      `Context "clusterName" must be an EKS cluster name, got ${JSON.stringify(clusterName)}`,
    );
  }
  const autoScalingGroupNames = list(get, 'autoScalingGroupNames');
  const nodegroupNames = list(get, 'nodegroupNames');
  const discover = bool(get, 'discover') ?? false;
  if (discover && (autoScalingGroupNames.length > 0 || nodegroupNames.length > 0)) {
    throw new ContextError(
      `Context "discover=true" hooks every Auto Scaling Group of the cluster: leave out "autoScalingGroupNames" and "nodegroupNames", ` +
        `got ${JSON.stringify({ autoScalingGroupNames, nodegroupNames })}`,
    );
  }
  if (!discover && autoScalingGroupNames.length === 0 && nodegroupNames.length === 0) {
    throw new ContextError(
      `Missing context "autoScalingGroupNames" (comma-separated names of the cluster's node Auto Scaling Groups), ` +
        `"nodegroupNames" (EKS managed node groups) or "discover=true", ` +
        `got ${JSON.stringify(get('autoScalingGroupNames') ?? null)}. Deploy with: ${DEPLOY_COMMAND}`,
    );
  }
  const nodegroupPattern = /^[0-9A-Za-z][A-Za-z0-9\-_]{0,62}$/;
  const badNodegroup = nodegroupNames.find((name) => !nodegroupPattern.test(name));
  if (badNodegroup !== undefined) {
    throw new ContextError(
      `Context "nodegroupNames" must be EKS node group names, got ${JSON.stringify(badNodegroup)}`,
    );
  }
  const vpcId = text(get, 'vpcId');
  const subnetIds = list(get, 'subnetIds');
  if ((vpcId === undefined) !== (subnetIds.length === 0)) {
    throw new ContextError(
      `Contexts "vpcId" and "subnetIds" go together (the function's VPC placement), ` +
        `got vpcId=${JSON.stringify(vpcId ?? null)} subnetIds=${JSON.stringify(subnetIds)}`,
    );
  }
  return {
    clusterName,
    ...(autoScalingGroupNames.length > 0 && { autoScalingGroupNames }),
    ...(nodegroupNames.length > 0 && { nodegroupNames }),
    ...(discover && { discover }),
    drainTimeout: seconds(get, 'drainTimeoutSeconds'),
    heartbeatTimeout: seconds(get, 'heartbeatTimeoutSeconds'),
    heartbeatInterval: seconds(get, 'heartbeatIntervalSeconds'),
    onDrainTimeout: oneOf(get, 'onDrainTimeout', DEADLINE_POLICIES),
    dryRun: bool(get, 'dryRun'),
    createAccessEntry: bool(get, 'createAccessEntry'),
    applyRbac: bool(get, 'applyRbac'),
    excludeFromLoadBalancers: bool(get, 'excludeFromLoadBalancers'),
    waitForLoadBalancers: bool(get, 'waitForLoadBalancers'),
    waitForVolumeDetach: bool(get, 'waitForVolumeDetach'),
    onRebalanceRecommendation: oneOf(get, 'onRebalanceRecommendation', REBALANCE_ACTIONS),
    onNodeLost: oneOf(get, 'onNodeLost', NODE_LOST_ACTIONS),
    warmPoolLaunchHook: bool(get, 'warmPoolLaunchHook'),
    onScheduledEvent: oneOf(get, 'onScheduledEvent', SCHEDULED_EVENT_ACTIONS),
    scheduledEventLeadTime: seconds(get, 'scheduledEventLeadTimeSeconds'),
    ...(vpcId && { network: { vpcId, subnetIds, securityGroupIds: list(get, 'securityGroupIds') } }),
    ...notificationSettings(get),
    ...alarmSettings(get),
  };
}

/** `-c alarmTopicArn=…`: a standard topic every alarm notifies, when it fires and when it clears. */
function alarmSettings(get: Lookup): { alarmTopicArn?: string } {
  const alarmTopicArn = standardTopicArn(get, 'alarmTopicArn');
  return alarmTopicArn === undefined ? {} : { alarmTopicArn };
}

function standardTopicArn(get: Lookup, key: string): string | undefined {
  const arn = text(get, key);
  if (arn !== undefined && !STANDARD_TOPIC_ARN.test(arn)) {
    throw new ContextError(
      `Context "${key}" must be the ARN of a standard (not FIFO) SNS topic, got ${JSON.stringify(arn)}`,
    );
  }
  return arn;
}

/**
 * `-c notificationTopicArn=…` (your standard topic), `-c notificationEmail=a@x,b@y` (subscribed),
 * `-c notifyOn=problems|all`; any of them, or `-c notifications=true` alone (a topic you subscribe
 * chat to), turns notifications on, with a topic the stack makes unless one is given.
 */
function notificationSettings(get: Lookup): { notifications?: NotificationSettings } {
  const topicArn = standardTopicArn(get, 'notificationTopicArn');
  const emailAddresses = list(get, 'notificationEmail');
  const notifyOn = oneOf(get, 'notifyOn', NOTIFY_ON_VALUES);
  const wanted = bool(get, 'notifications');
  const badEmail = emailAddresses.find((email) => !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email));
  if (badEmail !== undefined) {
    throw new ContextError(
      `Context "notificationEmail" must be email addresses, got ${JSON.stringify(badEmail)}`,
    );
  }
  const on = topicArn !== undefined || emailAddresses.length > 0 || notifyOn !== undefined || wanted === true;
  if (wanted === false && on) {
    throw new ContextError(
      'Context "notifications=false" turns notifications off: leave out "notificationTopicArn", "notificationEmail" and "notifyOn"',
    );
  }
  if (!on) return {};
  return {
    notifications: {
      ...(topicArn !== undefined && { topicArn }),
      ...(notifyOn !== undefined && { notifyOn }),
      ...(emailAddresses.length > 0 && { emailAddresses }),
    },
  };
}

export { stackName } from '../lambda/contract.js';

function text(get: Lookup, key: string): string | undefined {
  const value = get(key);
  if (value === undefined || value === null) return undefined;
  const trimmed = String(value).trim();
  return trimmed === '' ? undefined : trimmed;
}

function list(get: Lookup, key: string): string[] {
  const value = get(key);
  const items = Array.isArray(value) ? value.map(String) : (text(get, key)?.split(',') ?? []);
  return items.map((item) => item.trim()).filter((item) => item !== '');
}

function seconds(get: Lookup, key: string): Duration | undefined {
  const raw = text(get, key);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) {
    throw new ContextError(`Context "${key}" must be a whole number of seconds, got ${JSON.stringify(raw)}`);
  }
  return Duration.seconds(value);
}

function bool(get: Lookup, key: string): boolean | undefined {
  const raw = text(get, key)?.toLowerCase();
  if (raw === undefined) return undefined;
  if (raw !== 'true' && raw !== 'false') {
    throw new ContextError(`Context "${key}" must be true or false, got ${JSON.stringify(get(key))}`);
  }
  return raw === 'true';
}

function oneOf<T extends string>(get: Lookup, key: string, allowed: readonly T[]): T | undefined {
  const raw = text(get, key)?.toLowerCase();
  if (raw === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ContextError(
      `Context "${key}" must be one of ${allowed.join(', ')}, got ${JSON.stringify(get(key))}`,
    );
  }
  return raw as T;
}
