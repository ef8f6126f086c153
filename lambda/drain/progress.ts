/**
 * What a drain remembers when it is resumed (a later invocation of the same job goes on where this
 * one stopped): the offers made to the pods still there, and the totals so far. It arrives back in an
 * event, so the event parser treats it as untrusted input (lambda/event.ts) and the drain clamps its
 * times (drain/deadline.ts).
 */

/** Lists carried across invocations are capped (a node runs at most a few hundred pods). */
export const MAX_CARRIED_NAMES = 1_000;

export interface DrainTotals {
  readonly evicted: readonly string[];
  readonly deleted: readonly string[];
  readonly evictionRequests: number;
  readonly evictionRefusals: number;
  /** 429s without a PDB (API Priority and Fairness): throttling, not refusals. */
  readonly throttled: number;
  readonly errors: readonly string[];
}

export const NO_TOTALS: DrainTotals = {
  evicted: [],
  deleted: [],
  evictionRequests: 0,
  evictionRefusals: 0,
  throttled: 0,
  errors: [],
};

/** The drain's memory across invocations. */
export interface DrainProgress {
  /** Pod UID → when it was first offered an eviction (epoch ms), for pods still on the node. */
  readonly offeredAt: Readonly<Record<string, number>>;
  /** UIDs of pods a PDB refused: policy `delete` may act on them. */
  readonly pdbRefused?: readonly string[];
  /** Epoch ms: once the deadline policy started, the drain ends by then, whatever is left. */
  readonly policyEndsAt?: number;
  readonly totals: DrainTotals;
}

export function addTotals(a: DrainTotals, b: DrainTotals, maxErrors: number): DrainTotals {
  return {
    evicted: [...a.evicted, ...b.evicted].slice(0, MAX_CARRIED_NAMES),
    deleted: [...a.deleted, ...b.deleted].slice(0, MAX_CARRIED_NAMES),
    evictionRequests: a.evictionRequests + b.evictionRequests,
    evictionRefusals: a.evictionRefusals + b.evictionRefusals,
    throttled: a.throttled + b.throttled,
    errors: [...new Set([...a.errors, ...b.errors])].slice(0, maxErrors),
  };
}
