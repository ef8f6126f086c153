/**
 * The floor of the mass scale-in (`--only scale-floor`): the same world as benchmark 5 (N nodes × 20
 * pods, 20 PDBs shared by all N nodes), scaled in by one ideal client instead of N drains. It cordons
 * the nodes, watches the PDBs once, and evicts each PDB's next pod the moment the status allows it and
 * counts the previous one: no per-drain watches, tickets, job records or Events. What the API server
 * and etcd spend then is the scale-in itself (1000 evictions, deletions, replacements scheduled and
 * made Ready, the disruption controller's status writes), which no drainer can avoid: the drains' CPU
 * minus this is what the drainer costs.
 */
import { CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { DEFAULT_REQUEST_TIMEOUTS } from '../lambda/kube/bounded.js';
import { toPdbInfo } from '../lambda/kube/cluster.js';
import { KubeHttp } from '../lambda/kube/http.js';
import { ListWatch } from '../lambda/kube/list-watch.js';
import { kubeConfigFor } from '../scripts/harness/cluster.js';
import { SharedWorld } from '../scripts/harness/shared-world.js';
import { NODES, SHARED_DEPLOYMENTS } from './scale-in.js';
import {
  type BenchEnv,
  cpuMeter,
  PRESTOP_SECONDS,
  progress,
  type Section,
  seconds,
  Timeline,
} from './support.js';

export interface ScaleFloorResult {
  readonly nodes: number;
  readonly pods: number;
  readonly totalMs: number;
  readonly apiserverCpuS: number;
  readonly etcdCpuS: number;
  readonly evictionRequests: number;
  readonly evictionRefusals: number;
  readonly chain: ReturnType<Timeline['scaleInBound']>;
}

interface Queue {
  /** The PDB's pods still to evict, node by node. */
  readonly pods: string[];
  /** The pod evicted last and the PDB's resourceVersion at its answer, until the status counts it. */
  inFlight?: { readonly pod: string; readonly answeredAt?: string };
}

export async function runScaleFloor(env: BenchEnv, nodeCount = NODES): Promise<ScaleFloorResult> {
  const admin = kubeConfigFor(env.cluster, 'admin');
  progress(`scale floor: ${nodeCount} nodes × ${SHARED_DEPLOYMENTS} pods, scaled in by one ideal client`);
  const world = await SharedWorld.create(env.cluster, 'scale-floor', {
    nodes: nodeCount,
    deployments: SHARED_DEPLOYMENTS,
    preStopSeconds: PRESTOP_SECONDS,
  });
  const { namespace, nodes } = world;
  const http = new KubeHttp(admin, DEFAULT_REQUEST_TIMEOUTS);
  const core = admin.makeApiClient(CoreV1Api);
  try {
    await world.openSpare();
    const targets = new Set(nodes.map((n) => n.name));
    const listed = await core.listNamespacedPod({ namespace });
    const queues = new Map<string, Queue>();
    for (const node of nodes) {
      for (const pod of listed.items.filter((p) => p.spec?.nodeName === node.name)) {
        const app = pod.metadata?.labels?.app ?? '';
        const queue = queues.get(app) ?? { pods: [] };
        queue.pods.push(pod.metadata?.name ?? '');
        queues.set(app, queue);
      }
    }
    const timeline = await Timeline.start(admin, namespace, world.policyVersion);
    let wake: () => void = () => {};
    const pdbs = new ListWatch(
      http,
      {
        path: `/apis/${world.policyVersion}/namespaces/${namespace}/poddisruptionbudgets`,
        convert: toPdbInfo,
      },
      { onChange: () => wake() },
    );
    await pdbs.start();
    progress(`scale floor: the client scales in ${nodeCount} nodes`);
    const cpu = cpuMeter(env.cluster.dir);
    const started = Date.now();
    let requests = 0;
    let refusals = 0;
    try {
      for (const name of targets) {
        await core.patchNode(
          { name, body: { spec: { unschedulable: true } } },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
      }
      const evict = async (app: string, queue: Queue, pod: string): Promise<void> => {
        requests++;
        queue.inFlight = { pod };
        try {
          await http.send('POST', `/api/v1/namespaces/${namespace}/pods/${pod}/eviction`, {
            body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: pod, namespace } },
          });
          const pdb = pdbs.values().find((p) => p.name === app);
          queue.inFlight = { pod, ...(pdb?.resourceVersion ? { answeredAt: pdb.resourceVersion } : {}) };
        } catch {
          refusals++;
          queue.pods.unshift(pod);
          queue.inFlight = undefined;
        }
        wake();
      };
      while ([...queues.values()].some((q) => q.pods.length > 0 || q.inFlight)) {
        for (const pdb of pdbs.values()) {
          const queue = queues.get(pdb.name);
          if (!queue) continue;
          const flying = queue.inFlight;
          if (flying?.answeredAt !== undefined) {
            const counted =
              pdb.disruptedPods?.includes(flying.pod) || pdb.resourceVersion !== flying.answeredAt;
            if (counted) queue.inFlight = undefined;
          }
          const next = queue.pods[0];
          if (!queue.inFlight && next !== undefined && pdb.disruptionsAllowed > 0) {
            queue.pods.shift();
            void evict(pdb.name, queue, next);
          }
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 500);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      // done when the last evicted pods are gone (their preStop)
      for (;;) {
        const left = await core.listNamespacedPod({ namespace });
        if (!left.items.some((p) => targets.has(p.spec?.nodeName ?? ''))) break;
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      pdbs.close();
      timeline.stop();
    }
    const totalMs = Date.now() - started;
    const use = cpu();
    progress(`scale floor: done after ${seconds(totalMs)}`);
    return {
      nodes: nodeCount,
      pods: nodeCount * SHARED_DEPLOYMENTS,
      totalMs,
      apiserverCpuS: use['kube-apiserver'] ?? 0,
      etcdCpuS: use.etcd ?? 0,
      evictionRequests: requests,
      evictionRefusals: refusals,
      chain: timeline.scaleInBound(targets),
    };
  } finally {
    await world.dispose();
  }
}

export function scaleFloorSection(r: ScaleFloorResult): Section {
  return {
    rows: [
      {
        benchmark: `5c. Scale-in floor: ${r.nodes} nodes by one ideal client`,
        result:
          `${seconds(r.totalMs)} total (bound ${seconds(r.chain.boundMs)}); CPU kube-apiserver ${r.apiserverCpuS.toFixed(1)} s, ` +
          `etcd ${r.etcdCpuS.toFixed(1)} s; ${r.evictionRequests} eviction requests, ${r.evictionRefusals} refused`,
        target: 'a reference (what the scale-in itself costs), no target',
        met: true,
      },
    ],
    details: `### 5c. The scale-in's floor: ${r.nodes} nodes by one ideal client

The world of benchmark 5 (${SHARED_DEPLOYMENTS} Deployments × ${r.nodes} replicas, one of each per node, PDB
\`maxUnavailable: 1\`, ${PRESTOP_SECONDS} s preStop), scaled in by one client in this process: it cordons the
${r.nodes} nodes, watches the PDBs once, and evicts each PDB's next pod as soon as the status allows it and
counts the previous eviction (bench/scale-floor.ts). No drain's watches, tickets, job records, Events or
lifecycle calls: what the control plane spends is the scale-in itself, which no drainer avoids.

- Total: **${seconds(r.totalMs)}**; PDB-chain bound ${seconds(r.chain.boundMs)} (median link ${seconds(r.chain.medianLinkMs)}), total / bound ${(r.totalMs / r.chain.boundMs).toFixed(2)}
- CPU: kube-apiserver **${r.apiserverCpuS.toFixed(1)} s**, etcd ${r.etcdCpuS.toFixed(1)} s
- Evictions: ${r.evictionRequests} requests for ${r.pods} pods, ${r.evictionRefusals} refused`,
  };
}
