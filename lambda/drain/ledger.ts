/** What a drain did so far: the counts and lists its report and its continuation carry. */
import type { EvictWarning, SkipReason } from './classify.js';
import type { Tally } from './events.js';
import { addTotals, type DrainProgress, type DrainTotals, MAX_CARRIED_NAMES, NO_TOTALS } from './progress.js';
import type { InvocationCounts } from './report.js';
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
  /** Pod lists older than a state already seen, not trusted (drain/fresh.ts). */
  staleReads = 0;

  /** @param carried what earlier invocations of the drain did */
  constructor(private readonly carried: DrainTotals = NO_TOTALS) {}

  addError(message: string): void {
    if (this.errors.size < MAX_ERRORS_REPORTED) this.errors.add(message);
  }

  /** What this invocation did alone. */
  private mine(): DrainTotals {
    return {
      evicted: this.evicted,
      deleted: this.deleted,
      evictionRequests: this.evictionRequests,
      evictionRefusals: this.evictionRefusals,
      throttled: this.throttled,
      errors: [...this.errors],
    };
  }

  /** The whole drain: this invocation on top of the carried totals. */
  totals(): DrainTotals {
    return addTotals(this.carried, this.mine(), MAX_ERRORS_REPORTED);
  }

  /** This invocation's own counts: what its metrics report (a continuation does not count the earlier ones' again). */
  invocation(): InvocationCounts {
    return {
      evicted: this.evicted.length,
      deleted: this.deleted.length,
      evictionRequests: this.evictionRequests,
      evictionRefusals: this.evictionRefusals,
      throttled: this.throttled,
      errors: this.errors.size,
      staleReads: this.staleReads,
    };
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
