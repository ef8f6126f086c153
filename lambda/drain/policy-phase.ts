/**
 * The deadline policy of a running drain (DRAIN-SEMANTICS.md, "Deadlines"): from the deadline on,
 * `continue`/`abandon` end the drain once every pod had its eviction window, and `delete` deletes the
 * pods a PDB still refuses, each after its window, until the phase's end. The phase is bounded once,
 * when it starts (a continuation carries that end, clamped so no pod loses its window).
 */
import type { ClusterCalls } from './calls.js';
import { backoffDelay } from './concurrency.js';
import {
  awaitingServerAnswer,
  clampedPolicyEnd,
  deletable,
  everyEligibleHadItsWindow,
  policyEndsAt,
} from './deadline.js';
import { deadlineEvent } from './events.js';
import { clampedGrace } from './grace.js';
import { unlessStopped } from './guard.js';
import type { Ledger } from './ledger.js';
import { podKey } from './model.js';
import type { DrainLimits } from './options.js';
import { type Backoff, probeUnrefused } from './pacing.js';
import type { Clock, Logger } from './ports.js';
import type { BlockedPod, DrainOutcome } from './report.js';
import type { Track } from './track.js';

/** Past a hard end, the drain still watches this long for the pods whose clamped grace ended there. */
const SEE_THEM_GO_MS = 1_500;

/** What the phase reads of the running drain. */
export interface PhaseRun {
  readonly limits: DrainLimits;
  readonly windowMs: number;
  tracksNow(): Iterable<Track>;
  outstanding(): Track[];
  /** Pods that may be evicted now (critical ones once the ordinary ones are gone). */
  eligible(): Track[];
  /** Its eviction request is out, not answered yet. */
  inFlight(track: Track): boolean;
  blockedPods(): Promise<BlockedPod[]>;
}

export class PolicyPhase {
  /** When the phase ends, whatever is left: fixed when it starts. */
  private endsAt?: number;
  /** Set when the policy ends the drain, before it acts on the blocked pods. */
  blockedAtEnd?: BlockedPod[];
  /** The deadline was logged and recorded as an Event (once the probes were answered). */
  private announced = false;

  constructor(
    private readonly run: PhaseRun,
    private readonly calls: ClusterCalls,
    private readonly ledger: Ledger,
    private readonly deps: { readonly clock: Clock; readonly log: Logger },
    private readonly tuning: { readonly marginMs: number; readonly backoff: Backoff },
    /** A continuation's end of a phase that began earlier, clamped once the pods are known. */
    private carriedEnd?: number,
  ) {}

  /** The end to carry into a continuation. */
  get end(): number | undefined {
    return this.endsAt ?? this.carriedEnd;
  }

  /** The drain took new limits: a deadline moved out again means no phase yet; a hard end bounds it. */
  limitsChanged(previous: DrainLimits, next: DrainLimits, now: number): void {
    if (next.deadline > now && this.endsAt !== undefined && next.deadline > previous.deadline) {
      this.endsAt = undefined;
      this.blockedAtEnd = undefined;
    }
    if (this.endsAt !== undefined && next.hardEnd !== undefined)
      this.endsAt = Math.min(this.endsAt, next.hardEnd + SEE_THEM_GO_MS);
  }

  /** The limit the drain's sleep must not pass. */
  get wakeAt(): number | undefined {
    return this.endsAt;
  }

  /**
   * Past the deadline: the policy acts on each pod only after its eviction window, so pods offered
   * late keep being evicted meanwhile. Returns the outcome once the drain ends.
   */
  async apply(now: number): Promise<DrainOutcome | undefined> {
    const { limits, windowMs } = this.run;
    const policy = limits.onDeadline;
    const hardEndMs = (limits.hardEnd ?? Number.POSITIVE_INFINITY) + SEE_THEM_GO_MS;
    const margin = this.tuning.marginMs;
    if (this.endsAt === undefined && this.carriedEnd !== undefined) {
      // a continuation's phase goes on, but an event's time may shorten no pod's window
      this.endsAt = Math.min(
        clampedPolicyEnd(this.carriedEnd, now, this.run.outstanding(), windowMs, margin),
        hardEndMs,
      );
      this.carriedEnd = undefined;
      this.announced = true;
    }
    if (this.endsAt === undefined) {
      // the clamped grace periods end at hardEnd: a moment more to see those pods go
      this.endsAt = Math.min(policyEndsAt(now, this.run.outstanding(), windowMs, margin), hardEndMs);
      probeUnrefused(this.run.tracksNow(), now);
      this.announced = false;
    }
    const timeUp = now >= this.endsAt;
    const eligible = this.run.eligible();
    const answered = !awaitingServerAnswer(eligible, (t) => this.run.inFlight(t));
    if (!this.announced && (answered || timeUp)) {
      // reported as what the deadline found blocked once the server answered, whatever the policy
      // then does to them
      this.announced = true;
      this.blockedAtEnd = await this.run.blockedPods();
      this.deps.log.warn('drain deadline reached', {
        node: this.calls.node,
        policy,
        blocked: this.blockedAtEnd,
      });
      await this.calls.event(deadlineEvent(this.blockedAtEnd.length, policy, this.ledger.tally()));
    }
    if (policy !== 'delete') {
      if (!timeUp && !(answered && everyEligibleHadItsWindow(eligible, now, windowMs))) return undefined;
      this.blockedAtEnd = await this.run.blockedPods();
      return policy === 'continue' ? 'deadline-continued' : 'deadline-abandoned';
    }
    if (timeUp) {
      this.deps.log.warn('deadline policy ended with pods left', {
        node: this.calls.node,
        blocked: this.blockedAtEnd,
      });
      return 'deadline-deleted';
    }
    // nothing deleted before the deadline's blocked pods are recorded
    if (!this.announced) return undefined;
    for (const track of deletable(eligible, now, windowMs)) await this.delete(track);
    return undefined;
  }

  private async delete(track: Track): Promise<void> {
    const { clock, log } = this.deps;
    const pod = podKey(track.pod);
    try {
      const grace = clampedGrace(track.pod, this.run.limits.hardEnd, clock.now());
      const result = await this.calls.guard.run(() => this.calls.cluster.deletePod(track.pod, grace));
      track.state = 'terminating';
      if (result === 'deleted') {
        this.ledger.deleted.push(pod);
        log.warn('pod deleted at deadline', { pod, pdbs: track.lastRefusal?.message });
      }
    } catch (error) {
      this.calls.noteError(`delete ${pod}`, unlessStopped(error));
      track.deleteFailures++;
      track.nextDeleteAt =
        clock.now() + backoffDelay(track.deleteFailures, this.tuning.backoff, clock.random);
    }
  }
}
