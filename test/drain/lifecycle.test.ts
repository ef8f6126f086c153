import { describe, expect, it } from 'vitest';
import type { Continuation } from '../../lambda/drain/continuation.js';
import { type LifecycleRunSettings, runLifecycleAction } from '../../lambda/drain/lifecycle.js';
import type { LifecyclePort, LifecycleResult } from '../../lambda/drain/ports.js';
import { type LogEntry, memoryLogger } from '../../scripts/harness/memory-logger.js';
import { FakeCluster, lifecycleSettings, pod, VirtualClock } from '../support/fakes.js';

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
  const run = () =>
    runLifecycleAction(
      lifecycleSettings(clock, overrides),
      {
        cluster,
        lifecycle: action,
        instances: { privateDnsName: async () => 'node-a' },
        continuation: { continueLater: async (c) => void continuations.push(c) },
      },
      { clock, log: memoryLogger(logs) },
    );
  return { clock, cluster, action, continuations, logs, run };
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
    const { cluster, action, run } = setup({ handMade: true });
    action.lifecycleState = 'InService';

    const report = await run();

    expect(report.outcome).toBe('instance-not-terminating');
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
