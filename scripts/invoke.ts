/**
 * `npm run invoke`: fires a real-shaped termination lifecycle event for one instance at the drainer,
 * either the deployed function (a synchronous Lambda invoke; its summary and log tail are printed) or
 * `lambda/handler.ts` in this process with the caller's AWS credentials. A dry run unless `--yes`;
 * a real drain only of an instance in Terminating:Wait, unless `--force`.
 *
 *   npm run invoke -- --instance-id i-0abc… [--asg NAME] [--hook NAME] [--dry-run | --yes [--force]]
 *                     (--function NAME | --local --cluster NAME) [--json] [--event-time ISO]
 *
 * AWS endpoints, region and credentials come only from the SDK's standard configuration
 * (AWS_REGION / profile, the credential chain, AWS_ENDPOINT_URL_<SERVICE>).
 * Exit codes: 0 done, 1 failed (AWS, the function, the drain), 2 usage or configuration error, or a
 * refused real drain.
 *
 * The parts: invoke/args.ts (command line), invoke/aws.ts (AutoScaling look-ups, Lambda invoke),
 * invoke/local.ts (the handler in this process), invoke/output.ts (what is printed), invoke/errors.ts.
 */
import { CHECK_REQUEST, lifecycleEvent, parseEvent } from '../lambda/event.js';
import { stateChangeEvent } from '../lambda/state-change-event.js';
import { isEntryPoint } from './entry-point.js';
import { type InvokeOptions, parseInvokeArgs, USAGE } from './invoke/args.js';
import {
  autoScalingClient,
  awsSetup,
  invokeFunction,
  type LifecycleTarget,
  lifecycleTarget,
  type RunResult,
} from './invoke/aws.js';
import { EXIT_OK, EXIT_USAGE, explain, InvokeError } from './invoke/errors.js';
import { type LocalConfig, localConfig, runLocally } from './invoke/local.js';
import {
  describe,
  type Io,
  print,
  printCheck,
  printState,
  type SummaryView,
  stdio,
} from './invoke/output.js';

export { type InvokeOptions, type ParsedArgs, parseInvokeArgs, USAGE } from './invoke/args.js';
export { InvokeError } from './invoke/errors.js';
export { LOCAL_FUNCTION_ARN } from './invoke/local.js';
export type { Io } from './invoke/output.js';

/** The only lifecycle state in which a hand-made (token-less) event may drain without --force. */
export const TERMINATING_WAIT = 'Terminating:Wait';

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
    if (parsed.kind === 'check') return await runCheck(parsed.target, parsed.json, env, io);
    if (parsed.kind === 'state') return await runState(parsed, env, io);
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
  const autoScaling = autoScalingClient();
  try {
    const region = await awsSetup(autoScaling);
    if (options.scheduledStart) {
      const { invokeScheduledEvent } = await import('./invoke/scheduled.js');
      const { instanceId, dryRun, json } = options;
      return await invokeScheduledEvent(
        { instanceId, start: options.scheduledStart, dryRun, json },
        runner,
        region,
        io,
      );
    }
    const action = await lifecycleTarget(options, autoScaling);
    checkTerminating(options, action, io);
    const event = buildEvent(options, action, region);

    const mode = options.dryRun
      ? 'dry run: nothing is evicted, no lifecycle action is completed'
      : 'NOT a dry run: the node is cordoned and drained, the lifecycle action completed';
    const base = {
      instanceId: options.instanceId,
      autoScalingGroupName: action.asg,
      hookName: action.hook,
      dryRun: options.dryRun,
      ...(options.force ? { force: true } : {}),
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

/** `--check`: the read-only check request, to the deployed function or the handler in this process. */
async function runCheck(
  target: InvokeOptions['target'],
  json: boolean,
  env: Readonly<Record<string, string | undefined>>,
  io: Io,
): Promise<number> {
  let result: RunResult;
  if (target.kind === 'function') {
    const autoScaling = autoScalingClient();
    const region = await awsSetup(autoScaling).finally(() => autoScaling.destroy());
    io.err(`sending the check request to function ${target.name} …`);
    result = await invokeFunction(target.name, { ...CHECK_REQUEST }, region);
  } else {
    io.err(`running the check request through lambda/handler.ts here for cluster ${target.cluster} …`);
    result = await runLocally(localConfig(target.cluster, true, env), { ...CHECK_REQUEST }, json, io);
  }
  return printCheck(result, json, io);
}

/** `--instance-state`: EC2's state change of the instance (lambda/job/lost.ts); a dry run unless --yes. */
async function runState(
  request: Extract<ReturnType<typeof parseInvokeArgs>, { kind: 'state' }>,
  env: Readonly<Record<string, string | undefined>>,
  io: Io,
): Promise<number> {
  const autoScaling = autoScalingClient();
  const region = await awsSetup(autoScaling).finally(() => autoScaling.destroy());
  const event = stateChangeEvent(request.instanceId, request.state, { region, dryRun: request.dryRun });
  const parsed = parseEvent(event);
  if (parsed.kind !== 'state-change') {
    const why = parsed.kind === 'invalid' ? `${parsed.field}: ${parsed.problem}` : 'ignored';
    throw new InvokeError(`the event would not be accepted by the drainer: ${why}`, EXIT_USAGE);
  }
  const what = `instance ${request.instanceId} ${request.state} (${request.dryRun ? 'dry run: nothing is changed' : 'NOT a dry run'})`;
  let result: RunResult;
  if (request.target.kind === 'function') {
    io.err(`invoking function ${request.target.name} for ${what} …`);
    result = await invokeFunction(request.target.name, event, region);
  } else {
    io.err(`running lambda/handler.ts here for cluster ${request.target.cluster}, ${what} …`);
    const config = localConfig(request.target.cluster, request.dryRun, env);
    result = await runLocally(config, event, request.json, io);
  }
  return printState(result, request.json, io);
}

/**
 * A hand-made event carries no lifecycle action token: it really drains only an instance that is
 * waiting to terminate, unless --force. A dry run changes nothing and is always allowed.
 */
function checkTerminating(options: InvokeOptions, action: LifecycleTarget, io: Io): void {
  const state = action.lifecycleState;
  if (state === undefined || state === TERMINATING_WAIT) return;
  const instance = `instance ${options.instanceId} is ${state}, not ${TERMINATING_WAIT}`;
  if (options.dryRun) {
    io.err(`note: ${instance}: a real drain (--yes) of it would need --force`);
  } else if (options.force) {
    io.err(
      `warning: ${instance}: its node will be cordoned and emptied although nothing terminates it, and there is no lifecycle action to complete (--force)`,
    );
  } else {
    throw new InvokeError(
      `${instance}: refusing to drain a node whose instance is not terminating (nothing would replace it, and there is no lifecycle action to complete). Nothing was changed. A dry run (without --yes) shows the plan; --force drains it anyway`,
      EXIT_USAGE,
    );
  }
}

/** The lifecycle event the drainer gets, checked against the drainer's own event parser. */
function buildEvent(
  options: InvokeOptions,
  action: LifecycleTarget,
  region: string,
): Record<string, unknown> {
  const event = lifecycleEvent(
    { autoScalingGroupName: action.asg, hookName: action.hook, instanceId: options.instanceId },
    { time: options.eventTime ?? new Date(), region, dryRun: options.dryRun, force: options.force },
  );
  const check = parseEvent(event);
  if (check.kind !== 'action') {
    const why =
      check.kind === 'invalid'
        ? `${check.field}: ${check.problem}`
        : check.kind === 'ignored'
          ? check.reason
          : check.kind === 'check'
            ? 'it is a check request'
            : `it is a ${check.kind} event`;
    throw new InvokeError(`the event would not be accepted by the drainer: ${why}`, EXIT_USAGE);
  }
  return event;
}

if (isEntryPoint(import.meta.url)) process.exitCode = await main(process.argv.slice(2));
