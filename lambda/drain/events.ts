/** The Kubernetes Events a drain records, as plain data (the adapter writes them). */
import type { ClusterEvent } from './ports.js';
import type { Track } from './track.js';

/** A blocked pod gets at most one Event update this often (the Event aggregates the count). */
export const BLOCKED_EVENT_INTERVAL_MS = 30_000;

export interface Tally {
  readonly evicted: number;
  readonly skipped: number;
  readonly deleted: number;
}

export function summary(tally: Tally): string {
  return `${tally.evicted} evicted, ${tally.skipped} skipped, ${tally.deleted} deleted`;
}

export function startedEvent(toEvict: number, skipped: number): ClusterEvent {
  return {
    reason: 'DrainStarted',
    type: 'Normal',
    message: `evicting ${toEvict} pod(s), ${skipped} skipped`,
  };
}

export function drainedEvent(tally: Tally): ClusterEvent {
  return { reason: 'Drained', type: 'Normal', message: summary(tally) };
}

export function deadlineEvent(blocked: number, policy: string, tally: Tally): ClusterEvent {
  return {
    reason: 'DrainDeadlineReached',
    type: 'Warning',
    message: `${blocked} pod(s) still blocked, policy ${policy}; ${summary(tally)}`,
  };
}

/** "Eviction blocked by PDB x" on the pod: one Event per drain (series), its count updated at most every 30 s. */
export function blockedEvent(track: Track, now: number, series: string): ClusterEvent | undefined {
  const refusal = track.lastRefusal;
  if (!refusal || refusal.kind === 'failed' || refusal.kind === 'throttled') return undefined;
  if (track.lastEventAt !== undefined && now - track.lastEventAt < BLOCKED_EVENT_INTERVAL_MS)
    return undefined;
  track.lastEventAt = now;
  const pdb =
    refusal.kind === 'pdb-blocked' && refusal.pdbName ? ` by PodDisruptionBudget ${refusal.pdbName}` : '';
  return {
    reason: 'EvictionBlocked',
    type: 'Warning',
    message: `eviction for node drain blocked${pdb}: ${refusal.message}`,
    series,
    count: track.attempts,
  };
}
