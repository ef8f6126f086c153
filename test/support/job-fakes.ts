/**
 * Fakes for the job layer's AWS side and its record store. The store is a plain compare-and-swap map
 * (what the API server does with a resourceVersion precondition, no more); the protocol on top of it
 * is the product's (lambda/job/record.ts, lease.ts), and the real store is tested against a real API
 * server (test/e2e/adapters/).
 */

import type { Continuation } from '../../lambda/job/continuation.js';
import type { JobPorts } from '../../lambda/job/job.js';
import type { NoticeSettings } from '../../lambda/job/notice.js';
import type {
  ContinuationPort,
  JobStorePort,
  LifecyclePort,
  LifecycleResult,
  NodeState,
} from '../../lambda/job/ports.js';
import type { ActionRef, JobRecord, NodeBefore } from '../../lambda/job/record.js';
import type { WarmPoolMark } from '../../lambda/job/warm-pool.js';
import type { FakeCluster, VirtualClock } from './fakes.js';

/** One node's record and mark, as the node object would carry them. */
interface StoredNode {
  version: number;
  record?: JobRecord;
  mark?: WarmPoolMark;
  now: NodeBefore;
}

export class MemoryJobStore implements JobStorePort {
  readonly nodes = new Map<string, StoredNode>();
  /** Every successful write: the record written (null: removed). */
  readonly writes: (JobRecord | null)[] = [];
  conflicts = 0;
  /** Called before each write: a test changes the node meanwhile (another writer). */
  beforeWrite?: (node: string) => void;
  failReads = 0;

  private node(name: string): StoredNode {
    let stored = this.nodes.get(name);
    if (!stored) {
      stored = { version: 1, now: { unschedulable: false, excludedFromLoadBalancers: false } };
      this.nodes.set(name, stored);
    }
    return stored;
  }

  record(name: string): JobRecord | undefined {
    return this.nodes.get(name)?.record;
  }

  mark(name: string): WarmPoolMark | undefined {
    return this.nodes.get(name)?.mark;
  }

  /** Another writer replaces the record (as a competing invocation would). */
  put(name: string, record: JobRecord | undefined): void {
    const node = this.node(name);
    node.record = record;
    node.version++;
  }

  async read(name: string): Promise<NodeState> {
    if (this.failReads > 0) {
      this.failReads--;
      throw new Error('HTTP 503 Service Unavailable');
    }
    const node = this.node(name);
    return { version: String(node.version), ...(node.record ? { record: node.record } : {}), now: node.now };
  }

  async write(
    name: string,
    version: string,
    record: JobRecord | null,
    mark?: WarmPoolMark,
  ): Promise<'written' | 'conflict'> {
    this.beforeWrite?.(name);
    const node = this.node(name);
    if (String(node.version) !== version) {
      this.conflicts++;
      return 'conflict';
    }
    node.version++;
    if (record) node.record = record;
    else delete node.record;
    if (mark) node.mark = mark;
    this.writes.push(record);
    return 'written';
  }
}

/** A lifecycle action as AutoScaling keeps it: heartbeats and one completion, then "no active action". */
export class FakeAction implements LifecyclePort {
  heartbeats = 0;
  readonly completions: LifecycleResult[] = [];
  /** After the n-th heartbeat the action is gone (the hook timed out). */
  expiresAfterBeats = Number.POSITIVE_INFINITY;
  failCompletions = 0;
  /** Awaited before each heartbeat is answered (a slow AutoScaling answer). */
  beforeBeat?: () => Promise<void>;

  constructor(public lifecycleState = 'Terminating:Wait') {}

  get active(): boolean {
    return this.lifecycleState === 'Terminating:Wait';
  }

  async heartbeat(): Promise<'recorded' | 'expired'> {
    await this.beforeBeat?.();
    if (!this.active || this.heartbeats >= this.expiresAfterBeats) {
      this.lifecycleState = 'Terminating:Proceed';
      return 'expired';
    }
    this.heartbeats++;
    return 'recorded';
  }

  async state(): Promise<string | undefined> {
    return this.lifecycleState;
  }

  async complete(result: LifecycleResult): Promise<'completed' | 'already-completed'> {
    if (this.failCompletions > 0) {
      this.failCompletions--;
      throw new Error('Rate exceeded');
    }
    if (!this.active) return 'already-completed';
    this.completions.push(result);
    this.lifecycleState = 'Terminating:Proceed';
    return 'completed';
  }
}

/** The lifecycle actions of the test, by instance (one terminating action per instance, as AWS has). */
export class FakeActions {
  readonly byInstance = new Map<string, FakeAction>();
  readonly asked: ActionRef[] = [];

  action(instanceId = 'i-0123456789abcdef0'): FakeAction {
    let action = this.byInstance.get(instanceId);
    if (!action) {
      action = new FakeAction();
      this.byInstance.set(instanceId, action);
    }
    return action;
  }

  lifecycle = (ref: ActionRef): LifecyclePort => {
    this.asked.push(ref);
    return this.action(ref.instanceId);
  };
}

export class RecordedContinuation implements ContinuationPort {
  readonly sent: Continuation[] = [];
  async continueLater(continuation: Continuation): Promise<void> {
    this.sent.push(continuation);
  }
}

/** The ports of a job on the fake cluster, with its store, actions and continuation kept for asserts. */
export function jobPorts(cluster: FakeCluster, extra: Partial<JobPorts> = {}) {
  const store = new MemoryJobStore();
  const actions = new FakeActions();
  const continuation = new RecordedContinuation();
  const ports: JobPorts = {
    cluster,
    store,
    instances: { privateDnsName: async () => 'node-a' },
    continuation,
    lifecycle: actions.lifecycle,
    ...extra,
  };
  return { ports, store, actions, continuation };
}

/** Settings of runNotice on a virtual clock (policy delete, 300 s, drain on rebalance); a test overrides what it is about. */
export function noticeSettings(clock: VirtualClock, overrides: Partial<NoticeSettings> = {}): NoticeSettings {
  return {
    onRebalance: 'drain',
    dryRun: false,
    onDrainTimeout: 'delete',
    drainTimeoutSeconds: 300,
    maxConcurrentEvictions: 8,
    minEvictionWindowSeconds: 60,
    heartbeatIntervalSeconds: 60,
    excludeFromLoadBalancers: true,
    waitForLoadBalancers: false,
    waitForVolumeDetach: false,
    hookName: 'eks-node-drainer',
    invocation: 'notice-1',
    chain: 'notice-1',
    attempt: 1,
    startedAt: clock.t,
    pauseAt: clock.t + 800_000,
    ...overrides,
  };
}
