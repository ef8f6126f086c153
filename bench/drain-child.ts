/**
 * One drain by our engine in a process of its own, as the Lambda runs it (taking turns at its PDBs):
 * not sharing an event loop with the simulated kubelets, just as `kubectl drain` does not. Bundled by latency.ts as the
 * function is (esbuild) and started with plain node; reads { info, node } from BENCH_DRAIN and prints one JSON line.
 */
import { DEFAULT_DRAIN_TUNING, drainNode } from '../lambda/drain/drain.js';
import { systemClock } from '../lambda/drain/ports.js';
import { KubeCluster } from '../lambda/kube/cluster.js';
import { KubeTurns } from '../lambda/kube/turns.js';
import { type ClusterInfo, kubeConfigFor } from '../scripts/harness/cluster.js';
import { type LogEntry, memoryLogger } from '../scripts/harness/memory-logger.js';
import { countHttps } from './api-cost.js';

export interface DrainChildResult {
  readonly wallMs: number;
  readonly outcome: string;
  readonly evicted: number;
  readonly evictionRequests: number;
  readonly evictionRefusals: number;
  readonly errors: readonly string[];
  readonly requests: Record<string, number>;
  /** Duration of every eviction call (request and answer), ms. */
  readonly evictCallMs: number[];
  /** When each eviction request was sent (epoch ms), by pod name: "PDB allows → next eviction sent". */
  readonly evictSentAt: Record<string, number[]>;
  /** CPU seconds (user + system) of the drain itself, start-up excluded. */
  readonly drainCpuS: number;
}

const { info, node, watch } = JSON.parse(process.env.BENCH_DRAIN ?? '{}') as {
  info: ClusterInfo;
  node: string;
  /** false: the engine as before watches, listing the node (the `polling` drainer). */
  watch: boolean;
};
const kc = kubeConfigFor(info, 'drainer');
const requests = countHttps();
const logs: LogEntry[] = [];
const cluster = new KubeCluster(kc);
if (!watch) Object.defineProperty(cluster, 'followNode', { value: undefined });
const evictCallMs: number[] = [];
const evictSentAt: Record<string, number[]> = {};
const evict = cluster.evict.bind(cluster);
cluster.evict = async (pod, options) => {
  const called = performance.now();
  evictSentAt[pod.name] = [...(evictSentAt[pod.name] ?? []), Date.now()];
  try {
    return await evict(pod, options);
  } finally {
    evictCallMs.push(performance.now() - called);
  }
};
const started = Date.now();
const cpuBefore = process.cpuUsage();
const report = await drainNode(
  cluster,
  {
    ...DEFAULT_DRAIN_TUNING,
    target: { nodeName: node },
    startedAt: started,
    deadline: started + 600_000,
    onDeadline: 'delete',
    dryRun: false,
    // as deployed: the drain takes turns at its PDBs (tickets in eks-node-drainer; with watches only)
    turns: (holder) => new KubeTurns(kc, holder),
  },
  { clock: systemClock, log: memoryLogger(logs) },
);
const cpu = process.cpuUsage(cpuBefore);
const result: DrainChildResult = {
  wallMs: Date.now() - started,
  outcome: report.outcome,
  evicted: report.evicted.length,
  evictionRequests: report.evictionRequests,
  evictionRefusals: report.evictionRefusals,
  errors: report.errors,
  requests: { ...requests, 'POST pods/eviction → 429': report.evictionRefusals },
  evictCallMs,
  evictSentAt,
  drainCpuS: (cpu.user + cpu.system) / 1e6,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
