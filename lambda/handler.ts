/**
 * Composition root: the Lambda that EventBridge invokes for an ASG termination lifecycle action.
 * Parses config (once, at cold start) and the event, runs the drain on the container's adapters
 * (./wiring.ts, loaded by the first event that acts), and ends every invocation with one structured
 * log line carrying the outcome.
 */
import type { FunctionCheckReport } from './check/report.js';
import { type Config, loadConfig } from './config.js';
import type { DrainProgress } from './drain/continuation.js';
import { errorMessage } from './drain/drain.js';
import { type HandlerOutcome, type LifecycleRunReport, runLifecycleAction } from './drain/lifecycle.js';
import { type Clock, systemClock } from './drain/ports.js';
import { parseEvent } from './event.js';
import { JsonLogger } from './log.js';
import { invocationMetrics, type MetricDimensions } from './metrics.js';
import type { Wiring } from './wiring.js';

/** The parts of the Lambda context the handler uses. */
export interface InvocationContext {
  readonly invokedFunctionArn: string;
  readonly awsRequestId?: string;
  getRemainingTimeInMillis(): number;
}

export interface InvocationSummary {
  /** `check`: the answer to a check request (npm run doctor), in `check`. */
  readonly outcome: HandlerOutcome | 'check';
  readonly lifecycleResult: 'CONTINUE' | 'ABANDON' | null;
  readonly check?: FunctionCheckReport;
  readonly report?: LifecycleRunReport['drain'];
  readonly release?: LifecycleRunReport['release'];
}

/** Hand over this long before the invocation's own end (at most a quarter of what is left). */
const HANDOVER_MARGIN_MS = 60_000;
/** A lifecycle action lives at most 48 hours. */
const HOOK_MAX_LIFE_MS = 48 * 3_600_000;

const config: Config = loadConfig(process.env);
const log = new JsonLogger(config.logLevel);
const clock: Clock = systemClock;

// Per container, loaded by the first event that acts: the AWS SDK clients and the Kubernetes client.
let wiring: Promise<Wiring> | undefined;
function wired(): Promise<Wiring> {
  wiring ??= import('./wiring.js').then(
    ({ Wiring }) => new Wiring(config),
    (error: unknown) => {
      wiring = undefined;
      throw error;
    },
  );
  return wiring;
}

export async function handler(event: unknown, context: InvocationContext): Promise<InvocationSummary> {
  const began = clock.now();
  log.resetKeys();
  log.appendKeys({ cluster: config.clusterName, requestId: context.awsRequestId });
  const parsed = parseEvent(event);
  if (parsed.kind === 'invalid') {
    log.error('invalid event', { field: parsed.field, problem: parsed.problem });
    return finish({ outcome: 'invalid-event', lifecycleResult: null }, began, {
      cluster: config.clusterName,
    });
  }
  if (parsed.kind === 'check') return selfCheck(began);
  if (parsed.kind === 'ignored') {
    log.info('event ignored', { reason: parsed.reason });
    return finish({ outcome: 'ignored', lifecycleResult: null }, began, { cluster: config.clusterName });
  }

  const { action, continuation } = parsed;
  const dimensions = { cluster: config.clusterName, autoScalingGroup: action.autoScalingGroupName };
  const dryRun = config.dryRun || parsed.dryRun === true;
  log.appendKeys({
    instanceId: action.instanceId,
    asgName: action.autoScalingGroupName,
    hookName: action.hookName,
  });
  const remaining = context.getRemainingTimeInMillis();
  const pauseAt = began + remaining - Math.min(HANDOVER_MARGIN_MS, remaining / 4);
  // a hung call must not outlast the hand-over: the drain is stopped at pauseAt whatever it awaits
  const pauseSignal = AbortSignal.timeout(Math.max(0, Math.ceil(pauseAt - began)));
  const startedAt = clampStart(continuation?.startedAt ?? action.time ?? began, began);
  try {
    const wiring = await wired();
    // ---- foreign Auto Scaling groups (issue 13 §3): before any Kubernetes or lifecycle call ----
    if (!(await wiring.groups.serves(action.autoScalingGroupName))) {
      return finish({ outcome: 'foreign-auto-scaling-group', lifecycleResult: null }, began, {
        cluster: config.clusterName,
      });
    }
    const run = await runLifecycleAction(
      {
        instanceId: action.instanceId,
        startedAt,
        attempt: continuation?.attempt ?? 1,
        pauseAt,
        pauseSignal,
        drainTimeoutSeconds: config.drainTimeoutSeconds,
        onDrainTimeout: config.onDrainTimeout,
        dryRun,
        heartbeatIntervalSeconds: config.heartbeatIntervalSeconds,
        maxConcurrentEvictions: config.maxConcurrentEvictions,
        minEvictionWindowSeconds: config.minEvictionWindowSeconds,
        excludeFromLoadBalancers: config.excludeFromLoadBalancers,
        waitForLoadBalancers: config.waitForLoadBalancers,
        waitForVolumeDetach: config.waitForVolumeDetach,
        handMade: action.token === undefined,
        force: parsed.force === true,
        holder: continuation?.holder ?? context.awsRequestId ?? `invocation-${began}`,
        ...(continuation?.progress
          ? { progress: clampProgress(continuation.progress, startedAt, began) }
          : {}),
      },
      await wiring.forAction(action, context.invokedFunctionArn, event as Record<string, unknown>),
      { clock, log },
    );
    return finish(
      {
        outcome: run.outcome,
        lifecycleResult: run.lifecycleResult,
        ...(run.drain ? { report: run.drain } : {}),
        ...(run.release ? { release: run.release } : {}),
      },
      began,
      dimensions,
      run,
    );
  } catch (error) {
    // Only the hand-over or the completion can fail here; the async invocation retries the event.
    log.error('invocation failed', { error: errorMessage(error) });
    emitMetrics(dimensions, { outcome: 'failed' });
    throw error;
  }
}

/**
 * The read-only self-check (npm run doctor): the function's own view of the cluster, with its role and
 * network path. No metrics: not a drain.
 */
async function selfCheck(began: number): Promise<InvocationSummary> {
  const report = await (await wired()).selfCheck(clock);
  const failed = report.checks.filter((c) => c.status === 'fail').map((c) => c.id);
  (failed.length > 0 ? log.warn : log.info)('invocation finished', {
    outcome: 'check',
    lifecycleResult: null,
    durationMs: clock.now() - began,
    failed,
  });
  return { outcome: 'check', lifecycleResult: null, check: report };
}

/**
 * The drain counts from the lifecycle action's start: an event time (or a carried start) outside
 * [now − 48 h, now] is clamped, so a forged or skewed time can neither extend the drain nor push it
 * straight to the deadline (the eviction window still applies to a late start).
 */
export function clampStart(startedAt: number, now: number): number {
  return Math.min(now, Math.max(now - HOOK_MAX_LIFE_MS, startedAt));
}

/** Carried eviction offers lie within [the drain's start, now]: a forged time cannot skip the window. */
function clampProgress(progress: DrainProgress, startedAt: number, now: number): DrainProgress {
  const offeredAt = Object.fromEntries(
    Object.entries(progress.offeredAt).map(([uid, at]) => [uid, Math.min(now, Math.max(startedAt, at))]),
  );
  return { ...progress, offeredAt };
}

function emitMetrics(dimensions: MetricDimensions, result: Parameters<typeof invocationMetrics>[2]): void {
  const record = invocationMetrics(config.metricsNamespace, dimensions, result, clock.now());
  if (record) log.record(record);
}

function finish(
  summary: InvocationSummary & { readonly outcome: HandlerOutcome },
  began: number,
  dimensions: MetricDimensions,
  run?: LifecycleRunReport,
): InvocationSummary {
  const drain = summary.report;
  emitMetrics(dimensions, {
    outcome: summary.outcome,
    ...(drain ? { report: drain } : {}),
    ...(run ? { heartbeatFailures: run.heartbeats.failed } : {}),
    ...(summary.release ? { release: summary.release } : {}),
  });
  log.info('invocation finished', {
    outcome: summary.outcome,
    lifecycleResult: summary.lifecycleResult,
    durationMs: clock.now() - began,
    ...(run ? { node: run.node, attempt: run.attempt, heartbeats: run.heartbeats } : {}),
    ...(drain
      ? {
          drainDurationMs: drain.durationMs,
          evicted: drain.evicted,
          skipped: drain.skipped,
          warnings: drain.warnings,
          blocked: drain.blocked,
          deleted: drain.deleted,
          remaining: drain.remaining,
          evictionRequests: drain.evictionRequests,
          evictionRefusals: drain.evictionRefusals,
          throttled: drain.throttled,
          errors: drain.errors,
        }
      : {}),
    ...(summary.release ? { release: summary.release } : {}),
  });
  return summary;
}
