/**
 * ListWatch (lambda/kube/list-watch.ts) against the real kube-apiserver through the fault proxy, as
 * the drainer: one list from the watch cache, then a watch from its resourceVersion; `410 Gone`
 * relists with a consistent read; and a watch that opens and then ends at once — cleanly, or after
 * one ERROR event — counts as a failure each time, pauses longer each time, and gives up after
 * maxFailures, so that KubeCluster.followNode's feed says `failed` and the drain lists the node
 * instead of reading a frozen view (a busy reconnect loop before; the drain itself:
 * test/e2e/watch-gives-up.test.ts, kept out of the mutation run's adapter tests because it covers the
 * whole engine).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import type { PodSnapshot } from '../../../lambda/drain/model.js';
import { type Clock, systemClock } from '../../../lambda/drain/ports.js';
import { DEFAULT_REQUEST_TIMEOUTS } from '../../../lambda/kube/bounded.js';
import { KubeCluster, toPodSnapshot } from '../../../lambda/kube/cluster.js';
import { KubeHttp } from '../../../lambda/kube/http.js';
import { ListWatch, type ListWatchOptions } from '../../../lambda/kube/list-watch.js';
import { kubeConfigFor } from '../../../scripts/harness/cluster.js';
import { type FaultAction, FaultProxy } from '../../../scripts/harness/fault-proxy.js';
import type { Workload } from '../../../scripts/harness/workload.js';
import { createScenario } from '../support/scenario.js';

const info = inject('cluster');
let proxy: FaultProxy;
const closers: (() => void)[] = [];
let world: Workload | undefined;

beforeAll(async () => {
  proxy = await FaultProxy.start(info);
});
afterAll(async () => {
  await proxy?.stop();
});
afterEach(async () => {
  for (const close of closers.splice(0)) close();
  proxy.clearRules();
  await world?.dispose();
  world = undefined;
});

/** The pauses ListWatch asked for, on the real clock. */
function recordingClock(): { readonly clock: Clock; readonly sleeps: number[] } {
  const sleeps: number[] = [];
  return {
    sleeps,
    clock: {
      ...systemClock,
      sleep: (ms, signal) => {
        sleeps.push(ms);
        return systemClock.sleep(ms, signal);
      },
    },
  };
}

/** A watch of one node's pods as the drainer, through the proxy. */
function podWatch(node: string, options: Partial<ListWatchOptions> = {}) {
  const failures: unknown[] = [];
  let changes = 0;
  const http = new KubeHttp(
    kubeConfigFor({ ...info, server: proxy.url }, 'drainer'),
    DEFAULT_REQUEST_TIMEOUTS,
  );
  const watch = new ListWatch<PodSnapshot>(
    http,
    {
      path: '/api/v1/pods',
      query: { fieldSelector: `spec.nodeName=${node}` },
      convert: (raw) => toPodSnapshot(raw as Parameters<typeof toPodSnapshot>[0]),
    },
    { onChange: () => changes++, onFailed: (error) => failures.push(error), ...options },
  );
  closers.push(() => watch.close());
  return { watch, failures, changes: () => changes };
}

const nodeName = (): string => `list-watch-${randomBytes(4).toString('hex')}`;
const podsOf = (node: string) => new RegExp(`^/api/v1/pods\\?.*fieldSelector=spec.nodeName%3D${node}`);
const WATCH = /[?&]watch=true/;

/** The proxied requests for `node`'s pods since `mark` (proxy.requests.length before): lists and watches. */
function requests(node: string, mark = 0) {
  const all = proxy.requests.slice(mark).filter((r) => podsOf(node).test(r.path));
  return { lists: all.filter((r) => !WATCH.test(r.path)), watches: all.filter((r) => WATCH.test(r.path)) };
}

function flap(node: string, action: FaultAction, times?: number): void {
  proxy.addRule({
    method: 'GET',
    path: new RegExp(`${podsOf(node).source}.*watch=true`),
    action,
    ...(times === undefined ? {} : { times }),
  });
}

async function until(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const names = (pods: readonly PodSnapshot[]): string[] => pods.map((p) => p.name).sort();

describe('ListWatch on the real apiserver', () => {
  it("lists from the watch cache (resourceVersion=0), then watches from the list's resourceVersion with bookmarks", async () => {
    world = await createScenario('lw-start');
    const created = await world.pod('a');
    const { watch } = podWatch(world.node);

    await watch.start();

    const { lists, watches } = requests(world.node);
    expect(lists.map((r) => new URL(r.path, 'https://x').searchParams.get('resourceVersion'))).toEqual(['0']);
    expect(watches).toHaveLength(1);
    const query = new URL(watches[0]?.path ?? '', 'https://x').searchParams;
    expect(query.get('allowWatchBookmarks')).toBe('true');
    expect(query.get('timeoutSeconds')).toBe('60');
    expect(BigInt(query.get('resourceVersion') ?? '0')).toBeGreaterThanOrEqual(
      BigInt(created.metadata?.resourceVersion ?? '1'),
    );
    expect(names(watch.values())).toEqual(['a']);
  });

  it('sees pods added, changed and removed through the watch, without listing again', async () => {
    world = await createScenario('lw-changes');
    const { watch, changes } = podWatch(world.node);
    await watch.start();
    const before = changes();

    await world.pod('b');
    await until('b running', () => watch.values().some((p) => p.name === 'b' && p.phase === 'Running'));
    await world.core.deleteNamespacedPod({ name: 'b', namespace: world.namespace, gracePeriodSeconds: 0 });
    await until('b gone', () => watch.values().length === 0);

    expect(changes() - before).toBeGreaterThanOrEqual(3);
    expect(requests(world.node).lists).toHaveLength(1);
    expect(watch.failed).toBe(false);
  });

  it.each([
    ['cleanly', { kind: 'end-watch' } as FaultAction, /^Error: watch stream ended after \d+ ms$/],
    [
      'after one ERROR event',
      { kind: 'end-watch', error: { status: 500, message: 'etcd cluster is unavailable' } } as FaultAction,
      /^Error: watch error 500: etcd cluster is unavailable$/,
    ],
  ])(
    'backs off from a watch that opens and ends at once %s, and gives up after maxFailures, once',
    async (_, action, said) => {
      const node = nodeName();
      flap(node, action);
      const { clock, sleeps } = recordingClock();
      // pauses doubling from 50 ms (the default 100 ms doubling is on the virtual clock in test/kube)
      const { watch, failures } = podWatch(node, { clock, reconnectDelayMs: (n) => 50 * 2 ** (n - 1) });

      await watch.start();
      await until('the watch to give up', () => watch.failed, 5_000);
      const { watches, lists } = requests(node);
      await sleep(500);

      // a failure each time though every stream opened with 200: the pause grows each time
      expect(sleeps).toEqual([50, 100, 200, 400, 800]);
      expect(watches).toHaveLength(6);
      const gaps = watches.slice(1).map((r, i) => r.at - (watches[i]?.at ?? 0));
      for (const [i, gap] of gaps.entries()) expect(gap).toBeGreaterThanOrEqual((sleeps[i] ?? 0) - 5);
      // each gap longer than the one before (from the second on: the first two pauses differ by only 50 ms,
      // less than a request's time may vary on a busy machine)
      for (let i = 2; i < gaps.length; i++) expect(gaps[i]).toBeGreaterThan(gaps[i - 1] ?? 0);
      expect(failures.map(String)).toEqual([expect.stringMatching(said)]);
      // it never listed again by itself, and after giving up it stays quiet
      expect(lists).toHaveLength(1);
      expect(requests(node).watches).toHaveLength(6);
    },
  );

  it('starts the count again after a stream that lived: the server ending each stream is no failure', async () => {
    const node = nodeName();
    // the server ends every stream after 1 s, which counts as healthy (half the timeout)
    const { watch } = podWatch(node, { timeoutSeconds: 1, maxFailures: 1 });

    await watch.start();
    await until('three streams', () => requests(node).watches.length >= 3 || watch.failed, 10_000);

    expect(watch.failed).toBe(false);
    expect(requests(node).lists).toHaveLength(1);
  });

  it('relists with a consistent read (no resourceVersion) after an ERROR 410 inside the stream', async () => {
    world = await createScenario('lw-410-event');
    const w = world;
    await w.pod('a');
    // the server ends each stream after 1 s; the next one meets what the watch cache sends when the
    // version fell out of its window: 200, then an ERROR event with code 410
    const { watch } = podWatch(w.node, { timeoutSeconds: 1 });
    await watch.start();
    flap(
      w.node,
      { kind: 'end-watch', error: { status: 410, message: 'too old resource version: 5 (180)' } },
      1,
    );
    await w.pod('b');

    await until('the relist', () => requests(w.node).lists.length === 2, 10_000);

    const relist = new URL(requests(w.node).lists[1]?.path ?? '', 'https://x').searchParams;
    expect(relist.has('resourceVersion')).toBe(false);
    await w.pod('c');
    await until('c', () => names(watch.values()).includes('c'));
    expect(names(watch.values())).toEqual(['a', 'b', 'c']);
    expect(watch.stats.relists).toBe(1);
    expect(watch.failed).toBe(false);
  });

  it('relists with a consistent read when the reopened watch is answered 410 Gone', async () => {
    const node = nodeName();
    const { watch } = podWatch(node, { timeoutSeconds: 1 });
    await watch.start();
    flap(node, { kind: 'status', status: 410, message: 'too old resource version: 5 (180)' }, 1);

    await until('the relist', () => requests(node).lists.length === 2, 10_000);

    const [first, second] = requests(node).lists.map((r) => new URL(r.path, 'https://x').searchParams);
    expect(first?.get('resourceVersion')).toBe('0');
    expect(second?.has('resourceVersion')).toBe(false);
    await until('the watch after the relist', () => watch.stats.watches >= 2);
    expect(watch.stats.relists).toBe(1);
  });

  it('relists with a consistent read when the first watch after the list is answered 410 Gone, and starts', async () => {
    const node = nodeName();
    flap(node, { kind: 'status', status: 410, message: 'too old resource version: 5 (180)' }, 1);
    const { watch } = podWatch(node);

    await watch.start();

    expect(
      requests(node).lists.map((r) => new URL(r.path, 'https://x').searchParams.get('resourceVersion')),
    ).toEqual(['0', null]);
    expect(watch.stats).toMatchObject({ lists: 2, relists: 1, watches: 1 });
  });

  it('opens nothing more once closed during a pause', async () => {
    const node = nodeName();
    flap(node, { kind: 'end-watch' });
    const { watch } = podWatch(node, { reconnectDelayMs: () => 300 });
    await watch.start();
    await sleep(100);

    watch.close();
    await sleep(600);

    expect(requests(node).watches).toHaveLength(1);
    expect(watch.failed).toBe(false);
  });
});

describe('KubeCluster.followNode when a watch keeps ending at once', () => {
  it('reports the feed failed once the watch gave up', async () => {
    const node = nodeName();
    flap(node, { kind: 'end-watch' });
    const cluster = new KubeCluster(kubeConfigFor({ ...info, server: proxy.url }, 'drainer'));
    cluster.watchOptions = { reconnectDelayMs: () => 20 };

    const feed = await cluster.followNode(node, () => {});
    closers.push(() => feed.close());

    expect(feed.failed()).toBe(false);
    await until('the feed to fail', () => feed.failed(), 5_000);
    expect(requests(node).watches).toHaveLength(6);
  });
});
