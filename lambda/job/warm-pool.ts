/**
 * Warm pools: an instance that goes to the warm pool (or a Spot instance that is stopped or
 * hibernated) comes back later with the same node name. When such a node's job ends, the node is
 * marked with what the job did (cordon, load balancer exclusion) and how the node was before the job
 * (from the job record: the facts of the job's own start, never an older drain's); the mark is undone
 * when the instance launches again from the warm pool, or at a later drain's start for a node that is
 * Ready again since the mark. A node someone else cordoned stays cordoned, and no mark is undone
 * while a job drains the node (a Ready flap mid-drain must not uncordon it).
 */
import type { WarmPoolLaunch } from '../ec2-event.js';
import { errorMessage } from '../errors.js';
import type { Clock, ClusterPort, InstancePort, LifecyclePort, LifecycleResult, Logger } from './ports.js';

/** What the drainer did to a node whose instance went to the warm pool, and how the node was before. */
export interface WarmPoolMark {
  readonly instanceId: string;
  /** When the drainer marked the node, epoch ms. */
  readonly at: number;
  /** The node was unschedulable before the drainer cordoned it: someone else cordoned it. */
  readonly wasUnschedulable: boolean;
  /** The node carried the load balancer exclusion label before the drainer set it. */
  readonly hadExcludeLabel: boolean;
}

export interface MarkedNode {
  readonly node: string;
  readonly mark: WarmPoolMark;
  /** Since when the node's Ready condition is True (epoch ms); undefined: not Ready. */
  readonly readySince?: number;
}

/** What the drainer undoes on a node: only what it did itself. */
export interface Undo {
  readonly uncordon: boolean;
  readonly removeExcludeLabel: boolean;
}

/** The Kubernetes side of the marks (lambda/kube/marks.ts); the mark is written by the job's end (JobStorePort). */
export interface MarksPort {
  read(node: string): Promise<WarmPoolMark | undefined>;
  /** Every node carrying a mark. */
  markedNodes(): Promise<MarkedNode[]>;
  /**
   * Applies `undo` and removes the mark, only if the node still carries `mark` (optimistic
   * concurrency) and no job drains it (a job record whose lease is live at `now`).
   */
  restore(
    node: string,
    mark: WarmPoolMark,
    undo: Undo,
    now: number,
  ): Promise<'restored' | 'changed' | 'draining'>;
}

export function undoOf(mark: WarmPoolMark): Undo {
  return { uncordon: !mark.wasUnschedulable, removeExcludeLabel: !mark.hadExcludeLabel };
}

/** The node came back: Ready since after the drainer marked it. */
export function readyAgain(node: MarkedNode): boolean {
  return node.readySince !== undefined && node.readySince > node.mark.at;
}

/**
 * At a drain's start: restores every marked node that is Ready again since its mark (its warm-pool
 * return was missed). Best effort: a failure is logged and the drain goes on.
 */
export async function restoreReturnedNodes(marks: MarksPort, log: Logger, clock: Clock): Promise<string[]> {
  const restored: string[] = [];
  try {
    for (const marked of (await marks.markedNodes()).filter(readyAgain)) {
      if ((await marks.restore(marked.node, marked.mark, undoOf(marked.mark), clock.now())) === 'restored') {
        restored.push(marked.node);
        log.info('restored a node back from the warm pool', { node: marked.node, undo: undoOf(marked.mark) });
      }
    }
  } catch (error) {
    log.warn('could not restore nodes back from the warm pool', { error: errorMessage(error) });
  }
  return restored;
}

export interface WarmPoolReturnReport {
  readonly outcome: 'warm-pool-restored' | 'node-not-found' | 'ignored' | 'dry-run';
  readonly node?: string;
  readonly undo?: Undo;
  /** The launch lifecycle action completed (CONTINUE), if the event carried one. */
  readonly lifecycleResult: LifecycleResult | null;
}

/** What restoreFromWarmPool talks to; `launchAction` when the launch waits in a lifecycle hook. */
export interface WarmPoolPorts {
  readonly cluster: ClusterPort;
  readonly instances: InstancePort;
  readonly marks: MarksPort;
  readonly launchAction?: LifecyclePort;
}

/**
 * An instance back from the warm pool: undo what the mark of this instance says the drainer did, then
 * complete the launch lifecycle action (if any) with CONTINUE, also when nothing was to undo or the
 * undo failed (the next drain's start retries it): the instance must not wait for the drainer.
 */
export async function restoreFromWarmPool(
  launch: WarmPoolLaunch,
  ports: WarmPoolPorts,
  { log, clock, dryRun = false }: { readonly log: Logger; readonly clock: Clock; readonly dryRun?: boolean },
): Promise<WarmPoolReturnReport> {
  if (dryRun) {
    // DRY_RUN changes nothing and completes no lifecycle action: the launch hook times out into CONTINUE
    log.info('dry run: would undo the warm-pool mark and continue the launch', {
      fromWarmPool: launch.fromWarmPool,
    });
    return { outcome: 'dry-run', lifecycleResult: null };
  }
  const report = await undoReturn(launch, ports, log, clock);
  if (!ports.launchAction) return { ...report, lifecycleResult: null };
  const completion = await ports.launchAction.complete('CONTINUE');
  log.info('completed the launch lifecycle action', { completion });
  return { ...report, lifecycleResult: 'CONTINUE' };
}

type Undone = Omit<WarmPoolReturnReport, 'lifecycleResult'>;

/** Never throws: a failed undo is retried by the next drain's start (the mark stays). */
async function undoReturn(
  launch: WarmPoolLaunch,
  ports: { readonly cluster: ClusterPort; readonly instances: InstancePort; readonly marks: MarksPort },
  log: Logger,
  clock: Clock,
): Promise<Undone> {
  if (!launch.fromWarmPool) {
    log.info('launch not from the warm pool: nothing to undo');
    return { outcome: 'ignored' };
  }
  try {
    return await restore(launch, ports, log, clock);
  } catch (error) {
    log.warn('could not restore the node back from the warm pool; the next drain retries', {
      error: errorMessage(error),
    });
    return { outcome: 'ignored' };
  }
}

async function restore(
  launch: WarmPoolLaunch,
  ports: { readonly cluster: ClusterPort; readonly instances: InstancePort; readonly marks: MarksPort },
  log: Logger,
  clock: Clock,
): Promise<Undone> {
  const nodeName = await ports.instances.privateDnsName(launch.instanceId).catch(() => undefined);
  const node = await ports.cluster.findNode({
    instanceId: launch.instanceId,
    ...(nodeName ? { nodeName } : {}),
  });
  if (!node) {
    log.info('node not found for the instance back from the warm pool');
    return { outcome: 'node-not-found' };
  }
  const mark = await ports.marks.read(node);
  if (mark?.instanceId !== launch.instanceId) {
    log.info('node carries no warm-pool mark of this instance: nothing to undo', { node });
    return { outcome: 'ignored', node };
  }
  const undo = undoOf(mark);
  const result = await ports.marks.restore(node, mark, undo, clock.now());
  log.info('node back from the warm pool', { node, undo, result });
  return { outcome: result === 'restored' ? 'warm-pool-restored' : 'ignored', node, undo };
}
