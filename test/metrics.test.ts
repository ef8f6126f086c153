import { describe, expect, it } from 'vitest';
import type { DrainReport } from '../lambda/drain/drain.js';
import { NO_TOTALS } from '../lambda/drain/progress.js';
import { invocationMetrics } from '../lambda/metrics.js';

const report = (extra: Partial<DrainReport> = {}): DrainReport => ({
  outcome: 'drained',
  dryRun: false,
  evicted: ['a/x', 'a/y'],
  skipped: [],
  warnings: [],
  blocked: [],
  deleted: [],
  remaining: [],
  evictionRequests: 5,
  evictionRefusals: 3,
  throttled: 0,
  errors: [],
  invocation: {
    evicted: 2,
    deleted: 0,
    evictionRequests: 5,
    evictionRefusals: 3,
    throttled: 0,
    errors: 0,
    staleReads: 0,
  },
  startedAt: '2026-11-21T10:00:00.000Z',
  durationMs: 12_500,
  progress: { offeredAt: {}, totals: NO_TOTALS },
  ...extra,
});

function directivesOf(record: Record<string, unknown> | undefined): { Dimensions: string[][] }[] {
  return (
    (record?._aws as { CloudWatchMetrics: { Dimensions: string[][] }[] } | undefined)?.CloudWatchMetrics ?? []
  );
}

describe('invocationMetrics', () => {
  it('emits an EMF record with the drain figures per cluster+ASG and per cluster', () => {
    const record = invocationMetrics(
      'EksNodeDrainer',
      { cluster: 'prod', autoScalingGroup: 'web' },
      { outcome: 'drained', report: report() },
      1_700_000_000_000,
    );

    expect(record).toEqual({
      _aws: {
        Timestamp: 1_700_000_000_000,
        CloudWatchMetrics: [
          {
            Namespace: 'EksNodeDrainer',
            Dimensions: [['Cluster', 'AutoScalingGroup'], ['Cluster']],
            Metrics: [
              { Name: 'DrainDuration', Unit: 'Seconds' },
              { Name: 'PodsEvicted', Unit: 'Count' },
              { Name: 'PodsDeleted', Unit: 'Count' },
              { Name: 'EvictionsRefused', Unit: 'Count' },
              { Name: 'EvictionsThrottled', Unit: 'Count' },
              { Name: 'ApiErrors', Unit: 'Count' },
            ],
          },
        ],
      },
      Cluster: 'prod',
      AutoScalingGroup: 'web',
      DrainDuration: 12.5,
      PodsEvicted: 2,
      PodsDeleted: 0,
      EvictionsRefused: 3,
      EvictionsThrottled: 0,
      ApiErrors: 0,
    });
  });

  it.each([
    ['action-expired', 'ActionExpired'],
    ['already-completed', 'AlreadyCompleted'],
    ['joined', 'JoinedDrains'],
    ['spot-unconfirmed', 'UnconfirmedSpotWarnings'],
    ['instance-not-terminating', 'RefusedManualDrains'],
  ] as const)('counts outcome %s as metric %s (alarmed by the stack)', (outcome, metric) => {
    const record = invocationMetrics('NS', { cluster: 'prod', autoScalingGroup: 'web' }, { outcome }, 0);

    expect(record?.[metric]).toBe(1);
  });

  it("counts only this invocation's own share of a drain that continued across invocations", () => {
    // the third invocation of a drain: 110 pods evicted in all, 10 of them by this one; the errors
    // the first one saw are in the totals, not in this invocation
    const continued = report({
      evicted: Array.from({ length: 110 }, (_, i) => `a/p${i}`),
      evictionRefusals: 40,
      errors: ['list pods: HTTP 503'],
      invocation: {
        evicted: 10,
        deleted: 1,
        evictionRequests: 12,
        evictionRefusals: 2,
        throttled: 1,
        errors: 0,
        staleReads: 2,
      },
    });

    const record = invocationMetrics('NS', { cluster: 'prod' }, { outcome: 'drained', report: continued }, 0);

    expect(record).toMatchObject({
      PodsEvicted: 10,
      PodsDeleted: 1,
      EvictionsRefused: 2,
      EvictionsThrottled: 1,
      ApiErrors: 0,
      StaleReads: 2,
    });
  });

  it('counts failed heartbeats', () => {
    const record = invocationMetrics(
      'NS',
      { cluster: 'prod', autoScalingGroup: 'web' },
      { outcome: 'drained', report: report(), heartbeatFailures: 3 },
      0,
    );

    expect(record?.HeartbeatFailures).toBe(3);
  });

  it('counts a deadline by policy in a separate, still low-cardinality dimension set', () => {
    const record = invocationMetrics(
      'NS',
      { cluster: 'prod', autoScalingGroup: 'web' },
      { outcome: 'deadline-abandoned', report: report({ deleted: [] }) },
      0,
    );

    expect(record?.DeadlineReached).toBe(1);
    expect(record?.Policy).toBe('abandon');
    const directives = directivesOf(record);
    expect(directives[1]).toEqual({
      Namespace: 'NS',
      Dimensions: [['Cluster', 'Policy']],
      Metrics: [{ Name: 'DeadlineReached', Unit: 'Count' }],
    });
  });

  it.each([
    ['node-not-found', 'NodeNotFound'],
    ['continued-in-new-invocation', 'Continuations'],
    ['invalid-event', 'InvalidEvents'],
    ['failed', 'Errors'],
    ['spot-interrupted', 'SpotInterruptions'],
    ['rebalance-cordoned', 'RebalanceCordons'],
    ['foreign-instance', 'ForeignInstances'],
    ['scheduled-replacement-requested', 'ScheduledReplacements'],
    ['warm-pool-restored', 'WarmPoolRestores'],
    ['node-lost', 'NodesLost'],
    ['lost-node-restored', 'LostNodesRestored'],
  ] as const)('counts %s as %s', (outcome, metric) => {
    expect(invocationMetrics('NS', { cluster: 'prod' }, { outcome }, 0)?.[metric]).toBe(1);
  });

  it('counts a lost node once: a repeat notice (terminated after shutting-down) adds nothing', () => {
    expect(
      invocationMetrics('NS', { cluster: 'prod' }, { outcome: 'node-lost', lostRepeat: true }, 0),
    ).toBeUndefined();
  });

  it('never uses node or pod names as dimensions', () => {
    const record = invocationMetrics(
      'NS',
      { cluster: 'prod', autoScalingGroup: 'web' },
      { outcome: 'drained', report: report() },
      0,
    );
    const directives = directivesOf(record);
    expect(new Set(directives.flatMap((d) => d.Dimensions.flat()))).toEqual(
      new Set(['Cluster', 'AutoScalingGroup']),
    );
  });

  it('records nothing for an ignored event', () => {
    expect(invocationMetrics('NS', { cluster: 'prod' }, { outcome: 'ignored' }, 0)).toBeUndefined();
  });
});
