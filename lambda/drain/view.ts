/**
 * How the drain sees the node between its steps: the watches' feed of the node's pods and the PDBs
 * while it holds (ClusterPort.followNode), and the wake-up when one of them changes. Without a feed
 * (the cluster offers none, or it could not be had, or it gave up) the drain lists, as before, and
 * tries the watches again every REFOLLOW_MS.
 */
import { type Guard, Stopped } from './guard.js';
import type { PdbInfo } from './model.js';
import type { Clock, ClusterPort, Logger, NodeFeed } from './ports.js';

/** The reason a wake-up aborts the sleep with: an AbortController's default is a new DOMException, stack and all. */
const WOKEN = 'woken';

/**
 * While listing because the watches could not be had or gave up, they are tried again this often:
 * one list and watch every 5 s costs the server less than the node's list every 500 ms it replaces,
 * and a listing drain takes no PDB turns (in a 100-node scale-in, ten drains whose watches timed out in
 * the mass start listed for 30 s and made 1,273 refused evictions).
 */
export const REFOLLOW_MS = 5_000;

export class NodeView {
  private feed?: NodeFeed;
  /** Something changed since the loop last slept. */
  private changed = false;
  private wake?: AbortController;
  private stopWakes?: AbortSignal;
  private closed = false;
  private source?: {
    readonly cluster: ClusterPort;
    readonly guard: Guard;
    readonly wakesForPdb?: (pdb: PdbInfo) => boolean;
  };
  /** Listing: when to try the watches again. */
  private retryAt?: number;

  constructor(
    private readonly node: string,
    private readonly log: Logger,
    private readonly clock: Clock,
  ) {}

  /**
   * Starts the watches if the cluster offers them. `guard` is the run's: its Stopped (the run
   * stopped) is passed on, any other failure means listing instead (said once).
   */
  async follow(cluster: ClusterPort, guard: Guard, wakesForPdb?: (pdb: PdbInfo) => boolean): Promise<void> {
    if (!cluster.followNode) return;
    this.source = { cluster, guard, ...(wakesForPdb && { wakesForPdb }) };
    await this.open(true);
  }

  /** Wakes the loop as a change would (its limits changed). */
  poke(): void {
    this.changed = true;
    this.wake?.abort(WOKEN);
  }

  /** While listing, tries the watches again every REFOLLOW_MS (a server shedding load at the start, say). */
  async refollow(): Promise<void> {
    if (this.feed || this.retryAt === undefined || this.clock.now() < this.retryAt) return;
    await this.open(false);
  }

  private async open(first: boolean): Promise<void> {
    const source = this.source;
    const follow = source?.cluster.followNode?.bind(source.cluster);
    if (!source || !follow) return;
    try {
      this.feed = await source.guard.run(() => {
        const following = follow(this.node, () => this.poke(), source.wakesForPdb);
        // a feed that arrives after the run ended (stopped meanwhile) is closed at once
        following.then((feed) => this.closed && feed.close()).catch(() => {});
        return following;
      });
      this.retryAt = undefined;
      if (first) this.log.debug('following the node with watches', { node: this.node });
      else this.log.info('watches back: following the node again', { node: this.node });
    } catch (error) {
      if (error instanceof Stopped) throw error;
      this.retryAt = this.clock.now() + REFOLLOW_MS;
      const detail = { node: this.node, error: error instanceof Error ? error.message : String(error) };
      if (first) this.log.warn('watch unavailable: listing the node instead', detail);
      else this.log.debug('watch still unavailable', detail);
    }
  }

  /** The feed while its watches hold; once one gives up, undefined until refollow() has them back (logged). */
  live(): NodeFeed | undefined {
    if (this.feed?.failed()) {
      this.log.warn('watch gave up: listing the node instead', { node: this.node });
      this.feed.close();
      this.feed = undefined;
      this.retryAt = this.clock.now() + REFOLLOW_MS;
    }
    return this.feed;
  }

  /** Sleeps `ms` of the clock, ending early when a watched pod or PDB changes or `signal` aborts. */
  async sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
    if (signal && !this.stopWakes) {
      // once per drain, not a combined signal per sleep: the loop sleeps after every change
      this.stopWakes = signal;
      signal.addEventListener('abort', () => this.wake?.abort(WOKEN), { once: true });
    }
    if (!this.changed && !signal?.aborted) {
      this.wake = new AbortController();
      await clock.sleep(ms, this.wake.signal);
      this.wake = undefined;
      // woken: one turn of the event loop first, so the changes that arrive together (an eviction's
      // pod and PDB updates come on two streams) are taken up in one pass (bench: a third fewer passes)
      if (this.changed && !signal?.aborted) await clock.sleep(0);
    }
    this.changed = false;
  }

  close(): void {
    this.closed = true;
    this.feed?.close();
  }
}
