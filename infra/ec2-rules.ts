/**
 * The EventBridge rules (and the optional launch hooks) for the events besides the termination
 * lifecycle action: EC2's Spot interruption warnings and rebalance recommendations, and instances
 * coming back from a warm pool (lambda/ec2-event.ts reads them).
 */
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as events from 'aws-cdk-lib/aws-events';
import type { Construct } from 'constructs';
import {
  BACK_STATE,
  LAUNCH_LIFECYCLE_DETAIL_TYPE,
  LAUNCH_SUCCESSFUL_DETAIL_TYPE,
  LOST_STATES,
  launchHookName,
  REBALANCE_RECOMMENDATION_DETAIL_TYPE,
  SPOT_INTERRUPTION_DETAIL_TYPE,
  STATE_CHANGE_DETAIL_TYPE,
  WARM_POOL,
} from '../lambda/contract.js';

export interface Ec2RulesProps {
  readonly clusterName: string;
  /** The named and node groups' groups (`id`: a construct id for each); empty with discovery. */
  readonly groups: readonly { readonly id: string; readonly name: string }[];
  /** Groups are discovered: the rules match any group, the handler checks the group's tags. */
  readonly discover: boolean;
  /** The termination hook's name; the launch hook is named `<it>-launch`. */
  readonly lifecycleHookName: string;
  /** Put a launch lifecycle hook on each group, so a node back from the warm pool is restored before it serves. */
  readonly warmPoolLaunchHook: boolean;
  /** Take instance state changes: a node whose instance went outside its group's lifecycle is released. */
  readonly instanceStates: boolean;
  /** A fresh target for each rule: the drainer function, with the stack's retries and dead-letter queue. */
  readonly target: () => events.IRuleTarget;
  /** What a launch hook must wait for: it may hold instances only while the function and its rule exist. */
  readonly drainPath: readonly Construct[];
}

/**
 * EC2's notices carry only the instance id (no group): the rule takes the account's and region's
 * notices, and the handler serves only the instances of its cluster (outcome `foreign-instance`).
 */
export function addEc2Rules(scope: Construct, props: Ec2RulesProps): events.Rule[] {
  const groups = props.discover ? {} : { AutoScalingGroupName: props.groups.map((g) => g.name) };
  const rules = [
    new events.Rule(scope, 'Ec2NoticeRule', {
      description: `Spot interruption warnings and rebalance recommendations, for EKS cluster ${props.clusterName}'s nodes`,
      eventPattern: {
        source: ['aws.ec2'],
        detailType: [SPOT_INTERRUPTION_DETAIL_TYPE, REBALANCE_RECOMMENDATION_DETAIL_TYPE],
      },
      targets: [props.target()],
    }),
    new events.Rule(scope, 'WarmPoolReturnRule', {
      description: `Instances back from the warm pool into EKS cluster ${props.clusterName}'s node groups`,
      eventPattern: {
        source: ['aws.autoscaling'],
        detailType: [LAUNCH_SUCCESSFUL_DETAIL_TYPE],
        detail: { ...groups, Origin: [WARM_POOL], Destination: ['AutoScalingGroup'] },
      },
      targets: [props.target()],
    }),
  ];
  if (props.instanceStates) rules.push(instanceStateRule(scope, props));
  if (!props.warmPoolLaunchHook) return rules;
  const hookName = launchHookName(props.lifecycleHookName);
  const launchRule = new events.Rule(scope, 'LaunchHookRule', {
    description: `Launch lifecycle actions of EKS cluster ${props.clusterName}'s node groups (warm-pool returns are restored, every launch is continued)`,
    eventPattern: {
      source: ['aws.autoscaling'],
      detailType: [LAUNCH_LIFECYCLE_DETAIL_TYPE],
      detail: { ...groups, LifecycleHookName: [hookName] },
    },
    targets: [props.target()],
  });
  // the named and node groups' groups; the discovery reconciler puts no launch hooks
  for (const { id, name } of props.groups) {
    const hook = new autoscaling.CfnLifecycleHook(scope, `LaunchHook-${id.replaceAll('/', '-')}`, {
      autoScalingGroupName: name,
      lifecycleHookName: hookName,
      lifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
      // a launch waits at most this long if the drainer does not answer; then it goes on
      heartbeatTimeout: 300,
      defaultResult: 'CONTINUE',
    });
    hook.node.addDependency(...props.drainPath, launchRule);
  }
  return [...rules, launchRule];
}

/**
 * EC2 state changes name no group either: the lost states, and `running` (a stopped instance back) to
 * undo a release. The handler answers another group's instance from its EC2 tag (`foreign-instance`).
 */
function instanceStateRule(scope: Construct, props: Ec2RulesProps): events.Rule {
  return new events.Rule(scope, 'InstanceStateRule', {
    description: `Instances that go outside their group's lifecycle (and stopped ones back), for EKS cluster ${props.clusterName}'s nodes`,
    eventPattern: {
      source: ['aws.ec2'],
      detailType: [STATE_CHANGE_DETAIL_TYPE],
      detail: { state: [...LOST_STATES, BACK_STATE] },
    },
    targets: [props.target()],
  });
}
