/** CloudWatch metrics as Embedded Metric Format: one JSON log line, no API call, no extra latency. */

import type { DrainReport } from './drain/drain.js';
import type { ReleaseReport } from './job/release.js';
import type { HandlerOutcome } from './outcome.js';

export interface MetricDimensions {
  readonly cluster: string;
  /** Unknown for an invalid event. */
  readonly autoScalingGroup?: string;
}

type Unit = 'Count' | 'Seconds';

const DEADLINE_OUTCOMES: Partial<Record<HandlerOutcome, string>> = {
  'deadline-deleted': 'delete',
  'deadline-continued': 'continue',
  'deadline-abandoned': 'abandon',
};

/**
 * The invocation's metrics. Dimensions stay low-cardinality: cluster and ASG (plus the policy for
 * DeadlineReached), never node or pod names. Nothing to report (an ignored event): undefined.
 */
export function invocationMetrics(
  namespace: string,
  dimensions: MetricDimensions,
  result: {
    readonly outcome: HandlerOutcome | 'failed';
    readonly report?: DrainReport;
    readonly heartbeatFailures?: number;
    readonly release?: ReleaseReport;
    /** A lost node's release that an earlier notice (shutting-down before terminated) already did. */
    readonly lostRepeat?: boolean;
  },
  timestamp: number,
): Record<string, unknown> | undefined {
  const { outcome, report } = result;
  const values: [string, number, Unit][] = [];
  const add = (name: string, value: number, unit: Unit = 'Count'): void => {
    values.push([name, value, unit]);
  };
  if (outcome === 'failed') add('Errors', 1);
  if (outcome === 'invalid-event') add('InvalidEvents', 1);
  if (outcome === 'node-not-found') add('NodeNotFound', 1);
  if (outcome === 'continued-in-new-invocation') add('Continuations', 1);
  // the instance went (or was released) without this drain finishing: alarmed
  if (outcome === 'action-expired') add('ActionExpired', 1);
  if (outcome === 'already-completed') add('AlreadyCompleted', 1);
  // a notice (a duplicate, a Spot warning, a termination after a rebalance drain) joined a running drain
  if (outcome === 'joined') add('JoinedDrains', 1);
  if (outcome === 'instance-not-terminating') add('RefusedManualDrains', 1);
  if (outcome === 'spot-interrupted') add('SpotInterruptions', 1);
  if (outcome === 'spot-unconfirmed') add('UnconfirmedSpotWarnings', 1);
  if (outcome === 'rebalance-cordoned') add('RebalanceCordons', 1);
  if (outcome === 'foreign-instance') add('ForeignInstances', 1);
  if (outcome === 'warm-pool-restored') add('WarmPoolRestores', 1);
  // an instance went without the group's lifecycle: its pods were released at once (a repeat notice is not counted)
  if (outcome === 'node-lost' && !result.lostRepeat) add('NodesLost', 1);
  if (outcome === 'lost-node-restored') add('LostNodesRestored', 1);
  if (outcome === 'scheduled-replacement-requested') add('ScheduledReplacements', 1);
  if (result.heartbeatFailures) add('HeartbeatFailures', result.heartbeatFailures);
  const release = outcome === 'dry-run' ? undefined : result.release;
  if (release?.loadBalancers) add('LoadBalancerWait', release.loadBalancers.waitedMs / 1000, 'Seconds');
  if (release?.volumes) add('VolumeDetachWait', release.volumes.waitedMs / 1000, 'Seconds');
  if (report && outcome !== 'continued-in-new-invocation' && outcome !== 'dry-run') {
    add('DrainDuration', report.durationMs / 1000, 'Seconds');
  }
  if (report) {
    // this invocation's own share: a continuation does not count its predecessors' work again
    const mine = report.invocation;
    add('PodsEvicted', mine.evicted);
    add('PodsDeleted', mine.deleted);
    add('EvictionsRefused', mine.evictionRefusals);
    add('EvictionsThrottled', mine.throttled);
    add('ApiErrors', mine.errors);
    if (mine.staleReads > 0) add('StaleReads', mine.staleReads);
  }
  const policy = DEADLINE_OUTCOMES[outcome as HandlerOutcome];
  if (policy) add('DeadlineReached', 1);

  if (values.length === 0) return undefined;
  const base = {
    Cluster: dimensions.cluster,
    ...(dimensions.autoScalingGroup ? { AutoScalingGroup: dimensions.autoScalingGroup } : {}),
  };
  const dimensionSets = dimensions.autoScalingGroup
    ? [['Cluster', 'AutoScalingGroup'], ['Cluster']]
    : [['Cluster']];
  const directives: Record<string, unknown>[] = [
    {
      Namespace: namespace,
      Dimensions: dimensionSets,
      Metrics: values.map(([Name, , Unit]) => ({ Name, Unit })),
    },
  ];
  if (policy) {
    directives.push({
      Namespace: namespace,
      Dimensions: [['Cluster', 'Policy']],
      Metrics: [{ Name: 'DeadlineReached', Unit: 'Count' }],
    });
  }
  return {
    _aws: { Timestamp: timestamp, CloudWatchMetrics: directives },
    ...base,
    ...(policy ? { Policy: policy } : {}),
    ...Object.fromEntries(values.map(([name, value]) => [name, value])),
  };
}
