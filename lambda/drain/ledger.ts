/** What a drain did so far: the counts and lists its report and its continuation carry. */
import type { EvictWarning, SkipReason } from './classify.js';
import {
  addTotals,
  type DrainProgress,
  type DrainTotals,
  MAX_CARRIED_NAMES,
  NO_TOTALS,
} from './continuation.js';
import type { Tally } from './events.js';
import type { Track } from './track.js';

const MAX_ERRORS_REPORTED = 20;

export class Ledger {
  readonly skipped = new Map<string, { pod: string; reason: SkipReason }>();
  readonly warnings: { pod: string; warning: EvictWarning }[] = [];
  readonly evicted: string[] = [];
  readonly deleted: string[] = [];
  readonly errors = new Set<string>();
  evictionRequests = 0;
  evictionRefusals = 0;
  throttled = 0;

  /** @param carried what earlier invocations of the drain did */
  constructor(private readonly carried: DrainTotals = NO_TOTALS) {}

  addError(message: string): void {
    if (this.errors.size < MAX_ERRORS_REPORTED) this.errors.add(message);
  }

  /** The whole drain: this invocation on top of the carried totals. */
  totals(): DrainTotals {
    const mine: DrainTotals = {
      evicted: this.evicted,
      deleted: this.deleted,
      evictionRequests: this.evictionRequests,
      evictionRefusals: this.evictionRefusals,
      throttled: this.throttled,
      errors: [...this.errors],
    };
    return addTotals(this.carried, mine, MAX_ERRORS_REPORTED);
  }

  tally(): Tally {
    const totals = this.totals();
    return { evicted: totals.evicted.length, skipped: this.skipped.size, deleted: totals.deleted.length };
  }

  /** What the next invocation needs: the offers made to the pods still there, and the totals. */
  progress(outstanding: readonly Track[], policyEndsAt: number | undefined): DrainProgress {
    const carried = outstanding.slice(0, MAX_CARRIED_NAMES);
    const offeredAt: Record<string, number> = {};
    for (const track of carried) {
      if (track.offeredAt !== undefined) offeredAt[track.pod.uid] = track.offeredAt;
    }
    const pdbRefused = carried.filter((t) => t.pdbRefused).map((t) => t.pod.uid);
    return {
      offeredAt,
      ...(pdbRefused.length > 0 ? { pdbRefused } : {}),
      ...(policyEndsAt === undefined ? {} : { policyEndsAt }),
      totals: this.totals(),
    };
  }
}
