import { DEFAULT_DRAIN_TUNING, type DrainOptions, drainNode } from '../../lambda/drain/drain.js';
import type { NodeTarget, PdbInfo, PodRef, PodSnapshot } from '../../lambda/drain/model.js';
import type {
  Clock,
  ClusterEvent,
  ClusterPort,
  EventSubject,
  EvictionResult,
  NodeFeed,
  PodList,
  ReadOptions,
} from '../../lambda/drain/ports.js';
import type { LifecycleRunSettings } from '../../lambda/job/lifecycle.js';
import { type LogEntry, memoryLogger } from '../../scripts/harness/memory-logger.js';

/**
 * Virtual time as a discrete-event scheduler: when every task waits on a sleep (nothing else is
 * pending: the check runs on setImmediate, after all promise callbacks), time jumps to the earliest
 * wake-up. Loops with backoff run instantly, and concurrent loops (drain + heartbeat) interleave as
 * they would in real time.
 */
export class VirtualClock implements Clock {
  readonly sleeps: number[] = [];
  private readonly timers: { at: number; seq: number; wake: () => void }[] = [];
  private seq = 0;
  private ticking = false;
  constructor(
    public t = 1_700_000_000_000,
    private readonly jitter = 0.5,
  ) {}
  now = (): number => this.t;
  sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
    new Promise((resolve) => {
      this.sleeps.push(ms);
      if (signal?.aborted) return resolve();
      const timer = { at: this.t + Math.max(0, ms), seq: this.seq++, wake: resolve };
      this.timers.push(timer);
      signal?.addEventListener(
        'abort',
        () => {
          const index = this.timers.indexOf(timer);
          if (index >= 0) this.timers.splice(index, 1);
          resolve();
        },
        { once: true },
      );
      this.tick();
    });
  random = (): number => this.jitter;

  private tick(): void {
    if (this.ticking) return;
    this.ticking = true;
    setImmediate(() => {
      this.ticking = false;
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers.shift();
      if (!next) return;
      this.t = Math.max(this.t, next.at);
      next.wake();
      if (this.timers.length > 0) this.tick();
    });
  }
}

export function pod(name: string, extra: Partial<PodSnapshot> = {}): PodSnapshot {
  return {
    namespace: 'default',
    name,
    uid: `uid-${name}`,
    phase: 'Running',
    controller: { kind: 'ReplicaSet', name: 'rs' },
    mirror: false,
    terminating: false,
    usesEmptyDir: false,
    labels: { app: name },
    gracePeriodSeconds: 30,
    ...extra,
  };
}

type Evictor = (pod: PodRef, call: number) => EvictionResult | Promise<EvictionResult>;

/**
 * A hand-written ClusterPort: the node's pods live in a map; an evicted pod leaves after
 * `terminationMs` of virtual time. Every request is recorded. The node's state has a version (a
 * resourceVersion) that grows with every change, as a server's does; lists say it.
 */
export class FakeCluster implements ClusterPort {
  readonly requests: string[] = [];
  /** The newest resourceVersion: grows with each change of the node's pods. */
  version = 100;
  /** What listPods was asked to be at least as new as, per call. */
  readonly notOlderThan: (string | undefined)[] = [];
  readonly events: (ClusterEvent & { subject: string })[] = [];
  readonly pods = new Map<string, PodSnapshot>();
  private readonly leavesAt = new Map<string, number>();
  private readonly evictCalls = new Map<string, number>();
  failures: { listPods?: number; findNode?: number } = {};
  pdbs: PdbInfo[] = [];
  evictor: Evictor = () => ({ kind: 'evicted' });

  constructor(
    protected readonly clock: VirtualClock,
    pods: PodSnapshot[],
    protected readonly terminationMs = 1_000,
    readonly nodeName: string | null = 'node-a',
  ) {
    for (const p of pods) this.pods.set(p.uid, p);
  }

  async findNode(target: NodeTarget): Promise<string | undefined> {
    this.requests.push(`findNode ${target.nodeName ?? ''}`);
    if (this.failures.findNode && this.failures.findNode-- > 0) throw new Error('connect ECONNREFUSED');
    return this.nodeName ?? undefined;
  }
  /** VolumeAttachment names on the node; a test removes them to model the CSI driver detaching. */
  readonly attachments: string[] = [];
  async listVolumeAttachments(node: string): Promise<string[]> {
    this.requests.push(`listVolumeAttachments ${node}`);
    return [...this.attachments];
  }
  async cordon(node: string, options: { excludeFromLoadBalancers?: boolean } = {}): Promise<void> {
    this.requests.push(`cordon ${node}${options.excludeFromLoadBalancers ? ' exclude-from-lb' : ''}`);
  }
  async listPods(_node: string, options: ReadOptions = {}): Promise<PodList> {
    this.requests.push('listPods');
    this.notOlderThan.push(options.notOlderThan);
    if (this.failures.listPods && this.failures.listPods-- > 0) throw new Error('HTTP 401: Unauthorized');
    const pods = this.present();
    return { pods, resourceVersion: String(this.version) };
  }
  /** The node's pods now: those whose termination ended have left. */
  protected present(): PodSnapshot[] {
    for (const [uid, at] of this.leavesAt) {
      if (this.clock.now() >= at) {
        this.pods.delete(uid);
        this.leavesAt.delete(uid);
        this.version++;
      }
    }
    return [...this.pods.values()];
  }
  async evict(
    ref: PodRef,
    options: { dryRun: boolean; gracePeriodSeconds?: number },
  ): Promise<EvictionResult> {
    const call = (this.evictCalls.get(ref.uid) ?? 0) + 1;
    this.evictCalls.set(ref.uid, call);
    this.requests.push(`evict ${ref.name}${options.dryRun ? ' dry-run' : ''}${grace(options)}`);
    const current = this.pods.get(ref.uid);
    if (!current) return { kind: 'gone' };
    const result = await this.evictor(ref, call);
    if (result.kind === 'evicted' && !options.dryRun) this.terminate(ref.uid);
    return result;
  }
  async deletePod(ref: PodRef, options: { gracePeriodSeconds?: number } = {}): Promise<'deleted' | 'gone'> {
    this.requests.push(`delete ${ref.name}${grace(options)}`);
    if (!this.pods.has(ref.uid)) return 'gone';
    this.terminate(ref.uid);
    return 'deleted';
  }
  async listPdbs(namespace: string): Promise<PdbInfo[]> {
    this.requests.push(`listPdbs ${namespace}`);
    return this.pdbs;
  }
  async recordEvent(subject: EventSubject, event: ClusterEvent): Promise<void> {
    this.events.push({
      ...event,
      subject: subject.kind === 'Node' ? subject.name : `${subject.namespace}/${subject.name}`,
    });
  }

  protected terminate(uid: string): void {
    const current = this.pods.get(uid);
    if (current) this.pods.set(uid, { ...current, terminating: true });
    this.version++;
    this.leavesAt.set(uid, this.clock.now() + this.terminationMs);
  }

  count(prefix: string): number {
    return this.requests.filter((r) => r.startsWith(prefix)).length;
  }

  /** The pod leaves the node `ms` of virtual time from now (e.g. one already terminating at the start). */
  terminateLater(uid: string, ms: number): void {
    this.leavesAt.set(uid, this.clock.now() + ms);
  }
}

/**
 * A FakeCluster that offers watches (followNode): the feed reads the fake's pods and PDBs, and tells
 * the drain of every change: a pod's termination, its leaving, and whatever the test calls `change` for.
 */
export class WatchedCluster extends FakeCluster {
  private listener?: () => void;
  feedFailed = false;
  closed = 0;
  /** followNode rejects, as when a watch cannot be established. */
  refuseWatch = false;
  /** The feed shows this older state instead of the newest (a relist answered from an older state). */
  staleView?: { readonly version: string; readonly pods: readonly PodSnapshot[] };

  /** What the drain told the feed of the PDB changes it need not be woken for (KubeCluster filters by it). */
  wakesForPdb?: (pdb: PdbInfo) => boolean;

  async followNode(
    node: string,
    onChange: () => void,
    wakesForPdb?: (pdb: PdbInfo) => boolean,
  ): Promise<NodeFeed> {
    this.requests.push(`followNode ${node}`);
    if (this.refuseWatch) throw new Error('HTTP 403: watch is forbidden');
    this.listener = onChange;
    this.wakesForPdb = wakesForPdb;
    return {
      pods: () => this.staleView?.pods ?? this.present(),
      podsVersion: () => this.staleView?.version ?? String(this.version),
      pdbs: (namespace) => this.pdbs.filter((pdb) => pdb.namespace === namespace),
      pdbsVersion: () => String(this.version),
      failed: () => this.feedFailed,
      close: () => {
        this.closed++;
      },
    };
  }

  /** A watched object changed (the test changed `pdbs`, say). */
  change(): void {
    this.listener?.();
  }

  protected override terminate(uid: string): void {
    super.terminate(uid);
    this.change();
    void this.clock.sleep(this.terminationMs).then(() => this.change());
  }
}

/**
 * One drain of node-a on virtual time against the cluster `make` builds (deadline in 60 s, policy
 * delete, the default tuning; `options` override), with its logs kept.
 */
export function drainSetup<C extends FakeCluster>(
  make: (clock: VirtualClock) => C,
  options: Partial<DrainOptions> = {},
) {
  const clock = new VirtualClock();
  const cluster = make(clock);
  const logs: LogEntry[] = [];
  const run = () =>
    drainNode(
      cluster,
      {
        target: { nodeName: 'node-a' },
        startedAt: clock.t,
        deadline: clock.t + 60_000,
        onDeadline: 'delete',
        dryRun: false,
        ...DEFAULT_DRAIN_TUNING,
        ...options,
      },
      { clock, log: memoryLogger(logs) },
    );
  return { clock, cluster, logs, run };
}

/** How a request shows a grace period override (none: the pod's own). */
const grace = (options: { gracePeriodSeconds?: number }): string =>
  options.gracePeriodSeconds === undefined ? '' : ` grace=${options.gracePeriodSeconds}`;

/** Settings for runLifecycleAction on a virtual clock; a test overrides what it is about. */
export function lifecycleSettings(
  clock: VirtualClock,
  overrides: Partial<LifecycleRunSettings> = {},
): LifecycleRunSettings {
  return {
    action: {
      group: 'web-asg',
      hook: 'eks-node-drainer',
      instanceId: 'i-0123456789abcdef0',
      token: 'token-1',
    },
    startedAt: clock.t,
    attempt: 1,
    pauseAt: clock.t + 600_000,
    drainTimeoutSeconds: 300,
    onDrainTimeout: 'delete',
    dryRun: false,
    heartbeatIntervalSeconds: 60,
    maxConcurrentEvictions: 8,
    minEvictionWindowSeconds: 60,
    handMade: false,
    force: false,
    invocation: 'request-1',
    chain: 'request-1',
    toWarmPool: false,
    excludeFromLoadBalancers: true,
    waitForLoadBalancers: false,
    waitForVolumeDetach: false,
    ...overrides,
  };
}
