/**
 * One drain per node at a time: the drain holds a claim on the node (an annotation the adapter writes
 * with optimistic concurrency), renews it while it runs, keeps it for its continuation on hand-over
 * and drops it at the end. A duplicate delivery finds the claim and does nothing.
 */
import type { Clock, ClusterPort, NodeClaim } from './ports.js';

/** A claim lives this long without renewal; renewed every RENEW_MS while the drain runs. */
export const CLAIM_TTL_MS = 60_000;
const RENEW_MS = 15_000;
/** A paused drain keeps its claim this long for its continuation (async invocations may queue). */
export const CLAIM_HANDOVER_MS = 5 * 60_000;

export class NodeClaimKeeper {
  private renewAt = 0;

  constructor(
    private readonly cluster: ClusterPort,
    private readonly node: string,
    readonly holder: string,
    private readonly clock: Clock,
  ) {}

  claim(ttlMs = CLAIM_TTL_MS): Promise<NodeClaim> {
    const now = this.clock.now();
    this.renewAt = now + RENEW_MS;
    return this.cluster.claimNode(this.node, { holder: this.holder, until: now + ttlMs, now });
  }

  due(now: number): boolean {
    return now >= this.renewAt;
  }

  /** A failed renewal is tried again after `retryMs`; the claim still has most of its life. */
  retryIn(now: number, retryMs: number): void {
    this.renewAt = now + retryMs;
  }

  release(): Promise<void> {
    return this.cluster.releaseNode(this.node, this.holder);
  }
}
