/**
 * The watches the drain follows a node with, against the real kube-apiserver: list then watch from the
 * list's resourceVersion, a stream the server ends is reopened without listing, `410 Gone` lists
 * again, repeated failures give up, and a drain whose watch cannot be had lists instead, saying so once.
 */
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { DEFAULT_DRAIN_TUNING, drainNode } from '../../lambda/drain/drain.js';
import type { PodSnapshot } from '../../lambda/drain/model.js';
import { systemClock } from '../../lambda/drain/ports.js';
import { DEFAULT_REQUEST_TIMEOUTS } from '../../lambda/kube/bounded.js';
import { KubeCluster, toPodSnapshot } from '../../lambda/kube/cluster.js';
import { KubeHttp } from '../../lambda/kube/http.js';
import { ListWatch, type ListWatchOptions } from '../../lambda/kube/list-watch.js';
import { kubeConfigFor } from '../../scripts/harness/cluster.js';
import { FaultProxy } from '../../scripts/harness/fault-proxy.js';
import { type LogEntry, memoryLogger } from '../../scripts/harness/memory-logger.js';
import type { Workload } from '../../scripts/harness/workload.js';
import { createScenario } from './support/scenario.js';
import { fillReady } from './support/worlds.js';

let proxy: FaultProxy;
let world: Workload | undefined;
const closers: (() => void)[] = [];

beforeAll(async () => {
  proxy = await FaultProxy.start(inject('cluster'));
});
afterAll(async () => {
  await proxy.stop();
});
afterEach(async () => {
  for (const close of closers.splice(0)) close();
  proxy.clearRules();
  if (world) {
    await world.dispose();
    world = undefined;
  }
});

async function scenario(prefix: string): Promise<Workload> {
  world = await createScenario(prefix);
  return world;
}

/** A watch of the node's pods, as the drainer (RBAC-limited), optionally through the proxy. */
function podWatch(w: Workload, options: Partial<ListWatchOptions> = {}, server = w.info.server) {
  let changes = 0;
  const http = new KubeHttp(kubeConfigFor({ ...w.info, server }, 'drainer'), DEFAULT_REQUEST_TIMEOUTS);
  const watch = new ListWatch<PodSnapshot>(
    http,
    {
      path: '/api/v1/pods',
      query: { fieldSelector: `spec.nodeName=${w.node}` },
      convert: (raw) => toPodSnapshot(raw as Parameters<typeof toPodSnapshot>[0]),
    },
    { onChange: () => changes++, ...options },
  );
  closers.push(() => watch.close());
  return { watch, changes: () => changes };
}

async function until(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** The proxied requests since `mark` (proxy.requests.length before) that match. */
function requestsSince(mark: number, path: RegExp, method = 'GET') {
  return proxy.requests.slice(mark).filter((r) => r.method === method && path.test(r.path));
}
const LIST = /^(?!.*watch=)/;

const names = (pods: readonly PodSnapshot[]): string[] => pods.map((p) => p.name).sort();

describe('followNode', () => {
  it("lists the node's pods and the PDBs, then sees every change without listing again", async () => {
    const w = await scenario('w-follow');
    await w.pod('a');
    const cluster = new KubeCluster(kubeConfigFor({ ...w.info, server: proxy.url }, 'drainer'));
    let changes = 0;
    const mark = proxy.requests.length;
    const feed = await cluster.followNode(w.node, () => changes++);
    closers.push(() => feed.close());
    const lists = requestsSince(mark, LIST).length;

    expect(names(feed.pods())).toEqual(['a']);
    const before = changes;
    await w.pod('b');
    await until('pod b', () => names(feed.pods()).includes('b'));
    await w.core.deleteNamespacedPod({ name: 'a', namespace: w.namespace, gracePeriodSeconds: 0 });
    await until('pod a gone', () => !names(feed.pods()).includes('a'));
    await w.pdb('b', { app: 'b' }, { minAvailable: 0 });
    await until('the PDB', () => feed.pdbs(w.namespace).some((pdb) => pdb.name === 'b'));

    expect(changes).toBeGreaterThan(before);
    expect(feed.pdbs('elsewhere')).toEqual([]);
    expect(feed.failed()).toBe(false);
    // every change came from the two watch streams: no list after the first two
    expect(requestsSince(mark, LIST)).toHaveLength(lists);
    expect(requestsSince(mark, /watch=true/)).toHaveLength(2);
  });
});

describe('ListWatch', () => {
  it('reopens a stream the server ended (timeoutSeconds) from the last resourceVersion, without listing', async () => {
    const w = await scenario('w-reopen');
    await w.pod('a');
    const { watch } = podWatch(w, { timeoutSeconds: 1 });
    await watch.start();

    await until('two reopened streams', () => watch.stats.watches >= 3);
    await w.pod('b');
    await until('pod b', () => names(watch.values()).includes('b'));

    expect(watch.stats.lists).toBe(1);
    expect(watch.stats.relists).toBe(0);
    expect(watch.failed).toBe(false);
  });

  it('lists again when the server answers 410 Gone to a reopened stream (a compacted resourceVersion)', async () => {
    const w = await scenario('w-gone');
    await w.pod('a');
    const { watch } = podWatch(w, { timeoutSeconds: 1 }, proxy.url);
    await watch.start();
    // what the API server answers a watch from a revision etcd compacted away
    proxy.addRule({
      method: 'GET',
      path: /watch=true/,
      action: {
        kind: 'status',
        status: 410,
        reason: 'Expired',
        message: 'too old resource version: 5 (180)',
      },
      times: 1,
    });

    await until('the list after 410', () => watch.stats.lists === 2, 10_000);
    await w.pod('b');
    await until('pod b', () => names(watch.values()).includes('b'));

    expect(watch.stats.relists).toBe(1);
    expect(names(watch.values())).toEqual(['a', 'b']);
    expect(watch.failed).toBe(false);
  });

  it('gives up after the allowed consecutive failed reconnects, and says so once', async () => {
    const w = await scenario('w-give-up');
    let failedWith: unknown;
    let failures = 0;
    const { watch } = podWatch(
      w,
      {
        timeoutSeconds: 1,
        maxFailures: 2,
        reconnectDelayMs: () => 10,
        onFailed: (error) => {
          failures++;
          failedWith = error;
        },
      },
      proxy.url,
    );
    await watch.start();
    const mark = proxy.requests.length;
    proxy.addRule({
      method: 'GET',
      path: /watch=true/,
      action: { kind: 'status', status: 503, message: 'apiserver overloaded' },
    });

    await until('the watch to give up', () => watch.failed, 10_000);

    expect(failures).toBe(1);
    expect(String(failedWith)).toMatch(/503/);
    // maxFailures + 1 refused reopenings, then no more
    expect(requestsSince(mark, /watch=true/)).toHaveLength(3);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(requestsSince(mark, /watch=true/)).toHaveLength(3);
  });
});

/** The real engine through the proxy, as the RBAC-limited drainer, on the real clock. */
function drainThroughProxy(w: Workload, logs: LogEntry[] = []) {
  const cluster = new KubeCluster(kubeConfigFor({ ...w.info, server: proxy.url }, 'drainer'));
  const now = Date.now();
  return drainNode(
    cluster,
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
}

describe('a drain without watches', () => {
  it('lists the node instead when no watch can be established, logged once, and drains', async () => {
    const w = await fillReady(await scenario('w-fallback'));
    proxy.addRule({
      method: 'GET',
      path: /watch=true/,
      action: { kind: 'status', status: 403, message: 'watch is forbidden' },
    });
    const logs: LogEntry[] = [];
    const mark = proxy.requests.length;

    const report = await drainThroughProxy(w, logs);

    expect(report.outcome).toBe('drained');
    expect(await w.podsOn()).toEqual([]);
    expect(logs.filter((l) => l.message === 'watch unavailable: listing the node instead')).toHaveLength(1);
    // it polled the node's pods (from the watch cache, each list at least as new as the one before) instead
    expect(requestsSince(mark, /^\/api\/v1\/pods\?.*resourceVersion=\d+/).length).toBeGreaterThan(2);
  });

  it('follows the node with watches when it can: one pod list for the whole drain', async () => {
    const w = await fillReady(await scenario('w-watched'));
    const mark = proxy.requests.length;

    const report = await drainThroughProxy(w);

    expect(report.outcome).toBe('drained');
    expect(requestsSince(mark, /^\/api\/v1\/pods\?(?!.*watch=)/)).toHaveLength(1);
    expect(requestsSince(mark, /\/poddisruptionbudgets\?(?!.*watch=)/)).toHaveLength(1);
    expect(requestsSince(mark, /\/poddisruptionbudgets\?.*watch=true/).length).toBeGreaterThan(0);
  });
});
