/**
 * `npm run invoke`: fires a real-shaped termination lifecycle event for one instance at the drainer,
 * either the deployed function (a synchronous Lambda invoke; its summary and log tail are printed) or
 * `lambda/handler.ts` in this process with the caller's AWS credentials. A dry run unless `--yes`.
 *
 *   npm run invoke -- --instance-id i-0abc… [--asg NAME] [--hook NAME] [--dry-run | --yes]
 *                     (--function NAME | --local --cluster NAME) [--json] [--event-time ISO]
 *
 * AWS endpoints, region and credentials come only from the SDK's standard configuration
 * (AWS_REGION / profile, the credential chain, AWS_ENDPOINT_URL_<SERVICE>).
 * Exit codes: 0 done, 1 failed (AWS, the function, the drain), 2 usage or configuration error.
 */
import { randomUUID } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import {
  AutoScalingClient,
  DescribeAutoScalingInstancesCommand,
  DescribeLifecycleHooksCommand,
} from '@aws-sdk/client-auto-scaling';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { loadConfig } from '../lambda/config.js';
import { lifecycleEvent, parseEvent, TERMINATING } from '../lambda/event.js';
import type { InvocationContext, InvocationSummary } from '../lambda/handler.js';

export const USAGE = `usage: npm run invoke -- --instance-id i-0123456789abcdef0 [options]

Builds a termination lifecycle event for the instance and runs the drainer on it.
A dry run unless --yes: nothing is evicted and no lifecycle action is completed.

  --instance-id ID     the EC2 instance whose node to drain (required)
  --asg NAME           its Auto Scaling group (default: looked up with DescribeAutoScalingInstances)
  --hook NAME          the termination lifecycle hook (default: looked up with DescribeLifecycleHooks)
  --dry-run            plan only, server-side dry-run evictions (the default)
  --yes                really drain: cordon, evict, complete the lifecycle action
  --function NAME      invoke the deployed Lambda function synchronously, print its outcome and log tail
  --local              run lambda/handler.ts in this process with your AWS credentials ...
  --cluster NAME       ... for this EKS cluster (required with --local)
  --event-time ISO     when the lifecycle action began (default: now); the drain deadline counts from it
  --json               print the summary as one JSON object
  --help               this text

AWS region, credentials and endpoints come from the SDK's standard configuration
(AWS_REGION or AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL_<SERVICE>).`;

const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;
/** The NodeDrainer construct's default `lifecycleHookName` (infra/node-drainer.ts). */
const DEFAULT_HOOK_NAME = 'eks-node-drainer';
const TERMINATING_WAIT = 'Terminating:Wait';
/** What a local run's context says it is: no deployed function has this ARN. */
export const LOCAL_FUNCTION_ARN = 'arn:aws:lambda:local:000000000000:function:eks-node-drainer-local-invoke';
/** A Lambda function runs at most 15 minutes. */
const LAMBDA_MAX_MS = 15 * 60_000;

// Bounded AWS calls, as in lambda/handler.ts. A synchronous invoke waits for the whole function
// (up to 15 min) and is never retried: a retry would start a second drain.
const SDK_OPTIONS = { requestHandler: { connectionTimeout: 3_000, requestTimeout: 10_000 } };
const INVOKE_OPTIONS = {
  maxAttempts: 1,
  requestHandler: { connectionTimeout: 3_000, requestTimeout: LAMBDA_MAX_MS + 60_000 },
};

export interface InvokeOptions {
  readonly instanceId: string;
  readonly asg?: string;
  readonly hook?: string;
  readonly dryRun: boolean;
  readonly target:
    | { readonly kind: 'function'; readonly name: string }
    | { readonly kind: 'local'; readonly cluster: string };
  readonly json: boolean;
  /** When the lifecycle action began; default now. */
  readonly eventTime?: Date;
}

export type ParsedArgs =
  | { readonly kind: 'run'; readonly options: InvokeOptions }
  | { readonly kind: 'help' }
  | { readonly kind: 'usage-error'; readonly message: string };

/** Where the tool writes: `out` gets the result (text or JSON), `err` progress, warnings, errors. */
export interface Io {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

const stdio: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** A failure with its one-line message and exit code. */
export class InvokeError extends Error {
  override name = 'InvokeError';
  constructor(
    message: string,
    readonly exitCode: number = EXIT_FAILED,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

// ---- arguments ----------------------------------------------------------------------------------

/** Pure: the command line → options, help, or a one-line usage error. */
export function parseInvokeArgs(argv: readonly string[]): ParsedArgs {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        'instance-id': { type: 'string' },
        asg: { type: 'string' },
        hook: { type: 'string' },
        'dry-run': { type: 'boolean' },
        yes: { type: 'boolean' },
        function: { type: 'string' },
        local: { type: 'boolean' },
        cluster: { type: 'string' },
        'event-time': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    return usageError(parseArgsMessage(error));
  }
  if (values.help) return { kind: 'help' };

  const text = (name: string): string | undefined => {
    const value = values[name];
    return typeof value === 'string' ? value : undefined;
  };
  const instanceId = text('instance-id');
  if (instanceId === undefined) {
    return usageError('--instance-id is required (the EC2 instance to drain, e.g. i-0123456789abcdef0)');
  }
  if (!INSTANCE_ID.test(instanceId)) {
    return usageError(
      `--instance-id must be an EC2 instance id (i- and 8 to 17 hex digits), got ${JSON.stringify(instanceId)}`,
    );
  }
  if (values['dry-run'] && values.yes) {
    return usageError('--dry-run and --yes contradict each other: give one (a dry run is the default)');
  }
  for (const name of ['asg', 'hook', 'function', 'cluster'] as const) {
    if (text(name)?.trim() === '') return usageError(`--${name} needs a non-empty value`);
  }

  const functionName = text('function');
  const cluster = text('cluster');
  if (functionName !== undefined && values.local) {
    return usageError(
      '--function and --local exclude each other: invoke the deployed function or run locally',
    );
  }
  if (cluster !== undefined && !values.local) {
    return usageError('--cluster is only used with --local (a deployed function has its own CLUSTER_NAME)');
  }
  if (values.local && cluster === undefined) {
    return usageError('--local needs --cluster <name>: the EKS cluster whose node to drain');
  }
  let target: InvokeOptions['target'];
  if (functionName !== undefined) target = { kind: 'function', name: functionName };
  else if (values.local && cluster !== undefined) target = { kind: 'local', cluster };
  else {
    return usageError(
      'say where the drainer runs: --function <name> (the deployed Lambda) or --local --cluster <name> (here, with your AWS credentials)',
    );
  }

  const rawTime = text('event-time');
  const eventTime = rawTime === undefined ? undefined : new Date(rawTime);
  if (eventTime !== undefined && !Number.isFinite(eventTime.getTime())) {
    return usageError(`--event-time must be an ISO 8601 time, got ${JSON.stringify(rawTime)}`);
  }

  const asg = text('asg');
  const hook = text('hook');
  return {
    kind: 'run',
    options: {
      instanceId,
      ...(asg === undefined ? {} : { asg }),
      ...(hook === undefined ? {} : { hook }),
      dryRun: values.yes !== true,
      target,
      json: values.json === true,
      ...(eventTime === undefined ? {} : { eventTime }),
    },
  };
}

function usageError(message: string): ParsedArgs {
  return { kind: 'usage-error', message };
}

/** node:util parseArgs messages, first sentence only ("Unknown option '--force'"). */
function parseArgsMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const first = message.split(/\.\s/)[0] ?? message;
  return first.charAt(0).toLowerCase() + first.slice(1);
}

// ---- main ---------------------------------------------------------------------------------------

/**
 * The whole tool; returns the exit code. `env` is the environment the tool was started with (the
 * local handler's configuration is validated against it); the AWS SDK and, in `--local` mode, the
 * handler read `process.env` itself, where `--local` sets CLUSTER_NAME and DRY_RUN.
 */
export async function main(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = process.env,
  io: Io = stdio,
): Promise<number> {
  const parsed = parseInvokeArgs(argv);
  if (parsed.kind === 'help') {
    io.out(USAGE);
    return EXIT_OK;
  }
  if (parsed.kind === 'usage-error') {
    io.err(`invoke: ${parsed.message} (see --help)`);
    return EXIT_USAGE;
  }
  try {
    return await run(parsed.options, env, io);
  } catch (error) {
    const failure = explain(error);
    io.err(`invoke: ${failure.message}`);
    return failure.exitCode;
  }
}

async function run(
  options: InvokeOptions,
  env: Readonly<Record<string, string | undefined>>,
  io: Io,
): Promise<number> {
  // a local run's configuration is checked before anything is called
  const runner: { kind: 'function'; name: string } | { kind: 'local'; config: LocalConfig } =
    options.target.kind === 'local'
      ? { kind: 'local', config: localConfig(options.target.cluster, options.dryRun, env) }
      : options.target;
  const autoScaling = new AutoScalingClient(SDK_OPTIONS);
  try {
    const region = await awsSetup(autoScaling);
    const action = await lifecycleTarget(options, autoScaling);
    if (
      !options.dryRun &&
      action.lifecycleState !== undefined &&
      action.lifecycleState !== TERMINATING_WAIT
    ) {
      io.err(
        `warning: instance ${options.instanceId} is ${action.lifecycleState}, not ${TERMINATING_WAIT}: its node will be cordoned and emptied although nothing terminates it, and there is no lifecycle action to complete`,
      );
    }
    const event = lifecycleEvent(
      { autoScalingGroupName: action.asg, hookName: action.hook, instanceId: options.instanceId },
      { time: options.eventTime ?? new Date(), region, dryRun: options.dryRun },
    );
    const check = parseEvent(event);
    if (check.kind !== 'action') {
      const why = check.kind === 'invalid' ? `${check.field}: ${check.problem}` : check.reason;
      throw new InvokeError(`the event would not be accepted by the drainer: ${why}`, EXIT_USAGE);
    }

    const mode = options.dryRun
      ? 'dry run: nothing is evicted, no lifecycle action is completed'
      : 'NOT a dry run: the node is cordoned and drained, the lifecycle action completed';
    const base = {
      instanceId: options.instanceId,
      autoScalingGroupName: action.asg,
      hookName: action.hook,
      dryRun: options.dryRun,
      eventTime: String(event.time),
    };
    let view: SummaryView;
    if (runner.kind === 'function') {
      io.err(`invoking function ${runner.name} for ${describe(base)} (${mode}) …`);
      const result = await invokeFunction(runner.name, event, region);
      view = { ...base, mode: 'function', functionName: runner.name, ...result };
    } else {
      const cluster = runner.config.settings.CLUSTER_NAME;
      io.err(`running lambda/handler.ts here for cluster ${cluster}, ${describe(base)} (${mode}) …`);
      const result = await runLocally(runner.config, event, options.json, io);
      view = { ...base, mode: 'local', clusterName: cluster, ...result };
    }
    return print(view, options.json, io);
  } finally {
    autoScaling.destroy();
  }
}

function describe(base: { instanceId: string; autoScalingGroupName: string; hookName: string }): string {
  return `instance ${base.instanceId} (ASG ${base.autoScalingGroupName}, hook ${base.hookName})`;
}

/** The region, and credentials that resolve, before any call; both fail with a clear message. */
async function awsSetup(client: AutoScalingClient): Promise<string> {
  const region = await client.config.region();
  await client.config.credentials();
  return region;
}

// ---- the lifecycle action -----------------------------------------------------------------------

interface LifecycleTarget {
  readonly asg: string;
  readonly hook: string;
  /** Known when the group was looked up. */
  readonly lifecycleState?: string;
}

async function lifecycleTarget(options: InvokeOptions, client: AutoScalingClient): Promise<LifecycleTarget> {
  let asg = options.asg;
  let lifecycleState: string | undefined;
  if (asg === undefined) {
    const answer = await aws(
      'DescribeAutoScalingInstances',
      client.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [options.instanceId] })),
    );
    const found = answer.AutoScalingInstances?.find((i) => i.InstanceId === options.instanceId);
    if (!found?.AutoScalingGroupName) {
      throw new InvokeError(
        `instance ${options.instanceId} is not in any Auto Scaling group (DescribeAutoScalingInstances found nothing)`,
      );
    }
    asg = found.AutoScalingGroupName;
    lifecycleState = found.LifecycleState;
  }
  const hook = options.hook ?? (await terminationHook(client, asg));
  return { asg, hook, ...(lifecycleState === undefined ? {} : { lifecycleState }) };
}

async function terminationHook(client: AutoScalingClient, asg: string): Promise<string> {
  const answer = await aws(
    'DescribeLifecycleHooks',
    client.send(new DescribeLifecycleHooksCommand({ AutoScalingGroupName: asg })),
  );
  const names = (answer.LifecycleHooks ?? [])
    .filter((h) => h.LifecycleTransition === TERMINATING && h.LifecycleHookName)
    .map((h) => h.LifecycleHookName as string);
  const [only] = names;
  if (only === undefined) {
    throw new InvokeError(
      `Auto Scaling group ${asg} has no termination lifecycle hook (${TERMINATING}): is the drainer deployed for it? Name one with --hook`,
    );
  }
  if (names.length === 1 || names.includes(DEFAULT_HOOK_NAME)) {
    return names.length === 1 ? only : DEFAULT_HOOK_NAME;
  }
  throw new InvokeError(
    `Auto Scaling group ${asg} has several termination lifecycle hooks (${names.join(', ')}): choose one with --hook`,
  );
}

// ---- running the drainer ------------------------------------------------------------------------

interface RunResult {
  readonly summary?: InvocationSummary;
  readonly functionError?: {
    readonly kind: string;
    readonly errorType?: string;
    readonly errorMessage: string;
  };
  readonly logTail?: string;
}

async function invokeFunction(
  name: string,
  event: Record<string, unknown>,
  region: string,
): Promise<RunResult> {
  const lambda = new LambdaClient(INVOKE_OPTIONS);
  try {
    const answer = await lambda
      .send(
        new InvokeCommand({
          FunctionName: name,
          InvocationType: 'RequestResponse',
          LogType: 'Tail',
          Payload: new TextEncoder().encode(JSON.stringify(event)),
        }),
      )
      .catch((error: unknown) => {
        if (error instanceof Error && error.name === 'ResourceNotFoundException') {
          throw new InvokeError(
            `no Lambda function named ${name} in ${region} (check --function, the region and the account): ${error.message}`,
            EXIT_FAILED,
            { cause: error },
          );
        }
        throw awsFailure('Lambda Invoke', error);
      });
    const payload = answer.Payload ? new TextDecoder().decode(answer.Payload) : '';
    const logTail = answer.LogResult ? Buffer.from(answer.LogResult, 'base64').toString('utf8') : undefined;
    const withTail = logTail === undefined ? {} : { logTail };
    if (answer.FunctionError) {
      const body = parseJson(payload) as { errorType?: unknown; errorMessage?: unknown } | undefined;
      return {
        ...withTail,
        functionError: {
          kind: answer.FunctionError,
          ...(typeof body?.errorType === 'string' ? { errorType: body.errorType } : {}),
          errorMessage: typeof body?.errorMessage === 'string' ? body.errorMessage : payload.slice(0, 500),
        },
      };
    }
    const summary = parseJson(payload);
    if (!isSummary(summary)) {
      throw new InvokeError(
        `function ${name} answered something that is not a drainer summary (is it the drainer?): ${payload.slice(0, 200)}`,
      );
    }
    return { ...withTail, summary };
  } finally {
    lambda.destroy();
  }
}

/**
 * Runs lambda/handler.ts in this process. Its config is read from process.env when the module loads,
 * so CLUSTER_NAME and DRY_RUN are set before the import. Its JSON log lines go to `io.err` (stdout
 * carries only the summary), readable in text mode, as they are with --json.
 */
interface LocalConfig {
  readonly settings: { readonly CLUSTER_NAME: string; readonly DRY_RUN: 'true' | 'false' };
  readonly drainTimeoutSeconds: number;
}

/** The handler's configuration for a local run, checked before anything is called. */
function localConfig(
  cluster: string,
  dryRun: boolean,
  env: Readonly<Record<string, string | undefined>>,
): LocalConfig {
  const settings = { CLUSTER_NAME: cluster, DRY_RUN: dryRun ? 'true' : 'false' } as const;
  try {
    return { settings, drainTimeoutSeconds: loadConfig({ ...env, ...settings }).drainTimeoutSeconds };
  } catch (error) {
    throw new InvokeError(`invalid configuration: ${errorText(error)}`, EXIT_USAGE, { cause: error });
  }
}

async function runLocally(
  { settings, drainTimeoutSeconds }: LocalConfig,
  event: Record<string, unknown>,
  json: boolean,
  io: Io,
): Promise<RunResult> {
  Object.assign(process.env, settings);
  const { handler } = await import('../lambda/handler.js').catch((error: unknown) => {
    throw new InvokeError(`the handler could not start: ${errorText(error)}`, EXIT_FAILED, { cause: error });
  });
  // As a deployed function has, 15 minutes, but never less than the whole drain: a local run has no
  // function to hand over to, so it must not pause for a continuation before the drain deadline.
  const remainingMs = Math.max(LAMBDA_MAX_MS, (drainTimeoutSeconds + 120) * 1000);
  const endsAt = Date.now() + remainingMs;
  const context: InvocationContext = {
    invokedFunctionArn: LOCAL_FUNCTION_ARN,
    awsRequestId: `local-${randomUUID()}`,
    getRemainingTimeInMillis: () => endsAt - Date.now(),
  };
  const restore = divertStdout((line) => io.err(json ? line : `  ${readableLogLine(line)}`));
  try {
    return { summary: await handler(event, context) };
  } catch (error) {
    throw new InvokeError(`the handler failed: ${errorText(error)}`, EXIT_FAILED, { cause: error });
  } finally {
    restore();
  }
}

/** Sends whole lines written to process.stdout to `to` until the returned function is called. */
function divertStdout(to: (line: string) => void): () => void {
  const original = process.stdout.write;
  let partial = '';
  const write = (chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
    partial += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) to(line);
    const callback = rest.find((r): r is () => void => typeof r === 'function');
    callback?.();
    return true;
  };
  process.stdout.write = write as typeof process.stdout.write;
  return () => {
    process.stdout.write = original;
    if (partial) to(partial);
  };
}

// ---- output -------------------------------------------------------------------------------------

interface SummaryView extends RunResult {
  readonly instanceId: string;
  readonly autoScalingGroupName: string;
  readonly hookName: string;
  readonly dryRun: boolean;
  readonly eventTime: string;
  readonly mode: 'function' | 'local';
  readonly functionName?: string;
  readonly clusterName?: string;
}

/** Outcomes after which the drainer did what was asked. */
const DONE_OUTCOMES: ReadonlySet<string> = new Set([
  'drained',
  'node-not-found',
  'dry-run',
  'continued-in-new-invocation',
  'already-completed',
]);
const DONE_DRAINS: ReadonlySet<string> = new Set(['drained', 'node-not-found', 'dry-run', 'paused']);

/** Why the run counts as failed, in one line; undefined when it did what was asked. */
function problemOf(result: RunResult): string | undefined {
  const { summary, functionError } = result;
  if (functionError) {
    const type = functionError.errorType ? `${functionError.errorType}: ` : '';
    return `the function failed (${functionError.kind}): ${type}${functionError.errorMessage}`;
  }
  if (!summary) return 'no summary';
  const report = summary.report;
  if (
    report &&
    report.node === undefined &&
    report.outcome !== 'node-not-found' &&
    report.errors.length > 0
  ) {
    return `the cluster could not be reached: ${report.errors.slice(0, 3).join('; ')}`;
  }
  if (summary.outcome === 'invalid-event') return 'the drainer rejected the event as invalid (see its log)';
  if (summary.outcome === 'ignored') return 'the drainer ignored the event (see its log)';
  if (!DONE_OUTCOMES.has(summary.outcome) || (report && !DONE_DRAINS.has(report.outcome))) {
    const blocked = report?.blocked.length ?? 0;
    return `the drain did not finish: outcome ${report?.outcome ?? summary.outcome}, ${blocked} pod(s) blocked`;
  }
  return undefined;
}

function print(view: SummaryView, json: boolean, io: Io): number {
  const problem = problemOf(view);
  const exitCode = problem === undefined ? EXIT_OK : EXIT_FAILED;
  if (json) {
    const { summary, ...rest } = view;
    io.out(
      JSON.stringify({
        ...rest,
        ...(summary ?? {}),
        ok: problem === undefined,
        ...(problem === undefined ? {} : { problem }),
      }),
    );
  } else {
    for (const line of summaryText(view)) io.out(line);
  }
  if (problem !== undefined) io.err(`invoke: ${problem}`);
  return exitCode;
}

const LIST_LIMIT = 10;

/** The summary for a person: who, the outcome, the pods by fate, then the log tail. */
function summaryText(view: SummaryView): string[] {
  const where =
    view.mode === 'function' ? `function ${view.functionName}` : `local, cluster ${view.clusterName}`;
  const lines = [`${view.dryRun ? 'DRY RUN' : 'DRAIN'}  ${describe(view)} · ${where}`];
  const row = (label: string, value: string): void => {
    lines.push(`${`${label}:`.padEnd(18)}${value}`);
  };
  const { summary, functionError } = view;
  if (functionError) {
    row(
      'function error',
      `${functionError.kind}: ${functionError.errorType ?? 'Error'}: ${functionError.errorMessage}`,
    );
  }
  if (summary) {
    row('outcome', summary.outcome);
    row('lifecycle result', summary.lifecycleResult ?? 'none sent');
    if (view.dryRun && summary.lifecycleResult !== null) {
      lines.push(`warning: a lifecycle result (${summary.lifecycleResult}) was sent during a dry run`);
    }
    const report = summary.report;
    if (report) {
      row('node', report.node ?? '(not found)');
      row(`${report.dryRun ? 'would evict' : 'evicted'} (${report.evicted.length})`, names(report.evicted));
      row(`skipped (${report.skipped.length})`, names(report.skipped.map((s) => `${s.pod} (${s.reason})`)));
      row(
        `blocked (${report.blocked.length})`,
        names(
          report.blocked.map((b) => {
            const pdbs = b.pdbs.map((p) => `${p.name} allows ${p.disruptionsAllowed}`).join(', ');
            return `${b.pod} (${b.reason}${pdbs ? `: ${pdbs}` : ''})`;
          }),
        ),
      );
      if (report.warnings.length > 0) {
        row(
          `warnings (${report.warnings.length})`,
          names(report.warnings.map((w) => `${w.pod} (${w.warning})`)),
        );
      }
      if (report.deleted.length > 0) row(`deleted (${report.deleted.length})`, names(report.deleted));
      if (report.remaining.length > 0) row(`remaining (${report.remaining.length})`, names(report.remaining));
      if (report.errors.length > 0) row(`errors (${report.errors.length})`, names(report.errors));
      row('duration', `${(report.durationMs / 1000).toFixed(1)} s since the lifecycle action began`);
    }
    const note = problemOf(view) === undefined ? outcomeNote(summary, view.instanceId) : undefined;
    if (note) lines.push(note);
  }
  if (view.logTail !== undefined) {
    lines.push('log tail:');
    for (const line of view.logTail.split('\n')) if (line.trim()) lines.push(`  ${readableLogLine(line)}`);
  }
  return lines;
}

function outcomeNote(summary: InvocationSummary, instanceId: string): string | undefined {
  switch (summary.outcome) {
    case 'node-not-found':
      return `note: no node of the cluster runs on ${instanceId} (it never joined, or is already gone)`;
    case 'already-completed':
      return 'note: no lifecycle action was waiting for this instance (completed, expired, or the instance is not terminating)';
    case 'continued-in-new-invocation':
      return "note: the drain goes on in a new invocation; follow it in the function's logs";
    default:
      return undefined;
  }
}

function names(items: readonly string[]): string {
  if (items.length === 0) return '-';
  const shown = items.slice(0, LIST_LIMIT).join(', ');
  return items.length > LIST_LIMIT ? `${shown}, … and ${items.length - LIST_LIMIT} more` : shown;
}

/** The drainer's JSON log line as `time level message key=value …`; anything else as it is. */
function readableLogLine(line: string): string {
  const start = line.indexOf('{');
  const parsed = start >= 0 ? parseJson(line.slice(start)) : undefined;
  if (
    typeof parsed !== 'object' ||
    parsed === null ||
    typeof (parsed as { message?: unknown }).message !== 'string'
  ) {
    return line;
  }
  const { level, time, message, cluster, requestId, instanceId, asgName, hookName, ...data } =
    parsed as Record<string, unknown>;
  const clock = typeof time === 'string' ? time.slice(11, 23) : '';
  const keys = Object.entries(data)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${clock} ${String(level ?? '').padEnd(5)} ${String(message)}${keys ? ` ${keys}` : ''}`;
}

// ---- errors -------------------------------------------------------------------------------------

/** Runs an AutoScaling call; its failure becomes a one-line InvokeError naming the call. */
async function aws<T>(call: string, request: Promise<T>): Promise<T> {
  try {
    return await request;
  } catch (error) {
    throw awsFailure(call, error);
  }
}

const REJECTED_CREDENTIALS = new Set([
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'SignatureDoesNotMatch',
]);

function awsFailure(call: string, error: unknown): Error {
  if (!(error instanceof Error) || error instanceof InvokeError) return error as Error;
  if (error.name === 'CredentialsProviderError' || /^Region is missing/.test(error.message)) return error;
  if (REJECTED_CREDENTIALS.has(error.name)) {
    return new InvokeError(
      `AWS rejected your credentials (${error.name}: ${error.message}): refresh them (a new session, aws sso login)`,
      EXIT_FAILED,
      { cause: error },
    );
  }
  return new InvokeError(`${call} failed: ${error.name}: ${error.message}`, EXIT_FAILED, { cause: error });
}

function explain(error: unknown): InvokeError {
  if (error instanceof InvokeError) return error;
  if (error instanceof Error && error.name === 'CredentialsProviderError') {
    return new InvokeError(
      `no AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run where a role provides them (${error.message})`,
      EXIT_FAILED,
      { cause: error },
    );
  }
  if (error instanceof Error && /^Region is missing/.test(error.message)) {
    return new InvokeError('no AWS region: set AWS_REGION (or a region in your AWS profile)', EXIT_FAILED, {
      cause: error,
    });
  }
  return new InvokeError(`unexpected failure: ${errorText(error)}`, EXIT_FAILED, { cause: error });
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isSummary(value: unknown): value is InvocationSummary {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { outcome?: unknown }).outcome === 'string' &&
    'lifecycleResult' in value
  );
}

function isEntryPoint(moduleUrl: string): boolean {
  const script = process.argv[1];
  try {
    return script !== undefined && pathToFileURL(realpathSync(script)).href === moduleUrl;
  } catch {
    return false;
  }
}

if (isEntryPoint(import.meta.url)) process.exitCode = await main(process.argv.slice(2));
