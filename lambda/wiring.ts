/**
 * The container's adapters: AWS SDK clients, the EKS token source and the Kubernetes connection, made
 * once per container. The handler loads this module (dynamic import) only for an event it acts on, so
 * an ignored or invalid event loads no AWS SDK client and no Kubernetes client.
 */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { EC2Client } from '@aws-sdk/client-ec2';
import { EKSClient } from '@aws-sdk/client-eks';
import type { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SelfInvocation } from './aws/continuation.js';
import { describeCluster, eksToken, TokenSource } from './aws/eks.js';
import { servedGroups } from './aws/groups.js';
import { describeInstanceFacts } from './aws/instance-state.js';
import { Ec2Instances } from './aws/instances.js';
import { AutoScalingLifecycle, describeAutoScalingInstance } from './aws/lifecycle.js';
import { AutoScalingReplacement } from './aws/replacement.js';
import { runFunctionCheck } from './check/check.js';
import { KubeClusterCheck } from './check/kube.js';
import type { FunctionCheckReport } from './check/report.js';
import type { Config } from './config.js';
import { KUBERNETES_GROUP } from './contract.js';
import { type Clock, type ClusterPort, systemClock } from './drain/ports.js';
import type { TurnsPort } from './drain/turns.js';
import type { WarmPoolLaunch } from './event.js';
import type { JobPorts } from './job/job.js';
import type { LostPorts } from './job/lost.js';
import type { NoticePorts } from './job/notice.js';
import type { GroupsPort, JobStorePort, LoadBalancerPort } from './job/ports.js';
import type { ActionRef } from './job/record.js';
import type { ScheduledPorts } from './job/scheduled.js';
import type { MarksPort, WarmPoolPorts } from './job/warm-pool.js';
import { KubeCluster } from './kube/cluster.js';
import { eksKubeConfig, lazyCluster } from './kube/eks-cluster.js';
import { KubeJobStore } from './kube/job-store.js';
import { KubeMarks } from './kube/marks.js';
import { KubeLostNodes } from './kube/out-of-service.js';
import { KubeScheduledMarks } from './kube/scheduled-marks.js';
import { KubeTurns } from './kube/turns.js';
import type { NotificationPort } from './notify/notify.js';

type Kube = {
  readonly cluster: KubeCluster;
  readonly marks: KubeMarks;
  readonly scheduled: KubeScheduledMarks;
  readonly store: KubeJobStore;
  readonly lost: KubeLostNodes;
  turns(node: string): KubeTurns;
};

// A hung AWS call must not eat the invocation: bounded connect and request times, SDK retries on top.
const sdk = { requestHandler: { connectionTimeout: 3_000, requestTimeout: 10_000 } };

export class Wiring {
  private readonly autoScaling = new AutoScalingClient(sdk);
  private readonly ec2 = new EC2Client(sdk);
  private readonly eks = new EKSClient(sdk);
  private lambda?: LambdaClient;
  private elbv2?: Promise<ElasticLoadBalancingV2Client>;
  private topic?: Promise<NotificationPort>;
  private kube?: Promise<Kube>;
  private readonly tokens: TokenSource;
  /** The Auto Scaling groups this drainer serves: AUTO_SCALING_GROUP_NAMES, or the cluster's tags with discovery. */
  readonly groups: GroupsPort;

  constructor(private readonly config: Config) {
    this.groups = servedGroups(config, this.autoScaling, systemClock);
    this.tokens = new TokenSource(async (signingDate) =>
      eksToken({
        clusterName: config.clusterName,
        region: await this.eks.config.region(),
        credentials: this.eks.config.credentials,
        sha256: this.eks.config.sha256,
        signingDate,
      }),
    );
  }

  /** The cluster, connecting on first use (a failed connection is retried by the drain). */
  cluster(): ClusterPort {
    return lazyCluster(async () => (await this.connect()).cluster);
  }

  /** The warm-pool marks on nodes, connecting on first use like the cluster. */
  readonly marks: MarksPort = {
    read: async (node) => (await this.connect()).marks.read(node),
    markedNodes: async () => (await this.connect()).marks.markedNodes(),
    restore: async (node, mark, undo, now) => (await this.connect()).marks.restore(node, mark, undo, now),
  };

  /** The nodes' job records, connecting on first use like the cluster. */
  private readonly store: JobStorePort = {
    read: async (node) => (await this.connect()).store.read(node),
    write: async (node, version, record, mark) =>
      (await this.connect()).store.write(node, version, record, mark),
  };

  /** What one invocation's part of a node's job talks to; the continuation re-sends `event`. */
  async forJob(functionArn: string, event: Readonly<Record<string, unknown>>): Promise<JobPorts> {
    this.lambda ??= new LambdaClient(sdk);
    return {
      cluster: this.cluster(),
      store: this.store,
      lifecycle: (action: ActionRef) =>
        new AutoScalingLifecycle(this.autoScaling, {
          autoScalingGroupName: action.group,
          hookName: action.hook,
          instanceId: action.instanceId,
          ...(action.token ? { token: action.token } : {}),
        }),
      instances: new Ec2Instances(this.ec2),
      ...(this.config.waitForLoadBalancers ? { loadBalancers: await this.loadBalancers() } : {}),
      continuation: new SelfInvocation(this.lambda, functionArn, event),
      turns: (node) => this.turnsFor(node),
    };
  }

  /** The PDB queues for a node, connecting on first use like the cluster. */
  private turnsFor(node: string): TurnsPort {
    let made: Promise<KubeTurns> | undefined;
    const turns = (): Promise<KubeTurns> => {
      made ??= this.connect().then(
        (kube) => kube.turns(node),
        (error: unknown) => {
          made = undefined;
          throw error;
        },
      );
      return made;
    };
    return {
      follow: async (onChange) => (await turns()).follow(onChange),
      take: async (pdb) => (await turns()).take(pdb),
      release: async (pdb) => (await turns()).release(pdb),
      heartbeat: async () => (await turns()).heartbeat(),
      endHeartbeat: async () => (await turns()).endHeartbeat(),
    };
  }

  /** What a Spot interruption or rebalance recommendation talks to (lambda/job/notice.ts). */
  async forNotice(functionArn: string, event: Readonly<Record<string, unknown>>): Promise<NoticePorts> {
    return {
      ...(await this.forJob(functionArn, event)),
      groups: this.groups,
      describeInstance: (id) => describeAutoScalingInstance(this.autoScaling, id),
    };
  }

  /** What an instance that went outside its group's lifecycle talks to (lambda/job/lost.ts). */
  forLost(): LostPorts {
    const lost = async () => (await this.connect()).lost;
    return {
      groups: this.groups,
      ec2Instance: (id) => describeInstanceFacts(this.ec2, id),
      autoScalingInstance: (id) => describeAutoScalingInstance(this.autoScaling, id),
      cluster: this.cluster(),
      nodes: {
        outOfServiceTaint: async () => (await lost()).outOfServiceTaint(),
        read: async (node, now) => (await lost()).read(node, now),
        mark: async (node, mark, taint) => (await lost()).mark(node, mark, taint),
        deletePods: async (node) => (await lost()).deletePods(node),
        restore: async (node, mark, now) => (await lost()).restore(node, mark, now),
      },
    };
  }

  /** What an EC2 scheduled event and the sweep of due replacements talk to (lambda/job/scheduled.ts). */
  forScheduled(): ScheduledPorts {
    const scheduled = async () => (await this.connect()).scheduled;
    return {
      cluster: this.cluster(),
      instances: new Ec2Instances(this.ec2),
      groups: this.groups,
      describeInstance: (id) => describeAutoScalingInstance(this.autoScaling, id),
      replacement: new AutoScalingReplacement(this.autoScaling),
      marks: {
        plan: async (node, mark, now) => (await scheduled()).plan(node, mark, now),
        read: async (node) => (await scheduled()).read(node),
        planned: async () => (await scheduled()).planned(),
        settle: async (node, mark, state, now) => (await scheduled()).settle(node, mark, state, now),
        cancel: async (node, arn, now) => (await scheduled()).cancel(node, arn, now),
      },
    };
  }

  /** What an instance back from the warm pool talks to (lambda/drain/warm-pool.ts). */
  forLaunch({ instanceId, autoScalingGroupName, action }: WarmPoolLaunch): WarmPoolPorts {
    return {
      cluster: this.cluster(),
      instances: new Ec2Instances(this.ec2),
      marks: this.marks,
      ...(action
        ? {
            launchAction: new AutoScalingLifecycle(this.autoScaling, {
              autoScalingGroupName,
              instanceId,
              ...action,
            }),
          }
        : {}),
    };
  }

  /** The self-check (npm run doctor): DescribeCluster, then what the function's identity may do. */
  selfCheck(clock: Clock): Promise<FunctionCheckReport> {
    return runFunctionCheck(this.config.clusterName, {
      describeCluster: () => describeCluster(this.eks, this.config.clusterName),
      connect: (endpoint) => new KubeClusterCheck(eksKubeConfig(endpoint, () => this.tokens.token())),
      clock,
      kubernetesGroup: KUBERNETES_GROUP,
      onDrainTimeout: this.config.onDrainTimeout,
      onNodeLost: this.config.onNodeLost,
    });
  }

  /** The notification topic (NOTIFICATION_TOPIC_ARN): the SNS client loads with the first drain told. */
  notifications(): Promise<NotificationPort> {
    const topicArn = this.config.notifications?.topicArn;
    if (!topicArn) return Promise.reject(new Error('no notification topic is configured'));
    this.topic ??= Promise.all([import('@aws-sdk/client-sns'), import('./aws/notifications.js')]).then(
      ([{ SNSClient }, { SnsNotifications }]) => new SnsNotifications(new SNSClient(sdk), topicArn),
      (error: unknown) => {
        this.topic = undefined;
        throw error;
      },
    );
    return this.topic;
  }

  /** The ELBv2 client is loaded only by invocations that wait for load balancers. */
  private async loadBalancers(): Promise<LoadBalancerPort> {
    this.elbv2 ??= import('@aws-sdk/client-elastic-load-balancing-v2').then(
      ({ ElasticLoadBalancingV2Client }) => new ElasticLoadBalancingV2Client(sdk),
    );
    const { Elbv2Registrations } = await import('./aws/load-balancers.js');
    // per invocation: it caches the cluster's target groups for this drain only
    return new Elbv2Registrations(await this.elbv2, this.config.clusterName);
  }

  /** One client per container: DescribeCluster and the eviction-version discovery happen once. */
  private connect(): Promise<Kube> {
    this.kube ??= describeCluster(this.eks, this.config.clusterName).then(
      (endpoint) => {
        const kubeConfig = eksKubeConfig(endpoint, () => this.tokens.token());
        const invalidate = (): void => this.tokens.invalidate();
        return {
          cluster: new KubeCluster(kubeConfig, invalidate),
          marks: new KubeMarks(kubeConfig, invalidate),
          scheduled: new KubeScheduledMarks(kubeConfig, invalidate),
          store: new KubeJobStore(kubeConfig, invalidate),
          lost: new KubeLostNodes(kubeConfig, invalidate),
          turns: (node: string) => new KubeTurns(kubeConfig, node, Date.now, invalidate),
        };
      },
      (error: unknown) => {
        this.kube = undefined;
        throw error;
      },
    );
    return this.kube;
  }
}
