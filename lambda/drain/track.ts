import type { PodSnapshot } from './model.js';
import type { EvictionResult } from './ports.js';

export type TrackState = 'pending' | 'evicted' | 'terminating' | 'gone';

export type Refusal = Exclude<EvictionResult, { kind: 'evicted' } | { kind: 'gone' }>;

/** One pod the drain is responsible for, and what happened to it so far. */
export interface Track {
  pod: PodSnapshot;
  readonly critical: boolean;
  state: TrackState;
  /** Its state when a read last missed it: a pod seen again goes back to it (never evicted twice). */
  stateBeforeGone?: Exclude<TrackState, 'gone'>;
  attempts: number;
  backoffStep: number;
  nextAttemptAt: number;
  lastRefusal?: Refusal;
  /** A PDB refused it (in this invocation or, carried, in an earlier one): policy `delete` may act. */
  pdbRefused: boolean;
  /** Held back while its PDB's status allows no disruption (pacing.withinPdbBudgets). */
  heldByPdb?: boolean;
  /** Its last eviction went out while the PDB's status allowed one. */
  sentWithinBudget?: boolean;
  /** Refused although the status allowed it: another drain took the disruption. */
  raced?: boolean;
  /** Raced: not sent before this, though the PDB allows (the backoff's jitter). */
  jitterUntil?: number;
  /**
   * Its eviction spent its PDB's disruption: the PDB's status version when the answer came (which
   * may not count it yet), and when (clock ms).
   */
  spentPdb?: { readonly resourceVersion?: string; readonly at: number };
  lastEventAt?: number;
  lastAttemptAt?: number;
  /** When an eviction was first offered (epoch ms), carried across invocations. */
  offeredAt?: number;
  deleteFailures: number;
  nextDeleteAt: number;
}

export function newTrack(pod: PodSnapshot, critical: boolean, state: TrackState, offeredAt?: number): Track {
  return {
    pod,
    critical,
    state,
    attempts: 0,
    backoffStep: 0,
    nextAttemptAt: 0,
    pdbRefused: false,
    ...(offeredAt === undefined ? {} : { offeredAt }),
    deleteFailures: 0,
    nextDeleteAt: 0,
  };
}
