/**
 * The node's pods as the drain tracks them: admitted once (classified: evicted, waited for or
 * skipped), brought up to date by each trusted read. A pod missing from a read is gone; one that
 * shows up again is tracked again in the state it had, so an evicted pod is never evicted twice.
 */
import { classifyPod } from './classify.js';
import type { Ledger } from './ledger.js';
import { type PodSnapshot, podKey } from './model.js';
import { retryRefusedNow } from './pacing.js';
import type { Logger } from './ports.js';
import type { DrainProgress } from './progress.js';
import { newTrack, type Track } from './track.js';

export class TrackedPods {
  private readonly tracks = new Map<string, Track>();

  constructor(
    private readonly ledger: Ledger,
    private readonly log: Logger,
    /** What earlier invocations of the drain knew of the pods (offers, PDB refusals). */
    private readonly resume?: DrainProgress,
  ) {}

  all(): IterableIterator<Track> {
    return this.tracks.values();
  }

  /** Not gone yet (pending, evicted or terminating). */
  outstanding(): Track[] {
    return [...this.tracks.values()].filter((t) => t.state !== 'gone');
  }

  pending(): Track[] {
    return [...this.tracks.values()].filter((t) => t.state === 'pending');
  }

  /** Critical pods become eligible only once no ordinary pod is left on the node. */
  eligible(): Track[] {
    const outstanding = this.outstanding();
    const ordinaryLeft = outstanding.some((t) => !t.critical);
    return outstanding.filter((t) => t.state === 'pending' && (!t.critical || !ordinaryLeft));
  }

  /** One trusted read of the node's pods updates every pod's state; `now` for the refused pods' retry. */
  reconcile(pods: readonly PodSnapshot[], now: number): void {
    const present = new Map(pods.map((pod) => [pod.uid, pod]));
    let released = false;
    for (const track of this.tracks.values()) {
      const current = present.get(track.pod.uid);
      if (!current) {
        if (track.state === 'gone') continue;
        track.stateBeforeGone = track.state;
        track.state = 'gone';
        released = true;
        this.log.debug('pod gone', { pod: podKey(track.pod) });
        continue;
      }
      if (track.state === 'gone') {
        track.state = track.stateBeforeGone ?? 'terminating';
        this.log.warn('pod seen again after it was gone: tracked again', { pod: podKey(track.pod) });
      }
      if (track.state === 'pending' && current.terminating) {
        track.pod = current;
        track.state = 'terminating';
      }
    }
    for (const pod of pods) {
      if (!this.tracks.has(pod.uid) && !this.ledger.skipped.has(pod.uid)) this.admit(pod);
    }
    // a pod left the node: a PDB may allow the next disruption now
    if (released) retryRefusedNow(this.tracks.values(), now);
  }

  /** A pod seen for the first time: skipped (recorded), waited for (terminating) or to evict. */
  admit(pod: PodSnapshot): void {
    const decision = classifyPod(pod);
    const key = podKey(pod);
    if (decision.action === 'skip') {
      this.ledger.skipped.set(pod.uid, { pod: key, reason: decision.reason });
      return;
    }
    if (decision.action === 'evict') {
      for (const warning of decision.warnings) {
        this.ledger.warnings.push({ pod: key, warning });
        this.log.warn('evicting pod with warning', { pod: key, warning });
      }
    }
    const track = newTrack(
      pod,
      decision.action === 'evict' && decision.critical,
      decision.action === 'wait' ? 'terminating' : 'pending',
      this.resume?.offeredAt[pod.uid],
    );
    track.pdbRefused = this.resume?.pdbRefused?.includes(pod.uid) ?? false;
    this.tracks.set(pod.uid, track);
  }
}
