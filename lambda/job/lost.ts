/**
 * An instance that goes without its group's lifecycle (terminated or stopped by hand, a hardware
 * failure, a Spot interruption nobody handled): EC2 says `shutting-down`, `stopping` or `terminated`
 * and no lifecycle action holds it. Its kubelet is gone, so its pods would stay bound to a NotReady
 * node until the eviction timeout (5 min by default). The node's pods are released at once: on
 * Kubernetes 1.28+ by the `node.kubernetes.io/out-of-service` taint (its pods are force-deleted and
 * their volumes detached without waiting), on older servers by deleting them. A stopped instance
 * back `running` gets back the node as it was. What the group's own lifecycle handles (its
 * termination after the hook, the warm pool) is not lost.
 */
import type { ClusterEvent, ClusterPort } from '../drain/ports.js';
import { errorMessage } from '../errors.js';
import type { StateChange } from '../state-change-event.js';
import type { AutoScalingInstance } from './notice.js';
import type { GroupsPort, Logger } from './ports.js';

/** What EC2 DescribeInstances says of the instance; undefined when EC2 no longer knows it. */
export interface Ec2InstanceFacts {
  readonly state?: string;
  /** Its `aws:autoscaling:groupName` tag: kept while EC2 still describes a terminated instance. */
  readonly group?: string;
  readonly privateDnsName?: string;
}

/** What the drainer wrote on a lost instance's node: what to undo if the instance comes back. */
export interface LostMark {
  readonly instanceId: string;
  readonly state: string;
  /** Epoch ms of the first release. */
  readonly at: number;
  /** The drainer added the out-of-service taint (it was not there). */
  readonly tainted: boolean;
  /** The drainer cordoned the node (it was schedulable). */
  readonly cordoned: boolean;
}

export interface LostNodeView {
  readonly mark?: LostMark;
  readonly unschedulable: boolean;
  /** Pods a release would remove (every pod but DaemonSet and mirror pods). */
  readonly releasable: number;
  /** The holder of a live drain job on the node (lambda/job/record.ts). */
  readonly drainJob?: string;
}

export interface LostNodePort {
  /** Kubernetes 1.28+ (by /version): the out-of-service taint releases the pods. */
  outOfServiceTaint(): Promise<boolean>;
  read(node: string, now: number): Promise<LostNodeView>;
  /** Cordons, adds the taint when `taint`, and writes the mark (a repeat keeps the first mark's facts). */
  mark(node: string, mark: Omit<LostMark, 'tainted' | 'cordoned'>, taint: boolean): Promise<LostMark>;
  /** Deletes the node's releasable pods at once (grace 0); `forbidden` without RBAC `pods delete`. */
  deletePods(node: string): Promise<{ readonly deleted: number; readonly forbidden?: true }>;
  /** Undoes what the mark says the drainer did; `draining` while a live drain job holds the node. */
  restore(node: string, mark: LostMark, now: number): Promise<'restored' | 'changed' | 'draining'>;
}

export interface LostPorts {
  readonly groups: GroupsPort;
  ec2Instance(instanceId: string): Promise<Ec2InstanceFacts | undefined>;
  autoScalingInstance(instanceId: string): Promise<AutoScalingInstance | undefined>;
  readonly cluster: Pick<ClusterPort, 'findNode' | 'recordEvent'>;
  readonly nodes: LostNodePort;
}

/** `ON_NODE_LOST=ignore` is answered by the handler before any call. */
export interface LostSettings {
  readonly dryRun: boolean;
  readonly now: number;
}

export interface LostReport {
  readonly outcome:
    | 'node-lost'
    | 'lost-node-restored'
    | 'foreign-instance'
    | 'node-not-found'
    | 'ignored'
    | 'dry-run';
  readonly group?: string;
  readonly node?: string;
  readonly reason?: string;
  /** What was done: the taint (1.28+) or the pods deleted; `repeat` when an earlier notice did it first. */
  readonly release?: {
    readonly by: 'out-of-service-taint' | 'pod-deletion';
    readonly tainted: boolean;
    readonly cordoned: boolean;
    readonly podsDeleted: number;
    readonly repeat: boolean;
    readonly forbidden?: true;
    readonly drainJob?: string;
  };
}

/** The group terminates the instance itself, after its termination hook (whose drain owns the node). */
const GROUP_TERMINATES = /^(Terminating|Terminating:Proceed|Terminated)$/;
/** The warm pool stops the instances it keeps (and the launch into it); they come back. */
const WARM_POOL_STATE = /^Warmed:/;

export async function runLostNode(
  change: StateChange,
  settings: LostSettings,
  ports: LostPorts,
  log: Logger,
): Promise<LostReport> {
  const ec2 = await ports.ec2Instance(change.instanceId);
  // the tag answers most events (those of other groups' and ungrouped instances) with one call
  const tagged = ec2?.group;
  if (tagged !== undefined && !(await ports.groups.serves(tagged)))
    return {
      outcome: 'foreign-instance',
      reason: `Auto Scaling group ${tagged} is not served by this drainer`,
    };
  const asg = await ports.autoScalingInstance(change.instanceId);
  const group = asg?.group ?? tagged;
  if (group === undefined) return { outcome: 'foreign-instance', reason: 'in no Auto Scaling group' };
  if (group !== tagged && !(await ports.groups.serves(group)))
    return {
      outcome: 'foreign-instance',
      reason: `Auto Scaling group ${group} is not served by this drainer`,
    };
  const inGroup = { group };
  // EventBridge does not keep order: a stop and start in quick succession may arrive running-first
  const stale = staleness(change.state, ec2?.state);
  if (stale) return { ...inGroup, outcome: 'ignored', reason: stale };
  if (change.state !== 'running') {
    if (asg && WARM_POOL_STATE.test(asg.state))
      return { ...inGroup, outcome: 'ignored', reason: `the warm pool keeps the instance (${asg.state})` };
    if (asg && GROUP_TERMINATES.test(asg.state))
      return { ...inGroup, outcome: 'ignored', reason: `the group terminates the instance (${asg.state})` };
  }
  const node = await ports.cluster.findNode({
    instanceId: change.instanceId,
    ...(ec2?.privateDnsName ? { nodeName: ec2.privateDnsName } : {}),
  });
  if (!node) {
    // a launch (running) of a node not yet registered is the common case: nothing to undo
    if (change.state === 'running') return { ...inGroup, outcome: 'ignored', reason: 'no node to restore' };
    return { ...inGroup, outcome: 'node-not-found' };
  }
  const found = { ...inGroup, node };
  const view = await ports.nodes.read(node, settings.now);
  const mark = view.mark?.instanceId === change.instanceId ? view.mark : undefined;
  if (change.state === 'running') return restore(found, mark, settings, ports, log);
  if (!mark && view.unschedulable && view.releasable === 0)
    return { ...found, outcome: 'ignored', reason: 'the node is already drained' };
  return release(change, found, view, mark, settings, ports, log);
}

const UP = new Set(['pending', 'running']);

/** Why the event is older than what EC2 says now; undefined when they agree (or EC2 does not say). */
function staleness(state: StateChange['state'], now: string | undefined): string | undefined {
  if (now === undefined) return undefined;
  const up = state === 'running';
  if (up === UP.has(now)) return undefined;
  return `a stale ${state} notice: EC2 says the instance is ${now} now`;
}

async function release(
  change: StateChange,
  found: { readonly group: string; readonly node: string },
  view: LostNodeView,
  mark: LostMark | undefined,
  settings: LostSettings,
  ports: LostPorts,
  log: Logger,
): Promise<LostReport> {
  const { node } = found;
  const taint = await ports.nodes.outOfServiceTaint();
  const by = taint ? 'out-of-service-taint' : 'pod-deletion';
  const drainJob = view.drainJob ? { drainJob: view.drainJob } : {};
  if (view.drainJob) {
    // the drain cannot evict gracefully from a node that is going: release now, the job then ends drained
    log.warn('instance lost while a drain job holds its node: releasing its pods', { holder: view.drainJob });
  }
  if (settings.dryRun || change.dryRun) {
    log.info('dry run: would release the lost node', {
      by,
      releasable: view.releasable,
      state: change.state,
    });
    return { ...found, outcome: 'dry-run', reason: `would release by ${by}` };
  }
  const written = await ports.nodes.mark(
    node,
    { instanceId: change.instanceId, state: change.state, at: mark?.at ?? settings.now },
    taint,
  );
  let podsDeleted = 0;
  let forbidden: { forbidden?: true } = {};
  if (!taint) {
    const deleted = await ports.nodes.deletePods(node);
    podsDeleted = deleted.deleted;
    if (deleted.forbidden) {
      forbidden = { forbidden: true };
      log.warn(
        "may not delete the lost node's pods (RBAC pods delete, infra/k8s/rbac-delete-pods.yaml): cordoned only",
      );
    }
  }
  const what = taint ? 'out-of-service taint added' : `${podsDeleted} pod(s) deleted`;
  await event(ports, node, log, {
    reason: 'NodeLost',
    type: 'Warning',
    message: `instance ${change.instanceId} is ${change.state} outside its group's lifecycle: ${what}`,
  });
  return {
    ...found,
    outcome: 'node-lost',
    release: {
      by,
      tainted: written.tainted,
      cordoned: written.cordoned,
      podsDeleted,
      repeat: mark !== undefined,
      ...forbidden,
      ...drainJob,
    },
  };
}

async function restore(
  found: { readonly group: string; readonly node: string },
  mark: LostMark | undefined,
  settings: LostSettings,
  ports: LostPorts,
  log: Logger,
): Promise<LostReport> {
  if (!mark) return { ...found, outcome: 'ignored', reason: 'the node carries no lost-node mark' };
  if (settings.dryRun) {
    log.info('dry run: would restore the node', { tainted: mark.tainted, cordoned: mark.cordoned });
    return { ...found, outcome: 'dry-run', reason: 'would restore the node' };
  }
  const restored = await ports.nodes.restore(found.node, mark, settings.now);
  if (restored !== 'restored') return { ...found, outcome: 'ignored', reason: `not restored: ${restored}` };
  await event(ports, found.node, log, {
    reason: 'NodeBack',
    type: 'Normal',
    message: `instance ${mark.instanceId} is running again: ${[mark.tainted ? 'out-of-service taint removed' : '', mark.cordoned ? 'uncordoned' : ''].filter(Boolean).join(', ') || 'mark removed'}`,
  });
  return { ...found, outcome: 'lost-node-restored' };
}

/** An Event is information: its failure does not undo the release. */
async function event(ports: LostPorts, node: string, log: Logger, e: ClusterEvent): Promise<void> {
  try {
    await ports.cluster.recordEvent({ kind: 'Node', name: node }, e);
  } catch (error) {
    log.warn('could not record the node event', { reason: e.reason, error: errorMessage(error) });
  }
}
