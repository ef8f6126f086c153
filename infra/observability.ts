/** The drainer's alarms and dashboard, on its EMF metrics, the function and the dead-letter queue. */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { ALARMED_METRICS } from '../lambda/contract.js';

export type DrainMetric = (name: string, statistic?: string) => cloudwatch.Metric;

export function drainMetrics(namespace: string, clusterName: string): DrainMetric {
  return (metricName, statistic = cloudwatch.Stats.SUM) =>
    new cloudwatch.Metric({
      namespace,
      metricName,
      dimensionsMap: { Cluster: clusterName },
      statistic,
      period: Duration.minutes(5),
    });
}

const WHEN_ABOVE_ZERO = {
  threshold: 0,
  comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
  evaluationPeriods: 1,
  treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
};

/** Every alarm means a node may have gone, or may go, without a finished drain. */
export function createAlarms(
  scope: Construct,
  fn: lambda.IFunction,
  deadLetterQueue: sqs.IQueue,
  metric: DrainMetric,
): cloudwatch.Alarm[] {
  return [
    new cloudwatch.Alarm(scope, 'DeadLetterAlarm', {
      alarmDescription: 'A node drain failed for good: its event is in the dead-letter queue',
      metric: deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
      ...WHEN_ABOVE_ZERO,
    }),
    new cloudwatch.Alarm(scope, 'ErrorAlarm', {
      alarmDescription: 'A node drain invocation failed (Lambda retries it, then dead-letters it)',
      metric: fn.metricErrors({ period: Duration.minutes(1), statistic: cloudwatch.Stats.SUM }),
      ...WHEN_ABOVE_ZERO,
    }),
    ...Object.entries(ALARMED_METRICS).map(
      ([name, description]) =>
        new cloudwatch.Alarm(scope, `${name}Alarm`, {
          alarmDescription: `${description} (see the drainer log and kubectl describe node)`,
          metric: metric(name),
          ...WHEN_ABOVE_ZERO,
          // a single failed heartbeat is retried at the next interval; several in a row are not noise
          ...(name === 'HeartbeatFailures' ? { threshold: 2 } : {}),
        }),
    ),
  ];
}

/** Each alarm tells the topic when it fires and when it clears. */
export function notifyOnAlarms(topic: sns.ITopic, alarms: readonly cloudwatch.Alarm[]): void {
  if (topic.fifo)
    throw new Error(`alarmTopic must be a standard SNS topic, got the FIFO topic ${topic.topicArn}`);
  const action = new cloudwatchActions.SnsAction(topic);
  for (const alarm of alarms) {
    alarm.addAlarmAction(action);
    alarm.addOkAction(action);
  }
}

/** One screen: is draining healthy, how long it takes, what blocks it, and is the function well. */
export function createDashboard(
  scope: Construct,
  clusterName: string,
  fn: lambda.IFunction,
  deadLetterQueue: sqs.IQueue,
  metric: DrainMetric,
): cloudwatch.Dashboard {
  const graph = (title: string, metrics: cloudwatch.IMetric[]) =>
    new cloudwatch.GraphWidget({ title, left: metrics, width: 8, height: 6 });
  return new cloudwatch.Dashboard(scope, 'Dashboard', {
    dashboardName: `eks-node-drainer-${clusterName}`,
    widgets: [
      [
        graph('Drain duration (s)', [
          metric('DrainDuration', cloudwatch.Stats.AVERAGE),
          metric('DrainDuration', cloudwatch.Stats.MAXIMUM),
        ]),
        graph('Pods evicted / evictions refused by PDBs / throttled', [
          metric('PodsEvicted'),
          metric('EvictionsRefused'),
          metric('EvictionsThrottled'),
          metric('PodsDeleted'),
        ]),
        graph('Deadlines, expired actions, nodes not found, continuations', [
          metric('DeadlineReached'),
          metric('ActionExpired'),
          metric('AlreadyCompleted'),
          metric('NodeNotFound'),
          metric('Continuations'),
        ]),
      ],
      [
        graph('Function', [fn.metricInvocations(), fn.metricErrors(), fn.metricThrottles()]),
        graph('Kubernetes API errors, heartbeat failures, invalid events', [
          metric('ApiErrors'),
          metric('HeartbeatFailures'),
          metric('InvalidEvents'),
          metric('DuplicateDeliveries'),
        ]),
        graph('Dead-letter queue', [deadLetterQueue.metricApproximateNumberOfMessagesVisible()]),
      ],
    ],
  });
}
