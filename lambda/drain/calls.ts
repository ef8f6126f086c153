/**
 * A drain's calls to the cluster besides its evictions: under its guard (a stopped run starts none),
 * every failure noted in its ledger and logged, and the backoff of calls it cannot go on without.
 */
import { ClusterAccessError, errorMessage } from '../errors.js';
import { backoffDelay } from './concurrency.js';
import { type Guard, unlessStopped } from './guard.js';
import type { Ledger } from './ledger.js';
import type { PdbInfo } from './model.js';
import type { Backoff } from './pacing.js';
import type { Clock, ClusterEvent, ClusterPort, EventSubject, Logger, NodeFeed } from './ports.js';

export class ClusterCalls {
  private failureStep = 0;
  private lastFailure: unknown;
  private readonly pendingEvents: Promise<void>[] = [];
  /** The node, once found: Events go to it. */
  node?: string;

  constructor(
    readonly cluster: ClusterPort,
    readonly guard: Guard,
    private readonly ledger: Ledger,
    private readonly log: Logger,
    private readonly clock: Clock,
    private readonly backoff: Backoff,
    /** A dry run records no Event. */
    private readonly dryRun: boolean,
  ) {}

  noteError(what: string, error: unknown): void {
    this.ledger.addError(`${what}: ${errorMessage(error)}`);
    this.log.warn('cluster call failed', { call: what, error: errorMessage(error) });
  }

  /** A call the drain goes on without failed: noted, and the next backoff counts it. */
  failed(what: string, error: unknown): void {
    this.noteError(what, unlessStopped(error));
    this.lastFailure = error;
  }

  succeeded(): void {
    this.failureStep = 0;
  }

  /** Backoff after a failed call, with the server's Retry-After (throttling) as a floor. */
  failureDelay(): number {
    this.failureStep++;
    const failure = this.lastFailure;
    this.lastFailure = undefined;
    const retryAfterMs = failure instanceof ClusterAccessError ? failure.retryAfterMs : undefined;
    return backoffDelay(this.failureStep, this.backoff, this.clock.random, retryAfterMs);
  }

  /**
   * Retries a call the drain cannot go on without, until `giveUpAt` (then `deadline`) or `pauseAt`
   * (then `paused`), sleeping with `sleepUntil` between tries.
   */
  async untilDeadline<T>(
    what: string,
    call: () => Promise<T>,
    limits: { readonly giveUpAt: () => number; readonly pauseAt?: number },
    sleepUntil: (at: number) => Promise<void>,
  ): Promise<{ value: T; stopped?: undefined } | { stopped: 'deadline' | 'paused' }> {
    for (;;) {
      try {
        const value = await this.guard.run(call);
        this.succeeded();
        return { value };
      } catch (error) {
        this.failed(what, error);
      }
      const next = this.clock.now() + this.failureDelay();
      if (next >= limits.giveUpAt()) return { stopped: 'deadline' };
      if (limits.pauseAt !== undefined && next >= limits.pauseAt) return { stopped: 'paused' };
      await sleepUntil(next);
    }
  }

  /** Records an Event on the node (or `subject`); a failure is logged, never fails the drain. */
  async event(event: ClusterEvent, subject?: EventSubject): Promise<void> {
    const node = this.node;
    if (!node || this.dryRun) return;
    try {
      await this.guard.run(() => this.cluster.recordEvent(subject ?? { kind: 'Node', name: node }, event));
    } catch (error) {
      unlessStopped(error);
      this.log.warn('could not record event', { reason: event.reason, error: errorMessage(error) });
    }
  }

  /** An Event recorded without waiting for it (a blocked pod's); the report waits for them all. */
  eventLater(event: ClusterEvent, subject: EventSubject): void {
    this.pendingEvents.push(this.event(event, subject));
  }

  async eventsRecorded(): Promise<void> {
    await Promise.all(this.pendingEvents).catch(() => {});
  }

  /** The namespace's PDBs: from the watches' feed, or listed (undefined when that failed). */
  async pdbsIn(namespace: string, feed: NodeFeed | undefined): Promise<readonly PdbInfo[] | undefined> {
    if (feed) return feed.pdbs(namespace);
    try {
      return await this.guard.run(() => this.cluster.listPdbs(namespace));
    } catch (error) {
      this.noteError(`list pdbs in ${namespace}`, unlessStopped(error));
      return undefined;
    }
  }
}
