/**
 * What one invocation of a job hands to the next when the drain outlives a Lambda invocation: the
 * original event comes back with the drainer's key carrying this. It is untrusted input when it
 * arrives (lambda/event.ts checks its shape; the times are clamped here and in the drain).
 */
import type { DrainProgress } from '../drain/progress.js';

/** At most this many continuations per drain: 48 h (the hook's longest life) in 14-minute invocations. */
export const MAX_ATTEMPTS = 210;

/** A notice lives at most 48 hours (a lifecycle action's longest life). */
const NOTICE_MAX_LIFE_MS = 48 * 3_600_000;

export interface Continuation {
  /** When the notice began (epoch ms): its deadline counts from here. */
  readonly startedAt: number;
  readonly attempt: number;
  /** The drain's chain (its first invocation): the node's job record lets this chain take over. */
  readonly holder?: string;
  readonly progress?: DrainProgress;
}

/**
 * A notice's start (an event's time, or a carried one) outside [now − 48 h, now] is clamped, so a
 * forged or skewed time can neither extend the drain nor push it straight to the deadline (the
 * eviction window still applies to a late start).
 */
export function clampStart(startedAt: number, now: number): number {
  return Math.min(now, Math.max(now - NOTICE_MAX_LIFE_MS, startedAt));
}

/**
 * Carried offers lie within [the drain's start, now]: a forged time cannot skip a pod's window. The
 * carried end of a policy phase is clamped by the drain once it knows the pods (drain/deadline.ts).
 */
export function clampProgress(progress: DrainProgress, startedAt: number, now: number): DrainProgress {
  const offeredAt = Object.fromEntries(
    Object.entries(progress.offeredAt).map(([uid, at]) => [uid, Math.min(now, Math.max(startedAt, at))]),
  );
  return { ...progress, offeredAt };
}
