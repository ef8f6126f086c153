/**
 * "Gone" must mean gone: a read of the node's pods that is older than one the drain has already seen
 * (a lagging API server instance, a cache, a proxy replaying an earlier answer) must never make a pod
 * that still runs count as gone. Through the real handler, the local AWS endpoint and the real
 * kube-apiserver, with the fault proxy answering the drainer's pod lists with the server's own answer
 * from before the pod existed: an empty node, at an older resourceVersion. Both ways the drain reads
 * the node: by listing it (no watch), and by watching it (a relist after `410 Gone`).
 */
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { FaultProxy } from '../../scripts/harness/fault-proxy.js';
import type { Workload } from '../../scripts/harness/workload.js';
import {
  captureLogs,
  context,
  lifecycleAction,
  lifecycleEvent,
  loadHandler,
  localAws,
  registerCluster,
} from './support/lambda.js';
import { createScenario } from './support/scenario.js';
import { fillStuck } from './support/worlds.js';

const aws = localAws();
let proxy: FaultProxy;
let world: Workload | undefined;

beforeAll(async () => {
  proxy = await FaultProxy.start(inject('cluster'));
});
afterAll(async () => {
  await proxy?.stop();
});
afterEach(async () => {
  proxy.clearRules();
  if (world) {
    expect(world.sim.failures).toEqual([]);
    await world.dispose();
    world = undefined;
  }
});

const EVICTION = /\/pods\/[^/]+\/eviction/;
const STALE_WARNING = 'pod list older than a read already seen: not trusted';

/**
 * A node that holds one pod no PDB lets go, and what the server answered for the node's pods just
 * before that pod existed: an empty list at an older resourceVersion.
 */
async function nodeWithAnOlderAnswer(prefix: string): Promise<{ w: Workload; older: unknown; pods: string }> {
  world = await createScenario(prefix);
  const w = world;
  const before = await w.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${w.node}` });
  expect(before.items).toEqual([]);
  const older = {
    kind: 'PodList',
    apiVersion: 'v1',
    metadata: { resourceVersion: before.metadata?.resourceVersion },
    items: [],
  };
  await fillStuck(w);
  registerCluster(aws, proxy.url);
  return { w, older, pods: `^/api/v1/pods\\?.*fieldSelector=spec.nodeName%3D${w.node}` };
}

/** The handler's stale-read counts: the report's, and the metric line's. */
function staleReadsOf(
  result: { report?: { invocation: { staleReads: number } } },
  lines: Record<string, unknown>[],
) {
  const metrics = lines.find((l) => '_aws' in l);
  return { report: result.report?.invocation.staleReads ?? 0, metric: (metrics?.StaleReads as number) ?? 0 };
}

describe('a stale list of the node’s pods', () => {
  it('listing: an older list is not trusted; the drain ends only once the pod is really gone', async () => {
    const { w, older, pods } = await nodeWithAnOlderAnswer('stale-listing');
    // no watch: the drain lists the node on every pass
    proxy.addRule({
      method: 'GET',
      path: /watch=true/,
      action: { kind: 'status', status: 403, message: 'watch is forbidden' },
    });
    const handler = await loadHandler(aws, { LOG_LEVEL: 'info' });
    const action = lifecycleAction(aws, w);

    const run = captureLogs(() => handler(lifecycleEvent(action), context()));
    // the drain has listed the real node: the pod seen, its eviction refused by its PDB
    await w.waitUntil('a refused eviction', async () => proxy.count('POST', EVICTION) > 0, 20_000);
    const replay = proxy.addRule({
      method: 'GET',
      path: new RegExp(`${pods}(?!.*watch=)`),
      action: { kind: 'respond', status: 200, body: older },
    });
    await w.waitUntil(
      'three lists answered with the older, empty node (or the action completed: the bug)',
      async () =>
        proxy.requests.filter((r) => r.fault === 'respond').length >= 3 || action.result !== undefined,
      20_000,
    );
    // the pod still runs: nothing completed the action
    expect(action.result).toBeUndefined();
    expect(await w.podsOn()).toHaveLength(1);
    replay();
    await w.deletePdb('db');
    const { result, lines } = await run;

    expect(result.outcome).toBe('drained');
    expect(action.result).toBe('CONTINUE');
    expect(await w.podsOn()).toEqual([]);
    const finished = [...w.sim.terminations.values()].map((t) => t.finishedAt ?? Number.POSITIVE_INFINITY);
    const completion = aws
      .callsOf('autoscaling', 'CompleteLifecycleAction')
      .find((c) => c.params.LifecycleActionToken === action.token);
    expect(completion?.at).toBeGreaterThanOrEqual(Math.max(...finished));
    // every replayed list refused, counted and warned once (one older state, however often it came)
    expect(lines.filter((l) => l.message === STALE_WARNING)).toHaveLength(1);
    expect(staleReadsOf(result, lines)).toEqual({ report: 1, metric: 1 });
  });

  it('watching: a relist after 410 Gone answered with an older state is not trusted', async () => {
    const { w, older, pods } = await nodeWithAnOlderAnswer('stale-relist');
    // the first pod watch is told its resourceVersion is too old, and the consistent relist that
    // follows is answered with the older, empty node; after that the server answers itself
    proxy.addRule({
      method: 'GET',
      path: new RegExp(`${pods}.*watch=true`),
      action: { kind: 'end-watch', error: { status: 410, message: 'too old resource version' } },
      times: 1,
    });
    proxy.addRule({
      method: 'GET',
      path: new RegExp(`${pods}(?!.*resourceVersion=)(?!.*watch=)`),
      action: { kind: 'respond', status: 200, body: older },
      times: 1,
    });
    const handler = await loadHandler(aws, { LOG_LEVEL: 'info' });
    const action = lifecycleAction(aws, w);

    const run = captureLogs(() => handler(lifecycleEvent(action), context()));
    await w.waitUntil(
      'the relist answered with the older node',
      async () => proxy.requests.some((r) => r.fault === 'respond'),
      20_000,
    );
    // an empty node trusted would end the drain within milliseconds; give it ample time to
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(action.result).toBeUndefined();
    expect(await w.podsOn()).toHaveLength(1);
    await w.deletePdb('db');
    const { result, lines } = await run;

    expect(result.outcome).toBe('drained');
    expect(action.result).toBe('CONTINUE');
    expect(await w.podsOn()).toEqual([]);
    expect(
      lines.filter((l) => l.message === 'watched pods older than a read already seen: not trusted'),
    ).toHaveLength(1);
    expect(staleReadsOf(result, lines)).toEqual({ report: 1, metric: 1 });
  });
});
