/**
 * The job's step after its pods are gone: wait until no load balancer routes to the instance and no
 * volume is attached to the node any more (release.ts), looking for the instance's IPs but those of
 * the pods that stay, and record how it ended as an Event of the node.
 */
import type { DrainReport } from '../drain/drain.js';
import { errorMessage } from '../errors.js';
import type { JobPorts, JobSettings } from './job.js';
import type { Clock, Logger } from './ports.js';
import type { JobLimits } from './record.js';
import { type ReleaseReport, releaseEvent, waitForRelease } from './release.js';

type Deps = { readonly clock: Clock; readonly log: Logger };

export class ReleaseStep {
  /** @param signal the job's stop (and pause) signal, read when a wait begins. */
  constructor(
    private readonly settings: JobSettings,
    private readonly ports: JobPorts,
    private readonly deps: Deps,
    private readonly signal: () => AbortSignal,
  ) {}

  /** The pods are gone (or a dry run planned them gone) and a wait is configured. */
  wanted(drain: DrainReport): boolean {
    const podsGone =
      drain.outcome === 'dry-run' ||
      ((drain.outcome === 'drained' || drain.outcome === 'deadline-deleted') && drain.remaining.length === 0);
    return podsGone && (this.settings.waitForLoadBalancers || this.settings.waitForVolumeDetach);
  }

  /** Waits for the release within the job's limits; `once`: one look (a dry run). */
  async wait(node: string, drain: DrainReport, limits: JobLimits, once = false): Promise<ReleaseReport> {
    const now = this.deps.clock.now();
    // no step is skipped because the deadline passed (a late start, a deadline policy): the waits
    // get at least the window every pod's eviction gets, never past the hard end
    const windowMs = this.settings.minEvictionWindowSeconds * 1000;
    const until = once
      ? now
      : Math.min(Math.max(limits.deadline, now + windowMs), limits.hardEnd ?? Number.POSITIVE_INFINITY);
    return waitForRelease(
      {
        ...(this.settings.waitForLoadBalancers && this.ports.loadBalancers
          ? { loadBalancers: this.ports.loadBalancers }
          : {}),
        ...(this.settings.waitForVolumeDetach ? { cluster: this.ports.cluster } : {}),
      },
      {
        node,
        instanceId: this.settings.target.instanceId ?? '',
        privateIps: await this.privateIps(),
        stayingIps: await this.stayingIps(node, drain),
        until,
        pauseAt: this.settings.pauseAt,
        signal: this.signal(),
      },
      this.deps,
    );
  }

  /** The release's Event on the node (a failure to record it is logged, nothing more). */
  async record(node: string, release: ReleaseReport): Promise<void> {
    await this.ports.cluster
      .recordEvent({ kind: 'Node', name: node }, releaseEvent(release))
      .catch((error: unknown) =>
        this.deps.log.warn('could not record event', { error: errorMessage(error) }),
      );
  }

  private async privateIps(): Promise<string[]> {
    const { instanceId } = this.settings.target;
    if (!instanceId || !this.ports.instances.privateIps) return [];
    return this.ports.instances.privateIps(instanceId).catch((error: unknown) => {
      this.deps.log.warn('instance IP lookup failed; ip-mode targets are not checked', {
        error: errorMessage(error),
      });
      return [];
    });
  }

  /**
   * The IPs of the pods that stay on the node (DaemonSet, static and hostNetwork ones, never
   * evicted): their IP-mode targets leave with the instance, not before, so the wait ignores them.
   */
  private async stayingIps(node: string, drain: DrainReport): Promise<string[]> {
    if (!this.settings.waitForLoadBalancers || drain.skipped.length === 0) return [];
    try {
      const { pods } = await this.ports.cluster.listPods(node);
      return pods.flatMap((pod) => (pod.ip ? [pod.ip] : []));
    } catch (error) {
      this.deps.log.warn('could not list the pods that stay; their targets are waited for', {
        error: errorMessage(error),
      });
      return [];
    }
  }
}

/** The deadline came with the instance still a load balancer target, or its volumes still attached. */
export function stillAttached(release: ReleaseReport | undefined): boolean {
  if (release?.outcome !== 'deadline') return false;
  return (release.loadBalancers?.left.length ?? 0) + (release.volumes?.left.length ?? 0) > 0;
}
