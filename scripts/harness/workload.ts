import { randomBytes } from 'node:crypto';
import {
  AppsV1Api,
  CoreV1Api,
  KubernetesObjectApi,
  PolicyApi,
  type V1Container,
  type V1Pod,
  type V1PodSpec,
} from '@kubernetes/client-node';
import {
  DEFAULT_DRAIN_TUNING,
  type DrainOptions,
  type DrainReport,
  drainNode,
} from '../../lambda/drain/drain.js';
import { type Logger, systemClock } from '../../lambda/drain/ports.js';
import { KubeCluster } from '../../lambda/kube/cluster.js';
import { type ClusterInfo, type Identity, kubeConfigFor } from './cluster.js';
import { type LogEntry, memoryLogger } from './memory-logger.js';
import { PHASE_ANNOTATION, PRESTOP_ANNOTATION, READY_ANNOTATION, Simulator } from './simulator.js';

export interface WorkloadOptions {
  readonly preStopSeconds?: number;
  readonly gracePeriodSeconds?: number;
  readonly priorityClassName?: string;
  readonly emptyDir?: boolean;
  /** The pod runs but never turns Ready. */
  readonly unready?: boolean;
}

/** The PodDisruptionBudget group version the server serves: v1 from 1.21 on, v1beta1 before. */
export type PolicyVersion = 'policy/v1' | 'policy/v1beta1';

/** PDB spec fields beyond selector and budget, e.g. 1.26+'s unhealthyPodEvictionPolicy. */
export interface PdbExtras {
  readonly unhealthyPodEvictionPolicy?: 'IfHealthyBudget' | 'AlwaysAllow';
}

export interface StoredPdb {
  readonly metadata?: { readonly resourceVersion?: string };
  readonly spec?: PdbExtras & Record<string, unknown>;
  readonly status?: {
    readonly observedGeneration?: number;
    readonly disruptionsAllowed?: number;
    readonly currentHealthy?: number;
    readonly desiredHealthy?: number;
    readonly expectedPods?: number;
  };
}

/**
 * One test's (or the demo's) world on the shared real apiserver: its own namespace, a target node (with an EC2-style
 * providerID), a spare node that opens for replacements once the drain starts, and a simulator.
 */
export class Workload {
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly objects: KubernetesObjectApi;
  /** What the drains run by this workload logged (when no logger was given). */
  readonly logs: LogEntry[] = [];
  readonly log: Logger;
  readonly instanceId = `i-${randomBytes(9).toString('hex').slice(0, 17)}`;

  private constructor(
    readonly info: ClusterInfo,
    readonly namespace: string,
    readonly node: string,
    readonly spare: string,
    readonly sim: Simulator,
    /** Discovered once, as kubectl does, so PDBs work on 1.20 and on 1.32 alike. */
    readonly policyVersion: PolicyVersion,
    log?: Logger,
  ) {
    this.log = log ?? memoryLogger(this.logs);
    const admin = kubeConfigFor(info, 'admin');
    this.core = admin.makeApiClient(CoreV1Api);
    this.apps = admin.makeApiClient(AppsV1Api);
    this.objects = KubernetesObjectApi.makeApiClient(admin);
  }

  static async create(info: ClusterInfo, prefix: string, log?: Logger): Promise<Workload> {
    const admin = kubeConfigFor(info, 'admin');
    const core = admin.makeApiClient(CoreV1Api);
    const namespace = `${prefix}-${randomBytes(3).toString('hex')}`;
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    const node = `${namespace}-node`;
    const spare = `${namespace}-spare`;
    const sim = new Simulator(admin, { namespaces: [namespace], nodes: [node, spare] });
    const policy = await admin.makeApiClient(PolicyApi).getAPIGroup();
    const policyVersion = policy.versions.some((v) => v.version === 'v1') ? 'policy/v1' : 'policy/v1beta1';
    const scenario = new Workload(info, namespace, node, spare, sim, policyVersion, log);
    await core.createNode({
      body: { metadata: { name: node }, spec: { providerID: `aws:///us-east-1a/${scenario.instanceId}` } },
    });
    // cordoned until the drain starts, so the workload lands on the target node
    await core.createNode({ body: { metadata: { name: spare }, spec: { unschedulable: true } } });
    await sim.start();
    return scenario;
  }

  async dispose(): Promise<void> {
    await this.sim.stop();
    for (const name of [this.node, this.spare]) await this.core.deleteNode({ name }).catch(() => undefined);
  }

  /** Lets the scheduler place replacements on the spare node. */
  async openSpare(): Promise<void> {
    await this.core.patchNode({
      name: this.spare,
      body: [{ op: 'replace', path: '/spec/unschedulable', value: false }],
    });
  }

  async deployment(
    name: string,
    replicas: number,
    options: WorkloadOptions = {},
  ): Promise<Record<string, string>> {
    const labels = { app: name };
    await this.apps.createNamespacedDeployment({
      namespace: this.namespace,
      body: {
        metadata: { name },
        spec: {
          replicas,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels, annotations: annotations(options) },
            spec: podSpec(options),
          },
        },
      },
    });
    return labels;
  }

  async pdb(
    name: string,
    labels: Record<string, string>,
    budget: { minAvailable: number } | { maxUnavailable: number },
    extras: PdbExtras = {},
  ): Promise<void> {
    await this.objects.create({
      apiVersion: this.policyVersion,
      kind: 'PodDisruptionBudget',
      metadata: { name, namespace: this.namespace },
      spec: { selector: { matchLabels: labels }, ...budget, ...extras },
    } as never);
  }

  /** The PDB as the server stored it (a server that does not know a spec field drops it). */
  async readPdb(name: string): Promise<StoredPdb> {
    return this.objects.read({
      apiVersion: this.policyVersion,
      kind: 'PodDisruptionBudget',
      metadata: { name, namespace: this.namespace },
    }) as Promise<StoredPdb>;
  }

  async deletePdb(name: string): Promise<void> {
    await this.objects.delete({
      apiVersion: this.policyVersion,
      kind: 'PodDisruptionBudget',
      metadata: { name, namespace: this.namespace },
    });
  }

  /** A pod created directly on the target node (bare unless given an owner). */
  async pod(
    name: string,
    extra: { metadata?: V1Pod['metadata']; spec?: Partial<V1PodSpec> } & WorkloadOptions = {},
  ): Promise<V1Pod> {
    return this.core.createNamespacedPod({
      namespace: this.namespace,
      body: {
        metadata: {
          name,
          ...extra.metadata,
          annotations: { ...annotations(extra), ...extra.metadata?.annotations },
        },
        spec: { ...podSpec(extra), nodeName: this.node, ...extra.spec },
      },
    });
  }

  /** A DaemonSet (no controller runs it here) and one pod it owns on the target node. */
  async daemonSetPod(name: string): Promise<V1Pod> {
    const labels = { app: name };
    const ds = await this.apps.createNamespacedDaemonSet({
      namespace: this.namespace,
      body: {
        metadata: { name },
        spec: {
          selector: { matchLabels: labels },
          template: { metadata: { labels }, spec: podSpec({}) },
        },
      },
    });
    return this.pod(`${name}-x1`, {
      metadata: {
        labels,
        ownerReferences: [
          { apiVersion: 'apps/v1', kind: 'DaemonSet', name, uid: ds.metadata?.uid ?? '', controller: true },
        ],
      },
    });
  }

  async finishedPod(name: string, phase: 'Succeeded' | 'Failed'): Promise<V1Pod> {
    return this.pod(name, { metadata: { annotations: { [PHASE_ANNOTATION]: phase } } });
  }

  /** Pods on a node, as the API server sees them now. */
  async podsOn(node = this.node): Promise<V1Pod[]> {
    const list = await this.core.listNamespacedPod({
      namespace: this.namespace,
      fieldSelector: `spec.nodeName=${node}`,
    });
    return list.items;
  }

  async waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Waits until `count` pods run Ready on the target node. */
  async waitRunning(count: number): Promise<void> {
    await this.waitUntil(`${count} running pods on ${this.node}`, async () => {
      const pods = await this.podsOn();
      return pods.filter((p) => p.status?.phase === 'Running').length >= count;
    });
  }

  /** Waits until the disruption controller has computed the PDB's status. */
  async waitPdb(
    name: string,
    check: (status: { disruptionsAllowed: number; currentHealthy: number }) => boolean,
  ): Promise<void> {
    await this.waitUntil(`pdb ${name} status`, async () => {
      const pdb = (await this.objects.read({
        apiVersion: this.policyVersion,
        kind: 'PodDisruptionBudget',
        metadata: { name, namespace: this.namespace },
      })) as {
        status?: { disruptionsAllowed?: number; currentHealthy?: number; observedGeneration?: number };
      };
      const status = pdb.status;
      return (
        status?.observedGeneration !== undefined &&
        check({
          disruptionsAllowed: status.disruptionsAllowed ?? 0,
          currentHealthy: status.currentHealthy ?? 0,
        })
      );
    });
  }

  /** Runs the real drain engine against the real apiserver as the given identity. */
  async drain(options: Partial<DrainOptions> = {}, identity: Identity = 'drainer'): Promise<DrainReport> {
    const now = Date.now();
    return drainNode(
      new KubeCluster(kubeConfigFor(this.info, identity)),
      {
        target: { nodeName: this.node },
        startedAt: now,
        deadline: now + 60_000,
        onDeadline: 'delete',
        dryRun: false,
        ...DEFAULT_DRAIN_TUNING,
        ...options,
      },
      { clock: systemClock, log: this.log },
    );
  }

  key(name: string): string {
    return `${this.namespace}/${name}`;
  }
}

function annotations(options: WorkloadOptions): Record<string, string> {
  return {
    ...(options.preStopSeconds ? { [PRESTOP_ANNOTATION]: String(options.preStopSeconds) } : {}),
    ...(options.unready ? { [READY_ANNOTATION]: 'false' } : {}),
  };
}

function podSpec(options: WorkloadOptions): V1PodSpec {
  const container: V1Container = { name: 'app', image: 'registry.k8s.io/pause:3.9' };
  return {
    containers: [container],
    terminationGracePeriodSeconds: options.gracePeriodSeconds ?? 30,
    ...(options.priorityClassName ? { priorityClassName: options.priorityClassName } : {}),
    ...(options.emptyDir ? { volumes: [{ name: 'scratch', emptyDir: {} }] } : {}),
  };
}
