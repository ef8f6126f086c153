/**
 * The project's Lambda functions: one registry of their entries, one set of esbuild options, one
 * runtime and logging setup. From the sources (this repository) `NodejsFunction` bundles each entry
 * at synth; from the installed package the bundles are prebuilt (scripts/build-package.ts) and read
 * as assets, so a consumer's synth needs neither esbuild nor our TypeScript sources.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

/**
 * Every function's entry (it exports `handler`), by the name of its prebuilt bundle
 * (`dist/assets/<name>/index.mjs`). A new function is one line here.
 */
export const FUNCTION_ENTRIES = {
  drainer: 'lambda/handler.ts',
  reconciler: 'lambda/reconciler/handler.ts',
  rbac: 'lambda/rbac/handler.ts',
} as const;
export type FunctionName = keyof typeof FUNCTION_ENTRIES;
export type FunctionEntry = (typeof FUNCTION_ENTRIES)[FunctionName];

/**
 * The esbuild options of every bundle, whoever runs esbuild: `NodejsFunction` here, the package build
 * (scripts/build-package.ts), and the bundle tests and benchmarks.
 */
export const BUNDLE_OPTIONS = {
  format: 'esm',
  minify: true,
  sourcemap: true,
  // stack traces need the mappings only; the sources would just weigh on the bundle
  sourcesContent: false,
  target: 'node22',
  mainFields: ['module', 'main'],
  // CommonJS dependencies call require(), which an ESM bundle does not have
  banner: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
} as const;

/** The bundle's file name in its asset directory: ESM, as `NodejsFunction` names it. */
export const BUNDLE_FILE = 'index.mjs';

/**
 * The package's root: the nearest directory above this module with a package.json. It is the
 * repository from the sources (infra/), and the installed package from the compiled module
 * (dist/infra/), so files read at synth resolve the same from both.
 */
export const PACKAGE_ROOT = findPackageRoot(dirname(fileURLToPath(import.meta.url)));

function findPackageRoot(dir: string): string {
  if (existsSync(join(dir, 'package.json'))) return dir;
  const parent = dirname(dir);
  if (parent === dir) throw new Error(`no package.json above ${dir}`);
  return findPackageRoot(parent);
}

export const fromRepoRoot = (path: string): string => join(PACKAGE_ROOT, path);

/** Where the prebuilt bundles are, beside the compiled module (dist/infra/ → dist/assets/). */
export const PREBUILT_ASSETS = fileURLToPath(new URL('../assets/', import.meta.url));

// Past an hour, a lifecycle action that got no heartbeat has long since timed out; retrying is moot.
export const ASYNC_RETRIES = { retryAttempts: 2, maxEventAge: Duration.hours(1) };

export interface BundledFunctionProps
  extends Pick<
    lambda.FunctionProps,
    | 'description'
    | 'memorySize'
    | 'reservedConcurrentExecutions'
    | 'environment'
    | 'vpc'
    | 'vpcSubnets'
    | 'securityGroups'
  > {
  /** The entry file, from the repository root (one of `FUNCTION_ENTRIES`); it exports `handler`. */
  readonly entry: FunctionEntry;
  readonly role: iam.Role;
  readonly deadLetterQueue: sqs.IQueue;
  readonly logRetention?: logs.RetentionDays;
}

/**
 * A Node.js 22 arm64 function, 15 minutes, one ESM file with its own log group (written by its role
 * only; one such function per scope); failed async invocations go to the dead-letter queue after 2
 * retries. The prebuilt bundle in `assets` when it is there, else bundled from the entry by esbuild.
 */
export function bundledFunction(
  scope: Construct,
  id: string,
  props: BundledFunctionProps,
  assets: string = PREBUILT_ASSETS,
): lambda.Function {
  const { entry, role, deadLetterQueue, logRetention, environment, ...rest } = props;
  // one function per scope: its log group is the scope's `LogGroup`
  const logGroup = new logs.LogGroup(scope, 'LogGroup', {
    retention: logRetention ?? logs.RetentionDays.ONE_MONTH,
  });
  // instead of the managed basic execution policy, which may write to every log group
  logGroup.grantWrite(role);
  const common = {
    ...rest,
    runtime: lambda.Runtime.NODEJS_22_X,
    architecture: lambda.Architecture.ARM_64,
    // a longer drain continues in a fresh invocation before this runs out
    timeout: Duration.minutes(15),
    role,
    logGroup,
    environment: { ...environment, NODE_OPTIONS: '--enable-source-maps' },
    ...ASYNC_RETRIES,
    onFailure: new SqsDestination(deadLetterQueue),
  };
  const prebuilt = join(assets, functionName(entry));
  if (existsSync(join(prebuilt, BUNDLE_FILE))) {
    return new lambda.Function(scope, id, {
      ...common,
      code: lambda.Code.fromAsset(prebuilt),
      handler: 'index.handler',
    });
  }
  return new nodejs.NodejsFunction(scope, id, {
    ...common,
    entry: fromRepoRoot(entry),
    handler: 'handler',
    projectRoot: fromRepoRoot(''),
    depsLockFilePath: fromRepoRoot('package-lock.json'),
    bundling: {
      format: nodejs.OutputFormat.ESM,
      minify: BUNDLE_OPTIONS.minify,
      sourceMap: BUNDLE_OPTIONS.sourcemap,
      sourcesContent: BUNDLE_OPTIONS.sourcesContent,
      target: BUNDLE_OPTIONS.target,
      mainFields: [...BUNDLE_OPTIONS.mainFields],
      banner: BUNDLE_OPTIONS.banner,
      forceDockerBundling: false,
      // bench/: loading the runtime's whole CommonJS SDK took 540 ms at cold start, the tree-shaken
      // bundled SDK 253 ms; it also runs the SDK version the tests ran
      bundleAwsSDK: true,
    },
  });
}

/** The registry's name of an entry: its prebuilt bundle's directory. */
export function functionName(entry: FunctionEntry): FunctionName {
  const names = Object.keys(FUNCTION_ENTRIES) as FunctionName[];
  return names.find((name) => FUNCTION_ENTRIES[name] === entry) as FunctionName;
}
