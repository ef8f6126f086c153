/**
 * `npm run bench`: issue 6's five benchmarks on the real local cluster from scripts/harness, in one run.
 * Prints progress and the results (figures, ratios, targets met or missed: never asserted), and writes
 * them to bench/results/<date>.md (raw data: <date>.json, gitignored). Stops everything it started,
 * also on Ctrl-C.
 *
 *   --reps N      drain-latency repetitions per drainer (default 5)
 *   --only a,b    development: only latency (incl. API cost), cold, memory, scale; no results file
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { apiCostSection } from './api-cost.js';
import { buildBundles, coldStartSection, measureColdStart } from './cold-start.js';
import { findKubectl, latencySection, runLatency } from './latency.js';
import { memorySection, runMemory } from './memory.js';
import { runScaleIn, scaleInSection } from './scale-in.js';
import {
  cleanUp,
  elapsedMs,
  isInterrupted,
  machineDescription,
  mark,
  mdTable,
  progress,
  REPO_ROOT,
  runProcess,
  type Section,
  startEnv,
  stopOnInterrupt,
} from './support.js';

const COLD_START_RUNS = 20;
const PARTS = ['latency', 'cold', 'memory', 'scale'] as const;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { reps: { type: 'string', default: '5' }, only: { type: 'string' } },
  });
  const reps = Number(values.reps);
  const only = values.only?.split(',');
  const wanted = (part: (typeof PARTS)[number]): boolean => !only || only.includes(part);
  stopOnInterrupt();
  const startedAt = new Date();
  const loadAtStart = loadavg()[0] ?? 0;
  const code = await codeRevision();
  const sections: Record<string, Section> = {};
  const raw: Record<string, unknown> = {};

  progress('building the production bundle with esbuild (3 variants, into a temporary folder)');
  const bundles = await buildBundles();
  if (wanted('cold')) {
    // before the control plane starts, so nothing else competes for the 2 cores
    progress(`cold start: ${COLD_START_RUNS} fresh node processes per bundle`);
    const starts = await measureColdStart(bundles, COLD_START_RUNS);
    sections.cold = coldStartSection(starts);
    raw.coldStart = starts;
  }

  progress(
    'starting the local control plane (EKS token webhook, etcd, kube-apiserver 1.20, controller manager)',
  );
  const env = await startEnv();
  progress(`control plane ready at ${env.cluster.server} (${env.serverVersion})`);
  if (wanted('latency')) {
    const latency = await runLatency(env, reps);
    sections.latency = latencySection(latency);
    sections.api = apiCostSection(latency.runs);
    raw.latency = latency;
  }
  if (wanted('memory')) {
    const memory = [];
    // as deployed (the first variant), and the other way of shipping the SDK (bundled or the runtime's)
    const deployed = bundles[0];
    const bundledSdk = (b: (typeof bundles)[number]): boolean => b.variant.external.length === 0;
    const other = bundles.find((b) => deployed && bundledSdk(b) !== bundledSdk(deployed));
    for (const bundle of [deployed, other]) {
      if (bundle) memory.push(await runMemory(env, bundle));
    }
    sections.memory = memorySection(memory);
    raw.memory = memory;
  }
  if (wanted('scale')) {
    const scale = await runScaleIn(env);
    sections.scale = scaleInSection(scale);
    raw.scaleIn = scale;
  }

  const kubectl = await findKubectl();
  const machine = {
    'Code measured': code,
    ...machineDescription(env.serverVersion, kubectl.version),
    'Load average (1 min)': `${loadAtStart.toFixed(2)} at the start, ${(loadavg()[0] ?? 0).toFixed(2)} at the end`,
  };
  const ordered = ['latency', 'api', 'cold', 'memory', 'scale'].flatMap((k) =>
    sections[k] ? [sections[k]] : [],
  );
  const date = startedAt.toLocaleDateString('sv'); // YYYY-MM-DD, local time
  const markdown = `# Benchmarks, ${date}

\`npm run bench\` started ${startedAt.toISOString()}; total wall time ${(elapsedMs() / 60_000).toFixed(1)} min.
Everything on the real local control plane of scripts/harness (etcd, kube-apiserver, kube-controller-manager
with the disruption, ReplicaSet and Deployment controllers; scheduler and kubelets simulated), side by side
in this one run. Figures are measured and reported, never asserted.

## Machine

${mdTable(
  ['', ''],
  Object.entries(machine).map(([k, v]) => [k, v]),
)}

## Summary

${mdTable(
  ['benchmark', 'result', 'target', ''],
  ordered.flatMap((s) => s.rows.map((r) => [r.benchmark, r.result, r.target, mark(r.met)])),
)}

## Details

${ordered.map((s) => s.details).join('\n\n')}
`;
  if (only) {
    console.log(`\n${markdown}`);
    return;
  }
  const dir = join(REPO_ROOT, 'bench', 'results');
  const file = join(dir, `${date}.md`);
  const rawFile = join(dir, `${date}.json`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, markdown);
  writeFileSync(rawFile, JSON.stringify({ machine, ...raw }));
  // the repo's formatter covers bench/**: format the results as `npm run lint` expects them
  await runProcess(join(REPO_ROOT, 'node_modules', '.bin', 'biome'), ['format', '--write', file, rawFile]);
  console.log(`\n${readFileSync(file, 'utf8')}`);
  progress(`results written to bench/results/${date}.md (raw data: ${date}.json)`);
}

/** The commit measured, and which files under lambda/ differed from it when the run started. */
async function codeRevision(): Promise<string> {
  const git = async (...args: string[]): Promise<string> =>
    (await runProcess('git', ['-C', REPO_ROOT, ...args]).catch(() => undefined))?.stdout ?? '';
  const head = (await git('rev-parse', '--short', 'HEAD')).trim() || 'unknown';
  const changed = (await git('status', '--porcelain', '--', 'lambda'))
    .split('\n')
    .filter(Boolean)
    .map((line) => line.slice(3));
  return changed.length ? `${head} + uncommitted changes in ${changed.join(', ')}` : head;
}

main()
  .catch((error: unknown) => {
    if (isInterrupted()) return;
    console.error('benchmark failed:', error instanceof Error ? (error.stack ?? error.message) : error);
    process.exitCode = 1;
  })
  .finally(async () => {
    await cleanUp();
    progress('stopped everything the benchmark started');
  });
