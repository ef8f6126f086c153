/**
 * The doctor's checks in order: stack, node groups, the function's own view (a check request to the
 * function), the drainability audit. Every call is a read; a failing read becomes a ✘ line of its own
 * and the other checks go on. Only what makes every check moot stops the run: no credentials, no
 * region, an unknown cluster.
 */

import { type ClusterEndpoint, describeCluster } from '../../lambda/aws/eks.js';
import { type CheckLine, line } from '../../lambda/check/report.js';
import { type Config, loadConfig } from '../../lambda/config.js';
import { DEFAULT_HOOK_NAME, stackName } from '../../lambda/contract.js';
import { CHECK_REQUEST, lifecycleEvent } from '../../lambda/event.js';
import { invokeFunction } from '../invoke/aws.js';
import { explain } from '../invoke/errors.js';
import type { DoctorOptions } from './args.js';
import { auditLines } from './audit.js';
import {
  type DoctorClients,
  destroyClients,
  doctorClients,
  type GroupFacts,
  type RuleFacts,
  readAlarms,
  readFunctionEnvironment,
  readGroups,
  readQueue,
  readRule,
  readStack,
  testPattern,
} from './aws.js';
import {
  alarmsLine,
  configLine,
  deployCommand,
  groupLine,
  noGroupsLine,
  queueLine,
  ruleMatchLine,
  ruleStateLine,
  stackLine,
} from './checks.js';
import { operatorKubeConfig, readCluster } from './kube.js';
import { type DoctorReport, report, type Section } from './render.js';
import { scheduledEventsLine } from './scheduled.js';

/** An instance id for the real-shaped lifecycle events the rule is tested with. */
const SAMPLE_INSTANCE = 'i-0123456789abcdef0';

export async function runDoctor(options: DoctorOptions, now: () => number = Date.now): Promise<DoctorReport> {
  const clients = doctorClients(options.region);
  try {
    let region = options.region ?? '?';
    let endpoint: ClusterEndpoint;
    try {
      region = await clients.eks.config.region();
      endpoint = await describeCluster(clients.eks, options.cluster);
    } catch (error) {
      return report(options.cluster, region, [], fatal(error, options.cluster, region));
    }
    return report(options.cluster, region, await sections(options, clients, region, endpoint, now));
  } finally {
    destroyClients(clients);
  }
}

function fatal(error: unknown, cluster: string, region: string): string {
  if (error instanceof Error && error.name === 'ResourceNotFoundException') {
    return `no EKS cluster ${cluster} in ${region} (check --cluster and --region, or AWS_REGION)`;
  }
  return explain(error).message;
}

async function sections(
  options: DoctorOptions,
  clients: DoctorClients,
  region: string,
  endpoint: ClusterEndpoint,
  now: () => number,
): Promise<Section[]> {
  const { cluster } = options;
  const stack: Section['checks'][number][] = [];
  const name = options.stackName ?? stackName(cluster);
  const read = await attempt(stack, 'stack.deployed', `reading stack ${name}`, async () => ({
    facts: await readStack(clients.cloudFormation, name),
  }));
  const facts = read?.facts;
  const resource = (type: string) => (facts?.resources.get(type) ?? [])[0];

  // the rule tells which groups and which hook the drainer serves
  const ruleId = facts?.lifecycleRule;
  const rule = ruleId
    ? await attempt(stack, 'rule.enabled', `reading rule ${ruleId}`, () =>
        readRule(clients.eventBridge, ruleId),
      )
    : undefined;
  const pattern = patternFacts(rule);

  const functionName =
    options.functionName ?? facts?.outputs.FunctionName ?? resource('AWS::Lambda::Function');
  let config: Config = loadConfig({ CLUSTER_NAME: cluster });
  let namedByFunction: string[] = [];
  const groupNames = (extra: readonly string[] = []) =>
    [...new Set([...pattern.groups, ...namedByFunction, ...extra])].sort();
  if (functionName) {
    const env = await attempt(stack, 'stack.function-config', `reading function ${functionName}`, () =>
      readFunctionEnvironment(clients.lambda, functionName),
    );
    if (env) {
      const checked = configLine(cluster, functionName, env, loadConfig);
      stack.push(checked.line);
      if (checked.config) config = checked.config;
      namedByFunction = (env.AUTO_SCALING_GROUP_NAMES ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    }
  } else {
    stack.push(
      line(
        'stack.function-config',
        'fail',
        'no drainer function found (no stack): give --function or deploy',
      ),
    );
  }
  if (facts) {
    const queueUrl = facts.outputs.DeadLetterQueueUrl ?? resource('AWS::SQS::Queue');
    if (queueUrl) {
      const queue = await attempt(stack, 'stack.dead-letter-queue', 'reading the dead-letter queue', () =>
        readQueue(clients.sqs, queueUrl),
      );
      if (queue) stack.push(queueLine(queueUrl, queue, now()));
    } else stack.push(line('stack.dead-letter-queue', 'fail', `stack ${name} has no dead-letter queue`));
    const alarmNames = facts.resources.get('AWS::CloudWatch::Alarm') ?? [];
    const alarms = await attempt(stack, 'stack.alarms', 'reading the alarms', () =>
      readAlarms(clients.cloudWatch, alarmNames),
    );
    if (alarms) stack.push(alarmsLine(alarms));
    const readIf = (id?: string) => (id ? readRule(clients.eventBridge, id) : undefined);
    const scheduled = await attempt(
      stack,
      'stack.scheduled-events',
      'reading the scheduled-event rules',
      async () => ({
        event: await readIf(facts.scheduledRules?.event),
        sweep: await readIf(facts.scheduledRules?.sweep),
      }),
    );
    if (scheduled) stack.push(scheduledEventsLine(config, scheduled, deployCommand(cluster, [])));
  }

  const groupsSection: CheckLine[] = [];
  const groups =
    (await attempt(groupsSection, 'asg.read', 'reading Auto Scaling groups', () =>
      readGroups(clients.autoScaling, cluster, groupNames()),
    )) ?? [];
  // the stack's hooks are named by their physical id; the rule's pattern only says what it waits for
  const hookName = resource('AWS::AutoScaling::LifecycleHook') ?? pattern.hook ?? DEFAULT_HOOK_NAME;
  const covered = groups.filter((g) => g.exists && hasHook(g, hookName)).map((g) => g.name);
  if (read) {
    const existing = groups.filter((g) => g.exists).map((g) => g.name);
    stack.unshift(stackLine(cluster, name, facts, region, existing));
  }
  if (groups.length === 0 && groupsSection.length === 0) groupsSection.push(noGroupsLine(cluster));
  for (const group of groups)
    groupsSection.push(groupLine(cluster, group, hookName, config, groupNames(covered)));
  if (rule) {
    groupsSection.push(ruleStateLine(rule));
    for (const group of groups.filter((g) => g.exists)) {
      const event = lifecycleEvent(
        { autoScalingGroupName: group.name, hookName, instanceId: SAMPLE_INSTANCE },
        { region },
      );
      const matched = await attempt(
        groupsSection,
        `rule.matches.${group.name}`,
        `testing rule ${rule.name}`,
        () => testPattern(clients.eventBridge, rule.pattern ?? '{}', event),
      );
      if (matched !== undefined)
        groupsSection.push(ruleMatchLine(cluster, rule, group.name, hookName, matched, groupNames(covered)));
    }
  } else if (facts) {
    groupsSection.push(
      line(
        'rule.enabled',
        'fail',
        `stack ${name} has no EventBridge rule: no lifecycle event reaches the drainer`,
      ),
    );
  }

  return [
    { id: 'stack', title: 'The stack', checks: stack },
    { id: 'node-groups', title: 'Node groups and the EventBridge rule', checks: groupsSection },
    {
      id: 'function',
      title: "The function's own view (check request)",
      checks: await functionLines(functionName, region),
    },
    {
      id: 'audit',
      title: 'Drainability audit (read-only, your kubeconfig)',
      checks: await audit(options, endpoint, groups, covered, config, now),
    },
  ];
}

function hasHook(group: GroupFacts, hookName: string): boolean {
  return group.hooks.some(
    (h) => h.name === hookName && h.transition === 'autoscaling:EC2_INSTANCE_TERMINATING',
  );
}

/** The ASG names and the hook name in the rule's pattern (`detail.AutoScalingGroupName`, `detail.LifecycleHookName`). */
function patternFacts(rule: RuleFacts | undefined): { groups: string[]; hook?: string } {
  try {
    const detail = (JSON.parse(rule?.pattern ?? '{}') as { detail?: Record<string, unknown> }).detail ?? {};
    const strings = (value: unknown) =>
      Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
    const hook = strings(detail.LifecycleHookName)[0];
    return { groups: strings(detail.AutoScalingGroupName), ...(hook ? { hook } : {}) };
  } catch {
    return { groups: [] };
  }
}

async function functionLines(functionName: string | undefined, region: string): Promise<CheckLine[]> {
  if (!functionName)
    return [line('function.invoke', 'fail', 'not checked: no drainer function (no stack; give --function)')];
  try {
    const result = await invokeFunction(functionName, { ...CHECK_REQUEST }, region);
    if (result.functionError) {
      const { errorType, errorMessage } = result.functionError;
      return [
        line(
          'function.invoke',
          'fail',
          `function ${functionName} failed the check request: ${errorType ? `${errorType}: ` : ''}${errorMessage}`,
          {
            fix: 'see the function log; a configuration error names the variable and value',
          },
        ),
      ];
    }
    const checks = result.summary?.check?.checks;
    if (!checks) {
      return [
        line(
          'function.invoke',
          'fail',
          `function ${functionName} does not answer check requests (outcome ${result.summary?.outcome}): an older drainer?`,
          {
            fix: 'redeploy the stack from this version (npx cdk deploy …)',
          },
        ),
      ];
    }
    return [
      line('function.invoke', 'pass', `function ${functionName} answered the check request`),
      ...checks,
    ];
  } catch (error) {
    return [
      line(
        'function.invoke',
        'fail',
        `invoking ${functionName} failed: ${error instanceof Error ? error.message : String(error)}`,
      ),
    ];
  }
}

async function audit(
  options: DoctorOptions,
  endpoint: ClusterEndpoint,
  groups: readonly GroupFacts[],
  covered: readonly string[],
  config: Config,
  now: () => number,
): Promise<CheckLine[]> {
  let facts: Awaited<ReturnType<typeof readCluster>>;
  try {
    const kc = operatorKubeConfig(options);
    const server = kc.getCurrentCluster()?.server ?? '';
    if (server.replace(/\/$/, '').toLowerCase() !== endpoint.endpoint.replace(/\/$/, '').toLowerCase()) {
      return [
        line(
          'audit.kubeconfig',
          'warn',
          `not audited: the kubeconfig's cluster ${server} is not ${options.cluster}'s endpoint ${endpoint.endpoint}`,
          {
            fix: `aws eks update-kubeconfig --name ${options.cluster}, or give --kubeconfig / --context`,
          },
        ),
      ];
    }
    facts = await readCluster(kc, options.namespaces);
  } catch (error) {
    return [
      line(
        'audit.kubeconfig',
        'warn',
        `not audited: ${error instanceof Error ? error.message : String(error)}`,
        {
          fix: `aws eks update-kubeconfig --name ${options.cluster}, or give --kubeconfig / --context`,
        },
      ),
    ];
  }
  const coveredInstances = new Set(
    groups.filter((g) => covered.includes(g.name)).flatMap((g) => g.instanceIds),
  );
  const { tickets, ...read } = facts;
  return auditLines({
    ...read,
    ...(tickets ? { tickets: { items: tickets, readAt: now() } } : {}),
    coveredInstances,
    drainTimeoutSeconds: config.drainTimeoutSeconds,
    onDrainTimeout: config.onDrainTimeout,
  });
}

/** Runs one read; its failure becomes a ✘ line (`id`) and the result undefined. */
async function attempt<T>(
  lines: CheckLine[],
  id: string,
  what: string,
  read: () => Promise<T>,
): Promise<T | undefined> {
  try {
    return await read();
  } catch (error) {
    const failure = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    lines.push(line(id, 'fail', `${what} failed: ${failure}`));
    return undefined;
  }
}
