import { backoffDelay } from './concurrency.js';
import {
  DEFAULT_DRAIN_TUNING,
  type DeadlinePolicy,
  type DrainOutcome,
  type DrainReport,
  drainNode,
  errorMessage,
} from './drain.js';
import type {
  Clock,
  ClusterPort,
  ContinuationPort,
  InstancePort,
  LifecyclePort,
  LifecycleResult,
  Logger,
} from './ports.js';

export type HandlerOutcome =
  | Exclude<DrainOutcome, 'paused'>
  | 'continued-in-new-invocation'
  | 'already-completed'
  | 'ignored'
  | 'invalid-event';

export interface LifecycleRunSettings {
  readonly instanceId: string;
  /** When the lifecycle action began (epoch ms); the drain deadline counts from here. */
  readonly startedAt: number;
  readonly attempt: number;
  /** Epoch ms when this invocation must have handed over (its own end, less a margin). */
  readonly pauseAt: number;
  readonly drainTimeoutSeconds: number;
  readonly onDrainTimeout: DeadlinePolicy;
  readonly dryRun: boolean;
  readonly heartbeatIntervalSeconds: number;
  readonly maxConcurrentEvictions: number;
}

export interface LifecycleRunPorts {
  readonly cluster: ClusterPort;
  readonly lifecycle: LifecyclePort;
  readonly instances: InstancePort;
  readonly continuation: ContinuationPort;
}

export interface LifecycleRunReport {
  readonly outcome: HandlerOutcome;
  readonly node?: string;
  readonly attempt: number;
  /** What was sent to CompleteLifecycleAction (null: nothing sent). */
  readonly lifecycleResult: LifecycleResult | null;
  readonly drain: DrainReport;
}

const COMPLETE_ATTEMPTS = 5;

/**
 * Answers one lifecycle action: heartbeats while the node drains, hands over to a new invocation
 * before this one runs out of time, and completes the action with the result the outcome calls for.
 */
export async function runLifecycleAction(
  settings: LifecycleRunSettings,
  ports: LifecycleRunPorts,
  deps: { readonly clock: Clock; readonly log: Logger },
): Promise<LifecycleRunReport> {
  const { log } = deps;
  const stopHeartbeat = settings.dryRun ? () => {} : startHeartbeat(ports.lifecycle, settings, log);
  let drain: DrainReport;
  try {
    const nodeName = await ports.instances.privateDnsName(settings.instanceId).catch((error: unknown) => {
      log.warn('instance lookup failed; finding the node by providerID', { error: errorMessage(error) });
      return undefined;
    });
    drain = await drainNode(
      ports.cluster,
      {
        ...DEFAULT_DRAIN_TUNING,
        target: { instanceId: settings.instanceId, ...(nodeName ? { nodeName } : {}) },
        startedAt: settings.startedAt,
        deadline: settings.startedAt + settings.drainTimeoutSeconds * 1000,
        pauseAt: settings.pauseAt,
        onDeadline: settings.onDrainTimeout,
        dryRun: settings.dryRun,
        maxConcurrentEvictions: settings.maxConcurrentEvictions,
      },
      deps,
    );
  } finally {
    stopHeartbeat();
  }
  const base = { attempt: settings.attempt, drain, ...(drain.node ? { node: drain.node } : {}) };

  if (drain.outcome === 'paused') {
    // A failure here throws: the asynchronous invocation is retried with the same event, which
    // resumes the drain from the lifecycle action's start (every step is safe to repeat).
    await ports.continuation.continueLater({ startedAt: settings.startedAt, attempt: settings.attempt + 1 });
    log.info('drain continues in a new invocation', { attempt: settings.attempt + 1 });
    return { ...base, outcome: 'continued-in-new-invocation', lifecycleResult: null };
  }
  // DRY_RUN never completes the lifecycle action (a real drain may be answering it)
  if (settings.dryRun) return { ...base, outcome: 'dry-run', lifecycleResult: null };

  const result: LifecycleResult = drain.outcome === 'deadline-abandoned' ? 'ABANDON' : 'CONTINUE';
  const completion = await completeWithRetry(ports.lifecycle, result, deps);
  if (completion === 'already-completed') {
    log.warn('lifecycle action was already completed or expired', { result });
    return { ...base, outcome: 'already-completed', lifecycleResult: result };
  }
  return { ...base, outcome: drain.outcome, lifecycleResult: result };
}

function startHeartbeat(lifecycle: LifecyclePort, settings: LifecycleRunSettings, log: Logger): () => void {
  const beat = (): void => {
    lifecycle
      .heartbeat()
      .catch((error: unknown) => log.warn('heartbeat failed', { error: errorMessage(error) }));
  };
  beat(); // a continuation starts with a fresh heartbeat window
  const timer = setInterval(beat, settings.heartbeatIntervalSeconds * 1000);
  timer.unref?.();
  return () => clearInterval(timer);
}

/** Throttling and transient failures are retried; after the last attempt the error propagates. */
async function completeWithRetry(
  lifecycle: LifecyclePort,
  result: LifecycleResult,
  deps: { readonly clock: Clock; readonly log: Logger },
): Promise<'completed' | 'already-completed'> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await lifecycle.complete(result);
    } catch (error) {
      if (attempt >= COMPLETE_ATTEMPTS) throw error;
      deps.log.warn('complete lifecycle action failed; retrying', { attempt, error: errorMessage(error) });
      await deps.clock.sleep(backoffDelay(attempt, { initialMs: 500, maxMs: 8_000 }, deps.clock.random));
    }
  }
}
