import { classifyPod, type EvictWarning, type SkipReason } from './classify.js';
import { backoffDelay, mapLimit } from './concurrency.js';
import { type NodeTarget, type PdbInfo, type PodSnapshot, podKey } from './model.js';
import type { Clock, ClusterEvent, ClusterPort, EventSubject, EvictionResult, Logger } from './ports.js';
import { pdbsCovering } from './selector.js';

export type DeadlinePolicy = 'delete' | 'continue' | 'abandon';

export type DrainOutcome =
  | 'drained'
  | 'node-not-found'
  | 'deadline-deleted'
  | 'deadline-continued'
  | 'deadline-abandoned'
  | 'dry-run'
  /** Stopped at `pauseAt` with work left: the caller continues in a new invocation. */
  | 'paused';

export interface DrainOptions {
  readonly target: NodeTarget;
  /** Epoch ms when the drain began (the first invocation, carried across continuations). */
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
  readonly backoff: { readonly initialMs: number; readonly maxMs: number };
  /** Policy `delete`: the longest wait for the deleted pods, on top of their own grace period. */
  readonly deleteWaitMarginMs: number;
}

export const DEFAULT_DRAIN_TUNING = {
  pollIntervalMs: 500,
  maxConcurrentEvictions: 32,
  backoff: { initialMs: 200, maxMs: 5_000 },
  deleteWaitMarginMs: 10_000,
} as const satisfies Partial<DrainOptions>;

export type BlockReason = 'pdb' | 'multiple-pdbs' | 'error' | 'waiting-for-ordinary-pods';

export interface BlockedPod {
  readonly pod: string;
  readonly reason: BlockReason;
  readonly message?: string;
  readonly attempts: number;
  readonly pdbs: readonly { readonly name: string; readonly disruptionsAllowed: number }[];
}

export interface DrainReport {
  readonly outcome: DrainOutcome;
  readonly node?: string;
  readonly dryRun: boolean;
  /** Evicted in this run (with dryRun: would be evicted). */
  readonly evicted: readonly string[];
  readonly skipped: readonly { readonly pod: string; readonly reason: SkipReason }[];
  readonly warnings: readonly { readonly pod: string; readonly warning: EvictWarning }[];
  /** Never evicted when the drain ended (at the deadline, or refused in a dry run). */
  readonly blocked: readonly BlockedPod[];
  /** Deleted at the deadline (policy `delete`), bypassing their PDBs. */
  readonly deleted: readonly string[];
  /** Still on the node when the drain ended (terminating or blocked). */
  readonly remaining: readonly string[];
  readonly evictionRequests: number;
  readonly evictionRefusals: number;
  /** Distinct API failures seen (bounded list). */
  readonly errors: readonly string[];
  readonly startedAt: string;
  readonly durationMs: number;
}

type TrackState = 'pending' | 'evicted' | 'terminating' | 'gone';

interface Track {
  pod: PodSnapshot;
  readonly critical: boolean;
  state: TrackState;
  attempts: number;
  backoffStep: number;
  nextAttemptAt: number;
  lastRefusal?: Exclude<EvictionResult, { kind: 'evicted' } | { kind: 'gone' }>;
  lastEventAt?: number;
  lastAttemptAt?: number;
}

const MAX_ERRORS_REPORTED = 20;
/** A blocked pod gets at most one Event update this often (the Event aggregates the count). */
const BLOCKED_EVENT_INTERVAL_MS = 30_000;

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
  private failureStep = 0;
  private readonly pendingEvents: Promise<void>[] = [];
  private node: string | undefined;
  /** Set at the deadline, before the policy acts on the blocked pods. */
  private blockedAtDeadline?: BlockedPod[];

  constructor(
    private readonly cluster: ClusterPort,
    private readonly options: DrainOptions,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  async run(): Promise<DrainReport> {
    const found = await this.untilDeadline('find node', () => this.cluster.findNode(this.options.target));
    if (found.stopped) return this.stopped(found.stopped);
    if (found.value === undefined) {
      this.log.info('node not found', { target: this.options.target });
      return this.report('node-not-found');
    }
    this.node = found.value;
    if (this.options.dryRun) return this.dryRun(found.value);

    const cordoned = await this.untilDeadline('cordon', () => this.cluster.cordon(found.value as string));
    if (cordoned.stopped) return this.stopped(cordoned.stopped);
    this.log.info('node cordoned', { node: this.node });
    return this.evictUntilEmpty(found.value);
  }

  // ---- the main loop ------------------------------------------------------------------------

  private async evictUntilEmpty(node: string): Promise<DrainReport> {
    let announced = false;
    for (;;) {
      const listed = await this.listAndReconcile(node);
      if (listed && !announced) {
        announced = true;
        await this.event(this.startEvent());
      }
      if (listed && this.outstanding().length === 0) {
        this.log.info('node drained', { node, evicted: this.evicted.length });
        await this.event({ reason: 'Drained', type: 'Normal', message: this.summary() });
        return this.report('drained');
      }
      const now = this.clock.now();
      if (now >= this.options.deadline) return this.atDeadline(node);
      if (this.options.pauseAt !== undefined && now >= this.options.pauseAt) return this.report('paused');
      if (listed) {
        await this.followPdbStatus(now);
        await this.evictDue(now);
      }
      await this.sleepUntil(listed ? this.nextWake() : this.clock.now() + this.failureDelay());
    }
  }

  /** One list of the node's pods updates every pod's state. Returns false if the list failed. */
  private async listAndReconcile(node: string): Promise<boolean> {
    let pods: PodSnapshot[];
    try {
      pods = await this.cluster.listPods(node);
      this.failureStep = 0;
    } catch (error) {
      this.noteError('list pods', error);
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
    if (released) this.retryRefusedNow();
    return true;
  }

  private admit(pod: PodSnapshot): void {
    const decision = classifyPod(pod);
    const key = podKey(pod);
    if (decision.action === 'skip') {
      this.skipped.set(pod.uid, { pod: key, reason: decision.reason });
      return;
    }
    const critical = decision.action === 'evict' && decision.critical;
    if (decision.action === 'evict') {
      for (const warning of decision.warnings) {
        this.warnings.push({ pod: key, warning });
        this.log.warn('evicting pod with warning', { pod: key, warning });
      }
    }
    this.tracks.set(pod.uid, {
      pod,
      critical,
      state: decision.action === 'wait' ? 'terminating' : 'pending',
      attempts: 0,
      backoffStep: 0,
      nextAttemptAt: 0,
    });
  }

  /** A pod left the node: a PDB may allow the next disruption now, so refused pods retry at once. */
  private retryRefusedNow(): void {
    const now = this.clock.now();
    for (const track of this.tracks.values()) {
      if (track.state === 'pending' && track.lastRefusal?.kind === 'pdb-blocked') {
        track.nextAttemptAt = Math.min(track.nextAttemptAt, now);
        track.backoffStep = 0;
      }
    }
  }

  /**
   * The API server refuses an eviction exactly when a covering PDB's status allows no disruption, so
   * pods refused by a PDB wait for its status instead of retrying blindly: as many are released as
   * the PDBs allow, the others wait (retried only at the longest backoff, in case the status is stale).
   * One LIST of PDBs per namespace with refused pods, per poll.
   */
  private async followPdbStatus(now: number): Promise<void> {
    const refused = this.eligible().filter((t) => t.lastRefusal?.kind === 'pdb-blocked');
    for (const namespace of new Set(refused.map((t) => t.pod.namespace))) {
      let pdbs: PdbInfo[];
      try {
        pdbs = await this.cluster.listPdbs(namespace);
      } catch (error) {
        this.noteError(`list pdbs in ${namespace}`, error);
        continue; // backoff alone decides
      }
      const budget = new Map(pdbs.map((pdb) => [pdb.name, pdb.disruptionsAllowed]));
      for (const track of refused.filter((t) => t.pod.namespace === namespace)) {
        const covering = pdbsCovering(track.pod, pdbs);
        if (covering.length === 0) continue;
        if (covering.every((pdb) => (budget.get(pdb.name) ?? 0) > 0)) {
          for (const pdb of covering) budget.set(pdb.name, (budget.get(pdb.name) ?? 0) - 1);
          track.nextAttemptAt = now;
          track.backoffStep = 0;
        } else {
          track.nextAttemptAt = Math.max(
            track.nextAttemptAt,
            (track.lastAttemptAt ?? now) + this.options.backoff.maxMs,
          );
        }
      }
    }
  }

  private outstanding(): Track[] {
    return [...this.tracks.values()].filter((t) => t.state !== 'gone');
  }

  /** Critical pods become eligible only once no ordinary pod is left on the node. */
  private eligible(): Track[] {
    const outstanding = this.outstanding();
    const ordinaryLeft = outstanding.some((t) => !t.critical);
    return outstanding.filter((t) => t.state === 'pending' && (!t.critical || !ordinaryLeft));
  }

  private async evictDue(now: number): Promise<void> {
    await this.evictAll(this.eligible().filter((t) => t.nextAttemptAt <= now));
  }

  /** One eviction request per track, bounded in flight; each answer updates its track. */
  private async evictAll(tracks: Track[]): Promise<void> {
    await mapLimit(tracks, this.options.maxConcurrentEvictions, async (track) => {
      this.evictionRequests++;
      track.attempts++;
      track.lastAttemptAt = this.clock.now();
      const result = await this.cluster
        .evict(track.pod, { dryRun: this.options.dryRun })
        .catch((error: unknown): EvictionResult => ({ kind: 'failed', message: errorMessage(error) }));
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
        track.state = 'gone';
        return;
      default: {
        if (result.kind === 'pdb-blocked') this.evictionRefusals++;
        else this.addError(`${pod}: ${result.message}`);
        if (track.lastRefusal?.message !== result.message) {
          const level = result.kind === 'pdb-blocked' ? 'info' : 'warn';
          this.log[level]('eviction refused', { pod, kind: result.kind, detail: result.message });
        }
        track.lastRefusal = result;
        if (result.kind !== 'failed') this.blockedEvent(track);
        track.backoffStep++;
        track.nextAttemptAt =
          this.clock.now() +
          backoffDelay(
            track.backoffStep,
            this.options.backoff,
            this.clock.random,
            'retryAfterMs' in result ? result.retryAfterMs : undefined,
          );
      }
    }
  }

  private nextWake(): number {
    const now = this.clock.now();
    const attempts = this.eligible().map((t) => t.nextAttemptAt);
    return Math.max(now + 20, Math.min(now + this.options.pollIntervalMs, ...attempts));
  }

  private async sleepUntil(at: number): Promise<void> {
    const limits = [at, this.options.deadline, this.options.pauseAt ?? Number.POSITIVE_INFINITY];
    await this.clock.sleep(Math.max(0, Math.min(...limits) - this.clock.now()));
  }

  // ---- deadline ---------------------------------------------------------------------------

  private async atDeadline(node: string): Promise<DrainReport> {
    const blocked = this.outstanding().filter((t) => t.state === 'pending');
    this.blockedAtDeadline = await this.blockedPods();
    this.log.warn('drain deadline reached', {
      node,
      policy: this.options.onDeadline,
      blocked: this.blockedAtDeadline,
    });
    await this.event({
      reason: 'DrainDeadlineReached',
      type: 'Warning',
      message: `${blocked.length} pod(s) still blocked, policy ${this.options.onDeadline}; ${this.summary()}`,
    });
    if (this.options.onDeadline === 'continue') return this.report('deadline-continued');
    if (this.options.onDeadline === 'abandon') return this.report('deadline-abandoned');

    for (const track of blocked) {
      try {
        const result = await this.cluster.deletePod(track.pod);
        track.state = result === 'gone' ? 'gone' : 'terminating';
        if (result === 'deleted') this.deleted.push(podKey(track.pod));
        this.log.warn('pod deleted at deadline', { pod: podKey(track.pod) });
      } catch (error) {
        this.noteError(`delete ${podKey(track.pod)}`, error);
      }
    }
    const longestGraceMs = Math.max(0, ...this.outstanding().map((t) => t.pod.gracePeriodSeconds * 1000));
    const waitUntil = this.clock.now() + longestGraceMs + this.options.deleteWaitMarginMs;
    for (;;) {
      if ((await this.listAndReconcile(node)) && this.outstanding().length === 0) break;
      const now = this.clock.now();
      if (this.options.pauseAt !== undefined && now >= this.options.pauseAt) return this.report('paused');
      if (now >= waitUntil) break;
      await this.clock.sleep(Math.min(this.options.pollIntervalMs, waitUntil - now));
    }
    return this.report('deadline-deleted');
  }

  // ---- dry run ----------------------------------------------------------------------------

  private async dryRun(node: string): Promise<DrainReport> {
    const listed = await this.untilDeadline('list pods', () => this.cluster.listPods(node));
    if (listed.stopped) return this.stopped(listed.stopped);
    for (const pod of listed.value) this.admit(pod);
    await this.evictAll([...this.tracks.values()].filter((t) => t.state === 'pending'));
    this.log.info('dry run planned', { node, wouldEvict: this.evicted.length });
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
        const value = await call();
        this.failureStep = 0;
        return { value };
      } catch (error) {
        this.noteError(what, error);
      }
      const next = this.clock.now() + this.failureDelay();
      if (next >= this.options.deadline) return { stopped: 'deadline' };
      if (this.options.pauseAt !== undefined && next >= this.options.pauseAt) return { stopped: 'paused' };
      await this.clock.sleep(next - this.clock.now());
    }
  }

  private failureDelay(): number {
    this.failureStep++;
    return backoffDelay(this.failureStep, this.options.backoff, this.clock.random);
  }

  /** The deadline passed before the cluster answered: the policy still decides the lifecycle result. */
  private stopped(reason: 'deadline' | 'paused'): Promise<DrainReport> {
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
      await this.cluster.recordEvent(subject ?? { kind: 'Node', name: this.node }, event);
    } catch (error) {
      this.log.warn('could not record event', { reason: event.reason, error: errorMessage(error) });
    }
  }

  /** "Eviction blocked by PDB x" on the pod: one Event per drain, its count updated at most every 30 s. */
  private blockedEvent(track: Track): void {
    const now = this.clock.now();
    const refusal = track.lastRefusal;
    if (!refusal || (track.lastEventAt !== undefined && now - track.lastEventAt < BLOCKED_EVENT_INTERVAL_MS))
      return;
    track.lastEventAt = now;
    const pdb =
      refusal.kind === 'pdb-blocked' && refusal.pdbName ? ` by PodDisruptionBudget ${refusal.pdbName}` : '';
    const event: ClusterEvent = {
      reason: 'EvictionBlocked',
      type: 'Warning',
      message: `eviction for node drain blocked${pdb}: ${refusal.message}`,
      series: this.options.startedAt.toString(36),
      count: track.attempts,
    };
    this.pendingEvents.push(this.event(event, { kind: 'Pod', ...track.pod }));
  }

  private startEvent(): ClusterEvent {
    const toEvict = [...this.tracks.values()].filter((t) => t.state === 'pending').length;
    return {
      reason: 'DrainStarted',
      type: 'Normal',
      message: `evicting ${toEvict} pod(s), ${this.skipped.size} skipped`,
    };
  }

  private summary(): string {
    return `${this.evicted.length} evicted, ${this.skipped.size} skipped, ${this.deleted.length} deleted`;
  }

  private async blockedPods(): Promise<BlockedPod[]> {
    const pending = [...this.tracks.values()].filter((t) => t.state === 'pending');
    const pdbsByNamespace = new Map<string, PdbInfo[]>();
    for (const namespace of new Set(pending.map((t) => t.pod.namespace))) {
      pdbsByNamespace.set(
        namespace,
        await this.cluster.listPdbs(namespace).catch((error: unknown) => {
          this.noteError(`list pdbs in ${namespace}`, error);
          return [];
        }),
      );
    }
    return pending.map((track) => {
      const refusal = track.lastRefusal;
      const reason: BlockReason =
        refusal === undefined
          ? 'waiting-for-ordinary-pods'
          : refusal.kind === 'pdb-blocked'
            ? 'pdb'
            : refusal.kind === 'multiple-pdbs'
              ? 'multiple-pdbs'
              : 'error';
      const pdbs = pdbsCovering(track.pod, pdbsByNamespace.get(track.pod.namespace) ?? []).map((p) => ({
        name: p.name,
        disruptionsAllowed: p.disruptionsAllowed,
      }));
      return {
        pod: podKey(track.pod),
        reason,
        ...(refusal ? { message: refusal.message } : {}),
        attempts: track.attempts,
        pdbs,
      };
    });
  }

  private async report(outcome: DrainOutcome): Promise<DrainReport> {
    await Promise.all(this.pendingEvents);
    const blocked =
      this.blockedAtDeadline ??
      (outcome === 'drained' || outcome === 'node-not-found' ? [] : await this.blockedPods());
    return {
      outcome,
      ...(this.node ? { node: this.node } : {}),
      dryRun: this.options.dryRun,
      evicted: this.evicted,
      skipped: [...this.skipped.values()],
      warnings: this.warnings,
      blocked,
      deleted: this.deleted,
      remaining: this.options.dryRun ? [] : this.outstanding().map((t) => podKey(t.pod)),
      evictionRequests: this.evictionRequests,
      evictionRefusals: this.evictionRefusals,
      errors: [...this.errors],
      startedAt: new Date(this.options.startedAt).toISOString(),
      durationMs: this.clock.now() - this.options.startedAt,
    };
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
