import { describe, expect, it } from 'vitest';
import { DEFAULT_DRAIN_TUNING, type DrainOptions, drainNode } from '../../lambda/drain/drain.js';
import type { PdbInfo } from '../../lambda/drain/model.js';
import type { ClusterPort } from '../../lambda/drain/ports.js';
import { type LogEntry, memoryLogger } from '../../scripts/harness/memory-logger.js';
import { FakeCluster, pod, VirtualClock } from '../support/fakes.js';

const T0 = 1_700_000_000_000;

const blockingPdb: PdbInfo = {
  namespace: 'default',
  name: 'a-pdb',
  selector: { matchLabels: { app: 'a' } },
  disruptionsAllowed: 0,
  currentHealthy: 1,
  desiredHealthy: 1,
};

/**
 * A drain that reaches every call of the ClusterPort: a PDB refuses pod a until the deadline, policy
 * delete deletes it, the node ends empty.
 */
function setup(more: Partial<DrainOptions> = {}) {
  const clock = new VirtualClock(T0);
  const cluster = new FakeCluster(clock, [pod('a')]);
  cluster.pdbs = [blockingPdb];
  cluster.evictor = () => ({ kind: 'pdb-blocked', message: 'no', pdbName: 'a-pdb' });
  const controller = new AbortController();
  const logs: LogEntry[] = [];
  const options: DrainOptions = {
    ...DEFAULT_DRAIN_TUNING,
    target: { nodeName: 'node-a' },
    startedAt: T0,
    deadline: T0 + 3_000,
    minEvictionWindowMs: 1_000,
    onDeadline: 'delete',
    dryRun: false,
    signal: controller.signal,
    ...more,
  };
  const run = () => drainNode(cluster, options, { clock, log: memoryLogger(logs) });
  return { clock, cluster, controller, logs, run };
}

/** The first call of `method` aborts the drain's signal and never answers. */
function hangOnFirst(
  cluster: FakeCluster,
  method: Exclude<keyof ClusterPort, 'followNode' | 'readPdb'>,
  controller: AbortController,
): void {
  const real = (cluster[method] as (...args: unknown[]) => Promise<unknown>).bind(cluster);
  let calls = 0;
  (cluster as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
    calls++;
    if (calls > 1) return real(...args);
    cluster.requests.push(`hang ${method}`);
    controller.abort();
    return new Promise(() => {});
  };
}

describe('drainNode, stopped by its caller', () => {
  it('reaches every cluster call in the scenario these tests stop', async () => {
    const { cluster, run } = setup();

    const report = await run();

    expect(report.outcome).toBe('deadline-deleted');
    expect(cluster.events.map((e) => e.reason)).toContain('DrainStarted');
    expect(
      ['findNode', 'cordon', 'listPods', 'evict', 'listPdbs', 'delete'].map((r) => cluster.count(r) > 0),
    ).not.toContain(false);
  });

  it.each(['findNode', 'cordon', 'listPods', 'evict', 'listPdbs', 'deletePod', 'recordEvent'] as const)(
    'stops at once, with no error, when it aborts while %s hangs',
    async (method) => {
      const { cluster, controller, run } = setup();
      hangOnFirst(cluster, method, controller);

      const report = await run();

      expect(report.outcome).toBe('stopped');
      expect(report.errors).toEqual([]);
      expect(cluster.requests.at(-1)).toBe(`hang ${method}`);
    },
  );

  it('stops when its signal is already aborted, even if the cluster never answers', async () => {
    const { cluster, controller, run } = setup();
    controller.abort();
    cluster.findNode = () => new Promise(() => {});

    const report = await run();

    expect(report.outcome).toBe('stopped');
    expect(cluster.count('cordon')).toBe(0);
  });

  it('sends no request at all when its signal is already aborted, even to a cluster that answers at once', async () => {
    const { cluster, controller, run } = setup();
    controller.abort();

    const report = await run();

    expect(report.outcome).toBe('stopped');
    expect(report.node).toBeUndefined();
    expect(cluster.requests).toEqual([]);
  });

  it('sends no further request once its signal aborts while it waits', async () => {
    const { clock, cluster, controller, run } = setup();
    let sentBeforeAbort = -1;
    void clock.sleep(1_200).then(() => {
      sentBeforeAbort = cluster.requests.length;
      controller.abort();
    });

    const report = await run();

    expect(report.outcome).toBe('stopped');
    expect(cluster.requests).toHaveLength(sentBeforeAbort);
    expect(clock.t).toBe(T0 + 1_200);
  });

  it('lets an unexpected error escape instead of reporting it as stopped', async () => {
    const { cluster, run } = setup();
    cluster.evict = async () => undefined as never;

    await expect(run()).rejects.toThrow(TypeError);
  });
});
