/**
 * `npm run bench`: issue 6's five benchmarks on the real local cluster from scripts/harness, in one run.
 * Prints progress and the results (figures, ratios, targets met or missed: never asserted), and writes
 * them to bench/results/<date>.md (raw data: <date>.json, gitignored). Stops everything it started,
 * also on Ctrl-C.
 *
 *   --reps N       drain-latency repetitions per drainer (default 5)
 *   --k8s a,b      the control planes to measure on, one after another: 1.20 and/or 1.32 (default:
 *                  EKS_DRAINER_K8S, else 1.20); results of other than 1.20 alone go to <date>-k8s-<a>-<b>.md
 *   --only a,b     only these parts: latency (incl. API cost), cold, memory, scale, scale-floor,
 *                  scale-uncoordinated (the same scale-in without the Role for the leases: as before turns), mass,
 *                  release; results go to <date>[-k8s-…]-<parts>.md (scale-floor: the scale-in by one ideal
 *                  client, its reference CPU; not run without --only), request-costs (what one request of
 *                  each kind the drains make costs the API server, and their share of the scale-in's;
 *                  not run without --only)
 *   --scale-nodes N  nodes drained at once in the scale-in benchmark (default 50, 20 pods each)
 *   --scale-processes  the scale-in's invocations each in a process of its own, as Lambda containers
 *                  (default: module instances in this process, sharing its event loop; on 2 cores the
 *                  50 processes saturate the machine)
 *   --kcm-qps N    the controller manager's client throttle (default 300, lifted so the control plane is not
 *                  the bottleneck; 20 is client-go's default)
 */

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type K8sVersion, parseK8sVersion } from '../scripts/harness/cluster.js';
import { apiCostSection } from './api-cost.js';
import { type Bundle, buildBundles, coldStartSection, measureColdStart } from './cold-start.js';
import { findKubectl, latencySection, runLatency } from './latency.js';
import { massTerminationSection, runMassTermination } from './mass-termination.js';
import { memorySection, runMemory } from './memory.js';
import { releaseWaitsSection, runReleaseWaits } from './release-waits.js';
import { runScaleFloor, scaleFloorSection } from './scale-floor.js';
import {
  NODES,
  runScaleIn,
  type ScaleInMode,
  type ScaleInResult,
  scaleInSection,
  uncoordinatedSection,
} from './scale-in.js';
import { requestCostsSection, runRequestCosts } from './server-view.js';
import {
  cleanUp,
  codeRevision,
  elapsedMs,
  isInterrupted,
  machineDescription,
  mark,
  mdTable,
  progress,
  REPO_ROOT,
  runProcess,
  type Section,
  type SummaryRow,
  startEnv,
  stopOnInterrupt,
} from './support.js';

const COLD_START_RUNS = 20;
const PARTS = [
  'latency',
  'cold',
  'memory',
  'scale',
  'scale-uncoordinated',
  'scale-floor',
  'mass',
  'release',
  'request-costs',
] as const;
type Part = (typeof PARTS)[number];

/** One control plane's benchmarks. */
interface ServerRun {
  readonly version: K8sVersion;
  readonly serverVersion: string;
  readonly kubectl: string;
  readonly sections: Record<string, Section>;
  readonly raw: Record<string, unknown>;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      reps: { type: 'string', default: '5' },
      only: { type: 'string' },
      k8s: { type: 'string' },
      'kcm-qps': { type: 'string', default: '300' },
      'scale-nodes': { type: 'string', default: String(NODES) },
      'scale-processes': { type: 'boolean', default: false },
    },
  });
  const reps = Number(values.reps);
  const kcmQps = Number(values['kcm-qps']);
  const scaleNodes = Number(values['scale-nodes']);
  const scaleMode: ScaleInMode = values['scale-processes'] ? 'processes' : 'in-process';
  const only = values.only?.split(',');
  const versions = (values.k8s ?? process.env.EKS_DRAINER_K8S ?? '1.20')
    .split(',')
    .map((v) => parseK8sVersion(v.trim()));
  // the floor is a reference for the scale-in, asked for by name
  const wanted = (part: Part): boolean =>
    only ? only.includes(part) : !['scale-floor', 'scale-uncoordinated', 'request-costs'].includes(part);
  stopOnInterrupt();
  const startedAt = new Date();
  const loadAtStart = loadavg()[0] ?? 0;
  const code = await codeRevision();

  progress('building the production bundle with esbuild (3 variants, into a temporary folder)');
  const bundles = await buildBundles();
  let cold: { section: Section; raw: unknown } | undefined;
  if (wanted('cold')) {
    // before any control plane starts, so nothing else competes for the 2 cores; no server involved
    progress(`cold start: ${COLD_START_RUNS} fresh node processes per bundle`);
    const starts = await measureColdStart(bundles, COLD_START_RUNS);
    cold = { section: coldStartSection(starts), raw: starts };
  }
  const servers: ServerRun[] = [];
  for (const version of versions)
    servers.push(await onServer(version, bundles, reps, wanted, { kcmQps, scaleNodes, scaleMode }));

  const many = servers.length > 1;
  const machine = {
    'Code measured': code,
    ...machineDescription(
      servers.map((s) => s.serverVersion).join(', '),
      servers.map((s) => (many ? `${s.kubectl} (against ${s.serverVersion})` : s.kubectl)).join(', '),
    ),
    'Controller manager client throttle': `--kube-api-qps=${kcmQps} --kube-api-burst=${2 * kcmQps}`,
    'Load average (1 min)': `${loadAtStart.toFixed(2)} at the start, ${(loadavg()[0] ?? 0).toFixed(2)} at the end`,
  };
  const serverSections = (s: ServerRun): Section[] =>
    [
      'latency',
      'api',
      'memory',
      'scale',
      'scale-uncoordinated',
      'scale-floor',
      'request-costs',
      'mass',
      'release',
    ].flatMap((k) => (s.sections[k] ? [s.sections[k]] : []));
  const summary: [string, SummaryRow][] = [
    ...servers.flatMap((s) =>
      serverSections(s).flatMap((section) =>
        section.rows.map((r): [string, SummaryRow] => [s.serverVersion, r]),
      ),
    ),
    ...(cold?.section.rows ?? []).map((r): [string, SummaryRow] => ['any', r]),
  ];
  const date = startedAt.toLocaleDateString('sv'); // YYYY-MM-DD, local time
  const markdown = `# Benchmarks, ${date}

\`npm run bench\` started ${startedAt.toISOString()}; total wall time ${(elapsedMs() / 60_000).toFixed(1)} min.
Everything on the real local control plane of scripts/harness (etcd, kube-apiserver, kube-controller-manager
with the disruption, ReplicaSet and Deployment controllers; scheduler and kubelets simulated), side by side
in this one run${many ? ', one kube-apiserver after the other' : ''}. Figures are measured and reported, never asserted.

## Machine

${mdTable(
  ['', ''],
  Object.entries(machine).map(([k, v]) => [k, v]),
)}

## Summary

${mdTable(
  ['kube-apiserver', 'benchmark', 'result', 'target', ''],
  summary.map(([server, r]) => [server, r.benchmark, r.result, r.target, mark(r.met)]),
)}

${servers
  .map(
    (s) => `## Details on kube-apiserver ${s.serverVersion}

${serverSections(s)
  .map((section) => section.details)
  .join('\n\n')}`,
  )
  .join('\n\n')}
${cold ? `\n## Details, no server involved\n\n${cold.section.details}\n` : ''}`;
  const dir = join(REPO_ROOT, 'bench', 'results');
  const name = [
    date,
    ...(versions.join() === '1.20' ? [] : [`k8s-${versions.join('-')}`]),
    ...(only ? [only.join('-')] : []),
  ].join('-');
  const file = join(dir, `${name}.md`);
  const rawFile = join(dir, `${name}.json`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, markdown);
  writeFileSync(
    rawFile,
    JSON.stringify({ machine, coldStart: cold?.raw, servers: servers.map(({ sections: _, ...s }) => s) }),
  );
  // the repo's formatter covers bench/**: format the results as `npm run lint` expects them
  await runProcess(join(REPO_ROOT, 'node_modules', '.bin', 'biome'), ['format', '--write', file, rawFile]);
  console.log(`\n${readFileSync(file, 'utf8')}`);
  progress(`results written to bench/results/${name}.md (raw data: ${name}.json)`);
}

/** The server's benchmarks on a control plane of its own, stopped before the next server starts. */
async function onServer(
  version: K8sVersion,
  bundles: readonly Bundle[],
  reps: number,
  wanted: (part: Part) => boolean,
  {
    kcmQps,
    scaleNodes,
    scaleMode,
  }: { readonly kcmQps: number; readonly scaleNodes: number; readonly scaleMode: ScaleInMode },
): Promise<ServerRun> {
  progress(
    `starting the local control plane (EKS token webhook, etcd, kube-apiserver ${version}, controller manager)`,
  );
  const env = await startEnv(version, kcmQps);
  progress(`control plane ready at ${env.cluster.server} (${env.serverVersion})`);
  const sections: Record<string, Section> = {};
  const raw: Record<string, unknown> = {};
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
    const bundledSdk = (b: Bundle): boolean => b.variant.external.length === 0;
    const other = bundles.find((b) => deployed && bundledSdk(b) !== bundledSdk(deployed));
    for (const bundle of [deployed, other]) {
      if (bundle) memory.push(await runMemory(env, bundle));
    }
    sections.memory = memorySection(memory);
    raw.memory = memory;
  }
  let scale: ScaleInResult | undefined;
  if (wanted('scale')) {
    scale = await runScaleIn(env, scaleNodes, scaleMode);
    sections.scale = scaleInSection(scale);
    raw.scaleIn = scale;
  }
  if (wanted('scale-uncoordinated')) {
    const uncoordinated = await runScaleIn(env, scaleNodes, scaleMode, false);
    sections['scale-uncoordinated'] = uncoordinatedSection(uncoordinated, scale);
    raw.scaleUncoordinated = uncoordinated;
  }
  if (wanted('scale-floor')) {
    const floor = await runScaleFloor(env, scaleNodes);
    sections['scale-floor'] = scaleFloorSection(floor);
    raw.scaleFloor = floor;
  }
  if (wanted('request-costs')) {
    const costs = await runRequestCosts(env);
    sections['request-costs'] = requestCostsSection(costs, scale);
    raw.requestCosts = costs;
  }
  if (wanted('mass')) {
    const mass = await runMassTermination(env);
    sections.mass = massTerminationSection(mass);
    raw.massTermination = mass;
  }
  if (wanted('release')) {
    const release = await runReleaseWaits(env);
    sections.release = releaseWaitsSection(release);
    raw.releaseWaits = release;
  }
  const kubectl = await findKubectl(env.serverVersion);
  await env.stop();
  return { version, serverVersion: env.serverVersion, kubectl: kubectl.version, sections, raw };
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
