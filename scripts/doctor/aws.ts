/**
 * What `npm run doctor` reads from AWS, all read-only: the stack and its resources, the function's
 * environment, the dead-letter queue (a peek: nothing is deleted), the alarms, the rule and the
 * Auto Scaling groups of the cluster with their hooks. Each reader returns plain facts.
 */
import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  DescribeLifecycleHooksCommand,
  type Filter,
} from '@aws-sdk/client-auto-scaling';
import {
  CloudFormationClient,
  DescribeStacksCommand,
  ListStackResourcesCommand,
} from '@aws-sdk/client-cloudformation';
import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { EKSClient } from '@aws-sdk/client-eks';
import { DescribeRuleCommand, EventBridgeClient, TestEventPatternCommand } from '@aws-sdk/client-eventbridge';
import { GetFunctionConfigurationCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';

export interface DoctorClients {
  readonly autoScaling: AutoScalingClient;
  readonly cloudFormation: CloudFormationClient;
  readonly cloudWatch: CloudWatchClient;
  readonly eks: EKSClient;
  readonly eventBridge: EventBridgeClient;
  readonly lambda: LambdaClient;
  readonly sqs: SQSClient;
}

/** Every client with the SDK's standard configuration; `region` overrides the SDK's own. */
export function doctorClients(region?: string): DoctorClients {
  const config = {
    ...(region ? { region } : {}),
    requestHandler: { connectionTimeout: 3_000, requestTimeout: 10_000 },
  };
  return {
    autoScaling: new AutoScalingClient(config),
    cloudFormation: new CloudFormationClient(config),
    cloudWatch: new CloudWatchClient(config),
    eks: new EKSClient(config),
    eventBridge: new EventBridgeClient(config),
    lambda: new LambdaClient(config),
    sqs: new SQSClient(config),
  };
}

export function destroyClients(clients: DoctorClients): void {
  for (const client of Object.values(clients)) client.destroy();
}

export interface StackFacts {
  readonly name: string;
  readonly status: string;
  readonly outputs: Readonly<Record<string, string>>;
  /** resource type → physical ids */
  readonly resources: ReadonlyMap<string, readonly string[]>;
  /**
   * The drainer's termination lifecycle rule (logical id `…LifecycleRule…`): the stack has other rules
   * too (EC2 notices, warm-pool returns, the discovery reconciler's).
   */
  readonly lifecycleRule?: string;
  /** The AWS Health rule (`…ScheduledEventRule…`) and the schedule of replacements (`…ScheduledReplacementsRule…`). */
  readonly scheduledRules?: { readonly event?: string; readonly sweep?: string };
}

/** The stack, or undefined when no stack has that name. */
export async function readStack(client: CloudFormationClient, name: string): Promise<StackFacts | undefined> {
  let stack: { StackStatus?: string; Outputs?: { OutputKey?: string; OutputValue?: string }[] } | undefined;
  try {
    stack = (await client.send(new DescribeStacksCommand({ StackName: name }))).Stacks?.[0];
  } catch (error) {
    if (error instanceof Error && error.name === 'ValidationError' && /does not exist/.test(error.message)) {
      return undefined;
    }
    throw error;
  }
  if (!stack) return undefined;
  const resources = new Map<string, string[]>();
  let lifecycleRule: string | undefined;
  const scheduledRules: { event?: string; sweep?: string } = {};
  let token: string | undefined;
  do {
    const page = await client.send(new ListStackResourcesCommand({ StackName: name, NextToken: token }));
    for (const r of page.StackResourceSummaries ?? []) {
      if (!r.ResourceType || !r.PhysicalResourceId) continue;
      resources.set(r.ResourceType, [...(resources.get(r.ResourceType) ?? []), r.PhysicalResourceId]);
      if (r.ResourceType === 'AWS::Events::Rule' && r.LogicalResourceId?.includes('LifecycleRule')) {
        lifecycleRule = r.PhysicalResourceId;
      }
      if (r.ResourceType === 'AWS::Events::Rule' && r.LogicalResourceId?.includes('ScheduledEventRule'))
        scheduledRules.event = r.PhysicalResourceId;
      if (
        r.ResourceType === 'AWS::Events::Rule' &&
        r.LogicalResourceId?.includes('ScheduledReplacementsRule')
      )
        scheduledRules.sweep = r.PhysicalResourceId;
    }
    token = page.NextToken;
  } while (token);
  const outputs = Object.fromEntries(
    (stack.Outputs ?? []).flatMap((o) =>
      o.OutputKey && o.OutputValue ? [[o.OutputKey, o.OutputValue]] : [],
    ),
  );
  return {
    name,
    status: stack.StackStatus ?? 'UNKNOWN',
    outputs,
    resources,
    ...(lifecycleRule ? { lifecycleRule } : {}),
    scheduledRules,
  };
}

export async function readFunctionEnvironment(
  client: LambdaClient,
  name: string,
): Promise<Record<string, string>> {
  const config = await client.send(new GetFunctionConfigurationCommand({ FunctionName: name }));
  return config.Environment?.Variables ?? {};
}

export interface QueueFacts {
  readonly count: number;
  /** The oldest of the messages peeked at (at most 10). */
  readonly oldest?: { readonly sentAt: number; readonly body: string };
}

/**
 * How many events wait in the queue, and the oldest of the first ten: a peek with visibility timeout
 * 0, so the messages stay visible and are not deleted (their receive count grows; the DLQ has no redrive).
 */
export async function readQueue(client: SQSClient, url: string): Promise<QueueFacts> {
  const attributes = await client.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  const count =
    Number(attributes.Attributes?.ApproximateNumberOfMessages ?? 0) +
    Number(attributes.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
  if (count === 0) return { count };
  const peek = await client.send(
    new ReceiveMessageCommand({
      QueueUrl: url,
      MaxNumberOfMessages: 10,
      VisibilityTimeout: 0,
      WaitTimeSeconds: 0,
      MessageSystemAttributeNames: ['SentTimestamp'],
    }),
  );
  const messages = (peek.Messages ?? []).map((m) => ({
    sentAt: Number(m.Attributes?.SentTimestamp ?? Number.NaN),
    body: m.Body ?? '',
  }));
  const oldest = messages.filter((m) => Number.isFinite(m.sentAt)).sort((a, b) => a.sentAt - b.sentAt)[0];
  return { count, ...(oldest ? { oldest } : {}) };
}

export interface AlarmFacts {
  readonly name: string;
  readonly state: string;
  readonly reason?: string;
  readonly description?: string;
  /** It notifies someone when it fires (an alarm action). */
  readonly notifies: boolean;
}

export async function readAlarms(client: CloudWatchClient, names: readonly string[]): Promise<AlarmFacts[]> {
  if (names.length === 0) return [];
  const alarms: AlarmFacts[] = [];
  // DescribeAlarms takes at most 100 names
  for (let i = 0; i < names.length; i += 100) {
    const answer = await client.send(new DescribeAlarmsCommand({ AlarmNames: names.slice(i, i + 100) }));
    for (const a of answer.MetricAlarms ?? []) {
      alarms.push({
        name: a.AlarmName ?? '?',
        state: a.StateValue ?? 'UNKNOWN',
        notifies: (a.AlarmActions ?? []).length > 0,
        ...(a.StateReason ? { reason: a.StateReason } : {}),
        ...(a.AlarmDescription ? { description: a.AlarmDescription } : {}),
      });
    }
  }
  return alarms;
}

export interface RuleFacts {
  readonly name: string;
  readonly state: string;
  readonly pattern?: string;
}

/** A rule's physical id is its name, or `bus|name` on a custom event bus. */
export async function readRule(client: EventBridgeClient, physicalId: string): Promise<RuleFacts> {
  const [bus, name] = physicalId.includes('|') ? physicalId.split('|', 2) : [undefined, physicalId];
  const rule = await client.send(
    new DescribeRuleCommand({ Name: name, ...(bus ? { EventBusName: bus } : {}) }),
  );
  return {
    name: name ?? physicalId,
    state: rule.State ?? 'UNKNOWN',
    ...(rule.EventPattern ? { pattern: rule.EventPattern } : {}),
  };
}

export async function testPattern(
  client: EventBridgeClient,
  pattern: string,
  event: Record<string, unknown>,
): Promise<boolean> {
  const answer = await client.send(
    new TestEventPatternCommand({ EventPattern: pattern, Event: JSON.stringify(event) }),
  );
  return answer.Result === true;
}

export interface HookFacts {
  readonly name: string;
  readonly transition: string;
  readonly heartbeatTimeout: number;
  readonly globalTimeout?: number;
  readonly defaultResult: string;
}

export interface GroupFacts {
  readonly name: string;
  /** Found by the cluster's tags (as discovery finds them). */
  readonly tagged: boolean;
  /** Named by the drainer (its rule or AUTO_SCALING_GROUP_NAMES). */
  readonly named: boolean;
  /** false: a named group that does not exist. */
  readonly exists: boolean;
  readonly instanceIds: readonly string[];
  readonly hooks: readonly HookFacts[];
}

/** The tags that mark an Auto Scaling group as the cluster's (EKS managed node groups, eksctl, Karpenter-free ASGs). */
export function clusterTagFilters(cluster: string): Filter[][] {
  return [
    [{ Name: 'tag-key', Values: [`kubernetes.io/cluster/${cluster}`] }],
    [{ Name: 'tag:eks:cluster-name', Values: [cluster] }],
  ];
}

/** The cluster's groups by tag, plus the named ones, each with its instances and lifecycle hooks. */
export async function readGroups(
  client: AutoScalingClient,
  cluster: string,
  named: readonly string[],
): Promise<GroupFacts[]> {
  const found = new Map<string, { tagged: boolean; instanceIds: string[] }>();
  const collect = async (
    input: { Filters?: Filter[]; AutoScalingGroupNames?: string[] },
    tagged: boolean,
  ) => {
    let token: string | undefined;
    do {
      const page = await client.send(new DescribeAutoScalingGroupsCommand({ ...input, NextToken: token }));
      for (const group of page.AutoScalingGroups ?? []) {
        if (!group.AutoScalingGroupName) continue;
        const previous = found.get(group.AutoScalingGroupName);
        found.set(group.AutoScalingGroupName, {
          tagged: tagged || previous?.tagged === true,
          instanceIds: (group.Instances ?? []).flatMap((i) => (i.InstanceId ? [i.InstanceId] : [])),
        });
      }
      token = page.NextToken;
    } while (token);
  };
  for (const filters of clusterTagFilters(cluster)) await collect({ Filters: filters }, true);
  for (let i = 0; i < named.length; i += 50) {
    await collect({ AutoScalingGroupNames: named.slice(i, i + 50) }, false);
  }
  const names = [...new Set([...found.keys(), ...named])].sort();
  return Promise.all(
    names.map(async (name): Promise<GroupFacts> => {
      const group = found.get(name);
      const base = { name, tagged: group?.tagged === true, named: named.includes(name) };
      if (!group) return { ...base, exists: false, instanceIds: [], hooks: [] };
      const answer = await client.send(new DescribeLifecycleHooksCommand({ AutoScalingGroupName: name }));
      const hooks = (answer.LifecycleHooks ?? []).map((h) => ({
        name: h.LifecycleHookName ?? '',
        transition: h.LifecycleTransition ?? '',
        heartbeatTimeout: h.HeartbeatTimeout ?? 3600,
        ...(h.GlobalTimeout === undefined ? {} : { globalTimeout: h.GlobalTimeout }),
        defaultResult: h.DefaultResult ?? 'ABANDON',
      }));
      return { ...base, exists: true, instanceIds: group.instanceIds, hooks };
    }),
  );
}
