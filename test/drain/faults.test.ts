import { describe, expect, it } from 'vitest';
import { DEFAULT_DRAIN_TUNING, type DrainOptions, drainNode } from '../../lambda/drain/drain.js';
import type { PdbInfo, PodSnapshot } from '../../lambda/drain/model.js';
import { NO_TOTALS } from '../../lambda/drain/progress.js';
import { type LogEntry, memoryLogger } from '../../scripts/harness/memory-logger.js';
import { FakeCluster, pod, VirtualClock } from '../support/fakes.js';

const T0 = 1_700_000_000_000;

function setup(pods: PodSnapshot[], options: Partial<DrainOptions> = {}, terminationMs = 1_000) {
  const clock = new VirtualClock(T0);
  const cluster = new FakeCluster(clock, pods, terminationMs);
  const logs: LogEntry[] = [];
  const run = (more: Partial<DrainOptions> = {}) =>
    drainNode(
      cluster,
      {
        ...DEFAULT_DRAIN_TUNING,
        target: { nodeName: 'node-a' },
        startedAt: clock.t,
        deadline: clock.t + 60_000,
        onDeadline: 'delete',
        dryRun: false,
        ...options,
        ...more,
      },
      { clock, log: memoryLogger(logs) },
    );
  return { clock, cluster, logs, run };
}

const blockingPdb = (app: string): PdbInfo => ({
  namespace: 'default',
  name: `${app}-pdb`,
  selector: { matchLabels: { app } },
  disruptionsAllowed: 0,
  currentHealthy: 1,
  desiredHealthy: 1,
});

describe('drainNode, a late start', () => {
  it('still offers every pod an eviction for the window before the deadline policy deletes', async () => {
    // the action began an hour ago: the 15-minute deadline passed long before this drain started
    const { clock, cluster, run } = setup([pod('a'), pod('b')], {
      startedAt: T0 - 3_600_000,
      deadline: T0 - 2_700_000,
      minEvictionWindowMs: 20_000,
    });
    cluster.pdbs = [blockingPdb('a')];
    cluster.evictor = (ref) =>
      ref.name === 'a' ? { kind: 'pdb-blocked', message: 'no' } : { kind: 'evicted' };

    const report = await run();

    expect(report.evicted).toEqual(['default/b']);
    expect(report.deleted).toEqual(['default/a']);
    const deleteAt = cluster.requests.indexOf('delete a');
    expect(cluster.requests.slice(0, deleteAt).filter((r) => r === 'evict a').length).toBeGreaterThan(1);
    // the delete came only after the window
    expect(clock.t - T0).toBeGreaterThanOrEqual(20_000);
  });

  it('never deletes a pod that was not offered an eviction: critical pods get their own window first', async () => {
    const { cluster, run } = setup(
      [pod('web'), pod('dns', { priorityClassName: 'system-cluster-critical' })],
      { deadline: T0 + 5_000, minEvictionWindowMs: 5_000, deleteWaitMarginMs: 2_000 },
    );
    cluster.pdbs = [blockingPdb('web'), blockingPdb('dns')];
    cluster.evictor = () => ({ kind: 'pdb-blocked', message: 'no' });

    const report = await run();

    expect(report.outcome).toBe('deadline-deleted');
    expect(report.deleted).toEqual(['default/web', 'default/dns']);
    // order: web is deleted, dns is offered an eviction only after web is gone, and deleted after that
    const firstDnsEviction = cluster.requests.indexOf('evict dns');
    expect(cluster.requests.indexOf('delete web')).toBeLessThan(firstDnsEviction);
    expect(firstDnsEviction).toBeLessThan(cluster.requests.indexOf('delete dns'));
  });

  it('does not delete a pod whose evictions failed for another reason than a PDB', async () => {
    const { cluster, run } = setup([pod('a')], { deadline: T0 + 5_000, minEvictionWindowMs: 1_000 });
    cluster.evictor = () => ({ kind: 'failed', message: 'HTTP 403: forbidden', status: 403 });

    const report = await run();

    expect(report.outcome).toBe('deadline-deleted');
    expect(cluster.count('delete')).toBe(0);
    expect(report.remaining).toEqual(['default/a']);
    expect(report.blocked).toMatchObject([{ pod: 'default/a', reason: 'error' }]);
  });
});

describe('drainNode, faults in the middle of a drain', () => {
  it('does not count a pod as gone on a 409: it waits until the list no longer has its UID', async () => {
    const { cluster, run } = setup([pod('a')]);
    cluster.evictor = (_, call) =>
      call < 3
        ? { kind: 'failed', message: 'Operation cannot be fulfilled', status: 409 }
        : { kind: 'evicted' };

    const report = await run();

    expect(report.outcome).toBe('drained');
    expect(report.evicted).toEqual(['default/a']);
    expect(cluster.count('evict a')).toBe(3);
  });

  it('treats a 429 without a PDB as throttling: reported apart, Retry-After honoured, not a refusal', async () => {
    const { clock, cluster, run } = setup([pod('a')]);
    const at: number[] = [];
    cluster.evictor = (_, call) => {
      at.push(clock.t);
      return call === 1
        ? { kind: 'throttled', message: 'Too many requests', retryAfterMs: 4_000 }
        : { kind: 'evicted' };
    };

    const report = await run();

    expect(report.outcome).toBe('drained');
    expect(report.throttled).toBe(1);
    expect(report.evictionRefusals).toBe(0);
    expect((at[1] ?? 0) - (at[0] ?? 0)).toBeGreaterThanOrEqual(4_000);
  });

  it('retries a delete at the deadline that failed, instead of leaving the pod behind', async () => {
    const { cluster, run } = setup([pod('a')], { deadline: T0 + 3_000, minEvictionWindowMs: 1_000 });
    cluster.pdbs = [blockingPdb('a')];
    cluster.evictor = () => ({ kind: 'pdb-blocked', message: 'no' });
    let deletes = 0;
    const realDelete = cluster.deletePod.bind(cluster);
    cluster.deletePod = async (ref) => {
      deletes++;
      if (deletes < 3) throw new Error('read ECONNRESET');
      return realDelete(ref);
    };

    const report = await run();

    expect(deletes).toBe(3);
    expect(report.deleted).toEqual(['default/a']);
    expect(report.remaining).toEqual([]);
    expect(report.errors).toContain('delete default/a: read ECONNRESET');
  });

  it('stops at once when its signal aborts, even while a call hangs', async () => {
    const { clock, cluster, run } = setup([pod('a')]);
    cluster.evictor = () => new Promise(() => {}); // the API server never answers
    const controller = new AbortController();
    void clock.sleep(1_000).then(() => controller.abort());

    const report = await run({ signal: controller.signal });

    expect(report.outcome).toBe('stopped');
    expect(report.remaining).toEqual(['default/a']);
  });
});

describe('drainNode across invocations', () => {
  it('reports the whole drain: totals carried in, offers remembered', async () => {
    const { cluster, run } = setup([pod('a')], { deadline: T0 + 1_000, minEvictionWindowMs: 30_000 });
    cluster.pdbs = [blockingPdb('a')];
    cluster.evictor = () => ({ kind: 'pdb-blocked', message: 'no' });

    const report = await run({
      resume: {
        // offered 40 s ago in an earlier invocation: its window has passed
        offeredAt: { 'uid-a': T0 - 40_000 },
        pdbRefused: ['uid-a'],
        totals: {
          evicted: ['default/x', 'default/y'],
          deleted: [],
          evictionRequests: 7,
          evictionRefusals: 5,
          throttled: 1,
          errors: ['earlier'],
        },
      },
    });

    expect(report.outcome).toBe('deadline-deleted');
    expect(report.evicted).toEqual(['default/x', 'default/y']);
    expect(report.deleted).toEqual(['default/a']);
    expect(report.evictionRequests).toBeGreaterThan(7);
    expect(report.throttled).toBe(1);
    expect(report.errors).toContain('earlier');
    // deleted without waiting for a new window: the carried offer counts
    expect(cluster.requests.indexOf('delete a')).toBeGreaterThan(-1);
  });

  it('hands its memory to the next invocation when it pauses', async () => {
    const { cluster, run } = setup([pod('a')], { pauseAt: T0 + 3_000 });
    cluster.pdbs = [blockingPdb('a')];
    cluster.evictor = () => ({ kind: 'pdb-blocked', message: 'no' });

    const report = await run();

    expect(report.outcome).toBe('paused');
    expect(report.progress.offeredAt).toEqual({ 'uid-a': T0 });
    expect(report.progress.pdbRefused).toEqual(['uid-a']);
    expect(report.progress.totals.evictionRefusals).toBeGreaterThan(0);
  });

  it('bounds the deadline policy once: a continuation ends at the carried end, not a new one', async () => {
    const { clock, cluster, run } = setup([pod('a')], { deadline: T0 - 10_000, minEvictionWindowMs: 1_000 });
    cluster.evictor = () => ({ kind: 'failed', message: 'HTTP 500', status: 500 });

    const report = await run({
      resume: { offeredAt: { 'uid-a': T0 - 5_000 }, policyEndsAt: T0 + 4_000, totals: NO_TOTALS },
    });

    expect(report.outcome).toBe('deadline-deleted');
    expect(clock.t).toBe(T0 + 4_000);
  });

  it('gives a pod never offered its window even when a continuation carries a policy end in the past', async () => {
    const { clock, cluster, run } = setup([pod('a', { gracePeriodSeconds: 5 })], {
      startedAt: T0 - 900_000,
      deadline: T0 - 600_000,
      minEvictionWindowMs: 20_000,
    });
    cluster.pdbs = [blockingPdb('a')];
    cluster.evictor = () => ({ kind: 'pdb-blocked', message: 'no' });
    const deletedAt: number[] = [];
    const deletePod = cluster.deletePod.bind(cluster);
    cluster.deletePod = async (ref, options) => {
      deletedAt.push(clock.t - T0);
      return deletePod(ref, options);
    };

    const report = await run({ resume: { offeredAt: {}, policyEndsAt: T0 - 60_000, totals: NO_TOTALS } });

    expect(report.outcome).toBe('deadline-deleted');
    expect(report.evictionRequests).toBeGreaterThan(1);
    // offered at once, deleted only once its 20 s window passed, and the phase waited for it to go
    expect(deletedAt[0]).toBeGreaterThanOrEqual(20_000);
    expect(report.remaining).toEqual([]);
  });
});

describe('drainNode, an unreachable cluster', () => {
  it('gives a late first invocation its window to reach the cluster before the policy decides', async () => {
    const { clock, cluster, run } = setup([pod('a')], {
      startedAt: T0 - 50_000,
      deadline: T0 - 20_000,
      minEvictionWindowMs: 10_000,
      onDeadline: 'continue',
    });
    cluster.failures.findNode = Number.POSITIVE_INFINITY;

    const report = await run();

    expect(report.outcome).toBe('deadline-continued');
    expect(clock.t - T0).toBeGreaterThanOrEqual(10_000 - 5_000); // the window, give or take one backoff step
  });

  it('does not give a continuation another window: it ends at the deadline', async () => {
    const { clock, cluster, run } = setup([pod('a')], {
      startedAt: T0 - 50_000,
      deadline: T0 + 1_000,
      minEvictionWindowMs: 30_000,
      onDeadline: 'continue',
      resume: { offeredAt: {}, totals: NO_TOTALS },
    });
    cluster.failures.findNode = Number.POSITIVE_INFINITY;

    const report = await run();

    expect(report.outcome).toBe('deadline-continued');
    expect(clock.t - T0).toBeLessThan(10_000);
  });
});
