/**
 * One drain by our engine in a process of its own, as the Lambda runs it: not sharing an event loop
 * with the simulated kubelets, just as `kubectl drain` does not. Started by latency.ts with
 * `node --import tsx`; reads { info, node } from BENCH_DRAIN and prints one JSON line.
 */
import { DEFAULT_DRAIN_TUNING, drainNode } from '../lambda/drain/drain.js';
import { systemClock } from '../lambda/drain/ports.js';
import { KubeCluster } from '../lambda/kube/cluster.js';
import { type ClusterInfo, kubeConfigFor } from '../scripts/harness/cluster.js';
import { type LogEntry, memoryLogger } from '../scripts/harness/memory-logger.js';
import { countRequests } from './api-cost.js';

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
}

const { info, node } = JSON.parse(process.env.BENCH_DRAIN ?? '{}') as { info: ClusterInfo; node: string };
const kc = kubeConfigFor(info, 'drainer');
const requests = countRequests(kc);
const logs: LogEntry[] = [];
const cluster = new KubeCluster(kc);
const evictCallMs: number[] = [];
const evict = cluster.evict.bind(cluster);
cluster.evict = async (pod, options) => {
  const called = performance.now();
  try {
    return await evict(pod, options);
  } finally {
    evictCallMs.push(performance.now() - called);
  }
};
const started = Date.now();
const report = await drainNode(
  cluster,
  {
    ...DEFAULT_DRAIN_TUNING,
    target: { nodeName: node },
    startedAt: started,
    deadline: started + 600_000,
    onDeadline: 'delete',
    dryRun: false,
  },
  { clock: systemClock, log: memoryLogger(logs) },
);
const result: DrainChildResult = {
  wallMs: Date.now() - started,
  outcome: report.outcome,
  evicted: report.evicted.length,
  evictionRequests: report.evictionRequests,
  evictionRefusals: report.evictionRefusals,
  errors: report.errors,
  requests: { ...requests, 'POST pods/eviction → 429': report.evictionRefusals },
  evictCallMs,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
