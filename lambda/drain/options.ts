import type { DeadlinePolicy } from '../contract.js';
import type { DrainProgress } from './continuation.js';
import type { NodeTarget } from './model.js';
import type { Backoff } from './pacing.js';

export interface DrainOptions {
  readonly target: NodeTarget;
  /** Epoch ms when the drain began (the lifecycle action's start, carried across continuations). */
  readonly startedAt: number;
  /** Epoch ms: the one deadline for the whole drain. */
  readonly deadline: number;
  /** Epoch ms: stop with outcome `paused` by then if not finished (the invocation's own end). */
  readonly pauseAt?: number;
  readonly onDeadline: DeadlinePolicy;
  readonly dryRun: boolean;
  /** How often the node's pods are listed while waiting. */
  readonly pollIntervalMs: number;
  readonly maxConcurrentEvictions: number;
  /** Backoff for refused evictions and failing API calls. */
  readonly backoff: Backoff;
  /** Policy phase: the margin on top of the window and the longest grace period before it ends. */
  readonly deleteWaitMarginMs: number;
  /**
   * No deadline policy acts on a pod before it was offered an eviction this long (capped at the
   * drain timeout), so a late start never skips the eviction.
   */
  readonly minEvictionWindowMs: number;
  /** What earlier invocations of this drain did. */
  readonly resume?: DrainProgress;
  /** Claim the node for this drain, so duplicate deliveries do not drain beside it. */
  readonly claim?: { readonly holder: string };
  /** Label the node out of external load balancers with the cordon. */
  readonly excludeFromLoadBalancers?: boolean;
  /**
   * Epoch ms when the instance goes whatever happens (a Spot interruption): evictions and deletions
   * carry a grace period clamped to the time left, and the policy phase ends by then.
   */
  readonly hardEnd?: number;
  /** Aborted: stop at once with outcome `stopped` (a call in flight is abandoned, not awaited). */
  readonly signal?: AbortSignal;
}

export const DEFAULT_DRAIN_TUNING = {
  pollIntervalMs: 500,
  maxConcurrentEvictions: 32,
  backoff: { initialMs: 200, maxMs: 5_000 },
  deleteWaitMarginMs: 10_000,
  minEvictionWindowMs: 60_000,
} as const satisfies Partial<DrainOptions>;
