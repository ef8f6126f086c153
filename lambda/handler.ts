/**
 * Composition root: the Lambda that EventBridge invokes for an ASG termination lifecycle action.
 * Parses config (once, at cold start) and the event, runs the drain on the container's adapters
 * (./wiring.ts, loaded by the first event that acts), and ends every invocation with one structured
 * log line carrying the outcome.
 */
import type { FunctionCheckReport } from './check/report.js';
import { type Config, loadConfig } from './config.js';
import { launchHookName } from './contract.js';
import type { DrainReport } from './drain/drain.js';
import { type Clock, systemClock } from './drain/ports.js';
import { errorMessage } from './errors.js';
import { type Ec2Notice, type LifecycleAction, parseEvent } from './event.js';
import type { HandlerPartDeps } from './handler-parts.js';
import { type Continuation, clampProgress, clampStart } from './job/continuation.js';
import type { JobReport } from './job/job.js';
import { runLifecycleAction } from './job/lifecycle.js';
import type { LostReport } from './job/lost.js';
import { runNotice } from './job/notice.js';
import type { ReleaseReport } from './job/release.js';
import type { ScheduledReport } from './job/scheduled.js';
import { restoreReturnedNodes } from './job/warm-pool.js';
import { JsonLogger } from './log.js';
import { handleStateChange } from './lost-handler.js';
import { invocationMetrics, type MetricDimensions } from './metrics.js';
import { DrainNotifier, type DrainSubject, drainEndOf } from './notify/notify.js';
import type { HandlerOutcome } from './outcome.js';
import { handleScheduled } from './scheduled-handler.js';
import { handleWarmPoolLaunch } from './warm-pool-handler.js';
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
  readonly report?: DrainReport;
  readonly release?: ReleaseReport;
  /** Every lifecycle action this invocation completed: its own, and those of notices that joined its job. */
  readonly completed?: JobReport['completed'];
  /** This notice joined the job of another invocation (which completes its action). */
  readonly joined?: JobReport['joined'];
  /** What was done to a lost instance's node (lambda/job/lost.ts). */
  readonly lostNode?: LostReport['release'];
  /** An EC2 scheduled event or the sweep: what became of each instance. */
  readonly scheduled?: ScheduledReport['instances'];
}

/** Hand over this long before the invocation's own end (at most a quarter of what is left). */
const HANDOVER_MARGIN_MS = 60_000;

const config: Config = loadConfig(process.env);
const log = new JsonLogger(config.logLevel);
const clock: Clock = systemClock;

// Tells the notification topic how a node's drain ended, from the invocation that ends its job.
const notifier = new DrainNotifier(config, {
  log,
  record: (record) => log.record(record),
  clock,
  port: async () => (await wired()).notifications(),
  ...(process.env.AWS_LAMBDA_LOG_GROUP_NAME ? { logGroup: process.env.AWS_LAMBDA_LOG_GROUP_NAME } : {}),
});

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

/** What the parts of the handler in files of their own get (lambda/lost-handler.ts, lambda/scheduled-handler.ts). */
const parts: HandlerPartDeps = {
  config,
  log,
  clock,
  wired,
  finish: (...args) => finish(...args),
  failed: (dimensions) => emitMetrics(dimensions, { outcome: 'failed' }),
};

export async function handler(event: unknown, context: InvocationContext): Promise<InvocationSummary> {
  const began = clock.now();
  log.resetKeys();
  log.appendKeys({ cluster: config.clusterName, requestId: context.awsRequestId });
  const parsed = parseEvent(event);
  const cluster = { cluster: config.clusterName };
  switch (parsed.kind) {
    case 'invalid':
      log.error('invalid event', { field: parsed.field, problem: parsed.problem });
      return finish({ outcome: 'invalid-event', lifecycleResult: null }, began, cluster);
    case 'check':
      return selfCheck(began);
    case 'ignored':
      return ignore(parsed.reason, began);
    case 'notice':
      return handleNotice(parsed.notice, parsed, event, context, began);
    case 'state-change':
      return handleStateChange(parsed.change, parts, began);
    case 'scheduled':
    case 'scheduled-sweep':
      return handleScheduled(parsed, parts, began);
    case 'warm-pool-launch': {
      // only the drainer's own launch hook: another hook's action is its owner's to complete
      const hook = parsed.launch.action?.hookName;
      const own = launchHookName(config.lifecycleHookName);
      if (hook !== undefined && hook !== own)
        return ignore(`lifecycle hook ${hook} is not the drainer's launch hook ${own}`, began);
      return handleWarmPoolLaunch(parsed.launch, parts, began);
    }
    case 'action':
      // only the drainer's own termination hook: another hook (a backup's, say) is its owner's
      if (parsed.action.hookName !== config.lifecycleHookName)
        return ignore(
          `lifecycle hook ${parsed.action.hookName} is not the drainer's hook ${config.lifecycleHookName}`,
          began,
        );
      return handleAction(parsed.action, parsed, event, context, began);
  }
}

function ignore(reason: string, began: number): InvocationSummary {
  log.info('event ignored', { reason });
  return finish({ outcome: 'ignored', lifecycleResult: null }, began, { cluster: config.clusterName });
}

/** A termination lifecycle action of the drainer's hook (lambda/job/lifecycle.ts). */
async function handleAction(
  action: LifecycleAction,
  options: { readonly continuation?: Continuation; readonly dryRun?: true; readonly force?: true },
  event: unknown,
  context: InvocationContext,
  began: number,
): Promise<InvocationSummary> {
  const { continuation } = options;
  const dimensions = { cluster: config.clusterName, autoScalingGroup: action.autoScalingGroupName };
  const dryRun = config.dryRun || options.dryRun === true;
  log.appendKeys({
    instanceId: action.instanceId,
    asgName: action.autoScalingGroupName,
    hookName: action.hookName,
  });
  const { pauseAt, pauseSignal } = invocationEnd(context, began);
  const startedAt = clampStart(continuation?.startedAt ?? action.time ?? began, began);
  const invocation = invocationId(context, began);
  try {
    const wiring = await wired();
    // foreign Auto Scaling groups: before any Kubernetes or lifecycle call
    if (!(await wiring.groups.serves(action.autoScalingGroupName))) {
      return finish({ outcome: 'foreign-auto-scaling-group', lifecycleResult: null }, began, cluster());
    }
    // warm pools: undo what earlier drains did to nodes that came back
    if (!dryRun && continuation === undefined) await restoreReturnedNodes(wiring.marks, log, clock);
    const run = await runLifecycleAction(
      {
        action: {
          group: action.autoScalingGroupName,
          hook: action.hookName,
          instanceId: action.instanceId,
          ...(action.token ? { token: action.token } : {}),
        },
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
        force: options.force === true,
        invocation,
        chain: continuation?.holder ?? invocation,
        toWarmPool: action.toWarmPool === true,
        ...carriedProgress(continuation, startedAt, began),
      },
      await wiring.forJob(context.invokedFunctionArn, event as Record<string, unknown>),
      { clock, log },
    );
    return await finishJob(run, began, dimensions, {
      trigger: 'termination',
      instanceId: action.instanceId,
      autoScalingGroup: action.autoScalingGroupName,
      requestId: invocation,
    });
  } catch (error) {
    // the async invocation retries the event; its job record was let go for whoever comes next
    log.error('invocation failed', { error: errorMessage(error) });
    emitMetrics(dimensions, { outcome: 'failed' });
    throw error;
  }
}

function cluster(): MetricDimensions {
  return { cluster: config.clusterName };
}

/** This invocation's id: the holder of the node's job while it drains. */
function invocationId(context: InvocationContext, began: number): string {
  return context.awsRequestId ?? `invocation-${began}`;
}

/** A continuation's memory, its times clamped (an event's content is untrusted). */
function carriedProgress(continuation: Continuation | undefined, startedAt: number, now: number) {
  return continuation?.progress ? { progress: clampProgress(continuation.progress, startedAt, now) } : {};
}

/** When this invocation must have handed over, and a signal that aborts whatever it awaits then. */
function invocationEnd(context: InvocationContext, began: number) {
  const remaining = context.getRemainingTimeInMillis();
  const pauseAt = began + remaining - Math.min(HANDOVER_MARGIN_MS, remaining / 4);
  // a hung call must not outlast the hand-over: the drain is stopped at pauseAt whatever it awaits
  const pauseSignal = AbortSignal.timeout(Math.max(0, Math.ceil(pauseAt - began)));
  return { pauseAt, pauseSignal };
}

/** A Spot interruption warning or a rebalance recommendation (lambda/job/notice.ts). */
async function handleNotice(
  notice: Ec2Notice,
  options: { readonly continuation?: Continuation },
  event: unknown,
  context: InvocationContext,
  began: number,
): Promise<InvocationSummary> {
  const { continuation } = options;
  log.appendKeys({ instanceId: notice.instanceId, notice: notice.kind });
  const dimensions = cluster();
  const invocation = invocationId(context, began);
  const startedAt = clampStart(continuation?.startedAt ?? notice.time ?? began, began);
  try {
    const wiring = await wired();
    const report = await runNotice(
      notice,
      {
        onRebalance: config.onRebalanceRecommendation,
        dryRun: config.dryRun,
        onDrainTimeout: config.onDrainTimeout,
        drainTimeoutSeconds: config.drainTimeoutSeconds,
        maxConcurrentEvictions: config.maxConcurrentEvictions,
        minEvictionWindowSeconds: config.minEvictionWindowSeconds,
        heartbeatIntervalSeconds: config.heartbeatIntervalSeconds,
        excludeFromLoadBalancers: config.excludeFromLoadBalancers,
        waitForLoadBalancers: config.waitForLoadBalancers,
        waitForVolumeDetach: config.waitForVolumeDetach,
        hookName: config.lifecycleHookName,
        invocation,
        chain: continuation?.holder ?? invocation,
        attempt: continuation?.attempt ?? 1,
        startedAt,
        ...carriedProgress(continuation, startedAt, began),
        ...invocationEnd(context, began),
      },
      await wiring.forNotice(context.invokedFunctionArn, event as Record<string, unknown>),
      { clock, log },
    );
    log.appendKeys({
      ...(report.group ? { asgName: report.group } : {}),
      ...(report.hardEnd ? { hardEnd: report.hardEnd } : {}),
      ...(report.spotStatus ? { spotStatus: report.spotStatus } : {}),
    });
    return await finishJob(
      report,
      began,
      { ...dimensions, ...(report.group ? { autoScalingGroup: report.group } : {}) },
      {
        trigger: notice.kind,
        instanceId: notice.instanceId,
        ...(report.group ? { autoScalingGroup: report.group } : {}),
        requestId: invocation,
      },
    );
  } catch (error) {
    // the cluster lookup or the cordon failed: the async invocation retries the event
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

function emitMetrics(dimensions: MetricDimensions, result: Parameters<typeof invocationMetrics>[2]): void {
  const record = invocationMetrics(config.metricsNamespace, dimensions, result, clock.now());
  if (record) log.record(record);
}

/** The end of an invocation that ran (or joined) a node's job: the one that ends the job tells the topic. */
async function finishJob(
  run: Omit<JobReport, 'outcome'> & { readonly outcome: HandlerOutcome; readonly hardEnd?: string },
  began: number,
  dimensions: MetricDimensions,
  subject: DrainSubject,
): Promise<InvocationSummary> {
  await notifier.drainEnded(drainEndOf(run, subject));
  return finish(
    {
      outcome: run.outcome,
      lifecycleResult: run.lifecycleResult,
      ...(run.drain ? { report: run.drain } : {}),
      ...(run.release ? { release: run.release } : {}),
      ...(run.completed.length > 0 ? { completed: run.completed } : {}),
      ...(run.joined ? { joined: run.joined } : {}),
    },
    began,
    dimensions,
    run,
  );
}

export type Finish = typeof finish;

function finish(
  summary: InvocationSummary & { readonly outcome: HandlerOutcome },
  began: number,
  dimensions: MetricDimensions,
  run?: Omit<JobReport, 'outcome'>,
): InvocationSummary {
  const drain = summary.report;
  emitMetrics(dimensions, {
    outcome: summary.outcome,
    ...(drain ? { report: drain } : {}),
    ...(run ? { heartbeatFailures: run.heartbeats.failed } : {}),
    ...(summary.release ? { release: summary.release } : {}),
    ...(summary.lostNode?.repeat ? { lostRepeat: true } : {}),
  });
  log.info('invocation finished', {
    outcome: summary.outcome,
    lifecycleResult: summary.lifecycleResult,
    durationMs: clock.now() - began,
    ...(run
      ? {
          node: run.node,
          attempt: run.attempt,
          heartbeats: run.heartbeats,
          ...(run.completed.length > 0 ? { completed: run.completed } : {}),
          ...(run.joined ? { joined: run.joined } : {}),
          ...(run.tookOverFrom ? { tookOverFrom: run.tookOverFrom } : {}),
          ...(run.limits ? { deadline: new Date(run.limits.deadline).toISOString() } : {}),
        }
      : {}),
    ...(drain
      ? {
          // the whole drain's, across invocations (its metrics count this invocation's own share)
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
          thisInvocation: drain.invocation,
        }
      : {}),
    ...(summary.release ? { release: summary.release } : {}),
    ...(summary.lostNode ? { lostNode: summary.lostNode } : {}),
    ...(summary.scheduled ? { scheduled: summary.scheduled } : {}),
  });
  return summary;
}
