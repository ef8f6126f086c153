import { describe, expect, it } from 'vitest';
import type { Continuation } from '../../lambda/job/continuation.js';
import { type LifecycleRunSettings, runLifecycleAction } from '../../lambda/job/lifecycle.js';
import type { InstancePort, LifecyclePort, LifecycleResult } from '../../lambda/job/ports.js';
import { HANDOVER_MS, LEASE_MS } from '../../lambda/job/record.js';
import { type LogEntry, memoryLogger } from '../../scripts/harness/memory-logger.js';
import { FakeCluster, lifecycleSettings, pod, VirtualClock } from '../support/fakes.js';
import { MemoryJobStore } from '../support/job-fakes.js';

/** A lifecycle action that expires like AWS's when no heartbeat comes within `timeoutMs`. */
class FakeAction implements LifecyclePort {
  readonly beats: number[] = [];
  readonly completions: LifecycleResult[] = [];
  private lastBeat: number;
  lifecycleState = 'Terminating:Wait';
  constructor(
    private readonly clock: VirtualClock,
    private readonly timeoutMs = Number.POSITIVE_INFINITY,
  ) {
    this.lastBeat = clock.t;
  }
  private active(): boolean {
    return this.completions.length === 0 && this.clock.t - this.lastBeat <= this.timeoutMs;
  }
  async heartbeat(): Promise<'recorded' | 'expired'> {
    if (!this.active()) return 'expired';
    this.beats.push(this.clock.t);
    this.lastBeat = this.clock.t;
    return 'recorded';
  }
  async state(): Promise<string | undefined> {
    return this.lifecycleState;
  }
  async complete(result: LifecycleResult): Promise<'completed' | 'already-completed'> {
    if (!this.active()) return 'already-completed';
    this.completions.push(result);
    return 'completed';
  }
}

function setup(overrides: Partial<LifecycleRunSettings> = {}, timeoutMs?: number, terminationMs = 1_000) {
  const clock = new VirtualClock();
  const cluster = new FakeCluster(clock, [pod('a'), pod('b')], terminationMs);
  const action = new FakeAction(clock, timeoutMs);
  const continuations: Continuation[] = [];
  const logs: LogEntry[] = [];
  const instances: InstancePort = { privateDnsName: async () => 'node-a' };
  const store = new MemoryJobStore();
  const run = () =>
    runLifecycleAction(
      lifecycleSettings(clock, overrides),
      {
        cluster,
        store,
        lifecycle: () => action,
        instances,
        continuation: { continueLater: async (c) => void continuations.push(c) },
      },
      { clock, log: memoryLogger(logs) },
    );
  return { clock, cluster, action, continuations, instances, logs, store, run };
}

describe('runLifecycleAction heartbeats', () => {
  it('beats at once and then every interval for as long as the drain runs', async () => {
    // pods take 95 s to terminate; beats every 30 s keep a 60 s heartbeat timeout alive
    const { clock, action, run } = setup({ heartbeatIntervalSeconds: 30 }, 60_000, 95_000);
    const start = clock.t;

    const report = await run();

    expect(report.outcome).toBe('drained');
    expect(action.completions).toEqual(['CONTINUE']);
    expect(action.beats.map((t) => t - start)).toEqual([0, 30_000, 60_000, 90_000]);
    expect(report.heartbeats).toEqual({ recorded: 4, failed: 0 });
  });

  it('stops the drain at once when a heartbeat finds the action gone: action-expired, nothing completed', async () => {
    // heartbeats every 90 s cannot keep a 60 s timeout alive: the second beat finds it expired
    const { cluster, action, logs, run } = setup({ heartbeatIntervalSeconds: 90 }, 60_000, 300_000);

    const report = await run();

    expect(report.outcome).toBe('action-expired');
    expect(report.lifecycleResult).toBeNull();
    expect(action.completions).toEqual([]);
    expect(report.drain?.remaining).toHaveLength(2);
    expect(cluster.count('evict')).toBe(2);
    expect(logs.some((l) => l.level === 'error' && /expired while draining/.test(l.message))).toBe(true);
  });

  it('reports already-completed without draining when the first heartbeat finds no action', async () => {
    const { cluster, action, run } = setup();
    await action.complete('CONTINUE');

    const report = await run();

    expect(report.outcome).toBe('already-completed');
    expect(report.drain).toBeUndefined();
    expect(cluster.requests).toEqual([]);
  });

  it('counts failed heartbeats and keeps draining', async () => {
    const { action, run } = setup({ heartbeatIntervalSeconds: 1 }, undefined, 3_500);
    let calls = 0;
    const beat = action.heartbeat.bind(action);
    action.heartbeat = async () => {
      calls++;
      if (calls > 1) throw new Error('Rate exceeded');
      return beat();
    };

    const report = await run();

    expect(report.outcome).toBe('drained');
    expect(report.heartbeats.recorded).toBe(1);
    expect(report.heartbeats.failed).toBeGreaterThanOrEqual(3);
  });
});

describe('runLifecycleAction for a hand-made event', () => {
  it('refuses an instance that is not in Terminating:Wait', async () => {
    const { cluster, action, run } = setup({ handMade: true, attempt: 3 });
    action.lifecycleState = 'InService';

    const report = await run();

    expect(report).toEqual({
      outcome: 'instance-not-terminating',
      attempt: 3,
      lifecycleResult: null,
      completed: [],
      heartbeats: { recorded: 0, failed: 0 },
    });
    expect(cluster.requests).toEqual([]);
    expect(action.beats).toEqual([]);
  });

  it('drains an instance in Terminating:Wait', async () => {
    const { run } = setup({ handMade: true });

    expect((await run()).outcome).toBe('drained');
  });

  it('drains any instance with force', async () => {
    const { action, run } = setup({ handMade: true, force: true });
    action.lifecycleState = 'InService';

    expect((await run()).outcome).toBe('drained');
  });

  it('completes an action that is still active though the drain was forced', async () => {
    const { action, run } = setup({ handMade: true, force: true });

    const report = await run();

    expect(report.lifecycleResult).toBe('CONTINUE');
    expect(action.completions).toEqual(['CONTINUE']);
  });
});

describe('runLifecycleAction hand-over', () => {
  it('continues with the start, the next attempt, the claim holder and the drain memory', async () => {
    const { clock, continuations, run } = setup({ pauseAt: 0 }, undefined, 60_000);
    const start = clock.t;

    const report = await run();

    expect(report.outcome).toBe('continued-in-new-invocation');
    expect(continuations).toEqual([
      expect.objectContaining({
        startedAt: start,
        attempt: 2,
        holder: 'request-1',
        progress: report.drain?.progress,
      }),
    ]);
  });

  it('applies the deadline policy instead of continuing past the last allowed attempt', async () => {
    const { action, continuations, run } = setup(
      { pauseAt: 0, attempt: 210, onDrainTimeout: 'abandon' },
      undefined,
      60_000,
    );

    const report = await run();

    expect(report.outcome).toBe('deadline-abandoned');
    expect(continuations).toEqual([]);
    expect(action.completions).toEqual(['ABANDON']);
  });
});

describe('runLifecycleAction, a forced manual drain', () => {
  it('drains an instance with no active lifecycle action and completes nothing', async () => {
    // a timeout already passed: no action is active
    const { cluster, action, run } = setup({ handMade: true, force: true }, -1);
    action.lifecycleState = 'InService';

    const report = await run();

    expect(report.outcome).toBe('drained');
    expect(report.lifecycleResult).toBeNull();
    expect(action.completions).toEqual([]);
    expect(cluster.count('evict')).toBe(2);
  });
});

describe('runLifecycleAction, what it asks of the drain', () => {
  it('drains until the drain timeout counted from the start of the action', async () => {
    const { clock, cluster, action, run } = setup({
      drainTimeoutSeconds: 10,
      onDrainTimeout: 'continue',
      minEvictionWindowSeconds: 0,
    });
    const start = clock.t;
    cluster.evictor = () => ({ kind: 'pdb-blocked', message: 'no' });

    const report = await run();

    expect(report.outcome).toBe('deadline-continued');
    expect(clock.t - start).toBe(10_000);
    expect(action.completions).toEqual(['CONTINUE']);
  });

  it('offers every pod an eviction for the minimum window in seconds', async () => {
    const { clock, cluster, run } = setup({
      startedAt: 1_700_000_000_000 - 60_000,
      drainTimeoutSeconds: 65,
      onDrainTimeout: 'abandon',
      minEvictionWindowSeconds: 20,
    });
    cluster.evictor = () => ({ kind: 'pdb-blocked', message: 'no' });

    const report = await run();

    expect(report.outcome).toBe('deadline-abandoned');
    expect(clock.t - 1_700_000_000_000).toBeGreaterThanOrEqual(20_000);
    expect(clock.t - 1_700_000_000_000).toBeLessThan(20_500);
  });

  it('keeps at most maxConcurrentEvictions evictions in flight', async () => {
    const { clock, cluster, run } = setup({ maxConcurrentEvictions: 1 });
    let inFlight = 0;
    let peak = 0;
    cluster.evictor = async () => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await clock.sleep(100);
      inFlight--;
      return { kind: 'evicted' };
    };

    await run();

    expect(peak).toBe(1);
  });

  it('cordons without the load balancer label when told not to exclude the node', async () => {
    const { cluster, run } = setup({ excludeFromLoadBalancers: false });

    await run();

    expect(cluster.requests).toContain('cordon node-a');
  });

  it("holds the node's job as this invocation, for its chain, and removes the record when done", async () => {
    const { store, run } = setup({ invocation: 'request-9', chain: 'request-1' });

    await run();

    expect(store.writes[0]).toMatchObject({ holder: 'request-9', chain: 'request-1' });
    expect(store.writes.at(-1)).toBeNull();
    expect(store.record('node-a')).toBeUndefined();
  });

  it('resumes from the progress an earlier invocation handed over', async () => {
    const { run } = setup({
      attempt: 2,
      progress: {
        offeredAt: {},
        totals: {
          evicted: ['default/x'],
          deleted: [],
          evictionRequests: 5,
          evictionRefusals: 4,
          throttled: 0,
          errors: [],
        },
      },
    });

    const report = await run();

    expect(report.drain?.evicted).toEqual(['default/x', 'default/a', 'default/b']);
    expect(report.drain?.evictionRequests).toBe(7);
    expect(report.attempt).toBe(2);
  });

  it('finds the node by its instance when the instance lookup fails', async () => {
    const { cluster, instances, logs, run } = setup();
    instances.privateDnsName = async () => {
      throw new Error('UnauthorizedOperation');
    };

    const report = await run();

    expect(report.outcome).toBe('drained');
    expect(cluster.requests[0]).toBe('findNode ');
    expect(logs).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        message: 'instance lookup failed; finding the node by providerID',
      }),
    );
  });

  it('looks the node up by the name of its instance, and reports it', async () => {
    const { cluster, run } = setup();

    const report = await run();

    expect(cluster.requests[0]).toBe('findNode node-a');
    expect(report.node).toBe('node-a');
  });

  it('completes CONTINUE promptly and reports no node when no node matches', async () => {
    const { cluster, action, run } = setup();
    (cluster as { nodeName: string | null }).nodeName = null;

    const report = await run();

    expect(report.outcome).toBe('node-not-found');
    expect(report).not.toHaveProperty('node');
    expect(action.completions).toEqual(['CONTINUE']);
  });

  it('joins the job of another invocation draining the node, and completes nothing itself', async () => {
    const { clock, cluster, action, store, run } = setup({ invocation: 'second', chain: 'second' });
    store.put('node-a', {
      chain: 'first',
      holder: 'first',
      until: clock.t + LEASE_MS,
      before: { unschedulable: false, excludedFromLoadBalancers: false },
      requests: [],
    });
    // the holder adopts what joined at its next look
    void clock.sleep(3_000).then(() => {
      const record = store.record('node-a');
      if (record)
        store.put('node-a', { ...record, requests: record.requests.map((r) => ({ ...r, adopted: true })) });
    });

    const report = await run();

    expect(report.outcome).toBe('joined');
    expect(report.joined).toEqual({ holder: 'first', adopted: true });
    expect(report.lifecycleResult).toBeNull();
    expect(action.completions).toEqual([]);
    expect(cluster.count('cordon')).toBe(0);
    expect(store.record('node-a')?.requests.map((r) => r.id)).toEqual(['termination:token-1']);
  });
});

describe('runLifecycleAction in a dry run', () => {
  it('plans even for a hand-made event of an instance that is not terminating, and beats no heartbeat', async () => {
    const { cluster, action, run } = setup({ handMade: true, dryRun: true, heartbeatIntervalSeconds: 1 });
    action.lifecycleState = 'InService';
    // the cluster answers only after a few seconds of retries: no heartbeat meanwhile either
    cluster.failures.findNode = 5;

    const report = await run();

    expect(report.outcome).toBe('dry-run');
    expect(report.lifecycleResult).toBeNull();
    expect(action.beats).toEqual([]);
    expect(action.completions).toEqual([]);
    expect(cluster.count('evict a dry-run')).toBe(1);
  });
});

describe('runLifecycleAction, a forced manual drain without an action', () => {
  it('asks for one heartbeat only, however long the drain takes', async () => {
    const { action, run } = setup({ handMade: true, force: true, heartbeatIntervalSeconds: 30 }, -1, 200_000);
    let calls = 0;
    const beat = action.heartbeat.bind(action);
    action.heartbeat = () => {
      calls++;
      return beat();
    };

    const report = await run();

    expect(report.outcome).toBe('drained');
    expect(calls).toBe(1);
  });

  it('reports the deadline outcome of a drain that ran out of continuations, completing nothing', async () => {
    const { action, run } = setup({ handMade: true, force: true, pauseAt: 0, attempt: 210 }, -1, 60_000);

    const report = await run();

    expect(report.outcome).toBe('deadline-deleted');
    expect(report.lifecycleResult).toBeNull();
    expect(action.completions).toEqual([]);
  });
});

describe('runLifecycleAction, hand-over and the end of the action', () => {
  it('continues in a new invocation when its pause signal aborts', async () => {
    const pause = new AbortController();
    const { clock, continuations, store, run } = setup({ pauseSignal: pause.signal }, undefined, 300_000);
    const start = clock.t;
    void clock.sleep(5_000).then(() => pause.abort());

    const report = await run();

    expect(report.outcome).toBe('continued-in-new-invocation');
    expect(continuations.map((c) => c.attempt)).toEqual([2]);
    expect(clock.t - start).toBe(5_000);
    // the job's lease kept five minutes for the continuation
    expect(store.record('node-a')).toMatchObject({ handedOver: true, until: clock.t + HANDOVER_MS });
  });

  it('continues before the last allowed attempt', async () => {
    const { continuations, run } = setup({ pauseAt: 0, attempt: 209 }, undefined, 60_000);

    const report = await run();

    expect(report.outcome).toBe('continued-in-new-invocation');
    expect(continuations.map((c) => c.attempt)).toEqual([210]);
  });

  it.each([
    ['delete', 'deadline-deleted', 'CONTINUE'],
    ['continue', 'deadline-continued', 'CONTINUE'],
    ['abandon', 'deadline-abandoned', 'ABANDON'],
  ] as const)('past the last attempt, applies policy %s: %s, %s', async (policy, outcome, result) => {
    const { action, run } = setup({ pauseAt: 0, attempt: 210, onDrainTimeout: policy }, undefined, 60_000);

    const report = await run();

    expect(report.outcome).toBe(outcome);
    expect(report.lifecycleResult).toBe(result);
    expect(action.completions).toEqual([result]);
  });

  it('applies the policy to a drain stopped by its pause signal at the last allowed attempt', async () => {
    const pause = new AbortController();
    const { clock, action, continuations, run } = setup(
      { pauseSignal: pause.signal, attempt: 210, onDrainTimeout: 'abandon' },
      undefined,
      300_000,
    );
    void clock.sleep(5_000).then(() => pause.abort());

    const report = await run();

    expect(report.drain?.outcome).toBe('stopped');
    expect(report.outcome).toBe('deadline-abandoned');
    expect(action.completions).toEqual(['ABANDON']);
    expect(continuations).toEqual([]);
  });

  it('reports already-completed when the action was completed while it drained', async () => {
    const { action, run } = setup();
    action.complete = async () => 'already-completed';

    const report = await run();

    expect(report.outcome).toBe('already-completed');
    expect(report.lifecycleResult).toBe('CONTINUE');
  });

  it('retries a failing completion with growing backoff', async () => {
    const { clock, action, run } = setup();
    const at: number[] = [];
    const complete = action.complete.bind(action);
    action.complete = async (result) => {
      at.push(clock.t);
      if (at.length < 3) throw new Error('Rate exceeded');
      return complete(result);
    };

    const report = await run();

    expect(report.outcome).toBe('drained');
    expect(action.completions).toEqual(['CONTINUE']);
    expect(at.slice(1).map((t, i) => t - (at[i] ?? 0))).toEqual([375, 750]);
  });

  it('fails after the fifth failed completion, and lets the job go for the retry of its event', async () => {
    const { clock, action, store, run } = setup();
    let calls = 0;
    action.complete = async () => {
      calls++;
      throw new Error('Rate exceeded');
    };

    await expect(run()).rejects.toThrow('Rate exceeded');
    expect(calls).toBe(5);
    // the record stays with its request, its lease run out: the retry takes the job over at once
    expect(store.record('node-a')?.requests.map((r) => r.id)).toEqual(['termination:token-1']);
    expect(store.record('node-a')?.until).toBeLessThanOrEqual(clock.t);
  });
});
