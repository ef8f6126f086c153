/**
 * The warm-pool marks (lambda/kube/marks.ts) against the real kube-apiserver, as the drainer: the mark
 * the job store writes is found by one label-selected LIST and read back; restoring undoes exactly
 * what the undo says (uncordon, the load balancer label) and removes the mark, never while a job with
 * a live lease drains the node, never over another mark, and a node that changed between the read and
 * the write is read again (the server refuses the stale write).
 */
import { randomBytes } from 'node:crypto';
import { CoreV1Api, PatchStrategy, setHeaderOptions, type V1Node } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { ClusterAccessError } from '../../../lambda/errors.js';
import { openJob } from '../../../lambda/job/lease.js';
import { LEASE_MS } from '../../../lambda/job/record.js';
import type { Undo, WarmPoolMark } from '../../../lambda/job/warm-pool.js';
import { EXCLUDE_FROM_LOAD_BALANCERS_LABEL } from '../../../lambda/kube/cluster.js';
import { JOB_ANNOTATION } from '../../../lambda/kube/job-format.js';
import { KubeJobStore } from '../../../lambda/kube/job-store.js';
import { KubeMarks, WARM_POOL_MARK } from '../../../lambda/kube/marks.js';
import { kubeConfigFor } from '../../../scripts/harness/cluster.js';
import { FaultProxy } from '../../../scripts/harness/fault-proxy.js';

const info = inject('cluster');
const admin = kubeConfigFor(info, 'admin').makeApiClient(CoreV1Api);
const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const drainer = kubeConfigFor(info, 'drainer');
const marks = new KubeMarks(drainer);
const store = new KubeJobStore(drainer);
const nodes: string[] = [];
let proxy: FaultProxy;

beforeAll(async () => {
  proxy = await FaultProxy.start(info);
});
afterAll(async () => {
  await proxy?.stop();
});
afterEach(async () => {
  proxy.clearRules();
  for (const name of nodes.splice(0)) await admin.deleteNode({ name }).catch(() => undefined);
});

const NOW = Date.now();
/** The marks adapter as the drainer, through the fault proxy. */
const marksViaProxy = () => new KubeMarks(kubeConfigFor({ ...info, server: proxy.url }, 'drainer'));
/** A Spot job's request, as a notice would record it on the node. */
const SPOT_REQUEST = {
  id: 'spot-1',
  kind: 'spot' as const,
  instanceId: 'i-1',
  startedAt: NOW,
  deadline: NOW + 60_000,
  policy: 'continue' as const,
};
const BOTH: Undo = { uncordon: true, removeExcludeLabel: true };
const NOTHING: Undo = { uncordon: false, removeExcludeLabel: false };

function markOf(extra: Partial<WarmPoolMark> = {}): WarmPoolMark {
  return {
    instanceId: 'i-0123456789abcdef0',
    at: NOW - 60_000,
    wasUnschedulable: false,
    hadExcludeLabel: false,
    ...extra,
  };
}

/**
 * A node as the drainer leaves one that went to the warm pool: cordoned, excluded from load
 * balancers, and marked by the job's end (the store's write), plus a label and an annotation of
 * someone else's; `null`: not marked.
 */
async function markedNode(mark: WarmPoolMark | null = markOf()): Promise<string> {
  const name = `marks-${randomBytes(4).toString('hex')}`;
  nodes.push(name);
  await admin.createNode({
    body: {
      metadata: {
        name,
        labels: { [EXCLUDE_FROM_LOAD_BALANCERS_LABEL]: 'true', team: 'shop' },
        annotations: { 'example.com/keep': 'yes' },
      },
      spec: { unschedulable: true },
    },
  });
  if (mark) expect(await store.write(name, (await store.read(name)).version, null, mark)).toBe('written');
  return name;
}

const readNode = (name: string): Promise<V1Node> => admin.readNode({ name });

/** The node's kubelet reports it Ready since `since`, after another condition that is True. */
async function ready(name: string, since: Date): Promise<void> {
  const earlier = new Date(since.getTime() - 60_000);
  await admin.patchNodeStatus(
    {
      name,
      body: {
        status: {
          conditions: [
            {
              type: 'MemoryPressure',
              status: 'True',
              reason: 'KubeletHasInsufficientMemory',
              lastHeartbeatTime: earlier,
              lastTransitionTime: earlier,
            },
            {
              type: 'Ready',
              status: 'True',
              reason: 'KubeletReady',
              lastHeartbeatTime: since,
              lastTransitionTime: since,
            },
          ],
        },
      },
    },
    MERGE,
  );
}

/** What restore leaves alone: someone else's label and annotation. */
function expectOthersKept(node: V1Node): void {
  expect(node.metadata?.labels?.team).toBe('shop');
  expect(node.metadata?.annotations?.['example.com/keep']).toBe('yes');
}

describe('KubeMarks.read and markedNodes', () => {
  it('reads the mark the job store wrote, and none from a node without one', async () => {
    const marked = await markedNode(markOf({ wasUnschedulable: true, hadExcludeLabel: true }));
    const plain = await markedNode(null);

    expect(await marks.read(marked)).toEqual(markOf({ wasUnschedulable: true, hadExcludeLabel: true }));
    expect(await marks.read(plain)).toBeUndefined();
  });

  it('fails to read a node that is not there, with the 404', async () => {
    await expect(marks.read(`marks-absent-${randomBytes(3).toString('hex')}`)).rejects.toSatisfy(
      (error) => error instanceof ClusterAccessError && error.status === 404,
    );
  });

  it('finds the marked nodes by one label-selected LIST, with since when each is Ready', async () => {
    const back = await markedNode(markOf({ instanceId: 'i-back' }));
    const away = await markedNode(markOf({ instanceId: 'i-away' }));
    const plain = await markedNode(null);
    const unreadable = await markedNode(null);
    await admin.patchNode(
      {
        name: unreadable,
        body: {
          metadata: { labels: { [WARM_POOL_MARK]: 'true' }, annotations: { [WARM_POOL_MARK]: '{oops' } },
        },
      },
      MERGE,
    );
    const since = new Date(Math.floor(NOW / 1000) * 1000);
    await ready(back, since);
    const viaProxy = marksViaProxy();
    const mark = proxy.requests.length;

    const all = await viaProxy.markedNodes();
    const found = all.filter((m) => [back, away, plain, unreadable].includes(m.node));

    expect(found.sort((a, b) => a.node.localeCompare(b.node))).toEqual(
      [
        { node: back, mark: markOf({ instanceId: 'i-back' }), readySince: since.getTime() },
        { node: away, mark: markOf({ instanceId: 'i-away' }) },
      ].sort((a, b) => a.node.localeCompare(b.node)),
    );
    // every entry is a marked node (other tests' nodes may be marked too), nothing else
    for (const entry of all)
      expect(entry).toMatchObject({ node: expect.any(String), mark: expect.any(Object) });
    expect(proxy.requests.slice(mark).map((r) => r.path)).toEqual([
      `/api/v1/nodes?labelSelector=${encodeURIComponent(WARM_POOL_MARK)}`,
    ]);
  });

  it('does not count a node that is not Ready as Ready since', async () => {
    const name = await markedNode();
    await admin.patchNodeStatus(
      {
        name,
        body: {
          status: {
            conditions: [
              { type: 'Ready', status: 'False', reason: 'KubeletNotReady', lastTransitionTime: new Date() },
            ],
          },
        },
      },
      MERGE,
    );

    const found = (await marks.markedNodes()).find((m) => m.node === name);

    expect(found).toStrictEqual({ node: name, mark: markOf() });
  });
});

describe('KubeMarks.restore', () => {
  it('uncordons, removes the load balancer label and the mark, and leaves the rest of the node alone', async () => {
    const name = await markedNode();

    expect(await marks.restore(name, markOf(), BOTH, NOW)).toBe('restored');

    const node = await readNode(name);
    expect(node.spec?.unschedulable).toBeFalsy();
    expect(node.metadata?.labels?.[EXCLUDE_FROM_LOAD_BALANCERS_LABEL]).toBeUndefined();
    expect(node.metadata?.labels?.[WARM_POOL_MARK]).toBeUndefined();
    expect(node.metadata?.annotations?.[WARM_POOL_MARK]).toBeUndefined();
    expectOthersKept(node);
    expect(await marks.read(name)).toBeUndefined();
  });

  it.each([
    ['nothing but the mark', NOTHING, { cordoned: true, excluded: true }],
    ['only the cordon', { uncordon: true, removeExcludeLabel: false }, { cordoned: false, excluded: true }],
    [
      'only the load balancer label',
      { uncordon: false, removeExcludeLabel: true },
      { cordoned: true, excluded: false },
    ],
  ])('undoes %s when that is all the drainer did', async (_, undo, expected) => {
    const name = await markedNode();

    expect(await marks.restore(name, markOf(), undo, NOW)).toBe('restored');

    const node = await readNode(name);
    expect({
      cordoned: node.spec?.unschedulable === true,
      excluded: node.metadata?.labels?.[EXCLUDE_FROM_LOAD_BALANCERS_LABEL] === 'true',
    }).toEqual(expected);
    expect(node.metadata?.labels?.[WARM_POOL_MARK]).toBeUndefined();
    expect(node.metadata?.annotations?.[WARM_POOL_MARK]).toBeUndefined();
    expectOthersKept(node);
  });

  it('refuses while a job with a live lease drains the node: draining, and nothing changes', async () => {
    const name = await markedNode();
    expect(
      (await openJob(store, name, { holder: 'inv-a', chain: 'inv-a', request: SPOT_REQUEST, now: NOW })).role,
    ).toBe('holder');
    const before = await readNode(name);

    expect(await marks.restore(name, markOf(), BOTH, NOW + LEASE_MS - 1)).toBe('draining');

    const after = await readNode(name);
    expect(after.metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
    expect(after.spec?.unschedulable).toBe(true);
    expect(await marks.read(name)).toEqual(markOf());
  });

  it('restores once the job record on the node has run out of lease (its holder died)', async () => {
    const name = await markedNode();
    await openJob(store, name, { holder: 'inv-a', chain: 'inv-a', request: SPOT_REQUEST, now: NOW });

    expect(await marks.restore(name, markOf(), BOTH, NOW + LEASE_MS)).toBe('restored');

    expect((await readNode(name)).spec?.unschedulable).toBeFalsy();
    expect((await readNode(name)).metadata?.annotations?.[JOB_ANNOTATION]).toBeDefined();
  });

  it.each([
    ['another instance', markOf({ instanceId: 'i-other' })],
    ['a later mark of the same instance', markOf({ at: NOW - 1_000 })],
  ])('leaves a node that carries the mark of %s: changed', async (_, current) => {
    const name = await markedNode(current);
    const before = await readNode(name);

    expect(await marks.restore(name, markOf(), BOTH, NOW)).toBe('changed');

    const after = await readNode(name);
    expect(after.metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
    expect(await marks.read(name)).toEqual(current);
  });

  it('leaves a node that carries no mark (restored by someone else already): changed', async () => {
    const name = await markedNode(null);

    expect(await marks.restore(name, markOf(), BOTH, NOW)).toBe('changed');

    expect((await readNode(name)).spec?.unschedulable).toBe(true);
  });

  it('reads the node again when it changed before the write: a drain that started meanwhile wins', async () => {
    const name = await markedNode();
    const viaProxy = marksViaProxy();
    proxy.addRule({
      method: 'PATCH',
      path: new RegExp(`/api/v1/nodes/${name}$`),
      action: { kind: 'delay', ms: 500 },
      times: 1,
    });

    const restoring = viaProxy.restore(name, markOf(), BOTH, NOW);
    // the restore has read the node and its write is on the way: a new job claims the node now
    await until(() =>
      proxy.requests.some((r) => r.method === 'PATCH' && r.fault === 'delay' && r.path.endsWith(name)),
    );
    const request = { ...SPOT_REQUEST, id: 'spot-2' };
    expect((await openJob(store, name, { holder: 'inv-b', chain: 'inv-b', request, now: NOW })).role).toBe(
      'holder',
    );

    expect(await restoring).toBe('draining');

    const node = await readNode(name);
    expect(node.spec?.unschedulable).toBe(true);
    expect(await marks.read(name)).toEqual(markOf());
    // the stale write went to the server and was refused; the second look wrote nothing
    expect(proxy.count('PATCH', new RegExp(`/api/v1/nodes/${name}$`))).toBe(1);
  });

  it('tries three times when the node keeps changing, then fails with the conflict', async () => {
    const name = await markedNode();
    const viaProxy = marksViaProxy();
    proxy.addRule({
      method: 'PATCH',
      path: new RegExp(`/api/v1/nodes/${name}$`),
      action: { kind: 'status', status: 409 },
      times: 3,
    });

    await expect(viaProxy.restore(name, markOf(), BOTH, NOW)).rejects.toSatisfy(
      (error) => error instanceof ClusterAccessError && error.status === 409,
    );

    expect(proxy.count('PATCH', new RegExp(`/api/v1/nodes/${name}$`))).toBe(3);
    expect(await marks.read(name)).toEqual(markOf());
  });

  it('succeeds on the third try', async () => {
    const name = await markedNode();
    const viaProxy = marksViaProxy();
    proxy.addRule({
      method: 'PATCH',
      path: new RegExp(`/api/v1/nodes/${name}$`),
      action: { kind: 'status', status: 409 },
      times: 2,
    });

    expect(await viaProxy.restore(name, markOf(), BOTH, NOW)).toBe('restored');

    expect(proxy.count('PATCH', new RegExp(`/api/v1/nodes/${name}$`))).toBe(3);
    expect(await marks.read(name)).toBeUndefined();
  });

  it('fails at once on a refusal other than a conflict', async () => {
    const name = await markedNode();
    const viaProxy = marksViaProxy();
    proxy.addRule({
      method: 'PATCH',
      path: new RegExp(`/api/v1/nodes/${name}$`),
      action: { kind: 'status', status: 403 },
    });

    await expect(viaProxy.restore(name, markOf(), BOTH, NOW)).rejects.toSatisfy(
      (error) => error instanceof ClusterAccessError && error.status === 403,
    );

    expect(proxy.count('PATCH', new RegExp(`/api/v1/nodes/${name}$`))).toBe(1);
  });
});

async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
