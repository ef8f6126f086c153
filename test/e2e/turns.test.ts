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
import { TURN_LEASE_MS } from '../../lambda/drain/turn-queue.js';
import { KubeCluster } from '../../lambda/kube/cluster.js';
import { KubeTurns, PDB_ANNOTATION, TICKET_LABEL, ticketName } from '../../lambda/kube/turns.js';
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
  logs: LogEntry[] = [],
  cluster = new KubeCluster(drainer()),
): Promise<DrainReport> {
  const now = Date.now();
  return drainNode(
    cluster,
    {
      ...DEFAULT_DRAIN_TUNING,
      target: { nodeName: node },
      startedAt: now,
      deadline: now + 120_000,
      onDeadline: 'continue',
      dryRun: false,
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

/** The tickets left in the drainer's namespace for the world's PDB. */
async function ticketsOf(w: SharedWorld): Promise<string[]> {
  const { items } = await admin()
    .makeApiClient(CoordinationV1Api)
    .listNamespacedLease({ namespace: DRAINER_NAMESPACE, labelSelector: TICKET_LABEL });
  return items
    .filter((l) => l.metadata?.annotations?.[PDB_ANNOTATION] === `${w.namespace}/shared-0`)
    .map((l) => l.spec?.holderIdentity ?? '');
}

describe('drains that share a PDB', () => {
  it.each([2, 5])('evict in turns, %i at once: the server refuses none of them', async (count) => {
    const w = await sharedWorld(`turns-${count}`, count);
    const health = w.sim.monitor(w.namespace, { app: 'shared-0' });
    await w.openSpare();

    const reports = await Promise.all(w.nodes.map((node) => drain(node.name)));

    expect(reports.map((r) => r.outcome)).toEqual(reports.map(() => 'drained'));
    // Uncoordinated, 5 drains see 3 refusals here (2 drains: 0-1). Coordinated, none, but for one in
    // some 5-drain runs (1 of the 2 clean-clone CI runs on v1.32 of this stop): five drains that queue
    // within the same few milliseconds are ordered by acquireTime, their own clocks, while each sees the
    // others' tickets in the order the server created them; a ticket created after a drain saw its own
    // can still sort ahead of it, and both evict once (docs/how-it-works.md, turns: a known gap).
    const refusals = reports.reduce((n, r) => n + r.evictionRefusals, 0);
    expect(refusals).toBeLessThanOrEqual(count === 5 ? 1 : 0);
    expect(reports.reduce((n, r) => n + r.evictionRequests, 0)).toBe(count + refusals);
    expect(health.minHealthy).toBeGreaterThanOrEqual(count - 1);
    expect(await ticketsOf(w)).toEqual([]);
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
      const lagging = drain(
        second,
        [],
        new KubeCluster(kubeConfigFor({ ...inject('cluster'), server: proxy.url }, 'drainer')),
      );
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
    await new KubeTurns(admin(), 'dead-node', () => Date.now() - 60_000).take(`${w.namespace}/shared-0`);
    const started = Date.now();

    const report = await drain(w.nodes[0]?.name ?? '');

    const [termination] = [...w.sim.terminations.values()];
    expect(report.outcome).toBe('drained');
    expect(report.evictionRefusals).toBe(0);
    expect(termination?.startedAt).toBeGreaterThanOrEqual(started + TURN_LEASE_MS - 500);
    expect(termination?.startedAt).toBeLessThan(started + TURN_LEASE_MS + 5_000);
    expect(await ticketsOf(w)).toEqual(['dead-node']);
    await new KubeTurns(admin(), 'dead-node').release(`${w.namespace}/shared-0`);
  });

  it('keeps the place of a drain that hands over: its ticket stays for the continuation', async () => {
    const w = await sharedWorld('turns-handover', 2);
    const [first, second] = w.nodes.map((n) => n.name);
    // the spare stays closed: once the first node's pod is evicted, the PDB allows nothing more
    expect((await drain(first ?? '')).outcome).toBe('drained');
    const now = Date.now();

    const paused = await drainNode(
      new KubeCluster(drainer()),
      {
        ...DEFAULT_DRAIN_TUNING,
        target: { nodeName: second ?? '' },
        startedAt: now,
        deadline: now + 120_000,
        pauseAt: now + 2_000,
        onDeadline: 'continue',
        dryRun: false,
        turns: (holder) => new KubeTurns(drainer(), holder),
      },
      { clock: systemClock, log: memoryLogger([]) },
    );

    expect(paused.outcome).toBe('paused');
    expect(paused.evictionRequests).toBe(0);
    expect(await ticketsOf(w)).toEqual([second]);
    await new KubeTurns(admin(), second ?? '').release(`${w.namespace}/shared-0`);
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
      const reports = await Promise.all(w.nodes.map((node) => drain(node.name, logs)));

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

describe('KubeTurns', () => {
  it("tells the newest release of another drain's ticket by its deletion's resourceVersion, never its own", async () => {
    const pdb = `releases-${Date.now()}/web`;
    const [mine, other] = [new KubeTurns(drainer(), 'node-b'), new KubeTurns(drainer(), 'node-a')];
    const feed = await mine.follow(() => {});
    try {
      await other.take(pdb);
      await mine.take(pdb);
      await vi.waitFor(() => expect(feed.tickets(pdb)).toHaveLength(2), { timeout: 5_000, interval: 20 });
      const queued = feed.tickets(pdb).map((t) => BigInt(t.version ?? '0'));
      expect(feed.releasedAt(pdb)).toBeUndefined();

      await other.release(pdb);
      await vi.waitFor(() => expect(feed.releasedAt(pdb)).toBeDefined(), { timeout: 5_000, interval: 20 });
      const released = feed.releasedAt(pdb) ?? '';
      for (const version of queued) expect(BigInt(released)).toBeGreaterThan(version);
      await mine.release(pdb);
      await vi.waitFor(() => expect(feed.tickets(pdb)).toHaveLength(0), { timeout: 5_000, interval: 20 });

      expect(feed.releasedAt(pdb)).toBe(released);
      expect(feed.releasedAt(`${pdb}-other`)).toBeUndefined();
    } finally {
      feed.close();
    }
  });
});

describe('KubeTurns feed', () => {
  it('wakes the drain for a release and for its own ticket, not for another drain queueing or renewing', async () => {
    const pdb = `wakes-${Date.now()}/web`;
    const [mine, other] = [new KubeTurns(drainer(), 'node-a'), new KubeTurns(drainer(), 'node-b')];
    let wakes = 0;
    const feed = await mine.follow(() => wakes++);
    try {
      const listed = wakes;
      await mine.take(pdb);
      await vi.waitFor(() => expect(wakes).toBe(listed + 1), { timeout: 5_000, interval: 20 });
      await other.take(pdb);
      await vi.waitFor(() => expect(feed.tickets(pdb)).toHaveLength(2), { timeout: 5_000, interval: 20 });
      const version = feed.tickets(pdb).find((t) => t.holder === 'node-b')?.version;
      await other.renew(pdb);
      await vi.waitFor(
        () => expect(feed.tickets(pdb).find((t) => t.holder === 'node-b')?.version).not.toBe(version),
        { timeout: 5_000, interval: 20 },
      );
      expect(wakes).toBe(listed + 1);

      await other.release(pdb);
      await vi.waitFor(() => expect(wakes).toBe(listed + 2), { timeout: 5_000, interval: 20 });
      expect(feed.tickets(pdb).map((t) => t.holder)).toEqual(['node-a']);
    } finally {
      feed.close();
      await Promise.all([mine.release(pdb), other.release(pdb)]);
    }
  });

  it("keeps a PDB's tickets the same array until one of them changes (the drains' turn answers are kept per array)", async () => {
    const [web, db] = [`same-${Date.now()}/web`, `same-${Date.now()}/db`];
    const [a, b] = [new KubeTurns(drainer(), 'node-a'), new KubeTurns(drainer(), 'node-b')];
    const feed = await a.follow(() => {});
    try {
      await a.take(web);
      await a.take(db);
      await vi.waitFor(() => expect(feed.tickets(db)).toHaveLength(1), { timeout: 5_000, interval: 20 });
      const [webBefore, dbBefore] = [feed.tickets(web), feed.tickets(db)];

      await b.take(db);
      await vi.waitFor(() => expect(feed.tickets(db)).toHaveLength(2), { timeout: 5_000, interval: 20 });

      expect(feed.tickets(web)).toBe(webBefore);
      expect(feed.tickets(db)).not.toBe(dbBefore);
      const dbNow = feed.tickets(db);
      await b.renew(db);
      await vi.waitFor(() => expect(feed.tickets(db)).not.toBe(dbNow), { timeout: 5_000, interval: 20 });
      expect(feed.tickets(web)).toBe(webBefore);
    } finally {
      feed.close();
      await Promise.all([a.release(web), a.release(db), b.release(db)]);
    }
  });
});

describe('ticketName', () => {
  it('is the same for a PDB and node across invocations, and a valid object name', () => {
    const name = ticketName('shop/web', 'ip-10-0-1-23.ec2.internal');

    expect(name).toBe(ticketName('shop/web', 'ip-10-0-1-23.ec2.internal'));
    expect(name).not.toBe(ticketName('shop/web', 'ip-10-0-1-24.ec2.internal'));
    expect(name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  });
});
