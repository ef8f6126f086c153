/** Sections 1 and 2 of the doctor: the stack and the node groups, from facts to checklist lines (pure). */
import { type CheckLine, line } from '../../lambda/check/report.js';
import type { Config } from '../../lambda/config.js';
import { ConfigError } from '../../lambda/errors.js';
import { TERMINATING } from '../../lambda/event.js';
import type { AlarmFacts, GroupFacts, HookFacts, QueueFacts, RuleFacts, StackFacts } from './aws.js';

/** The lifecycle hook's own limits: its action lasts at most min(100 × heartbeat timeout, 48 h). */
const HOOK_GLOBAL_TIMEOUT_FACTOR = 100;
const HOOK_GLOBAL_TIMEOUT_MAX_SECONDS = 172_800;

export function deployCommand(cluster: string, groups: readonly string[]): string {
  const names = groups.length > 0 ? groups.join(',') : '<asg-a,asg-b>';
  return `npx cdk deploy -c clusterName=${cluster} -c autoScalingGroupNames=${names}`;
}

export function stackLine(
  cluster: string,
  name: string,
  stack: StackFacts | undefined,
  region: string,
  groups: readonly string[],
): CheckLine {
  if (!stack) {
    return line(
      'stack.deployed',
      'fail',
      `no stack ${name} in ${region}: the drainer is not deployed for cluster ${cluster}`,
      {
        fix: deployCommand(cluster, groups),
      },
    );
  }
  const status = stack.status;
  if (/_IN_PROGRESS$/.test(status)) {
    return line(
      'stack.deployed',
      'warn',
      `stack ${name} is changing (${status}): run the doctor again when it is done`,
    );
  }
  if (/FAILED$|ROLLBACK_COMPLETE$|^DELETE_COMPLETE$/.test(status)) {
    return line('stack.deployed', 'fail', `stack ${name} is ${status}`, {
      fix: deployCommand(cluster, groups),
    });
  }
  return line('stack.deployed', 'pass', `stack ${name} deployed (${status})`);
}

/** The function's environment through the function's own parser (lambda/config.ts). */
export function configLine(
  cluster: string,
  functionName: string,
  env: Record<string, string>,
  load: (env: Record<string, string>) => Config,
): { line: CheckLine; config?: Config } {
  let config: Config;
  try {
    config = load(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return {
      line: line(
        'stack.function-config',
        'fail',
        `function ${functionName}: invalid configuration: ${error.message}`,
        {
          fix: `${deployCommand(cluster, [])} (the stack sets the environment from its context)`,
        },
      ),
    };
  }
  if (config.clusterName !== cluster) {
    return {
      line: line(
        'stack.function-config',
        'fail',
        `function ${functionName} drains cluster ${config.clusterName}, not ${cluster}`,
        {
          fix: 'check --function (or --stack): it names another cluster’s drainer',
        },
      ),
      config,
    };
  }
  const summary = `DRAIN_TIMEOUT_SECONDS=${config.drainTimeoutSeconds} ON_DRAIN_TIMEOUT=${config.onDrainTimeout} HEARTBEAT_INTERVAL_SECONDS=${config.heartbeatIntervalSeconds}`;
  if (config.dryRun) {
    return {
      line: line(
        'stack.function-config',
        'warn',
        `function ${functionName}: DRY_RUN=true: nodes are not drained, hooks time out into their default result`,
        {
          fix: `${deployCommand(cluster, [])} -c dryRun=false`,
        },
      ),
      config,
    };
  }
  return {
    line: line('stack.function-config', 'pass', `function ${functionName} configuration valid: ${summary}`),
    config,
  };
}

export function queueLine(url: string, queue: QueueFacts, now: number): CheckLine {
  if (queue.count === 0) return line('stack.dead-letter-queue', 'pass', 'dead-letter queue empty');
  const oldest = queue.oldest;
  const since = oldest
    ? `, oldest from ${new Date(oldest.sentAt).toISOString()} (${age(now - oldest.sentAt)} ago)`
    : '';
  return line(
    'stack.dead-letter-queue',
    'fail',
    `${queue.count} event(s) in the dead-letter queue${since}: drains that failed for good`,
    {
      details: oldest ? [`oldest: ${describeEvent(oldest.body)}`] : [],
      fix: `read the function's log for "invocation failed" at that time; once the cause is fixed: aws sqs purge-queue --queue-url ${url}`,
    },
  );
}

/** The ASG and instance of a dead-lettered event (Lambda's on-failure record or the event itself). */
function describeEvent(body: string): string {
  try {
    const parsed = JSON.parse(body) as Record<string, unknown>;
    const event = (parsed.requestPayload ?? parsed) as { detail?: Record<string, unknown> };
    const detail = event.detail ?? {};
    if (typeof detail.EC2InstanceId === 'string') {
      return `instance ${detail.EC2InstanceId} of ASG ${String(detail.AutoScalingGroupName)}`;
    }
  } catch {
    // not JSON: shown as is
  }
  return body.length > 120 ? `${body.slice(0, 120)}…` : body;
}

export function alarmsLine(alarms: readonly AlarmFacts[]): CheckLine {
  const firing = alarms.filter((a) => a.state === 'ALARM');
  // the stack's default: an alarm only the dashboard and this check show
  const silent = alarms.some((a) => !a.notifies)
    ? `; ${alarms.every((a) => !a.notifies) ? 'none notifies' : 'not all notify'} anyone (deploy with -c alarmTopicArn=<a standard SNS topic>)`
    : '';
  if (firing.length === 0) {
    return line('stack.alarms', 'pass', `${alarms.length} alarm(s), none in ALARM${silent}`);
  }
  return line(
    'stack.alarms',
    'warn',
    `${firing.length} of ${alarms.length} alarm(s) in ALARM: ${firing.map((a) => a.name).join(', ')}${silent}`,
    {
      details: firing.map((a) =>
        `${a.name}: ${a.description ?? ''} ${a.reason ? `(${a.reason})` : ''}`.trim(),
      ),
      fix: 'see the drainer dashboard and the function log; kubectl describe node shows the drain events',
    },
  );
}

export function ruleStateLine(rule: RuleFacts): CheckLine {
  if (rule.state === 'ENABLED') return line('rule.enabled', 'pass', `EventBridge rule ${rule.name} enabled`);
  return line(
    'rule.enabled',
    'fail',
    `EventBridge rule ${rule.name} is ${rule.state}: no lifecycle event reaches the drainer`,
    {
      fix: `aws events enable-rule --name ${rule.name}`,
    },
  );
}

export function ruleMatchLine(
  cluster: string,
  rule: RuleFacts,
  group: string,
  hook: string,
  matched: boolean,
  covered: readonly string[],
): CheckLine {
  const id = `rule.matches.${group}`;
  if (matched)
    return line(
      id,
      'pass',
      `rule ${rule.name} matches a termination lifecycle event of ${group} (hook ${hook})`,
    );
  return line(
    id,
    'fail',
    `rule ${rule.name} does not match a termination lifecycle event of ${group} (hook ${hook}): the drainer never hears of its terminations`,
    {
      fix: deployCommand(cluster, [...new Set([...covered, group])].sort()),
    },
  );
}

/** One line per Auto Scaling group of the cluster: is its termination hook there, and does it fit? */
export function groupLine(
  cluster: string,
  group: GroupFacts,
  hookName: string,
  config: Pick<Config, 'drainTimeoutSeconds' | 'heartbeatIntervalSeconds' | 'onDrainTimeout'>,
  covered: readonly string[],
): CheckLine {
  const id = `asg.${group.name}`;
  const how = group.tagged ? 'tagged for the cluster' : 'named by the drainer';
  if (!group.exists) {
    return line(id, 'fail', `Auto Scaling group ${group.name} (named by the drainer) does not exist`, {
      fix: deployCommand(
        cluster,
        covered.filter((n) => n !== group.name),
      ),
    });
  }
  const hook = group.hooks.find((h) => h.name === hookName && h.transition === TERMINATING);
  if (!hook) {
    return line(
      id,
      'fail',
      `${group.name} (${how}) has no termination hook ${hookName}: its instances terminate undrained (scale-in, AZ rebalance)`,
      {
        fix: deployCommand(cluster, [...new Set([...covered, group.name])].sort()),
      },
    );
  }
  return hookLine(id, cluster, group.name, hook, config, covered);
}

function hookLine(
  id: string,
  cluster: string,
  group: string,
  hook: HookFacts,
  config: Pick<Config, 'drainTimeoutSeconds' | 'heartbeatIntervalSeconds' | 'onDrainTimeout'>,
  covered: readonly string[],
): CheckLine {
  const hb = hook.heartbeatTimeout;
  const drain = config.drainTimeoutSeconds;
  const global =
    hook.globalTimeout ?? Math.min(HOOK_GLOBAL_TIMEOUT_FACTOR * hb, HOOK_GLOBAL_TIMEOUT_MAX_SECONDS);
  const facts = `heartbeat timeout ${hb} s, default result ${hook.defaultResult}`;
  const redeploy = (extra: string) => `${deployCommand(cluster, covered)} ${extra}`;
  if (hb <= config.heartbeatIntervalSeconds) {
    return line(
      id,
      'fail',
      `${group}: hook ${hook.name} ${facts}: not longer than the heartbeat interval ${config.heartbeatIntervalSeconds} s, the action expires between heartbeats`,
      {
        fix: redeploy(`-c heartbeatTimeoutSeconds=${2 * drain}`),
      },
    );
  }
  if (global < drain) {
    return line(
      id,
      'fail',
      `${group}: hook ${hook.name} ${facts}: the action ends after ${global} s, before the drain timeout ${drain} s`,
      {
        fix: redeploy(`-c heartbeatTimeoutSeconds=${Math.ceil(drain / HOOK_GLOBAL_TIMEOUT_FACTOR) * 2}`),
      },
    );
  }
  const deadlineResult = config.onDrainTimeout === 'abandon' ? 'ABANDON' : 'CONTINUE';
  if (hook.defaultResult !== deadlineResult) {
    return line(
      id,
      'warn',
      `${group}: hook ${hook.name} ${facts}: a drainer that stops heartbeating ends ${hook.defaultResult}, one at its deadline ${deadlineResult} (ON_DRAIN_TIMEOUT=${config.onDrainTimeout})`,
      {
        fix: redeploy(''),
      },
    );
  }
  if (hb < drain) {
    return line(
      id,
      'warn',
      `${group}: hook ${hook.name} ${facts}: shorter than the drain timeout ${drain} s, a drain queued behind the reserved concurrency may find its action expired`,
      {
        fix: redeploy(`-c heartbeatTimeoutSeconds=${Math.min(7_200, 2 * drain)}`),
      },
    );
  }
  return line(id, 'pass', `${group}: hook ${hook.name} (${facts}) fits the drain timeout ${drain} s`);
}

export function noGroupsLine(cluster: string): CheckLine {
  return line(
    'asg.none',
    'fail',
    `no Auto Scaling group found for cluster ${cluster} (tags kubernetes.io/cluster/${cluster} or eks:cluster-name=${cluster}, or named by the drainer)`,
    {
      fix: deployCommand(cluster, []),
    },
  );
}

function age(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7_200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3_600)} h`;
  return `${Math.round(s / 86_400)} d`;
}
