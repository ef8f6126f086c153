/** What a drain reports: the outcome, every pod's fate, and the API cost, across invocations. */
import type { EvictWarning, SkipReason } from './classify.js';
import { type PdbInfo, podKey } from './model.js';
import { type DrainProgress, NO_TOTALS } from './progress.js';
import { pdbsCovering } from './selector.js';
import type { Track } from './track.js';
import type { PlannedTurn } from './turns.js';

export type DrainOutcome =
  | 'drained'
  | 'node-not-found'
  | 'deadline-deleted'
  | 'deadline-continued'
  | 'deadline-abandoned'
  | 'dry-run'
  /** Stopped at `pauseAt` with work left: the caller continues in a new invocation. */
  | 'paused'
  /** The caller's signal aborted (e.g. the lifecycle action expired): stopped at once. */
  | 'stopped';

/** One invocation's own share of a drain: what its metrics count. */
export interface InvocationCounts {
  readonly evicted: number;
  readonly deleted: number;
  readonly evictionRequests: number;
  readonly evictionRefusals: number;
  readonly throttled: number;
  /** Distinct API failures this invocation saw. */
  readonly errors: number;
  /** Pod lists older than a state already seen, not trusted. */
  readonly staleReads: number;
}

export type BlockReason = 'pdb' | 'multiple-pdbs' | 'throttled' | 'error' | 'waiting-for-ordinary-pods';

export interface BlockedPod {
  readonly pod: string;
  readonly reason: BlockReason;
  readonly message?: string;
  readonly attempts: number;
  readonly pdbs: readonly { readonly name: string; readonly disruptionsAllowed: number }[];
}

export interface DrainReport {
  readonly outcome: DrainOutcome;
  readonly node?: string;
  readonly dryRun: boolean;
  /** Evicted by the whole drain, across invocations (with dryRun: would be evicted). */
  readonly evicted: readonly string[];
  readonly skipped: readonly { readonly pod: string; readonly reason: SkipReason }[];
  readonly warnings: readonly { readonly pod: string; readonly warning: EvictWarning }[];
  /** Never evicted when the drain ended (at the deadline, or refused in a dry run). */
  readonly blocked: readonly BlockedPod[];
  /** Deleted at the deadline (policy `delete`), bypassing their PDBs, across invocations. */
  readonly deleted: readonly string[];
  /** Still on the node when the drain ended (terminating or blocked). */
  readonly remaining: readonly string[];
  readonly evictionRequests: number;
  readonly evictionRefusals: number;
  /** Eviction requests throttled by the API server (429 without a PDB), not counted as refusals. */
  readonly throttled: number;
  /** Distinct API failures seen (bounded list). */
  readonly errors: readonly string[];
  /** What this invocation did alone (the lists and counts above are the whole drain's). */
  readonly invocation: InvocationCounts;
  /** A dry run: for each PDB its pods would need a turn of, the drains already queued (drain/turns.ts). */
  readonly turns?: readonly PlannedTurn[];
  readonly startedAt: string;
  /** From the lifecycle action's start to now: the whole drain, across invocations. */
  readonly durationMs: number;
  /** What a continuation needs (outcome `paused`). */
  readonly progress: DrainProgress;
}

export function blockReason(track: Track): BlockReason {
  switch (track.lastRefusal?.kind) {
    case undefined:
      return track.pdbRefused ? 'pdb' : 'waiting-for-ordinary-pods';
    case 'pdb-blocked':
      return 'pdb';
    case 'multiple-pdbs':
      return 'multiple-pdbs';
    case 'throttled':
      return 'throttled';
    default:
      return 'error';
  }
}

export function blockedPod(track: Track, pdbs: readonly PdbInfo[]): BlockedPod {
  const refusal = track.lastRefusal;
  return {
    pod: podKey(track.pod),
    reason: blockReason(track),
    ...(refusal ? { message: refusal.message } : {}),
    attempts: track.attempts,
    pdbs: pdbsCovering(track.pod, pdbs).map((p) => ({
      name: p.name,
      disruptionsAllowed: p.disruptionsAllowed,
    })),
  };
}

/**
 * The report of a drain that never reached the node (the cluster could not be reached until the
 * deadline): nothing evicted, the failures named.
 */
export function unstartedReport(
  outcome: DrainOutcome,
  drain: {
    readonly startedAt: number;
    readonly now: number;
    readonly dryRun: boolean;
    readonly errors: readonly string[];
  },
): DrainReport {
  return {
    outcome,
    dryRun: drain.dryRun,
    evicted: [],
    skipped: [],
    warnings: [],
    blocked: [],
    deleted: [],
    remaining: [],
    evictionRequests: 0,
    evictionRefusals: 0,
    throttled: 0,
    errors: drain.errors,
    invocation: {
      evicted: 0,
      deleted: 0,
      evictionRequests: 0,
      evictionRefusals: 0,
      throttled: 0,
      errors: drain.errors.length,
      staleReads: 0,
    },
    startedAt: new Date(drain.startedAt).toISOString(),
    durationMs: drain.now - drain.startedAt,
    progress: { offeredAt: {}, totals: { ...NO_TOTALS, errors: drain.errors } },
  };
}

/** The pods still waiting for their eviction, each with its PDBs (`pdbsIn`: undefined when they could not be read). */
export async function blockedPodsOf(
  tracks: Iterable<Track>,
  pdbsIn: (namespace: string) => Promise<readonly PdbInfo[] | undefined>,
): Promise<BlockedPod[]> {
  const pending = [...tracks].filter((t) => t.state === 'pending');
  const pdbsByNamespace = new Map<string, readonly PdbInfo[]>();
  for (const namespace of new Set(pending.map((t) => t.pod.namespace))) {
    pdbsByNamespace.set(namespace, (await pdbsIn(namespace)) ?? []);
  }
  return pending.map((track) => blockedPod(track, pdbsByNamespace.get(track.pod.namespace) ?? []));
}
