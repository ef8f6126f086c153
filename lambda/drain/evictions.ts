/**
 * The drain's eviction requests: sent without waiting for their answers (at most
 * maxConcurrentEvictions in flight), each answer applied to its pod's track: evicted, gone, or
 * refused (counted, logged once per message, an Event on the pod, the retry scheduled).
 */
import { errorMessage } from '../errors.js';
import type { ClusterCalls } from './calls.js';
import { blockedEvent } from './events.js';
import { clampedGrace } from './grace.js';
import { Stopped, unlessStopped } from './guard.js';
import type { Ledger } from './ledger.js';
import { type PdbInfo, podKey } from './model.js';
import { type Backoff, scheduleRetry, spentPdb } from './pacing.js';
import type { Clock, EvictionResult, Logger } from './ports.js';
import type { PdbCoverage } from './selector.js';
import type { Track } from './track.js';

export interface EvictionSettings {
  readonly dryRun: boolean;
  readonly maxConcurrentEvictions: number;
  readonly backoff: Backoff;
  /** The Events' series: one per drain (its start). */
  readonly series: string;
  /** The instance's hard end, if any: grace periods clamped to it. */
  hardEnd(): number | undefined;
  /** The PDBs of a namespace as the watches see them (undefined: no watches). */
  pdbsIn(namespace: string): readonly PdbInfo[] | undefined;
}

export class Evictions {
  /** Requests not answered yet: the loop goes on (and reacts) while they are. */
  private readonly inFlight = new Map<Track, Promise<void>>();
  /** A bug in handling an answer: thrown out of the loop by the drain, never swallowed. */
  unexpected: unknown;

  constructor(
    private readonly calls: ClusterCalls,
    private readonly ledger: Ledger,
    private readonly coverage: PdbCoverage,
    private readonly settings: EvictionSettings,
    private readonly deps: { readonly clock: Clock; readonly log: Logger },
  ) {}

  has(track: Track): boolean {
    return this.inFlight.has(track);
  }

  /** Every request sent so far, answered. */
  async settled(): Promise<void> {
    await Promise.allSettled(this.inFlight.values());
  }

  /**
   * Sends an eviction request for each track (at most maxConcurrentEvictions in flight) without
   * waiting for the answers; returns the requests, for a caller that waits (without watches).
   */
  send(tracks: readonly Track[]): Promise<void>[] {
    const sent: Promise<void>[] = [];
    for (const track of tracks) {
      if (this.inFlight.size >= this.settings.maxConcurrentEvictions) break;
      const request = this.evictOne(track)
        .catch((error: unknown) => {
          // stopped: the loop stops as well; anything else is a bug and must not vanish
          if (!(error instanceof Stopped)) this.unexpected ??= error;
        })
        .finally(() => this.inFlight.delete(track));
      this.inFlight.set(track, request);
      sent.push(request);
    }
    return sent;
  }

  /** One eviction request; its answer updates the track. */
  async evictOne(track: Track): Promise<void> {
    const now = this.deps.clock.now();
    const grace = clampedGrace(track.pod, this.settings.hardEnd(), now);
    const result = await this.calls.guard
      .run(() => {
        this.ledger.evictionRequests++;
        track.attempts++;
        track.lastAttemptAt = now;
        track.offeredAt ??= now;
        return this.calls.cluster.evict(track.pod, { dryRun: this.settings.dryRun, ...grace });
      })
      .catch(
        (error: unknown): EvictionResult => ({ kind: 'failed', message: errorMessage(unlessStopped(error)) }),
      );
    this.apply(track, result);
  }

  private apply(track: Track, result: EvictionResult): void {
    const { clock, log } = this.deps;
    const pod = podKey(track.pod);
    switch (result.kind) {
      case 'evicted': {
        track.state = 'evicted';
        const pdbs = this.settings.pdbsIn(track.pod.namespace);
        if (pdbs) track.spentPdb = spentPdb(track.pod, pdbs, this.coverage, clock.now());
        this.ledger.evicted.push(pod);
        log.info('pod evicted', { pod, attempts: track.attempts });
        return;
      }
      case 'gone':
        // 404: not there any more; the next trusted read confirms it by UID
        track.state = 'terminating';
        return;
      default: {
        if (result.kind === 'pdb-blocked' || result.kind === 'multiple-pdbs') {
          this.ledger.evictionRefusals++;
          track.pdbRefused = true;
          if (result.kind === 'pdb-blocked' && track.sentWithinBudget) track.raced = true;
        } else if (result.kind === 'throttled') {
          this.ledger.throttled++;
        } else {
          this.ledger.addError(`${pod}: ${result.message}`);
        }
        if (track.lastRefusal?.message !== result.message) {
          const level = result.kind === 'pdb-blocked' || result.kind === 'throttled' ? 'info' : 'warn';
          log[level]('eviction refused', { pod, kind: result.kind, detail: result.message });
        }
        track.lastRefusal = result;
        const event = blockedEvent(track, clock.now(), this.settings.series);
        if (event) this.calls.eventLater(event, { kind: 'Pod', ...track.pod });
        scheduleRetry(track, result, this.settings.backoff, clock.now(), clock.random);
      }
    }
  }
}
