/**
 * Benchmark 5, mass scale-in: N nodes (default 50) drained at once by N invocations of the real
 * handler, through the local AWS endpoint and the EKS token webhook. 20 Deployments × N replicas, one
 * replica of each on every node, so every PDB (maxUnavailable 1) is shared by all N nodes and
 * serialises N evictions across them. The invocations run as module instances of the handler in this
 * process (each its own config, SDK clients and token source, like separate containers, but sharing
 * one event loop with each other and the simulated kubelets); `--scale-processes` runs each in a
 * process of its own instead (handler-child.ts), as Lambda containers do: on this machine's 2 cores
 * the 50 processes' start-up and cold code cost more than the shared loop. scale-invocations.ts runs them.
 */
import { randomUUID } from 'node:crypto';
import { RbacAuthorizationV1Api, type V1RoleBinding } from '@kubernetes/client-node';
import { DRAINER_NAMESPACE } from '../lambda/contract.js';
import type { LifecycleActionState } from '../scripts/harness/aws-endpoint.js';
import { kubeConfigFor } from '../scripts/harness/cluster.js';
import { SharedWorld } from '../scripts/harness/shared-world.js';
import type { RequestCounts } from './api-cost.js';
import { type LogStep, logSteps, stepsTable } from './log-steps.js';
import { inProcesses, inThisProcess } from './scale-invocations.js';
import { type ServerView, serverViewFrom } from './server-view.js';
import {
  type BenchEnv,
  cpuMeter,
  lifecycleEvent,
  mdTable,
  type PdbCheck,
  PRESTOP_SECONDS,
  pdbCheck,
  progress,
  type Section,
  seconds,
  Timeline,
} from './support.js';

/** Nodes drained at once, by default (`npm run bench -- --scale-nodes N`). */
export const NODES = 50;
export const SHARED_DEPLOYMENTS = 20;

/** Where the invocations run: a process each (as Lambda containers), or module instances in this one. */
export type ScaleInMode = 'processes' | 'in-process';

export interface ScaleInResult {
  readonly nodes: number;
  readonly mode: ScaleInMode;
  /** False: run without the Role for the leases, the drains racing at the PDBs as before turns. */
  readonly coordinated: boolean;
  /** The invocations' own CPU seconds (user + system), all together (processes only). */
  readonly drainsCpuS?: number;
  /** CPU seconds of kube-apiserver and etcd during the drains. */
  readonly apiserverCpuS: number;
  readonly etcdCpuS: number;
  readonly pods: number;
  /** The first invocation (epoch ms). */
  readonly startedAt: number;
  readonly totalMs: number;
  readonly outcomes: Record<string, number>;
  /** Invocations that threw, plus distinct API errors the drains reported. */
  readonly errors: readonly string[];
  readonly completions: number;
  readonly lifecycleResults: Record<string, number>;
  readonly pdb: PdbCheck;
  readonly evictionRequests: number;
  readonly evictionRefusals: number;
  /** Evictions the API server throttled (429 without a PDB: its flow control), over all drains. */
  readonly throttled: number;
  /** The handlers' Kubernetes requests by kind (api-cost.ts, countEksTokenRequests); a watch once, when it opens. */
  readonly requests: RequestCounts;
  /** The API server's own counters during the drains: every client's requests, the watch events it sent. */
  readonly server: ServerView;
  readonly logLevels: Record<string, number>;
  /** The messages of the handlers' warn and error lines, each with how often it was logged. */
  readonly problems: Record<string, number>;
  /** Drains that listed instead of following the node with watches (could not open them, or gave up). */
  readonly listing: number;
  /** The PDB refusals of those drains. */
  readonly listingRefusals: number;
  readonly slowestDrainMs: number;
  /** The PDB-chain bound from the server's own hand-over times in this run (Timeline.scaleInBound). */
  readonly chain: ReturnType<Timeline['scaleInBound']>;
  /** From the first invocation to the first eviction in effect. */
  readonly firstEvictionMs: number;
  /** When the invocations logged each step, from the first invocation (bench/log-steps.ts). */
  readonly steps: readonly LogStep[];
  /**
   * How late the event loop ran, p50/p99 ms: in-process, this process's (the drains and the simulated
   * kubelets share it); in processes, the median and the highest of the invocations' own p99s.
   */
  readonly loopDelayMs: { readonly p50: number; readonly p99: number };
}

/** The API server's own count of the scale-in: every client's requests, and the watch events it sent. */
function serverLine(r: ScaleInResult): string {
  const total = (counts: Record<string, number>): number => Object.values(counts).reduce((a, b) => a + b, 0);
  const top = Object.entries(r.server.watchEvents)
    .sort(([, a], [, b]) => b - a)
    .slice(0, 4)
    .map(([kind, n]) => `${kind} ${n}`)
    .join(', ');
  return (
    `The API server's own count during the drains (\`/metrics\`): ${total(r.server.requests)} requests of every client, ` +
    `${total(r.requests)} of them the handlers'; ${total(r.server.watchEvents)} watch events sent to every watcher (${top})`
  );
}

/**
 * Takes the drainer's Role for the leases away (its RoleBinding, infra/k8s/rbac.yaml) until the
 * returned call puts it back: drains then go uncoordinated, as before turns.
 */
async function withoutTurns(env: BenchEnv): Promise<() => Promise<void>> {
  const rbac = kubeConfigFor(env.cluster, 'admin').makeApiClient(RbacAuthorizationV1Api);
  const name = 'eks-node-drainer-turns';
  const binding: V1RoleBinding = await rbac.readNamespacedRoleBinding({ name, namespace: DRAINER_NAMESPACE });
  await rbac.deleteNamespacedRoleBinding({ name, namespace: DRAINER_NAMESPACE });
  // the authorizer follows RBAC through its informer: give it a moment
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  return async () => {
    const { resourceVersion: _, uid: __, creationTimestamp: ___, ...metadata } = binding.metadata ?? {};
    await rbac.createNamespacedRoleBinding({ namespace: DRAINER_NAMESPACE, body: { ...binding, metadata } });
  };
}

export async function runScaleIn(
  env: BenchEnv,
  nodeCount = NODES,
  mode: ScaleInMode = 'in-process',
  coordinated = true,
): Promise<ScaleInResult> {
  const admin = kubeConfigFor(env.cluster, 'admin');
  progress(
    `scale-in${coordinated ? '' : ' (uncoordinated)'}: ${nodeCount} nodes, ${SHARED_DEPLOYMENTS} Deployments × ${nodeCount} replicas, one of each per node`,
  );
  const restoreTurns = coordinated ? undefined : await withoutTurns(env);
  const world = await SharedWorld.create(env.cluster, 'scale-in', {
    nodes: nodeCount,
    deployments: SHARED_DEPLOYMENTS,
    preStopSeconds: PRESTOP_SECONDS,
  });
  const { namespace, nodes, sim } = world;
  try {
    const monitors = Array.from({ length: SHARED_DEPLOYMENTS }, (_, d) =>
      sim.monitor(namespace, { app: `shared-${d}` }),
    );

    const actions: LifecycleActionState[] = nodes.map((node) => {
      env.aws.instances.set(node.instanceId, node.name);
      return env.aws.addLifecycleAction({
        token: randomUUID(),
        autoScalingGroupName: `${namespace}-asg`,
        hookName: 'eks-node-drainer',
        instanceId: node.instanceId,
      });
    });
    const events = actions.map((action) => lifecycleEvent(action));
    const invoke = mode === 'processes' ? await inProcesses(env, events) : await inThisProcess(env, events);
    await world.openSpare();

    progress(`scale-in: ${nodeCount} handler invocations at once (${mode})`);
    const timeline = await Timeline.start(admin, namespace, world.policyVersion);
    const view = await serverViewFrom(env.cluster);
    const cpu = cpuMeter(env.cluster.dir);
    const {
      settled,
      logLines,
      requests,
      startedAt: started,
      loopDelayMs,
      drainsCpuS,
    } = await invoke().finally(() => timeline.stop());
    const totalMs = Date.now() - started;
    const targets = new Set(nodes.map((n) => n.name));
    const cpuUse = cpu();
    const server = await view();
    progress(`scale-in: all ${nodeCount} invocations returned after ${seconds(totalMs)}`);

    const summaries = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const listingNodes = new Set(
      logLines
        .filter((l) => /"message":"watch (unavailable|gave up)/.test(l))
        .map((l) => (JSON.parse(l) as { node?: string }).node ?? ''),
    );
    const tokens = new Set(actions.map((a) => a.token));
    const count = (values: readonly string[]): Record<string, number> =>
      Object.fromEntries([...new Set(values)].map((v) => [v, values.filter((x) => x === v).length]));
    return {
      nodes: nodeCount,
      mode,
      coordinated,
      ...(drainsCpuS === undefined ? {} : { drainsCpuS }),
      pods: nodeCount * SHARED_DEPLOYMENTS,
      startedAt: started,
      totalMs,
      outcomes: count(summaries.map((s) => s.outcome)),
      errors: [
        ...settled.flatMap((s) => (s.status === 'rejected' ? [`invocation threw: ${String(s.reason)}`] : [])),
        ...summaries.flatMap((s) => s.report?.errors ?? []),
        ...sim.failures,
      ],
      completions: env.aws
        .callsOf('autoscaling', 'CompleteLifecycleAction')
        .filter((c) => tokens.has(c.params.LifecycleActionToken ?? '')).length,
      lifecycleResults: count(actions.map((a) => a.result ?? 'none')),
      pdb: pdbCheck(
        monitors.map((m) => m.minHealthy),
        nodeCount - 1,
      ),
      evictionRequests: summaries.reduce((n, s) => n + (s.report?.evictionRequests ?? 0), 0),
      evictionRefusals: summaries.reduce((n, s) => n + (s.report?.evictionRefusals ?? 0), 0),
      throttled: summaries.reduce((n, s) => n + (s.report?.throttled ?? 0), 0),
      requests,
      server,
      listing: listingNodes.size,
      listingRefusals: summaries
        .filter((x) => listingNodes.has(x.report?.node ?? ''))
        .reduce((n, x) => n + (x.report?.evictionRefusals ?? 0), 0),
      logLevels: count(
        logLines.map((l) => (JSON.parse(l) as { level?: string }).level ?? 'no level (metrics)'),
      ),
      problems: count(
        logLines.flatMap((l) => {
          const { level, message } = JSON.parse(l) as { level?: string; message?: string };
          return level === 'warn' || level === 'error' ? [`${level}: ${message ?? ''}`] : [];
        }),
      ),
      apiserverCpuS: cpuUse['kube-apiserver'] ?? 0,
      etcdCpuS: cpuUse.etcd ?? 0,
      slowestDrainMs: Math.max(...summaries.map((s) => s.report?.durationMs ?? 0)),
      chain: timeline.scaleInBound(targets),
      firstEvictionMs: timeline.firstTerminating(targets) - started,
      steps: logSteps(logLines, started),
      loopDelayMs,
    };
  } finally {
    await world.dispose();
    await restoreTurns?.();
  }
}

// ---- report ---------------------------------------------------------------------------------

export function scaleInSection(r: ScaleInResult): Section {
  const list = (counts: Record<string, number>): string =>
    Object.entries(counts)
      .map(([k, n]) => `${k} ×${n}`)
      .join(', ') || 'none';
  const requests = mdTable(
    [`Kubernetes request of the ${r.nodes} handlers (a watch counted when it opens)`, 'count'],
    Object.entries(r.requests)
      .sort(([, a], [, b]) => b - a)
      .map(([kind, n]) => [kind, String(n)]),
    'lr',
  );
  const drained = r.outcomes.drained ?? 0;
  const perPod = (n: number): string => (n / r.pods).toFixed(2);
  return {
    rows: [
      {
        benchmark: `5. Mass scale-in: ${r.nodes} nodes × ${r.pods / r.nodes} pods at once`,
        result:
          `${seconds(r.totalMs)} total; ${list(r.outcomes)}; ${r.completions} completions (${list(r.lifecycleResults)}); ` +
          `${r.errors.length} errors; ${r.pdb.violations} PDB violations (lowest healthy ${r.pdb.lowest}/${r.nodes}); ` +
          `CPU kube-apiserver ${r.apiserverCpuS.toFixed(1)} s, etcd ${r.etcdCpuS.toFixed(1)} s`,
        target: '0 PDB violations (and every node drained, no errors)',
        met: r.pdb.ok && r.errors.length === 0 && drained === r.nodes && r.completions === r.nodes,
      },
      {
        benchmark: `5a. Scale-in evictions: ${r.nodes} nodes sharing PDBs`,
        result: `${perPod(r.evictionRequests)} requests and ${perPod(r.evictionRefusals)} refusals per pod`,
        target: '≤ 1.1 requests, ≤ 0.1 refusals per pod',
        met: r.evictionRequests <= 1.1 * r.pods && r.evictionRefusals <= 0.1 * r.pods,
      },
      {
        benchmark: `5b. Scale-in time / its PDB-chain bound (${r.nodes} nodes)`,
        result: `${seconds(r.totalMs)} / ${seconds(r.chain.boundMs)} = ${(r.totalMs / r.chain.boundMs).toFixed(2)}`,
        target: '≤ 1.3',
        met: r.totalMs <= 1.3 * r.chain.boundMs,
      },
    ],
    details: `### 5. Mass scale-in: ${r.nodes} nodes drained at once by ${r.nodes} handler invocations

${SHARED_DEPLOYMENTS} Deployments × ${r.nodes} replicas, one replica of each on every node (placed by the benchmark), PDB
\`maxUnavailable: 1\` each, ${PRESTOP_SECONDS} s preStop: every PDB is shared by all ${r.nodes} nodes and lets their ${r.nodes} evictions
through one at a time. ${r.nodes} lifecycle events, one per instance, handled at once by ${
      r.mode === 'processes'
        ? `${r.nodes} invocations of \`lambda/handler.ts\`, each in a process of its own (bench/handler-child.ts, bundled as the
function is), as Lambda containers run them`
        : `${r.nodes} module instances of
\`lambda/handler.ts\` in this process (each with its own config, SDK clients and EKS token source, like separate
Lambda containers, but sharing one event loop with each other and the simulated kubelets)`
    }, through the local AWS endpoint and the EKS token webhook, as the e2e tests do.

- Total: **${seconds(r.totalMs)}** from the first invocation to the last return (slowest drain ${seconds(r.slowestDrainMs)})
- CPU during the drains: kube-apiserver ${r.apiserverCpuS.toFixed(1)} s, etcd ${r.etcdCpuS.toFixed(1)} s${
      r.drainsCpuS === undefined
        ? ''
        : `; the ${r.nodes} invocations ${r.drainsCpuS.toFixed(1)} s (${(r.drainsCpuS / r.nodes).toFixed(2)} s each)`
    }
- Outcomes: ${list(r.outcomes)}; CompleteLifecycleAction calls: ${r.completions}; results: ${list(r.lifecycleResults)}
- Errors: ${r.errors.length === 0 ? 'none (no invocation threw, no API error in any report, no simulator failure)' : r.errors.map((e) => `\`${e}\``).join('; ')}
- PDB violations: ${r.pdb.violations} (lowest healthy count of any Deployment: ${r.pdb.lowest}/${r.nodes}, needed ${r.pdb.required})
- Evictions: ${r.evictionRequests} requests for ${r.pods} pods, ${r.evictionRefusals} refused by PDBs, ${r.throttled} throttled (429 of the server's flow control)
  (${perPod(r.evictionRefusals)} per pod; each PDB's next disruption is one drain's turn at a time, lambda/drain/turns.ts)
- PDB-chain bound: **${seconds(r.chain.boundMs)}**, the longest of the ${r.chain.pdbs} PDBs' chains, each the sum over its
  ${r.nodes} evictions, in the order they took effect, of eviction → the PDB allows a disruption again (the last:
  eviction → pod gone), as the API server handed over in this run (median link ${seconds(r.chain.medianLinkMs)}): what a
  drainer that reacted at once would have taken. The drains' reaction, the PDB allows again → its next eviction in
  effect: median ${seconds(r.chain.medianReactionMs)}, p90 ${seconds(r.chain.p90ReactionMs)}, ${r.chain.reactionsOver1s} of them over 1 s. Total / bound **${(r.totalMs / r.chain.boundMs).toFixed(2)}**${lastChain(r)}; the first
  eviction took effect ${seconds(r.firstEvictionMs)} after the first invocation (start-up: the token, the node, its job record,
  the cordon, the watches, the ticket). ${
    r.mode === 'processes'
      ? `The invocations' event loops ran late by p99 ${r.loopDelayMs.p50.toFixed(0)} ms (median of the ${r.nodes}), ${r.loopDelayMs.p99.toFixed(0)} ms at most.`
      : `This process's event loop, which the ${r.nodes} drains and the simulated
  kubelets share (separate Lambdas would not), ran late by p50 ${r.loopDelayMs.p50.toFixed(0)} ms, p99 ${r.loopDelayMs.p99.toFixed(0)} ms.`
  }
- Handler log lines: ${list(r.logLevels)}${Object.keys(r.problems).length > 0 ? ` (${list(r.problems)})` : ''}; drains that listed instead of watching (watches refused, e.g. by the
  server's flow control, or given up): ${r.listing}, with ${r.listingRefusals} of the ${r.evictionRefusals} refusals
- ${serverLine(r)}

${requests}

${stepsTable(r.steps)}`,
  };
}

/** Where the time of the PDB that went last went: start, the server's chain, the drains' reactions, the rest. */
function lastChain(r: ScaleInResult): string {
  const last = r.chain.last;
  if (!last) return '';
  const start = last.firstAt - r.startedAt;
  const rest = r.totalMs - start - last.chainMs - last.reactionsMs;
  return ` (the PDB that went last, ${last.pdb}: its first eviction ${seconds(start)}, its chain ${seconds(last.chainMs)}, the drains' reactions along it ${seconds(last.reactionsMs)}, the rest ${seconds(rest)})`;
}

/** The same scale-in without turns (no Role for the leases), beside the coordinated one of the same run. */
export function uncoordinatedSection(r: ScaleInResult, coordinated?: ScaleInResult): Section {
  const perPod = (n: number): string => (n / r.pods).toFixed(2);
  const uncoordinatedWarnings = r.problems['warn: draining uncoordinated: the PDB turns cannot be had'] ?? 0;
  return {
    rows: coordinated
      ? [
          {
            benchmark: `5d. Scale-in kube-apiserver CPU, with turns / without (${r.nodes} nodes, same run)`,
            result: `${coordinated.apiserverCpuS.toFixed(1)} s / ${r.apiserverCpuS.toFixed(1)} s = ${(coordinated.apiserverCpuS / r.apiserverCpuS).toFixed(2)}`,
            target: '≤ 0.5',
            met: coordinated.apiserverCpuS <= 0.5 * r.apiserverCpuS,
          },
        ]
      : [],
    details: `### 5u. The same scale-in uncoordinated: ${r.nodes} nodes, no Role for the leases

Benchmark 5 again, with the drainer's RoleBinding for the leases deleted for the run: every drain goes
uncoordinated (said once: ${uncoordinatedWarnings} of ${r.nodes} drains) and they race at the PDBs as they did before
turns. The API server's cost of the scale-in without turns, on the same server and machine.

- Total: **${seconds(r.totalMs)}**; PDB-chain bound ${seconds(r.chain.boundMs)}, total / bound ${(r.totalMs / r.chain.boundMs).toFixed(2)}
- CPU during the drains: kube-apiserver **${r.apiserverCpuS.toFixed(1)} s**, etcd ${r.etcdCpuS.toFixed(1)} s${
      coordinated
        ? ` (with turns, benchmark 5: ${coordinated.apiserverCpuS.toFixed(1)} s and ${coordinated.etcdCpuS.toFixed(1)} s, ${(coordinated.apiserverCpuS / r.apiserverCpuS).toFixed(2)} × and ${(coordinated.etcdCpuS / r.etcdCpuS).toFixed(2)} ×)`
        : ''
    }
- Evictions: ${r.evictionRequests} requests for ${r.pods} pods (${perPod(r.evictionRequests)} per pod), ${r.evictionRefusals} refused by PDBs (${perPod(r.evictionRefusals)} per pod), ${r.throttled} throttled (429)
- Outcomes: ${Object.entries(r.outcomes)
      .map(([k, n]) => `${k} ×${n}`)
      .join(
        ', ',
      )}; PDB violations: ${r.pdb.violations}; errors: ${r.errors.length}; drains that listed instead of watching: ${r.listing}
- ${serverLine(r)}`,
  };
}
