/**
 * Benchmark 3, cold start: the production bundle built with esbuild as the CDK's NodejsFunction
 * builds it (infra/node-drainer.ts `bundling`), its size and what dominates it (esbuild's metafile),
 * and module load + first handler call, median of fresh `node` processes, run as the function runs
 * (`NODE_OPTIONS=--enable-source-maps`). Bundles go to a temporary folder outside the repo.
 */
import { mkdirSync, mkdtempSync, statSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, version as esbuildVersion, type Metafile } from 'esbuild';
import { TEST_CREDENTIALS, TEST_REGION } from '../scripts/harness/aws-endpoint.js';
import {
  CLUSTER_NAME,
  cleanEnv,
  mdTable,
  median,
  mib,
  REPO_ROOT,
  removeOnCleanup,
  runProcess,
  type Section,
} from './support.js';

export interface Variant {
  readonly name: string;
  readonly description: string;
  readonly external: readonly string[];
}

/**
 * The function is deployed with `bundleAwsSDK: true` (infra/node-drainer.ts). The second variant is
 * what the CDK would build by default: with cdk.json's `sdkV3ExcludeSmithyPackages`, `@aws-sdk/*` and
 * `@smithy/*` external, loaded from the runtime (here: the repo's node_modules).
 */
export const VARIANTS: readonly Variant[] = [
  { name: 'deployed', description: 'as deployed: AWS SDK bundled (`bundleAwsSDK: true`)', external: [] },
  {
    name: 'runtime-sdk',
    description: 'CDK default: external `@aws-sdk/*`, `@smithy/*` (the runtime SDK)',
    external: ['@aws-sdk/*', '@smithy/*'],
  },
];

export interface Bundle {
  readonly variant: Variant;
  readonly file: string;
  readonly bytes: number;
  readonly mapBytes: number;
  /** Bytes in the output per npm package (own code: "lambda/"), largest first. */
  readonly packages: readonly { readonly name: string; readonly bytes: number }[];
  /** The largest single input files. */
  readonly files: readonly { readonly name: string; readonly bytes: number }[];
}

/** esbuild with the options the CDK's NodejsFunction bundles the function with (infra/functions.ts). */
export function bundleAsDeployed(
  entry: string,
  outfile: string,
  external: readonly string[] = [],
  minify = true,
) {
  return build({
    absWorkingDir: REPO_ROOT,
    entryPoints: [entry],
    outfile,
    bundle: true,
    minify,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    sourcemap: true,
    sourcesContent: false,
    mainFields: ['module', 'main'],
    banner: {
      js: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
    },
    external: [...external],
    metafile: true,
    logLevel: 'silent',
  });
}

export async function buildBundles(): Promise<Bundle[]> {
  const root = mkdtempSync(join(tmpdir(), 'eks-node-drainer-bundles-'));
  removeOnCleanup(root);
  const bundles: Bundle[] = [];
  for (const variant of VARIANTS) {
    const dir = join(root, variant.name);
    mkdirSync(dir);
    // externals resolve from the repo's node_modules, as the Lambda runtime provides the SDK
    if (variant.external.length > 0) symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'));
    const file = join(dir, 'index.mjs');
    const result = await bundleAsDeployed(join(REPO_ROOT, 'lambda', 'handler.ts'), file, variant.external);
    bundles.push({
      variant,
      file,
      bytes: statSync(file).size,
      mapBytes: statSync(`${file}.map`).size,
      ...composition(result.metafile),
    });
  }
  return bundles;
}

function composition(metafile: Metafile): Pick<Bundle, 'packages' | 'files'> {
  const output = Object.values(metafile.outputs).find((o) => o.entryPoint !== undefined);
  const inputs = Object.entries(output?.inputs ?? {}).map(([path, input]) => ({
    name: path,
    bytes: input.bytesInOutput,
  }));
  const byPackage = new Map<string, number>();
  for (const { name, bytes } of inputs) {
    const inModules = name.split('node_modules/').at(-1) ?? name;
    const parts = inModules.split('/');
    const pkg = name.includes('node_modules/')
      ? parts[0]?.startsWith('@')
        ? `${parts[0]}/${parts[1]}`
        : (parts[0] ?? name)
      : `${parts[0]}/ (own code)`;
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + bytes);
  }
  const largest = <T extends { bytes: number }>(items: T[]): T[] => items.sort((a, b) => b.bytes - a.bytes);
  return {
    packages: largest([...byPackage].map(([name, bytes]) => ({ name, bytes }))),
    files: largest(inputs).slice(0, 5),
  };
}

export interface ProbeResult {
  readonly bootMs: number;
  readonly loadMs: number;
  readonly firstCallMs: number;
  readonly rssAfterLoad: number;
  readonly peakRss: number;
  readonly outcome: string;
  readonly lifecycleResult: string | null;
  readonly evicted: number;
  readonly evictionRefusals: number;
  readonly errors: readonly string[];
  /** spawn → exit, measured by the parent. */
  readonly processMs: number;
  /** The handler's own JSON log lines. */
  readonly logLines: number;
}

/** One fresh `node` process running bench/probe.mjs against a bundle, as the function's runtime would. */
export async function runProbe(bundle: Bundle, env: Record<string, string> = {}): Promise<ProbeResult> {
  const child = await runProcess(
    process.execPath,
    ['--enable-source-maps', join(REPO_ROOT, 'bench', 'probe.mjs')],
    {
      cwd: tmpdir(),
      env: cleanEnv({
        CLUSTER_NAME,
        AWS_REGION: TEST_REGION,
        AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
        LOG_LEVEL: 'info',
        ...env,
        BENCH_BUNDLE: pathToFileURL(bundle.file).href,
      }),
    },
  );
  const line = child.stdout.split('\n').find((l) => l.startsWith('BENCH '));
  if (child.code !== 0 || !line) {
    throw new Error(`probe of ${bundle.variant.name} exited ${child.code}: ${child.stderr.slice(-2000)}`);
  }
  return {
    ...(JSON.parse(line.slice('BENCH '.length)) as Omit<ProbeResult, 'processMs' | 'logLines'>),
    processMs: child.wallMs,
    logLines: child.stdout.split('\n').filter((l) => l.startsWith('{')).length,
  };
}

export interface ColdStart {
  readonly bundle: Bundle;
  readonly runs: number;
  readonly loadMs: number;
  readonly firstCallMs: number;
  /** Import + first call: the target's figure. */
  readonly totalMs: number;
  readonly bootMs: number;
  readonly processMs: number;
  readonly rssAfterCall: number;
}

/** `runs` fresh processes per bundle, round-robin across bundles, after one unmeasured warm-up each. */
export async function measureColdStart(bundles: readonly Bundle[], runs: number): Promise<ColdStart[]> {
  const samples = new Map<Bundle, ProbeResult[]>(bundles.map((b) => [b, []]));
  for (const bundle of bundles) await runProbe(bundle);
  for (let i = 0; i < runs; i++) {
    for (const bundle of bundles) {
      const result = await runProbe(bundle);
      if (result.outcome !== 'ignored') throw new Error(`test notification: outcome ${result.outcome}`);
      samples.get(bundle)?.push(result);
    }
  }
  return bundles.map((bundle) => {
    const results = samples.get(bundle) ?? [];
    const m = (pick: (r: ProbeResult) => number): number => median(results.map(pick));
    return {
      bundle,
      runs: results.length,
      loadMs: m((r) => r.loadMs),
      firstCallMs: m((r) => r.firstCallMs),
      totalMs: m((r) => r.loadMs + r.firstCallMs),
      bootMs: m((r) => r.bootMs),
      processMs: m((r) => r.processMs),
      rssAfterCall: m((r) => r.peakRss),
    };
  });
}

// ---- report ---------------------------------------------------------------------------------

const SIZE_LIMIT = 1.5 * 1024 * 1024;
const ms = (value: number): string => `${Math.round(value)} ms`;

export function coldStartSection(starts: readonly ColdStart[]): Section {
  const [deployed, ...others] = starts;
  if (!deployed) throw new Error('no bundles');
  const runtimeSdk = starts.find((s) => s.bundle.variant.external.length > 0) ?? deployed;
  const variants = mdTable(
    [
      'bundle',
      'size',
      'source map',
      'import',
      'first call',
      'import + first call',
      'node start → exit',
      'RSS after the call',
    ],
    starts.map((s) => [
      s.bundle.variant.description,
      `${mib(s.bundle.bytes)} (${s.bundle.bytes.toLocaleString('en')} B)`,
      mib(s.bundle.mapBytes),
      ms(s.loadMs),
      ms(s.firstCallMs),
      `**${ms(s.totalMs)}**`,
      ms(s.processMs),
      mib(s.rssAfterCall),
    ]),
    'lrrrrrrr',
  );
  const names = [
    ...new Set([deployed, runtimeSdk].flatMap((s) => s.bundle.packages.slice(0, 8).map((p) => p.name))),
  ];
  const share = (s: ColdStart, name: string): string => {
    const bytes = s.bundle.packages.find((p) => p.name === name)?.bytes ?? 0;
    return bytes
      ? `${(bytes / 1024).toFixed(0)} KiB (${((100 * bytes) / s.bundle.bytes).toFixed(0)} %)`
      : '–';
  };
  const composition = mdTable(
    ['package (bytes in the minified output)', deployed.bundle.variant.name, runtimeSdk.bundle.variant.name],
    names.map((name) => [name, share(deployed, name), share(runtimeSdk, name)]),
    'lrr',
  );
  const files = deployed.bundle.files
    .map((f) => `\`${f.name}\` ${(f.bytes / 1024).toFixed(0)} KiB`)
    .join(', ');
  const ec2 = createRequire(join(REPO_ROOT, 'package.json')).resolve('@aws-sdk/client-ec2');
  return {
    rows: [
      {
        benchmark: '3a. Production bundle size',
        result: `${mib(deployed.bundle.bytes)} (${deployed.bundle.bytes.toLocaleString('en')} B) as deployed; ${others
          .map((s) => `${s.bundle.variant.name} ${mib(s.bundle.bytes)}`)
          .join(', ')}`,
        target: "≤ 1.5 MB (read as MiB, esbuild's and the CDK's unit)",
        met: deployed.bundle.bytes <= SIZE_LIMIT,
      },
      {
        benchmark: '3b. Cold start: import + first handler call',
        result: `${ms(deployed.totalMs)} as deployed (median of ${deployed.runs}); with the runtime's SDK ${ms(runtimeSdk.totalMs)}`,
        target: '≤ 200 ms',
        met: deployed.totalMs <= 200,
      },
    ],
    details: `### 3. Cold start: bundle size, module load and first call

Built with esbuild ${esbuildVersion} as the CDK's \`NodejsFunction\` builds it (infra/node-drainer.ts): entry
\`lambda/handler.ts\`, bundle, minify, ESM, platform node, target node22, source map without sources content,
mainFields module,main, the createRequire banner, the AWS SDK bundled (\`bundleAwsSDK: true\`); into a temporary
folder outside the repo. For comparison, the CDK default (cdk.json's \`sdkV3ExcludeSmithyPackages\`: \`@aws-sdk/*\`
and \`@smithy/*\` external, resolved from the repo's node_modules as the runtime's own SDK would be).
Each figure is the median of ${deployed.runs} fresh \`node --enable-source-maps\` processes (the function's NODE_OPTIONS),
round-robin over the bundles after one unmeasured warm-up each; a process imports the bundle with
\`CLUSTER_NAME\`, region and credentials set, then calls \`handler\` once with an Auto Scaling test notification
(bench/probe.mjs). Node ${process.version} here; the function runs nodejs22.x.

${variants}

What the bundle holds (esbuild metafile):

${composition}

Largest inputs of the deployed bundle: ${files}.
With the runtime's SDK the load time waits for it: the runtime loads its CommonJS builds whole
(\`@aws-sdk/client-ec2\`'s is one ${mib(statSync(ec2).size)} file, of which the drainer uses DescribeInstances), whereas
bundling the SDK's ES modules lets esbuild drop the unused commands.`,
  };
}
