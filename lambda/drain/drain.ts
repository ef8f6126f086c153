import { ClusterAccessError } from '../errors.js';
import { CLAIM_HANDOVER_MS, CLAIM_TTL_MS, NodeClaimKeeper } from './claim.js';
import { classifyPod } from './classify.js';
import { backoffDelay, mapLimit } from './concurrency.js';
import {
  DEADLINE_OUTCOMES,
  deletable,
  everyEligibleHadItsWindow,
  evictionWindowMs,
  policyEndsAt,
} from './deadline.js';
import { blockedEvent, deadlineEvent, drainedEvent, startedEvent } from './events.js';
import { clampedGrace } from './grace.js';
import { Ledger } from './ledger.js';
import { type PdbInfo, type PodSnapshot, podKey } from './model.js';
import type { DrainOptions } from './options.js';
import {
  nextWake,
  probeUnrefused,
  releaseByPdbStatus,
  retryRefusedNow,
  scheduleRetry,
  spentPdb,
  withinPdbBudgets,
} from './pacing.js';
import type { Clock, ClusterEvent, ClusterPort, EventSubject, EvictionResult, Logger } from './ports.js';
import { type BlockedPod, blockedPod, type DrainOutcome, type DrainReport } from './report.js';
import { PdbCoverage } from './selector.js';
import { newTrack, type Track } from './track.js';
import { NodeView } from './view.js';

export { DEADLINE_POLICIES, type DeadlinePolicy } from '../contract.js';
export { DEFAULT_DRAIN_TUNING, type DrainOptions } from './options.js';
export type { BlockedPod, BlockReason, DrainOutcome, DrainReport } from './report.js';

/** Past a hard end, the drain still watches this long for the pods whose clamped grace ended there. */
const SEE_THEM_GO_MS = 1_500;

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
  private readonly ledger: Ledger;
  private failureStep = 0;
  private readonly pendingEvents: Promise<void>[] = [];
  private node: string | undefined;
  private readonly windowMs: number;
  private policyEndsAt: number | undefined;
  private claim?: NodeClaimKeeper;
  private lastFailure: unknown;
  /** Set when the policy ends the drain, before it acts on the blocked pods. */
  private blockedAtEnd?: BlockedPod[];
  private readonly aborted: Promise<never>;
  private readonly runStartedAt: number;
  /** The watches of the node's pods and the PDBs, once the node is cordoned. */
  private view?: NodeView;
  /** Eviction requests in flight: the loop goes on (and reacts) while they are answered. */
  private readonly inFlight = new Map<Track, Promise<void>>();
  /** The feed's pods as the last pass reconciled them. */
  private reconciled?: readonly PodSnapshot[];
  /** Which PDB covers which pod, across passes. */
  private readonly coverage = new PdbCoverage();
  /** A bug in handling an eviction's answer: thrown out of the loop, never swallowed. */
  private lastUnexpected: unknown;

  constructor(
    private readonly cluster: ClusterPort,
    private readonly options: DrainOptions,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.ledger = new Ledger(options.resume?.totals);
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
    } finally {
      this.view?.close();
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
      const keeper = new NodeClaimKeeper(this.cluster, node, this.options.claim.holder, this.clock);
      const claimed = await this.untilDeadline('claim node', () => keeper.claim());
      if (claimed.stopped) return this.stoppedBeforeStart(claimed.stopped);
      if (claimed.value.kind === 'held') return this.heldElsewhere(claimed.value.holder);
      this.claim = keeper;
    }
    const exclude = this.options.excludeFromLoadBalancers === true;
    const cordoned = await this.untilDeadline('cordon', () =>
      this.cluster.cordon(node, { excludeFromLoadBalancers: exclude }),
    );
    if (cordoned.stopped) return this.stoppedBeforeStart(cordoned.stopped);
    this.log.info('node cordoned', { node, excludedFromLoadBalancers: exclude });
    this.view = new NodeView(node, this.log, this.clock);
    await this.view.follow(
      this.cluster,
      (call) => this.guard(call),
      (error) => error instanceof Stopped,
    );
    const outcome = await this.evictUntilEmpty(node).finally(() =>
      Promise.allSettled(this.inFlight.values()),
    );
    if (outcome !== 'paused' && outcome !== 'already-draining' && this.claim) {
      await this.guard(this.claim.release()).catch((error: unknown) => {
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
      if (this.lastUnexpected) throw this.lastUnexpected;
      await this.view?.refollow();
      const listed = await this.listAndReconcile(node);
      if (listed && !announced) {
        announced = true;
        await this.event(startedEvent(this.pendingCount(), this.ledger.skipped.size));
      }
      if (listed && this.outstanding().length === 0) {
        const deletedAny = this.ledger.totals().deleted.length > 0;
        this.log.info('node drained', {
          node,
          evicted: this.ledger.evicted.length,
          deleted: this.ledger.deleted.length,
        });
        await this.event(drainedEvent(this.ledger.tally()));
        return deletedAny ? 'deadline-deleted' : 'drained';
      }
      const now = this.clock.now();
      if (now >= this.options.deadline) {
        const ended = await this.applyDeadlinePolicy(now);
        if (ended) return ended;
      }
      if (this.options.pauseAt !== undefined && now >= this.options.pauseAt) {
        await this.renewClaim(now, CLAIM_HANDOVER_MS);
        return 'paused';
      }
      if (this.claim?.due(now) && !(await this.renewClaim(now, CLAIM_TTL_MS))) return 'already-draining';
      if (listed) {
        const feed = this.view?.live();
        if (feed) {
          // a pod a PDB held or refused is a candidate whatever its backoff: the PDB's status decides
          const candidates = this.waiting().filter(
            (t) => t.nextAttemptAt <= now || t.heldByPdb || t.lastRefusal?.kind === 'pdb-blocked',
          );
          this.dispatch(
            withinPdbBudgets(
              candidates,
              {
                tracks: [...this.tracks.values()],
                inFlight: (t) => this.inFlight.has(t),
                pdbsIn: (ns) => feed.pdbs(ns),
                coverage: this.coverage,
                random: this.clock.random,
              },
              now,
              this.options.backoff,
            ),
          );
        } else {
          await this.followPdbStatus(now);
          // without watches the answers are awaited, so the next sleep knows every retry's time
          await Promise.all(this.dispatch(this.waiting().filter((t) => t.nextAttemptAt <= now)));
        }
      }
      const wake = listed
        ? nextWake(this.waiting(), this.clock.now(), this.options.pollIntervalMs)
        : this.clock.now() + this.failureDelay();
      await this.sleepUntil(wake);
    }
  }

  /** One list of the node's pods updates every pod's state. Returns false if the list failed. */
  private async listAndReconcile(node: string): Promise<boolean> {
    let pods: readonly PodSnapshot[];
    const feed = this.view?.live();
    if (feed) {
      pods = feed.pods();
      if (pods === this.reconciled) return true; // no pod changed since the last pass
      this.reconciled = pods;
    } else {
      try {
        pods = await this.guard(this.cluster.listPods(node));
        this.failureStep = 0;
      } catch (error) {
        if (error instanceof Stopped) throw error;
        this.noteError('list pods', error);
        this.lastFailure = error;
        return false;
      }
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
      if (!this.tracks.has(pod.uid) && !this.ledger.skipped.has(pod.uid)) this.admit(pod);
    }
    if (released) retryRefusedNow(this.tracks.values(), this.clock.now());
    return true;
  }

  private admit(pod: PodSnapshot): void {
    const decision = classifyPod(pod);
    const key = podKey(pod);
    if (decision.action === 'skip') {
      this.ledger.skipped.set(pod.uid, { pod: key, reason: decision.reason });
      return;
    }
    if (decision.action === 'evict') {
      for (const warning of decision.warnings) {
        this.ledger.warnings.push({ pod: key, warning });
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

  /** Eligible pods without an eviction request in flight. */
  private waiting(): Track[] {
    return this.eligible().filter((t) => !this.inFlight.has(t));
  }

  /**
   * Sends an eviction request for each track, at most maxConcurrentEvictions in flight, without
   * waiting for the answers: each answer updates its track; the loop takes it up at its next pass
   * (with watches, the next pod or PDB change, at the latest the poll interval).
   */
  private dispatch(tracks: readonly Track[]): Promise<void>[] {
    const sent: Promise<void>[] = [];
    for (const track of tracks) {
      if (this.inFlight.size >= this.options.maxConcurrentEvictions) break;
      const request = this.evictOne(track)
        .catch((error: unknown) => {
          // stopped: the loop stops as well; anything else is a bug and must not vanish
          if (!(error instanceof Stopped)) this.lastUnexpected ??= error;
        })
        .finally(() => this.inFlight.delete(track));
      this.inFlight.set(track, request);
      sent.push(request);
    }
    return sent;
  }

  /** One eviction request per track, bounded in flight, all answered (the dry run's plan). */
  private async evictAll(tracks: Track[]): Promise<void> {
    await mapLimit(tracks, this.options.maxConcurrentEvictions, (track) => this.evictOne(track));
  }

  /** One eviction request; its answer updates the track. */
  private async evictOne(track: Track): Promise<void> {
    this.ledger.evictionRequests++;
    track.attempts++;
    const now = this.clock.now();
    track.lastAttemptAt = now;
    track.offeredAt ??= now;
    const grace = clampedGrace(track.pod, this.options.hardEnd, now);
    const result = await this.guard(
      this.cluster.evict(track.pod, { dryRun: this.options.dryRun, ...grace }),
    ).catch((error: unknown): EvictionResult => {
      if (error instanceof Stopped) throw error;
      return { kind: 'failed', message: errorMessage(error) };
    });
    this.apply(track, result);
  }

  private apply(track: Track, result: EvictionResult): void {
    const pod = podKey(track.pod);
    switch (result.kind) {
      case 'evicted': {
        track.state = 'evicted';
        const feed = this.view?.live();
        if (feed) track.spentPdb = spentPdb(track.pod, feed.pdbs(track.pod.namespace), this.coverage);
        this.ledger.evicted.push(pod);
        this.log.info('pod evicted', { pod, attempts: track.attempts });
        return;
      }
      case 'gone':
        // 404: not there any more; the next list confirms it by UID
        track.state = 'terminating';
        return;
      default: {
        if (result.kind === 'pdb-blocked' || result.kind === 'multiple-pdbs') {
          this.ledger.evictionRefusals++;
          track.pdbRefused = true;
          if (result.kind === 'pdb-blocked' && track.sentWithinBudget) track.raced = true;
        } else if (result.kind === 'throttled') {
          this.ledger.throttled++;
        } else {
          this.ledger.addError(`${pod}: ${result.message}`);
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

  /**
   * Sleeps until the retry, the deadline, the pause or the policy's end, whichever comes first, or
   * until a watched pod or PDB changes.
   */
  private async sleepUntil(at: number): Promise<void> {
    const now = this.clock.now();
    const limits = [at, this.options.deadline, this.options.pauseAt, this.policyEndsAt].filter(
      (limit): limit is number => limit !== undefined && limit > now,
    );
    const ms = Math.max(0, Math.min(...limits) - now);
    await (this.view
      ? this.view.sleep(this.clock, ms, this.options.signal)
      : this.clock.sleep(ms, this.options.signal));
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
      this.policyEndsAt = Math.min(
        policyEndsAt(now, this.outstanding(), this.windowMs, this.options.deleteWaitMarginMs),
        // the clamped grace periods end at hardEnd: a moment more to see those pods go
        (this.options.hardEnd ?? Number.POSITIVE_INFINITY) + SEE_THEM_GO_MS,
      );
      probeUnrefused(this.tracks.values(), now);
      const blocked = await this.blockedPods();
      // reported as what the deadline found blocked, whatever the policy then does to them
      this.blockedAtEnd = blocked;
      this.log.warn('drain deadline reached', { node: this.node, policy, blocked });
      await this.event(deadlineEvent(blocked.length, policy, this.ledger.tally()));
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
      const grace = clampedGrace(track.pod, this.options.hardEnd, this.clock.now());
      const result = await this.guard(this.cluster.deletePod(track.pod, grace));
      track.state = 'terminating';
      if (result === 'deleted') {
        this.ledger.deleted.push(pod);
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
    this.log.info('dry run planned', {
      node,
      wouldEvict: this.ledger.evicted.length,
      wouldExcludeFromLoadBalancers: this.options.excludeFromLoadBalancers === true,
    });
    return this.report('dry-run');
  }

  // ---- the node claim ---------------------------------------------------------------------

  /** False only when another holder took the node over; a failed renewal is retried later. */
  private async renewClaim(now: number, ttlMs: number): Promise<boolean> {
    if (!this.claim) return true;
    try {
      const claim = await this.guard(this.claim.claim(ttlMs));
      if (claim.kind === 'claimed') return true;
      this.log.error('another drain took the node over', { node: this.node, holder: claim.holder });
      return false;
    } catch (error) {
      if (error instanceof Stopped) throw error;
      this.noteError('renew claim', error);
      this.claim.retryIn(now, this.options.backoff.maxMs);
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
    if (!this.options.signal) return call;
    if (this.options.signal.aborted) {
      // stopped already: the answer, even one at hand, is not waited for
      call.catch(() => {});
      return Promise.reject(new Stopped());
    }
    return Promise.race([call, this.aborted]);
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
      // a late first invocation still gets its window to reach the cluster before the policy decides
      const giveUpAt = this.options.resume
        ? this.options.deadline
        : Math.max(this.options.deadline, this.runStartedAt + this.windowMs);
      if (next >= giveUpAt) return { stopped: 'deadline' };
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
    this.log.error('cluster unreachable until the deadline', { errors: [...this.ledger.errors] });
    // a dry run changes nothing, whatever happened: its outcome says so and decides no lifecycle result
    if (this.options.dryRun) return this.report('dry-run');
    return this.report(DEADLINE_OUTCOMES[this.options.onDeadline]);
  }

  private noteError(what: string, error: unknown): void {
    this.ledger.addError(`${what}: ${errorMessage(error)}`);
    this.log.warn('cluster call failed', { call: what, error: errorMessage(error) });
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

  private async pdbsIn(namespace: string): Promise<readonly PdbInfo[] | undefined> {
    const feed = this.view?.live();
    if (feed) return feed.pdbs(namespace);
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
    const pdbsByNamespace = new Map<string, readonly PdbInfo[]>();
    for (const namespace of new Set(pending.map((t) => t.pod.namespace))) {
      pdbsByNamespace.set(namespace, (await this.pdbsIn(namespace)) ?? []);
    }
    return pending.map((track) => blockedPod(track, pdbsByNamespace.get(track.pod.namespace) ?? []));
  }

  private async report(outcome: DrainOutcome): Promise<DrainReport> {
    await Promise.all(this.pendingEvents).catch(() => {});
    const quiet = outcome === 'drained' || outcome === 'node-not-found' || outcome === 'already-draining';
    const blocked =
      this.blockedAtEnd ?? (quiet || outcome === 'stopped' ? [] : await this.blockedPods().catch(() => []));
    const totals = this.ledger.totals();
    return {
      outcome,
      ...(this.node ? { node: this.node } : {}),
      dryRun: this.options.dryRun,
      evicted: totals.evicted,
      skipped: [...this.ledger.skipped.values()],
      warnings: this.ledger.warnings,
      blocked,
      deleted: totals.deleted,
      remaining: this.options.dryRun ? [] : this.outstanding().map((t) => podKey(t.pod)),
      evictionRequests: totals.evictionRequests,
      evictionRefusals: totals.evictionRefusals,
      throttled: totals.throttled,
      errors: totals.errors,
      startedAt: new Date(this.options.startedAt).toISOString(),
      durationMs: this.clock.now() - this.options.startedAt,
      progress: this.ledger.progress(this.outstanding(), this.policyEndsAt),
    };
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
