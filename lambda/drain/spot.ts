/**
 * EC2's notices about one instance: a Spot interruption (the instance goes about two minutes after
 * the notice, whatever anyone does) and a rebalance recommendation (it may go soon). Only instances
 * of this drainer's cluster are served; the drain itself is the ordinary one, bounded by the notice's
 * hard end.
 */
import type { RebalanceAction } from '../contract.js';
import type { Ec2Notice } from '../ec2-event.js';
import {
  DEFAULT_DRAIN_TUNING,
  type DeadlinePolicy,
  type DrainReport,
  drainNode,
  errorMessage,
} from './drain.js';

export { clampedGrace } from './grace.js';

import type {
  Clock,
  ClusterPort,
  GroupsPort,
  InstancePort,
  LifecyclePort,
  LifecycleResult,
  Logger,
} from './ports.js';
import { type MarksPort, markingCordon } from './warm-pool.js';

/** EC2 stops or terminates a Spot instance this long after the interruption warning. */
export const SPOT_NOTICE_MS = 120_000;
/** PDB refusals are retried until this long before the instance goes; then the deadline policy acts. */
export const SPOT_POLICY_MARGIN_MS = 15_000;
/** Pods are to be gone this long before the instance goes: grace periods end by then. */
export const SPOT_GRACE_MARGIN_MS = 5_000;
/** What AutoScaling says about an instance (DescribeAutoScalingInstances); undefined: in no group. */
export interface AutoScalingInstance {
  readonly group: string;
  /** e.g. `InService`, `Terminating:Wait`. */
  readonly state: string;
}

export interface NoticePorts {
  readonly cluster: ClusterPort;
  readonly instances: InstancePort;
  readonly groups: GroupsPort;
  describeInstance(instanceId: string): Promise<AutoScalingInstance | undefined>;
  /** The termination lifecycle action of the drainer's hook for this instance in `group` (addressed by instance id). */
  terminationAction(group: string): LifecyclePort;
  /**
   * Marks for a node that comes back: a Spot instance that is stopped or hibernated (not terminated)
   * is marked like one going to a warm pool, and restored once Ready again (warm-pool.ts).
   */
  readonly marks?: MarksPort;
}

export type NoticeOutcome =
  | 'spot-interrupted'
  | 'foreign-instance'
  | 'rebalance-cordoned'
  | 'drained'
  | 'deadline-continued'
  | 'node-not-found'
  | 'already-draining'
  | 'ignored'
  | 'dry-run';

export interface NoticeSettings {
  readonly onRebalance: RebalanceAction;
  /** DRY_RUN: server-side dry-run evictions, no cordon, no lifecycle completion. */
  readonly dryRun: boolean;
  readonly onDrainTimeout: DeadlinePolicy;
  /** A rebalance `drain` gets the ordinary drain timeout from the notice's time. */
  readonly drainTimeoutSeconds: number;
  readonly maxConcurrentEvictions: number;
  readonly excludeFromLoadBalancers: boolean;
  /** Holder of the node's drain claim (the invocation's request id). */
  readonly holder: string;
  /** When the notice was sent (clamped), epoch ms. */
  readonly startedAt: number;
  /** When this invocation must stop (its own end less a margin). */
  readonly pauseAt: number;
  readonly pauseSignal?: AbortSignal;
}

export interface NoticeReport {
  readonly outcome: NoticeOutcome;
  readonly node?: string;
  readonly group?: string;
  readonly drain?: DrainReport;
  /** The termination lifecycle action a Spot drain completed for the instance, if one was waiting. */
  readonly lifecycleResult: LifecycleResult | null;
  /** A Spot drain: the instance goes at this time (ISO 8601). */
  readonly hardEnd?: string;
}

type Deps = { readonly clock: Clock; readonly log: Logger };

/**
 * The instance is served when AutoScaling puts it in a group this drainer serves. An instance in no
 * group is served when a node of the cluster has its providerID (the one Kubernetes read); an
 * instance in another group is foreign without any Kubernetes call.
 */
export async function servedInstance(
  instanceId: string,
  ports: NoticePorts,
  log: Logger,
): Promise<{ served: true; group?: string; node?: string } | { served: false; reason: string }> {
  const described = await ports.describeInstance(instanceId).then(
    (instance) => ({ instance }),
    (error: unknown) => {
      log.warn('auto scaling instance lookup failed; looking for the node by providerID', {
        error: errorMessage(error),
      });
      return { failed: true } as const;
    },
  );
  if ('instance' in described && described.instance) {
    const { group } = described.instance;
    if (await ports.groups.serves(group)) return { served: true, group };
    return { served: false, reason: `Auto Scaling group ${group} is not served by this drainer` };
  }
  const node = await ports.cluster.findNode({ instanceId });
  if (node) return { served: true, node };
  return { served: false, reason: 'in no Auto Scaling group and no node of the cluster has its providerID' };
}

/** Answers one EC2 notice. Never throws for cluster failures (the drain retries them until its deadline). */
export async function runNotice(
  notice: Ec2Notice,
  settings: NoticeSettings,
  ports: NoticePorts,
  deps: Deps,
): Promise<NoticeReport> {
  const { log } = deps;
  const rebalance = notice.kind === 'rebalance-recommendation';
  if (rebalance && settings.onRebalance === 'ignore') {
    log.info('rebalance recommendation ignored (ON_REBALANCE_RECOMMENDATION=ignore)');
    return { outcome: 'ignored', lifecycleResult: null };
  }
  const served = await servedInstance(notice.instanceId, ports, log);
  if (!served.served) {
    log.info('instance is not served by this drainer', { reason: served.reason });
    return { outcome: 'foreign-instance', lifecycleResult: null };
  }
  const group = served.group ? { group: served.group } : {};
  const target = {
    instanceId: notice.instanceId,
    nodeName: served.node ?? (await dnsName(notice, ports, log)),
  };
  if (rebalance && settings.onRebalance === 'cordon')
    return { ...group, ...(await cordonOnly(target, settings, ports, deps)) };
  const hardEnd = rebalance ? undefined : settings.startedAt + SPOT_NOTICE_MS;
  const options = noticeDrainOptions(target, settings, hardEnd, deps.clock.now());
  const comesBack = notice.kind === 'spot-interruption' && notice.instanceAction !== 'terminate';
  const cluster =
    comesBack && ports.marks
      ? markingCordon(ports.cluster, ports.marks, notice.instanceId, deps.clock)
      : ports.cluster;
  const drain = await drainNode(cluster, options, deps);
  const node = drain.node ? { node: drain.node } : {};
  if (rebalance) return { ...group, ...node, drain, outcome: rebalanceOutcome(drain), lifecycleResult: null };
  if (settings.dryRun) return { ...group, ...node, drain, outcome: 'dry-run', lifecycleResult: null };
  const lifecycleResult = served.group ? await completeWaitingAction(ports, served.group, drain, deps) : null;
  log.info('spot interruption drained', {
    evicted: drain.evicted.length,
    deleted: drain.deleted.length,
    remaining: drain.remaining,
    drainOutcome: drain.outcome,
  });
  return {
    ...group,
    ...node,
    drain,
    outcome: drain.outcome === 'node-not-found' ? 'node-not-found' : 'spot-interrupted',
    lifecycleResult,
    ...(hardEnd === undefined ? {} : { hardEnd: new Date(hardEnd).toISOString() }),
  };
}

type Target = { readonly instanceId: string; readonly nodeName: string | undefined };

async function dnsName(notice: Ec2Notice, ports: NoticePorts, log: Logger): Promise<string | undefined> {
  return ports.instances.privateDnsName(notice.instanceId).catch((error: unknown) => {
    log.warn('instance lookup failed; finding the node by providerID', { error: errorMessage(error) });
    return undefined;
  });
}

function noticeDrainOptions(
  { instanceId, nodeName }: Target,
  settings: NoticeSettings,
  hardEnd: number | undefined,
  now: number,
) {
  // a rebalance drain has no certain termination behind it: never delete past a PDB
  const deadline =
    hardEnd === undefined
      ? Math.min(settings.startedAt + settings.drainTimeoutSeconds * 1000, settings.pauseAt)
      : hardEnd - SPOT_POLICY_MARGIN_MS;
  const podsGoneBy = hardEnd === undefined ? {} : { hardEnd: hardEnd - SPOT_GRACE_MARGIN_MS };
  return {
    ...DEFAULT_DRAIN_TUNING,
    target: { instanceId, ...(nodeName ? { nodeName } : {}) },
    startedAt: settings.startedAt,
    deadline,
    pauseAt: settings.pauseAt,
    onDeadline: hardEnd === undefined ? ('continue' as const) : settings.onDrainTimeout,
    dryRun: settings.dryRun,
    maxConcurrentEvictions: settings.maxConcurrentEvictions,
    // a Spot drain offers evictions until its deadline, then the policy acts at once
    minEvictionWindowMs:
      hardEnd === undefined ? DEFAULT_DRAIN_TUNING.minEvictionWindowMs : Math.max(0, deadline - now),
    claim: { holder: settings.holder },
    excludeFromLoadBalancers: settings.excludeFromLoadBalancers,
    ...podsGoneBy,
    ...(settings.pauseSignal ? { signal: settings.pauseSignal } : {}),
  };
}

function rebalanceOutcome(drain: DrainReport): NoticeOutcome {
  if (
    drain.outcome === 'drained' ||
    drain.outcome === 'node-not-found' ||
    drain.outcome === 'already-draining' ||
    drain.outcome === 'dry-run'
  )
    return drain.outcome;
  return 'deadline-continued';
}

/** Rebalance `cordon`: cordon (and exclude from load balancers); nothing is evicted. */
async function cordonOnly(
  { instanceId, nodeName }: Target,
  settings: NoticeSettings,
  ports: NoticePorts,
  { log }: Deps,
): Promise<NoticeReport> {
  const node = await ports.cluster.findNode({ instanceId, ...(nodeName ? { nodeName } : {}) });
  if (!node) {
    log.info('node not found', { instanceId });
    return { outcome: 'node-not-found', lifecycleResult: null };
  }
  if (settings.dryRun) {
    log.info('dry run: would cordon the node on a rebalance recommendation', { node });
    return { outcome: 'dry-run', node, lifecycleResult: null };
  }
  await ports.cluster.cordon(node, { excludeFromLoadBalancers: settings.excludeFromLoadBalancers });
  log.info('node cordoned on a rebalance recommendation', {
    node,
    excludedFromLoadBalancers: settings.excludeFromLoadBalancers,
  });
  return { outcome: 'rebalance-cordoned', node, lifecycleResult: null };
}

/**
 * A termination lifecycle action that began for the instance while (or before) the Spot drain ran is
 * completed here, after the drain released the node: a lifecycle invocation that found the node
 * claimed ended `already-draining` and left it to this drain. One that comes later finds no claim,
 * drains the empty node and completes its action itself; AWS accepts only one completion.
 */
async function completeWaitingAction(
  ports: NoticePorts,
  group: string,
  drain: DrainReport,
  { log }: Deps,
): Promise<LifecycleResult | null> {
  if (drain.outcome === 'already-draining') return null; // the holder of the claim completes it
  try {
    const action = ports.terminationAction(group);
    if ((await action.state()) !== 'Terminating:Wait') return null;
    const result: LifecycleResult = drain.outcome === 'deadline-abandoned' ? 'ABANDON' : 'CONTINUE';
    const completion = await action.complete(result);
    log.info('completed the termination lifecycle action of the interrupted instance', {
      result,
      completion,
    });
    return completion === 'completed' ? result : null;
  } catch (error) {
    log.warn(
      'could not complete the termination lifecycle action; its hook times out into its default result',
      {
        error: errorMessage(error),
      },
    );
    return null;
  }
}
