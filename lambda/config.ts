import { DEFAULT_HOOK_NAME, REBALANCE_ACTIONS, type RebalanceAction } from './contract.js';
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
  /** What an EC2 rebalance recommendation does: cordon (and exclude from load balancers), drain, or nothing. */
  readonly onRebalanceRecommendation: RebalanceAction;
  /** The termination lifecycle hook a Spot drain completes when the instance waits in Terminating:Wait. */
  readonly lifecycleHookName: string;
}

export const DEFAULTS = {
  drainTimeoutSeconds: 900,
  onDrainTimeout: 'delete',
  dryRun: false,
  heartbeatIntervalSeconds: 60,
  logLevel: 'info',
  maxConcurrentEvictions: 32,
  minEvictionWindowSeconds: 60,
  excludeFromLoadBalancers: true,
  waitForLoadBalancers: true,
  waitForVolumeDetach: true,
  metricsNamespace: 'EksNodeDrainer',
  onRebalanceRecommendation: 'cordon',
  lifecycleHookName: DEFAULT_HOOK_NAME,
} as const satisfies Omit<Config, 'clusterName'>;

type Env = Readonly<Record<string, string | undefined>>;

/** Parses and range-checks the environment once; a bad value names the variable and the value. */
export function loadConfig(env: Env): Config {
  const clusterName = env.CLUSTER_NAME?.trim();
  if (!clusterName) throw new ConfigError('CLUSTER_NAME is required (the EKS cluster to drain nodes of)');
  if (!/^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$/.test(clusterName)) {
    throw new ConfigError(`CLUSTER_NAME must be an EKS cluster name, got ${JSON.stringify(clusterName)}`);
  }
  return Object.freeze({
    clusterName,
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
  });
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

/** AutoScaling's LifecycleHookName: 1–255 of letters, digits, -_/. (the same rule as the event's). */
function hookName(value: string): string {
  if (!/^[A-Za-z0-9\-_/.]{1,255}$/.test(value)) {
    throw new ConfigError(`LIFECYCLE_HOOK_NAME must be a lifecycle hook name, got ${JSON.stringify(value)}`);
  }
  return value;
}
