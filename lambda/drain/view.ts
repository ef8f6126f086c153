/**
 * How the drain sees the node between its steps: the watches' feed of the node's pods and the PDBs
 * while it holds (ClusterPort.followNode), and the wake-up when one of them changes. Without a feed
 * (the cluster offers none, or it could not be had, or it gave up) the drain lists, as before.
 */
import type { Clock, ClusterPort, Logger, NodeFeed } from './ports.js';

/** The reason a wake-up aborts the sleep with: an AbortController's default is a new DOMException, stack and all. */
const WOKEN = 'woken';

export class NodeView {
  private feed?: NodeFeed;
  /** Something changed since the loop last slept. */
  private changed = false;
  private wake?: AbortController;
  private stopWakes?: AbortSignal;
  private closed = false;

  constructor(
    private readonly node: string,
    private readonly log: Logger,
  ) {}

  /**
   * Starts the watches if the cluster offers them. `guard` is the run's abort race: its rejection
   * (the run stopped) is passed on, any other failure means listing instead.
   */
  async follow(
    cluster: ClusterPort,
    guard: (call: Promise<NodeFeed>) => Promise<NodeFeed>,
    isStop: (error: unknown) => boolean,
  ): Promise<void> {
    if (!cluster.followNode) return;
    const following = cluster.followNode(this.node, () => {
      this.changed = true;
      this.wake?.abort(WOKEN);
    });
    // a feed that arrives after the run ended (stopped meanwhile) is closed at once
    following.then((feed) => this.closed && feed.close()).catch(() => {});
    try {
      this.feed = await guard(following);
      this.log.debug('following the node with watches', { node: this.node });
    } catch (error) {
      if (isStop(error)) throw error;
      this.log.warn('watch unavailable: listing the node instead', {
        node: this.node,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }

  /** The feed while its watches hold; once one gives up, undefined from then on (logged once). */
  live(): NodeFeed | undefined {
    if (this.feed?.failed()) {
      this.log.warn('watch gave up: listing the node instead', { node: this.node });
      this.feed.close();
      this.feed = undefined;
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
