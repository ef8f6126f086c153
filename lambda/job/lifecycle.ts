/**
 * A termination lifecycle action of the drainer's hook: the instance waits in Terminating:Wait until
 * the node's job (job.ts) completes the action. What is this action's own: a hand-made event's
 * checks, and the first heartbeat (an action already completed or expired is not drained again).
 */
import type { DeadlinePolicy } from '../contract.js';
import { Heartbeat } from './heartbeat.js';
import { type JobInvocation, type JobPorts, type JobReport, runJob } from './job.js';
import type { Clock, Logger } from './ports.js';
import type { ActionRef, JobRequest } from './record.js';

const TERMINATING_WAIT = 'Terminating:Wait';

export interface LifecycleRunSettings extends JobInvocation {
  readonly action: ActionRef;
  /** When the lifecycle action began (epoch ms, clamped); its drain deadline counts from here. */
  readonly startedAt: number;
  readonly drainTimeoutSeconds: number;
  readonly onDrainTimeout: DeadlinePolicy;
  /** The event had no token (a manual invoke): drain only an instance that is really terminating. */
  readonly handMade: boolean;
  /** The manual invoke said --force: drain even an instance that is not terminating. */
  readonly force: boolean;
  /** The instance goes to the warm pool and comes back with the same node. */
  readonly toWarmPool: boolean;
}

export type LifecycleRunReport =
  | JobReport
  | (Omit<JobReport, 'outcome'> & {
      /** A hand-made event (no token) for an instance that is not in Terminating:Wait, without force. */
      readonly outcome: 'instance-not-terminating';
    });

/** One id per lifecycle action: a duplicate delivery of it is the same request. */
export function terminationRequestId(action: ActionRef): string {
  return `termination:${action.token ?? `${action.group}/${action.hook}/${action.instanceId}`}`;
}

export async function runLifecycleAction(
  settings: LifecycleRunSettings,
  ports: JobPorts,
  deps: { readonly clock: Clock; readonly log: Logger },
): Promise<LifecycleRunReport> {
  const { log } = deps;
  const lifecycle = ports.lifecycle(settings.action);
  const heartbeat = new Heartbeat(lifecycle, settings.heartbeatIntervalSeconds * 1000, deps);
  const none = { attempt: settings.attempt, lifecycleResult: null, completed: [] };

  if (settings.handMade && !settings.force && !settings.dryRun) {
    const state = await lifecycle.state();
    if (state !== TERMINATING_WAIT) {
      log.error('refusing a hand-made event for an instance that is not terminating', {
        lifecycleState: state ?? 'unknown',
        hint: 'npm run invoke -- --force drains it anyway',
      });
      return { ...none, outcome: 'instance-not-terminating', heartbeats: heartbeat.counts() };
    }
  }

  // a continuation starts with a fresh heartbeat window; an action already completed (a repeated
  // delivery) or timed out is not drained again, unless a person forced a drain without one
  const first = settings.dryRun ? 'recorded' : await heartbeat.beat();
  const withoutAction = first === 'expired' && settings.handMade && settings.force;
  if (first === 'expired' && !withoutAction) {
    log.warn('lifecycle action was already completed or expired before the drain started');
    return { ...none, outcome: 'already-completed', heartbeats: heartbeat.counts() };
  }
  if (withoutAction)
    log.warn('forced drain of an instance with no active lifecycle action: nothing to complete');

  const request: JobRequest = {
    id: terminationRequestId(settings.action),
    kind: 'termination',
    instanceId: settings.action.instanceId,
    startedAt: settings.startedAt,
    deadline: settings.startedAt + settings.drainTimeoutSeconds * 1000,
    policy: settings.onDrainTimeout,
    ...(withoutAction ? {} : { action: settings.action }),
    ...(settings.toWarmPool ? { comesBack: true } : {}),
  };
  return runJob(
    {
      ...settings,
      request,
      target: { instanceId: settings.action.instanceId },
      hookName: settings.action.hook,
    },
    ports,
    deps,
    withoutAction || settings.dryRun ? undefined : heartbeat,
  );
}
