/**
 * A drain whose pod watch opens and then ends at once, again and again (the fault proxy answers 200
 * and closes the stream): the watch gives up after its failures (lambda/kube/list-watch.ts, tested
 * alone in test/e2e/adapters/list-watch.test.ts), and the drain lists the node instead of reading a
 * frozen view, and drains it. Before, such a watch reconnected forever at 0–100 ms and the drain
 * never listed.
 */
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { DEFAULT_DRAIN_TUNING, drainNode } from '../../lambda/drain/drain.js';
import { systemClock } from '../../lambda/drain/ports.js';
import { KubeCluster } from '../../lambda/kube/cluster.js';
import { kubeConfigFor } from '../../scripts/harness/cluster.js';
import { FaultProxy } from '../../scripts/harness/fault-proxy.js';
import { type LogEntry, memoryLogger } from '../../scripts/harness/memory-logger.js';
import type { Workload } from '../../scripts/harness/workload.js';
import { createScenario } from './support/scenario.js';

const info = inject('cluster');
let proxy: FaultProxy;
let world: Workload | undefined;

beforeAll(async () => {
  proxy = await FaultProxy.start(info);
});
afterAll(async () => {
  await proxy?.stop();
});
afterEach(async () => {
  proxy.clearRules();
  await world?.dispose();
  world = undefined;
});

describe('a drain whose pod watch keeps ending at once', () => {
  it('lists the node once the watch gave up, and drains it', async () => {
    world = await createScenario('watch-gives-up');
    const w = world;
    // terminates for 6 s: the drain waits past the watch's give-up (about 3 s of pauses)
    await w.pod('slow', { preStopSeconds: 6 });
    await w.waitRunning(1);
    const pods = new RegExp(`^/api/v1/pods\\?.*fieldSelector=spec.nodeName%3D${w.node}`);
    proxy.addRule({
      method: 'GET',
      path: new RegExp(`${pods.source}.*watch=true`),
      action: { kind: 'end-watch' },
    });
    const logs: LogEntry[] = [];
    const now = Date.now();

    const report = await drainNode(
      new KubeCluster(kubeConfigFor({ ...info, server: proxy.url }, 'drainer')),
      {
        ...DEFAULT_DRAIN_TUNING,
        target: { nodeName: w.node },
        startedAt: now,
        deadline: now + 60_000,
        onDeadline: 'delete',
        dryRun: false,
      },
      { clock: systemClock, log: memoryLogger(logs) },
    );

    expect(report.outcome).toBe('drained');
    expect(await w.podsOn()).toEqual([]);
    expect(logs.filter((l) => l.message === 'watch gave up: listing the node instead')).toHaveLength(1);
    const gaveUpAt =
      proxy.requests.filter((r) => pods.test(r.path) && /watch=true/.test(r.path)).at(-1)?.at ?? 0;
    // it listed the node's pods after the watch gave up: a pod list per pass, until the pod was gone
    const listsAfter = proxy.requests.filter(
      (r) => pods.test(r.path) && !/watch=true/.test(r.path) && r.at > gaveUpAt,
    );
    expect(listsAfter.length).toBeGreaterThan(0);
  });
});
