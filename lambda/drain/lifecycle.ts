import { backoffDelay } from './concurrency.js';
import { type DrainProgress, MAX_ATTEMPTS } from './continuation.js';
import { DEADLINE_OUTCOMES } from './deadline.js';
import {
  DEFAULT_DRAIN_TUNING,
  type DeadlinePolicy,
  type DrainOutcome,
  type DrainReport,
  drainNode,
  errorMessage,
} from './drain.js';
import { releaseEvent } from './events.js';
import { Heartbeat } from './heartbeat.js';
import type {
  Clock,
  ClusterPort,
  ContinuationPort,
  InstancePort,
  LifecyclePort,
  LifecycleResult,
  LoadBalancerPort,
  Logger,
} from './ports.js';
import { type ReleasePorts, type ReleaseReport, waitForRelease } from './release.js';

export type HandlerOutcome =
  | Exclude<DrainOutcome, 'paused' | 'stopped'>
  | 'continued-in-new-invocation'
  | 'already-completed'
  /** A heartbeat answered "No active Lifecycle Action": the instance went; the drain stopped. */
  | 'action-expired'
  /** A hand-made event (no token) for an instance that is not in Terminating:Wait, without force. */
  | 'instance-not-terminating'
  | 'ignored'
  | 'invalid-event'
  /** The event's Auto Scaling group is not one this drainer serves: nothing called (lambda/aws/groups.ts). */
  | 'foreign-auto-scaling-group'
  /** EC2 notices (lambda/drain/spot.ts) and warm-pool returns (lambda/drain/warm-pool.ts). */
  | 'spot-interrupted'
  | 'foreign-instance'
  | 'rebalance-cordoned'
  | 'warm-pool-restored';

export interface LifecycleRunSettings {
  readonly instanceId: string;
  /** When the lifecycle action began (epoch ms); the drain deadline counts from here. */
  readonly startedAt: number;
  readonly attempt: number;
  /** Epoch ms when this invocation must have handed over (its own end, less a margin). */
  readonly pauseAt: number;
  readonly drainTimeoutSeconds: number;
  readonly onDrainTimeout: DeadlinePolicy;
  readonly dryRun: boolean;
  readonly heartbeatIntervalSeconds: number;
  readonly maxConcurrentEvictions: number;
  /** The shortest time a pod is offered an eviction before a deadline policy acts on it. */
  readonly minEvictionWindowSeconds: number;
  /** The event had no token (a manual invoke): drain only an instance that is really terminating. */
  readonly handMade: boolean;
  /** The manual invoke said --force: drain even an instance that is not terminating. */
  readonly force: boolean;
  /** Holder of the node's drain claim (the first invocation's request id). */
  readonly holder: string;
  readonly progress?: DrainProgress;
  /** Aborted when this invocation must stop at once (its hand-over time passed). */
  readonly pauseSignal?: AbortSignal;
  /** Label the node out of external load balancers with the cordon. */
  readonly excludeFromLoadBalancers: boolean;
  /** After the pods are gone: wait until no ELBv2 target of the cluster is this instance. */
  readonly waitForLoadBalancers: boolean;
  /** After the pods are gone: wait until no VolumeAttachment is on the node. */
  readonly waitForVolumeDetach: boolean;
}

export interface LifecycleRunPorts {
  readonly cluster: ClusterPort;
  readonly lifecycle: LifecyclePort;
  readonly instances: InstancePort;
  readonly continuation: ContinuationPort;
  /** Needed when `waitForLoadBalancers` is on. */
  readonly loadBalancers?: LoadBalancerPort;
}

export interface LifecycleRunReport {
  readonly outcome: HandlerOutcome;
  readonly node?: string;
  readonly attempt: number;
  /** What was sent to CompleteLifecycleAction (null: nothing sent). */
  readonly lifecycleResult: LifecycleResult | null;
  readonly drain?: DrainReport;
  /** The wait for load balancers and volumes to let go of the instance (or, in a dry run, what it would wait for). */
  readonly release?: ReleaseReport;
  readonly heartbeats: { readonly recorded: number; readonly failed: number };
}

const COMPLETE_ATTEMPTS = 5;
const TERMINATING_WAIT = 'Terminating:Wait';

/**
 * Answers one lifecycle action: heartbeats while the node drains (and stops at once when AWS says the
 * action is gone), hands over to a new invocation before this one runs out of time, and completes
 * the action with the result the outcome calls for.
 */
export async function runLifecycleAction(
  settings: LifecycleRunSettings,
  ports: LifecycleRunPorts,
  deps: { readonly clock: Clock; readonly log: Logger },
): Promise<LifecycleRunReport> {
  const { log } = deps;
  const base = { attempt: settings.attempt };
  const heartbeat = new Heartbeat(ports.lifecycle, settings.heartbeatIntervalSeconds * 1000, deps);
  const none = { ...base, lifecycleResult: null, heartbeats: heartbeat.counts() };

  if (settings.handMade && !settings.force && !settings.dryRun) {
    const state = await ports.lifecycle.state();
    if (state !== TERMINATING_WAIT) {
      log.error('refusing a hand-made event for an instance that is not terminating', {
        lifecycleState: state ?? 'unknown',
        hint: 'npm run invoke -- --force drains it anyway',
      });
      return { ...none, outcome: 'instance-not-terminating' };
    }
  }

  // a continuation starts with a fresh heartbeat window; an action already completed (a repeated
  // delivery) or timed out is not drained again, unless a person forced a drain without one
  const first = settings.dryRun ? 'recorded' : await heartbeat.beat();
  const withoutAction = first === 'expired' && settings.handMade && settings.force;
  if (first === 'expired' && !withoutAction) {
    log.warn('lifecycle action was already completed or expired before the drain started');
    return { ...none, outcome: 'already-completed', heartbeats: heartbeat.counts() };
  }
  if (withoutAction)
    log.warn('forced drain of an instance with no active lifecycle action: nothing to complete');

  const stop = new AbortController();
  const signals = [stop.signal, ...(settings.pauseSignal ? [settings.pauseSignal] : [])];
  const beating =
    settings.dryRun || withoutAction ? Promise.resolve() : heartbeat.run(stop.signal, () => stop.abort());
  const signal = AbortSignal.any(signals);
  let drain: DrainReport;
  let release: ReleaseReport | undefined;
  try {
    const node = await nodeName(ports.instances, settings.instanceId, log);
    drain = await drainNode(ports.cluster, drainOptions(settings, node, signal), deps);
    if (drain.node && drain.remaining.length === 0 && releaseWanted(drain, settings) && !heartbeat.expired) {
      release = await waitForRelease(
        releasePorts(settings, ports),
        {
          node: drain.node,
          instanceId: settings.instanceId,
          privateIps: await privateIps(ports.instances, settings.instanceId, log),
          // a dry run only looks once: what would the drain wait for?
          until: settings.dryRun ? deps.clock.now() : drainDeadline(settings),
          pauseAt: settings.pauseAt,
          signal,
        },
        deps,
      );
      if (!settings.dryRun && release.outcome !== 'stopped')
        await recordRelease(ports.cluster, drain.node, release, log);
    }
  } finally {
    stop.abort();
    await beating;
  }
  const ran = {
    ...base,
    drain,
    heartbeats: heartbeat.counts(),
    ...(drain.node ? { node: drain.node } : {}),
    ...(release ? { release } : {}),
  };

  if (heartbeat.expired && !withoutAction) {
    log.error('lifecycle action expired while draining: the instance is already going', {
      remaining: drain.remaining,
    });
    return { ...ran, outcome: 'action-expired', lifecycleResult: null };
  }
  if (drain.outcome === 'already-draining')
    return { ...ran, outcome: 'already-draining', lifecycleResult: null };
  const handOver = release?.outcome === 'paused' || release?.outcome === 'stopped';
  if (drain.outcome === 'paused' || drain.outcome === 'stopped' || handOver) {
    if (settings.attempt < MAX_ATTEMPTS) {
      // A failure here throws: the asynchronous invocation is retried with the same event, which
      // resumes the drain from the lifecycle action's start (every step is safe to repeat).
      await ports.continuation.continueLater({
        startedAt: settings.startedAt,
        attempt: settings.attempt + 1,
        holder: settings.holder,
        progress: drain.progress,
      });
      log.info('drain continues in a new invocation', { attempt: settings.attempt + 1 });
      return { ...ran, outcome: 'continued-in-new-invocation', lifecycleResult: null };
    }
    log.error('too many continuations: applying the deadline policy', { attempt: settings.attempt });
  }
  // DRY_RUN never completes the lifecycle action (a real drain may be answering it)
  if (settings.dryRun) return { ...ran, outcome: 'dry-run', lifecycleResult: null };
  if (withoutAction)
    return { ...ran, outcome: finalOutcome(drain.outcome, settings.onDrainTimeout), lifecycleResult: null };

  const outcome = stillAttached(release)
    ? // nothing to delete: the deadline passed with the instance still a target or its volumes attached
      settings.onDrainTimeout === 'abandon'
      ? 'deadline-abandoned'
      : 'deadline-continued'
    : finalOutcome(drain.outcome, settings.onDrainTimeout);
  const result: LifecycleResult = outcome === 'deadline-abandoned' ? 'ABANDON' : 'CONTINUE';
  const completion = await completeWithRetry(ports.lifecycle, result, deps);
  if (completion === 'already-completed') {
    log.warn('lifecycle action was already completed or expired', { result });
    return { ...ran, outcome: 'already-completed', lifecycleResult: result };
  }
  return { ...ran, outcome, lifecycleResult: result };
}

function drainDeadline(settings: LifecycleRunSettings): number {
  return settings.startedAt + settings.drainTimeoutSeconds * 1000;
}

function releaseWanted(drain: DrainReport, settings: LifecycleRunSettings): boolean {
  const podsGone =
    drain.outcome === 'drained' || drain.outcome === 'deadline-deleted' || drain.outcome === 'dry-run';
  return podsGone && (settings.waitForLoadBalancers || settings.waitForVolumeDetach);
}

function releasePorts(settings: LifecycleRunSettings, ports: LifecycleRunPorts): ReleasePorts {
  return {
    ...(settings.waitForLoadBalancers && ports.loadBalancers ? { loadBalancers: ports.loadBalancers } : {}),
    ...(settings.waitForVolumeDetach ? { cluster: ports.cluster } : {}),
  };
}

/** The deadline came with the instance still a load balancer target, or its volumes still attached. */
function stillAttached(release: ReleaseReport | undefined): boolean {
  if (release?.outcome !== 'deadline') return false;
  return (release.loadBalancers?.left.length ?? 0) + (release.volumes?.left.length ?? 0) > 0;
}

async function recordRelease(
  cluster: ClusterPort,
  node: string,
  release: ReleaseReport,
  log: Logger,
): Promise<void> {
  await cluster
    .recordEvent({ kind: 'Node', name: node }, releaseEvent(release))
    .catch((error: unknown) => log.warn('could not record event', { error: errorMessage(error) }));
}

async function privateIps(instances: InstancePort, instanceId: string, log: Logger): Promise<string[]> {
  if (!instances.privateIps) return [];
  return instances.privateIps(instanceId).catch((error: unknown) => {
    log.warn('instance IP lookup failed; ip-mode targets are not checked', { error: errorMessage(error) });
    return [];
  });
}

function drainOptions(settings: LifecycleRunSettings, node: string | undefined, signal: AbortSignal) {
  return {
    ...DEFAULT_DRAIN_TUNING,
    target: { instanceId: settings.instanceId, ...(node ? { nodeName: node } : {}) },
    startedAt: settings.startedAt,
    deadline: drainDeadline(settings),
    excludeFromLoadBalancers: settings.excludeFromLoadBalancers,
    pauseAt: settings.pauseAt,
    onDeadline: settings.onDrainTimeout,
    dryRun: settings.dryRun,
    maxConcurrentEvictions: settings.maxConcurrentEvictions,
    minEvictionWindowMs: settings.minEvictionWindowSeconds * 1000,
    claim: { holder: settings.holder },
    signal,
    ...(settings.progress ? { resume: settings.progress } : {}),
  };
}

/** Past the last continuation, what is left meets the deadline policy. */
function finalOutcome(outcome: DrainOutcome, policy: DeadlinePolicy): HandlerOutcome {
  return outcome === 'paused' || outcome === 'stopped' ? DEADLINE_OUTCOMES[policy] : outcome;
}

async function nodeName(
  instances: InstancePort,
  instanceId: string,
  log: Logger,
): Promise<string | undefined> {
  return instances.privateDnsName(instanceId).catch((error: unknown) => {
    log.warn('instance lookup failed; finding the node by providerID', { error: errorMessage(error) });
    return undefined;
  });
}

/** Throttling and transient failures are retried; after the last attempt the error propagates. */
async function completeWithRetry(
  lifecycle: LifecyclePort,
  result: LifecycleResult,
  deps: { readonly clock: Clock; readonly log: Logger },
): Promise<'completed' | 'already-completed'> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await lifecycle.complete(result);
    } catch (error) {
      if (attempt >= COMPLETE_ATTEMPTS) throw error;
      deps.log.warn('complete lifecycle action failed; retrying', { attempt, error: errorMessage(error) });
      await deps.clock.sleep(backoffDelay(attempt, { initialMs: 500, maxMs: 8_000 }, deps.clock.random));
    }
  }
}
