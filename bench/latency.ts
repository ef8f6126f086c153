/**
 * Benchmark 1, drain latency on the 110-pod node: our engine (as the least-privilege `drainer`
 * identity, in a process of its own: drain-child.ts) and `kubectl drain` (admin kubeconfig), each on an
 * identical fresh scenario on the same apiserver, alternating which goes first. A timeline of pods and
 * PDBs gives the PDB chain's figures; /proc gives who used the CPU. Also collects benchmark 2's counts.
 */
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_DRAIN_TUNING } from '../lambda/drain/drain.js';
import { kubeConfigFor } from '../scripts/harness/cluster.js';
import type { Workload } from '../scripts/harness/workload.js';
import { kubectlRequests, type RequestCounts } from './api-cost.js';
import { bundleAsDeployed } from './cold-start.js';
import type { DrainChildResult } from './drain-child.js';
import {
  type BenchEnv,
  type ChainStats,
  type CpuUse,
  cleanEnv,
  cpuMeter,
  DEPLOYMENTS,
  disposeWorkload,
  mdTable,
  median,
  nodeScenario,
  type PdbCheck,
  PRESTOP_SECONDS,
  percentile,
  progress,
  REPLICAS,
  REPO_ROOT,
  ratio,
  removeOnCleanup,
  runProcess,
  type Section,
  seconds,
  Timeline,
  watchHealth,
} from './support.js';

const KUBECTL_DIR = '/usr/lib/google-cloud-sdk/bin';
const ms = (value: number): string => `${Math.round(value)} ms`;

export interface DrainRun {
  readonly rep: number;
  /** ours: with watches; polling: the same engine listing the node, as before watches. */
  readonly drainer: 'ours' | 'polling' | 'kubectl';
  readonly wallMs: number;
  readonly requests: RequestCounts;
  readonly pdb: PdbCheck;
  readonly chains: ChainStats;
  readonly evictionRefusals: number;
  /** Duration of every eviction request, ms. */
  readonly evictCallMs: number[];
  readonly cpu: CpuUse;
  /** The drain's own CPU seconds, start-up excluded (ours and polling). */
  readonly drainCpuS?: number;
}

export interface LatencyResult {
  readonly runs: DrainRun[];
  readonly kubectl: { readonly path: string; readonly version: string };
  /** The apiserver's gitVersion. */
  readonly server: string;
}

/**
 * The versioned kubectl beside google-cloud-cli's dispatcher closest to the server (the older one on a
 * tie): kubectl.1.27, the oldest, for 1.20.2; kubectl.1.32 for v1.32.
 */
export async function findKubectl(serverVersion: string): Promise<{ path: string; version: string }> {
  const minor = (name: string): number => Number(/^kubectl\.1\.(\d+)$/.exec(name)?.[1] ?? Number.NaN);
  const server = Number(/^v?1\.(\d+)/.exec(serverVersion)?.[1] ?? 0);
  const closest = readdirSync(KUBECTL_DIR)
    .filter((name) => Number.isFinite(minor(name)))
    .sort((a, b) => Math.abs(minor(a) - server) - Math.abs(minor(b) - server) || minor(a) - minor(b))[0];
  if (!closest) throw new Error(`no versioned kubectl in ${KUBECTL_DIR}`);
  const path = join(KUBECTL_DIR, closest);
  const out = await runProcess(path, ['version', '--client', '-o', 'json']);
  const { clientVersion } = JSON.parse(out.stdout) as { clientVersion: { gitVersion: string } };
  return { path, version: clientVersion.gitVersion };
}

export async function runLatency(env: BenchEnv, repetitions: number): Promise<LatencyResult> {
  const kubectl = await findKubectl(env.serverVersion);
  // a warm discovery cache, as on an operator's machine: the drains' counts are the drains' own
  const cacheDir = mkdtempSync(join(tmpdir(), 'bench-kubectl-cache-'));
  removeOnCleanup(cacheDir);
  const kubeconfig = `--kubeconfig=${env.cluster.adminKubeconfig}`;
  await runProcess(kubectl.path, ['api-resources', kubeconfig, `--cache-dir=${cacheDir}`]);

  const runs: DrainRun[] = [];
  for (let rep = 1; rep <= repetitions; rep++) {
    const drainers = ['ours', 'polling', 'kubectl'] as const;
    // rotate which goes first
    const order = drainers.map((_, i) => drainers[(i + rep) % drainers.length] ?? 'ours');
    for (const drainer of order) {
      progress(`latency ${rep}/${repetitions}: building the 110-pod node for ${drainer}`);
      const drain: Drainer =
        drainer === 'kubectl'
          ? (w) => drainKubectl(w, kubectl.path, cacheDir)
          : drainOurs(drainer === 'ours');
      const run = await measure(env, rep, drainer, drain);
      runs.push(run);
      progress(
        `latency ${rep}/${repetitions}: ${drainer} drained in ${seconds(run.wallMs)}; PDBs ` +
          `${run.pdb.ok ? 'held' : 'VIOLATED'} (lowest healthy ${run.pdb.lowest}/${REPLICAS}); ` +
          `${run.requests['POST pods/eviction'] ?? 0} eviction requests, ${run.evictionRefusals} refused`,
      );
    }
  }
  return { runs, kubectl, server: env.serverVersion };
}

type Drainer = (w: Workload) => Promise<{
  wallMs: number;
  requests: RequestCounts;
  refusals: number;
  evictCallMs: number[];
  /** Ours only: when each eviction request was sent, by pod name. */
  evictSentAt?: Record<string, number[]>;
  drainCpuS?: number;
}>;

async function measure(env: BenchEnv, rep: number, drainer: DrainRun['drainer'], drain: Drainer) {
  const w = await nodeScenario(env.cluster, `${drainer}${rep}`);
  const timeline = await Timeline.start(kubeConfigFor(env.cluster, 'admin'), w.namespace, w.policyVersion);
  try {
    const health = watchHealth(w);
    await w.openSpare();
    const cpu = cpuMeter(env.cluster.dir);
    const result = await drain(w);
    const cpuUse = cpu();
    if (w.sim.failures.length > 0) throw new Error(`simulator: ${w.sim.failures.join('; ')}`);
    return {
      rep,
      drainer,
      wallMs: result.wallMs,
      requests: result.requests,
      pdb: health(),
      chains: timeline.chains(w.node, result.evictSentAt),
      evictionRefusals: result.refusals,
      evictCallMs: result.evictCallMs,
      cpu: cpuUse,
      ...(result.drainCpuS === undefined ? {} : { drainCpuS: result.drainCpuS }),
    };
  } finally {
    timeline.stop();
    await disposeWorkload(w);
  }
}

let childBundle: Promise<string> | undefined;

/** drain-child.ts bundled as the function is (minified ESM, source maps): no TypeScript loader in the drain. */
function drainChildBundle(): Promise<string> {
  childBundle ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eks-node-drainer-drain-child-'));
    removeOnCleanup(dir);
    const file = join(dir, 'drain-child.mjs');
    // profiled (BENCH_CPU_PROF): not minified, so the profile names the functions
    await bundleAsDeployed(join(REPO_ROOT, 'bench', 'drain-child.ts'), file, [], !process.env.BENCH_CPU_PROF);
    return file;
  })();
  return childBundle;
}

/**
 * The engine with the Lambda's default tuning, as the least-privilege drainer, in its own process;
 * without `watch`, as it was before watches (listing the node).
 */
const drainOurs =
  (watch: boolean): Drainer =>
  async (w) => {
    const child = await runProcess(
      process.execPath,
      [
        // as the function runs (infra/functions.ts NODE_OPTIONS)
        '--enable-source-maps',
        // BENCH_CPU_PROF=<dir>: a V8 CPU profile of each of our drains (node --cpu-prof), to see where it goes
        ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []),
        await drainChildBundle(),
      ],
      {
        cwd: REPO_ROOT,
        env: cleanEnv({ BENCH_DRAIN: JSON.stringify({ info: w.info, node: w.node, watch }) }),
      },
    );
    const line = child.stdout.trim().split('\n').at(-1) ?? '';
    if (child.code !== 0 || !line.startsWith('{')) {
      throw new Error(`our drain exited ${child.code}: ${child.stderr.slice(-2000)}`);
    }
    const result = JSON.parse(line) as DrainChildResult;
    const expected = DEPLOYMENTS * REPLICAS;
    if (result.outcome !== 'drained' || result.evicted !== expected) {
      throw new Error(
        `our drain: ${result.outcome}, ${result.evicted}/${expected} evicted, ${result.errors.join('; ')}`,
      );
    }
    return {
      wallMs: result.wallMs,
      requests: result.requests,
      refusals: result.evictionRefusals,
      evictCallMs: result.evictCallMs,
      evictSentAt: result.evictSentAt,
      drainCpuS: result.drainCpuS,
    };
  };

/** kubectl's wall time is its process's, spawn to exit (its start-up is a few ms of it). */
async function drainKubectl(w: Workload, kubectl: string, cacheDir: string) {
  const result = await runProcess(kubectl, [
    'drain',
    w.node,
    '--ignore-daemonsets',
    '--delete-emptydir-data',
    '--force',
    '--timeout=10m',
    `--kubeconfig=${w.info.adminKubeconfig}`,
    `--cache-dir=${cacheDir}`,
    '-v=6',
  ]);
  if (result.code !== 0)
    throw new Error(`kubectl drain exited ${result.code}: ${result.stderr.slice(-2000)}`);
  const left = (await w.podsOn()).filter((p) => !p.metadata?.annotations?.['kubernetes.io/config.mirror']);
  if (left.length !== 1)
    throw new Error(`kubectl drain left ${left.length} pods (expected the DaemonSet pod)`);
  const requests = kubectlRequests(result.stderr);
  // each request's own time, as round_trippers logs it (client-side throttling waits not included)
  const evictCallMs = [...result.stderr.matchAll(/POST \S+\/eviction \d{3} .*? in (\d+) milliseconds/g)].map(
    (m) => Number(m[1]),
  );
  return {
    wallMs: result.wallMs,
    requests,
    refusals: requests['POST pods/eviction → 429'] ?? 0,
    evictCallMs,
  };
}

// ---- report ---------------------------------------------------------------------------------

const pooled = (runs: readonly DrainRun[], pick: (c: ChainStats) => number[]): number =>
  median(runs.flatMap((r) => pick(r.chains)));

export function latencySection({ runs, kubectl, server }: LatencyResult): Section {
  const ours = runs.filter((r) => r.drainer === 'ours');
  const polling = runs.filter((r) => r.drainer === 'polling');
  const theirs = runs.filter((r) => r.drainer === 'kubectl');
  const oursMs = median(ours.map((r) => r.wallMs));
  const kubectlMs = median(theirs.map((r) => r.wallMs));
  // the chain's figures from the kubectl runs: its 5 QPS client throttle trickles evictions in, so the
  // control plane keeps up and nothing of the drainer's own burst is in them
  const readyMs = pooled(theirs, (c) => c.replacementReadyMs);
  const lowerBoundMs = REPLICAS * (PRESTOP_SECONDS * 1000 + readyMs);
  const freedMs = pooled(theirs, (c) => c.pdbFreedMs);
  const goneMs = pooled(theirs, (c) => c.goneMs);
  const criticalPathMs = (REPLICAS - 1) * freedMs + goneMs;
  const vsKubectl = oursMs / kubectlMs;
  const vsBound = oursMs / lowerBoundMs;
  const lowest = (rs: readonly DrainRun[]): number => Math.min(...rs.map((r) => r.pdb.lowest));
  const n = ours.length;

  const cpu = (c: CpuUse): string =>
    [
      ['kube-apiserver', 'apiserver'],
      ['etcd', 'etcd'],
      ['kube-controller', 'KCM'],
      ['bench (simulated kubelets)', 'sim'],
      ['drainer', 'drainer'],
    ]
      .map(([key, label]) => `${label} ${(c[key as string] ?? 0).toFixed(1)}`)
      .join(' · ');
  const perRun = mdTable(
    [
      'run',
      'drainer',
      'wall',
      'lowest healthy',
      'evictions (429)',
      'evict → replacement created',
      'evict → replacement Ready',
      'evict → PDB allows again',
      'PDB allows → next eviction',
      'evict → pod gone',
      'eviction call p50 / p90',
      'CPU s during the drain',
      'drainer CPU s, start-up excluded',
    ],
    runs.map((r) => [
      String(r.rep),
      r.drainer,
      seconds(r.wallMs),
      `${r.pdb.lowest}/${REPLICAS}`,
      `${r.requests['POST pods/eviction'] ?? 0} (${r.evictionRefusals})`,
      ...[
        r.chains.replacementCreatedMs,
        r.chains.replacementReadyMs,
        r.chains.pdbFreedMs,
        r.chains.reactionMs,
        r.chains.goneMs,
      ].map((xs) => seconds(median(xs))),
      `${ms(percentile(r.evictCallMs, 0.5))} / ${ms(percentile(r.evictCallMs, 0.9))}`,
      cpu(r.cpu),
      r.drainCpuS === undefined ? '–' : r.drainCpuS.toFixed(2),
    ]),
    'llrrrrrrrrrlr',
  );
  const reaction = (rs: readonly DrainRun[], q: number): number =>
    percentile(
      rs.flatMap((r) => r.chains.reactionMs),
      q,
    );
  const drainCpu = (rs: readonly DrainRun[]): number => median(rs.map((r) => r.drainCpuS ?? 0));
  const pollingMs = median(polling.map((r) => r.wallMs));
  const oursFreed = pooled(ours, (c) => c.pdbFreedMs);
  const oursCriticalPathMs = (REPLICAS - 1) * oursFreed + pooled(ours, (c) => c.goneMs);
  const reactionSent = (rs: readonly DrainRun[], q: number): number =>
    percentile(
      rs.flatMap((r) => r.chains.reactionSentMs),
      q,
    );
  const calls = (rs: readonly DrainRun[], q: number): string =>
    ms(
      percentile(
        rs.flatMap((r) => r.evictCallMs),
        q,
      ),
    );
  const details = `### 1. Drain latency, 110 pods (${n} repetitions per drainer, alternating which goes first)

Node: ${DEPLOYMENTS} Deployments × ${REPLICAS} replicas, PDB \`maxUnavailable: 1\` each, ${PRESTOP_SECONDS} s preStop,
plus a DaemonSet pod and a mirror pod (both skipped). Replacements schedule onto a spare node.
Ours: \`drainNode\` + \`KubeCluster\` with \`DEFAULT_DRAIN_TUNING\`, as the least-privilege \`drainer\` identity,
in a process of its own (like kubectl, not sharing an event loop with the simulated kubelets).
kubectl: \`${kubectl.version}\` (the available one closest to the ${server} server),
\`kubectl drain <node> --ignore-daemonsets --delete-emptydir-data --force --timeout=10m\`, admin kubeconfig.
Times per run are medians over the node's 110 evictions (timestamps from watches on pods and PDBs). CPU
seconds per process from /proc over the drain (sim: the benchmark's process with the simulated scheduler and
kubelets; drainer: the drainer's whole process, start-up included, ours bundled by esbuild as the function is deployed
and run with \`--enable-source-maps\` as the function runs).

${perRun}

- **Medians:** ours ${seconds(oursMs)}, kubectl ${seconds(kubectlMs)} → ours/kubectl **${ratio(vsKubectl)}**.
- **Lower bound, the issue's formula:** the slowest Deployment's ${REPLICAS} sequential evictions ×
  (preStop + replacement Ready) = ${REPLICAS} × (${PRESTOP_SECONDS} s + ${seconds(readyMs)}) = **${seconds(lowerBoundMs)}**,
  with replacement Ready = median eviction → replacement Running and Ready over the kubectl runs (kubectl's
  5 QPS client throttle trickles evictions in, so the control plane keeps up; the 22 Deployments are
  identical, so the slowest one is any one). ours/lower bound **${ratio(vsBound)}**.
- **The chain as the API server actually runs it:** a terminating pod no longer counts as healthy but its
  replacement does, and the ReplicaSet creates the replacement at once, so the PDB allows the next eviction
  as soon as the replacement is Ready, while the evicted pod's preStop still runs. The preStop is then paid
  once per chain, not ${REPLICAS} times: critical path ≈ ${REPLICAS - 1} × (eviction → PDB allows again) + (eviction → pod gone)
  = ${REPLICAS - 1} × ${seconds(freedMs)} + ${seconds(goneMs)} = **${seconds(criticalPathMs)}** (kubectl-run figures); ours/critical path
  ${ratio(oursMs / criticalPathMs)}. The issue's formula is the floor for pods whose replacement can only start after
  the old pod is gone (a StatefulSet's).
- **The chain as the API server ran our drain:** the same critical path with our runs' figures,
  ${REPLICAS - 1} × ${seconds(oursFreed)} + ${seconds(pooled(ours, (c) => c.goneMs))} = **${seconds(oursCriticalPathMs)}**; ours/that **${ratio(oursMs / oursCriticalPathMs)}**. Our drain runs the
  ${DEPLOYMENTS} chains at once where kubectl's throttle runs about one, so the control plane hands over slower:
  eviction → replacement Ready ${seconds(pooled(ours, (c) => c.replacementReadyMs))} (kubectl runs ${seconds(readyMs)}), eviction → PDB allows again ${seconds(oursFreed)} (${seconds(freedMs)}):
  the disruption controller recomputes the PDBs' status one at a time, and on this 2-core machine the
  apiserver, etcd, the controller-manager, the simulated kubelets and the drainer share the CPU (per-process
  figures in the table). What the engine adds per hand-over is its reaction.
- **Reaction** (pooled over our runs): PDB allows again → our next eviction request of that Deployment sent
  p50 ${ms(reactionSent(ours, 0.5))}, p90 ${ms(reactionSent(ours, 0.9))} (the watch event's delivery and one pass of the engine; both clocks are this
  machine's, and a figure below 0 means the request left before the benchmark's own watch, in a busier
  process, delivered the same change); → that eviction in
  effect (the pod seen terminating) p50 ${ms(reaction(ours, 0.5))}, p90 ${ms(reaction(ours, 0.9))}, which adds the server's handling of the
  eviction: our eviction calls take p50 ${calls(ours, 0.5)}, p90 ${calls(ours, 0.9)} while ${DEPLOYMENTS} chains run (kubectl's ${calls(theirs, 0.5)} / ${calls(theirs, 0.9)}, one at a time).
  The engine (\`DEFAULT_DRAIN_TUNING\`: at most ${DEFAULT_DRAIN_TUNING.maxConcurrentEvictions} evictions in flight, backoff ${DEFAULT_DRAIN_TUNING.backoff.initialMs} ms to ${DEFAULT_DRAIN_TUNING.backoff.maxMs} ms as the
  safety net) sends an eviction only while the PDB's status (from its watch) has a disruption left that
  none of its evictions in flight spends, so ${median(ours.map((r) => r.evictionRefusals))} of them were refused (median; before watches
  ${median(polling.map((r) => r.evictionRefusals))}, kubectl ${median(theirs.map((r) => r.evictionRefusals))}); all requests share one keep-alive connection pool.
- **PDBs:** lowest healthy count of any Deployment, any run: ours ${lowest(ours)}/${REPLICAS}, kubectl ${lowest(theirs)}/${REPLICAS}
  (sampled on every pod change by the simulator).`;

  return {
    rows: [
      {
        benchmark: '1a. Drain latency, 110 pods: ours vs `kubectl drain`',
        result: `ours ${seconds(oursMs)}, kubectl ${seconds(kubectlMs)} (medians of ${n}) → **${ratio(vsKubectl)}** (before watches: ${seconds(pollingMs)} → ${ratio(pollingMs / kubectlMs)})`,
        target: '≤ 0.3',
        met: vsKubectl <= 0.3,
      },
      {
        benchmark: '1b. Drain latency: ours vs PDB-chain lower bound',
        result: `critical path as the API server ran our drain ${seconds(oursCriticalPathMs)}: ours/that **${ratio(oursMs / oursCriticalPathMs)}**; as it ran kubectl's (one chain at a time) ${seconds(criticalPathMs)}: ours/that **${ratio(oursMs / criticalPathMs)}** (before watches ${ratio(pollingMs / criticalPathMs)}); the issue's formula ${seconds(lowerBoundMs)} = ${REPLICAS} × (${PRESTOP_SECONDS} s + ${seconds(readyMs)}): ours/that ${ratio(vsBound)}`,
        target: '≤ 1.5 × the critical path as the API server ran our drain',
        met: oursMs / oursCriticalPathMs <= 1.5,
      },
      {
        benchmark: '1d. Reaction: PDB allows → our next eviction sent',
        result: `p50 **${ms(reactionSent(ours, 0.5))}**, p90 **${ms(reactionSent(ours, 0.9))}**; to the eviction in effect (pod seen terminating) p50 ${ms(reaction(ours, 0.5))}, p90 ${ms(reaction(ours, 0.9))} (before watches: p50 ${ms(reaction(polling, 0.5))}, p90 ${ms(reaction(polling, 0.9))})`,
        target: 'p50 ≤ 50 ms, p90 ≤ 150 ms',
        met: reactionSent(ours, 0.5) <= 50 && reactionSent(ours, 0.9) <= 150,
      },
      {
        benchmark: '1e. Drainer CPU per 110-pod drain, start-up excluded',
        result: `**${drainCpu(ours).toFixed(2)} s** (before watches: ${drainCpu(polling).toFixed(2)} s; median)`,
        target: '≤ 1.0 s',
        met: drainCpu(ours) <= 1.0,
      },
      {
        benchmark: '1c. No PDB violated during the drains',
        result: `lowest healthy ours ${lowest(ours)}/${REPLICAS}, kubectl ${lowest(theirs)}/${REPLICAS}, all ${DEPLOYMENTS} Deployments, all runs`,
        target: `≥ ${REPLICAS - 1}/${REPLICAS}`,
        met: runs.every((r) => r.pdb.ok),
      },
    ],
    details,
  };
}
