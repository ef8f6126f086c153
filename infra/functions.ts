/** The project's Lambda functions (the drainer, the reconciler): one bundling, runtime and logging setup. */
import { fileURLToPath } from 'node:url';
import { Duration } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

export const fromRepoRoot = (path: string) => fileURLToPath(new URL(`../${path}`, import.meta.url));

// Past an hour, a lifecycle action that got no heartbeat has long since timed out; retrying is moot.
export const ASYNC_RETRIES = { retryAttempts: 2, maxEventAge: Duration.hours(1) };

export interface BundledFunctionProps
  extends Pick<
    nodejs.NodejsFunctionProps,
    | 'description'
    | 'memorySize'
    | 'reservedConcurrentExecutions'
    | 'environment'
    | 'vpc'
    | 'vpcSubnets'
    | 'securityGroups'
  > {
  /** The entry file, from the repository root (e.g. `lambda/handler.ts`); it exports `handler`. */
  readonly entry: string;
  readonly role: iam.Role;
  readonly deadLetterQueue: sqs.IQueue;
  readonly logRetention?: logs.RetentionDays;
}

/**
 * A Node.js 22 arm64 function, 15 minutes, bundled locally by esbuild as one ESM file with its own log
 * group (written by its role only; one such function per scope); failed async invocations go to the dead-letter queue after 2 retries.
 */
export function bundledFunction(
  scope: Construct,
  id: string,
  props: BundledFunctionProps,
): nodejs.NodejsFunction {
  const { entry, role, deadLetterQueue, logRetention, environment, ...rest } = props;
  // one function per scope: its log group is the scope's `LogGroup`
  const logGroup = new logs.LogGroup(scope, 'LogGroup', {
    retention: logRetention ?? logs.RetentionDays.ONE_MONTH,
  });
  // instead of the managed basic execution policy, which may write to every log group
  logGroup.grantWrite(role);
  return new nodejs.NodejsFunction(scope, id, {
    ...rest,
    entry: fromRepoRoot(entry),
    handler: 'handler',
    projectRoot: fromRepoRoot(''),
    depsLockFilePath: fromRepoRoot('package-lock.json'),
    runtime: lambda.Runtime.NODEJS_22_X,
    architecture: lambda.Architecture.ARM_64,
    // a longer drain continues in a fresh invocation before this runs out
    timeout: Duration.minutes(15),
    role,
    logGroup,
    environment: { ...environment, NODE_OPTIONS: '--enable-source-maps' },
    bundling: {
      format: nodejs.OutputFormat.ESM,
      minify: true,
      sourceMap: true,
      // stack traces need the mappings only; the sources would just weigh on the bundle
      sourcesContent: false,
      target: 'node22',
      mainFields: ['module', 'main'],
      // CommonJS dependencies call require(), which an ESM bundle does not have
      banner: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
      forceDockerBundling: false,
      // bench/: loading the runtime's whole CommonJS SDK took 540 ms at cold start, the tree-shaken
      // bundled SDK 253 ms; it also runs the SDK version the tests ran
      bundleAwsSDK: true,
    },
    ...ASYNC_RETRIES,
    onFailure: new SqsDestination(deadLetterQueue),
  });
}
