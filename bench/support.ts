/**
 * Shared pieces of the benchmarks: progress output, statistics, the local environment (token webhook,
 * real control plane, local AWS endpoint), the 110-pod node scenario, a pod/PDB timeline recorder, and
 * cleanup of every process and folder the run starts, also on Ctrl-C.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type KubeConfig, PolicyApi, type V1Pod, Watch } from '@kubernetes/client-node';
import type { InvocationContext } from '../lambda/handler.js';
import { LocalAwsEndpoint, TEST_CREDENTIALS, TEST_REGION } from '../scripts/harness/aws-endpoint.js';
import {
  type ClusterInfo,
  type K8sVersion,
  kubeConfigFor,
  type LocalCluster,
  startCluster,
} from '../scripts/harness/cluster.js';
import { EksTokenWebhook } from '../scripts/harness/eks-token-webhook.js';
import { type PolicyVersion, Workload } from '../scripts/harness/workload.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The EKS cluster name the handler's tokens are signed for and the webhook checks. */
export const CLUSTER_NAME = 'drainer-bench';
/** Simulated preStop of every workload pod, seconds. */
export const PRESTOP_SECONDS = 2;
export const DEPLOYMENTS = 22;
export const REPLICAS = 5;

// ---- output and statistics ------------------------------------------------------------------

const began = Date.now();

export function progress(message: string): void {
  console.log(`[${((Date.now() - began) / 1000).toFixed(1).padStart(6)}s] ${message}`);
}

export function elapsedMs(): number {
  return Date.now() - began;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** The value below which a fraction `q` of the values lie (nearest rank). */
export function percentile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

export const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
export const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
export const ratio = (value: number): string => value.toFixed(2);
export const mark = (met: boolean): string => (met ? '✅ met' : '❌ missed');

/** One line of the summary table. */
export interface SummaryRow {
  readonly benchmark: string;
  readonly result: string;
  readonly target: string;
  readonly met: boolean;
}

/** What a benchmark contributes to the results: summary rows and a details section. */
export interface Section {
  readonly rows: readonly SummaryRow[];
  readonly details: string;
}

/** A Markdown table; `align` has one letter per column, l or r. */
export function mdTable(header: readonly string[], rows: readonly (readonly string[])[], align = ''): string {
  const rule = header.map((_, i) => (align[i] === 'r' ? '--:' : '---'));
  return [header, rule, ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

// ---- cleanup: every process and folder, also on Ctrl-C ----------------------------------------

const cleanups: (() => Promise<void> | void)[] = [];
const children = new Set<ChildProcess>();

export function onCleanup(fn: () => Promise<void> | void): void {
  cleanups.push(fn);
}

export function removeOnCleanup(dir: string): void {
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
}

let cleaning: Promise<void> | undefined;
let interrupted = false;

/** Stops every child and runs every cleanup, once (later calls wait for the same run). */
export function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    for (const child of children) child.kill('SIGKILL');
    while (cleanups.length > 0) await Promise.resolve(cleanups.pop()?.()).catch(() => undefined);
  })();
  return cleaning;
}

export function isInterrupted(): boolean {
  return interrupted;
}

export function stopOnInterrupt(): void {
  const stop = (signal: NodeJS.Signals): void => {
    // npm forwards the terminal's signal once more: the first one starts the only cleanup
    if (interrupted) return;
    interrupted = true;
    progress(`${signal}: stopping everything the benchmark started`);
    const force = setTimeout(() => process.exit(130), 30_000);
    void cleanUp().finally(() => {
      clearTimeout(force);
      process.exit(130);
    });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

export interface ProcessResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly wallMs: number;
}

/** Runs a command to its end, killed on interrupt; stdout and stderr are collected. */
export function runProcess(
  command: string,
  args: readonly string[],
  options: { readonly env?: NodeJS.ProcessEnv; readonly cwd?: string } = {},
): Promise<ProcessResult> {
  const started = performance.now();
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => err.push(c));
  return new Promise((resolvePromise, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      children.delete(child);
      resolvePromise({
        code,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        wallMs: performance.now() - started,
      });
    });
  });
}

/** A child process environment with nothing of ours in it (no tsx loader, no proxy CA). */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...extra };
}

// ---- the environment: EKS token webhook, real control plane, local AWS endpoint -------------

export interface BenchEnv {
  readonly cluster: LocalCluster;
  readonly webhook: EksTokenWebhook;
  readonly aws: LocalAwsEndpoint;
  /** What the apiserver says it is, e.g. v1.20.2. */
  readonly serverVersion: string;
  /** The PDB group version it serves: policy/v1beta1 on 1.20, policy/v1 on 1.32. */
  readonly policyVersion: PolicyVersion;
  /** Stops what startEnv started, before the next server's run (cleanUp does it too, at the end). */
  stop(): Promise<void>;
}

/** A function that runs its body once; later calls get the same promise. */
function once(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => {
    done ??= fn();
    return done;
  };
}

/** @param kubeApiQps the controller manager's client throttle (client-go default: 20 QPS). */
export async function startEnv(version: K8sVersion, kubeApiQps?: number): Promise<BenchEnv> {
  const webhook = await new EksTokenWebhook({
    clusterName: CLUSTER_NAME,
    region: TEST_REGION,
    ...TEST_CREDENTIALS,
    groups: ['eks-node-drainer'],
  }).start();
  const stopWebhook = once(() => webhook.stop());
  onCleanup(stopWebhook);
  const cluster = await startCluster({
    version,
    tokenWebhookUrl: `${webhook.url}/authenticate`,
    ...(kubeApiQps ? { kubeApiQps } : {}),
  });
  const stopCluster = once(() => cluster.stop());
  onCleanup(stopCluster);
  const aws = await new LocalAwsEndpoint().start();
  const stopAws = once(() => aws.stop());
  onCleanup(stopAws);
  aws.clusters.set(CLUSTER_NAME, {
    endpoint: cluster.server,
    certificateAuthority: readFileSync(cluster.caFile).toString('base64'),
  });
  const policy = await kubeConfigFor(cluster, 'admin').makeApiClient(PolicyApi).getAPIGroup();
  return {
    cluster,
    webhook,
    aws,
    serverVersion: cluster.serverVersion,
    policyVersion: policy.versions.some((v) => v.version === 'v1') ? 'policy/v1' : 'policy/v1beta1',
    stop: async () => {
      await stopAws();
      await stopCluster();
      await stopWebhook();
    },
  };
}

export function machineDescription(serverVersion: string, kubectlVersion: string): Record<string, string> {
  const cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
  return {
    CPUs: `${availableParallelism()} (nproc)`,
    'CPU model': cpu,
    Memory: `${(totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    Node: process.version,
    'kube-apiserver': `${serverVersion} (local, etcd on /dev/shm, simulated kubelets)`,
    kubectl: kubectlVersion,
  };
}

/** The EventBridge event for a termination lifecycle action of `instanceId` (as the e2e tests send it). */
export function lifecycleEvent(action: {
  readonly token: string;
  readonly autoScalingGroupName: string;
  readonly hookName: string;
  readonly instanceId: string;
}): Record<string, unknown> {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'EC2 Instance-terminate Lifecycle Action',
    source: 'aws.autoscaling',
    account: '000000000000',
    time: new Date().toISOString(),
    region: TEST_REGION,
    resources: [],
    detail: {
      LifecycleActionToken: action.token,
      AutoScalingGroupName: action.autoScalingGroupName,
      LifecycleHookName: action.hookName,
      EC2InstanceId: action.instanceId,
      LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
      Origin: 'AutoScalingGroup',
      Destination: 'EC2',
    },
  };
}

// ---- the 110-pod node -----------------------------------------------------------------------

/**
 * The node: 22 Deployments × 5 replicas, each with a PDB maxUnavailable 1 and a 2 s preStop,
 * plus a DaemonSet pod and a mirror pod; all Running, every PDB allowing 1. The spare node stays
 * cordoned until the caller opens it.
 */
export async function nodeScenario(info: ClusterInfo, prefix: string): Promise<Workload> {
  const w = await Workload.create(info, prefix);
  await Promise.all(
    Array.from({ length: DEPLOYMENTS }, async (_, i) => {
      const labels = await w.deployment(`app-${i}`, REPLICAS, { preStopSeconds: PRESTOP_SECONDS });
      await w.pdb(`app-${i}`, labels, { maxUnavailable: 1 });
    }),
  );
  await w.daemonSetPod('node-agent');
  await w.pod(`kube-proxy-${w.node}`, {
    metadata: { annotations: { 'kubernetes.io/config.mirror': 'bench' } },
  });
  const total = DEPLOYMENTS * REPLICAS + 2;
  await w.waitUntil(
    `${total} running pods`,
    async () => (await w.podsOn()).filter((p) => p.status?.phase === 'Running').length >= total,
    180_000,
  );
  for (let i = 0; i < DEPLOYMENTS; i++) await w.waitPdb(`app-${i}`, (s) => s.disruptionsAllowed === 1);
  return w;
}

/** Health monitors, one per Deployment; read after the drain. */
export function watchHealth(w: Workload): () => PdbCheck {
  const monitors = Array.from({ length: DEPLOYMENTS }, (_, i) =>
    w.sim.monitor(w.namespace, { app: `app-${i}` }),
  );
  return () =>
    pdbCheck(
      monitors.map((m) => m.minHealthy),
      REPLICAS - 1,
    );
}

export interface PdbCheck {
  readonly ok: boolean;
  /** The lowest healthy count any Deployment reached. */
  readonly lowest: number;
  readonly required: number;
  readonly violations: number;
}

export function pdbCheck(minimums: readonly number[], required: number): PdbCheck {
  const violations = minimums.filter((m) => m < required).length;
  return { ok: violations === 0, lowest: Math.min(...minimums), required, violations };
}

/** Removes a workload's pods and controllers (no garbage collector runs here), then its nodes. */
export async function disposeWorkload(w: Workload): Promise<void> {
  await w.sim.stop();
  const namespace = w.namespace;
  await w.apps.deleteCollectionNamespacedDeployment({ namespace }).catch(() => undefined);
  await w.apps.deleteCollectionNamespacedReplicaSet({ namespace }).catch(() => undefined);
  await w.apps.deleteCollectionNamespacedDaemonSet({ namespace }).catch(() => undefined);
  await w.core.deleteCollectionNamespacedPod({ namespace, gracePeriodSeconds: 0 }).catch(() => undefined);
  await w.dispose();
}

// ---- CPU: who used the 2 cores during a drain ------------------------------------------------

/** CPU seconds per process from /proc (USER_HZ is 100 on Linux). */
function procCpu(pid: string, children = false): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  const at = (i: number): number => Number(fields[i - 3] ?? 0);
  return (children ? at(16) + at(17) : at(14) + at(15)) / 100;
}

/** The control plane's processes: their command lines name the cluster's folder. */
function controlPlane(clusterDir: string): Record<string, string> {
  const found: Record<string, string> = {};
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(clusterDir)) continue;
      found[readFileSync(`/proc/${pid}/comm`, 'utf8').trim()] = pid;
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

export type CpuUse = Record<string, number>;

/**
 * Starts counting CPU seconds: each control-plane process, this process (the simulated kubelets and
 * the recorders) and the children that end meanwhile (the drainer: our drain process or kubectl).
 */
export function cpuMeter(clusterDir: string): () => CpuUse {
  const processes = controlPlane(clusterDir);
  const read = (): CpuUse => ({
    ...Object.fromEntries(Object.entries(processes).map(([name, pid]) => [name, procCpu(pid)])),
    'bench (simulated kubelets)': process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6,
    drainer: procCpu('self', true),
  });
  const before = read();
  return () => {
    const after = read();
    return Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]));
  };
}

// ---- timeline: when pods were evicted, replaced, ready, gone, and when PDBs allowed again ----

interface PodTrack {
  readonly uid: string;
  readonly name: string;
  readonly app: string;
  node?: string;
  readonly seenAt: number;
  readyAt?: number;
  terminatingAt?: number;
  goneAt?: number;
}

/**
 * One PDB's chain in a scale-in: its first eviction, the server's hand-overs (the chain), the drains'
 * reactions summed, its last pod gone (epoch ms). Start + chain + reactions + (end − last pod gone) is
 * the scale-in's total, when this PDB went last.
 */
export interface ChainParts {
  readonly pdb: string;
  readonly firstAt: number;
  readonly chainMs: number;
  readonly reactionsMs: number;
  readonly endAt: number;
}

export interface ChainStats {
  /** Eviction → the replacement pod exists (the ReplicaSet controller's part). */
  readonly replacementCreatedMs: number[];
  /** Eviction (deletionTimestamp seen) → that pod's replacement Running and Ready. */
  readonly replacementReadyMs: number[];
  /** Eviction → the PDB allows a disruption again (disruptionsAllowed 0 → 1). */
  readonly pdbFreedMs: number[];
  /**
   * PDB allows again → the drainer's next eviction of that Deployment took effect (the pod seen
   * terminating): the drainer's reaction plus the server's handling of the eviction.
   */
  readonly reactionMs: number[];
  /**
   * PDB allows again → the request of that next eviction was sent (its last send before it took
   * effect); only where the drainer reports its send times (ours).
   */
  readonly reactionSentMs: number[];
  /** Eviction → pod gone (preStop plus the kubelet's delete). */
  readonly goneMs: number[];
}

/** Records pod and PDB changes in one namespace from watches (every change timestamped on arrival). */
export class Timeline {
  private readonly pods = new Map<string, PodTrack>();
  private readonly allowedAt = new Map<string, number[]>();
  private readonly lastAllowed = new Map<string, number>();
  private readonly aborts: AbortController[] = [];

  static async start(kc: KubeConfig, namespace: string, policyVersion: PolicyVersion): Promise<Timeline> {
    const timeline = new Timeline();
    const watch = new Watch(kc);
    const done = (): void => {};
    timeline.aborts.push(
      await watch.watch(
        `/api/v1/namespaces/${namespace}/pods`,
        {},
        (type, pod: V1Pod) => timeline.onPod(type, pod),
        done,
      ),
      await watch.watch(
        `/apis/${policyVersion}/namespaces/${namespace}/poddisruptionbudgets`,
        {},
        (_type, pdb: { metadata?: { name?: string }; status?: { disruptionsAllowed?: number } }) =>
          timeline.onPdb(pdb.metadata?.name ?? '', pdb.status?.disruptionsAllowed ?? 0),
        done,
      ),
    );
    return timeline;
  }

  stop(): void {
    for (const abort of this.aborts) abort.abort();
  }

  private onPod(type: string, pod: V1Pod): void {
    const uid = pod.metadata?.uid ?? '';
    const now = Date.now();
    let track = this.pods.get(uid);
    if (!track) {
      track = { uid, name: pod.metadata?.name ?? '', app: pod.metadata?.labels?.app ?? '', seenAt: now };
      this.pods.set(uid, track);
    }
    track.node ??= pod.spec?.nodeName;
    if (type === 'DELETED') track.goneAt ??= now;
    if (pod.metadata?.deletionTimestamp) track.terminatingAt ??= now;
    const ready = pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    if (ready && !pod.metadata?.deletionTimestamp) track.readyAt ??= now;
  }

  private onPdb(name: string, allowed: number): void {
    const before = this.lastAllowed.get(name);
    this.lastAllowed.set(name, allowed);
    if (before === 0 && allowed > 0)
      this.allowedAt.set(name, [...(this.allowedAt.get(name) ?? []), Date.now()]);
  }

  /** The PDB chain of every Deployment whose pods left `node`. */
  chains(node: string, sentAt: Readonly<Record<string, readonly number[]>> = {}): ChainStats {
    const stats: ChainStats = {
      replacementCreatedMs: [],
      replacementReadyMs: [],
      pdbFreedMs: [],
      reactionMs: [],
      reactionSentMs: [],
      goneMs: [],
    };
    const apps = new Set([...this.pods.values()].map((p) => p.app).filter((a) => a.startsWith('app-')));
    for (const app of apps) {
      const mine = [...this.pods.values()].filter((p) => p.app === app);
      const evicted = mine
        .filter((p) => p.node === node && p.terminatingAt !== undefined)
        .sort((a, b) => (a.terminatingAt ?? 0) - (b.terminatingAt ?? 0));
      const replacements = mine.filter((p) => p.node !== node).sort((a, b) => a.seenAt - b.seenAt);
      const allowed = this.allowedAt.get(app) ?? [];
      evicted.forEach((pod, i) => {
        const at = pod.terminatingAt ?? 0;
        const replacement = replacements[i];
        const readyMs = replacement?.readyAt !== undefined ? replacement.readyAt - at : undefined;
        if (replacement) stats.replacementCreatedMs.push(replacement.seenAt - at);
        if (readyMs !== undefined) stats.replacementReadyMs.push(readyMs);
        if (pod.goneAt !== undefined) stats.goneMs.push(pod.goneAt - at);
        const next = evicted[i + 1]?.terminatingAt;
        const freed = allowed.find((t) => t > at && (next === undefined || t <= next));
        if (freed !== undefined) {
          stats.pdbFreedMs.push(freed - at);
          if (next !== undefined) stats.reactionMs.push(next - freed);
          const nextPod = evicted[i + 1];
          const sent =
            nextPod && (sentAt[nextPod.name] ?? []).filter((t) => t <= (nextPod.terminatingAt ?? 0)).at(-1);
          if (sent !== undefined) stats.reactionSentMs.push(sent - freed);
        }
      });
    }
    return stats;
  }

  /** When the first pod on `nodes` was seen terminating (epoch ms; Infinity: none). */
  firstTerminating(nodes: ReadonlySet<string>): number {
    return Math.min(
      ...[...this.pods.values()].flatMap((p) =>
        p.node && nodes.has(p.node) && p.terminatingAt !== undefined ? [p.terminatingAt] : [],
      ),
    );
  }

  /**
   * The PDB-chain bound of a scale-in (several nodes sharing PDBs), from the server's own hand-over
   * times in the run: per PDB, its evictions of pods on `nodes` in the order they took effect; each
   * link costs eviction → the PDB allows a disruption again (the server's part: the evicted pod no
   * longer healthy, its replacement created, scheduled, Ready, the PDB's status recomputed), the last
   * one eviction → the pod gone. The chain is their sum: the drains could not have been faster with a
   * drainer that reacted at once. The bound is the longest chain; the median link says how fast the
   * server handed over.
   */
  scaleInBound(nodes: ReadonlySet<string>): {
    readonly boundMs: number;
    readonly medianLinkMs: number;
    /** The PDB allows again → its next eviction in effect: the drains' reaction (and the server's handling). */
    readonly medianReactionMs: number;
    /** The slowest tenth of the reactions start here (p90), and how many took over a second. */
    readonly p90ReactionMs: number;
    readonly reactionsOver1s: number;
    readonly pdbs: number;
    /** The PDB whose last pod went last: where the scale-in's time went. */
    readonly last?: ChainParts;
  } {
    const links: number[] = [];
    const reactions: number[] = [];
    let boundMs = 0;
    let last: ChainParts | undefined;
    const apps = new Set(
      [...this.pods.values()].filter((p) => p.node && nodes.has(p.node)).map((p) => p.app),
    );
    for (const app of apps) {
      const evicted = [...this.pods.values()]
        .filter(
          (p) => p.app === app && p.node !== undefined && nodes.has(p.node) && p.terminatingAt !== undefined,
        )
        .sort((a, b) => (a.terminatingAt ?? 0) - (b.terminatingAt ?? 0));
      const allowed = this.allowedAt.get(app) ?? [];
      let chainMs = 0;
      let waitedMs = 0;
      evicted.forEach((pod, i) => {
        const at = pod.terminatingAt ?? 0;
        if (i === evicted.length - 1) {
          chainMs += (pod.goneAt ?? at) - at;
          return;
        }
        const next = evicted[i + 1]?.terminatingAt ?? at;
        const freed = allowed.find((t) => t > at) ?? next;
        links.push(freed - at);
        if (next >= freed) reactions.push(next - freed);
        chainMs += freed - at;
        waitedMs += Math.max(0, next - freed);
      });
      boundMs = Math.max(boundMs, chainMs);
      const first = evicted[0]?.terminatingAt;
      const end = evicted.at(-1)?.goneAt;
      if (first !== undefined && end !== undefined && (last === undefined || end > last.endAt)) {
        last = { pdb: app, firstAt: first, chainMs, reactionsMs: waitedMs, endAt: end };
      }
    }
    return {
      boundMs,
      medianLinkMs: median(links),
      medianReactionMs: median(reactions),
      p90ReactionMs: percentile(reactions, 0.9),
      reactionsOver1s: reactions.filter((ms) => ms > 1_000).length,
      pdbs: apps.size,
      ...(last ? { last } : {}),
    };
  }
}

// ---- the Lambda side: context, logs, the code measured ---------------------------------------

/**
 * A Lambda invocation context with `limitMs` left at the start. The copies differed: mass-termination
 * used a 300 s limit (it passes it now), the others 900 s; release-waits made the request id from
 * randomBytes(16) in hex, the others (and this one) a UUID, as Lambda's are.
 */
export function context(limitMs = 900_000): InvocationContext {
  const deadline = Date.now() + limitMs;
  return {
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:eks-node-drainer',
    awsRequestId: randomUUID(),
    getRemainingTimeInMillis: () => deadline - Date.now(),
  };
}

/** Keeps the handlers' JSON log lines (for reading after) off the terminal; everything else passes. */
export function captureJsonLogs(): { lines: string[]; restore: () => void } {
  const lines: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    const text = String(chunk);
    if (!text.startsWith('{')) return write(chunk, ...rest);
    lines.push(...text.split('\n').filter((l) => l.startsWith('{')));
    return true;
  }) as typeof process.stdout.write;
  return {
    lines,
    restore: () => {
      process.stdout.write = write;
    },
  };
}

/**
 * The commit measured, and which files under lambda/ (and the `extra` paths: the copies differed only
 * in these, run.ts none, the others their own file) differed from it when the run started.
 */
export async function codeRevision(...extra: string[]): Promise<string> {
  const git = async (...args: string[]): Promise<string> =>
    (await runProcess('git', ['-C', REPO_ROOT, ...args]).catch(() => undefined))?.stdout ?? '';
  const head = (await git('rev-parse', '--short', 'HEAD')).trim() || 'unknown';
  const changed = (await git('status', '--porcelain', '--', 'lambda', ...extra))
    .split('\n')
    .filter(Boolean)
    .map((line) => line.slice(3));
  return changed.length ? `${head} + uncommitted changes in ${changed.join(', ')}` : head;
}
