import type { DeadlinePolicy } from '../contract.js';
import type { NodeTarget } from './model.js';
import type { Backoff } from './pacing.js';
import type { DrainProgress } from './progress.js';
import type { TurnsPort } from './turns.js';

/** What bounds a drain in time; a running drain takes new limits (DrainHandle.setLimits). */
export interface DrainLimits {
  /** Epoch ms: the one deadline for the whole drain. */
  readonly deadline: number;
  readonly onDeadline: DeadlinePolicy;
  /**
   * No deadline policy acts on a pod before it was offered an eviction this long (capped at the
   * drain timeout), so a late start never skips the eviction.
   */
  readonly minEvictionWindowMs: number;
  /**
   * Epoch ms when the instance goes whatever happens (a Spot interruption): evictions and deletions
   * carry a grace period clamped to the time left, and the policy phase ends by then.
   */
  readonly hardEnd?: number;
}

export interface DrainOptions extends DrainLimits {
  readonly target: NodeTarget;
  /** Epoch ms when the drain began (the job's start, carried across invocations). */
  readonly startedAt: number;
  /** Epoch ms: stop with outcome `paused` by then if not finished (the invocation's own end). */
  readonly pauseAt?: number;
  readonly dryRun: boolean;
  /** How often the node's pods are listed while waiting (without watches). */
  readonly pollIntervalMs: number;
  readonly maxConcurrentEvictions: number;
  /** Backoff for refused evictions and failing API calls. */
  readonly backoff: Backoff;
  /** Policy phase: the margin on top of the window and the longest grace period before it ends. */
  readonly deleteWaitMarginMs: number;
  /** What earlier invocations of this drain did. */
  readonly resume?: DrainProgress;
  /** Label the node out of external load balancers with the cordon. */
  readonly excludeFromLoadBalancers?: boolean;
  /** Aborted: stop at once with outcome `stopped` (a call in flight is abandoned, not awaited). */
  readonly signal?: AbortSignal;
  /**
   * Drains that share PDBs take turns (drain/turns.ts): the queues, for this node. Absent: the drain
   * goes uncoordinated.
   */
  readonly turns?: (node: string) => TurnsPort;
}

export const DEFAULT_DRAIN_TUNING = {
  pollIntervalMs: 500,
  maxConcurrentEvictions: 32,
  backoff: { initialMs: 200, maxMs: 5_000 },
  deleteWaitMarginMs: 10_000,
  minEvictionWindowMs: 60_000,
} as const satisfies Partial<DrainOptions>;
