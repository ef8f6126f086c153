/** The AWS side of `npm run invoke`: the instance's group, state and hook (AutoScaling), and the Lambda invoke. */
import {
  AutoScalingClient,
  DescribeAutoScalingInstancesCommand,
  DescribeLifecycleHooksCommand,
} from '@aws-sdk/client-auto-scaling';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { TERMINATING } from '../../lambda/event.js';
import type { InvocationSummary } from '../../lambda/handler.js';
import type { InvokeOptions } from './args.js';
import { aws, awsFailure, EXIT_FAILED, EXIT_USAGE, InvokeError, parseJson } from './errors.js';

/** The NodeDrainer construct's default `lifecycleHookName` (infra/node-drainer.ts). */
const DEFAULT_HOOK_NAME = 'eks-node-drainer';
/** A Lambda function runs at most 15 minutes. */
export const LAMBDA_MAX_MS = 15 * 60_000;

// Bounded AWS calls, as in lambda/handler.ts. A synchronous invoke waits for the whole function
// (up to 15 min) and is never retried: a retry would start a second drain.
const SDK_OPTIONS = { requestHandler: { connectionTimeout: 3_000, requestTimeout: 10_000 } };
const INVOKE_OPTIONS = {
  maxAttempts: 1,
  requestHandler: { connectionTimeout: 3_000, requestTimeout: LAMBDA_MAX_MS + 60_000 },
};

export function autoScalingClient(): AutoScalingClient {
  return new AutoScalingClient(SDK_OPTIONS);
}

/** The region, and credentials that resolve, before any call; both fail with a clear message. */
export async function awsSetup(client: AutoScalingClient): Promise<string> {
  const region = await client.config.region();
  await client.config.credentials();
  return region;
}

// ---- the lifecycle action -----------------------------------------------------------------------

export interface LifecycleTarget {
  readonly asg: string;
  readonly hook: string;
  /** Known when the instance was looked up (always before a real drain that is not forced). */
  readonly lifecycleState?: string;
}

/**
 * The group and hook the event names, from the options or looked up. A real drain that is not forced
 * needs the instance's lifecycle state, so the instance is looked up then even when --asg is given.
 */
export async function lifecycleTarget(
  options: InvokeOptions,
  client: AutoScalingClient,
): Promise<LifecycleTarget> {
  let asg = options.asg;
  let lifecycleState: string | undefined;
  if (asg === undefined || (!options.dryRun && !options.force)) {
    const found = await autoScalingInstance(client, options.instanceId);
    if (asg !== undefined && found.asg !== asg) {
      throw new InvokeError(
        `instance ${options.instanceId} is in Auto Scaling group ${found.asg}, not ${asg} (--asg)`,
        EXIT_USAGE,
      );
    }
    asg = found.asg;
    lifecycleState = found.lifecycleState;
  }
  const hook = options.hook ?? (await terminationHook(client, asg));
  return { asg, hook, ...(lifecycleState === undefined ? {} : { lifecycleState }) };
}

async function autoScalingInstance(
  client: AutoScalingClient,
  instanceId: string,
): Promise<{ readonly asg: string; readonly lifecycleState?: string }> {
  const answer = await aws(
    'DescribeAutoScalingInstances',
    client.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [instanceId] })),
  );
  const found = answer.AutoScalingInstances?.find((i) => i.InstanceId === instanceId);
  if (!found?.AutoScalingGroupName) {
    throw new InvokeError(
      `instance ${instanceId} is not in any Auto Scaling group (DescribeAutoScalingInstances found nothing)`,
    );
  }
  return {
    asg: found.AutoScalingGroupName,
    ...(found.LifecycleState === undefined ? {} : { lifecycleState: found.LifecycleState }),
  };
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

export interface RunResult {
  readonly summary?: InvocationSummary;
  readonly functionError?: {
    readonly kind: string;
    readonly errorType?: string;
    readonly errorMessage: string;
  };
  readonly logTail?: string;
}

export async function invokeFunction(
  name: string,
  event: Record<string, unknown>,
  region: string,
): Promise<RunResult> {
  const lambda = new LambdaClient({ ...INVOKE_OPTIONS, region });
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

export function isSummary(value: unknown): value is InvocationSummary {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { outcome?: unknown }).outcome === 'string' &&
    'lifecycleResult' in value
  );
}
