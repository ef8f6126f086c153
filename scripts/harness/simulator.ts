/**
 * Stands in for the scheduler and the kubelets of a local control plane that has neither:
 * binds pending pods to the first schedulable node, marks bound pods Running and Ready, and finishes
 * terminating pods after a simulated preStop delay (annotation, in seconds) by deleting them with
 * grace 0. Records when each pod's termination started and ended, and watches label groups so tests
 * can prove a PDB was never violated: every pod change is a sample.
 */
import { type KubeConfig, type V1Node, type V1Pod, Watch } from '@kubernetes/client-node';
import { DEFAULT_REQUEST_TIMEOUTS } from '../../lambda/kube/bounded.js';
import { KubeHttp } from '../../lambda/kube/http.js';

export const PRESTOP_ANNOTATION = 'sim.eks-node-drainer.io/prestop-seconds';
/** Make a pod finish (Succeeded/Failed) instead of running. */
export const PHASE_ANNOTATION = 'sim.eks-node-drainer.io/phase';
/** "false": the pod runs but never turns Ready (a failing readiness probe). */
export const READY_ANNOTATION = 'sim.eks-node-drainer.io/ready';

export interface TerminationRecord {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly node?: string;
  /** When the simulator first saw the deletionTimestamp. */
  readonly startedAt: number;
  /** When the simulated kubelet deleted the pod (grace 0). */
  finishedAt?: number;
  readonly preStopMs: number;
  /**
   * The pod's metadata.deletionGracePeriodSeconds when the simulator first saw it terminating: the
   * grace period the API server granted this deletion (the pod's own, unless the deleter overrode it).
   */
  readonly deletionGracePeriodSeconds?: number;
}

export interface SimulatorOptions {
  /** Only pods in these namespaces are touched. */
  readonly namespaces: readonly string[];
  /** Scheduling order: pending pods go to the first of these that is schedulable. */
  readonly nodes: readonly string[];
}

interface Monitor {
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  /** UIDs of its healthy pods now. */
  readonly healthy: Set<string>;
  minHealthy: number;
  samples: number;
}

export class Simulator {
  readonly terminations = new Map<string, TerminationRecord>();
  /** Raw JSON on one keep-alive connection pool: the harness's kubelets must not eat the machine's CPU. */
  private readonly http: KubeHttp;
  private readonly pods = new Map<string, V1Pod>();
  private readonly inFlight = new Set<string>();
  private readonly monitors: Monitor[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private abort?: AbortController;
  private stopped = false;
  /** Nodes whose kubelet stopped (loseNode): their pods are neither run nor finished any more. */
  private readonly lost = new Set<string>();
  private readonly errors: string[] = [];

  constructor(
    private readonly kubeConfig: KubeConfig,
    private readonly options: SimulatorOptions,
  ) {
    this.http = new KubeHttp(kubeConfig, DEFAULT_REQUEST_TIMEOUTS);
  }

  async start(): Promise<this> {
    await this.resync();
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort?.abort();
    for (const timer of this.timers) clearTimeout(timer);
  }

  /** Starts counting healthy pods (Running, Ready, not terminating) with these labels on every change. */
  monitor(
    namespace: string,
    labels: Record<string, string>,
  ): { readonly minHealthy: number; readonly samples: number } {
    const monitor: Monitor = {
      namespace,
      labels,
      healthy: new Set(),
      minHealthy: Number.POSITIVE_INFINITY,
      samples: 0,
    };
    for (const pod of this.pods.values())
      if (covers(monitor, pod) && isHealthy(pod)) monitor.healthy.add(uidOf(pod));
    this.monitors.push(monitor);
    this.sample(monitor);
    return monitor;
  }

  /** Problems the simulator met (failed API calls); tests assert it is empty. */
  get failures(): readonly string[] {
    return this.errors;
  }

  private async resync(): Promise<void> {
    if (this.stopped) return;
    let resourceVersion: string | undefined;
    this.pods.clear();
    for (const namespace of this.options.namespaces) {
      const list = await this.http.getJson<{ metadata?: { resourceVersion?: string }; items: V1Pod[] }>(
        `/api/v1/namespaces/${namespace}/pods`,
      );
      resourceVersion = list.metadata?.resourceVersion;
      for (const pod of list.items) this.onPod('ADDED', pod);
    }
    this.abort = await new Watch(this.kubeConfig).watch(
      '/api/v1/pods',
      resourceVersion ? { resourceVersion, allowWatchBookmarks: false } : {},
      (type: string, pod: V1Pod) => this.onPod(type, pod),
      () => {
        if (!this.stopped) setTimeout(() => void this.resync().catch((e) => this.fail('resync', e)), 100);
      },
    );
  }

  private onPod(type: string, pod: V1Pod): void {
    const meta = pod.metadata;
    if (!meta?.uid || !meta.namespace || !this.options.namespaces.includes(meta.namespace)) return;
    if (type === 'DELETED') {
      this.pods.delete(meta.uid);
      const record = this.terminations.get(meta.uid);
      if (record && record.finishedAt === undefined) record.finishedAt = Date.now();
    } else {
      this.pods.set(meta.uid, pod);
      this.act(pod);
    }
    // every change is a sample of every monitor covering the pod
    const healthy = type !== 'DELETED' && isHealthy(pod);
    for (const monitor of this.monitors) {
      if (!covers(monitor, pod)) continue;
      if (healthy) monitor.healthy.add(meta.uid);
      else monitor.healthy.delete(meta.uid);
      this.sample(monitor);
    }
  }

  private act(pod: V1Pod): void {
    const meta = pod.metadata ?? {};
    const uid = meta.uid ?? '';
    if (pod.spec?.nodeName && this.lost.has(pod.spec.nodeName)) return;
    if (meta.deletionTimestamp) {
      if (!this.terminations.has(uid)) this.terminate(pod);
      return;
    }
    if (this.inFlight.has(uid)) return;
    if (!pod.spec?.nodeName) this.once(uid, () => this.bind(pod));
    else if (pod.status?.phase === 'Pending' || pod.status?.phase === undefined)
      this.once(uid, () => this.run(pod));
  }

  private once(uid: string, action: () => Promise<void>): void {
    this.inFlight.add(uid);
    action()
      .catch((error: { code?: number }) => {
        // 409: acted on a stale view (already bound/updated); the newer event is handled below
        if (error.code !== 409) this.fail(`pod ${uid}`, error);
      })
      .finally(() => {
        this.inFlight.delete(uid);
        // events that arrived meanwhile were not acted on: act on the latest state now
        const latest = this.pods.get(uid);
        if (latest && !this.stopped) this.act(latest);
      });
  }

  private async bind(pod: V1Pod): Promise<void> {
    const namespace = pod.metadata?.namespace ?? '';
    const name = pod.metadata?.name ?? '';
    for (const node of this.options.nodes) {
      const read = await this.http.getJson<V1Node>(`/api/v1/nodes/${node}`).catch(() => undefined);
      if (!read || read.spec?.unschedulable) continue;
      await this.http.send('POST', `/api/v1/namespaces/${namespace}/pods/${name}/binding`, {
        body: { metadata: { name }, target: { apiVersion: 'v1', kind: 'Node', name: node } },
      });
      return;
    }
  }

  private async run(pod: V1Pod): Promise<void> {
    const phase = pod.metadata?.annotations?.[PHASE_ANNOTATION] ?? 'Running';
    const now = new Date().toISOString();
    const unready = pod.metadata?.annotations?.[READY_ANNOTATION] === 'false';
    const ready = phase === 'Running' && !unready ? 'True' : 'False';
    const path = `/api/v1/namespaces/${pod.metadata?.namespace ?? ''}/pods/${pod.metadata?.name ?? ''}/status`;
    await this.http.send('PATCH', path, {
      contentType: 'application/merge-patch+json',
      body: {
        status: {
          phase,
          startTime: now,
          podIP: '10.244.0.1',
          conditions: [
            { type: 'PodScheduled', status: 'True', lastTransitionTime: now },
            { type: 'Initialized', status: 'True', lastTransitionTime: now },
            { type: 'ContainersReady', status: ready, lastTransitionTime: now },
            { type: 'Ready', status: ready, lastTransitionTime: now },
          ],
        },
      },
    });
  }

  /**
   * The node's instance went away: its kubelet no longer runs or finishes pods, and its Ready
   * condition turns Unknown, as the node lifecycle controller marks a node that stopped reporting.
   */
  async loseNode(node: string): Promise<void> {
    this.lost.add(node);
    const now = new Date().toISOString();
    await this.http.send('PATCH', `/api/v1/nodes/${node}/status`, {
      contentType: 'application/merge-patch+json',
      body: {
        status: {
          conditions: [
            {
              type: 'Ready',
              status: 'Unknown',
              reason: 'NodeStatusUnknown',
              message: 'Kubelet stopped posting node status.',
              lastHeartbeatTime: now,
              lastTransitionTime: now,
            },
          ],
        },
      },
    });
  }

  /** The kubelet's part: run preStop (bounded by the grace period), then remove the pod. */
  private terminate(pod: V1Pod): void {
    const meta = pod.metadata ?? {};
    const preStopSeconds = Number(meta.annotations?.[PRESTOP_ANNOTATION] ?? 0);
    const grace = meta.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30;
    const preStopMs = Math.min(preStopSeconds, grace) * 1000;
    this.terminations.set(meta.uid ?? '', {
      namespace: meta.namespace ?? '',
      name: meta.name ?? '',
      uid: meta.uid ?? '',
      ...(pod.spec?.nodeName ? { node: pod.spec.nodeName } : {}),
      startedAt: Date.now(),
      preStopMs,
      ...(typeof meta.deletionGracePeriodSeconds === 'number'
        ? { deletionGracePeriodSeconds: meta.deletionGracePeriodSeconds }
        : {}),
    });
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      // a kubelet that stopped finishes nothing
      if (pod.spec?.nodeName && this.lost.has(pod.spec.nodeName)) return;
      this.http
        .send('DELETE', `/api/v1/namespaces/${meta.namespace ?? ''}/pods/${meta.name ?? ''}`, {
          query: { gracePeriodSeconds: '0' },
          body: { gracePeriodSeconds: 0, preconditions: { uid: meta.uid ?? '' } },
        })
        .catch((error: { code?: number }) => {
          if (error.code !== 404 && error.code !== 409) this.fail(`finish ${meta.name}`, error);
        });
    }, preStopMs);
    this.timers.add(timer);
  }

  private sample(monitor: Monitor): void {
    monitor.samples++;
    monitor.minHealthy = Math.min(monitor.minHealthy, monitor.healthy.size);
  }

  private fail(what: string, error: unknown): void {
    if (this.stopped) return;
    this.errors.push(`${what}: ${error instanceof Error ? error.message.slice(0, 300) : String(error)}`);
  }
}

function isHealthy(pod: V1Pod): boolean {
  return (
    !pod.metadata?.deletionTimestamp &&
    pod.status?.phase === 'Running' &&
    (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')
  );
}

function covers(monitor: Monitor, pod: V1Pod): boolean {
  return (
    pod.metadata?.namespace === monitor.namespace &&
    Object.entries(monitor.labels).every(([k, v]) => pod.metadata?.labels?.[k] === v)
  );
}

function uidOf(pod: V1Pod): string {
  return pod.metadata?.uid ?? '';
}
