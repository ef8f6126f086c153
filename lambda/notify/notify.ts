/**
 * Tells the notification topic how a node's drain ended, once, from the invocation that ended it.
 * It runs after the lifecycle actions were completed, and a failure to publish is a warning and a
 * metric, never the invocation's failure: the node's fate is settled, and a retried invocation would
 * drain nothing again (its first heartbeat finds the action gone). The publish is bounded in time.
 */
import { NOTIFICATIONS_FAILED_METRIC, type NotifyOn } from '../contract.js';
import type { Clock, Logger } from '../drain/ports.js';
import { errorMessage } from '../errors.js';
import type { JobReport } from '../job/job.js';
import type { HandlerOutcome } from '../outcome.js';
import { type DrainEndFacts, drainNotification, type Notification } from './message.js';
import { drainEnd, shouldNotify } from './policy.js';

/** The one call the notifier makes (lambda/aws/notifications.ts on SNS). */
export interface NotificationPort {
  /** Publishes the notification; answers the message id. Aborted by `signal`. */
  publish(notification: Notification, signal: AbortSignal): Promise<string | undefined>;
}

/** The longest a publish may add to the invocation. */
export const NOTIFY_TIMEOUT_MS = 5_000;

export interface NotifierSettings {
  readonly clusterName: string;
  readonly metricsNamespace: string;
  readonly notifications?: { readonly topicArn: string; readonly notifyOn: NotifyOn };
}

export interface NotifierDeps {
  readonly log: Logger;
  /** Writes a record as it is (the EMF metric of a failed publish). */
  readonly record: (record: Record<string, unknown>) => void;
  readonly clock: Clock;
  /** The topic's port, made on first use (the SNS client loads only for a drain that is told). */
  readonly port: () => Promise<NotificationPort>;
  /** The function's log group, for the message's log query. */
  readonly logGroup?: string;
  readonly timeoutMs?: number;
}

export type DrainEndInput = Omit<DrainEndFacts, 'cluster' | 'end' | 'endedAt' | 'logGroup'>;

/** Which drain an invocation ran: what asked for it, the instance, its group, the invocation. */
export interface DrainSubject {
  readonly trigger: DrainEndFacts['trigger'];
  readonly instanceId: string;
  readonly autoScalingGroup?: string;
  readonly requestId?: string;
}

/** The facts of a node's job as an invocation ends it (a Spot drain's report also has its hard end). */
export function drainEndOf(
  run: Omit<JobReport, 'outcome'> & { readonly outcome: HandlerOutcome; readonly hardEnd?: string },
  subject: DrainSubject,
): DrainEndInput {
  return {
    ...subject,
    outcome: run.outcome,
    lifecycleResult: run.lifecycleResult,
    completed: run.completed,
    attempt: run.attempt,
    ...(run.node ? { node: run.node } : {}),
    ...(run.drain ? { report: run.drain } : {}),
    ...(run.release ? { release: run.release } : {}),
    ...(run.limits ? { deadline: run.limits.deadline } : {}),
    ...(run.hardEnd ? { hardEnd: run.hardEnd } : {}),
  };
}

export class DrainNotifier {
  constructor(
    private readonly settings: NotifierSettings,
    private readonly deps: NotifierDeps,
  ) {}

  /** Publishes the notification of this drain's end when the settings want it; never throws. */
  async drainEnded(input: DrainEndInput): Promise<'published' | 'failed' | 'not-wanted'> {
    const { notifications, clusterName } = this.settings;
    const end = drainEnd(input.outcome, input.report?.outcome, input.trigger);
    if (!notifications || !end || !shouldNotify(end, notifications.notifyOn)) return 'not-wanted';
    const { log, clock } = this.deps;
    const topicArn = notifications.topicArn;
    try {
      const notification = drainNotification({
        ...input,
        cluster: clusterName,
        end,
        endedAt: clock.now(),
        ...(this.deps.logGroup ? { logGroup: this.deps.logGroup } : {}),
      });
      const signal = AbortSignal.timeout(this.deps.timeoutMs ?? NOTIFY_TIMEOUT_MS);
      const port = await this.deps.port();
      const messageId = await port.publish(notification, signal);
      log.info('drain notification published', { topicArn, messageId, subject: notification.subject });
      return 'published';
    } catch (error) {
      // the error's name tells NotFound from AuthorizationError from a timeout
      log.warn('drain notification failed', {
        topicArn,
        error: errorMessage(error),
        ...(error instanceof Error ? { errorName: error.name } : {}),
      });
      this.deps.record(failedMetric(this.settings, clock.now()));
      return 'failed';
    }
  }
}

/** NotificationsFailed as an EMF record, by cluster. */
function failedMetric(settings: NotifierSettings, timestamp: number): Record<string, unknown> {
  return {
    _aws: {
      Timestamp: timestamp,
      CloudWatchMetrics: [
        {
          Namespace: settings.metricsNamespace,
          Dimensions: [['Cluster']],
          Metrics: [{ Name: NOTIFICATIONS_FAILED_METRIC, Unit: 'Count' }],
        },
      ],
    },
    Cluster: settings.clusterName,
    [NOTIFICATIONS_FAILED_METRIC]: 1,
  };
}
