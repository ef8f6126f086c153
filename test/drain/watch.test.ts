/**
 * The drain with watches (ClusterPort.followNode), on virtual time: it reads the feed instead of
 * listing, retries a PDB-refused eviction the moment the PDB allows a disruption, notices a pod
 * leaving at once, lists instead when the watch cannot be had or gives up (logged once), and closes
 * the feed however the run ends.
 */
import { describe, expect, it } from 'vitest';
import type { DrainOptions } from '../../lambda/drain/drain.js';
import type { PdbInfo, PodSnapshot } from '../../lambda/drain/model.js';
import { REFOLLOW_MS } from '../../lambda/drain/view.js';
import { drainSetup, pod, VirtualClock, WatchedCluster } from '../support/fakes.js';

const WEB_PDB: PdbInfo = {
  namespace: 'default',
  name: 'web',
  selector: { matchLabels: { app: 'web' } },
  disruptionsAllowed: 0,
  currentHealthy: 2,
  desiredHealthy: 2,
};

function setup(pods: PodSnapshot[], options: Partial<DrainOptions> = {}, terminationMs = 1_000) {
  return drainSetup((clock) => new WatchedCluster(clock, pods, terminationMs), options);
}

/** The PDB refuses while its status allows nothing; the test opens it at a chosen time. */
function guardedByPdb(clock: VirtualClock, cluster: WatchedCluster) {
  cluster.pdbs = [WEB_PDB];
  const evictedAt: number[] = [];
  cluster.evictor = () => {
    if ((cluster.pdbs[0]?.disruptionsAllowed ?? 0) === 0) {
      return {
        kind: 'pdb-blocked',
        message: 'Cannot evict pod as it would violate the pod’s disruption budget.',
        pdbName: 'web',
      };
    }
    evictedAt.push(clock.now());
    return { kind: 'evicted' };
  };
  const openAt = (at: number) =>
    void clock.sleep(at - clock.now()).then(() => {
      cluster.pdbs = [{ ...WEB_PDB, disruptionsAllowed: 1 }];
      cluster.change();
    });
  return { evictedAt, openAt };
}

describe('drainNode with watches', () => {
  it('retries a PDB-refused eviction the moment the PDB allows a disruption', async () => {
    const { clock, cluster, run } = setup([pod('web-1', { labels: { app: 'web' } })]);
    const { evictedAt, openAt } = guardedByPdb(clock, cluster);
    const t0 = clock.t;
    openAt(t0 + 1_234);

    const report = await run();

    expect(report.outcome).toBe('drained');
    expect(evictedAt).toEqual([t0 + 1_234]);
  });

  it('acts on a PDB allowing a disruption while another eviction request is still unanswered', async () => {
    const { clock, cluster, run } = setup([pod('web-1', { labels: { app: 'web' } }), pod('slow')]);
    const { evictedAt, openAt } = guardedByPdb(clock, cluster);
    const pdbEvictor = cluster.evictor;
    // the eviction of `slow` takes 2 s to be answered
    cluster.evictor = async (ref, call) =>
      ref.name === 'slow'
        ? clock.sleep(2_000).then(() => ({ kind: 'evicted' as const }))
        : pdbEvictor(ref, call);
    const t0 = clock.t;
    openAt(t0 + 500);

    const report = await run();

    expect(report.outcome).toBe('drained');
    expect(evictedAt).toEqual([t0 + 500]);
  });

  it('sends an eviction only while the PDB has a disruption left: none refused, none late', async () => {
    const ready = (name: string) => pod(name, { labels: { app: 'web' }, ready: true });
    const { clock, cluster, run } = setup([ready('web-1'), ready('web-2'), ready('web-3')], {}, 2_000);
    let status = { ...WEB_PDB, disruptionsAllowed: 1, resourceVersion: '1' };
    let version = 1;
    const write = (allowed: number, disrupted: string[]) => {
      version++;
      status = {
        ...status,
        disruptionsAllowed: allowed,
        disruptedPods: disrupted,
        resourceVersion: `${version}`,
      };
      cluster.pdbs = [status];
      cluster.change();
    };
    cluster.pdbs = [status];
    const evictedAt: number[] = [];
    // as the API server does: refuse at 0, else count the eviction in the status; the replacement is
    // Ready 500 ms later and the disruption controller allows the next one
    cluster.evictor = (ref) => {
      if (status.disruptionsAllowed === 0) return { kind: 'pdb-blocked', message: 'budget', pdbName: 'web' };
      write(status.disruptionsAllowed - 1, [ref.name]);
      evictedAt.push(clock.now());
      void clock.sleep(500).then(() => write(status.disruptionsAllowed + 1, []));
      return { kind: 'evicted' };
    };
    const t0 = clock.t;

    const report = await run();

    expect(report.outcome).toBe('drained');
    expect(report.evictionRefusals).toBe(0);
    expect(evictedAt).toEqual([t0, t0 + 500, t0 + 1_000]);
  });

  it('after losing a disruption to another drain, waits a random part of its backoff when the PDB allows again', async () => {
    const { clock, cluster, run } = setup([pod('web-1', { labels: { app: 'web' }, ready: true })]);
    cluster.pdbs = [{ ...WEB_PDB, disruptionsAllowed: 1, resourceVersion: '1' }];
    const sentAt: number[] = [];
    cluster.evictor = () => {
      sentAt.push(clock.now());
      // the first time another drain's eviction got there first
      return sentAt.length === 1
        ? { kind: 'pdb-blocked', message: 'budget', pdbName: 'web' }
        : { kind: 'evicted' };
    };
    const t0 = clock.t;
    void clock.sleep(50).then(() => {
      cluster.pdbs = [{ ...WEB_PDB, disruptionsAllowed: 1, resourceVersion: '2' }];
      cluster.change();
    });

    const report = await run();

    expect(report.outcome).toBe('drained');
    // not at the PDB's change (t0 + 50) but a random part of the backoff after it: 0 to 200 ms, the
    // clock's jitter 0.5 → 100 ms
    expect(sentAt).toEqual([t0, t0 + 50 + 100]);
  });

  it('at the deadline asks the server for a pod it held, so policy delete acts on a real refusal', async () => {
    const ready = (name: string) => pod(name, { labels: { app: 'web' }, ready: true, gracePeriodSeconds: 1 });
    const t0 = new VirtualClock().t;
    // the policy's phase ends long before the held pod's regular probe (HELD_PROBE_MS after the start)
    const options = { deadline: t0 + 10_000, minEvictionWindowMs: 2_000, deleteWaitMarginMs: 1_000 };
    const { cluster, run } = setup([ready('web-1'), ready('web-2')], options, 2_000);
    cluster.pdbs = [{ ...WEB_PDB, disruptionsAllowed: 1, resourceVersion: '1' }];
    // the first eviction takes the only disruption, and the replacement never turns Ready
    cluster.evictor = (ref) => {
      if (ref.name === 'web-1') {
        cluster.pdbs = [
          { ...WEB_PDB, disruptionsAllowed: 0, disruptedPods: ['web-1'], resourceVersion: '2' },
        ];
        cluster.change();
        return { kind: 'evicted' };
      }
      return { kind: 'pdb-blocked', message: 'budget', pdbName: 'web' };
    };

    const report = await run();

    expect(report.outcome).toBe('deadline-deleted');
    expect(report.deleted).toEqual(['default/web-2']);
    // held until the deadline (no refusal, no Event meanwhile), then asked once
    expect(cluster.requests.filter((r) => r === 'evict web-2')).toHaveLength(1);
  });

  it('follows the node with one feed and never lists its pods or the PDBs', async () => {
    const { clock, cluster, run } = setup(
      [pod('web-1', { labels: { app: 'web' } }), pod('b'), pod('c')],
      {},
      3_000,
    );
    guardedByPdb(clock, cluster).openAt(clock.t + 2_000);

    const report = await run();

    expect(report.outcome).toBe('drained');
    expect(cluster.count('followNode')).toBe(1);
    expect(cluster.count('listPods')).toBe(0);
    expect(cluster.count('listPdbs')).toBe(0);
    expect(cluster.closed).toBe(1);
  });

  it('notices a pod leaving when the watch says so, not at the next poll', async () => {
    const { clock, run } = setup([pod('a')], { pollIntervalMs: 5_000 }, 1_300);
    const t0 = clock.t;

    const report = await run();

    expect(report.outcome).toBe('drained');
    expect(clock.t - t0).toBe(1_300);
  });

  it('lists instead when no watch can be established, saying so once', async () => {
    const { cluster, logs, run } = setup([pod('a'), pod('b')], {}, 2_000);
    cluster.refuseWatch = true;

    const report = await run();

    expect(report.outcome).toBe('drained');
    expect(cluster.count('listPods')).toBeGreaterThan(2);
    expect(logs.filter((l) => l.message === 'watch unavailable: listing the node instead')).toHaveLength(1);
  });

  it('tries the watches again every REFOLLOW_MS while listing, and follows the node once they are back', async () => {
    const { clock, cluster, logs, run } = setup([pod('a')], {}, 70_000);
    cluster.refuseWatch = true;
    let listsWhileRefused = 0;
    void clock.sleep(2.5 * REFOLLOW_MS).then(() => {
      cluster.refuseWatch = false;
      listsWhileRefused = cluster.count('listPods');
    });

    const report = await run();

    expect(report.outcome).toBe('drained');
    // refused at the start and REFOLLOW_MS and 2 × REFOLLOW_MS later, had at 3 ×: no list after that
    expect(cluster.count('followNode')).toBe(4);
    expect(cluster.count('listPods')).toBeLessThanOrEqual(listsWhileRefused + 60);
    expect(logs.filter((l) => l.message === 'watch unavailable: listing the node instead')).toHaveLength(1);
    expect(logs.filter((l) => l.message === 'watches back: following the node again')).toHaveLength(1);
  });

  it('lists from the moment the watch gives up, saying so once, and closes the feed', async () => {
    const { clock, cluster, logs, run } = setup([pod('a')], {}, 3_000);
    void clock.sleep(1_000).then(() => {
      cluster.feedFailed = true;
    });

    const report = await run();

    expect(report.outcome).toBe('drained');
    expect(cluster.count('listPods')).toBeGreaterThan(1);
    expect(logs.filter((l) => l.message === 'watch gave up: listing the node instead')).toHaveLength(1);
    expect(cluster.closed).toBe(1);
  });

  it('closes the feed when the run is stopped by its caller', async () => {
    const controller = new AbortController();
    const { clock, cluster, run } = setup([pod('a')], { signal: controller.signal }, 60_000);
    void clock.sleep(2_000).then(() => controller.abort());

    const report = await run();

    expect(report.outcome).toBe('stopped');
    expect(cluster.closed).toBe(1);
  });
});
