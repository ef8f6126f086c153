/**
 * The deadline policy, as pure decisions over the drain's tracks (DRAIN-SEMANTICS.md, "Deadlines").
 * No pod meets a deadline policy before it has been offered an eviction for a minimum window, so a
 * drain that starts late (a queued, retried or forged event) still evicts before it deletes.
 */
import type { Track } from './track.js';

/** The window every pod gets: the configured minimum, never more than the whole drain timeout. */
export function evictionWindowMs(minWindowMs: number, startedAt: number, deadline: number): number {
  return Math.max(0, Math.min(minWindowMs, deadline - startedAt));
}

export function offeredLongEnough(track: Track, now: number, windowMs: number): boolean {
  return track.offeredAt !== undefined && now - track.offeredAt >= windowMs;
}

/**
 * Policy `continue`/`abandon` acts once every pod that may be evicted now has had its window
 * (critical pods still waiting for ordinary ones are reported, not waited for).
 */
export function everyEligibleHadItsWindow(
  eligible: readonly Track[],
  now: number,
  windowMs: number,
): boolean {
  return eligible.every((track) => offeredLongEnough(track, now, windowMs));
}

/**
 * At the deadline the policy acts on what the server said, not on the watched PDB status: a pod held
 * back by the status (or its turn) that no PDB has refused yet is asked once (pacing.probeUnrefused),
 * and `continue`/`abandon` wait for that answer, and for any eviction still in flight, before they
 * end the drain (else a pod is reported blocked with no refusal, and `delete` never acts on it).
 */
export function awaitingServerAnswer(
  eligible: readonly Track[],
  inFlight: (track: Track) => boolean,
): boolean {
  return eligible.some(
    (track) =>
      inFlight(track) || (track.state === 'pending' && track.heldByPdb === true && !track.pdbRefused),
  );
}

/** Policy `delete` deletes only pods a PDB refused after their window; never an un-offered pod. */
export function deletable(eligible: readonly Track[], now: number, windowMs: number): Track[] {
  return eligible.filter(
    (track) => track.pdbRefused && offeredLongEnough(track, now, windowMs) && track.nextDeleteAt <= now,
  );
}

/**
 * When the policy phase ends whatever is left, fixed once when it starts (and carried across
 * invocations): one window for pods offered late, their longest grace period, a margin; twice that
 * when critical pods still wait for the ordinary ones (they get their own window and grace).
 */
export function policyEndsAt(
  now: number,
  outstanding: readonly Track[],
  windowMs: number,
  marginMs: number,
): number {
  const longestGraceMs = Math.max(0, ...outstanding.map((t) => t.pod.gracePeriodSeconds * 1000));
  const criticalWaiting = outstanding.some(
    (t) => t.critical && t.state === 'pending' && t.offeredAt === undefined,
  );
  const phases = criticalWaiting ? 2 : 1;
  return now + phases * (windowMs + longestGraceMs + marginMs);
}

/**
 * A continuation carries the end of a policy phase that began earlier; it comes back in an event, so
 * it may shorten no pod's eviction window (a forged or late continuation with an end in the past
 * would otherwise end the drain before any pod was offered an eviction). It is moved out to when the
 * last window of a pod still waiting for it ends (a pod not offered yet counts from now), plus the
 * longest grace period and the margin; and in to at most what a phase beginning now would last.
 */
export function clampedPolicyEnd(
  carried: number,
  now: number,
  outstanding: readonly Track[],
  windowMs: number,
  marginMs: number,
): number {
  const unwindowed = outstanding.filter((t) => t.state === 'pending' && !offeredLongEnough(t, now, windowMs));
  const longestGraceMs = Math.max(0, ...outstanding.map((t) => t.pod.gracePeriodSeconds * 1000));
  const floor =
    unwindowed.length === 0
      ? Number.NEGATIVE_INFINITY
      : Math.max(...unwindowed.map((t) => (t.offeredAt ?? now) + windowMs)) + longestGraceMs + marginMs;
  return Math.min(Math.max(carried, floor), policyEndsAt(now, outstanding, windowMs, marginMs));
}

/** The outcome each deadline policy gives a drain that ends at the deadline. */
export const DEADLINE_OUTCOMES = {
  delete: 'deadline-deleted',
  continue: 'deadline-continued',
  abandon: 'deadline-abandoned',
} as const;
