import { describe, expect, it } from 'vitest';
import { DEFAULT_DRAIN_TUNING, type DrainOptions, drainNode } from '../../lambda/drain/drain.js';
import { addTotals, type DrainTotals, MAX_CARRIED_NAMES, NO_TOTALS } from '../../lambda/drain/progress.js';
import { MAX_ATTEMPTS } from '../../lambda/job/continuation.js';
import { memoryLogger } from '../../scripts/harness/memory-logger.js';
import { FakeCluster, pod, VirtualClock } from '../support/fakes.js';

const T0 = 1_700_000_000_000;

function totals(extra: Partial<DrainTotals>): DrainTotals {
  return { ...NO_TOTALS, ...extra };
}

describe('NO_TOTALS', () => {
  it('counts nothing', () => {
    expect(NO_TOTALS).toEqual({
      evicted: [],
      deleted: [],
      evictionRequests: 0,
      evictionRefusals: 0,
      throttled: 0,
      errors: [],
    });
  });
});

describe('continuation limits', () => {
  it('allow 48 h of 14-minute invocations and a few hundred pods with room to spare', () => {
    expect(MAX_ATTEMPTS).toBe(210);
    expect(MAX_CARRIED_NAMES).toBe(1_000);
  });
});

describe('addTotals', () => {
  it('adds the counts and appends the lists of the later invocation', () => {
    const earlier = totals({
      evicted: ['default/a'],
      deleted: ['default/x'],
      evictionRequests: 5,
      evictionRefusals: 3,
      throttled: 1,
      errors: ['list pods: timeout'],
    });
    const later = totals({
      evicted: ['default/b'],
      deleted: ['default/y'],
      evictionRequests: 2,
      evictionRefusals: 1,
      throttled: 4,
      errors: ['cordon: 403'],
    });

    expect(addTotals(earlier, later, 20)).toEqual({
      evicted: ['default/a', 'default/b'],
      deleted: ['default/x', 'default/y'],
      evictionRequests: 7,
      evictionRefusals: 4,
      throttled: 5,
      errors: ['list pods: timeout', 'cordon: 403'],
    });
  });

  it('reports an error seen in both invocations once', () => {
    const sum = addTotals(totals({ errors: ['same', 'a'] }), totals({ errors: ['same', 'b'] }), 20);

    expect(sum.errors).toEqual(['same', 'a', 'b']);
  });

  it('keeps at most the given number of errors, the earliest first', () => {
    const sum = addTotals(totals({ errors: ['a', 'b'] }), totals({ errors: ['c'] }), 2);

    expect(sum.errors).toEqual(['a', 'b']);
  });

  it('caps the carried pod lists at MAX_CARRIED_NAMES, the earliest first', () => {
    const many = Array.from({ length: MAX_CARRIED_NAMES }, (_, i) => `default/p${i}`);

    const sum = addTotals(
      totals({ evicted: many, deleted: many }),
      totals({ evicted: ['x'], deleted: ['y'] }),
      20,
    );

    expect(sum.evicted).toHaveLength(MAX_CARRIED_NAMES);
    expect(sum.evicted.at(-1)).toBe(`default/p${MAX_CARRIED_NAMES - 1}`);
    expect(sum.deleted).toHaveLength(MAX_CARRIED_NAMES);
    expect(sum.deleted).not.toContain('y');
  });
});

function drainSetup(options: Partial<DrainOptions> = {}) {
  const clock = new VirtualClock(T0);
  const cluster = new FakeCluster(clock, [pod('a')]);
  const run = () =>
    drainNode(
      cluster,
      {
        ...DEFAULT_DRAIN_TUNING,
        target: { nodeName: 'node-a' },
        startedAt: T0,
        deadline: T0 + 60_000,
        onDeadline: 'delete',
        dryRun: false,
        ...options,
      },
      { clock, log: memoryLogger([]) },
    );
  return { clock, cluster, run };
}

describe('drainNode, handing over to the next invocation', () => {
  it('pauses exactly at pauseAt and reports what is still blocked', async () => {
    const { clock, cluster, run } = drainSetup({ pauseAt: T0 + 3_000 });
    cluster.evictor = () => ({ kind: 'pdb-blocked', message: 'no' });

    const report = await run();

    expect(report.outcome).toBe('paused');
    expect(clock.t).toBe(T0 + 3_000);
    expect(report.durationMs).toBe(3_000);
    expect(report.startedAt).toBe(new Date(T0).toISOString());
    expect(report.blocked).toMatchObject([{ pod: 'default/a', reason: 'pdb' }]);
  });

  it('pauses, with no deadline outcome, when the cluster stays unreachable until pauseAt', async () => {
    const { clock, cluster, run } = drainSetup({ pauseAt: T0 + 2_000 });
    cluster.failures.findNode = Number.POSITIVE_INFINITY;

    const report = await run();

    expect(report.outcome).toBe('paused');
    expect(clock.t - T0).toBeLessThan(2_000);
  });

  it('hands over the end of a deadline policy phase that has begun', async () => {
    const { cluster, run } = drainSetup({
      deadline: T0 + 1_000,
      pauseAt: T0 + 3_000,
      minEvictionWindowMs: 500,
    });
    cluster.evictor = () => ({ kind: 'failed', message: 'HTTP 500' });

    const report = await run();

    expect(report.outcome).toBe('paused');
    // the phase began at the 1 s deadline: a 500 ms window, a 30 s grace period, a 10 s margin
    expect(report.progress.policyEndsAt).toBe(T0 + 1_000 + 500 + 30_000 + 10_000);
  });

  it('ends deadline-deleted when an earlier invocation deleted pods and this one finds the node empty', async () => {
    const { cluster, run } = drainSetup({
      resume: { offeredAt: {}, totals: { ...NO_TOTALS, deleted: ['default/x'] } },
    });
    cluster.pods.clear();

    const report = await run();

    expect(report.outcome).toBe('deadline-deleted');
    expect(report.deleted).toEqual(['default/x']);
  });
});
