/** When the next eviction request for a pod goes out. */
import { backoffDelay } from './concurrency.js';
import type { PdbInfo } from './model.js';
import { pdbsCovering } from './selector.js';
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

/** The loop wakes for the earliest due retry, at least every poll interval, never busy-spinning. */
export function nextWake(eligible: readonly Track[], now: number, pollIntervalMs: number): number {
  return Math.max(now + 20, Math.min(now + pollIntervalMs, ...eligible.map((t) => t.nextAttemptAt)));
}
