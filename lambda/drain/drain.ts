/**
 * The eviction engine: cordon one node, evict every pod that should leave (PDBs respected by the API
 * server, paced by their watched status), wait until they are gone, and apply the deadline policy to
 * whatever is still blocked. It knows no notice, claim or continuation: the job above it
 * (lambda/job/) decides its limits, may change them while it runs, and resumes it from its progress.
 */
import { errorMessage } from '../errors.js';
import { ClusterCalls } from './calls.js';
import { mapLimit } from './concurrency.js';
import { DEADLINE_OUTCOMES, evictionWindowMs } from './deadline.js';
import { drainedEvent, startedEvent } from './events.js';
import { Evictions } from './evictions.js';
import { Guard, Stopped, unlessStopped } from './guard.js';
import { Ledger } from './ledger.js';
import { type PdbInfo, podKey } from './model.js';
import type { DrainLimits, DrainOptions } from './options.js';
import { nextWake, pdbSpent, releaseByPdbStatus, withinPdbBudgets } from './pacing.js';
import { PodReads } from './pod-reads.js';
import { TrackedPods } from './pods.js';
import { PolicyPhase } from './policy-phase.js';
import type { Clock, ClusterPort, Logger } from './ports.js';
import { type BlockedPod, blockedPodsOf, type DrainOutcome, type DrainReport } from './report.js';
import { PdbCoverage } from './selector.js';
import type { Track } from './track.js';
import { PdbTurns, type PlannedTurn, plannedTurnsOf } from './turns.js';
import { NodeView } from './view.js';

export { DEADLINE_POLICIES, type DeadlinePolicy } from '../contract.js';
export { DEFAULT_DRAIN_TUNING, type DrainLimits, type DrainOptions } from './options.js';
export type { BlockedPod, BlockReason, DrainOutcome, DrainReport } from './report.js';

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
  private readonly pods: TrackedPods;
  private readonly ledger: Ledger;
  private node: string | undefined;
  limits: DrainLimits;
  windowMs: number;
  private readonly phase: PolicyPhase;
  private readonly calls: ClusterCalls;
  private readonly guard: Guard;
  private readonly runStartedAt: number;
  /** The watches of the node's pods and the PDBs, once the node is cordoned. */
  private view?: NodeView;
  private readonly evictions: Evictions;
  /** The node's pods as the passes read them, never older than a read already seen. */
  private readonly reads: PodReads;
  /** Which PDB covers which pod, across passes. */
  private readonly coverage = new PdbCoverage();
  /** Wakes the loop's sleep when the limits change without a watch (the view wakes it otherwise). */
  private limitsChanged?: AbortController;
  /** Turns with the other drains that share this node's PDBs (with watches only). */
  private turns?: PdbTurns;
  /** A dry run: the queues its pods would wait in. */
  private plannedTurns?: PlannedTurn[];

  constructor(
    private readonly cluster: ClusterPort,
    private readonly options: DrainOptions,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.ledger = new Ledger(options.resume?.totals);
    this.pods = new TrackedPods(this.ledger, log, options.resume);
    this.limits = options;
    this.windowMs = evictionWindowMs(options.minEvictionWindowMs, options.startedAt, options.deadline);
    this.runStartedAt = clock.now();
    this.guard = new Guard(options.signal);
    this.calls = new ClusterCalls(
      cluster,
      this.guard,
      this.ledger,
      log,
      clock,
      options.backoff,
      options.dryRun,
    );
    this.reads = new PodReads({ cluster, guard: this.guard, calls: this.calls, ledger: this.ledger, log });
    this.phase = new PolicyPhase(
      this,
      this.calls,
      this.ledger,
      { clock, log },
      { marginMs: options.deleteWaitMarginMs, backoff: options.backoff },
      options.resume?.policyEndsAt,
    );
    this.evictions = new Evictions(
      this.calls,
      this.ledger,
      this.coverage,
      {
        dryRun: options.dryRun,
        maxConcurrentEvictions: options.maxConcurrentEvictions,
        backoff: options.backoff,
        series: options.startedAt.toString(36),
        hardEnd: () => this.limits.hardEnd,
        pdbsIn: (namespace) => this.view?.live()?.pdbs(namespace),
      },
      { clock, log },
    );
  }

  setLimits(limits: DrainLimits): void {
    const { deadline, hardEnd } = limits;
    // a deadline moved out again (a termination took over a rebalance drain) means no phase yet
    this.phase.limitsChanged(this.limits, limits, this.clock.now());
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
    this.calls.node = node;
    if (this.options.dryRun) return this.dryRun(node);

    const exclude = this.options.excludeFromLoadBalancers === true;
    this.view = new NodeView(node, this.log, this.clock);
    const readPdb = this.cluster.readPdb?.bind(this.cluster);
    const turns = this.options.turns && new PdbTurns(this.options.turns(node), node, this.log, readPdb);
    this.turns = turns;
    // a PDB's change need not wake a drain that waits in its queue or needs none of its disruptions
    // (50 drains at one PDB: one is woken, not 50); from the deadline on, every change does
    const wakesForPdb = (pdb: PdbInfo): boolean =>
      this.clock.now() >= this.limits.deadline || this.turns?.idleFor(pdb) !== true;
    // the node's watches and the tickets' open beside the cordon: two round trips less before the
    // first eviction, which waits for the cordon (run() closes them if the drain ends here)
    const [cordoned] = await Promise.all([
      this.untilDeadline('cordon', () => this.cluster.cordon(node, { excludeFromLoadBalancers: exclude })),
      this.view.follow(this.cluster, this.guard, wakesForPdb),
      turns && this.guard.run(() => turns.start(() => this.view?.poke(), this.clock)),
    ]);
    if (cordoned.stopped) return this.stoppedBeforeStart(cordoned.stopped);
    this.log.info('node cordoned', { node, excludedFromLoadBalancers: exclude });
    const outcome = await this.evictUntilEmpty(node).finally(() => this.evictions.settled());
    // a drain that hands over keeps its places in the queues for its continuation
    await this.guard.run(() => this.turns?.close(outcome === 'paused') ?? Promise.resolve());
    return this.report(outcome);
  }

  // ---- the main loop ------------------------------------------------------------------------

  private async evictUntilEmpty(node: string): Promise<DrainOutcome> {
    let announced = false;
    for (;;) {
      if (this.evictions.unexpected) throw this.evictions.unexpected;
      await this.view?.refollow();
      const turnsBack = this.turns?.refollow(this.clock.now());
      if (turnsBack) await this.guard.run(() => turnsBack);
      const listed = await this.listAndReconcile(node);
      if (listed && !announced) {
        announced = true;
        await this.calls.event(startedEvent(this.pods.pending().length, this.ledger.skipped.size));
      }
      if (listed && this.outstanding().length === 0) {
        const deletedAny = this.ledger.totals().deleted.length > 0;
        this.log.info('node drained', {
          node,
          evicted: this.ledger.evicted.length,
          deleted: this.ledger.deleted.length,
        });
        await this.calls.event(drainedEvent(this.ledger.tally()));
        return deletedAny ? 'deadline-deleted' : 'drained';
      }
      const now = this.clock.now();
      if (now >= this.limits.deadline) {
        const ended = await this.phase.apply(now);
        if (ended) return ended;
      }
      if (this.options.pauseAt !== undefined && now >= this.options.pauseAt) return 'paused';
      if (listed) await this.sendEvictions(now);
      const wake = listed
        ? nextWake(this.waiting(), this.clock.now(), this.options.pollIntervalMs)
        : this.clock.now() + this.calls.failureDelay();
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
      this.evictions.send(
        withinPdbBudgets(
          candidates,
          {
            tracks: [...this.pods.all()],
            inFlight: (t) => this.evictions.has(t),
            pdbsIn: (ns) => feed.pdbs(ns),
            coverage: this.coverage,
            random: this.clock.random,
            ...(turns ? { mayUse: (pdb: PdbInfo) => turns.mayUse(pdb, now, feed.pdbsVersion()) } : {}),
          },
          now,
          this.options.backoff,
        ),
      );
      this.turns?.settle(
        this.pods.all(),
        (t) => this.evictions.has(t),
        (t) => pdbSpent(t.pod, feed.pdbs(t.pod.namespace), this.coverage),
        now,
      );
      return;
    }
    await this.followPdbStatus(now);
    // without watches the answers are awaited, so the next sleep knows every retry's time
    await Promise.all(this.evictions.send(this.waiting().filter((t) => t.nextAttemptAt <= now)));
  }

  /** One read of the node's pods updates every pod's state. Returns false if there was none to trust. */
  private async listAndReconcile(node: string): Promise<boolean> {
    const pods = await this.reads.read(node, this.view?.live());
    if (pods === undefined) return false;
    if (pods !== 'unchanged') this.pods.reconcile(pods, this.clock.now());
    return true;
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

  outstanding(): Track[] {
    return this.pods.outstanding();
  }

  eligible(): Track[] {
    return this.pods.eligible();
  }

  /** Eligible pods without an eviction request in flight. */
  private waiting(): Track[] {
    return this.eligible().filter((t) => !this.evictions.has(t));
  }

  /**
   * Sleeps until the retry, the deadline, the pause or the policy's end, whichever comes first, or
   * until a watched pod or PDB changes, or the limits change.
   */
  private async sleepUntil(at: number): Promise<void> {
    const now = this.clock.now();
    const limits = [at, this.limits.deadline, this.options.pauseAt, this.phase.wakeAt].filter(
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

  // ---- dry run ----------------------------------------------------------------------------

  private async dryRun(node: string): Promise<DrainReport> {
    const listed = await this.untilDeadline('list pods', () => this.cluster.listPods(node));
    if (listed.stopped) return this.stoppedBeforeStart(listed.stopped);
    for (const pod of listed.value.pods) this.pods.admit(pod);
    const planned = this.pods.pending();
    await mapLimit(planned, this.options.maxConcurrentEvictions, (track) => this.evictions.evictOne(track));
    const turns = this.options.turns;
    if (turns) {
      this.plannedTurns = await plannedTurnsOf(
        turns(node),
        node,
        planned,
        (namespace) => this.pdbsIn(namespace),
        this.coverage,
        this.guard,
      ).catch((error: unknown) => {
        this.log.warn('dry run: the PDB queues could not be read', {
          error: errorMessage(unlessStopped(error)),
        });
        return undefined;
      });
    }
    this.log.info('dry run planned', {
      node,
      wouldEvict: this.ledger.evicted.length,
      wouldExcludeFromLoadBalancers: this.options.excludeFromLoadBalancers === true,
      ...(this.plannedTurns ? { turns: this.plannedTurns } : {}),
    });
    return this.report('dry-run');
  }

  // ---- helpers ----------------------------------------------------------------------------

  /** Retries a call that must succeed before the drain can go on, until the deadline or pause. */
  private untilDeadline<T>(what: string, call: () => Promise<T>) {
    return this.calls.untilDeadline(
      what,
      call,
      {
        // a late first invocation still gets its window to reach the cluster before the policy decides
        giveUpAt: () =>
          this.options.resume
            ? this.limits.deadline
            : Math.max(this.limits.deadline, this.runStartedAt + this.windowMs),
        ...(this.options.pauseAt === undefined ? {} : { pauseAt: this.options.pauseAt }),
      },
      (at) => this.sleepUntil(at),
    );
  }

  /** The deadline passed before the cluster answered: the policy still decides the lifecycle result. */
  private stoppedBeforeStart(reason: 'deadline' | 'paused'): Promise<DrainReport> {
    if (reason === 'paused') return this.report('paused');
    this.log.error('cluster unreachable until the deadline', { errors: [...this.ledger.errors] });
    // a dry run changes nothing, whatever happened: its outcome says so and decides no lifecycle result
    if (this.options.dryRun) return this.report('dry-run');
    return this.report(DEADLINE_OUTCOMES[this.limits.onDeadline]);
  }

  private pdbsIn(namespace: string): Promise<readonly PdbInfo[] | undefined> {
    return this.calls.pdbsIn(namespace, this.view?.live());
  }

  /** The pods a PDB (or a failure) still blocks, with their PDBs. */
  blockedPods(): Promise<BlockedPod[]> {
    return blockedPodsOf(this.pods.all(), (namespace) => this.pdbsIn(namespace));
  }

  inFlight(track: Track): boolean {
    return this.evictions.has(track);
  }

  /** Every track (the policy phase probes and reports them). */
  tracksNow(): Iterable<Track> {
    return this.pods.all();
  }

  private async report(outcome: DrainOutcome): Promise<DrainReport> {
    await this.calls.eventsRecorded();
    const quiet = outcome === 'drained' || outcome === 'node-not-found';
    const blocked =
      this.phase.blockedAtEnd ??
      (quiet || outcome === 'stopped' ? [] : await this.blockedPods().catch(() => []));
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
      ...(this.plannedTurns ? { turns: this.plannedTurns } : {}),
      startedAt: new Date(this.options.startedAt).toISOString(),
      durationMs: this.clock.now() - this.options.startedAt,
      progress: this.ledger.progress(this.outstanding(), this.phase.end),
    };
  }
}
