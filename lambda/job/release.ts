/**
 * After the pods are gone, before the lifecycle action completes: wait until the load balancers have
 * let go of the instance (no ELBv2 target of the cluster in a state other than `unused`) and the CSI
 * drivers have detached its volumes (no VolumeAttachment on the node), bounded by the drain deadline.
 * Terminating earlier drops connections still routed to the node (502/504) and leaves a StatefulSet's
 * replacement in `Multi-Attach error` for minutes.
 */
import { backoffDelay } from '../drain/concurrency.js';
import type { ClusterEvent } from '../drain/ports.js';
import { errorMessage } from '../errors.js';
import type { Clock, ClusterPort, LoadBalancerPort, Logger, TargetRegistration } from './ports.js';

export interface ReleaseOptions {
  readonly node: string;
  readonly instanceId: string;
  readonly privateIps: readonly string[];
  /**
   * IPs of pods that stay on the node (DaemonSet, static, hostNetwork ones: never evicted): their
   * IP-mode targets leave with the instance, so the wait does not wait for them.
   */
  readonly stayingIps?: readonly string[];
  /** Epoch ms: what is still there then is reported, and the drain ends per the policy. */
  readonly until: number;
  /** Epoch ms: hand over to a new invocation by then. */
  readonly pauseAt?: number;
  readonly signal?: AbortSignal;
}

export interface ReleasePorts {
  /** Absent: WAIT_FOR_LOAD_BALANCERS is off. */
  readonly loadBalancers?: LoadBalancerPort;
  /** Absent: WAIT_FOR_VOLUME_DETACH is off. */
  readonly cluster?: Pick<ClusterPort, 'listVolumeAttachments'>;
}

export interface WaitReport<T> {
  /** What the first look found still attached to the instance. */
  readonly seen: readonly T[];
  /** What was still there when the wait ended (empty: released). */
  readonly left: readonly T[];
  readonly waitedMs: number;
  readonly errors: readonly string[];
}

export interface ReleaseReport {
  readonly outcome: 'released' | 'deadline' | 'paused' | 'stopped';
  readonly loadBalancers?: WaitReport<TargetRegistration>;
  readonly volumes?: WaitReport<string>;
}

/** ELBv2 target health changes no faster than this is worth asking (deregistration takes minutes). */
const LOAD_BALANCER_POLL_MS = 5_000;
/** VolumeAttachments come from the watch cache: cheap to list. */
const VOLUME_POLL_MS = 1_000;
const MAX_ERRORS = 10;

class Waiter<T> {
  seen?: T[];
  left: T[] = [];
  readonly errors: string[] = [];
  doneAt?: number;
  nextAt = 0;
  private failures = 0;

  constructor(
    private readonly look: () => Promise<T[]>,
    private readonly pollMs: number,
  ) {}

  async poll(clock: Clock): Promise<void> {
    try {
      const found = await this.look();
      this.failures = 0;
      this.seen ??= found;
      this.left = found;
      if (found.length === 0) this.doneAt = clock.now();
      this.nextAt = clock.now() + this.pollMs;
    } catch (error) {
      // throttled or denied: retried with backoff until the deadline, reported
      this.failures++;
      if (this.errors.length < MAX_ERRORS) this.errors.push(errorMessage(error));
      this.nextAt =
        clock.now() + backoffDelay(this.failures, { initialMs: 1_000, maxMs: 30_000 }, clock.random);
    }
  }

  report(startedAt: number, now: number): WaitReport<T> {
    return {
      seen: this.seen ?? this.left,
      left: this.left,
      waitedMs: (this.doneAt ?? now) - startedAt,
      errors: this.errors,
    };
  }
}

export async function waitForRelease(
  ports: ReleasePorts,
  options: ReleaseOptions,
  deps: { readonly clock: Clock; readonly log: Logger },
): Promise<ReleaseReport> {
  const { clock, log } = deps;
  const startedAt = clock.now();
  const { loadBalancers, cluster } = ports;
  const lb = loadBalancers
    ? new Waiter(async () => {
        const staying = new Set(options.stayingIps ?? []);
        const found = await loadBalancers.registrations({
          instanceId: options.instanceId,
          privateIps: options.privateIps,
        });
        return found.filter((target) => !staying.has(target.id));
      }, LOAD_BALANCER_POLL_MS)
    : undefined;
  // DaemonSet and static pods stay, but cannot hold an EBS volume (ReadWriteOnce across nodes, no
  // claims in static pods): every attachment left on the node belongs to a pod that is gone
  const volumes = cluster
    ? new Waiter(() => cluster.listVolumeAttachments(options.node), VOLUME_POLL_MS)
    : undefined;
  const waiters = [lb, volumes].filter(
    (w): w is Waiter<TargetRegistration> | Waiter<string> => w !== undefined,
  );

  const finish = (outcome: ReleaseReport['outcome']): ReleaseReport => {
    const now = clock.now();
    const report: ReleaseReport = {
      outcome,
      ...(lb ? { loadBalancers: lb.report(startedAt, now) } : {}),
      ...(volumes ? { volumes: volumes.report(startedAt, now) } : {}),
    };
    log.info('release wait ended', { ...report });
    return report;
  };

  for (;;) {
    const now = clock.now();
    for (const waiter of waiters) {
      if (waiter.doneAt === undefined && waiter.nextAt <= now) await waiter.poll(clock);
      if (options.signal?.aborted) return finish('stopped');
    }
    if (waiters.every((w) => w.doneAt !== undefined)) return finish('released');
    const after = clock.now();
    if (after >= options.until) {
      log.warn('the instance is still attached at the deadline', {
        targets: lb?.left,
        volumeAttachments: volumes?.left,
      });
      return finish('deadline');
    }
    if (options.pauseAt !== undefined && after >= options.pauseAt) return finish('paused');
    const wake = Math.min(
      options.until,
      options.pauseAt ?? Number.POSITIVE_INFINITY,
      ...waiters.filter((w) => w.doneAt === undefined).map((w) => w.nextAt),
    );
    await clock.sleep(Math.max(0, wake - after), options.signal);
    if (options.signal?.aborted) return finish('stopped');
  }
}

/** What the release waits found, on the node: `kubectl describe node` tells why the instance waited. */
export function releaseEvent(release: ReleaseReport): ClusterEvent {
  const parts: string[] = [];
  const lb = release.loadBalancers;
  const volumes = release.volumes;
  if (lb)
    parts.push(
      `${lb.seen.length} load balancer target(s), ${lb.left.length} left after ${Math.round(lb.waitedMs / 1000)} s`,
    );
  if (volumes) {
    parts.push(
      `${volumes.seen.length} volume attachment(s), ${volumes.left.length} left after ${Math.round(volumes.waitedMs / 1000)} s`,
    );
  }
  const released = release.outcome === 'released';
  return {
    reason: released ? 'InstanceReleased' : 'InstanceReleaseIncomplete',
    type: released ? 'Normal' : 'Warning',
    message: parts.join('; '),
  };
}
