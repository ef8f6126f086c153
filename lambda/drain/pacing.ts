/** When the next eviction request for a pod goes out. */
import { backoffDelay, contendedDelay } from './concurrency.js';
import type { PdbInfo, PodSnapshot } from './model.js';
import { type PdbCoverage, pdbsCovering } from './selector.js';
import type { Refusal, Track } from './track.js';

export interface Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
}

/** After a refusal or failure: exponential backoff with jitter, Retry-After as a floor. */
export function scheduleRetry(
  track: Track,
  result: Refusal,
  backoff: Backoff,
  now: number,
  random: () => number,
): void {
  track.backoffStep++;
  const retryAfterMs = 'retryAfterMs' in result ? result.retryAfterMs : undefined;
  track.nextAttemptAt = now + backoffDelay(track.backoffStep, backoff, random, retryAfterMs);
}

/** A pod left the node: a PDB may allow the next disruption now, so PDB-refused pods retry at once. */
export function retryRefusedNow(tracks: Iterable<Track>, now: number): void {
  for (const track of tracks) {
    if (track.state === 'pending' && track.lastRefusal?.kind === 'pdb-blocked') {
      track.nextAttemptAt = Math.min(track.nextAttemptAt, now);
      track.backoffStep = 0;
    }
  }
}

/**
 * The API server refuses an eviction exactly when a covering PDB's status allows no disruption, so
 * pods refused by a PDB wait for its status instead of retrying blindly: as many are released as
 * the PDBs allow, the others wait (retried only at the longest backoff, in case the status is stale).
 */
export function releaseByPdbStatus(
  refused: readonly Track[],
  pdbs: readonly PdbInfo[],
  now: number,
  backoff: Backoff,
): void {
  const budget = new Map(pdbs.map((pdb) => [pdb.name, pdb.disruptionsAllowed]));
  for (const track of refused) {
    const covering = pdbsCovering(track.pod, pdbs);
    if (covering.length === 0) continue;
    if (covering.every((pdb) => (budget.get(pdb.name) ?? 0) > 0)) {
      for (const pdb of covering) budget.set(pdb.name, (budget.get(pdb.name) ?? 0) - 1);
      track.nextAttemptAt = now;
      track.backoffStep = 0;
    } else {
      track.nextAttemptAt = Math.max(track.nextAttemptAt, (track.lastAttemptAt ?? now) + backoff.maxMs);
    }
  }
}

/** The one PDB a ready pod's eviction spends (none: not Running and ready, or not under exactly one). */
export function pdbSpent(
  pod: PodSnapshot,
  pdbs: readonly PdbInfo[],
  coverage: PdbCoverage,
): PdbInfo | undefined {
  if (pod.phase !== 'Running' || pod.ready !== true) return undefined;
  const covering = coverage.covering(pod, pdbs);
  return covering.length === 1 ? covering[0] : undefined;
}

/**
 * An answered eviction counts against its PDB at most this long when the PDB's status does not change
 * after the answer. The eviction writes the status before it answers, so a view that shows no change
 * for this long already held that write: an answer that came after the status counting it and the
 * next one (the controller's, which drops the pod from disruptedPods once it terminates) would
 * otherwise count twice until the PDB changes again, which on a quiet PDB is when this drain evicts
 * its next pod there: a 30 s wait for HELD_PROBE_MS.
 */
export const ANSWERED_COUNTS_MS = 2_000;

/** At an eviction's answer (`now`): the PDB it spent, and the version of its status seen then. */
export function spentPdb(
  pod: PodSnapshot,
  pdbs: readonly PdbInfo[],
  coverage: PdbCoverage,
  now: number,
): Track['spentPdb'] {
  const pdb = pdbSpent(pod, pdbs, coverage);
  if (!pdb || pdb.disruptedPods?.includes(pod.name)) return undefined;
  return pdb.resourceVersion ? { resourceVersion: pdb.resourceVersion, at: now } : { at: now };
}

/** What withinPdbBudgets sees of the drain besides the candidates. */
export interface BudgetView {
  /** Every track of the drain. */
  readonly tracks: readonly Track[];
  /** Our evictions not yet answered. */
  readonly inFlight: (track: Track) => boolean;
  readonly pdbsIn: (namespace: string) => readonly PdbInfo[];
  readonly coverage: PdbCoverage;
  readonly random: () => number;
  /** Drains that share PDBs take turns (drain/turns.ts): false while another drain's turn it is. */
  readonly mayUse?: (pdb: PdbInfo) => boolean;
}

/**
 * A pod held by the watched PDB status is asked of the server this long after its last attempt
 * anyway, in case the view is stale (a stream that stays silent is reopened after 75 s,
 * lambda/kube). Not the backoff's 5 s: when many drains share PDBs (a scale-in) a pod can wait its
 * turn for minutes, and each ask is a refused request.
 */
export const HELD_PROBE_MS = 30_000;

/**
 * At the deadline, a held pod no PDB has refused yet is asked at once: the policy acts only on pods
 * the server itself refused (deadline.ts).
 */
export function probeUnrefused(tracks: Iterable<Track>, now: number): void {
  for (const track of tracks) {
    if (track.state === 'pending' && track.heldByPdb && !track.pdbRefused) {
      track.jitterUntil = undefined;
      track.nextAttemptAt = Math.min(track.nextAttemptAt, now);
    }
  }
}

/**
 * With the PDBs' status at hand (the watches), a ready pod's eviction goes out only while its PDB
 * has a disruption left that none of our evictions already spends: the server would refuse it
 * (429), and a burst of refusals slows the very control plane that makes room for the next one.
 * - `candidates`: the due tracks and the held ones, in order. Returns those to send now, in order.
 * - An answered eviction counts until the PDB's status changes after its answer, or lists it in
 *   disruptedPods (the eviction's own status write), or ANSWERED_COUNTS_MS after the answer; the
 *   pod's state does not tell, its watch may run ahead of the PDBs'.
 * - Only a pod waiting behind our own evictions is held before its first attempt: under a PDB that
 *   allows nothing for other reasons (a stuck one) the first attempt goes out and its refusal is
 *   recorded, as before.
 * - A held pod counts as offered and is asked anyway once its next attempt is due (at the latest
 *   HELD_PROBE_MS after its last), so the server, not this view, has the last word.
 * - A pod refused although the status allowed it lost the disruption to another drain (nodes
 *   drained at once share PDBs): from then on it waits a random part of its backoff after the PDB
 *   allows (full jitter), so the drains do not all ask at once.
 * - Pods the server lets go without a PDB check (not Running and ready) or refuses regardless
 *   (under two PDBs) are never held.
 */
export function withinPdbBudgets(
  candidates: readonly Track[],
  { tracks, inFlight, pdbsIn, coverage, random, mayUse }: BudgetView,
  now: number,
  backoff: Backoff,
): Track[] {
  const pdbOf = (pod: PodSnapshot): PdbInfo | undefined => pdbSpent(pod, pdbsIn(pod.namespace), coverage);
  // per PDB: our evictions its status may not count yet, and whether ours may have used it up (a
  // pod under any other PDB is asked of the server once)
  const spent = new Map<PdbInfo, number>();
  const ours = new Set<PdbInfo>();
  for (const track of tracks) {
    const flying = inFlight(track);
    const evicted = flying || track.state === 'evicted' || (track.state === 'gone' && track.attempts > 0);
    const pdb = evicted || track.spentPdb !== undefined ? pdbOf(track.pod) : undefined;
    if (!pdb) continue;
    if (evicted) ours.add(pdb);
    if (!flying && track.spentPdb === undefined) continue;
    const answered = track.spentPdb !== undefined && !flying ? track.spentPdb : undefined;
    const counted =
      pdb.disruptedPods?.includes(track.pod.name) === true ||
      (answered !== undefined &&
        (answered.resourceVersion !== pdb.resourceVersion || now - answered.at >= ANSWERED_COUNTS_MS));
    if (counted) delete track.spentPdb;
    else spent.set(pdb, (spent.get(pdb) ?? 0) + 1);
  }
  const send: Track[] = [];
  for (const track of candidates) {
    const pdb = pdbOf(track.pod);
    if (pdb && mayUse && !mayUse(pdb)) {
      // another drain's turn: no request (the tickets' changes wake the drain); once its turn comes,
      // it waits for the status like any held pod, asking the server only HELD_PROBE_MS later
      hold(track, now);
      track.nextAttemptAt = Math.max(track.nextAttemptAt, now + HELD_PROBE_MS);
      continue;
    }
    const allowed = pdb === undefined ? 1 : pdb.disruptionsAllowed - (spent.get(pdb) ?? 0);
    if (pdb && allowed > 0 && track.raced) {
      // other drains want the same disruption: the backoff's jitter spreads them out
      track.jitterUntil ??= now + contendedDelay(track.backoffStep, backoff, random);
      if (now < track.jitterUntil) {
        track.heldByPdb = true;
        track.nextAttemptAt = track.jitterUntil;
        continue;
      }
    }
    // coordinated, the turn's holder waits for the status like the others: no first word to refuse
    const firstWord = pdb !== undefined && track.attempts === 0 && !ours.has(pdb) && !mayUse;
    const probe = track.heldByPdb && track.jitterUntil === undefined && track.nextAttemptAt <= now;
    track.jitterUntil = undefined;
    if (allowed > 0 || firstWord || probe) {
      if (pdb) {
        spent.set(pdb, (spent.get(pdb) ?? 0) + 1);
        ours.add(pdb);
      }
      track.heldByPdb = false;
      track.sentWithinBudget = allowed > 0;
      send.push(track);
    } else {
      hold(track, now);
    }
  }
  return send;
}

/** Held back by the PDB's status or another drain's turn: offered, asked of the server only after HELD_PROBE_MS. */
function hold(track: Track, now: number): void {
  track.heldByPdb = true;
  track.offeredAt ??= now;
  const probeAt = (track.lastAttemptAt ?? track.offeredAt) + HELD_PROBE_MS;
  track.nextAttemptAt = Math.max(track.nextAttemptAt, probeAt);
}

/** The loop wakes for the earliest due retry, at least every poll interval, never busy-spinning. */
export function nextWake(eligible: readonly Track[], now: number, pollIntervalMs: number): number {
  return Math.max(now + 20, Math.min(now + pollIntervalMs, ...eligible.map((t) => t.nextAttemptAt)));
}
