/**
 * Stands in for the scheduler and the kubelets of a local control plane that has neither:
 * binds pending pods to the first schedulable node, marks bound pods Running and Ready, and finishes
 * terminating pods after a simulated preStop delay (annotation, in seconds) by deleting them with
 * grace 0. Records when each pod's termination started and ended, and watches label groups so tests
 * can prove a PDB was never violated: every pod change is a sample.
 */
import {
  CoreV1Api,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Pod,
  Watch,
} from '@kubernetes/client-node';

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
  minHealthy: number;
  samples: number;
}

export class Simulator {
  readonly terminations = new Map<string, TerminationRecord>();
  private readonly core: CoreV1Api;
  private readonly pods = new Map<string, V1Pod>();
  private readonly inFlight = new Set<string>();
  private readonly monitors: Monitor[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private abort?: AbortController;
  private stopped = false;
  private readonly errors: string[] = [];

  constructor(
    private readonly kubeConfig: KubeConfig,
    private readonly options: SimulatorOptions,
  ) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
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
    const monitor: Monitor = { namespace, labels, minHealthy: Number.POSITIVE_INFINITY, samples: 0 };
    this.monitors.push(monitor);
    this.sample();
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
      const list = await this.core.listNamespacedPod({ namespace });
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
    this.sample();
  }

  private act(pod: V1Pod): void {
    const meta = pod.metadata ?? {};
    const uid = meta.uid ?? '';
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
    for (const name of this.options.nodes) {
      const node = await this.core.readNode({ name }).catch(() => undefined);
      if (!node || node.spec?.unschedulable) continue;
      await this.core.createNamespacedBinding({
        namespace: pod.metadata?.namespace ?? '',
        body: {
          metadata: { name: pod.metadata?.name ?? '' },
          target: { apiVersion: 'v1', kind: 'Node', name },
        },
      });
      return;
    }
  }

  private async run(pod: V1Pod): Promise<void> {
    const phase = pod.metadata?.annotations?.[PHASE_ANNOTATION] ?? 'Running';
    const now = new Date();
    const unready = pod.metadata?.annotations?.[READY_ANNOTATION] === 'false';
    const ready = phase === 'Running' && !unready ? 'True' : 'False';
    await this.core.patchNamespacedPodStatus(
      {
        name: pod.metadata?.name ?? '',
        namespace: pod.metadata?.namespace ?? '',
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
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
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
      this.core
        .deleteNamespacedPod({
          name: meta.name ?? '',
          namespace: meta.namespace ?? '',
          gracePeriodSeconds: 0,
          body: { gracePeriodSeconds: 0, preconditions: { uid: meta.uid ?? '' } },
        })
        .catch((error: { code?: number }) => {
          if (error.code !== 404 && error.code !== 409) this.fail(`finish ${meta.name}`, error);
        });
    }, preStopMs);
    this.timers.add(timer);
  }

  private sample(): void {
    for (const monitor of this.monitors) {
      let healthy = 0;
      for (const pod of this.pods.values()) {
        if (pod.metadata?.namespace === monitor.namespace && isHealthy(pod) && hasLabels(pod, monitor.labels))
          healthy++;
      }
      monitor.samples++;
      monitor.minHealthy = Math.min(monitor.minHealthy, healthy);
    }
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

function hasLabels(pod: V1Pod, labels: Readonly<Record<string, string>>): boolean {
  return Object.entries(labels).every(([k, v]) => pod.metadata?.labels?.[k] === v);
}
