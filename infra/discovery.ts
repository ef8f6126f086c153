/**
 * Discovery (`discover: true`): the reconciler function (lambda/reconciler/handler.ts) puts the
 * drainer's hook on every Auto Scaling Group tagged for the cluster, at deploy (a custom resource,
 * whose Delete removes the hooks it put), every 15 minutes, and when CloudTrail reports a new group
 * or node group. Its IAM: describe calls on '*' (no resource-level permissions), writes only on groups
 * tagged for the cluster, deletes only where its own record tag names the hook.
 */
import { CustomResource, Duration, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  CREATED_HOOK_TAG_PREFIX,
  EKS_CLUSTER_TAG,
  KUBERNETES_CLUSTER_TAG_PREFIX,
  KUBERNETES_CLUSTER_TAG_VALUES,
} from '../lambda/contract.js';
import { ASYNC_RETRIES, bundledFunction } from './functions.js';
import { autoScalingGroupArn, type HookSpec, NAG_PSEUDO_PARAMETERS } from './hooks.js';

/** The scheduled pass that catches what no CloudTrail event announced (a tag added later, a missed event). */
export const RECONCILE_INTERVAL = Duration.minutes(15);

/** The conditions that make a group the cluster's: one per way of tagging it (IAM ORs statements). */
export function clusterTagConditions(clusterName: string): Record<string, Record<string, unknown>>[] {
  return [
    { StringEquals: { [`autoscaling:ResourceTag/${EKS_CLUSTER_TAG}`]: clusterName } },
    {
      StringEquals: {
        [`autoscaling:ResourceTag/${KUBERNETES_CLUSTER_TAG_PREFIX}${clusterName}`]: [
          ...KUBERNETES_CLUSTER_TAG_VALUES,
        ],
      },
    },
  ];
}

export interface DiscoveryProps {
  readonly clusterName: string;
  readonly hook: HookSpec;
  readonly deadLetterQueue: sqs.IQueue;
  /** Hooks hold instances only while the drain path exists: put after it, removed before it. */
  readonly drainPath: readonly Construct[];
}

export class Discovery extends Construct {
  readonly function: lambda.Function;
  readonly role: iam.Role;
  readonly hooks: CustomResource;
  readonly rules: events.Rule[];
  readonly errorAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: DiscoveryProps) {
    super(scope, id);
    const { clusterName, hook, deadLetterQueue } = props;
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `eks-node-drainer reconciler: the termination hook on EKS cluster ${clusterName}'s Auto Scaling Groups`,
    });
    this.grantPermissions(clusterName, hook.lifecycleHookName);
    this.function = bundledFunction(this, 'Function', {
      entry: 'lambda/reconciler/handler.ts',
      description: `Puts the eks-node-drainer hook on every Auto Scaling Group of EKS cluster ${clusterName}`,
      memorySize: 256,
      // one pass at a time: two would race to put the same hook
      reservedConcurrentExecutions: 1,
      role: this.role,
      deadLetterQueue,
      environment: {
        CLUSTER_NAME: clusterName,
        HOOK_NAME: hook.lifecycleHookName,
        HOOK_HEARTBEAT_TIMEOUT_SECONDS: String(hook.heartbeatTimeout),
        HOOK_DEFAULT_RESULT: hook.defaultResult,
        LOG_LEVEL: 'info',
      },
    });
    // the settings are properties so that changing one updates the resource (and the hooks)
    this.hooks = new CustomResource(this, 'Hooks', {
      serviceToken: this.function.functionArn,
      resourceType: 'Custom::EksNodeDrainerHooks',
      properties: {
        ClusterName: clusterName,
        HookName: hook.lifecycleHookName,
        HeartbeatTimeout: hook.heartbeatTimeout,
        DefaultResult: hook.defaultResult,
      },
    });
    this.hooks.node.addDependency(this.role, ...props.drainPath);

    const target = new targets.LambdaFunction(this.function, { ...ASYNC_RETRIES, deadLetterQueue });
    this.rules = [
      new events.Rule(this, 'Schedule', {
        description: `Puts the eks-node-drainer hook on new Auto Scaling Groups of EKS cluster ${clusterName}`,
        schedule: events.Schedule.rate(RECONCILE_INTERVAL),
        targets: [target],
      }),
      new events.Rule(this, 'GroupCreated', {
        description: `New Auto Scaling Groups and EKS node groups (CloudTrail), for EKS cluster ${clusterName}'s hook`,
        eventPattern: {
          source: ['aws.autoscaling', 'aws.eks'],
          detailType: ['AWS API Call via CloudTrail'],
          detail: {
            eventSource: ['autoscaling.amazonaws.com', 'eks.amazonaws.com'],
            eventName: ['CreateAutoScalingGroup', 'CreateNodegroup'],
          },
        },
        targets: [target],
      }),
    ];
    // the rules go first on removal: nothing re-puts a hook after the custom resource removed it
    for (const rule of this.rules) rule.node.addDependency(this.hooks);

    this.errorAlarm = new cloudwatch.Alarm(this, 'ErrorAlarm', {
      alarmDescription:
        'The hook reconciler failed: an Auto Scaling Group of the cluster may be without the drain hook',
      metric: this.function.metricErrors({ period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.acknowledgeNagFindings();
  }

  private grantPermissions(clusterName: string, hookName: string): void {
    const anyGroup = autoScalingGroupArn('*');
    const marker = `${CREATED_HOOK_TAG_PREFIX}${clusterName}`;
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        // no resource-level permissions: '*' is the only valid resource
        actions: ['autoscaling:DescribeAutoScalingGroups', 'autoscaling:DescribeLifecycleHooks'],
        resources: ['*'],
      }),
    );
    for (const condition of clusterTagConditions(clusterName)) {
      this.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['autoscaling:PutLifecycleHook'],
          resources: [anyGroup],
          conditions: condition,
        }),
      );
      this.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['autoscaling:CreateOrUpdateTags'],
          resources: [anyGroup],
          conditions: { ...condition, 'ForAllValues:StringEquals': { 'aws:TagKeys': [marker] } },
        }),
      );
    }
    // removal: only where its record names the hook, and only the record itself
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['autoscaling:DeleteLifecycleHook'],
        resources: [anyGroup],
        conditions: { StringEquals: { [`autoscaling:ResourceTag/${marker}`]: hookName } },
      }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['autoscaling:DeleteTags'],
        resources: [anyGroup],
        conditions: {
          StringEquals: { [`autoscaling:ResourceTag/${marker}`]: hookName },
          'ForAllValues:StringEquals': { 'aws:TagKeys': [marker] },
        },
      }),
    );
  }

  private acknowledgeNagFindings(): void {
    const policy = this.role.node.findChild('DefaultPolicy');
    Validations.of(policy).acknowledge(
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'autoscaling:DescribeAutoScalingGroups and DescribeLifecycleHooks support no resource-level permissions; they are the only actions on "*".',
      },
      {
        id: `AwsSolutions-IAM5[Resource::${autoScalingGroupArn('*', NAG_PSEUDO_PARAMETERS)}]`,
        reason:
          'The groups are discovered, not named: every write is conditioned on the cluster tags of the group (or, to delete, on the record tag naming the hook).',
      },
    );
    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'nodejs22.x is the runtime the project targets and tests (ARCHITECTURE.md); moving on is a deliberate change.',
    });
  }
}
