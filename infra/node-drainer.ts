import { Annotations, Duration, Stack, Validations } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as eks from 'aws-cdk-lib/aws-eks';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

import {
  AUTO_SCALING_GROUP_NAMES_ENV,
  DEFAULT_DEADLINE_POLICY,
  DEFAULT_METRICS_NAMESPACE,
  DISCOVER_ENV,
  KUBERNETES_GROUP,
} from '../lambda/contract.js';
import { clusterTagConditions, Discovery } from './discovery.js';
import { addEc2Rules } from './ec2-rules.js';
import { ASYNC_RETRIES, bundledFunction } from './functions.js';
import { addHealthRules } from './health-rules.js';
import { autoScalingGroupArn, type HookedGroup, hookSpec, NAG_PSEUDO_PARAMETERS, putHooks } from './hooks.js';
import { acknowledgeProviderFindings, resolveNodegroups } from './nodegroups.js';
import { DrainNotifications } from './notifications.js';
import { createAlarms, createDashboard, drainMetrics, notifyOnAlarms } from './observability.js';
import type { NodeDrainerProps, OnDrainTimeout } from './props.js';
import { ClusterRbac } from './rbac.js';
import { nodesDrainableAtOnce, type Settings, validate, warnIfNoRoomForDeregistration } from './settings.js';
import { hookedGroups } from './targets.js';

export { KUBERNETES_GROUP } from '../lambda/contract.js';
export type { LifecycleHookResult, NodeDrainerProps, NotificationsProps, OnDrainTimeout } from './props.js';

const DEFAULT_RESERVED_CONCURRENCY = 100;

/**
 * Drains an EKS node before its Auto Scaling Group terminates the instance: a termination lifecycle
 * hook on each group, an EventBridge rule for their lifecycle events, and the drainer function.
 * The Kubernetes RBAC is applied by the stack (`applyRbac`, infra/rbac.ts) in API authentication mode;
 * otherwise the user applies it: `rbacApplyCommand(onDrainTimeout)` (lambda/contract.ts).
 */
export class NodeDrainer extends Construct {
  readonly function: lambda.Function;
  readonly role: iam.Role;
  /** Receives events that failed for good: invocations after their retries, and undeliverable events. */
  readonly deadLetterQueue: sqs.Queue;
  readonly rule: events.Rule;
  /** Spot interruptions and rebalance recommendations, warm-pool returns (and launch actions with `warmPoolLaunchHook`). */
  readonly ec2Rules: events.Rule[];
  /** EC2 scheduled events (AWS Health) and, with `replace`, the schedule of due replacements; none with `ignore`. */
  readonly healthRules: events.Rule[];
  /** The drainer's alarms (the reconciler's: `discovery.errorAlarm`); with `alarmTopic`, all of them notify it. */
  readonly alarms: cloudwatch.Alarm[];
  readonly dashboard: cloudwatch.Dashboard;
  /** With `discover`: the reconciler that puts the hooks. */
  readonly discovery?: Discovery;
  /** With `applyRbac`: the custom resource that applies the drainer's RBAC to the cluster. */
  readonly rbac?: ClusterRbac;
  /** The function's deadline policy (its `ON_DRAIN_TIMEOUT`): it decides the RBAC the cluster needs. */
  readonly onDrainTimeout: OnDrainTimeout;
  /** With `notifications`: the topic told how drains end. */
  readonly notificationTopic?: sns.ITopic;

  constructor(scope: Construct, id: string, props: NodeDrainerProps) {
    super(scope, id);
    const settings = validate(props);
    this.onDrainTimeout = props.onDrainTimeout ?? DEFAULT_DEADLINE_POLICY;
    const { clusterName, lifecycleHookName } = settings;
    // named groups (tokens when given as constructs) and the node groups' groups (tokens); none with discovery
    const groups: HookedGroup[] = [
      ...hookedGroups(this, settings.autoScalingGroups),
      ...resolveNodegroups(this, clusterName, settings.nodegroups),
    ];
    const groupNames = groups.map((g) => g.name);

    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `eks-node-drainer for EKS cluster ${clusterName}`,
    });
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.function = this.createFunction(props, settings, groupNames);
    const continuationPolicy = this.grantPermissions(
      settings,
      groupNames,
      props.waitForLoadBalancers ?? true,
    );

    // EventBridge receives lifecycle actions by default: the hooks need no notification target.
    this.rule = new events.Rule(this, 'LifecycleRule', {
      description: `Termination lifecycle actions of EKS cluster ${clusterName}'s nodes`,
      eventPattern: {
        source: ['aws.autoscaling'],
        detailType: ['EC2 Instance-terminate Lifecycle Action'],
        // with discovery, any group's hook of this name: the handler checks the group's tags
        detail: {
          ...(settings.discover ? {} : { AutoScalingGroupName: groupNames }),
          LifecycleHookName: [lifecycleHookName],
        },
      },
      targets: [
        new targets.LambdaFunction(this.function, {
          ...ASYNC_RETRIES,
          deadLetterQueue: this.deadLetterQueue,
        }),
      ],
    });

    // Hooks hold instances only while the whole drain path is in place: created after it, deleted before it.
    const drainPath: Construct[] = [this.function, this.rule, continuationPolicy];
    if (props.createAccessEntry ?? true) {
      const accessEntry = new eks.CfnAccessEntry(this, 'AccessEntry', {
        clusterName,
        principalArn: this.role.roleArn,
        type: 'STANDARD',
        kubernetesGroups: [KUBERNETES_GROUP],
      });
      drainPath.push(accessEntry);
    }
    if (props.applyRbac ?? props.createAccessEntry ?? true) {
      this.rbac = new ClusterRbac(this, 'Rbac', {
        clusterName,
        onDrainTimeout: this.onDrainTimeout,
        deadLetterQueue: this.deadLetterQueue,
        vpc: props.vpc,
        vpcSubnets: props.vpcSubnets,
        securityGroups: props.securityGroups,
      });
      drainPath.push(this.rbac);
    }

    this.ec2Rules = addEc2Rules(this, {
      clusterName,
      groups,
      discover: settings.discover,
      lifecycleHookName,
      warmPoolLaunchHook: props.warmPoolLaunchHook ?? false,
      instanceStates: (props.onNodeLost ?? 'release') === 'release',
      target: () =>
        new targets.LambdaFunction(this.function, {
          ...ASYNC_RETRIES,
          deadLetterQueue: this.deadLetterQueue,
        }),
      drainPath,
    });
    this.healthRules = addHealthRules(this, {
      clusterName,
      onScheduledEvent: settings.onScheduledEvent,
      target: (event) =>
        new targets.LambdaFunction(this.function, {
          ...ASYNC_RETRIES,
          deadLetterQueue: this.deadLetterQueue,
          ...(event ? { event } : {}),
        }),
      role: this.role,
      groupNames,
      discover: settings.discover,
    });
    putHooks(this, groups, hookSpec(settings), drainPath);
    if (settings.discover) {
      this.discovery = new Discovery(this, 'Discovery', {
        clusterName,
        hook: hookSpec(settings),
        deadLetterQueue: this.deadLetterQueue,
        drainPath,
      });
    }

    const metrics = drainMetrics(props.metricsNamespace ?? DEFAULT_METRICS_NAMESPACE, clusterName);
    this.alarms = createAlarms(this, this.function, this.deadLetterQueue, metrics);
    this.dashboard = createDashboard(this, clusterName, this.function, this.deadLetterQueue, metrics);
    if (props.notifications) {
      const notifications = new DrainNotifications(this, 'Notifications', props.notifications, {
        function: this.function,
        role: this.role,
        metric: metrics,
      });
      this.notificationTopic = notifications.topic;
      this.alarms.push(notifications.alarm);
    }
    if (props.alarmTopic) {
      notifyOnAlarms(props.alarmTopic, [
        ...this.alarms,
        ...(this.discovery ? [this.discovery.errorAlarm] : []),
      ]);
    }
    this.acknowledgeNagFindings(settings, groups, props.vpc !== undefined);
    acknowledgeProviderFindings(this);

    warnIfNoRoomForDeregistration(this, props, settings.drainTimeout);
    const reserved = props.reservedConcurrency ?? DEFAULT_RESERVED_CONCURRENCY;
    Annotations.of(this).addInfo(
      `eks-node-drainer: up to ${nodesDrainableAtOnce(reserved, settings.heartbeatTimeout, settings.drainTimeout)} nodes ` +
        `may terminate at once before a queued drain could find its lifecycle action expired ` +
        `(reservedConcurrency ${reserved} × (heartbeatTimeout ${settings.heartbeatTimeout.toSeconds()} s ÷ drainTimeout ${settings.drainTimeout.toSeconds()} s + 1))`,
    );
  }

  private createFunction(props: NodeDrainerProps, settings: Settings, groupNames: string[]): lambda.Function {
    if (props.vpc) {
      // ENI management; none of its actions supports resource-level permissions
      this.role.addManagedPolicy(
        iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaVPCAccessExecutionRole'),
      );
    }
    return bundledFunction(this, 'Function', {
      entry: 'lambda/handler.ts',
      description: `Drains EKS cluster ${settings.clusterName}'s nodes before their instances terminate`,
      // bench/ measured a peak RSS of 150 MiB draining 110 pods (SDK bundled): 256 MB would leave little
      // headroom, and Lambda's CPU share grows with memory, which shortens the cold start and each poll
      memorySize: props.memorySize ?? 512,
      // Mass scale-in (an instance refresh, a big scale-down) starts one drain per node at once. Reserving
      // keeps other functions from throttling the drainer: a throttled event waits in Lambda's queue
      // while the hook's heartbeat timeout runs out, and the node dies undrained. The cap also bounds
      // the load on the apiserver (each drain keeps at most 32 evictions in flight).
      reservedConcurrentExecutions: props.reservedConcurrency ?? DEFAULT_RESERVED_CONCURRENCY,
      role: this.role,
      deadLetterQueue: this.deadLetterQueue,
      logRetention: props.logRetention,
      environment: {
        CLUSTER_NAME: settings.clusterName,
        // the groups served: an event for another one is foreign (lambda/aws/groups.ts)
        ...(settings.discover
          ? { [DISCOVER_ENV]: 'true' }
          : { [AUTO_SCALING_GROUP_NAMES_ENV]: groupNames.join(',') }),
        DRAIN_TIMEOUT_SECONDS: String(settings.drainTimeout.toSeconds()),
        ON_DRAIN_TIMEOUT: this.onDrainTimeout,
        DRY_RUN: String(props.dryRun ?? false),
        HEARTBEAT_INTERVAL_SECONDS: String(settings.heartbeatInterval.toSeconds()),
        EXCLUDE_FROM_LOAD_BALANCERS: String(props.excludeFromLoadBalancers ?? true),
        WAIT_FOR_LOAD_BALANCERS: String(props.waitForLoadBalancers ?? true),
        WAIT_FOR_VOLUME_DETACH: String(props.waitForVolumeDetach ?? true),
        LOG_LEVEL: 'info',
        METRICS_NAMESPACE: props.metricsNamespace ?? DEFAULT_METRICS_NAMESPACE,
        ON_REBALANCE_RECOMMENDATION: props.onRebalanceRecommendation ?? 'cordon',
        ON_NODE_LOST: props.onNodeLost ?? 'release',
        LIFECYCLE_HOOK_NAME: settings.lifecycleHookName,
        ON_SCHEDULED_EVENT: settings.onScheduledEvent,
        SCHEDULED_EVENT_LEAD_SECONDS: String(settings.scheduledEventLeadTime.toSeconds()),
      },
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets,
      securityGroups: props.securityGroups,
    });
  }

  private grantPermissions(
    { clusterName, discover }: Settings,
    groupNames: string[],
    readLoadBalancers: boolean,
  ): iam.Policy {
    const lifecycleActions = [
      'autoscaling:CompleteLifecycleAction',
      'autoscaling:RecordLifecycleActionHeartbeat',
    ];
    if (discover) {
      // the groups are not known at deploy time: any group tagged for the cluster
      for (const conditions of clusterTagConditions(clusterName)) {
        this.role.addToPrincipalPolicy(
          new iam.PolicyStatement({
            actions: lifecycleActions,
            resources: [autoScalingGroupArn('*')],
            conditions,
          }),
        );
      }
    } else {
      this.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: lifecycleActions,
          resources: groupNames.map((name) => autoScalingGroupArn(name)),
        }),
      );
    }
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['eks:DescribeCluster'],
        resources: [
          Stack.of(this).formatArn({ service: 'eks', resource: 'cluster', resourceName: clusterName }),
        ],
      }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        // None supports resource-level permissions: '*' is the only valid resource. DescribeInstances
        // finds the node name and the instance's IPs; DescribeAutoScalingInstances checks that a
        // hand-made (manual) event's instance really is in Terminating:Wait; the ELBv2 reads find the
        // cluster's target groups (by tag) and whether the instance still is one of their targets;
        // DescribeSpotInstanceRequests confirms that EC2 marked a Spot instance for interruption.
        actions: [
          'ec2:DescribeInstances',
          'ec2:DescribeSpotInstanceRequests',
          'autoscaling:DescribeAutoScalingInstances',
          // with discovery, the event's group's tags say whether it is the cluster's
          ...(discover ? ['autoscaling:DescribeAutoScalingGroups'] : []),
          ...(readLoadBalancers
            ? [
                'elasticloadbalancing:DescribeTargetGroups',
                'elasticloadbalancing:DescribeTags',
                'elasticloadbalancing:DescribeTargetHealth',
              ]
            : []),
        ],
        resources: ['*'],
      }),
    );
    // A policy of its own: the function depends on its role's default policy, so a statement naming
    // the function there would be a dependency cycle.
    return new iam.Policy(this, 'ContinuationPolicy', {
      roles: [this.role],
      statements: [
        new iam.PolicyStatement({
          actions: ['lambda:InvokeFunction'],
          resources: [this.function.functionArn],
        }),
      ],
    });
  }

  private acknowledgeNagFindings(
    { discover }: Settings,
    groups: readonly HookedGroup[],
    inVpc: boolean,
  ): void {
    const policy = this.role.node.findChild('DefaultPolicy');
    Validations.of(policy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'ec2:DescribeInstances, ec2:DescribeSpotInstanceRequests, autoscaling:DescribeAutoScalingInstances and the elasticloadbalancing Describe* reads (and DescribeAutoScalingGroups with discovery) support no resource-level permissions; they are the only actions on "*".',
    });
    for (const { id, name, nagName } of groups) {
      Validations.of(policy).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${autoScalingGroupArn(nagName ?? name, NAG_PSEUDO_PARAMETERS)}]`,
        reason: `The ARN of Auto Scaling Group ${nagName ? `of ${id}` : name} embeds a UUID unknown before deployment; the statement is pinned to the group by name.`,
      });
    }
    if (discover) {
      Validations.of(policy).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${autoScalingGroupArn('*', NAG_PSEUDO_PARAMETERS)}]`,
        reason:
          'With discovery the groups are not known at deploy time: the lifecycle calls are conditioned on the cluster tags of the group.',
      });
    }

    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is the dead-letter queue (Lambda on-failure destination and EventBridge target DLQ).',
    });
    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'nodejs22.x is the runtime the project targets and tests (ARCHITECTURE.md); moving on is a deliberate change.',
    });
    if (inVpc) {
      Validations.of(this.role).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
        reason: 'Lambda needs ENI permissions in a VPC; the AWS-managed policy grants exactly those.',
      });
    }
  }
}
