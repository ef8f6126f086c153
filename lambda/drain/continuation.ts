/**
 * What one invocation hands to the next when a drain outlives a Lambda invocation. Everything in it
 * arrives back in an event, so the event parser treats it as untrusted input (see lambda/event.ts).
 */

/** At most this many continuations per drain: 48 h (the hook's longest life) in 14-minute invocations. */
export const MAX_ATTEMPTS = 210;

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

export interface Continuation {
  /** When the lifecycle action began (epoch ms): the deadline counts from here. */
  readonly startedAt: number;
  readonly attempt: number;
  /** Who holds the node's drain claim: the first invocation's request id. */
  readonly holder?: string;
  readonly progress?: DrainProgress;
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
