/**
 * Benchmark 4, memory: the production bundle (as deployed) drains the 110-pod node in a fresh `node`
 * process, end to end as the function runs: lifecycle event → local AWS endpoint (EC2, EKS, AutoScaling)
 * → EKS token checked by the webhook → real apiserver. The process reports its peak RSS (VmHWM).
 */
import { randomUUID } from 'node:crypto';
import { type Bundle, type ProbeResult, runProbe } from './cold-start.js';
import {
  type BenchEnv,
  DEPLOYMENTS,
  disposeWorkload,
  lifecycleEvent,
  mdTable,
  mib,
  nodeScenario,
  type PdbCheck,
  progress,
  REPLICAS,
  type Section,
  seconds,
  watchHealth,
} from './support.js';

export interface MemoryResult {
  readonly bundle: string;
  readonly probe: ProbeResult;
  readonly pdb: PdbCheck;
  readonly completed: string | undefined;
}

export async function runMemory(env: BenchEnv, bundle: Bundle): Promise<MemoryResult> {
  progress('memory: building the 110-pod node');
  const w = await nodeScenario(env.cluster, 'memory');
  try {
    const health = watchHealth(w);
    env.aws.instances.set(w.instanceId, w.node);
    const action = env.aws.addLifecycleAction({
      token: randomUUID(),
      autoScalingGroupName: `${w.namespace}-asg`,
      hookName: 'eks-node-drainer',
      instanceId: w.instanceId,
    });
    await w.openSpare();
    progress(`memory: the ${bundle.variant.name} bundle's handler drains ${w.node} in a fresh node process`);
    const probe = await runProbe(bundle, {
      ...env.aws.env(),
      BENCH_EVENT: JSON.stringify(lifecycleEvent(action)),
    });
    const expected = DEPLOYMENTS * REPLICAS;
    if (probe.outcome !== 'drained' || probe.evicted !== expected) {
      throw new Error(
        `memory drain: ${probe.outcome}, ${probe.evicted}/${expected} evicted: ${probe.errors.join('; ')}`,
      );
    }
    progress(`memory: drained in ${(probe.firstCallMs / 1000).toFixed(1)} s, peak RSS ${mib(probe.peakRss)}`);
    return { bundle: bundle.variant.name, probe, pdb: health(), completed: action.result };
  } finally {
    await disposeWorkload(w);
  }
}

// ---- report ---------------------------------------------------------------------------------

const LIMIT = 150 * 1024 * 1024;

export function memorySection(results: readonly MemoryResult[]): Section {
  const [deployed, ...others] = results;
  if (!deployed) throw new Error('no memory result');
  const table = mdTable(
    [
      'bundle',
      'RSS after import',
      'peak RSS (VmHWM)',
      'drain (handler call)',
      'evicted (429)',
      'lifecycle',
      'lowest healthy',
    ],
    results.map((r) => [
      r.bundle,
      mib(r.probe.rssAfterLoad),
      `**${mib(r.probe.peakRss)}** (${(r.probe.peakRss / 1e6).toFixed(0)} MB)`,
      seconds(r.probe.firstCallMs),
      `${r.probe.evicted} (${r.probe.evictionRefusals})`,
      r.completed ?? 'not completed',
      `${r.pdb.lowest}/${REPLICAS}`,
    ]),
    'lrrrrll',
  );
  return {
    rows: [
      {
        benchmark: '4. Peak RSS, 110-pod drain by the handler',
        result: `${mib(deployed.probe.peakRss)} as deployed (${mib(deployed.probe.rssAfterLoad)} of it after import); ${others
          .map((r) => `${r.bundle} ${mib(r.probe.peakRss)}`)
          .join(', ')}`,
        target: '≤ 150 MB (read as MiB, as Lambda counts)',
        met: deployed.probe.peakRss <= LIMIT,
      },
    ],
    details: `### 4. Memory: peak RSS of the function's process during the 110-pod drain

The production bundle's \`handler\` in a fresh \`node --enable-source-maps\` process (bench/probe.mjs), end to end:
lifecycle event → EC2 DescribeInstances, EKS DescribeCluster and AutoScaling heartbeat/complete at the local AWS
endpoint → EKS token verified by the webhook → the real apiserver, as group \`eks-node-drainer\` (RBAC of
infra/k8s/rbac.yaml). Peak = \`VmHWM\` from /proc/self/status when the call returns; LOG_LEVEL=info.

${table}

Most of the peak is there before the first event: the import. The drain itself adds
${results.map((r) => `${mib(r.probe.peakRss - r.probe.rssAfterLoad)} (${r.bundle})`).join(', ')}.`,
  };
}
