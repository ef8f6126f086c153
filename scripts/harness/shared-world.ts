/**
 * A world of several nodes whose pods share PDBs (the scale-in benchmarks, the PDB turns' e2e tests):
 * a namespace, `nodes` target nodes each with one replica of every shared Deployment (PDB
 * maxUnavailable 1), and a spare node that opens for the replacements. The simulator schedules onto
 * the spare only; the workload's own pods are placed by spread().
 */
import { randomBytes } from 'node:crypto';
import {
  AppsV1Api,
  CoreV1Api,
  type KubeConfig,
  KubernetesObjectApi,
  type V1Pod,
} from '@kubernetes/client-node';
import { mapLimit } from '../../lambda/drain/concurrency.js';
import { KubeHttp } from '../../lambda/kube/http.js';
import { type ClusterInfo, kubeConfigFor } from './cluster.js';
import { PRESTOP_ANNOTATION, Simulator } from './simulator.js';
import type { PolicyVersion } from './workload.js';

export interface SharedNode {
  readonly name: string;
  readonly instanceId: string;
}

export class SharedWorld {
  private constructor(
    readonly namespace: string,
    readonly nodes: readonly SharedNode[],
    readonly spare: string,
    readonly sim: Simulator,
    readonly policyVersion: PolicyVersion,
    private readonly core: CoreV1Api,
    private readonly apps: AppsV1Api,
  ) {}

  static async create(
    info: ClusterInfo,
    prefix: string,
    options: { readonly nodes: number; readonly deployments: number; readonly preStopSeconds: number },
  ): Promise<SharedWorld> {
    const admin = kubeConfigFor(info, 'admin');
    const core = admin.makeApiClient(CoreV1Api);
    const apps = admin.makeApiClient(AppsV1Api);
    const objects = KubernetesObjectApi.makeApiClient(admin);
    const namespace = `${prefix}-${randomBytes(3).toString('hex')}`;
    const spare = `${namespace}-spare`;
    const nodes = Array.from({ length: options.nodes }, (_, i) => ({
      name: `${namespace}-node-${i}`,
      instanceId: `i-${randomBytes(9).toString('hex').slice(0, 17)}`,
    }));
    const policyVersion: PolicyVersion = (await objects
      .list('policy/v1', 'PodDisruptionBudget', 'default')
      .then(
        () => true,
        () => false,
      ))
      ? 'policy/v1'
      : 'policy/v1beta1';
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    for (const node of nodes) {
      await core.createNode({
        body: { metadata: { name: node.name }, spec: { providerID: `aws:///us-east-1a/${node.instanceId}` } },
      });
    }
    await core.createNode({ body: { metadata: { name: spare }, spec: { unschedulable: true } } });
    const sim = await new Simulator(admin, { namespaces: [namespace], nodes: [spare] }).start();
    const world = new SharedWorld(namespace, nodes, spare, sim, policyVersion, core, apps);
    try {
      await createSharedDeployments(apps, objects, policyVersion, namespace, {
        deployments: options.deployments,
        replicas: options.nodes,
        preStopSeconds: options.preStopSeconds,
      });
      await spread(
        admin,
        namespace,
        nodes.map((n) => n.name),
        options.deployments,
        prefix,
      );
      await waitForPdbs(objects, policyVersion, namespace, options.deployments, prefix);
      return world;
    } catch (error) {
      await world.dispose();
      throw error;
    }
  }

  /** Lets the simulated scheduler place the replacements on the spare node. */
  async openSpare(): Promise<void> {
    await this.core.patchNode({
      name: this.spare,
      body: [{ op: 'replace', path: '/spec/unschedulable', value: false }],
    });
  }

  async dispose(): Promise<void> {
    await this.sim.stop();
    const namespace = this.namespace;
    await this.apps.deleteCollectionNamespacedDeployment({ namespace }).catch(() => undefined);
    await this.apps.deleteCollectionNamespacedReplicaSet({ namespace }).catch(() => undefined);
    await this.core
      .deleteCollectionNamespacedPod({ namespace, gracePeriodSeconds: 0 })
      .catch(() => undefined);
    for (const name of [...this.nodes.map((n) => n.name), this.spare])
      await this.core.deleteNode({ name }).catch(() => undefined);
  }
}

/**
 * `deployments` Deployments `shared-<d>` × `replicas`, each with a PDB maxUnavailable 1 (in the
 * group version the server serves) and a `preStopSeconds` simulated preStop.
 */
async function createSharedDeployments(
  apps: AppsV1Api,
  objects: KubernetesObjectApi,
  policyVersion: PolicyVersion,
  namespace: string,
  {
    deployments,
    replicas,
    preStopSeconds,
  }: { readonly deployments: number; readonly replicas: number; readonly preStopSeconds: number },
): Promise<void> {
  for (let d = 0; d < deployments; d++) {
    const labels = { app: `shared-${d}` };
    await apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: labels.app },
        spec: {
          replicas,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels, annotations: { [PRESTOP_ANNOTATION]: String(preStopSeconds) } },
            spec: { containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.9' }] },
          },
        },
      },
    });
    await objects.create({
      apiVersion: policyVersion,
      kind: 'PodDisruptionBudget',
      metadata: { name: labels.app, namespace },
      spec: { selector: { matchLabels: labels }, maxUnavailable: 1 },
    } as never);
  }
}

/**
 * Binds every pending pod so that each node gets exactly one replica of each of the `deployments`
 * Deployments; `what` names the benchmark in the error message. Raw JSON on one keep-alive
 * connection pool, 16 bindings in flight: a thousand pods are placed in seconds.
 */
async function spread(
  kc: KubeConfig,
  namespace: string,
  nodes: readonly string[],
  deployments: number,
  what: string,
): Promise<void> {
  const http = new KubeHttp(kc, { connectMs: 5_000, requestMs: 60_000 });
  const until = Date.now() + 300_000;
  const app = (pod: V1Pod): string => pod.metadata?.labels?.app ?? '';
  for (;;) {
    const pods = (await http.getJson<{ items: V1Pod[] }>(`/api/v1/namespaces/${namespace}/pods`)).items;
    const running = pods.filter((p) => p.status?.phase === 'Running').length;
    if (running === nodes.length * deployments) return;
    if (Date.now() > until) throw new Error(`${what}: only ${running} pods running`);
    const taken = new Set(pods.filter((p) => p.spec?.nodeName).map((p) => `${app(p)}@${p.spec?.nodeName}`));
    const bindings: { pod: string; node: string }[] = [];
    for (const pod of pods.filter((p) => !p.spec?.nodeName)) {
      const node = nodes.find((n) => !taken.has(`${app(pod)}@${n}`));
      if (!node) continue;
      taken.add(`${app(pod)}@${node}`);
      bindings.push({ pod: pod.metadata?.name ?? '', node });
    }
    await mapLimit(bindings, 16, ({ pod, node }) =>
      http
        .send('POST', `/api/v1/namespaces/${namespace}/pods/${pod}/binding`, {
          body: { metadata: { name: pod }, target: { apiVersion: 'v1', kind: 'Node', name: node } },
        })
        .catch((error: { code?: number }) => {
          if (error.code !== 409) throw error; // bound meanwhile: the next list shows where
        }),
    );
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Waits (up to a minute) until `count` PDBs in the namespace allow 1 disruption each. */
async function waitForPdbs(
  objects: KubernetesObjectApi,
  policyVersion: PolicyVersion,
  namespace: string,
  count: number,
  what: string,
): Promise<void> {
  const until = Date.now() + 60_000;
  for (;;) {
    const list = await objects.list<{ status?: { disruptionsAllowed?: number } } & { kind?: string }>(
      policyVersion,
      'PodDisruptionBudget',
      namespace,
    );
    if (list.items.filter((p) => p.status?.disruptionsAllowed === 1).length === count) return;
    if (Date.now() > until) throw new Error(`${what}: PDBs not ready`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
