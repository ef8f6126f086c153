import { describe, expect, it } from 'vitest';
import type { WarmPoolLaunch } from '../../lambda/ec2-event.js';
import type { LifecyclePort, LifecycleResult } from '../../lambda/job/ports.js';
import {
  type MarkedNode,
  type MarksPort,
  readyAgain,
  restoreFromWarmPool,
  restoreReturnedNodes,
  type Undo,
  undoOf,
  type WarmPoolMark,
} from '../../lambda/job/warm-pool.js';
import { type LogEntry, memoryLogger } from '../../scripts/harness/memory-logger.js';
import { FakeCluster, VirtualClock } from '../support/fakes.js';

const INSTANCE = 'i-0123456789abcdef0';
const MARK: WarmPoolMark = {
  instanceId: INSTANCE,
  at: 1_000,
  wasUnschedulable: false,
  hadExcludeLabel: false,
};

class FakeMarks implements MarksPort {
  readonly calls: string[] = [];
  readonly marks = new Map<string, WarmPoolMark>();
  readySince = new Map<string, number>();
  failRead = false;
  /** Nodes a job is draining: their marks are not undone. */
  readonly draining = new Set<string>();
  async read(node: string): Promise<WarmPoolMark | undefined> {
    if (this.failRead) throw new Error('HTTP 503');
    return this.marks.get(node);
  }
  async markedNodes(): Promise<MarkedNode[]> {
    return [...this.marks].map(([node, mark]) => ({
      node,
      mark,
      ...(this.readySince.has(node) ? { readySince: this.readySince.get(node) } : {}),
    }));
  }
  async restore(
    node: string,
    _mark: WarmPoolMark,
    undo: Undo,
    now: number,
  ): Promise<'restored' | 'changed' | 'draining'> {
    this.calls.push(`restore ${node} ${JSON.stringify(undo)} at ${now}`);
    if (this.draining.has(node)) return 'draining';
    this.marks.delete(node);
    return 'restored';
  }
}

class LaunchAction implements LifecyclePort {
  completed: LifecycleResult[] = [];
  async heartbeat(): Promise<'recorded'> {
    return 'recorded';
  }
  async state(): Promise<string> {
    return 'Pending:Wait';
  }
  async complete(result: LifecycleResult): Promise<'completed'> {
    this.completed.push(result);
    return 'completed';
  }
}

const launch = (fromWarmPool = true): WarmPoolLaunch => ({
  fromWarmPool,
  instanceId: INSTANCE,
  autoScalingGroupName: 'web-asg',
  action: { hookName: 'eks-node-drainer-launch' },
});

function setup() {
  const clock = new VirtualClock();
  const cluster = new FakeCluster(clock, []);
  const marks = new FakeMarks();
  const action = new LaunchAction();
  const logs: LogEntry[] = [];
  const ports = { cluster, marks, instances: { privateDnsName: async () => 'node-a' }, launchAction: action };
  return { clock, cluster, marks, action, logs, ports, log: memoryLogger(logs) };
}

describe('undoOf', () => {
  it('undoes only what the drainer did', () => {
    expect(undoOf(MARK)).toEqual({ uncordon: true, removeExcludeLabel: true });
    expect(undoOf({ ...MARK, wasUnschedulable: true, hadExcludeLabel: true })).toEqual({
      uncordon: false,
      removeExcludeLabel: false,
    });
  });
});

describe('readyAgain', () => {
  it('is true only for a node Ready since after its mark', () => {
    expect(readyAgain({ node: 'n', mark: MARK, readySince: 1_001 })).toBe(true);
    expect(readyAgain({ node: 'n', mark: MARK, readySince: 1_000 })).toBe(false);
    expect(readyAgain({ node: 'n', mark: MARK })).toBe(false);
  });
});

describe('restoreReturnedNodes', () => {
  it('restores the marked nodes Ready again since their mark, and keeps the others', async () => {
    const { marks, log, clock } = setup();
    marks.marks.set('back', MARK);
    marks.marks.set('away', MARK);
    marks.readySince.set('back', 5_000);
    marks.readySince.set('away', 500);

    expect(await restoreReturnedNodes(marks, log, clock)).toEqual(['back']);
    expect([...marks.marks.keys()]).toEqual(['away']);
    expect(marks.calls).toEqual([`restore back ${JSON.stringify(undoOf(MARK))} at ${clock.t}`]);
  });

  it('leaves a node a job is draining as it is, mark and all', async () => {
    const { marks, log, clock } = setup();
    marks.marks.set('flapping', MARK);
    marks.readySince.set('flapping', 5_000);
    marks.draining.add('flapping');

    expect(await restoreReturnedNodes(marks, log, clock)).toEqual([]);
    expect([...marks.marks.keys()]).toEqual(['flapping']);
  });
});

describe('restoreFromWarmPool', () => {
  it('undoes the mark of this instance and completes the launch action with CONTINUE', async () => {
    const { ports, marks, action, log, clock } = setup();
    marks.marks.set('node-a', MARK);

    const report = await restoreFromWarmPool(launch(), ports, { log, clock });

    expect(report).toEqual({
      outcome: 'warm-pool-restored',
      node: 'node-a',
      undo: { uncordon: true, removeExcludeLabel: true },
      lifecycleResult: 'CONTINUE',
    });
    expect(action.completed).toEqual(['CONTINUE']);
  });

  it("leaves another instance's mark alone", async () => {
    const { ports, marks, log, clock } = setup();
    marks.marks.set('node-a', { ...MARK, instanceId: 'i-0aaaaaaaaaaaaaaaa' });

    expect((await restoreFromWarmPool(launch(), ports, { log, clock })).outcome).toBe('ignored');
    expect(marks.marks.size).toBe(1);
  });

  it('continues a launch that is not from the warm pool without touching the node', async () => {
    const { ports, marks, action, cluster, log, clock } = setup();
    marks.marks.set('node-a', MARK);

    expect(await restoreFromWarmPool(launch(false), ports, { log, clock })).toEqual({
      outcome: 'ignored',
      lifecycleResult: 'CONTINUE',
    });
    expect(action.completed).toEqual(['CONTINUE']);
    expect(cluster.requests).toEqual([]);
  });

  it('still completes the launch action when the undo fails (the next drain retries the undo)', async () => {
    const { ports, marks, action, logs, log, clock } = setup();
    marks.failRead = true;

    expect((await restoreFromWarmPool(launch(), ports, { log, clock })).lifecycleResult).toBe('CONTINUE');
    expect(action.completed).toEqual(['CONTINUE']);
    expect(logs.map((l) => l.message)).toContain(
      'could not restore the node back from the warm pool; the next drain retries',
    );
  });

  it('with DRY_RUN: touches nothing and completes nothing', async () => {
    const { ports, marks, action, cluster, log, clock } = setup();
    marks.marks.set('node-a', MARK);

    expect(await restoreFromWarmPool(launch(), ports, { log, clock, dryRun: true })).toEqual({
      outcome: 'dry-run',
      lifecycleResult: null,
    });
    expect(action.completed).toEqual([]);
    expect(marks.calls).toEqual([]);
    expect(cluster.requests).toEqual([]);
  });

  it('node-not-found when no node has the instance', async () => {
    const { ports, cluster, log, clock } = setup();
    const missing = new FakeCluster(new VirtualClock(), [], 1_000, null);
    expect(
      (await restoreFromWarmPool(launch(), { ...ports, cluster: missing }, { log, clock })).outcome,
    ).toBe('node-not-found');
    expect(cluster.requests).toEqual([]);
  });
});
