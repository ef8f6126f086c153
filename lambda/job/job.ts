/**
 * A node's job: the one drain of a node, whatever notices ask for it (record.ts). An invocation with
 * a notice finds the node, opens the node's job record and either holds the job or joins it:
 * - the holder drains (lambda/drain), following the record: requests that join are adopted (their
 *   lifecycle actions kept alive, their deadline and hard end applied to the running drain); it hands
 *   over to a new invocation before its own time runs out, waits for load balancers and volumes to
 *   let go of the instance, then completes every request's lifecycle action once and removes the
 *   record;
 * - a joined invocation keeps its own action alive until the holder adopts it, then ends `joined`.
 */

import { backoffDelay } from '../drain/concurrency.js';
import { DEADLINE_OUTCOMES } from '../drain/deadline.js';
import {
  DEFAULT_DRAIN_TUNING,
  type DrainLimits,
  type DrainOutcome,
  type DrainReport,
  startDrain,
} from '../drain/drain.js';
import type { NodeTarget } from '../drain/model.js';
import type { DrainProgress } from '../drain/progress.js';
import { unstartedReport } from '../drain/report.js';
import type { TurnsPort } from '../drain/turns.js';
import { ClusterAccessError, errorMessage } from '../errors.js';
import { completeWithRetry } from './complete.js';
import { MAX_ATTEMPTS } from './continuation.js';
import { type Heartbeat, Heartbeats } from './heartbeat.js';
import { awaitAdoption, type LeaseKeeper, openJob } from './lease.js';
import type {
  Clock,
  ClusterPort,
  ContinuationPort,
  InstancePort,
  JobStorePort,
  LifecyclePort,
  LifecycleResult,
  LoadBalancerPort,
  Logger,
} from './ports.js';
import { type ActionRef, type JobLimits, type JobRecord, type JobRequest, jobLimits } from './record.js';
import type { ReleaseReport } from './release.js';
import { ReleaseStep, stillAttached } from './release-step.js';
import type { WarmPoolMark } from './warm-pool.js';

/** Pods are to be gone this long before a Spot instance goes: grace periods end by then. */
export const SPOT_GRACE_MARGIN_MS = 5_000;

export type JobOutcome =
  | Exclude<DrainOutcome, 'paused' | 'stopped'>
  | 'continued-in-new-invocation'
  /** A lifecycle action the job kept alive expired: the instance went; the drain stopped. */
  | 'action-expired'
  /** The job's own lifecycle action was completed by someone else (or expired) before this one could. */
  | 'already-completed'
  /** Another invocation holds the node's job: this notice joined it. */
  | 'joined';

/** What an invocation brings to a node's job besides its notice: who it is, its time, the drain's tuning. */
export interface JobInvocation {
  /** This invocation (the job's holder while it drains), and its drain's chain (the first invocation, carried by continuations). */
  readonly invocation: string;
  readonly chain: string;
  readonly attempt: number;
  /** Epoch ms when this invocation must have handed over (its own end, less a margin). */
  readonly pauseAt: number;
  /** Aborted when this invocation must stop at once (its hand-over time passed). */
  readonly pauseSignal?: AbortSignal;
  /** What earlier invocations of this chain did (clamped by the caller). */
  readonly progress?: DrainProgress;
  readonly dryRun: boolean;
  readonly heartbeatIntervalSeconds: number;
  readonly maxConcurrentEvictions: number;
  /** The shortest time a pod is offered an eviction before a deadline policy acts on it. */
  readonly minEvictionWindowSeconds: number;
  readonly excludeFromLoadBalancers: boolean;
  readonly waitForLoadBalancers: boolean;
  readonly waitForVolumeDetach: boolean;
}

export interface JobSettings extends JobInvocation {
  /** This invocation's notice. */
  readonly request: JobRequest;
  readonly target: NodeTarget;
  /** The drainer's termination hook: a Spot instance's action waiting there is completed too. */
  readonly hookName: string;
}

export interface JobPorts {
  readonly cluster: ClusterPort;
  readonly store: JobStorePort;
  readonly instances: InstancePort;
  readonly continuation: ContinuationPort;
  /** Needed when `waitForLoadBalancers` is on. */
  readonly loadBalancers?: LoadBalancerPort;
  /** A lifecycle action (by token when the ref has one, else by instance). */
  lifecycle(action: ActionRef): LifecyclePort;
  /** The queues of drains that share PDBs, for a node (drain/turns.ts); absent: uncoordinated. */
  readonly turns?: (node: string) => TurnsPort;
}

export interface CompletedAction {
  readonly request: string;
  readonly result: LifecycleResult;
  readonly completion: 'completed' | 'already-completed';
}

export interface JobReport {
  readonly outcome: JobOutcome;
  readonly node?: string;
  readonly attempt: number;
  /** What was sent to CompleteLifecycleAction (null: nothing sent). */
  readonly lifecycleResult: LifecycleResult | null;
  /** Every lifecycle action this invocation completed, its own and the joined ones. */
  readonly completed: readonly CompletedAction[];
  readonly drain?: DrainReport;
  readonly release?: ReleaseReport;
  readonly heartbeats: { readonly recorded: number; readonly failed: number };
  /** The job's limits as the drain ended. */
  readonly limits?: JobLimits;
  /** A joined invocation: who holds the job, and whether the holder took this request over yet. */
  readonly joined?: { readonly holder: string; readonly adopted: boolean };
  /** The holder of an expired lease this invocation took the job over from. */
  readonly tookOverFrom?: string;
}

type Deps = { readonly clock: Clock; readonly log: Logger };

/**
 * Runs this invocation's part of the node's job. `own` is the heartbeat of this notice's lifecycle
 * action, already beaten once by the caller (absent: the notice has no action to keep alive).
 */
export async function runJob(
  settings: JobSettings,
  ports: JobPorts,
  deps: Deps,
  own?: Heartbeat,
): Promise<JobReport> {
  const run = new JobRun(settings, ports, deps);
  return run.run(own);
}

class JobRun {
  private readonly beats: Heartbeats;
  /** Aborted when the job must stop at once: an action it keeps alive expired, or another took it over. */
  private readonly stop = new AbortController();
  private lost?: string;
  private failures = 0;
  /** What failed before the drain reached the node (named in its report). */
  private readonly errors: string[] = [];
  private readonly release: ReleaseStep;

  constructor(
    private readonly settings: JobSettings,
    private readonly ports: JobPorts,
    private readonly deps: Deps,
  ) {
    this.beats = new Heartbeats(settings.heartbeatIntervalSeconds * 1000, deps, () => this.stop.abort());
    this.release = new ReleaseStep(settings, ports, deps, () => this.signal);
  }

  private get signal(): AbortSignal {
    const { pauseSignal } = this.settings;
    return pauseSignal ? AbortSignal.any([this.stop.signal, pauseSignal]) : this.stop.signal;
  }

  private base(extra: Partial<JobReport> & Pick<JobReport, 'outcome'>): JobReport {
    return {
      attempt: this.settings.attempt,
      lifecycleResult: null,
      completed: [],
      heartbeats: this.beats.counts(),
      ...extra,
    };
  }

  async run(own?: Heartbeat): Promise<JobReport> {
    const { request } = this.settings;
    if (own && request.action) await this.beats.add(request.id, this.ports.lifecycle(request.action), own);
    try {
      if (this.settings.dryRun) return await this.dryRun();
      const found = await this.untilDeadline('find node', () => this.findNode());
      if ('stopped' in found) return await this.unreachable(found.stopped);
      const node = found.value;
      if (!node) {
        this.deps.log.info('node not found', { target: this.settings.target });
        return await this.answerAlone('node-not-found', 'CONTINUE');
      }
      const me = { holder: this.settings.invocation, chain: this.settings.chain, request };
      const opened = await this.untilDeadline('open the job record', () =>
        openJob(this.ports.store, node, { ...me, now: this.deps.clock.now() }),
      );
      if ('stopped' in opened) return await this.unreachable(opened.stopped, node);
      if (opened.value.role === 'holder')
        return await this.hold(node, opened.value.keeper, opened.value.tookOver);
      const { holder } = opened.value;
      this.deps.log.info('the node’s drain is held by another invocation: joined it', { node, holder });
      const end = await awaitAdoption(
        this.ports.store,
        node,
        { ...me, now: this.deps.clock.now() },
        { pauseAt: this.settings.pauseAt, signal: this.signal },
        this.deps,
      );
      if (end.kind === 'took-over') return await this.hold(node, end.keeper, holder);
      return this.base({ outcome: 'joined', node, joined: { holder, adopted: end.kind !== 'waiting' } });
    } finally {
      await this.beats.close();
    }
  }

  // ---- the holder -----------------------------------------------------------------------------

  private async hold(node: string, keeper: LeaseKeeper, tookOverFrom?: string): Promise<JobReport> {
    const { log, clock } = this.deps;
    if (tookOverFrom) log.warn('took over the job of an expired lease', { node, from: tookOverFrom });
    try {
      await this.adopt(keeper.record.requests.filter((r) => r.id !== this.settings.request.id));
      let limits = jobLimits(keeper.record.requests);
      let progress = this.settings.progress;
      for (let round = 1; ; round++) {
        const drain = await this.drain(node, keeper, limits, progress);
        const ended = jobLimits(keeper.record.requests);
        // a notice that joined as the drain gave up at its deadline (a termination after a
        // rebalance drain's `continue`) may change the terms: the drain goes on under them
        if (round < 3 && leftPods(drain) && !this.lost && !this.beats.expired) {
          const kept = await keeper.keep(clock.now()).catch(() => undefined);
          if (kept && 'adopted' in kept) await this.adopt(kept.adopted);
          const next = jobLimits(keeper.record.requests);
          if (!sameLimits(next, ended)) {
            log.info('a notice joined as the drain ended: it goes on under the new terms', { node });
            limits = next;
            // the policy phase that ended was under the old terms: the new deadline starts its own
            const { policyEndsAt: _, ...offers } = drain.progress;
            progress = offers;
            continue;
          }
        }
        return await this.afterDrain(node, keeper, drain, ended, tookOverFrom);
      }
    } catch (error) {
      // whoever comes next (the async retry of this event, another notice) takes the job over
      await keeper.letGo(clock.now()).catch(() => {});
      throw error;
    }
  }

  /** One run of the drain, following the record: joined requests adopted, their limits applied at once. */
  private async drain(
    node: string,
    keeper: LeaseKeeper,
    initial: JobLimits,
    progress: DrainProgress | undefined,
  ): Promise<DrainReport> {
    let limits = initial;
    const drain = startDrain(
      this.ports.cluster,
      {
        ...DEFAULT_DRAIN_TUNING,
        ...this.drainLimits(limits),
        target: { nodeName: node },
        startedAt: limits.startedAt,
        pauseAt: this.settings.pauseAt,
        dryRun: false,
        maxConcurrentEvictions: this.settings.maxConcurrentEvictions,
        excludeFromLoadBalancers: this.settings.excludeFromLoadBalancers,
        signal: this.signal,
        ...(progress ? { resume: progress } : {}),
        ...(this.ports.turns ? { turns: this.ports.turns } : {}),
      },
      this.deps,
    );
    const following = new AbortController();
    const kept = keeper.run(following.signal, this.deps, {
      adopted: (requests) => {
        void this.adopt(requests);
        const next = jobLimits(keeper.record.requests);
        if (!sameLimits(next, limits)) {
          limits = next;
          drain.setLimits(this.drainLimits(limits));
        }
      },
      lost: (holder) => {
        this.lost = holder;
        this.stop.abort();
      },
    });
    try {
      return await drain.done;
    } finally {
      following.abort();
      await kept;
    }
  }

  private async afterDrain(
    node: string,
    keeper: LeaseKeeper,
    drained: DrainReport,
    limits: JobLimits,
    tookOverFrom: string | undefined,
  ): Promise<JobReport> {
    const { clock, log } = this.deps;
    const drain = withErrors(drained, this.errors);
    const ran = { node, drain, limits, ...(tookOverFrom ? { tookOverFrom } : {}) };
    if (this.lost)
      return this.base({ ...ran, outcome: 'joined', joined: { holder: this.lost, adopted: true } });
    if (this.beats.expired) return await this.expired(keeper, ran);
    let release: ReleaseReport | undefined;
    if (this.release.wanted(drain)) {
      release = await this.release.wait(node, drain, limits);
      if (release.outcome !== 'stopped' && release.outcome !== 'paused')
        await this.release.record(node, release);
    }
    const withRelease = { ...ran, ...(release ? { release } : {}) };
    const handOver =
      drain.outcome === 'paused' ||
      drain.outcome === 'stopped' ||
      release?.outcome === 'paused' ||
      release?.outcome === 'stopped';
    if (handOver && this.settings.attempt < MAX_ATTEMPTS) {
      // a failure here throws: the async invocation retries this event, which takes the job over
      await keeper.handOver(clock.now());
      await this.ports.continuation.continueLater({
        startedAt: this.settings.request.startedAt,
        attempt: this.settings.attempt + 1,
        holder: this.settings.chain,
        progress: drain.progress,
      });
      log.info('drain continues in a new invocation', { attempt: this.settings.attempt + 1 });
      return this.base({ ...withRelease, outcome: 'continued-in-new-invocation' });
    }
    if (handOver)
      log.error('too many continuations: applying the deadline policy', { attempt: this.settings.attempt });
    // no heartbeat may answer after our own completion: its "No active Lifecycle Action" would read
    // as the instance going (a beat in flight is awaited, then beating stops)
    await this.beats.close();
    if (this.beats.expired) return await this.expired(keeper, withRelease);
    const outcome = finalOutcome(drain, release, limits.policy);
    const result: LifecycleResult = outcome === 'deadline-abandoned' ? 'ABANDON' : 'CONTINUE';
    const completed: CompletedAction[] = [];
    const finished = await keeper.finish(
      async (requests, record) => {
        completed.push(...(await this.answer(requests, record, result)));
      },
      (record) => warmPoolMark(record, clock.now()),
    );
    if (finished !== 'released')
      log.error('another invocation took the node’s job over at its end', finished);
    return this.base({
      ...withRelease,
      outcome:
        ownCompletion(completed, this.settings.request) === 'already-completed'
          ? 'already-completed'
          : outcome,
      lifecycleResult: completed.length > 0 ? result : null,
      completed,
    });
  }

  /** An action kept alive expired: the instance is going, nothing is left to answer. */
  private async expired(keeper: LeaseKeeper, ran: Omit<Partial<JobReport>, 'outcome'>): Promise<JobReport> {
    await keeper
      .finish(
        async () => {},
        () => undefined,
      )
      .catch(() => {});
    return this.base({ ...ran, outcome: 'action-expired' });
  }

  /** Keeps the adopted requests' lifecycle actions alive; one already gone is dropped. */
  private async adopt(requests: readonly JobRequest[]): Promise<void> {
    for (const request of requests) {
      if (!request.action || this.beats.has(request.id)) continue;
      this.deps.log.info('adopted a request that joined the node’s drain', {
        request: request.id,
        kind: request.kind,
      });
      await this.beats.add(request.id, this.ports.lifecycle(request.action));
    }
  }

  /**
   * Completes the requests' lifecycle actions (and a Spot request's waiting termination action), this
   * invocation's own last. A completion that still fails after its retries throws: the record is let
   * go with the requests in it, and the async retry of this event (its own action still waiting)
   * takes the job over and completes them.
   */
  private async answer(
    requests: readonly JobRequest[],
    record: JobRecord,
    result: LifecycleResult,
  ): Promise<CompletedAction[]> {
    const own = this.settings.request.id;
    const ordered = [...requests].sort((a, b) => Number(a.id === own) - Number(b.id === own));
    const completed: CompletedAction[] = [];
    for (const request of ordered) {
      const action =
        request.action ??
        (request.kind === 'spot' && request.group && !record.requests.some((r) => r.action)
          ? await this.waitingAction(request.group, request)
          : undefined);
      if (!action) continue;
      const completion = await completeWithRetry(this.ports.lifecycle(action), result, this.deps);
      this.deps.log.info('completed a lifecycle action', { request: request.id, result, completion });
      completed.push({ request: request.id, result, completion });
    }
    return completed;
  }

  /**
   * A Spot instance's termination action of the drainer's hook that began without its event
   * reaching this job (it may never come): completed by instance id if the instance waits.
   */
  private async waitingAction(group: string, request: JobRequest): Promise<ActionRef | undefined> {
    const action = { group, hook: this.settings.hookName, instanceId: request.instanceId };
    const state = await this.ports
      .lifecycle(action)
      .state()
      .catch(() => undefined);
    return state === 'Terminating:Wait' ? action : undefined;
  }

  // ---- without a record -----------------------------------------------------------------------

  /** No node, or the cluster could not be reached: this notice's own action is answered alone. */
  private async answerAlone(outcome: JobOutcome, result: LifecycleResult, node?: string): Promise<JobReport> {
    const { action } = this.settings.request;
    if (!action) return this.base({ outcome, ...(node ? { node } : {}) });
    const completion = await completeWithRetry(this.ports.lifecycle(action), result, this.deps);
    return this.base({
      outcome: completion === 'already-completed' ? 'already-completed' : outcome,
      ...(node ? { node } : {}),
      lifecycleResult: result,
      completed: [{ request: this.settings.request.id, result, completion }],
    });
  }

  private async unreachable(reason: 'deadline' | 'paused', node?: string): Promise<JobReport> {
    if (reason === 'paused' && this.settings.attempt < MAX_ATTEMPTS) {
      await this.ports.continuation.continueLater({
        startedAt: this.settings.request.startedAt,
        attempt: this.settings.attempt + 1,
        holder: this.settings.chain,
        ...(this.settings.progress ? { progress: this.settings.progress } : {}),
      });
      return this.base({ outcome: 'continued-in-new-invocation', ...(node ? { node } : {}) });
    }
    this.deps.log.error('cluster unreachable until the deadline', { errors: this.errors });
    const outcome = DEADLINE_OUTCOMES[this.settings.request.policy];
    const drain = unstartedReport(outcome, {
      startedAt: this.settings.request.startedAt,
      now: this.deps.clock.now(),
      dryRun: false,
      errors: this.errors,
    });
    const answered = await this.answerAlone(
      outcome,
      outcome === 'deadline-abandoned' ? 'ABANDON' : 'CONTINUE',
      node,
    );
    return { ...answered, drain };
  }

  /** DRY_RUN: the plan (server-side dry-run evictions), what the release waits would wait for; no record, no completion. */
  private async dryRun(): Promise<JobReport> {
    const limits = jobLimits([this.settings.request]);
    const target = { ...this.settings.target, ...(await this.nodeName()) };
    const drain = await startDrain(
      this.ports.cluster,
      {
        ...DEFAULT_DRAIN_TUNING,
        ...this.drainLimits(limits),
        target,
        startedAt: limits.startedAt,
        pauseAt: this.settings.pauseAt,
        dryRun: true,
        maxConcurrentEvictions: this.settings.maxConcurrentEvictions,
        excludeFromLoadBalancers: this.settings.excludeFromLoadBalancers,
        signal: this.signal,
        ...(this.ports.turns ? { turns: this.ports.turns } : {}),
      },
      this.deps,
    ).done;
    const release =
      drain.node && this.release.wanted(drain)
        ? await this.release.wait(drain.node, drain, limits, true)
        : undefined;
    return this.base({
      outcome: 'dry-run',
      ...(drain.node ? { node: drain.node } : {}),
      drain,
      limits,
      ...(release ? { release } : {}),
    });
  }

  // ---- helpers ----------------------------------------------------------------------------

  /** The drain's terms from the job's limits: a hard end clamps grace periods and shortens the window. */
  private drainLimits(limits: JobLimits): DrainLimits {
    const windowMs = this.settings.minEvictionWindowSeconds * 1000;
    if (limits.hardEnd === undefined)
      return { deadline: limits.deadline, onDeadline: limits.policy, minEvictionWindowMs: windowMs };
    return {
      deadline: limits.deadline,
      onDeadline: limits.policy,
      hardEnd: limits.hardEnd - SPOT_GRACE_MARGIN_MS,
      // evictions are offered until the deadline, then the policy acts at once
      minEvictionWindowMs: Math.min(windowMs, Math.max(0, limits.deadline - this.deps.clock.now())),
    };
  }

  private async nodeName(): Promise<NodeTarget> {
    const { instanceId, nodeName } = this.settings.target;
    if (nodeName || !instanceId) return {};
    const name = await this.ports.instances.privateDnsName(instanceId).catch((error: unknown) => {
      this.deps.log.warn('instance lookup failed; finding the node by providerID', {
        error: errorMessage(error),
      });
      return undefined;
    });
    return name ? { nodeName: name } : {};
  }

  private async findNode(): Promise<string | undefined> {
    return this.ports.cluster.findNode({ ...this.settings.target, ...(await this.nodeName()) });
  }

  /** Retries a call the job cannot go on without, until the notice's deadline (a late start: its window) or the pause. */
  private async untilDeadline<T>(
    what: string,
    call: () => Promise<T>,
  ): Promise<{ readonly value: T } | { readonly stopped: 'deadline' | 'paused' }> {
    const { clock, log } = this.deps;
    const began = clock.now();
    const { request } = this.settings;
    const giveUpAt = this.settings.progress
      ? request.deadline
      : Math.max(request.deadline, began + this.settings.minEvictionWindowSeconds * 1000);
    for (;;) {
      try {
        const value = await call();
        this.failures = 0;
        return { value };
      } catch (error) {
        this.failures++;
        log.warn('cluster call failed', { call: what, error: errorMessage(error) });
        const named = `${what}: ${errorMessage(error)}`;
        if (!this.errors.includes(named) && this.errors.length < 20) this.errors.push(named);
        const retryAfterMs = error instanceof ClusterAccessError ? error.retryAfterMs : undefined;
        const next =
          clock.now() + backoffDelay(this.failures, DEFAULT_DRAIN_TUNING.backoff, clock.random, retryAfterMs);
        if (next >= giveUpAt) return { stopped: 'deadline' };
        if (next >= this.settings.pauseAt) return { stopped: 'paused' };
        await clock.sleep(next - clock.now(), this.settings.pauseSignal);
        if (this.settings.pauseSignal?.aborted) return { stopped: 'paused' };
      }
    }
  }
}

/** The failures before the drain reached the node (finding it, opening its record) belong to its report. */
function withErrors(drain: DrainReport, before: readonly string[]): DrainReport {
  if (before.length === 0) return drain;
  const errors = [...new Set([...before, ...drain.errors])].slice(0, 20);
  return {
    ...drain,
    errors,
    invocation: { ...drain.invocation, errors: drain.invocation.errors + before.length },
  };
}

/** The drain gave up at its deadline with pods still on the node. */
function leftPods(drain: DrainReport): boolean {
  return drain.outcome === 'deadline-continued' || drain.outcome === 'deadline-abandoned';
}

function sameLimits(a: JobLimits, b: JobLimits): boolean {
  return a.deadline === b.deadline && a.policy === b.policy && a.hardEnd === b.hardEnd;
}

/** The outcome the drain (and the release waits) end the job with, past any hand-over. */
function finalOutcome(
  drain: DrainReport,
  release: ReleaseReport | undefined,
  policy: JobLimits['policy'],
): Exclude<JobOutcome, 'joined' | 'continued-in-new-invocation' | 'already-completed' | 'action-expired'> {
  if (stillAttached(release)) return policy === 'abandon' ? 'deadline-abandoned' : 'deadline-continued';
  const outcome = drain.outcome;
  return outcome === 'paused' || outcome === 'stopped' ? DEADLINE_OUTCOMES[policy] : outcome;
}

function ownCompletion(completed: readonly CompletedAction[], request: JobRequest) {
  return completed.find((c) => c.request === request.id)?.completion;
}

/** The instance comes back (a request said so): the node is marked with how it was before the job. */
function warmPoolMark(record: JobRecord, now: number): WarmPoolMark | undefined {
  const back = record.requests.find((r) => r.comesBack);
  if (!back) return undefined;
  return {
    instanceId: back.instanceId,
    at: now,
    wasUnschedulable: record.before.unschedulable,
    hadExcludeLabel: record.before.excludedFromLoadBalancers,
  };
}
