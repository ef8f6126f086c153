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
import { type NoticePorts, runNotice } from './drain/spot.js';
import { markingCordon, restoreFromWarmPool, restoreReturnedNodes } from './drain/warm-pool.js';
import { type Ec2Notice, parseEvent, type WarmPoolLaunch } from './event.js';
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
  if (parsed.kind === 'notice') return handleNotice(parsed.notice, context, began);
  if (parsed.kind === 'warm-pool-launch') return handleWarmPoolLaunch(parsed.launch, began);

  const { action, continuation } = parsed;
  const dimensions = { cluster: config.clusterName, autoScalingGroup: action.autoScalingGroupName };
  const dryRun = config.dryRun || parsed.dryRun === true;
  log.appendKeys({
    instanceId: action.instanceId,
    asgName: action.autoScalingGroupName,
    hookName: action.hookName,
  });
  const { pauseAt, pauseSignal } = invocationEnd(context, began);
  const startedAt = clampStart(continuation?.startedAt ?? action.time ?? began, began);
  try {
    const wiring = await wired();
    // ---- foreign Auto Scaling groups (issue 13 §3): before any Kubernetes or lifecycle call ----
    if (!(await wiring.groups.serves(action.autoScalingGroupName))) {
      return finish({ outcome: 'foreign-auto-scaling-group', lifecycleResult: null }, began, {
        cluster: config.clusterName,
      });
    }
    // warm pools (lambda/drain/warm-pool.ts): undo what earlier drains did to nodes that came back,
    // and mark what this one does to a node that goes to the warm pool
    if (!dryRun && continuation === undefined) await restoreReturnedNodes(wiring.marks, log);
    let cluster = wiring.cluster();
    if (action.toWarmPool && !dryRun)
      cluster = markingCordon(cluster, wiring.marks, action.instanceId, clock);
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
      await wiring.forAction(action, cluster, context.invokedFunctionArn, event as Record<string, unknown>),
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

/** When this invocation must have handed over, and a signal that aborts whatever it awaits then. */
function invocationEnd(context: InvocationContext, began: number) {
  const remaining = context.getRemainingTimeInMillis();
  const pauseAt = began + remaining - Math.min(HANDOVER_MARGIN_MS, remaining / 4);
  // a hung call must not outlast the hand-over: the drain is stopped at pauseAt whatever it awaits
  const pauseSignal = AbortSignal.timeout(Math.max(0, Math.ceil(pauseAt - began)));
  return { pauseAt, pauseSignal };
}

/** A Spot interruption warning or a rebalance recommendation (lambda/drain/spot.ts). */
async function handleNotice(
  notice: Ec2Notice,
  context: InvocationContext,
  began: number,
): Promise<InvocationSummary> {
  log.appendKeys({ instanceId: notice.instanceId, notice: notice.kind });
  const dimensions = { cluster: config.clusterName };
  try {
    const ports: NoticePorts = (await wired()).forNotice(notice.instanceId);
    const report = await runNotice(
      notice,
      {
        onRebalance: config.onRebalanceRecommendation,
        dryRun: config.dryRun,
        onDrainTimeout: config.onDrainTimeout,
        drainTimeoutSeconds: config.drainTimeoutSeconds,
        maxConcurrentEvictions: config.maxConcurrentEvictions,
        excludeFromLoadBalancers: config.excludeFromLoadBalancers,
        holder: context.awsRequestId ?? `invocation-${began}`,
        startedAt: clampStart(notice.time ?? began, began),
        ...invocationEnd(context, began),
      },
      ports,
      { clock, log },
    );
    log.appendKeys({
      ...(report.group ? { asgName: report.group } : {}),
      ...(report.node ? { node: report.node } : {}),
      ...(report.hardEnd ? { hardEnd: report.hardEnd } : {}),
    });
    return finish(
      {
        outcome: report.outcome,
        lifecycleResult: report.lifecycleResult,
        ...(report.drain ? { report: report.drain } : {}),
      },
      began,
      { ...dimensions, ...(report.group ? { autoScalingGroup: report.group } : {}) },
    );
  } catch (error) {
    // the cluster lookup or the rebalance cordon failed: the async invocation retries the event
    log.error('invocation failed', { error: errorMessage(error) });
    emitMetrics(dimensions, { outcome: 'failed' });
    throw error;
  }
}

/** An instance back from the warm pool (lambda/drain/warm-pool.ts). */
async function handleWarmPoolLaunch(launch: WarmPoolLaunch, began: number): Promise<InvocationSummary> {
  const { instanceId, autoScalingGroupName, action } = launch;
  log.appendKeys({
    instanceId,
    asgName: autoScalingGroupName,
    ...(action ? { hookName: action.hookName } : {}),
  });
  const dimensions = { cluster: config.clusterName, autoScalingGroup: autoScalingGroupName };
  try {
    const wiring = await wired();
    if (!(await wiring.groups.serves(autoScalingGroupName))) {
      log.info('event ignored', { reason: `Auto Scaling group ${autoScalingGroupName} is not served` });
      return finish({ outcome: 'ignored', lifecycleResult: null }, began, dimensions);
    }
    const report = await restoreFromWarmPool(launch, wiring.forLaunch(launch), {
      log,
      dryRun: config.dryRun,
    });
    if (report.node) log.appendKeys({ node: report.node });
    return finish({ outcome: report.outcome, lifecycleResult: report.lifecycleResult }, began, dimensions);
  } catch (error) {
    // completing the launch action failed after retries of the SDK: the async invocation retries the event
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
