/**
 * The node's pods as the drain reads them between its steps: the watches' view, or a list when there
 * is none. "Gone" must mean gone (fresh.ts): every read must be at least as new as the newest one seen
 * (a list asks the server for "not older than" it, and the answer is checked too); an older read is not
 * trusted, counted and warned once per stale spell.
 */
import type { ClusterCalls } from './calls.js';
import { newest, olderThan } from './fresh.js';
import type { Guard } from './guard.js';
import type { Ledger } from './ledger.js';
import type { PodSnapshot } from './model.js';
import type { ClusterPort, Logger, NodeFeed, ResourceVersion } from './ports.js';

export class PodReads {
  /**
   * The newest read of the node's pods seen (a list, or the watches' view): later reads must be at
   * least as new. (Not the cordon's version: a resource's watch cache moves only with its own changes,
   * and on a quiet cluster it would be asked for a version it may not reach for long.)
   */
  private seenVersion?: ResourceVersion;
  /** The reads are older than one already seen, since the last trusted read (warned once). */
  private staleSpell = false;
  /** The feed's pods as the last read returned them. */
  private reconciled?: readonly PodSnapshot[];

  constructor(
    private readonly deps: {
      readonly cluster: ClusterPort;
      readonly guard: Guard;
      readonly calls: ClusterCalls;
      readonly ledger: Ledger;
      readonly log: Logger;
    },
  ) {}

  /**
   * The node's pods from the feed (or a list without one): undefined when there is no read to trust
   * (stale, or the list failed: retried with backoff), 'unchanged' when the feed shows the same pods
   * as the last read.
   */
  async read(
    node: string,
    feed: NodeFeed | undefined,
  ): Promise<readonly PodSnapshot[] | 'unchanged' | undefined> {
    if (!feed) return this.freshList(node);
    const version = feed.podsVersion();
    if (this.stale('watched pods', node, version)) return undefined;
    this.seenVersion = newest(version, this.seenVersion);
    const pods = feed.pods();
    if (pods === this.reconciled) return 'unchanged';
    this.reconciled = pods;
    return pods;
  }

  /**
   * Whether a read of the node's pods is older than one already seen (the watches' view and the
   * lists both count): not trusted; counted and warned once per stale spell, until a read at least as
   * new as the newest seen comes (a view replaying events from an older relist passes through several
   * older versions on its way back).
   */
  private stale(what: string, node: string, version: ResourceVersion | undefined): boolean {
    if (!olderThan(version, this.seenVersion)) {
      this.staleSpell = false;
      return false;
    }
    if (!this.staleSpell) {
      this.staleSpell = true;
      this.deps.ledger.staleReads++;
      this.deps.log.warn(`${what} older than a read already seen: not trusted`, {
        node,
        read: version,
        seen: this.seenVersion,
      });
    }
    return true;
  }

  /** A list at least as new as anything seen, or undefined (failed or stale: retried with backoff). */
  private async freshList(node: string): Promise<readonly PodSnapshot[] | undefined> {
    const { cluster, guard, calls } = this.deps;
    try {
      const list = await guard.run(() =>
        cluster.listPods(node, this.seenVersion ? { notOlderThan: this.seenVersion } : {}),
      );
      if (this.stale('pod list', node, list.resourceVersion)) return undefined;
      this.seenVersion = newest(list.resourceVersion, this.seenVersion);
      calls.succeeded();
      return list.pods;
    } catch (error) {
      calls.failed('list pods', error);
      return undefined;
    }
  }
}
