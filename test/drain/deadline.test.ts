import { describe, expect, it } from 'vitest';
import type { DeadlinePolicy } from '../../lambda/contract.js';
import {
  awaitingServerAnswer,
  deletable,
  everyEligibleHadItsWindow,
  evictionWindowMs,
  offeredLongEnough,
  policyEndsAt,
} from '../../lambda/drain/deadline.js';
import { DEFAULT_DRAIN_TUNING, type DrainOptions, drainNode } from '../../lambda/drain/drain.js';
import type { PdbInfo, PodSnapshot } from '../../lambda/drain/model.js';
import { newTrack, type Track } from '../../lambda/drain/track.js';
import { type LogEntry, memoryLogger } from '../../scripts/harness/memory-logger.js';
import { FakeCluster, pod, VirtualClock } from '../support/fakes.js';

const T0 = 1_700_000_000_000;
const WINDOW = 10_000;

function offered(name: string, at: number | undefined, extra: Partial<Track> = {}): Track {
  return { ...newTrack(pod(name), false, 'pending', at), ...extra };
}

describe('evictionWindowMs', () => {
  it('is the configured minimum when the drain timeout is longer', () => {
    expect(evictionWindowMs(60_000, T0, T0 + 300_000)).toBe(60_000);
  });

  it('is never longer than the whole drain timeout', () => {
    expect(evictionWindowMs(60_000, T0, T0 + 20_000)).toBe(20_000);
  });

  it('is zero, not negative, when the deadline lies before the start', () => {
    expect(evictionWindowMs(60_000, T0, T0 - 5_000)).toBe(0);
  });
});

describe('offeredLongEnough', () => {
  it('is false for a pod never offered an eviction', () => {
    expect(offeredLongEnough(offered('a', undefined), T0 + 1_000_000, WINDOW)).toBe(false);
  });

  it('is true once exactly the window has passed since the first offer', () => {
    expect(offeredLongEnough(offered('a', T0), T0 + WINDOW, WINDOW)).toBe(true);
  });

  it('is false one millisecond before the window has passed', () => {
    expect(offeredLongEnough(offered('a', T0), T0 + WINDOW - 1, WINDOW)).toBe(false);
  });
});

describe('everyEligibleHadItsWindow', () => {
  it('is true when every eligible pod was offered for the window', () => {
    const tracks = [offered('a', T0), offered('b', T0 - 5_000)];

    expect(everyEligibleHadItsWindow(tracks, T0 + WINDOW, WINDOW)).toBe(true);
  });

  it('is false while one eligible pod is still within its window', () => {
    const tracks = [offered('a', T0 - WINDOW), offered('b', T0)];

    expect(everyEligibleHadItsWindow(tracks, T0 + 1, WINDOW)).toBe(false);
  });
});

describe('awaitingServerAnswer', () => {
  const none = () => false;

  it('waits for a pod the PDB status held back that no PDB has refused yet', () => {
    const held = offered('a', T0, { heldByPdb: true });

    expect(awaitingServerAnswer([held], none)).toBe(true);
  });

  it('waits for an eviction still in flight', () => {
    const flying = offered('a', T0);

    expect(awaitingServerAnswer([flying], (t) => t === flying)).toBe(true);
  });

  it('does not wait for a held pod a PDB refused, nor for one no longer pending', () => {
    const refused = offered('a', T0, { heldByPdb: true, pdbRefused: true });
    const evicted = offered('b', T0, { heldByPdb: true, state: 'evicted' });

    expect(awaitingServerAnswer([refused, evicted, offered('c', T0)], none)).toBe(false);
  });
});

describe('deletable', () => {
  it('keeps a PDB-refused pod offered for its window whose delete is due', () => {
    const track = offered('a', T0, { pdbRefused: true, nextDeleteAt: T0 + WINDOW });

    expect(deletable([track], T0 + WINDOW, WINDOW)).toEqual([track]);
  });

  it('leaves out a pod no PDB refused', () => {
    const track = offered('a', T0, { pdbRefused: false });

    expect(deletable([track], T0 + WINDOW, WINDOW)).toEqual([]);
  });

  it('leaves out a PDB-refused pod still within its window', () => {
    const track = offered('a', T0, { pdbRefused: true });

    expect(deletable([track], T0 + WINDOW - 1, WINDOW)).toEqual([]);
  });

  it('leaves out a pod whose failed delete is not due again yet', () => {
    const track = offered('a', T0, { pdbRefused: true, nextDeleteAt: T0 + WINDOW + 1 });

    expect(deletable([track], T0 + WINDOW, WINDOW)).toEqual([]);
  });
});

describe('policyEndsAt', () => {
  it('allows one window, the longest grace period and the margin', () => {
    const tracks = [
      newTrack(pod('a', { gracePeriodSeconds: 30 }), false, 'pending', T0),
      newTrack(pod('b', { gracePeriodSeconds: 90 }), false, 'terminating', T0),
    ];

    expect(policyEndsAt(T0, tracks, WINDOW, 5_000)).toBe(T0 + WINDOW + 90_000 + 5_000);
  });

  it('allows the window and the margin alone when nothing is left', () => {
    expect(policyEndsAt(T0, [], WINDOW, 5_000)).toBe(T0 + WINDOW + 5_000);
  });

  it('allows twice that while a critical pod still waits for its first offer', () => {
    const tracks = [
      newTrack(pod('web', { gracePeriodSeconds: 30 }), false, 'pending', T0),
      newTrack(pod('dns', { gracePeriodSeconds: 30 }), true, 'pending'),
    ];

    expect(policyEndsAt(T0, tracks, WINDOW, 5_000)).toBe(T0 + 2 * (WINDOW + 30_000 + 5_000));
  });

  it('allows one phase when the critical pod was already offered an eviction', () => {
    const tracks = [newTrack(pod('dns', { gracePeriodSeconds: 30 }), true, 'pending', T0)];

    expect(policyEndsAt(T0, tracks, WINDOW, 5_000)).toBe(T0 + WINDOW + 30_000 + 5_000);
  });

  it('allows one phase when the un-offered critical pod is already terminating', () => {
    const tracks = [newTrack(pod('dns', { gracePeriodSeconds: 30 }), true, 'terminating')];

    expect(policyEndsAt(T0, tracks, WINDOW, 5_000)).toBe(T0 + WINDOW + 30_000 + 5_000);
  });

  it('allows one phase when only ordinary pods wait for their first offer', () => {
    const tracks = [newTrack(pod('web', { gracePeriodSeconds: 30 }), false, 'pending')];

    expect(policyEndsAt(T0, tracks, WINDOW, 5_000)).toBe(T0 + WINDOW + 30_000 + 5_000);
  });
});

// ---- the deadline policy in a drain ----------------------------------------------------------

function drainSetup(pods: PodSnapshot[], options: Partial<DrainOptions> = {}, terminationMs = 1_000) {
  const clock = new VirtualClock(T0);
  const cluster = new FakeCluster(clock, pods, terminationMs);
  const logs: LogEntry[] = [];
  const run = (more: Partial<DrainOptions> = {}) =>
    drainNode(
      cluster,
      {
        ...DEFAULT_DRAIN_TUNING,
        target: { nodeName: 'node-a' },
        startedAt: T0,
        deadline: T0 + 5_000,
        onDeadline: 'continue',
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

const CARRIED_TOTALS = {
  evicted: [],
  deleted: [],
  evictionRequests: 1,
  evictionRefusals: 1,
  throttled: 0,
  errors: [],
};

describe('drainNode at the deadline', () => {
  it('applies the policy exactly at the deadline once every pod had its window, and records why', async () => {
    const { clock, cluster, run } = drainSetup([pod('a'), pod('b')], { minEvictionWindowMs: 0 });
    cluster.evictor = (ref) =>
      ref.name === 'a' ? { kind: 'pdb-blocked', message: 'no' } : { kind: 'evicted' };

    const report = await run();

    expect(report.outcome).toBe('deadline-continued');
    expect(clock.t).toBe(T0 + 5_000);
    expect(cluster.events.find((e) => e.reason === 'DrainDeadlineReached')).toEqual({
      reason: 'DrainDeadlineReached',
      type: 'Warning',
      message: '1 pod(s) still blocked, policy continue; 1 evicted, 0 skipped, 0 deleted',
      subject: 'node-a',
    });
  });

  it.each([
    ['continue', 'deadline-continued'],
    ['abandon', 'deadline-abandoned'],
  ] as const)('with policy %s, keeps evicting until every pod had its window', async (policy, outcome) => {
    const { clock, cluster, run } = drainSetup([pod('a')], {
      onDeadline: policy,
      startedAt: T0 - 60_000,
      minEvictionWindowMs: 20_000,
    });
    cluster.evictor = () => ({ kind: 'pdb-blocked', message: 'no' });

    const report = await run();

    expect(report.outcome).toBe(outcome);
    // the window's end is noticed within a poll interval
    expect(clock.t - T0).toBeGreaterThanOrEqual(20_000);
    expect(clock.t - T0).toBeLessThan(20_500);
    expect(report.remaining).toEqual(['default/a']);
  });

  it('reports as blocked what is still blocked when the policy ends the drain', async () => {
    const { clock, cluster, run } = drainSetup([pod('a'), pod('b')], {
      startedAt: T0 - 60_000,
      minEvictionWindowMs: 10_000,
    });
    cluster.evictor = (ref) =>
      ref.name === 'b' && clock.t >= T0 + 7_000
        ? { kind: 'evicted' }
        : { kind: 'pdb-blocked', message: 'no' };

    const report = await run();

    expect(report.outcome).toBe('deadline-continued');
    expect(report.blocked.map((b) => b.pod)).toEqual(['default/a']);
  });

  it('ends at the end of the policy phase even while a pod that came late still has its window', async () => {
    const late = pod('late', { gracePeriodSeconds: 0 });
    const { clock, cluster, run } = drainSetup([pod('a', { gracePeriodSeconds: 0 })], {
      startedAt: T0 - 60_000,
      deadline: T0 + 1_000,
      minEvictionWindowMs: 10_000,
      deleteWaitMarginMs: 0,
    });
    cluster.evictor = () => ({ kind: 'pdb-blocked', message: 'no' });
    void clock.sleep(5_000).then(() => cluster.pods.set(late.uid, late));

    const report = await run();

    expect(report.outcome).toBe('deadline-continued');
    // the phase began at the 1 s deadline: one 10 s window, no grace period, no margin
    expect(clock.t).toBe(T0 + 11_000);
  });

  it.each([
    ['delete', 'deadline-deleted'],
    ['continue', 'deadline-continued'],
    ['abandon', 'deadline-abandoned'],
  ] as const)(
    'with policy %s, ends %s when the cluster is unreachable until the deadline',
    async (policy, outcome) => {
      const { cluster, run } = drainSetup([pod('a')], {
        onDeadline: policy as DeadlinePolicy,
        minEvictionWindowMs: 0,
      });
      cluster.failures.findNode = Number.POSITIVE_INFINITY;

      const report = await run();

      expect(report.outcome).toBe(outcome);
    },
  );

  it('gives a drain that starts late its window to reach the cluster', async () => {
    const { cluster, run } = drainSetup([pod('a')], {
      onDeadline: 'delete',
      startedAt: T0 - 3_600_000,
      deadline: T0 - 2_700_000,
      minEvictionWindowMs: 20_000,
    });
    cluster.failures.findNode = 3;

    const report = await run();

    expect(report.outcome).toBe('drained');
    expect(report.evicted).toEqual(['default/a']);
  });

  it('deletes a pod a PDB refused in an earlier invocation, though now its evictions fail otherwise', async () => {
    const { cluster, run } = drainSetup([pod('a')], {
      onDeadline: 'delete',
      deadline: T0 - 1_000,
      minEvictionWindowMs: 30_000,
    });
    cluster.evictor = () => ({ kind: 'failed', message: 'HTTP 500', status: 500 });

    const report = await run({
      resume: { offeredAt: { 'uid-a': T0 - 40_000 }, pdbRefused: ['uid-a'], totals: CARRIED_TOTALS },
    });

    expect(report.deleted).toEqual(['default/a']);
    expect(report.outcome).toBe('deadline-deleted');
    // deleted in the first round, before any eviction of this invocation
    expect(cluster.count('evict')).toBe(0);
    expect(report.errors).toEqual([]);
  });

  it('deletes a pod whose eviction more than one PDB refuses, and says so', async () => {
    const { cluster, run } = drainSetup([pod('a')], { onDeadline: 'delete', minEvictionWindowMs: 1_000 });
    cluster.evictor = () => ({
      kind: 'multiple-pdbs',
      message: 'This pod has more than one PodDisruptionBudget',
    });

    const report = await run();

    expect(report.deleted).toEqual(['default/a']);
    expect(report.blocked).toMatchObject([{ pod: 'default/a', reason: 'multiple-pdbs' }]);
    expect(report.evictionRefusals).toBe(report.evictionRequests);
    expect(report.errors).toEqual([]);
  });

  it('does not report a pod deleted that was gone before the delete', async () => {
    const { cluster, run } = drainSetup([pod('a')], { onDeadline: 'delete', minEvictionWindowMs: 1_000 });
    cluster.pdbs = [blockingPdb('a')];
    cluster.evictor = () => ({ kind: 'pdb-blocked', message: 'no' });
    cluster.deletePod = async (ref) => {
      cluster.requests.push(`delete ${ref.name}`);
      cluster.pods.delete(ref.uid);
      return 'gone';
    };

    const report = await run();

    expect(cluster.count('delete a')).toBe(1);
    expect(report.deleted).toEqual([]);
    expect(report.outcome).toBe('drained');
  });

  it('retries a failed delete with growing backoff', async () => {
    const { clock, cluster, run } = drainSetup([pod('a')], {
      onDeadline: 'delete',
      minEvictionWindowMs: 1_000,
    });
    cluster.pdbs = [blockingPdb('a')];
    cluster.evictor = () => ({ kind: 'pdb-blocked', message: 'no' });
    const deletes: number[] = [];
    cluster.deletePod = async () => {
      deletes.push(clock.t - T0);
      if (deletes.length < 4) throw new Error('read ECONNRESET');
      return 'deleted';
    };

    await run();

    // at least 150, 300, 600 ms apart (the loop wakes for the next retry of an eviction, or the poll)
    const gaps = deletes.slice(1).map((t, i) => t - (deletes[i] ?? 0));
    expect(gaps).toHaveLength(3);
    expect(gaps.map((gap, i) => gap >= 150 * 2 ** i)).toEqual([true, true, true]);
  });
});
