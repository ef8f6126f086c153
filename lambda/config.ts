import {
  AUTO_SCALING_GROUP_NAMES_ENV,
  DEFAULT_DEADLINE_POLICY,
  DEFAULT_HOOK_NAME,
  DEFAULT_NOTIFY_ON,
  DEFAULT_SCHEDULED_EVENT_ACTION,
  DEFAULT_SCHEDULED_EVENT_LEAD_SECONDS,
  DISCOVER_ENV,
  NODE_LOST_ACTIONS,
  NOTIFICATION_TOPIC_ARN_ENV,
  NOTIFY_ON_ENV,
  NOTIFY_ON_VALUES,
  type NodeLostAction,
  type NotifyOn,
  REBALANCE_ACTIONS,
  type RebalanceAction,
  SCHEDULED_EVENT_ACTIONS,
  type ScheduledEventAction,
  STANDARD_TOPIC_ARN,
} from './contract.js';
import { DEADLINE_POLICIES, type DeadlinePolicy } from './drain/drain.js';
import { ConfigError } from './errors.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Config {
  readonly clusterName: string;
  /** The whole drain, across invocations, measured from the lifecycle action's start. */
  readonly drainTimeoutSeconds: number;
  readonly onDrainTimeout: DeadlinePolicy;
  readonly dryRun: boolean;
  /** RecordLifecycleActionHeartbeat interval; keep it well below the hook's heartbeat timeout. */
  readonly heartbeatIntervalSeconds: number;
  readonly logLevel: LogLevel;
  readonly maxConcurrentEvictions: number;
  /** Every pod is offered an eviction at least this long before a deadline policy acts on it. */
  readonly minEvictionWindowSeconds: number;
  /** Label the node node.kubernetes.io/exclude-from-external-load-balancers=true with the cordon. */
  readonly excludeFromLoadBalancers: boolean;
  /** After the pods are gone, wait until no ELBv2 target group of the cluster routes to the instance. */
  readonly waitForLoadBalancers: boolean;
  /** After the pods are gone, wait until no VolumeAttachment remains on the node. */
  readonly waitForVolumeDetach: boolean;
  /** CloudWatch namespace of the EMF metrics. */
  readonly metricsNamespace: string;
  /**
   * The Auto Scaling groups served (AUTO_SCALING_GROUP_NAMES, set by the stack); an event for another
   * group is foreign. Undefined: no allow-list (a local or manual run) or discovery decides.
   */
  readonly autoScalingGroupNames?: readonly string[];
  /** DISCOVER_AUTO_SCALING_GROUPS: a group is served when it carries the cluster's tags. */
  readonly discoverAutoScalingGroups: boolean;
  /** What an EC2 rebalance recommendation does: cordon (and exclude from load balancers), drain, or nothing. */
  readonly onRebalanceRecommendation: RebalanceAction;
  /** The termination lifecycle hook a Spot drain completes when the instance waits in Terminating:Wait. */
  readonly lifecycleHookName: string;
  /** NOTIFICATION_TOPIC_ARN and NOTIFY_ON: where and which drain ends are told; undefined: no topic. */
  readonly notifications?: NotificationConfig;
  /** What a node whose instance went outside its group's lifecycle gets: its pods released, or nothing. */
  readonly onNodeLost: NodeLostAction;
  /** What an EC2 scheduled event (AWS Health) does: cordon and replace before the window, cordon only, or nothing. */
  readonly onScheduledEvent: ScheduledEventAction;
  /** The replacement for a scheduled event is requested this long before its window starts. */
  readonly scheduledEventLeadSeconds: number;
}

export interface NotificationConfig {
  readonly topicArn: string;
  readonly notifyOn: NotifyOn;
}

export const DEFAULTS = {
  drainTimeoutSeconds: 900,
  onDrainTimeout: DEFAULT_DEADLINE_POLICY,
  dryRun: false,
  heartbeatIntervalSeconds: 60,
  logLevel: 'info',
  maxConcurrentEvictions: 32,
  minEvictionWindowSeconds: 60,
  excludeFromLoadBalancers: true,
  waitForLoadBalancers: true,
  waitForVolumeDetach: true,
  metricsNamespace: 'EksNodeDrainer',
  discoverAutoScalingGroups: false,
  onRebalanceRecommendation: 'cordon',
  lifecycleHookName: DEFAULT_HOOK_NAME,
  onNodeLost: 'release',
  onScheduledEvent: DEFAULT_SCHEDULED_EVENT_ACTION,
  scheduledEventLeadSeconds: DEFAULT_SCHEDULED_EVENT_LEAD_SECONDS,
} as const satisfies Omit<Config, 'clusterName'>;

type Env = Readonly<Record<string, string | undefined>>;

/** Parses and range-checks the environment once; a bad value names the variable and the value. */
export function loadConfig(env: Env): Config {
  const clusterName = env.CLUSTER_NAME?.trim();
  if (!clusterName) throw new ConfigError('CLUSTER_NAME is required (the EKS cluster to drain nodes of)');
  if (!/^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$/.test(clusterName)) {
    throw new ConfigError(`CLUSTER_NAME must be an EKS cluster name, got ${JSON.stringify(clusterName)}`);
  }
  const discoverAutoScalingGroups = flag(env, DISCOVER_ENV, DEFAULTS.discoverAutoScalingGroups);
  const autoScalingGroupNames = groupNames(env);
  if (discoverAutoScalingGroups && autoScalingGroupNames) {
    throw new ConfigError(
      `${AUTO_SCALING_GROUP_NAMES_ENV} and ${DISCOVER_ENV}=true exclude each other (discovery serves the groups tagged for the cluster), ` +
        `got ${AUTO_SCALING_GROUP_NAMES_ENV}=${JSON.stringify(env[AUTO_SCALING_GROUP_NAMES_ENV])}`,
    );
  }
  return Object.freeze({
    clusterName,
    discoverAutoScalingGroups,
    ...(autoScalingGroupNames && { autoScalingGroupNames }),
    // the lifecycle hook allows at most 48 h
    drainTimeoutSeconds: integer(env, 'DRAIN_TIMEOUT_SECONDS', DEFAULTS.drainTimeoutSeconds, 30, 172_800),
    onDrainTimeout: oneOf(env, 'ON_DRAIN_TIMEOUT', DEFAULTS.onDrainTimeout, DEADLINE_POLICIES),
    dryRun: flag(env, 'DRY_RUN', DEFAULTS.dryRun),
    // the CDK keeps it within the hook's heartbeat timeout; seconds are allowed for local tests
    heartbeatIntervalSeconds: integer(
      env,
      'HEARTBEAT_INTERVAL_SECONDS',
      DEFAULTS.heartbeatIntervalSeconds,
      1,
      3_600,
    ),
    logLevel: oneOf(env, 'LOG_LEVEL', DEFAULTS.logLevel, ['debug', 'info', 'warn', 'error']),
    maxConcurrentEvictions: integer(env, 'MAX_CONCURRENT_EVICTIONS', DEFAULTS.maxConcurrentEvictions, 1, 500),
    minEvictionWindowSeconds: integer(
      env,
      'MIN_EVICTION_WINDOW_SECONDS',
      DEFAULTS.minEvictionWindowSeconds,
      1,
      3_600,
    ),
    excludeFromLoadBalancers: flag(env, 'EXCLUDE_FROM_LOAD_BALANCERS', DEFAULTS.excludeFromLoadBalancers),
    waitForLoadBalancers: flag(env, 'WAIT_FOR_LOAD_BALANCERS', DEFAULTS.waitForLoadBalancers),
    waitForVolumeDetach: flag(env, 'WAIT_FOR_VOLUME_DETACH', DEFAULTS.waitForVolumeDetach),
    metricsNamespace: metricsNamespace(env.METRICS_NAMESPACE?.trim() || DEFAULTS.metricsNamespace),
    onRebalanceRecommendation: oneOf(
      env,
      'ON_REBALANCE_RECOMMENDATION',
      DEFAULTS.onRebalanceRecommendation,
      REBALANCE_ACTIONS,
    ),
    lifecycleHookName: hookName(env.LIFECYCLE_HOOK_NAME?.trim() || DEFAULTS.lifecycleHookName),
    ...notifications(env),
    onNodeLost: oneOf(env, 'ON_NODE_LOST', DEFAULTS.onNodeLost, NODE_LOST_ACTIONS),
    onScheduledEvent: oneOf(env, 'ON_SCHEDULED_EVENT', DEFAULTS.onScheduledEvent, SCHEDULED_EVENT_ACTIONS),
    // a minute to 14 days: AWS announces scheduled events about two weeks ahead
    scheduledEventLeadSeconds: integer(
      env,
      'SCHEDULED_EVENT_LEAD_SECONDS',
      DEFAULTS.scheduledEventLeadSeconds,
      60,
      1_209_600,
    ),
  });
}

/**
 * A standard SNS topic's ARN (FIFO topics take neither email nor chat subscriptions, and would need a
 * message group); NOTIFY_ON is checked whether or not a topic is set, so a typo never waits for one.
 */
function notifications(env: Env): { notifications?: NotificationConfig } {
  const notifyOn = oneOf(env, NOTIFY_ON_ENV, DEFAULT_NOTIFY_ON, NOTIFY_ON_VALUES);
  const topicArn = env[NOTIFICATION_TOPIC_ARN_ENV]?.trim();
  if (!topicArn) return {};
  if (!STANDARD_TOPIC_ARN.test(topicArn)) {
    throw new ConfigError(
      `${NOTIFICATION_TOPIC_ARN_ENV} must be the ARN of a standard (not FIFO) SNS topic, got ${JSON.stringify(topicArn)}`,
    );
  }
  return { notifications: Object.freeze({ topicArn, notifyOn }) };
}

/** Comma-separated Auto Scaling group names (1–255 characters each, as AWS allows); unset or blank: none. */
function groupNames(env: Env): readonly string[] | undefined {
  const raw = env[AUTO_SCALING_GROUP_NAMES_ENV];
  if (raw === undefined || raw.trim() === '') return undefined;
  const names = raw.split(',').map((name) => name.trim());
  if (names.some((name) => name === '' || name.length > 255)) {
    throw new ConfigError(
      `${AUTO_SCALING_GROUP_NAMES_ENV} must be comma-separated Auto Scaling group names, got ${JSON.stringify(raw)}`,
    );
  }
  return Object.freeze([...new Set(names)]);
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(
      `${name} must be a whole number between ${min} and ${max}, got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}

function oneOf<T extends string>(env: Env, name: string, fallback: T, allowed: readonly T[]): T {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(`${name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(env[name])}`);
  }
  return raw as T;
}

function flag(env: Env, name: string, fallback: boolean): boolean {
  return oneOf(env, name, String(fallback) as 'true' | 'false', ['true', 'false']) === 'true';
}

function metricsNamespace(value: string): string {
  if (!/^[A-Za-z0-9._/#:-]{1,255}$/.test(value) || value.startsWith('AWS/')) {
    throw new ConfigError(
      `METRICS_NAMESPACE must be a CloudWatch namespace (not AWS/…), got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** The discovery reconciler's settings (lambda/reconciler/handler.ts): the hook it puts, set by the stack. */
export interface ReconcilerConfig {
  readonly clusterName: string;
  readonly hookName: string;
  readonly heartbeatTimeoutSeconds: number;
  readonly defaultResult: 'CONTINUE' | 'ABANDON';
  readonly logLevel: LogLevel;
}

export function loadReconcilerConfig(env: Env): ReconcilerConfig {
  const clusterName = loadConfig({ CLUSTER_NAME: env.CLUSTER_NAME }).clusterName;
  const hook = hookName(env.HOOK_NAME?.trim() ?? '', 'HOOK_NAME');
  if (!env.HOOK_HEARTBEAT_TIMEOUT_SECONDS?.trim()) {
    throw new ConfigError(
      "HOOK_HEARTBEAT_TIMEOUT_SECONDS is required (the hook's heartbeat timeout, set by the stack)",
    );
  }
  return Object.freeze({
    clusterName,
    hookName: hook,
    // the range of a lifecycle hook's heartbeat timeout
    heartbeatTimeoutSeconds: integer(env, 'HOOK_HEARTBEAT_TIMEOUT_SECONDS', 0, 30, 7_200),
    defaultResult: oneOf(env, 'HOOK_DEFAULT_RESULT', 'continue', ['continue', 'abandon']).toUpperCase() as
      | 'CONTINUE'
      | 'ABANDON',
    logLevel: oneOf(env, 'LOG_LEVEL', DEFAULTS.logLevel, ['debug', 'info', 'warn', 'error']),
  });
}

/** The RBAC applier (lambda/rbac/handler.ts): the cluster, and how much it logs. */
export interface RbacApplierConfig {
  readonly clusterName: string;
  readonly logLevel: LogLevel;
}

export function loadRbacApplierConfig(env: Env): RbacApplierConfig {
  return Object.freeze({
    clusterName: loadConfig({ CLUSTER_NAME: env.CLUSTER_NAME }).clusterName,
    logLevel: oneOf(env, 'LOG_LEVEL', DEFAULTS.logLevel, ['debug', 'info', 'warn', 'error']),
  });
}

/** AutoScaling's LifecycleHookName: 1–255 of letters, digits, -_/. (the same rule as the event's). */
function hookName(value: string, variable = 'LIFECYCLE_HOOK_NAME'): string {
  if (!/^[A-Za-z0-9\-_/.]{1,255}$/.test(value)) {
    throw new ConfigError(`${variable} must be a lifecycle hook name, got ${JSON.stringify(value)}`);
  }
  return value;
}
