/**
 * Drains that share a PDB take turns (lambda/drain/turns.ts, lambda/kube/turns.ts): several drains at
 * once on the real kube-apiserver, each as the RBAC-limited drainer, their tickets real Leases in the
 * drainer's namespace. The API server's PDB check is what refuses; the tests count its refusals.
 */
import { AuthorizationV1Api, CoordinationV1Api, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { afterEach, describe, expect, inject, it, vi } from 'vitest';
import { DRAINER_NAMESPACE } from '../../lambda/contract.js';
import { DEFAULT_DRAIN_TUNING, type DrainReport, drainNode } from '../../lambda/drain/drain.js';
import { systemClock } from '../../lambda/drain/ports.js';
import { byQueue, TURN_LEASE_MS, TurnView } from '../../lambda/drain/turn-queue.js';
import type { TicketFeed } from '../../lambda/drain/turns.js';
import { KubeCluster } from '../../lambda/kube/cluster.js';
import { KubeTurns } from '../../lambda/kube/turns.js';
import { DRAIN_LEASE, drainLeaseName, placesOf, TURNS_LABEL } from '../../lambda/kube/turns-lease.js';
import { kubeConfigFor } from '../../scripts/harness/cluster.js';
import { FaultProxy } from '../../scripts/harness/fault-proxy.js';
import { type LogEntry, memoryLogger } from '../../scripts/harness/memory-logger.js';
import { SharedWorld } from '../../scripts/harness/shared-world.js';

let world: SharedWorld | undefined;

afterEach(async () => {
  if (world) {
    expect(world.sim.failures).toEqual([]);
    await world.dispose();
    world = undefined;
  }
});

const admin = () => kubeConfigFor(inject('cluster'), 'admin');
const drainer = () => kubeConfigFor(inject('cluster'), 'drainer');

async function sharedWorld(prefix: string, nodes: number): Promise<SharedWorld> {
  world = await SharedWorld.create(inject('cluster'), prefix, { nodes, deployments: 1, preStopSeconds: 1 });
  return world;
}

/** One drain of `node` by the real engine, coordinated through the real Leases. */
function drain(
  node: string,
  {
    logs = [],
    cluster = new KubeCluster(drainer()),
    dryRun = false,
    pauseAfterMs,
  }: { logs?: LogEntry[]; cluster?: KubeCluster; dryRun?: boolean; pauseAfterMs?: number } = {},
): Promise<DrainReport> {
  const now = Date.now();
  return drainNode(
    cluster,
    {
      ...DEFAULT_DRAIN_TUNING,
      target: { nodeName: node },
      startedAt: now,
      deadline: now + 120_000,
      ...(pauseAfterMs === undefined ? {} : { pauseAt: now + pauseAfterMs }),
      onDeadline: 'continue',
      dryRun,
      turns: (holder) => new KubeTurns(drainer(), holder),
    },
    { clock: systemClock, log: memoryLogger(logs) },
  );
}

/** Waits until the authorizer lets the drainer's group create tickets, or no longer does. */
async function untilDrainerMayQueue(allowed: boolean): Promise<void> {
  const authz = admin().makeApiClient(AuthorizationV1Api);
  for (let i = 0; i < 100; i++) {
    const review = await authz.createSubjectAccessReview({
      body: {
        spec: {
          user: 'x',
          groups: ['eks-node-drainer'],
          resourceAttributes: {
            group: 'coordination.k8s.io',
            resource: 'leases',
            verb: 'create',
            namespace: DRAINER_NAMESPACE,
          },
        },
      },
    });
    if ((review.status?.allowed === true) === allowed) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`RBAC did not become ${allowed ? 'allowing' : 'denying'} for the tickets`);
}

/** The drains' leases in the drainer's namespace. */
async function drainLeases() {
  const { items } = await admin()
    .makeApiClient(CoordinationV1Api)
    .listNamespacedLease({ namespace: DRAINER_NAMESPACE, labelSelector: `${TURNS_LABEL}=${DRAIN_LEASE}` });
  return items;
}

/** The holders of the tickets left in the drainer's namespace for the world's PDB. */
async function ticketsOf(w: SharedWorld): Promise<string[]> {
  return (await drainLeases())
    .filter((l) => placesOf(l).has(`${w.namespace}/shared-0`))
    .map((l) => l.spec?.holderIdentity ?? '');
}

/** The leases left in the drainer's namespace by the world's nodes. */
async function leasesOf(w: SharedWorld): Promise<string[]> {
  const nodes = new Set(w.nodes.map((n) => n.name));
  return (await drainLeases()).map((l) => l.spec?.holderIdentity ?? '').filter((holder) => nodes.has(holder));
}

describe('drains that share a PDB', () => {
  it.each([2, 5])('evict in turns, %i at once: the server refuses none of them', async (count) => {
    const w = await sharedWorld(`turns-${count}`, count);
    const health = w.sim.monitor(w.namespace, { app: 'shared-0' });
    await w.openSpare();

    const reports = await Promise.all(w.nodes.map((node) => drain(node.name)));

    expect(reports.map((r) => r.outcome)).toEqual(reports.map(() => 'drained'));
    // uncoordinated, 5 drains see 3 refusals here (2 drains: 0-1); ordered by the drains' own clocks
    // (acquireTime) instead of the tickets' creation, five queueing within milliseconds saw 1 now and then
    expect(reports.map((r) => r.evictionRefusals)).toEqual(reports.map(() => 0));
    expect(reports.map((r) => r.evictionRequests)).toEqual(reports.map(() => 1));
    expect(health.minHealthy).toBeGreaterThanOrEqual(count - 1);
    expect(await ticketsOf(w)).toEqual([]);
    expect(await leasesOf(w)).toEqual([]);
  });

  it('uses a turn handed over only once its PDB watch has caught up with the release', async () => {
    const w = await sharedWorld('turns-lag', 2);
    await w.openSpare();
    const [first = '', second = ''] = w.nodes.map((n) => n.name);
    const pdb = `${w.namespace}/shared-0`;
    // the first node's ticket is there before anyone drains (a continuation's place)
    await new KubeTurns(drainer(), first).take(pdb);
    const proxy = await FaultProxy.start(inject('cluster'));
    try {
      // the second drain sees the PDBs a second late: the release of the first's ticket (its own
      // watch, in time) arrives before the status that counts the first's eviction
      proxy.addRule({
        method: 'GET',
        path: /poddisruptionbudgets\?.*watch=true/,
        action: { kind: 'lag', ms: 1_000 },
      });
      const lagging = drain(second, {
        cluster: new KubeCluster(kubeConfigFor({ ...inject('cluster'), server: proxy.url }, 'drainer')),
      });
      await vi.waitFor(async () => expect(await ticketsOf(w)).toContain(second), {
        timeout: 5_000,
        interval: 50,
      });

      const reports = await Promise.all([drain(first), lagging]);

      expect(reports.map((r) => r.outcome)).toEqual(['drained', 'drained']);
      expect(reports.map((r) => r.evictionRefusals)).toEqual([0, 0]);
      expect(reports.map((r) => r.evictionRequests)).toEqual([1, 1]);
      expect(proxy.requests.some((r) => r.fault === 'lag')).toBe(true);
      expect(await ticketsOf(w)).toEqual([]);
    } finally {
      await proxy.stop();
    }
  });

  it('passes over a holder that died at the head of the queue within its lease, then goes', async () => {
    const w = await sharedWorld('turns-dead', 1);
    await w.openSpare();
    // a drain that queued first and died: its ticket stays, never renewed
    const dead = new KubeTurns(admin(), 'dead-node', () => Date.now() - 60_000);
    await dead.take(`${w.namespace}/shared-0`);
    const started = Date.now();

    const report = await drain(w.nodes[0]?.name ?? '');

    const [termination] = [...w.sim.terminations.values()];
    expect(report.outcome).toBe('drained');
    expect(report.evictionRefusals).toBe(0);
    expect(termination?.startedAt).toBeGreaterThanOrEqual(started + TURN_LEASE_MS - 500);
    expect(termination?.startedAt).toBeLessThan(started + TURN_LEASE_MS + 5_000);
    expect(await ticketsOf(w)).toEqual(['dead-node']);
    await dead.release(`${w.namespace}/shared-0`);
  });

  it('keeps the place of a drain that hands over: its ticket stays for the continuation', async () => {
    const w = await sharedWorld('turns-handover', 2);
    const [first, second] = w.nodes.map((n) => n.name);
    // the spare stays closed: once the first node's pod is evicted, the PDB allows nothing more
    expect((await drain(first ?? '')).outcome).toBe('drained');

    const paused = await drain(second ?? '', { pauseAfterMs: 2_000 });

    expect(paused.outcome).toBe('paused');
    expect(paused.evictionRequests).toBe(0);
    expect(await ticketsOf(w)).toEqual([second]);
    // a drain's end deletes its lease, an earlier invocation's too
    await new KubeTurns(admin(), second ?? '').endHeartbeat();
    expect(await leasesOf(w)).toEqual([]);
  });

  it('shows in a dry run the drains already queued for its PDBs, and writes nothing', async () => {
    const w = await sharedWorld('turns-dry', 2);
    const [node = '', other = ''] = w.nodes.map((n) => n.name);
    const queued = new KubeTurns(drainer(), other);
    await queued.take(`${w.namespace}/shared-0`);
    try {
      const report = await drain(node, { dryRun: true });

      expect(report.turns).toEqual([{ pdb: `${w.namespace}/shared-0`, behind: [other] }]);
      expect(await leasesOf(w)).toEqual([other]);
    } finally {
      await queued.release(`${w.namespace}/shared-0`);
    }
  });

  it('drains uncoordinated, saying so once, without permission for the leases', async () => {
    const w = await sharedWorld('turns-denied', 2);
    await w.openSpare();
    const rbac = admin().makeApiClient(RbacAuthorizationV1Api);
    const binding = await rbac.readNamespacedRoleBinding({
      name: 'eks-node-drainer-turns',
      namespace: DRAINER_NAMESPACE,
    });
    await rbac.deleteNamespacedRoleBinding({ name: 'eks-node-drainer-turns', namespace: DRAINER_NAMESPACE });
    const logs: LogEntry[] = [];
    try {
      await untilDrainerMayQueue(false);
      const reports = await Promise.all(w.nodes.map((node) => drain(node.name, { logs })));

      expect(reports.map((r) => r.outcome)).toEqual(['drained', 'drained']);
      expect(logs.filter((l) => l.message.startsWith('draining uncoordinated'))).toHaveLength(2);
    } finally {
      const { resourceVersion: _, uid: __, creationTimestamp: ___, ...metadata } = binding.metadata ?? {};
      await rbac.createNamespacedRoleBinding({
        namespace: DRAINER_NAMESPACE,
        body: { ...binding, metadata },
      });
    }
  });
});

/** How long a watch may take to show a write (vi.waitFor options). */
const SOON = { timeout: 5_000, interval: 20 };

/** The drains queue for `pdb` in this order; resolves once `feed` shows every ticket. */
async function queueAll(feed: TicketFeed, pdb: string, drains: readonly KubeTurns[]): Promise<void> {
  for (const drain of drains) await drain.take(pdb);
  await vi.waitFor(() => expect(feed.tickets(pdb)).toHaveLength(drains.length), SOON);
}

describe('KubeTurns', () => {
  it("tells the newest release of another drain's ticket by its deletion's resourceVersion, never its own", async () => {
    const pdb = `releases-${Date.now()}/web`;
    const [mine, other] = [new KubeTurns(drainer(), 'node-b'), new KubeTurns(drainer(), 'node-a')];
    const feed = await mine.follow(() => {});
    try {
      await queueAll(feed, pdb, [other, mine]);
      const queued = feed.tickets(pdb).map((t) => BigInt(t.created ?? '0'));
      expect(feed.releasedAt(pdb)).toBeUndefined();

      await other.release(pdb);
      await vi.waitFor(() => expect(feed.releasedAt(pdb)).toBeDefined(), SOON);
      const released = feed.releasedAt(pdb) ?? '';
      for (const version of queued) expect(BigInt(released)).toBeGreaterThan(version);
      await mine.release(pdb);
      await vi.waitFor(() => expect(feed.tickets(pdb)).toHaveLength(0), SOON);

      expect(feed.releasedAt(pdb)).toBe(released);
      expect(feed.releasedAt(`${pdb}-other`)).toBeUndefined();
    } finally {
      feed.close();
    }
  });

  it('queues for the PDBs taken at once with one write, and writes their places with the next', async () => {
    const pdbs = ['a', 'b', 'c'].map((name) => `batch-${Date.now()}/${name}`);
    const [first = '', second = '', third = ''] = pdbs;
    const proxy = await FaultProxy.start(inject('cluster'));
    const a = new KubeTurns(kubeConfigFor({ ...inject('cluster'), server: proxy.url }, 'drainer'), 'node-a');
    const feed = await new KubeTurns(drainer(), 'node-b').follow(() => {});
    try {
      await Promise.all(pdbs.map((pdb) => a.take(pdb)));
      expect(proxy.count('POST', /leases/)).toBe(1);
      await vi.waitFor(() => expect(feed.tickets(third)).toHaveLength(1), SOON);
      const place = feed.tickets(first)[0]?.created;
      expect(pdbs.map((pdb) => feed.tickets(pdb)[0]?.created)).toEqual([place, place, place]);

      await Promise.all([a.release(first), a.heartbeat()]);

      expect(proxy.count('PATCH', /leases/)).toBe(1);
      const [lease] = (await drainLeases()).filter((l) => l.spec?.holderIdentity === 'node-a');
      expect(lease?.metadata?.resourceVersion).not.toBe(place);
      expect(Object.fromEntries(lease ? placesOf(lease) : [])).toEqual({ [second]: place, [third]: place });
      await vi.waitFor(() => expect(feed.tickets(first)).toHaveLength(0), SOON);
      expect([feed.tickets(second)[0]?.created, feed.tickets(third)[0]?.created]).toEqual([place, place]);
      // a ticket given back by a patch: released at the patch's version
      expect(feed.releasedAt(first)).toBe(lease?.metadata?.resourceVersion);
      expect(feed.releasedAt(second)).toBeUndefined();
    } finally {
      feed.close();
      await Promise.all(pdbs.map((pdb) => a.release(pdb)));
      await proxy.stop();
    }
  });

  it('queues again, at the back, once its lease was deleted by someone', async () => {
    const pdb = `deleted-${Date.now()}/web`;
    const [a, b] = [new KubeTurns(drainer(), 'node-a'), new KubeTurns(drainer(), 'node-b')];
    const feed = await b.follow(() => {});
    try {
      await queueAll(feed, pdb, [a, b]);
      await admin()
        .makeApiClient(CoordinationV1Api)
        .deleteNamespacedLease({ name: drainLeaseName('node-a'), namespace: DRAINER_NAMESPACE });
      await vi.waitFor(() => expect(feed.tickets(pdb)).toHaveLength(1), SOON);

      // its drain sees its ticket gone and takes it again
      await a.take(pdb);

      await vi.waitFor(() => expect(feed.tickets(pdb)).toHaveLength(2), SOON);
      expect([...feed.tickets(pdb)].sort(byQueue).map((t) => t.holder)).toEqual(['node-b', 'node-a']);
    } finally {
      feed.close();
      await Promise.all([a.release(pdb), b.release(pdb)]);
    }
  });
});

describe('KubeTurns feed', () => {
  it('wakes the drain for a release and for its own ticket, not for a drain queueing or beating', async () => {
    const pdb = `wakes-${Date.now()}/web`;
    const [mine, other] = [new KubeTurns(drainer(), 'node-a'), new KubeTurns(drainer(), 'node-b')];
    let wakes = 0;
    const feed = await mine.follow(() => wakes++);
    try {
      const listed = wakes;
      await mine.take(pdb);
      await vi.waitFor(() => expect(wakes).toBe(listed + 1), SOON);
      await other.take(pdb);
      await vi.waitFor(() => expect(feed.tickets(pdb)).toHaveLength(2), SOON);
      const [queued, mineQueued] = [feed.heartbeats().get('node-b'), feed.heartbeats().get('node-a')];
      await Promise.all([other.heartbeat(), mine.heartbeat()]);
      await vi.waitFor(() => {
        expect(feed.heartbeats().get('node-b')).not.toBe(queued);
        expect(feed.heartbeats().get('node-a')).not.toBe(mineQueued);
      }, SOON);
      expect(wakes).toBe(listed + 1);

      await other.release(pdb);
      await vi.waitFor(() => expect(wakes).toBe(listed + 2), SOON);
      expect(feed.tickets(pdb).map((t) => t.holder)).toEqual(['node-a']);
    } finally {
      feed.close();
      await Promise.all([mine.release(pdb), other.release(pdb), other.endHeartbeat()]);
    }
  });

  it("wakes the drain for another drain's release only where it says the release may give it a turn", async () => {
    const [near, far] = [`near-${Date.now()}/web`, `far-${Date.now()}/web`];
    const [mine, other] = [new KubeTurns(drainer(), 'node-a'), new KubeTurns(drainer(), 'node-b')];
    const asked: string[] = [];
    let wakes = 0;
    const feed = await mine.follow(
      () => wakes++,
      (pdb) => {
        asked.push(pdb);
        return pdb === near;
      },
    );
    try {
      await Promise.all([other.take(near), other.take(far)]);
      await vi.waitFor(() => expect(feed.tickets(far)).toHaveLength(1), SOON);
      const before = wakes;

      await other.release(far);
      await vi.waitFor(() => expect(feed.tickets(far)).toHaveLength(0), SOON);
      expect(wakes).toBe(before);
      await other.release(near);
      await vi.waitFor(() => expect(wakes).toBe(before + 1), SOON);
      expect(asked).toEqual([far, near]);
    } finally {
      feed.close();
      await Promise.all([other.release(near), other.release(far)]);
    }
  });

  it("keeps a PDB's tickets the same array until one of them changes (the drains' turn answers are kept per array)", async () => {
    const [web, db] = [`same-${Date.now()}/web`, `same-${Date.now()}/db`];
    const [a, b] = [new KubeTurns(drainer(), 'node-a'), new KubeTurns(drainer(), 'node-b')];
    const feed = await a.follow(() => {});
    try {
      await a.take(web);
      await a.take(db);
      await vi.waitFor(() => expect(feed.tickets(db)).toHaveLength(1), SOON);
      const [webBefore, dbBefore] = [feed.tickets(web), feed.tickets(db)];

      await b.take(db);
      await vi.waitFor(() => expect(feed.tickets(db)).toHaveLength(2), SOON);

      expect(feed.tickets(web)).toBe(webBefore);
      expect(feed.tickets(db)).not.toBe(dbBefore);
      // a heartbeat changes the heartbeats, not the tickets
      const [dbNow, beatsBefore] = [feed.tickets(db), feed.heartbeats()];
      await b.heartbeat();
      await vi.waitFor(() => expect(feed.heartbeats()).not.toBe(beatsBefore), SOON);
      expect([feed.tickets(web), feed.tickets(db)]).toEqual([webBefore, dbNow]);
      expect(feed.tickets(db)).toBe(dbNow);
      await b.release(db);
      await vi.waitFor(() => expect(feed.tickets(db)).toHaveLength(1), SOON);
      expect(feed.heartbeats().has('node-b')).toBe(false);
      expect(feed.tickets(web)).toBe(webBefore);
    } finally {
      feed.close();
      await Promise.all([a.release(web), a.release(db), b.release(db), b.endHeartbeat()]);
    }
  });

  it("orders the queue by the tickets' places, whatever the drains' clocks say, and a continuation keeps its place", async () => {
    const pdb = `order-${Date.now()}/web`;
    // a's clock runs 10 s ahead: by acquireTime b would be first
    const a = new KubeTurns(drainer(), 'node-a', () => Date.now() + 10_000);
    const [b, aAgain] = [new KubeTurns(drainer(), 'node-b'), new KubeTurns(drainer(), 'node-a')];
    const feed = await b.follow(() => {});
    try {
      await queueAll(feed, pdb, [a, b]);
      const before = feed.tickets(pdb);

      expect([...before].sort(byQueue).map((t) => t.holder)).toEqual(['node-a', 'node-b']);
      expect(new TurnView('node-b').holds(before, feed.heartbeats(), 1, Date.now())).toBe(false);
      // a continuation of a's drain queues again (its place kept) and beats: the tickets stay as they were
      const queued = feed.heartbeats().get('node-a');
      await aAgain.take(pdb);
      await aAgain.heartbeat();
      await vi.waitFor(() => expect(feed.heartbeats().get('node-a')).not.toBe(queued), SOON);
      expect(feed.tickets(pdb)).toBe(before);
    } finally {
      feed.close();
      await Promise.all([a.release(pdb), b.release(pdb), a.endHeartbeat()]);
    }
  });

  it("keeps a beating head's turn past the lease, and passes it over once its heartbeat stops", async () => {
    const pdb = `beats-${Date.now()}/web`;
    const [a, b] = [new KubeTurns(drainer(), 'node-a'), new KubeTurns(drainer(), 'node-b')];
    const feed = await b.follow(() => {});
    const view = new TurnView('node-b');
    // the view's clock is the test's: 4 s between heartbeats, under the 6 s lease
    const T0 = Date.now();
    try {
      await queueAll(feed, pdb, [a, b]);
      expect(view.holds(feed.tickets(pdb), feed.heartbeats(), 1, T0)).toBe(false);
      for (let i = 1; i <= 3; i++) {
        const seen = feed.heartbeats();
        await a.heartbeat(); // created, then renewed
        await vi.waitFor(() => expect(feed.heartbeats()).not.toBe(seen), SOON);
        expect(view.holds(feed.tickets(pdb), feed.heartbeats(), 1, T0 + i * 4_000)).toBe(false);
      }
      const lastBeat = T0 + 3 * 4_000;
      expect(view.holds(feed.tickets(pdb), feed.heartbeats(), 1, lastBeat + TURN_LEASE_MS)).toBe(false);
      expect(view.holds(feed.tickets(pdb), feed.heartbeats(), 1, lastBeat + TURN_LEASE_MS + 1)).toBe(true);

      // its last ticket given back deletes its lease; queued again, it is behind b
      await a.release(pdb);
      await vi.waitFor(() => expect(feed.heartbeats().has('node-a')).toBe(false), SOON);
      await a.take(pdb);
      await vi.waitFor(() => expect(feed.tickets(pdb)).toHaveLength(2), SOON);
      expect([...feed.tickets(pdb)].sort(byQueue).map((t) => t.holder)).toEqual(['node-b', 'node-a']);
    } finally {
      feed.close();
      await Promise.all([a.release(pdb), b.release(pdb), a.endHeartbeat()]);
    }
  });
});

describe('drainLeaseName', () => {
  it('is the same for a node across invocations, and a valid object name', () => {
    const name = drainLeaseName('ip-10-0-1-23.ec2.internal');

    expect(name).toBe(drainLeaseName('ip-10-0-1-23.ec2.internal'));
    expect(name).not.toBe(drainLeaseName('ip-10-0-1-24.ec2.internal'));
    expect(name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  });
});
