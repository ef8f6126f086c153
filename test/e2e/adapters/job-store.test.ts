/**
 * The node's job record store (lambda/kube/job-store.ts) against the real kube-apiserver, as the
 * drainer: the record round-trips through the node annotation, a write from a stale resourceVersion
 * is refused (409 → conflict) and writes nothing, and the job protocol (lambda/job/lease.ts) holds
 * on top of it when invocations really race. The unit tests of the protocol use a hand-written
 * compare-and-swap map (test/support/job-fakes.ts); these prove the real store is one.
 */
import { randomBytes } from 'node:crypto';
import { CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { ClusterAccessError } from '../../../lambda/errors.js';
import { awaitAdoption, LeaseKeeper, openJob } from '../../../lambda/job/lease.js';
import type { JobStorePort } from '../../../lambda/job/ports.js';
import {
  HANDOVER_MS,
  type JobRecord,
  type JobRequest,
  LEASE_MS,
  type Me,
} from '../../../lambda/job/record.js';
import type { WarmPoolMark } from '../../../lambda/job/warm-pool.js';
import { EXCLUDE_FROM_LOAD_BALANCERS_LABEL } from '../../../lambda/kube/cluster.js';
import { JOB_ANNOTATION } from '../../../lambda/kube/job-format.js';
import { KubeJobStore } from '../../../lambda/kube/job-store.js';
import { KubeMarks, WARM_POOL_MARK } from '../../../lambda/kube/marks.js';
import { kubeConfigFor } from '../../../scripts/harness/cluster.js';
import { FaultProxy } from '../../../scripts/harness/fault-proxy.js';
import { memoryLogger } from '../../../scripts/harness/memory-logger.js';
import { VirtualClock } from '../../support/fakes.js';

const info = inject('cluster');
const admin = kubeConfigFor(info, 'admin').makeApiClient(CoreV1Api);
const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const store = new KubeJobStore(kubeConfigFor(info, 'drainer'));
const nodes: string[] = [];
let proxy: FaultProxy;

beforeAll(async () => {
  proxy = await FaultProxy.start(info);
});
afterAll(async () => {
  await proxy?.stop();
});
afterEach(async () => {
  for (const name of nodes.splice(0)) await admin.deleteNode({ name }).catch(() => undefined);
});

/** A node of this test's own (no pods, no simulator: the store only reads and patches the node). */
async function node(): Promise<string> {
  const name = `job-store-${randomBytes(4).toString('hex')}`;
  nodes.push(name);
  await admin.createNode({ body: { metadata: { name, labels: { 'kubernetes.io/os': 'linux' } } } });
  return name;
}

const annotationOf = async (name: string): Promise<string | undefined> =>
  (await admin.readNode({ name })).metadata?.annotations?.[JOB_ANNOTATION];

/** Another writer (a kubectl user, the kubelet) changes the node: its resourceVersion moves on. */
async function touch(name: string, value = randomBytes(3).toString('hex')): Promise<void> {
  await admin.patchNode({ name, body: { metadata: { labels: { touched: value } } } }, MERGE);
}

const NOW = Date.now();

function request(id: string, extra: Partial<JobRequest> = {}): JobRequest {
  return {
    id,
    kind: 'termination',
    instanceId: 'i-0123456789abcdef0',
    startedAt: NOW - 1_000,
    deadline: NOW + 600_000,
    policy: 'continue',
    ...extra,
  };
}

function me(holder: string, extra: Partial<Me> = {}): Me {
  return { holder, chain: holder, request: request(`req-${holder}`), now: NOW, ...extra };
}

/** Every field the record can carry, optional ones included, with millisecond times. */
const FULL: JobRecord = {
  chain: 'inv-1',
  holder: 'inv-2',
  until: NOW + 60_123,
  handedOver: true,
  before: { unschedulable: true, excludedFromLoadBalancers: false },
  requests: [
    request('termination-1', {
      action: { group: 'asg-a', hook: 'drain', instanceId: 'i-0123456789abcdef0', token: 'tok-1' },
      adopted: true,
      comesBack: true,
    }),
    // not adopted: the flag left out (`adopted: false` is written as it is and read back as absent)
    request('spot-1', { kind: 'spot', hardEnd: NOW + 120_007, group: 'asg-a', policy: 'delete' }),
    request('rebalance-1', {
      kind: 'rebalance',
      policy: 'abandon',
      action: { group: 'asg-b', hook: 'drain', instanceId: 'i-0123456789abcdef0' },
    }),
  ],
};

const MARK: WarmPoolMark = {
  instanceId: 'i-0123456789abcdef0',
  at: NOW + 5,
  wasUnschedulable: false,
  hadExcludeLabel: true,
};

/** The real store, counting what its writes came to. */
function counting(inner: JobStorePort = store) {
  const results: string[] = [];
  const wrapped: JobStorePort = {
    read: (name) => inner.read(name),
    write: async (...args) => {
      const result = await inner.write(...args);
      results.push(result);
      return result;
    },
  };
  return { store: wrapped, results };
}

describe('KubeJobStore on the real apiserver', () => {
  it('reads a node without a record: its resourceVersion and how it is now', async () => {
    const name = await node();

    const state = await store.read(name);

    expect(state).toEqual({
      version: (await admin.readNode({ name })).metadata?.resourceVersion,
      now: { unschedulable: false, excludedFromLoadBalancers: false },
    });
  });

  it('reads a cordoned node excluded from load balancers as such', async () => {
    const name = await node();
    await admin.patchNode(
      {
        name,
        body: {
          spec: { unschedulable: true },
          metadata: { labels: { [EXCLUDE_FROM_LOAD_BALANCERS_LABEL]: '' } },
        },
      },
      MERGE,
    );

    expect((await store.read(name)).now).toEqual({ unschedulable: true, excludedFromLoadBalancers: true });
  });

  it('round-trips a record exactly, written as JSON with ISO times an operator can read', async () => {
    const name = await node();
    const { version } = await store.read(name);

    expect(await store.write(name, version, FULL)).toBe('written');
    const state = await store.read(name);

    expect(state.record).toEqual(FULL);
    expect(state.version).not.toBe(version);
    const raw = JSON.parse((await annotationOf(name)) ?? '') as Record<string, unknown>;
    expect(raw).toMatchObject({
      chain: 'inv-1',
      holder: 'inv-2',
      until: new Date(FULL.until).toISOString(),
      requests: expect.arrayContaining([
        expect.objectContaining({ id: 'spot-1', hardEnd: new Date(NOW + 120_007).toISOString() }),
      ]),
    });
  });

  it('removes the record with null, and leaves the rest of the node alone', async () => {
    const name = await node();
    await admin.patchNode(
      { name, body: { metadata: { annotations: { 'example.com/keep': 'yes' } } } },
      MERGE,
    );
    await store.write(name, (await store.read(name)).version, FULL);

    expect(await store.write(name, (await store.read(name)).version, null)).toBe('written');

    const after = await admin.readNode({ name });
    expect(after.metadata?.annotations?.[JOB_ANNOTATION]).toBeUndefined();
    expect(after.metadata?.annotations?.['example.com/keep']).toBe('yes');
    expect(after.metadata?.labels?.['kubernetes.io/os']).toBe('linux');
    expect(after.metadata?.labels?.[WARM_POOL_MARK]).toBeUndefined();
    expect((await store.read(name)).record).toBeUndefined();
  });

  it('refuses a write from a stale resourceVersion: conflict, and nothing is written', async () => {
    const name = await node();
    const { version } = await store.read(name);
    await touch(name);

    expect(await store.write(name, version, FULL)).toBe('conflict');

    expect(await annotationOf(name)).toBeUndefined();
    expect((await store.read(name)).record).toBeUndefined();
  });

  it('refuses a removal with a mark from a stale resourceVersion: the record stays, no mark', async () => {
    const name = await node();
    await store.write(name, (await store.read(name)).version, FULL);
    const { version } = await store.read(name);
    await touch(name);

    expect(await store.write(name, version, null, MARK)).toBe('conflict');

    const after = await admin.readNode({ name });
    expect((await store.read(name)).record).toEqual(FULL);
    expect(after.metadata?.labels?.[WARM_POOL_MARK]).toBeUndefined();
    expect(after.metadata?.annotations?.[WARM_POOL_MARK]).toBeUndefined();
  });

  it('removes the record and marks the node for the warm pool in one write', async () => {
    const name = await node();
    await store.write(name, (await store.read(name)).version, FULL);

    expect(await store.write(name, (await store.read(name)).version, null, MARK)).toBe('written');

    const after = await admin.readNode({ name });
    expect(after.metadata?.annotations?.[JOB_ANNOTATION]).toBeUndefined();
    expect(after.metadata?.labels?.[WARM_POOL_MARK]).toBe('true');
    expect(JSON.parse(after.metadata?.annotations?.[WARM_POOL_MARK] ?? '')).toEqual({
      ...MARK,
      at: new Date(MARK.at).toISOString(),
    });
    expect(await new KubeMarks(kubeConfigFor(info, 'drainer')).read(name)).toEqual(MARK);
  });

  it.each([
    ['not JSON', '{"chain": 7'],
    ['JSON of another shape', JSON.stringify({ chain: 'inv-1', holder: 'inv-2', requests: [] })],
    ['a record with a bad time', JSON.stringify({ ...JSON.parse(JSON.stringify(FULL)), until: 'soon' })],
  ])('reads an annotation holding %s as no record', async (_, value) => {
    const name = await node();
    await admin.patchNode({ name, body: { metadata: { annotations: { [JOB_ANNOTATION]: value } } } }, MERGE);

    const state = await store.read(name);

    expect(state.record).toBeUndefined();
    expect(state.version).toMatch(/^\d+$/);
  });

  it('fails to read or write a node that is not there, with the 404', async () => {
    const absent = `job-store-absent-${randomBytes(3).toString('hex')}`;

    await expect(store.read(absent)).rejects.toSatisfy(
      (error) => error instanceof ClusterAccessError && error.status === 404,
    );
    await expect(store.write(absent, '1', FULL)).rejects.toSatisfy(
      (error) => error instanceof ClusterAccessError && error.status === 404,
    );
  });
});

describe('the job protocol on the real store', () => {
  /** Each write waits until `readers` reads were answered: the writers really race for one version. */
  function racing(readers: number) {
    let reads = 0;
    let allRead!: () => void;
    const gate = new Promise<void>((resolve) => {
      allRead = resolve;
    });
    return counting({
      read: async (name) => {
        const state = await store.read(name);
        if (++reads === readers) allRead();
        return state;
      },
      write: async (...args) => {
        await gate;
        return store.write(...args);
      },
    });
  }

  it('lets exactly one of two invocations that open the node at once hold it; the other joins, its request in the record', async () => {
    const name = await node();
    const raced = racing(2);

    const [a, b] = await Promise.all([
      openJob(raced.store, name, me('inv-a')),
      openJob(raced.store, name, me('inv-b')),
    ]);

    expect([a.role, b.role].sort()).toEqual(['holder', 'joined']);
    const holder = a.role === 'holder' ? 'inv-a' : 'inv-b';
    const joiner = holder === 'inv-a' ? 'inv-b' : 'inv-a';
    expect(a.role === 'joined' ? a.holder : b.role === 'joined' ? b.holder : '').toBe(holder);
    // the loser's first write was refused by the server, then it read the winner's record and joined it
    expect([...raced.results].sort()).toEqual(['conflict', 'written', 'written']);
    const record = (await store.read(name)).record;
    expect(record?.holder).toBe(holder);
    expect(record?.requests).toEqual([
      { ...request(`req-${holder}`), adopted: true },
      // joined, not adopted (written `adopted: false`, read back without the flag)
      request(`req-${joiner}`),
    ]);
  });

  it("keeps the holder's lease although another writer changed the node meanwhile, and adopts what joined", async () => {
    const name = await node();
    const opened = await openJob(store, name, me('inv-a'));
    if (opened.role !== 'holder') throw new Error('expected to hold the job');
    // a keeper on a store whose first write finds the node changed since its read: a request joins
    let first = true;
    const counted = counting({
      read: (n) => store.read(n),
      write: async (...args) => {
        if (first) {
          first = false;
          expect((await openJob(store, name, me('inv-b'))).role).toBe('joined');
        }
        return store.write(...args);
      },
    });
    const keeper = new LeaseKeeper(counted.store, name, opened.keeper.record);

    const kept = await keeper.keep(NOW + 20_000);

    expect(counted.results).toEqual(['conflict', 'written']);
    expect(kept).toEqual({ adopted: [request('req-inv-b')] });
    const record = (await store.read(name)).record;
    expect(record).toMatchObject({ holder: 'inv-a', until: NOW + 20_000 + LEASE_MS });
    expect(record?.requests.map((r) => [r.id, r.adopted])).toEqual([
      ['req-inv-a', true],
      ['req-inv-b', true],
    ]);
  });

  it('tells a joined invocation its request was adopted once the holder kept the lease', async () => {
    const name = await node();
    const opened = await openJob(store, name, me('inv-a'));
    if (opened.role !== 'holder') throw new Error('expected to hold the job');
    expect((await openJob(store, name, me('inv-b'))).role).toBe('joined');
    await opened.keeper.keep(NOW + 1_000);
    const clock = new VirtualClock(NOW);

    const end = await awaitAdoption(
      store,
      name,
      me('inv-b'),
      { pauseAt: NOW + 60_000 },
      { clock, log: memoryLogger([]) },
    );

    expect(end).toEqual({ kind: 'adopted' });
  });

  it("lets a joined invocation take the job over once the holder's lease ran out, requests and all", async () => {
    const name = await node();
    const opened = await openJob(store, name, me('inv-a'));
    if (opened.role !== 'holder') throw new Error('expected to hold the job');
    expect((await openJob(store, name, me('inv-b'))).role).toBe('joined');
    const clock = new VirtualClock(NOW);

    const end = await awaitAdoption(
      store,
      name,
      me('inv-b'),
      { pauseAt: NOW + 5 * 60_000 },
      { clock, log: memoryLogger([]) },
    );

    expect(end.kind).toBe('took-over');
    expect(clock.now()).toBeGreaterThanOrEqual(NOW + LEASE_MS);
    const record = (await store.read(name)).record;
    expect(record?.holder).toBe('inv-b');
    expect(record?.requests.map((r) => [r.id, r.adopted])).toEqual([
      ['req-inv-a', true],
      ['req-inv-b', true],
    ]);
    // the old holder finds it lost the job
    expect(await opened.keeper.keep(clock.now())).toEqual({ lost: 'inv-b' });
  });

  it('hands over to the next invocation of the chain, which holds the job at once', async () => {
    const name = await node();
    const opened = await openJob(store, name, me('inv-a'));
    if (opened.role !== 'holder') throw new Error('expected to hold the job');

    await opened.keeper.handOver(NOW + 1_000);
    const handedOver = (await store.read(name)).record;
    const next = await openJob(store, name, me('inv-a2', { chain: 'inv-a', now: NOW + 2_000 }));
    const stranger = await openJob(store, name, me('inv-x', { now: NOW + 3_000 }));

    expect(handedOver).toMatchObject({ holder: 'inv-a', handedOver: true, until: NOW + 1_000 + HANDOVER_MS });
    expect(next.role).toBe('holder');
    expect(next).not.toHaveProperty('tookOver');
    expect(stranger).toEqual({ role: 'joined', holder: 'inv-a2' });
  });

  it('finishes in one patch: the record goes and the warm-pool mark comes, after answering what joined', async () => {
    const name = await node();
    const proxied = new KubeJobStore(kubeConfigFor({ ...info, server: proxy.url }, 'drainer'));
    const opened = await openJob(
      proxied,
      name,
      me('inv-a', { request: request('req-inv-a', { comesBack: true }) }),
    );
    if (opened.role !== 'holder') throw new Error('expected to hold the job');
    expect((await openJob(store, name, me('inv-b'))).role).toBe('joined');
    const answered: string[][] = [];
    const patches = () => proxy.count('PATCH', new RegExp(`/api/v1/nodes/${name}$`));
    const before = patches();

    const finished = await opened.keeper.finish(
      async (requests) => {
        answered.push(requests.map((r) => r.id));
      },
      () => MARK,
    );

    expect(finished).toBe('released');
    expect(answered).toEqual([['req-inv-a', 'req-inv-b']]);
    expect(patches() - before).toBe(1);
    const after = await admin.readNode({ name });
    expect(after.metadata?.annotations?.[JOB_ANNOTATION]).toBeUndefined();
    expect(after.metadata?.labels?.[WARM_POOL_MARK]).toBe('true');
    expect(await new KubeMarks(kubeConfigFor(info, 'drainer')).read(name)).toEqual(MARK);
  });

  it('takes over a node whose annotation cannot be read, as if it had no record', async () => {
    const name = await node();
    await admin.patchNode(
      { name, body: { metadata: { annotations: { [JOB_ANNOTATION]: '{oops' } } } },
      MERGE,
    );

    const opened = await openJob(store, name, me('inv-a'));

    expect(opened.role).toBe('holder');
    expect(opened).not.toHaveProperty('tookOver');
    expect((await store.read(name)).record?.holder).toBe('inv-a');
  });
});
