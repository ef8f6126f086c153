/** `npm run invoke --local`: lambda/handler.ts run in this process with the caller's AWS credentials. */
import { randomUUID } from 'node:crypto';
import { loadConfig } from '../../lambda/config.js';
import type { InvocationContext } from '../../lambda/handler.js';
import { LAMBDA_MAX_MS, type RunResult } from './aws.js';
import { EXIT_FAILED, EXIT_USAGE, errorText, InvokeError } from './errors.js';
import { type Io, readableLogLine } from './output.js';

/** What a local run's context says it is: no deployed function has this ARN. */
export const LOCAL_FUNCTION_ARN = 'arn:aws:lambda:local:000000000000:function:eks-node-drainer-local-invoke';

/**
 * Runs lambda/handler.ts in this process. Its config is read from process.env when the module loads,
 * so CLUSTER_NAME and DRY_RUN are set before the import. Its JSON log lines go to `io.err` (stdout
 * carries only the summary), readable in text mode, as they are with --json.
 */
export interface LocalConfig {
  readonly settings: { readonly CLUSTER_NAME: string; readonly DRY_RUN: 'true' | 'false' };
  readonly drainTimeoutSeconds: number;
}

/** The handler's configuration for a local run, checked before anything is called. */
export function localConfig(
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

export async function runLocally(
  { settings, drainTimeoutSeconds }: LocalConfig,
  event: Record<string, unknown>,
  json: boolean,
  io: Io,
): Promise<RunResult> {
  Object.assign(process.env, settings);
  const { handler } = await import('../../lambda/handler.js').catch((error: unknown) => {
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
