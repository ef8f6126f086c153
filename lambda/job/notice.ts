/**
 * EC2's notices about one instance: a Spot interruption (the instance goes about two minutes after
 * the notice, whatever anyone does) and a rebalance recommendation (it may go soon). Only instances
 * of this drainer's cluster are served. A Spot warning counts only for an instance EC2 really marked
 * for interruption; it then joins (or starts) the node's job with its hard end, which tightens a
 * drain already running. A rebalance recommendation cordons, or with `drain` starts or joins the
 * node's job with the ordinary timeout and policy `continue` (nothing certain takes the node yet).
 */
import type { RebalanceAction } from '../contract.js';
import type { DeadlinePolicy } from '../drain/drain.js';
import type { Ec2Notice } from '../ec2-event.js';
import { errorMessage } from '../errors.js';
import { type JobInvocation, type JobPorts, type JobReport, runJob } from './job.js';
import type { Clock, GroupsPort, Logger } from './ports.js';
import type { JobRequest } from './record.js';

export { clampedGrace } from '../drain/grace.js';

/** EC2 stops or terminates a Spot instance this long after the interruption warning. */
export const SPOT_NOTICE_MS = 120_000;
/** PDB refusals are retried until this long before the instance goes; then the deadline policy acts. */
export const SPOT_POLICY_MARGIN_MS = 15_000;

/** What AutoScaling says about an instance (DescribeAutoScalingInstances); undefined: in no group. */
export interface AutoScalingInstance {
  readonly group: string;
  /** e.g. `InService`, `Terminating:Wait`. */
  readonly state: string;
}

export interface NoticePorts extends JobPorts {
  readonly groups: GroupsPort;
  describeInstance(instanceId: string): Promise<AutoScalingInstance | undefined>;
}

export type NoticeOutcome =
  | Exclude<JobReport['outcome'], 'deadline-deleted' | 'deadline-abandoned'>
  | 'spot-interrupted'
  /** A Spot warning for an instance EC2 has not marked for interruption: cordoned only. */
  | 'spot-unconfirmed'
  | 'foreign-instance'
  | 'rebalance-cordoned'
  | 'ignored';

export interface NoticeSettings extends JobInvocation {
  readonly onRebalance: RebalanceAction;
  readonly onDrainTimeout: DeadlinePolicy;
  /** A rebalance `drain` gets the ordinary drain timeout from the notice's time. */
  readonly drainTimeoutSeconds: number;
  /** The drainer's termination hook: a Spot instance's action waiting there is completed after the drain. */
  readonly hookName: string;
  /** When the notice was sent (clamped), epoch ms. */
  readonly startedAt: number;
}

export interface NoticeReport extends Omit<JobReport, 'outcome'> {
  readonly outcome: NoticeOutcome | 'deadline-deleted' | 'deadline-abandoned';
  readonly group?: string;
  /** A Spot drain: the instance goes at this time (ISO 8601). */
  readonly hardEnd?: string;
  /** The Spot request status that confirmed (or did not confirm) the interruption. */
  readonly spotStatus?: string;
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

const none = { attempt: 1, lifecycleResult: null, completed: [], heartbeats: { recorded: 0, failed: 0 } };

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
    return { ...none, outcome: 'ignored' };
  }
  const served = await servedInstance(notice.instanceId, ports, log);
  if (!served.served) {
    log.info('instance is not served by this drainer', { reason: served.reason });
    return { ...none, outcome: 'foreign-instance' };
  }
  const group = served.group ? { group: served.group } : {};
  const target = { instanceId: notice.instanceId, ...(served.node ? { nodeName: served.node } : {}) };
  if (rebalance && settings.onRebalance === 'cordon')
    return { ...group, ...(await cordonOnly(target, settings, ports, deps, 'rebalance-cordoned')) };
  let spotStatus: string | undefined;
  if (notice.kind === 'spot-interruption') {
    const confirmed = await confirmInterruption(notice.instanceId, ports, log);
    spotStatus = confirmed.status;
    if (!confirmed.interrupted) {
      const cordoned = await cordonOnly(target, settings, ports, deps, 'spot-unconfirmed');
      return { ...group, ...cordoned, spotStatus };
    }
  }
  const request = noticeRequest(notice, settings, served.group);
  const report = await runJob({ ...settings, request, target }, ports, deps);
  const hardEnd = request.hardEnd === undefined ? {} : { hardEnd: new Date(request.hardEnd).toISOString() };
  return {
    ...report,
    ...group,
    ...hardEnd,
    ...(spotStatus ? { spotStatus } : {}),
    outcome: rebalance ? report.outcome : spotOutcome(report),
  };
}

/** This notice's request to the node's job. */
function noticeRequest(notice: Ec2Notice, settings: NoticeSettings, group: string | undefined): JobRequest {
  const { instanceId } = notice;
  if (notice.kind === 'rebalance-recommendation') {
    // nothing certain takes the node: never delete past a PDB
    return {
      id: `rebalance:${instanceId}`,
      kind: 'rebalance',
      instanceId,
      startedAt: settings.startedAt,
      deadline: settings.startedAt + settings.drainTimeoutSeconds * 1000,
      policy: 'continue',
    };
  }
  const hardEnd = settings.startedAt + SPOT_NOTICE_MS;
  return {
    id: `spot:${instanceId}`,
    kind: 'spot',
    instanceId,
    startedAt: settings.startedAt,
    deadline: hardEnd - SPOT_POLICY_MARGIN_MS,
    policy: settings.onDrainTimeout,
    hardEnd,
    ...(group ? { group } : {}),
    // stopped or hibernated, not terminated: the node comes back
    ...(notice.instanceAction === 'terminate' ? {} : { comesBack: true }),
  };
}

function spotOutcome(report: JobReport): NoticeReport['outcome'] {
  switch (report.outcome) {
    case 'node-not-found':
    case 'joined':
    case 'continued-in-new-invocation':
    case 'dry-run':
    case 'action-expired':
      return report.outcome;
    default:
      return 'spot-interrupted';
  }
}

/**
 * A Spot warning is acted on only for an instance EC2 marked for interruption: anyone allowed to
 * invoke the function could send one by hand. When EC2 cannot be asked (throttled, say), the warning
 * is taken as real: a real one lost costs every pod on the node, and the drain still respects PDBs
 * until its deadline.
 */
async function confirmInterruption(
  instanceId: string,
  ports: NoticePorts,
  log: Logger,
): Promise<{ readonly interrupted: boolean; readonly status?: string }> {
  if (!ports.instances.spotInterruption) return { interrupted: true };
  try {
    const found = await ports.instances.spotInterruption(instanceId);
    if (found.kind === 'marked') return { interrupted: true, status: found.code };
    const status = found.kind === 'not-spot' ? 'not a Spot instance' : found.code;
    log.warn('Spot interruption warning for an instance EC2 has not marked for interruption: cordon only', {
      status,
    });
    return { interrupted: false, status };
  } catch (error) {
    log.warn('could not confirm the Spot interruption with EC2; draining as warned', {
      error: errorMessage(error),
    });
    return { interrupted: true, status: 'unconfirmed' };
  }
}

/** Cordon (and exclude from load balancers); nothing is evicted. */
async function cordonOnly(
  target: { readonly instanceId: string; readonly nodeName?: string },
  settings: NoticeSettings,
  ports: NoticePorts,
  { log }: Deps,
  outcome: 'rebalance-cordoned' | 'spot-unconfirmed',
): Promise<NoticeReport> {
  const nodeName =
    target.nodeName ?? (await ports.instances.privateDnsName(target.instanceId).catch(() => undefined));
  const node = await ports.cluster.findNode({
    instanceId: target.instanceId,
    ...(nodeName ? { nodeName } : {}),
  });
  if (!node) {
    log.info('node not found', { instanceId: target.instanceId });
    return { ...none, outcome: 'node-not-found' };
  }
  if (settings.dryRun) {
    log.info('dry run: would cordon the node', { node, notice: outcome });
    return { ...none, outcome: 'dry-run', node };
  }
  await ports.cluster.cordon(node, { excludeFromLoadBalancers: settings.excludeFromLoadBalancers });
  log.info('node cordoned on an EC2 notice', {
    node,
    notice: outcome,
    excludedFromLoadBalancers: settings.excludeFromLoadBalancers,
  });
  return { ...none, outcome, node };
}
