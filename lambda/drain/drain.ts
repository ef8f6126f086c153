/**
 * The eviction engine: cordon one node, evict every pod that should leave (PDBs respected by the API
 * server, paced by their watched status), wait until they are gone, and apply the deadline policy to
 * whatever is still blocked. It knows no notice, claim or continuation: the job above it
 * (lambda/job/) decides its limits, may change them while it runs, and resumes it from its progress.
 */
import { ClusterAccessError, errorMessage } from '../errors.js';
import { classifyPod } from './classify.js';
import { backoffDelay, mapLimit } from './concurrency.js';
import {
  clampedPolicyEnd,
  DEADLINE_OUTCOMES,
  deletable,
  everyEligibleHadItsWindow,
  evictionWindowMs,
  policyEndsAt,
} from './deadline.js';
import { blockedEvent, deadlineEvent, drainedEvent, startedEvent } from './events.js';
import { newest, olderThan } from './fresh.js';
import { clampedGrace } from './grace.js';
import { Guard, Stopped, unlessStopped } from './guard.js';
import { Ledger } from './ledger.js';
import { type PdbInfo, type PodSnapshot, podKey } from './model.js';
import type { DrainLimits, DrainOptions } from './options.js';
import {
  nextWake,
  pdbSpent,
  probeUnrefused,
  releaseByPdbStatus,
  retryRefusedNow,
  scheduleRetry,
  spentPdb,
  withinPdbBudgets,
} from './pacing.js';
import type {
  Clock,
  ClusterEvent,
  ClusterPort,
  EventSubject,
  EvictionResult,
  Logger,
  NodeFeed,
  ResourceVersion,
} from './ports.js';
import { type BlockedPod, blockedPod, type DrainOutcome, type DrainReport } from './report.js';
import { PdbCoverage } from './selector.js';
import { newTrack, type Track } from './track.js';
import { PdbTurns, pdbKey } from './turns.js';
import { NodeView } from './view.js';

export { DEADLINE_POLICIES, type DeadlinePolicy } from '../contract.js';
export { DEFAULT_DRAIN_TUNING, type DrainLimits, type DrainOptions } from './options.js';
export type { BlockedPod, BlockReason, DrainOutcome, DrainReport } from './report.js';

/** Past a hard end, the drain still watches this long for the pods whose clamped grace ended there. */
const SEE_THEM_GO_MS = 1_500;

/** A running drain: its report when it ends, and new limits while it runs. */
export interface DrainHandle {
  readonly done: Promise<DrainReport>;
  /** Takes effect at once (the loop wakes): a tighter deadline, a hard end, another policy. */
  setLimits(limits: DrainLimits): void;
}

/**
 * Drains one node. Never throws for API failures: they are retried until the deadline and reported.
 */
export function drainNode(
  cluster: ClusterPort,
  options: DrainOptions,
  deps: { readonly clock: Clock; readonly log: Logger },
): Promise<DrainReport> {
  return startDrain(cluster, options, deps).done;
}

export function startDrain(
  cluster: ClusterPort,
  options: DrainOptions,
  deps: { readonly clock: Clock; readonly log: Logger },
): DrainHandle {
  const run = new DrainRun(cluster, options, deps.clock, deps.log);
  return { done: run.run(), setLimits: (limits) => run.setLimits(limits) };
}

class DrainRun {
  private readonly tracks = new Map<string, Track>();
  private readonly ledger: Ledger;
  private failureStep = 0;
  private readonly pendingEvents: Promise<void>[] = [];
  private node: string | undefined;
  private limits: DrainLimits;
  private windowMs: number;
  private policyEndsAt: number | undefined;
  /** A continuation's end of the policy phase, clamped once the pods are known. */
  private carriedPolicyEnd: number | undefined;
  private lastFailure: unknown;
  /** Set when the policy ends the drain, before it acts on the blocked pods. */
  private blockedAtEnd?: BlockedPod[];
  private readonly guard: Guard;
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
  /**
   * The newest list of the node's pods seen: later lists must be at least as new. (Not the cordon's
   * version: a resource's watch cache moves only with its own changes, and on a quiet cluster it would
   * be asked for a version it may not reach for long.)
   */
  private seenVersion?: ResourceVersion;
  /** Wakes the loop's sleep when the limits change without a watch (the view wakes it otherwise). */
  private limitsChanged?: AbortController;
  /** Turns with the other drains that share this node's PDBs (with watches only). */
  private turns?: PdbTurns;

  constructor(
    private readonly cluster: ClusterPort,
    private readonly options: DrainOptions,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.ledger = new Ledger(options.resume?.totals);
    this.limits = options;
    this.windowMs = evictionWindowMs(options.minEvictionWindowMs, options.startedAt, options.deadline);
    this.carriedPolicyEnd = options.resume?.policyEndsAt;
    this.runStartedAt = clock.now();
    this.guard = new Guard(options.signal);
  }

  setLimits(limits: DrainLimits): void {
    const now = this.clock.now();
    const { deadline, hardEnd } = limits;
    if (deadline > now && this.policyEndsAt !== undefined && deadline > this.limits.deadline) {
      // the deadline moved out again (a termination took over a rebalance drain): no phase yet
      this.policyEndsAt = undefined;
      this.blockedAtEnd = undefined;
    }
    if (this.policyEndsAt !== undefined && hardEnd !== undefined)
      this.policyEndsAt = Math.min(this.policyEndsAt, hardEnd + SEE_THEM_GO_MS);
    this.limits = limits;
    this.windowMs = evictionWindowMs(limits.minEvictionWindowMs, this.options.startedAt, deadline);
    this.log.info('drain limits changed', {
      node: this.node,
      deadline: new Date(deadline).toISOString(),
      policy: limits.onDeadline,
      ...(hardEnd === undefined ? {} : { hardEnd: new Date(hardEnd).toISOString() }),
    });
    this.view?.poke();
    this.limitsChanged?.abort();
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
      if (this.turns) void this.turns.close(true);
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

    const exclude = this.options.excludeFromLoadBalancers === true;
    const cordoned = await this.untilDeadline('cordon', () =>
      this.cluster.cordon(node, { excludeFromLoadBalancers: exclude }),
    );
    if (cordoned.stopped) return this.stoppedBeforeStart(cordoned.stopped);
    this.log.info('node cordoned', { node, excludedFromLoadBalancers: exclude });
    this.view = new NodeView(node, this.log, this.clock);
    await this.view.follow(this.cluster, this.guard);
    if (this.options.turns && this.view.live()) {
      this.turns = new PdbTurns(this.options.turns(node), node, this.log);
      await this.guard.run(() => this.turns?.start(() => this.view?.poke()) ?? Promise.resolve());
    }
    const outcome = await this.evictUntilEmpty(node).finally(() =>
      Promise.allSettled(this.inFlight.values()),
    );
    // a drain that hands over keeps its places in the queues for its continuation
    await this.guard.run(() => this.turns?.close(outcome === 'paused') ?? Promise.resolve());
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
      if (now >= this.limits.deadline) {
        const ended = await this.applyDeadlinePolicy(now);
        if (ended) return ended;
      }
      if (this.options.pauseAt !== undefined && now >= this.options.pauseAt) return 'paused';
      if (listed) await this.sendEvictions(now);
      const wake = listed
        ? nextWake(this.waiting(), this.clock.now(), this.options.pollIntervalMs)
        : this.clock.now() + this.failureDelay();
      await this.sleepUntil(wake);
    }
  }

  private async sendEvictions(now: number): Promise<void> {
    const feed = this.view?.live();
    if (feed) {
      // a pod a PDB held or refused is a candidate whatever its backoff: the PDB's status decides
      const candidates = this.waiting().filter(
        (t) => t.nextAttemptAt <= now || t.heldByPdb || t.lastRefusal?.kind === 'pdb-blocked',
      );
      // turns until the deadline: then the policy needs every pod's own answer from the server
      const turns = this.turns?.coordinated && now < this.limits.deadline ? this.turns : undefined;
      this.dispatch(
        withinPdbBudgets(
          candidates,
          {
            tracks: [...this.tracks.values()],
            inFlight: (t) => this.inFlight.has(t),
            pdbsIn: (ns) => feed.pdbs(ns),
            coverage: this.coverage,
            random: this.clock.random,
            ...(turns ? { mayUse: (pdb: PdbInfo) => turns.mayUse(pdb, now) } : {}),
          },
          now,
          this.options.backoff,
        ),
      );
      if (this.turns) this.settleTurns(this.turns, feed, now);
      return;
    }
    await this.followPdbStatus(now);
    // without watches the answers are awaited, so the next sleep knows every retry's time
    await Promise.all(this.dispatch(this.waiting().filter((t) => t.nextAttemptAt <= now)));
  }

  /**
   * Keeps the turns it holds alive, and gives back those it needs no more: every pod of this drain
   * under the PDB sent, answered and counted by the PDB's status (or gone).
   */
  private settleTurns(turns: PdbTurns, feed: NodeFeed, now: number): void {
    const needed = new Set<string>();
    const allowed = new Map<string, number>();
    for (const track of this.tracks.values()) {
      const pdb = pdbSpent(track.pod, feed.pdbs(track.pod.namespace), this.coverage);
      if (!pdb) continue;
      const key = pdbKey(pdb);
      allowed.set(key, pdb.disruptionsAllowed);
      const waiting = track.state === 'pending' || this.inFlight.has(track) || track.spentPdb !== undefined;
      if (waiting) needed.add(key);
    }
    for (const key of turns.queued()) if (!needed.has(key)) turns.release(key);
    turns.tick((key) => allowed.get(key), now);
  }

  /** One read of the node's pods updates every pod's state. Returns false if there was none to trust. */
  private async listAndReconcile(node: string): Promise<boolean> {
    let pods: readonly PodSnapshot[];
    const feed = this.view?.live();
    if (feed) {
      pods = feed.pods();
      if (pods === this.reconciled) return true; // no pod changed since the last pass
      this.reconciled = pods;
    } else {
      const listed = await this.freshList(node);
      if (!listed) return false;
      pods = listed;
    }
    this.reconcile(pods);
    return true;
  }

  /** A list at least as new as anything seen, or undefined (failed or stale: retried with backoff). */
  private async freshList(node: string): Promise<readonly PodSnapshot[] | undefined> {
    try {
      const list = await this.guard.run(() =>
        this.cluster.listPods(node, this.seenVersion ? { notOlderThan: this.seenVersion } : {}),
      );
      if (olderThan(list.resourceVersion, this.seenVersion)) {
        this.ledger.staleReads++;
        this.log.warn('pod list older than one already seen: not trusted', {
          node,
          listed: list.resourceVersion,
          seen: this.seenVersion,
        });
        return undefined;
      }
      this.seenVersion = newest(list.resourceVersion, this.seenVersion);
      this.failureStep = 0;
      return list.pods;
    } catch (error) {
      this.noteError('list pods', unlessStopped(error));
      this.lastFailure = error;
      return undefined;
    }
  }

  /**
   * A pod missing from a trusted read is gone; one that shows up again (a read that was not
   * trusted enough after all) is tracked again, in the state it had: an evicted pod is never
   * evicted twice.
   */
  private reconcile(pods: readonly PodSnapshot[]): void {
    const present = new Map(pods.map((pod) => [pod.uid, pod]));
    let released = false;
    for (const track of this.tracks.values()) {
      const current = present.get(track.pod.uid);
      if (!current) {
        if (track.state === 'gone') continue;
        track.stateBeforeGone = track.state;
        track.state = 'gone';
        released = true;
        this.log.debug('pod gone', { pod: podKey(track.pod) });
        continue;
      }
      if (track.state === 'gone') {
        track.state = track.stateBeforeGone ?? 'terminating';
        this.log.warn('pod seen again after it was gone: tracked again', { pod: podKey(track.pod) });
      }
      if (track.state === 'pending' && current.terminating) {
        track.pod = current;
        track.state = 'terminating';
      }
    }
    for (const pod of pods) {
      if (!this.tracks.has(pod.uid) && !this.ledger.skipped.has(pod.uid)) this.admit(pod);
    }
    if (released) retryRefusedNow(this.tracks.values(), this.clock.now());
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

  /** One eviction request; its answer updates the track. */
  private async evictOne(track: Track): Promise<void> {
    const now = this.clock.now();
    const grace = clampedGrace(track.pod, this.limits.hardEnd, now);
    const result = await this.guard
      .run(() => {
        this.ledger.evictionRequests++;
        track.attempts++;
        track.lastAttemptAt = now;
        track.offeredAt ??= now;
        return this.cluster.evict(track.pod, { dryRun: this.options.dryRun, ...grace });
      })
      .catch(
        (error: unknown): EvictionResult => ({ kind: 'failed', message: errorMessage(unlessStopped(error)) }),
      );
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
        // 404: not there any more; the next trusted read confirms it by UID
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
   * until a watched pod or PDB changes, or the limits change.
   */
  private async sleepUntil(at: number): Promise<void> {
    const now = this.clock.now();
    const limits = [at, this.limits.deadline, this.options.pauseAt, this.policyEndsAt].filter(
      (limit): limit is number => limit !== undefined && limit > now,
    );
    const ms = Math.max(0, Math.min(...limits) - now);
    if (this.view) {
      await this.view.sleep(this.clock, ms, this.options.signal);
    } else {
      this.limitsChanged = new AbortController();
      const signal = this.options.signal
        ? AbortSignal.any([this.options.signal, this.limitsChanged.signal])
        : this.limitsChanged.signal;
      await this.clock.sleep(ms, signal);
      this.limitsChanged = undefined;
    }
    if (this.guard.stopped) throw new Stopped();
  }

  // ---- deadline ---------------------------------------------------------------------------

  /**
   * Past the deadline: the policy acts on each pod only after its eviction window, so pods offered
   * late keep being evicted meanwhile. Returns the outcome once the drain ends.
   */
  private async applyDeadlinePolicy(now: number): Promise<DrainOutcome | undefined> {
    const policy = this.limits.onDeadline;
    const hardEndMs = (this.limits.hardEnd ?? Number.POSITIVE_INFINITY) + SEE_THEM_GO_MS;
    if (this.policyEndsAt === undefined && this.carriedPolicyEnd !== undefined) {
      // a continuation's phase goes on, but an event's time may shorten no pod's window
      const margin = this.options.deleteWaitMarginMs;
      this.policyEndsAt = Math.min(
        clampedPolicyEnd(this.carriedPolicyEnd, now, this.outstanding(), this.windowMs, margin),
        hardEndMs,
      );
      this.carriedPolicyEnd = undefined;
    }
    if (this.policyEndsAt === undefined) {
      this.policyEndsAt = Math.min(
        policyEndsAt(now, this.outstanding(), this.windowMs, this.options.deleteWaitMarginMs),
        // the clamped grace periods end at hardEnd: a moment more to see those pods go
        hardEndMs,
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
      const grace = clampedGrace(track.pod, this.limits.hardEnd, this.clock.now());
      const result = await this.guard.run(() => this.cluster.deletePod(track.pod, grace));
      track.state = 'terminating';
      if (result === 'deleted') {
        this.ledger.deleted.push(pod);
        this.log.warn('pod deleted at deadline', { pod, pdbs: track.lastRefusal?.message });
      }
    } catch (error) {
      this.noteError(`delete ${pod}`, unlessStopped(error));
      track.deleteFailures++;
      track.nextDeleteAt =
        this.clock.now() + backoffDelay(track.deleteFailures, this.options.backoff, this.clock.random);
    }
  }

  // ---- dry run ----------------------------------------------------------------------------

  private async dryRun(node: string): Promise<DrainReport> {
    const listed = await this.untilDeadline('list pods', () => this.cluster.listPods(node));
    if (listed.stopped) return this.stoppedBeforeStart(listed.stopped);
    for (const pod of listed.value.pods) this.admit(pod);
    const planned = [...this.tracks.values()].filter((t) => t.state === 'pending');
    await mapLimit(planned, this.options.maxConcurrentEvictions, (track) => this.evictOne(track));
    this.log.info('dry run planned', {
      node,
      wouldEvict: this.ledger.evicted.length,
      wouldExcludeFromLoadBalancers: this.options.excludeFromLoadBalancers === true,
    });
    return this.report('dry-run');
  }

  // ---- helpers ----------------------------------------------------------------------------

  /** Retries a call that must succeed before the drain can go on, until the deadline or pause. */
  private async untilDeadline<T>(
    what: string,
    call: () => Promise<T>,
  ): Promise<{ value: T; stopped?: undefined } | { stopped: 'deadline' | 'paused' }> {
    for (;;) {
      try {
        const value = await this.guard.run(call);
        this.failureStep = 0;
        return { value };
      } catch (error) {
        this.noteError(what, unlessStopped(error));
        this.lastFailure = error;
      }
      const next = this.clock.now() + this.failureDelay();
      // a late first invocation still gets its window to reach the cluster before the policy decides
      const giveUpAt = this.options.resume
        ? this.limits.deadline
        : Math.max(this.limits.deadline, this.runStartedAt + this.windowMs);
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
    return this.report(DEADLINE_OUTCOMES[this.limits.onDeadline]);
  }

  private noteError(what: string, error: unknown): void {
    this.ledger.addError(`${what}: ${errorMessage(error)}`);
    this.log.warn('cluster call failed', { call: what, error: errorMessage(error) });
  }

  private async event(event: ClusterEvent, subject?: EventSubject): Promise<void> {
    const node = this.node;
    if (!node || this.options.dryRun) return;
    try {
      await this.guard.run(() => this.cluster.recordEvent(subject ?? { kind: 'Node', name: node }, event));
    } catch (error) {
      unlessStopped(error);
      this.log.warn('could not record event', { reason: event.reason, error: errorMessage(error) });
    }
  }

  private async pdbsIn(namespace: string): Promise<readonly PdbInfo[] | undefined> {
    const feed = this.view?.live();
    if (feed) return feed.pdbs(namespace);
    try {
      return await this.guard.run(() => this.cluster.listPdbs(namespace));
    } catch (error) {
      this.noteError(`list pdbs in ${namespace}`, unlessStopped(error));
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
    const quiet = outcome === 'drained' || outcome === 'node-not-found';
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
      invocation: this.ledger.invocation(),
      startedAt: new Date(this.options.startedAt).toISOString(),
      durationMs: this.clock.now() - this.options.startedAt,
      progress: this.ledger.progress(this.outstanding(), this.policyEndsAt ?? this.carriedPolicyEnd),
    };
  }
}
