import type { DeadlinePolicy } from '../contract.js';
import { ClusterAccessError } from '../errors.js';
import { classifyPod, type EvictWarning, type SkipReason } from './classify.js';
import { backoffDelay, mapLimit } from './concurrency.js';
import {
  addTotals,
  type DrainProgress,
  type DrainTotals,
  MAX_CARRIED_NAMES,
  NO_TOTALS,
} from './continuation.js';
import { deletable, everyEligibleHadItsWindow, evictionWindowMs, policyEndsAt } from './deadline.js';
import { blockedEvent, deadlineEvent, drainedEvent, startedEvent, type Tally } from './events.js';
import { type NodeTarget, type PdbInfo, type PodSnapshot, podKey } from './model.js';
import { type Backoff, nextWake, releaseByPdbStatus, retryRefusedNow, scheduleRetry } from './pacing.js';
import type { Clock, ClusterEvent, ClusterPort, EventSubject, EvictionResult, Logger } from './ports.js';
import { type BlockedPod, blockedPod, type DrainOutcome, type DrainReport } from './report.js';
import { newTrack, type Track } from './track.js';

export type { BlockedPod, BlockReason, DrainOutcome, DrainReport } from './report.js';

export { DEADLINE_POLICIES, type DeadlinePolicy } from '../contract.js';

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

const MAX_ERRORS_REPORTED = 20;
/** A claim lives this long without renewal; renewed every CLAIM_RENEW_MS while the drain runs. */
export const CLAIM_TTL_MS = 60_000;
const CLAIM_RENEW_MS = 15_000;
/** A paused drain keeps its claim this long for its continuation (async invocations may queue). */
const CLAIM_HANDOVER_MS = 5 * 60_000;

/** Thrown inside the run when the caller's signal aborts; turned into outcome `stopped`. */
class Stopped extends Error {
  override name = 'Stopped';
}

/**
 * Drains one node: cordon, evict every pod that should leave (PDBs respected by the API server),
 * wait until they are gone, and apply the deadline policy to whatever is still blocked.
 * Never throws for API failures: they are retried until the deadline and reported.
 */
export async function drainNode(
  cluster: ClusterPort,
  options: DrainOptions,
  deps: { readonly clock: Clock; readonly log: Logger },
): Promise<DrainReport> {
  return new DrainRun(cluster, options, deps.clock, deps.log).run();
}

class DrainRun {
  private readonly tracks = new Map<string, Track>();
  private readonly skipped = new Map<string, { pod: string; reason: SkipReason }>();
  private readonly warnings: { pod: string; warning: EvictWarning }[] = [];
  private readonly evicted: string[] = [];
  private readonly deleted: string[] = [];
  private readonly errors = new Set<string>();
  private evictionRequests = 0;
  private evictionRefusals = 0;
  private throttled = 0;
  private failureStep = 0;
  private readonly pendingEvents: Promise<void>[] = [];
  private node: string | undefined;
  private readonly windowMs: number;
  private policyEndsAt: number | undefined;
  private claimRenewAt = 0;
  private lastFailure: unknown;
  /** Set when the policy ends the drain, before it acts on the blocked pods. */
  private blockedAtEnd?: BlockedPod[];
  private readonly aborted: Promise<never>;
  private readonly runStartedAt: number;

  constructor(
    private readonly cluster: ClusterPort,
    private readonly options: DrainOptions,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.windowMs = evictionWindowMs(options.minEvictionWindowMs, options.startedAt, options.deadline);
    this.policyEndsAt = options.resume?.policyEndsAt;
    this.runStartedAt = clock.now();
    this.aborted = new Promise<never>((_, reject) => {
      const signal = options.signal;
      if (!signal) return;
      if (signal.aborted) reject(new Stopped());
      else signal.addEventListener('abort', () => reject(new Stopped()), { once: true });
    });
    this.aborted.catch(() => {});
  }

  async run(): Promise<DrainReport> {
    try {
      return await this.drain();
    } catch (error) {
      if (!(error instanceof Stopped)) throw error;
      this.log.warn('drain stopped by its caller', { node: this.node });
      return this.report('stopped');
    }
  }

  private async drain(): Promise<DrainReport> {
    const found = await this.untilDeadline('find node', () => this.cluster.findNode(this.options.target));
    if (found.stopped) return this.stoppedBeforeStart(found.stopped);
    if (found.value === undefined) {
      this.log.info('node not found', { target: this.options.target });
      return this.report('node-not-found');
    }
    const node = found.value;
    this.node = node;
    if (this.options.dryRun) return this.dryRun(node);

    if (this.options.claim) {
      const claimed = await this.untilDeadline('claim node', () => this.claim(node));
      if (claimed.stopped) return this.stoppedBeforeStart(claimed.stopped);
      if (claimed.value.kind === 'held') return this.heldElsewhere(claimed.value.holder);
    }
    const cordoned = await this.untilDeadline('cordon', () => this.cluster.cordon(node));
    if (cordoned.stopped) return this.stoppedBeforeStart(cordoned.stopped);
    this.log.info('node cordoned', { node });
    const outcome = await this.evictUntilEmpty(node);
    if (outcome !== 'paused' && outcome !== 'already-draining' && this.options.claim) {
      await this.guard(this.cluster.releaseNode(node, this.options.claim.holder)).catch((error: unknown) => {
        if (error instanceof Stopped) throw error;
        this.noteError('release claim', error);
      });
    }
    return this.report(outcome);
  }

  // ---- the main loop ------------------------------------------------------------------------

  private async evictUntilEmpty(node: string): Promise<DrainOutcome> {
    let announced = false;
    for (;;) {
      const listed = await this.listAndReconcile(node);
      if (listed && !announced) {
        announced = true;
        await this.event(startedEvent(this.pendingCount(), this.skipped.size));
      }
      if (listed && this.outstanding().length === 0) {
        const deletedAny = this.deleted.length + (this.options.resume?.totals.deleted.length ?? 0) > 0;
        this.log.info('node drained', { node, evicted: this.evicted.length, deleted: this.deleted.length });
        await this.event(drainedEvent(this.tally()));
        return deletedAny ? 'deadline-deleted' : 'drained';
      }
      const now = this.clock.now();
      if (now >= this.options.deadline) {
        const ended = await this.applyDeadlinePolicy(now);
        if (ended) return ended;
      }
      if (this.options.pauseAt !== undefined && now >= this.options.pauseAt) {
        await this.renewClaim(node, now, CLAIM_HANDOVER_MS);
        return 'paused';
      }
      if (
        this.options.claim &&
        now >= this.claimRenewAt &&
        !(await this.renewClaim(node, now, CLAIM_TTL_MS))
      ) {
        return 'already-draining';
      }
      if (listed) {
        await this.followPdbStatus(now);
        await this.evictAll(this.eligible().filter((t) => t.nextAttemptAt <= now));
      }
      const wake = listed
        ? nextWake(this.eligible(), this.clock.now(), this.options.pollIntervalMs)
        : this.clock.now() + this.failureDelay();
      await this.sleepUntil(wake);
    }
  }

  /** One list of the node's pods updates every pod's state. Returns false if the list failed. */
  private async listAndReconcile(node: string): Promise<boolean> {
    let pods: PodSnapshot[];
    try {
      pods = await this.guard(this.cluster.listPods(node));
      this.failureStep = 0;
    } catch (error) {
      if (error instanceof Stopped) throw error;
      this.noteError('list pods', error);
      this.lastFailure = error;
      return false;
    }
    const present = new Map(pods.map((pod) => [pod.uid, pod]));
    let released = false;
    for (const track of this.tracks.values()) {
      if (track.state === 'gone') continue;
      const current = present.get(track.pod.uid);
      if (!current) {
        track.state = 'gone';
        released = true;
        this.log.debug('pod gone', { pod: podKey(track.pod) });
      } else if (track.state === 'pending' && current.terminating) {
        track.pod = current;
        track.state = 'terminating';
      }
    }
    for (const pod of pods) {
      if (!this.tracks.has(pod.uid) && !this.skipped.has(pod.uid)) this.admit(pod);
    }
    if (released) retryRefusedNow(this.tracks.values(), this.clock.now());
    return true;
  }

  private admit(pod: PodSnapshot): void {
    const decision = classifyPod(pod);
    const key = podKey(pod);
    if (decision.action === 'skip') {
      this.skipped.set(pod.uid, { pod: key, reason: decision.reason });
      return;
    }
    if (decision.action === 'evict') {
      for (const warning of decision.warnings) {
        this.warnings.push({ pod: key, warning });
        this.log.warn('evicting pod with warning', { pod: key, warning });
      }
    }
    const resume = this.options.resume;
    const track = newTrack(
      pod,
      decision.action === 'evict' && decision.critical,
      decision.action === 'wait' ? 'terminating' : 'pending',
      resume?.offeredAt[pod.uid],
    );
    track.pdbRefused = resume?.pdbRefused?.includes(pod.uid) ?? false;
    this.tracks.set(pod.uid, track);
  }

  /** Pods refused by a PDB wait for its status to allow a disruption; one LIST per namespace. */
  private async followPdbStatus(now: number): Promise<void> {
    const refused = this.eligible().filter((t) => t.lastRefusal?.kind === 'pdb-blocked');
    for (const namespace of new Set(refused.map((t) => t.pod.namespace))) {
      const pdbs = await this.pdbsIn(namespace);
      if (pdbs === undefined) continue; // backoff alone decides
      releaseByPdbStatus(
        refused.filter((t) => t.pod.namespace === namespace),
        pdbs,
        now,
        this.options.backoff,
      );
    }
  }

  private outstanding(): Track[] {
    return [...this.tracks.values()].filter((t) => t.state !== 'gone');
  }

  private pendingCount(): number {
    return [...this.tracks.values()].filter((t) => t.state === 'pending').length;
  }

  /** Critical pods become eligible only once no ordinary pod is left on the node. */
  private eligible(): Track[] {
    const outstanding = this.outstanding();
    const ordinaryLeft = outstanding.some((t) => !t.critical);
    return outstanding.filter((t) => t.state === 'pending' && (!t.critical || !ordinaryLeft));
  }

  /** One eviction request per track, bounded in flight; each answer updates its track. */
  private async evictAll(tracks: Track[]): Promise<void> {
    await mapLimit(tracks, this.options.maxConcurrentEvictions, async (track) => {
      this.evictionRequests++;
      track.attempts++;
      const now = this.clock.now();
      track.lastAttemptAt = now;
      track.offeredAt ??= now;
      const result = await this.guard(this.cluster.evict(track.pod, { dryRun: this.options.dryRun })).catch(
        (error: unknown): EvictionResult => {
          if (error instanceof Stopped) throw error;
          return { kind: 'failed', message: errorMessage(error) };
        },
      );
      this.apply(track, result);
    });
  }

  private apply(track: Track, result: EvictionResult): void {
    const pod = podKey(track.pod);
    switch (result.kind) {
      case 'evicted':
        track.state = 'evicted';
        this.evicted.push(pod);
        this.log.info('pod evicted', { pod, attempts: track.attempts });
        return;
      case 'gone':
        // 404: not there any more; the next list confirms it by UID
        track.state = 'terminating';
        return;
      default: {
        if (result.kind === 'pdb-blocked' || result.kind === 'multiple-pdbs') {
          this.evictionRefusals++;
          track.pdbRefused = true;
        } else if (result.kind === 'throttled') {
          this.throttled++;
        } else {
          this.addError(`${pod}: ${result.message}`);
        }
        if (track.lastRefusal?.message !== result.message) {
          const level = result.kind === 'pdb-blocked' || result.kind === 'throttled' ? 'info' : 'warn';
          this.log[level]('eviction refused', { pod, kind: result.kind, detail: result.message });
        }
        track.lastRefusal = result;
        const event = blockedEvent(track, this.clock.now(), this.options.startedAt.toString(36));
        if (event) this.pendingEvents.push(this.event(event, { kind: 'Pod', ...track.pod }));
        scheduleRetry(track, result, this.options.backoff, this.clock.now(), this.clock.random);
      }
    }
  }

  private async sleepUntil(at: number): Promise<void> {
    const now = this.clock.now();
    // wake for whichever comes first of the retry, the deadline, the pause and the policy's end
    const limits = [at, this.options.deadline, this.options.pauseAt, this.policyEndsAt].filter(
      (limit): limit is number => limit !== undefined && limit > now,
    );
    await this.clock.sleep(Math.max(0, Math.min(...limits) - now), this.options.signal);
    if (this.options.signal?.aborted) throw new Stopped();
  }

  // ---- deadline ---------------------------------------------------------------------------

  /**
   * Past the deadline: the policy acts on each pod only after its eviction window, so pods offered
   * late keep being evicted meanwhile. Returns the outcome once the drain ends.
   */
  private async applyDeadlinePolicy(now: number): Promise<DrainOutcome | undefined> {
    const policy = this.options.onDeadline;
    if (this.policyEndsAt === undefined) {
      this.policyEndsAt = policyEndsAt(
        now,
        this.outstanding(),
        this.windowMs,
        this.options.deleteWaitMarginMs,
      );
      const blocked = await this.blockedPods();
      // reported as what the deadline found blocked, whatever the policy then does to them
      this.blockedAtEnd = blocked;
      this.log.warn('drain deadline reached', { node: this.node, policy, blocked });
      await this.event(deadlineEvent(blocked.length, policy, this.tally()));
    }
    const timeUp = now >= this.policyEndsAt;
    if (policy !== 'delete') {
      if (!timeUp && !everyEligibleHadItsWindow(this.eligible(), now, this.windowMs)) return undefined;
      this.blockedAtEnd = await this.blockedPods();
      return policy === 'continue' ? 'deadline-continued' : 'deadline-abandoned';
    }
    if (timeUp) {
      this.log.warn('deadline policy ended with pods left', { node: this.node, blocked: this.blockedAtEnd });
      return 'deadline-deleted';
    }
    for (const track of deletable(this.eligible(), now, this.windowMs)) await this.deleteAtDeadline(track);
    return undefined;
  }

  private async deleteAtDeadline(track: Track): Promise<void> {
    const pod = podKey(track.pod);
    try {
      const result = await this.guard(this.cluster.deletePod(track.pod));
      track.state = 'terminating';
      if (result === 'deleted') {
        this.deleted.push(pod);
        this.log.warn('pod deleted at deadline', { pod, pdbs: track.lastRefusal?.message });
      }
    } catch (error) {
      if (error instanceof Stopped) throw error;
      this.noteError(`delete ${pod}`, error);
      track.deleteFailures++;
      track.nextDeleteAt =
        this.clock.now() + backoffDelay(track.deleteFailures, this.options.backoff, this.clock.random);
    }
  }

  // ---- dry run ----------------------------------------------------------------------------

  private async dryRun(node: string): Promise<DrainReport> {
    const listed = await this.untilDeadline('list pods', () => this.cluster.listPods(node));
    if (listed.stopped) return this.stoppedBeforeStart(listed.stopped);
    for (const pod of listed.value) this.admit(pod);
    await this.evictAll([...this.tracks.values()].filter((t) => t.state === 'pending'));
    this.log.info('dry run planned', { node, wouldEvict: this.evicted.length });
    return this.report('dry-run');
  }

  // ---- the node claim ---------------------------------------------------------------------

  private claim(node: string, ttlMs = CLAIM_TTL_MS) {
    const now = this.clock.now();
    this.claimRenewAt = now + CLAIM_RENEW_MS;
    return this.cluster.claimNode(node, {
      holder: this.options.claim?.holder ?? '',
      until: now + ttlMs,
      now,
    });
  }

  /** False only when another holder took the node over; a failed renewal is retried later. */
  private async renewClaim(node: string, now: number, ttlMs: number): Promise<boolean> {
    if (!this.options.claim) return true;
    try {
      const claim = await this.guard(this.claim(node, ttlMs));
      if (claim.kind === 'claimed') return true;
      this.log.error('another drain took the node over', { node, holder: claim.holder });
      return false;
    } catch (error) {
      if (error instanceof Stopped) throw error;
      this.noteError('renew claim', error);
      this.claimRenewAt = now + this.options.backoff.maxMs;
      return true;
    }
  }

  private heldElsewhere(holder: string): Promise<DrainReport> {
    this.log.info('node is being drained by another invocation', { node: this.node, holder });
    return this.report('already-draining');
  }

  // ---- helpers ----------------------------------------------------------------------------

  /** A call, unless the caller aborts first (a hung request must not outlast the invocation). */
  private guard<T>(call: Promise<T>): Promise<T> {
    return this.options.signal ? Promise.race([call, this.aborted]) : call;
  }

  /** Retries a call that must succeed before the drain can go on, until the deadline or pause. */
  private async untilDeadline<T>(
    what: string,
    call: () => Promise<T>,
  ): Promise<{ value: T; stopped?: undefined } | { stopped: 'deadline' | 'paused' }> {
    for (;;) {
      try {
        const value = await this.guard(call());
        this.failureStep = 0;
        return { value };
      } catch (error) {
        if (error instanceof Stopped) throw error;
        this.noteError(what, error);
        this.lastFailure = error;
      }
      const next = this.clock.now() + this.failureDelay();
      // a late start still gets its window to reach the cluster before the policy decides
      if (next >= Math.max(this.options.deadline, this.runStartedAt + this.windowMs))
        return { stopped: 'deadline' };
      if (this.options.pauseAt !== undefined && next >= this.options.pauseAt) return { stopped: 'paused' };
      await this.sleepUntil(next);
    }
  }

  /** Backoff after a failed call, with the server's Retry-After (throttling) as a floor. */
  private failureDelay(): number {
    this.failureStep++;
    const failure = this.lastFailure;
    this.lastFailure = undefined;
    const retryAfterMs = failure instanceof ClusterAccessError ? failure.retryAfterMs : undefined;
    return backoffDelay(this.failureStep, this.options.backoff, this.clock.random, retryAfterMs);
  }

  /** The deadline passed before the cluster answered: the policy still decides the lifecycle result. */
  private stoppedBeforeStart(reason: 'deadline' | 'paused'): Promise<DrainReport> {
    if (reason === 'paused') return this.report('paused');
    this.log.error('cluster unreachable until the deadline', { errors: [...this.errors] });
    // a dry run changes nothing, whatever happened: its outcome says so and decides no lifecycle result
    if (this.options.dryRun) return this.report('dry-run');
    const outcomes = {
      delete: 'deadline-deleted',
      continue: 'deadline-continued',
      abandon: 'deadline-abandoned',
    } as const;
    return this.report(outcomes[this.options.onDeadline]);
  }

  private noteError(what: string, error: unknown): void {
    this.addError(`${what}: ${errorMessage(error)}`);
    this.log.warn('cluster call failed', { call: what, error: errorMessage(error) });
  }

  private addError(message: string): void {
    if (this.errors.size < MAX_ERRORS_REPORTED) this.errors.add(message);
  }

  private async event(event: ClusterEvent, subject?: EventSubject): Promise<void> {
    if (!this.node || this.options.dryRun) return;
    try {
      await this.guard(this.cluster.recordEvent(subject ?? { kind: 'Node', name: this.node }, event));
    } catch (error) {
      if (error instanceof Stopped) throw error;
      this.log.warn('could not record event', { reason: event.reason, error: errorMessage(error) });
    }
  }

  private tally(): Tally {
    const totals = this.totals();
    return { evicted: totals.evicted.length, skipped: this.skipped.size, deleted: totals.deleted.length };
  }

  private async pdbsIn(namespace: string): Promise<PdbInfo[] | undefined> {
    try {
      return await this.guard(this.cluster.listPdbs(namespace));
    } catch (error) {
      if (error instanceof Stopped) throw error;
      this.noteError(`list pdbs in ${namespace}`, error);
      return undefined;
    }
  }

  private async blockedPods(): Promise<BlockedPod[]> {
    const pending = [...this.tracks.values()].filter((t) => t.state === 'pending');
    const pdbsByNamespace = new Map<string, PdbInfo[]>();
    for (const namespace of new Set(pending.map((t) => t.pod.namespace))) {
      pdbsByNamespace.set(namespace, (await this.pdbsIn(namespace)) ?? []);
    }
    return pending.map((track) => blockedPod(track, pdbsByNamespace.get(track.pod.namespace) ?? []));
  }

  private totals(): DrainTotals {
    const mine: DrainTotals = {
      evicted: this.evicted,
      deleted: this.deleted,
      evictionRequests: this.evictionRequests,
      evictionRefusals: this.evictionRefusals,
      throttled: this.throttled,
      errors: [...this.errors],
    };
    return addTotals(this.options.resume?.totals ?? NO_TOTALS, mine, MAX_ERRORS_REPORTED);
  }

  private progress(totals: DrainTotals): DrainProgress {
    const outstanding = this.outstanding();
    const offeredAt: Record<string, number> = {};
    for (const track of outstanding.slice(0, MAX_CARRIED_NAMES)) {
      if (track.offeredAt !== undefined) offeredAt[track.pod.uid] = track.offeredAt;
    }
    const pdbRefused = outstanding.filter((t) => t.pdbRefused).map((t) => t.pod.uid);
    return {
      offeredAt,
      ...(pdbRefused.length > 0 ? { pdbRefused: pdbRefused.slice(0, MAX_CARRIED_NAMES) } : {}),
      ...(this.policyEndsAt === undefined ? {} : { policyEndsAt: this.policyEndsAt }),
      totals,
    };
  }

  private async report(outcome: DrainOutcome): Promise<DrainReport> {
    await Promise.all(this.pendingEvents).catch(() => {});
    const quiet = outcome === 'drained' || outcome === 'node-not-found' || outcome === 'already-draining';
    const blocked =
      this.blockedAtEnd ?? (quiet || outcome === 'stopped' ? [] : await this.blockedPods().catch(() => []));
    const totals = this.totals();
    return {
      outcome,
      ...(this.node ? { node: this.node } : {}),
      dryRun: this.options.dryRun,
      evicted: totals.evicted,
      skipped: [...this.skipped.values()],
      warnings: this.warnings,
      blocked,
      deleted: totals.deleted,
      remaining: this.options.dryRun ? [] : this.outstanding().map((t) => podKey(t.pod)),
      evictionRequests: totals.evictionRequests,
      evictionRefusals: totals.evictionRefusals,
      throttled: totals.throttled,
      errors: totals.errors,
      startedAt: new Date(this.options.startedAt).toISOString(),
      durationMs: this.clock.now() - this.options.startedAt,
      progress: this.progress(totals),
    };
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
