/** The NodeDrainer construct's props (infra/node-drainer.ts): every optional prop documents its default. */
import type { Duration } from 'aws-cdk-lib';
import type * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as eks from 'aws-cdk-lib/aws-eks';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type {
  DeadlinePolicy,
  NodeLostAction,
  RebalanceAction,
  ScheduledEventAction,
} from '../lambda/contract.js';
import type { NotificationsProps } from './notifications.js';

export type { NotificationsProps } from './notifications.js';

export type OnDrainTimeout = DeadlinePolicy;
export type LifecycleHookResult = 'CONTINUE' | 'ABANDON';

export interface NodeDrainerProps {
  /**
   * The name of the EKS cluster whose nodes are drained. Give this or `cluster`.
   * @default - the name of `cluster`
   */
  readonly clusterName?: string;

  /**
   * The EKS cluster whose nodes are drained (e.g. `eks.Cluster.fromClusterAttributes`). Give this or
   * `clusterName`. Its name may be a token (a cluster of the same app), except with `discover`.
   * @default - the cluster named `clusterName`
   */
  readonly cluster?: eks.ICluster;

  /**
   * The cluster's node Auto Scaling Groups, by name; each gets the termination lifecycle hook. At
   * least one group or node group (by name or as a construct), unless `discover`.
   * @default - none
   */
  readonly autoScalingGroupNames?: readonly string[];

  /**
   * The cluster's node Auto Scaling Groups as constructs (e.g. an `autoscaling.AutoScalingGroup` of the
   * same app, or `AutoScalingGroup.fromAutoScalingGroupName`), beside `autoScalingGroupNames`; each gets
   * the termination lifecycle hook.
   * @default - none
   */
  readonly autoScalingGroups?: readonly autoscaling.IAutoScalingGroup[];

  /**
   * EKS managed node groups of the cluster: each is resolved at deploy time (eks:DescribeNodegroup) to
   * its Auto Scaling Group, which gets the same hook. EKS does not respect PDBs when it terminates a
   * managed node for AZRebalance or a lower desired count, and stops waiting after 15 minutes: the
   * hook makes those terminations wait for the drain.
   * @default - none
   */
  readonly nodegroupNames?: readonly string[];

  /**
   * EKS managed node groups of the cluster as constructs (e.g. `eks.Nodegroup.fromNodegroupName`),
   * beside `nodegroupNames`: resolved the same way to their Auto Scaling Groups.
   * @default - none
   */
  readonly nodegroups?: readonly eks.INodegroup[];

  /**
   * Every Auto Scaling Group of the cluster, now and later: those tagged `eks:cluster-name=<cluster>`
   * (managed node groups) or `kubernetes.io/cluster/<cluster>` = `owned`/`shared`. A reconciler
   * function puts the hook at deploy, every 15 minutes and on CloudTrail's CreateAutoScalingGroup and
   * CreateNodegroup; removing the stack removes the hooks it put. Excludes the groups and node groups above.
   * @default false
   */
  readonly discover?: boolean;

  /**
   * Name of the termination lifecycle hook created on each Auto Scaling Group.
   * @default 'eks-node-drainer'
   */
  readonly lifecycleHookName?: string;

  /**
   * How long a terminating instance waits without a heartbeat before the hook's `defaultResult`
   * applies. Between 30 s and 7200 s. It matters while an event waits for a free execution (more
   * nodes terminating at once than `reservedConcurrency`): see the synth's info annotation.
   * @default twice `drainTimeout`, within 5 min and 2 h
   */
  readonly heartbeatTimeout?: Duration;

  /**
   * How often the drainer records a lifecycle heartbeat; must be shorter than `heartbeatTimeout`.
   * @default Duration.minutes(1)
   */
  readonly heartbeatInterval?: Duration;

  /**
   * The whole drain, across invocations. At least 30 s, and at most what the hook allows:
   * min(100 × `heartbeatTimeout`, 48 h).
   * @default Duration.minutes(15)
   */
  readonly drainTimeout?: Duration;

  /**
   * What happens to pods still blocked at `drainTimeout`: `delete` them gracefully (bypassing PDBs,
   * preStop still runs) then CONTINUE, `continue` leaving them, or `abandon` the termination.
   * @default 'delete'
   */
  readonly onDrainTimeout?: OnDrainTimeout;

  /**
   * What an EC2 rebalance recommendation does to the node: `cordon` it (and exclude it from load
   * balancers, no eviction), `drain` it, or `ignore` it. Spot interruption warnings always drain.
   * @default 'cordon'
   */
  readonly onRebalanceRecommendation?: RebalanceAction;

  /**
   * What a node gets whose instance went outside its group's lifecycle (terminated or stopped by hand,
   * a hardware failure: EC2 state `shutting-down`, `stopping`, `terminated`): `release` its pods at
   * once (the out-of-service taint on Kubernetes 1.28+, pod deletion before), or `ignore` it (then
   * no EventBridge rule takes the account's instance state changes).
   * @default 'release'
   */
  readonly onNodeLost?: NodeLostAction;

  /**
   * What an EC2 scheduled event (AWS Health: instance retirement, stop, reboot maintenance) does to
   * the node of a served group: `replace` cordons it at once and, `scheduledEventLeadTime` before the
   * window, has the group replace the instance (TerminateInstanceInAutoScalingGroup, desired
   * capacity kept; the termination hook drains the node); `cordon` only cordons it; `ignore` adds
   * no rule.
   * @default 'replace'
   */
  readonly onScheduledEvent?: ScheduledEventAction;

  /**
   * How long before a scheduled event's window its replacement is requested. At least
   * `drainTimeout` plus the 5-minute sweep interval, at most 14 days.
   * @default the longer of 1 hour and `drainTimeout` + 10 minutes
   */
  readonly scheduledEventLeadTime?: Duration;

  /**
   * Put a launch lifecycle hook (`<lifecycleHookName>-launch`) on each named or node group: an instance
   * back from the warm pool gets its node uncordoned before it goes InService; every other launch is
   * continued at once. Without it, the node is restored on the group's "EC2 Instance Launch
   * Successful" event. (Not on discovered groups: the reconciler puts termination hooks only.)
   * @default false
   */
  readonly warmPoolLaunchHook?: boolean;

  /**
   * Result the Auto Scaling Group applies when the hook times out (the drainer stopped heartbeating).
   * @default 'CONTINUE'
   */
  readonly defaultResult?: LifecycleHookResult;

  /**
   * Plan only: server-side dry-run evictions, no cordon, no lifecycle completion.
   * @default false
   */
  readonly dryRun?: boolean;

  /**
   * CloudWatch namespace of the drainer's metrics (emitted as EMF log lines).
   * @default 'EksNodeDrainer'
   */
  readonly metricsNamespace?: string;

  /**
   * Label the node `node.kubernetes.io/exclude-from-external-load-balancers=true` with the cordon, so
   * the load balancer controllers start deregistering it while its pods drain.
   * @default true
   */
  readonly excludeFromLoadBalancers?: boolean;

  /**
   * After the pods are gone, wait (within `drainTimeout`) until no ELBv2 target group of the cluster
   * routes to the instance any more (its deregistration delay has run out).
   * @default true
   */
  readonly waitForLoadBalancers?: boolean;

  /**
   * The longest deregistration delay (`deregistration_delay.timeout_seconds`) of the cluster's target
   * groups: `drainTimeout` should leave room for it after the pods are gone (synth warns otherwise).
   * @default Duration.seconds(300), the ELBv2 default
   */
  readonly deregistrationDelay?: Duration;

  /**
   * After the pods are gone, wait (within `drainTimeout`) until no VolumeAttachment remains on the node,
   * so a StatefulSet's replacement can attach its EBS volume at once.
   * @default true
   */
  readonly waitForVolumeDetach?: boolean;

  /**
   * Tell an SNS topic how drains end: one message per drain that did not end `drained` (or every
   * drain), with the outcome, node, instance, blocked pods and their PDBs, what was deleted and the log
   * query. `{}` makes an encrypted topic; give `topic` to use yours, `emailAddresses` to subscribe.
   * @default - no notifications
   */
  readonly notifications?: NotificationsProps;

  /**
   * An SNS topic every alarm of the drainer notifies, when it fires and when it clears (the
   * dead-letter queue, function errors, deadlines reached, expired or already completed actions,
   * heartbeat and notification failures, the reconciler's errors). CloudWatch publishes as the
   * service `cloudwatch.amazonaws.com`: a topic encrypted with the AWS managed key for SNS (as the
   * one `notifications` makes) cannot take its messages; give an unencrypted topic or one whose
   * customer managed key lets CloudWatch use it.
   * @default - the alarms notify nobody (they are on `alarms` and the dashboard; the doctor lists those firing)
   */
  readonly alarmTopic?: sns.ITopic;

  /**
   * Memory of the function in MB.
   * @default 512
   */
  readonly memorySize?: number;

  /**
   * Executions reserved for the drainer: one per node draining at once (a continuation follows its
   * predecessor, it does not run beside it). The account must keep 100 unreserved executions.
   * @default 100
   */
  readonly reservedConcurrency?: number;

  /**
   * Retention of the function's log group.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * Map the function's role to the Kubernetes group `eks-node-drainer` with an EKS access entry.
   * Needs the cluster in `API` or `API_AND_CONFIG_MAP` authentication mode; otherwise set `false` and
   * add the role to the `aws-auth` ConfigMap instead:
   * ```yaml
   * mapRoles: |
   *   - rolearn: <the function's role ARN>
   *     username: eks-node-drainer
   *     groups:
   *       - eks-node-drainer
   * ```
   * @default true
   */
  readonly createAccessEntry?: boolean;

  /**
   * Apply the drainer's Kubernetes RBAC (infra/k8s/rbac.yaml, rbac-delete-pods.yaml for `delete`, and
   * the API Priority and Fairness objects on 1.29+) with the stack: updated when they change, removed
   * on destroy. A custom resource does it; its own role holds an EKS access entry with the cluster admin
   * access policy only while it applies. Needs `createAccessEntry` (API authentication mode); with
   * `false`, apply them with `kubectl` (the stack's `RbacApplyCommand` output).
   * @default - the value of `createAccessEntry`
   */
  readonly applyRbac?: boolean;

  /**
   * VPC to run the function in, for a cluster whose API endpoint is private. The subnets then need
   * a NAT gateway, or interface VPC endpoints for `eks`, `sts`, `autoscaling`, `ec2` and `lambda`
   * (continuation), and the security groups must reach the cluster endpoint on 443.
   * @default - not in a VPC
   */
  readonly vpc?: ec2.IVpc;

  /**
   * Subnets of `vpc` for the function.
   * @default - the VPC's private subnets
   */
  readonly vpcSubnets?: ec2.SubnetSelection;

  /**
   * Security groups of the function in `vpc`.
   * @default - a new security group allowing all outbound traffic
   */
  readonly securityGroups?: ec2.ISecurityGroup[];
}
