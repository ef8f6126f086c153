/** Real EventBridge shapes of the events besides the termination lifecycle action (AWS's documented examples). */
import {
  LAUNCH_LIFECYCLE_DETAIL_TYPE,
  LAUNCH_SUCCESSFUL_DETAIL_TYPE,
  REBALANCE_RECOMMENDATION_DETAIL_TYPE,
  SPOT_INTERRUPTION_DETAIL_TYPE,
  STATE_CHANGE_DETAIL_TYPE,
} from '../../lambda/contract.js';

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';

function envelope(source: string, detailType: string, time: Date, resources: string[], detail: object) {
  return {
    version: '0',
    id: globalThis.crypto.randomUUID(),
    'detail-type': detailType,
    source,
    account: ACCOUNT,
    time: time.toISOString(),
    region: REGION,
    resources,
    detail,
  };
}

const instanceArn = (instanceId: string) => `arn:aws:ec2:${REGION}:${ACCOUNT}:instance/${instanceId}`;

export function spotInterruptionEvent(
  instanceId: string,
  time = new Date(),
  instanceAction = 'terminate',
): Record<string, unknown> {
  return envelope('aws.ec2', SPOT_INTERRUPTION_DETAIL_TYPE, time, [instanceArn(instanceId)], {
    'instance-id': instanceId,
    'instance-action': instanceAction,
  });
}

export function rebalanceEvent(instanceId: string, time = new Date()): Record<string, unknown> {
  return envelope('aws.ec2', REBALANCE_RECOMMENDATION_DETAIL_TYPE, time, [instanceArn(instanceId)], {
    'instance-id': instanceId,
  });
}

/** "EC2 Instance State-change Notification" (AWS's documented example, with this instance and state). */
export function stateChangeEvent(
  instanceId: string,
  state: string,
  time = new Date(),
): Record<string, unknown> {
  return envelope('aws.ec2', STATE_CHANGE_DETAIL_TYPE, time, [instanceArn(instanceId)], {
    'instance-id': instanceId,
    state,
  });
}

const groupArn = (group: string) =>
  `arn:aws:autoscaling:${REGION}:${ACCOUNT}:autoScalingGroup:11111111-2222-3333-4444-555555555555:autoScalingGroupName/${group}`;

/** The launch lifecycle action of an instance leaving the warm pool for its group. */
export function warmPoolLaunchActionEvent(fields: {
  readonly instanceId: string;
  readonly autoScalingGroupName: string;
  readonly hookName: string;
  readonly token?: string;
  readonly origin?: string;
  readonly destination?: string;
}): Record<string, unknown> {
  return envelope(
    'aws.autoscaling',
    LAUNCH_LIFECYCLE_DETAIL_TYPE,
    new Date(),
    [groupArn(fields.autoScalingGroupName)],
    {
      ...(fields.token ? { LifecycleActionToken: fields.token } : {}),
      AutoScalingGroupName: fields.autoScalingGroupName,
      LifecycleHookName: fields.hookName,
      EC2InstanceId: fields.instanceId,
      LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
      NotificationMetadata: 'additional-info',
      Origin: fields.origin ?? 'WarmPool',
      Destination: fields.destination ?? 'AutoScalingGroup',
    },
  );
}

/** "EC2 Instance Launch Successful" of an instance leaving the warm pool for its group. */
export function warmPoolLaunchSuccessfulEvent(fields: {
  readonly instanceId: string;
  readonly autoScalingGroupName: string;
  readonly origin?: string;
}): Record<string, unknown> {
  return envelope(
    'aws.autoscaling',
    LAUNCH_SUCCESSFUL_DETAIL_TYPE,
    new Date(),
    [groupArn(fields.autoScalingGroupName), instanceArn(fields.instanceId)],
    {
      StatusCode: 'InProgress',
      Description: `Launching a new EC2 instance from warm pool: ${fields.instanceId}`,
      AutoScalingGroupName: fields.autoScalingGroupName,
      ActivityId: '1b4aa1a7-71c6-4a5e-a2f8-3dbe6c5ec5f7',
      Details: { 'Availability Zone': `${REGION}a`, 'Subnet ID': 'subnet-12345678' },
      RequestId: '1b4aa1a7-71c6-4a5e-a2f8-3dbe6c5ec5f7',
      EndTime: new Date().toISOString(),
      EC2InstanceId: fields.instanceId,
      StartTime: new Date().toISOString(),
      Cause: 'At 2021-01-13T20:36:28Z a user request update of AutoScalingGroup constraints …',
      Origin: fields.origin ?? 'WarmPool',
      Destination: 'AutoScalingGroup',
    },
  );
}
