/** `npm run invoke` command line: pure parsing into options, help, or a one-line usage error. */
import { type ParseArgsConfig, parseArgs } from 'node:util';

export const USAGE = `usage: npm run invoke -- --instance-id i-0123456789abcdef0 [options]

Builds a termination lifecycle event for the instance and runs the drainer on it.
A dry run unless --yes: nothing is evicted and no lifecycle action is completed.

  --instance-id ID     the EC2 instance whose node to drain (required)
  --asg NAME           its Auto Scaling group (default: looked up with DescribeAutoScalingInstances)
  --hook NAME          the termination lifecycle hook (default: looked up with DescribeLifecycleHooks)
  --dry-run            plan only, server-side dry-run evictions (the default)
  --yes                really drain: cordon, evict, complete the lifecycle action; only an instance in
                       Terminating:Wait (a hand-made event has no lifecycle action token)
  --force              drain even an instance that is not in Terminating:Wait (e.g. InService): its node
                       is cordoned and emptied although nothing terminates it
  --function NAME      invoke the deployed Lambda function synchronously, print its outcome and log tail
  --local              run lambda/handler.ts in this process with your AWS credentials ...
  --cluster NAME       ... for this EKS cluster (required with --local)
  --event-time ISO     when the lifecycle action began (default: now); the drain deadline counts from it
  --instance-state S   instead of a lifecycle event, EC2's state change of the instance to S
                       (shutting-down, stopping, terminated: a lost instance's node is released;
                       running: a released node is restored); a dry run unless --yes
  --scheduled-event ISO
                       instead of a lifecycle event, an AWS Health retirement of the instance whose
                       window starts then: shows the node that would be cordoned and when its
                       replacement would be requested (with --yes: cordons and plans it)
  --check              instead of a lifecycle event, send the read-only check request
                       ({ "eksNodeDrainer": { "check": true } }): the function reports its own view of the
                       cluster (npm run doctor does too); no --instance-id then
  --json               print the summary as one JSON object
  --help               this text

AWS region, credentials and endpoints come from the SDK's standard configuration
(AWS_REGION or AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL_<SERVICE>).`;

const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;

export interface InvokeOptions {
  readonly instanceId: string;
  readonly asg?: string;
  readonly hook?: string;
  readonly dryRun: boolean;
  /** Drain even if the instance is not in Terminating:Wait (the event says `force: true`). */
  readonly force: boolean;
  readonly target:
    | { readonly kind: 'function'; readonly name: string }
    | { readonly kind: 'local'; readonly cluster: string };
  readonly json: boolean;
  /** When the lifecycle action began; default now. */
  readonly eventTime?: Date;
  /** `--scheduled-event`: send a Health retirement event whose window starts then instead. */
  readonly scheduledStart?: Date;
}

export type ParsedArgs =
  | { readonly kind: 'run'; readonly options: InvokeOptions }
  | { readonly kind: 'check'; readonly target: InvokeOptions['target']; readonly json: boolean }
  /** `--instance-state`: an EC2 state change of the instance instead of a lifecycle event. */
  | {
      readonly kind: 'state';
      readonly instanceId: string;
      readonly state: string;
      readonly dryRun: boolean;
      readonly target: InvokeOptions['target'];
      readonly json: boolean;
    }
  | { readonly kind: 'help' }
  | { readonly kind: 'usage-error'; readonly message: string };

/** Pure: the command line → options, help, or a one-line usage error. */
export function parseInvokeArgs(argv: readonly string[]): ParsedArgs {
  const parsed = parseCommandLine(argv, {
    'instance-id': { type: 'string' },
    asg: { type: 'string' },
    hook: { type: 'string' },
    'dry-run': { type: 'boolean' },
    yes: { type: 'boolean' },
    force: { type: 'boolean' },
    function: { type: 'string' },
    local: { type: 'boolean' },
    cluster: { type: 'string' },
    'event-time': { type: 'string' },
    'scheduled-event': { type: 'string' },
    json: { type: 'boolean' },
    check: { type: 'boolean' },
    'instance-state': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if ('message' in parsed) return usageError(parsed.message);
  const { values, text } = parsed;
  if (values.help) return { kind: 'help' };

  const target = targetOf(values, text);
  if (values.check) {
    const lifecycleOnly = ['instance-id', 'asg', 'hook', 'dry-run', 'yes', 'force', 'event-time'].filter(
      (name) => values[name] !== undefined,
    );
    if (lifecycleOnly.length > 0) {
      return usageError(`--check sends no lifecycle event: drop --${lifecycleOnly.join(', --')}`);
    }
    return 'kind' in target && target.kind === 'usage-error'
      ? target
      : { kind: 'check', target: target as InvokeOptions['target'], json: values.json === true };
  }
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
  for (const name of ['asg', 'hook'] as const) {
    if (text(name)?.trim() === '') return usageError(`--${name} needs a non-empty value`);
  }
  if ('kind' in target && target.kind === 'usage-error') return target;

  const state = text('instance-state');
  if (state !== undefined) {
    const lifecycleOnly = ['asg', 'hook', 'force', 'event-time'].filter((name) => values[name] !== undefined);
    if (lifecycleOnly.length > 0)
      return usageError(`--instance-state sends no lifecycle event: drop --${lifecycleOnly.join(', --')}`);
    return {
      kind: 'state',
      instanceId,
      state,
      dryRun: values.yes !== true,
      target: target as InvokeOptions['target'],
      json: values.json === true,
    };
  }

  const rawTime = text('event-time');
  const eventTime = rawTime === undefined ? undefined : new Date(rawTime);
  if (eventTime !== undefined && !Number.isFinite(eventTime.getTime())) {
    return usageError(`--event-time must be an ISO 8601 time, got ${JSON.stringify(rawTime)}`);
  }

  const rawStart = text('scheduled-event');
  const scheduledStart = rawStart === undefined ? undefined : new Date(rawStart);
  if (scheduledStart !== undefined) {
    if (!Number.isFinite(scheduledStart.getTime()))
      return usageError(`--scheduled-event must be an ISO 8601 time, got ${JSON.stringify(rawStart)}`);
    const lifecycleOnly = ['asg', 'hook', 'force', 'event-time'].filter((name) => values[name] !== undefined);
    if (lifecycleOnly.length > 0)
      return usageError(`--scheduled-event sends no lifecycle event: drop --${lifecycleOnly.join(', --')}`);
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
      force: values.force === true,
      target: target as InvokeOptions['target'],
      json: values.json === true,
      ...(eventTime === undefined ? {} : { eventTime }),
      ...(scheduledStart === undefined ? {} : { scheduledStart }),
    },
  };
}

/** Where the drainer runs: --function NAME, or --local --cluster NAME. */
function targetOf(
  values: Record<string, unknown>,
  text: (name: string) => string | undefined,
): InvokeOptions['target'] | { readonly kind: 'usage-error'; readonly message: string } {
  for (const name of ['function', 'cluster'] as const) {
    if (text(name)?.trim() === '')
      return { kind: 'usage-error', message: `--${name} needs a non-empty value` };
  }
  const functionName = text('function');
  const cluster = text('cluster');
  const fail = (message: string) => ({ kind: 'usage-error', message }) as const;
  if (functionName !== undefined && values.local) {
    return fail('--function and --local exclude each other: invoke the deployed function or run locally');
  }
  if (cluster !== undefined && !values.local) {
    return fail('--cluster is only used with --local (a deployed function has its own CLUSTER_NAME)');
  }
  if (values.local && cluster === undefined) {
    return fail('--local needs --cluster <name>: the EKS cluster whose node to drain');
  }
  if (functionName !== undefined) return { kind: 'function', name: functionName };
  if (values.local && cluster !== undefined) return { kind: 'local', cluster };
  return fail(
    'say where the drainer runs: --function <name> (the deployed Lambda) or --local --cluster <name> (here, with your AWS credentials)',
  );
}

function usageError(message: string): ParsedArgs {
  return { kind: 'usage-error', message };
}

export interface CommandLine {
  readonly values: Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>;
  /** The option's string value, if given. */
  text(name: string): string | undefined;
}

/** node:util parseArgs, strict and without positionals; a bad command line gives a one-line message. */
export function parseCommandLine(
  argv: readonly string[],
  options: NonNullable<ParseArgsConfig['options']>,
): CommandLine | { readonly message: string } {
  let values: CommandLine['values'];
  try {
    ({ values } = parseArgs({ args: [...argv], strict: true, allowPositionals: false, options }));
  } catch (error) {
    return { message: parseArgsMessage(error) };
  }
  return {
    values,
    text: (name) => {
      const value = values[name];
      return typeof value === 'string' ? value : undefined;
    },
  };
}

/** node:util parseArgs messages, first sentence only ("Unknown option '--now'"). */
function parseArgsMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const first = message.split(/\.\s/)[0] ?? message;
  return first.charAt(0).toLowerCase() + first.slice(1);
}
