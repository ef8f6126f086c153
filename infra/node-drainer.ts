import { fileURLToPath } from 'node:url';
import { Annotations, Aws, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as eks from 'aws-cdk-lib/aws-eks';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

import {
  DEFAULT_METRICS_NAMESPACE,
  type DeadlinePolicy,
  KUBERNETES_GROUP,
  type RebalanceAction,
} from '../lambda/contract.js';
import { addEc2Rules } from './ec2-rules.js';
import { createAlarms, createDashboard, drainMetrics } from './observability.js';
import { nodesDrainableAtOnce, type Settings, validate, warnIfNoRoomForDeregistration } from './settings.js';

export { KUBERNETES_GROUP } from '../lambda/contract.js';
export type OnDrainTimeout = DeadlinePolicy;
export type LifecycleHookResult = 'CONTINUE' | 'ABANDON';

const DEFAULT_RESERVED_CONCURRENCY = 100;

const fromRepoRoot = (path: string) => fileURLToPath(new URL(`../${path}`, import.meta.url));

// Past an hour, a lifecycle action that got no heartbeat has long since timed out; retrying is moot.
const ASYNC_RETRIES = { retryAttempts: 2, maxEventAge: Duration.hours(1) };

export interface NodeDrainerProps {
  /** The EKS cluster whose nodes are drained. */
  readonly clusterName: string;

  /** The cluster's node Auto Scaling Groups; each gets the termination lifecycle hook. At least one. */
  readonly autoScalingGroupNames: readonly string[];

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
   * Put a launch lifecycle hook (`<lifecycleHookName>-launch`) on each group: an instance back from the
   * warm pool gets its node uncordoned before it goes InService; every other launch is continued at
   * once. Without it, the node is restored on the group's "EC2 Instance Launch Successful" event.
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

/**
 * Drains an EKS node before its Auto Scaling Group terminates the instance: a termination lifecycle
 * hook on each group, an EventBridge rule for their lifecycle events, and the drainer function.
 * The user applies the Kubernetes RBAC once: `kubectl apply -f infra/k8s/rbac.yaml`.
 */
export class NodeDrainer extends Construct {
  readonly function: nodejs.NodejsFunction;
  readonly role: iam.Role;
  /** Receives events that failed for good: invocations after their retries, and undeliverable events. */
  readonly deadLetterQueue: sqs.Queue;
  readonly rule: events.Rule;
  /** Spot interruptions and rebalance recommendations, warm-pool returns (and launch actions with `warmPoolLaunchHook`). */
  readonly ec2Rules: events.Rule[];
  readonly alarms: cloudwatch.Alarm[];
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: NodeDrainerProps) {
    super(scope, id);
    const settings = validate(props);
    const { clusterName, autoScalingGroupNames, lifecycleHookName } = settings;

    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `eks-node-drainer for EKS cluster ${clusterName}`,
    });
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.function = this.createFunction(props, settings);
    const continuationPolicy = this.grantPermissions(settings, props.waitForLoadBalancers ?? true);

    // EventBridge receives lifecycle actions by default: the hooks need no notification target.
    this.rule = new events.Rule(this, 'LifecycleRule', {
      description: `Termination lifecycle actions of EKS cluster ${clusterName}'s nodes`,
      eventPattern: {
        source: ['aws.autoscaling'],
        detailType: ['EC2 Instance-terminate Lifecycle Action'],
        detail: { AutoScalingGroupName: [...autoScalingGroupNames], LifecycleHookName: [lifecycleHookName] },
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
    this.ec2Rules = addEc2Rules(this, {
      ...settings,
      warmPoolLaunchHook: props.warmPoolLaunchHook ?? false,
      target: () =>
        new targets.LambdaFunction(this.function, {
          ...ASYNC_RETRIES,
          deadLetterQueue: this.deadLetterQueue,
        }),
      drainPath,
    });
    if (props.createAccessEntry ?? true) {
      const accessEntry = new eks.CfnAccessEntry(this, 'AccessEntry', {
        clusterName,
        principalArn: this.role.roleArn,
        type: 'STANDARD',
        kubernetesGroups: [KUBERNETES_GROUP],
      });
      drainPath.push(accessEntry);
    }

    for (const autoScalingGroupName of autoScalingGroupNames) {
      const hook = new autoscaling.CfnLifecycleHook(
        this,
        `LifecycleHook-${autoScalingGroupName.replaceAll('/', '-')}`,
        {
          autoScalingGroupName,
          lifecycleHookName,
          lifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
          heartbeatTimeout: settings.heartbeatTimeout.toSeconds(),
          defaultResult: props.defaultResult ?? 'CONTINUE',
        },
      );
      hook.node.addDependency(...drainPath);
    }

    const metrics = drainMetrics(props.metricsNamespace ?? DEFAULT_METRICS_NAMESPACE, clusterName);
    this.alarms = createAlarms(this, this.function, this.deadLetterQueue, metrics);
    this.dashboard = createDashboard(this, clusterName, this.function, this.deadLetterQueue, metrics);
    this.acknowledgeNagFindings(settings, props.vpc !== undefined);

    warnIfNoRoomForDeregistration(this, props, settings.drainTimeout);
    const reserved = props.reservedConcurrency ?? DEFAULT_RESERVED_CONCURRENCY;
    Annotations.of(this).addInfo(
      `eks-node-drainer: up to ${nodesDrainableAtOnce(reserved, settings.heartbeatTimeout, settings.drainTimeout)} nodes ` +
        `may terminate at once before a queued drain could find its lifecycle action expired ` +
        `(reservedConcurrency ${reserved} × (heartbeatTimeout ${settings.heartbeatTimeout.toSeconds()} s ÷ drainTimeout ${settings.drainTimeout.toSeconds()} s + 1))`,
    );
  }

  private createFunction(props: NodeDrainerProps, settings: Settings): nodejs.NodejsFunction {
    if (props.vpc) {
      // ENI management; none of its actions supports resource-level permissions
      this.role.addManagedPolicy(
        iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaVPCAccessExecutionRole'),
      );
    }
    const logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    });
    // instead of the managed basic execution policy, which may write to every log group
    logGroup.grantWrite(this.role);

    return new nodejs.NodejsFunction(this, 'Function', {
      description: `Drains EKS cluster ${settings.clusterName}'s nodes before their instances terminate`,
      entry: fromRepoRoot('lambda/handler.ts'),
      handler: 'handler',
      projectRoot: fromRepoRoot(''),
      depsLockFilePath: fromRepoRoot('package-lock.json'),
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      // a longer drain continues in a fresh invocation before this runs out
      timeout: Duration.minutes(15),
      // bench/ measured a peak RSS of 150 MiB draining 110 pods (SDK bundled): 256 MB would leave little
      // headroom, and Lambda's CPU share grows with memory, which shortens the cold start and each poll
      memorySize: props.memorySize ?? 512,
      // Mass scale-in (an instance refresh, a big scale-down) starts one drain per node at once. Reserving
      // keeps other functions from throttling the drainer: a throttled event waits in Lambda's queue
      // while the hook's heartbeat timeout runs out, and the node dies undrained. The cap also bounds
      // the load on the apiserver (each drain keeps at most 32 evictions in flight).
      reservedConcurrentExecutions: props.reservedConcurrency ?? DEFAULT_RESERVED_CONCURRENCY,
      role: this.role,
      logGroup,
      environment: {
        CLUSTER_NAME: settings.clusterName,
        DRAIN_TIMEOUT_SECONDS: String(settings.drainTimeout.toSeconds()),
        ON_DRAIN_TIMEOUT: props.onDrainTimeout ?? 'delete',
        DRY_RUN: String(props.dryRun ?? false),
        HEARTBEAT_INTERVAL_SECONDS: String(settings.heartbeatInterval.toSeconds()),
        EXCLUDE_FROM_LOAD_BALANCERS: String(props.excludeFromLoadBalancers ?? true),
        WAIT_FOR_LOAD_BALANCERS: String(props.waitForLoadBalancers ?? true),
        WAIT_FOR_VOLUME_DETACH: String(props.waitForVolumeDetach ?? true),
        LOG_LEVEL: 'info',
        METRICS_NAMESPACE: props.metricsNamespace ?? DEFAULT_METRICS_NAMESPACE,
        ON_REBALANCE_RECOMMENDATION: props.onRebalanceRecommendation ?? 'cordon',
        LIFECYCLE_HOOK_NAME: settings.lifecycleHookName,
        NODE_OPTIONS: '--enable-source-maps',
      },
      bundling: {
        format: nodejs.OutputFormat.ESM,
        minify: true,
        sourceMap: true,
        // stack traces need the mappings only; the sources would just weigh on the bundle
        sourcesContent: false,
        target: 'node22',
        mainFields: ['module', 'main'],
        // CommonJS dependencies call require(), which an ESM bundle does not have
        banner: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
        forceDockerBundling: false,
        // bench/: loading the runtime's whole CommonJS SDK took 540 ms at cold start, the tree-shaken
        // bundled SDK 253 ms; it also runs the SDK version the tests ran
        bundleAwsSDK: true,
      },
      ...ASYNC_RETRIES,
      onFailure: new SqsDestination(this.deadLetterQueue),
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets,
      securityGroups: props.securityGroups,
    });
  }

  private grantPermissions(
    { clusterName, autoScalingGroupNames }: Settings,
    readLoadBalancers: boolean,
  ): iam.Policy {
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['autoscaling:CompleteLifecycleAction', 'autoscaling:RecordLifecycleActionHeartbeat'],
        resources: autoScalingGroupNames.map((name) => autoScalingGroupArn(name)),
      }),
    );
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
        // cluster's target groups (by tag) and whether the instance still is one of their targets.
        actions: [
          'ec2:DescribeInstances',
          'autoscaling:DescribeAutoScalingInstances',
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

  private acknowledgeNagFindings({ autoScalingGroupNames }: Settings, inVpc: boolean): void {
    const policy = this.role.node.findChild('DefaultPolicy');
    Validations.of(policy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'ec2:DescribeInstances, autoscaling:DescribeAutoScalingInstances and the elasticloadbalancing Describe* reads support no resource-level permissions; they are the only actions on "*".',
    });
    for (const name of autoScalingGroupNames) {
      Validations.of(policy).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${autoScalingGroupArn(name, NAG_PSEUDO_PARAMETERS)}]`,
        reason: `The ARN of Auto Scaling Group ${name} embeds a UUID unknown before deployment; the statement is pinned to the group by name.`,
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

const PSEUDO_PARAMETERS = { partition: Aws.PARTITION, region: Aws.REGION, account: Aws.ACCOUNT_ID };
/** How cdk-nag spells pseudo parameters in the id of a finding. */
const NAG_PSEUDO_PARAMETERS = {
  partition: '<AWS::Partition>',
  region: '<AWS::Region>',
  account: '<AWS::AccountId>',
};

/** The group's UUID is unknown before deployment: the name pins the ARN. */
function autoScalingGroupArn(name: string, { partition, region, account } = PSEUDO_PARAMETERS): string {
  return `arn:${partition}:autoscaling:${region}:${account}:autoScalingGroup:*:autoScalingGroupName/${name}`;
}
