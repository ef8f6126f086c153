/**
 * The drainability audit's reads, with the operator's kubeconfig: nodes, pods, PDBs, and the PDB turn
 * tickets in the drainer's namespace (list only).
 */
import {
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  type V1Lease,
  type V1Pod,
} from '@kubernetes/client-node';
import { DRAINER_NAMESPACE } from '../../lambda/contract.js';
import { KubeCluster, toPodSnapshot } from '../../lambda/kube/cluster.js';
import { OLD_PDB_ANNOTATION, placesOf, TURNS_LABEL } from '../../lambda/kube/turns-lease.js';
import type { AuditNode, AuditPdb, AuditPod, AuditTicket } from './audit.js';

export interface KubeSource {
  readonly kubeconfig?: string;
  readonly context?: string;
}

/** As kubectl: --kubeconfig, else KUBECONFIG, else ~/.kube/config (or in-cluster); --context or the current one. */
export function operatorKubeConfig(source: KubeSource): KubeConfig {
  const kc = new KubeConfig();
  if (source.kubeconfig) kc.loadFromFile(source.kubeconfig);
  else kc.loadFromDefault();
  if (source.context) kc.setCurrentContext(source.context);
  if (!kc.getCurrentCluster())
    throw new Error('no current cluster in the kubeconfig (give --kubeconfig or --context)');
  return kc;
}

interface PdbObject {
  metadata?: { name?: string; namespace?: string };
  spec?: {
    selector?: AuditPdb['selector'];
    minAvailable?: number | string;
    maxUnavailable?: number | string;
  };
  status?: {
    disruptionsAllowed?: number;
    currentHealthy?: number;
    desiredHealthy?: number;
    expectedPods?: number;
  };
}

export async function readCluster(
  kc: KubeConfig,
  namespaces: readonly string[],
): Promise<{ nodes: AuditNode[]; pods: AuditPod[]; pdbs: AuditPdb[]; tickets?: AuditTicket[] }> {
  const core = kc.makeApiClient(CoreV1Api);
  const objects = KubernetesObjectApi.makeApiClient(kc);
  const version = await new KubeCluster(kc).evictionVersion();
  const scopes = namespaces.length > 0 ? namespaces : [undefined];
  const [tickets, nodeList, podLists, pdbLists] = await Promise.all([
    readTickets(kc, namespaces),
    core.listNode(),
    Promise.all(
      scopes.map((namespace) =>
        namespace ? core.listNamespacedPod({ namespace }) : core.listPodForAllNamespaces(),
      ),
    ),
    Promise.all(
      scopes.map((namespace) =>
        objects.list<PdbObject>(`policy/${version}`, 'PodDisruptionBudget', namespace),
      ),
    ),
  ]);
  const nodes = nodeList.items.map((node) => {
    const instanceId = /^aws:\/\/\/[^/]*\/(i-[0-9a-f]+)$/.exec(node.spec?.providerID ?? '')?.[1];
    return { name: node.metadata?.name ?? '', ...(instanceId ? { instanceId } : {}) };
  });
  const pods = podLists
    .flatMap((list) => list.items)
    .map((pod: V1Pod) => ({
      pod: toPodSnapshot(pod),
      ...(pod.spec?.nodeName ? { node: pod.spec.nodeName } : {}),
    }));
  const pdbs = pdbLists
    .flatMap((list) => list.items)
    .map(
      (pdb): AuditPdb => ({
        namespace: pdb.metadata?.namespace ?? '',
        name: pdb.metadata?.name ?? '',
        ...(pdb.spec?.selector ? { selector: pdb.spec.selector } : {}),
        ...(pdb.spec?.minAvailable === undefined ? {} : { minAvailable: pdb.spec.minAvailable }),
        ...(pdb.spec?.maxUnavailable === undefined ? {} : { maxUnavailable: pdb.spec.maxUnavailable }),
        disruptionsAllowed: pdb.status?.disruptionsAllowed ?? 0,
        currentHealthy: pdb.status?.currentHealthy ?? 0,
        desiredHealthy: pdb.status?.desiredHealthy ?? 0,
        expectedPods: pdb.status?.expectedPods ?? 0,
      }),
    );
  return { nodes, pods, pdbs, ...(tickets ? { tickets } : {}) };
}

/**
 * The drains' leases of PDB turn tickets (lambda/kube/turns.ts), those with tickets of PDBs in
 * `namespaces` when given (as the PDB audit). Undefined when they cannot be read (no access to leases there): the other reads go on.
 */
async function readTickets(
  kc: KubeConfig,
  namespaces: readonly string[],
): Promise<AuditTicket[] | undefined> {
  let items: V1Lease[];
  try {
    ({ items } = await kc
      .makeApiClient(CoordinationV1Api)
      .listNamespacedLease({ namespace: DRAINER_NAMESPACE, labelSelector: TURNS_LABEL }));
  } catch {
    return undefined;
  }
  const time = (value: Date | string | undefined): number | undefined => {
    const ms = value === undefined ? Number.NaN : new Date(value).getTime();
    return Number.isFinite(ms) ? ms : undefined;
  };
  return items.flatMap((lease): AuditTicket[] => {
    const old = lease.metadata?.annotations?.[OLD_PDB_ANNOTATION];
    const pdbs = old ? [old] : [...placesOf(lease).keys()];
    // a lease without tickets belongs to a drain, not to a namespace: always shown
    const inScope = (pdb: string) => namespaces.some((ns) => pdb.startsWith(`${ns}/`));
    if (pdbs.length > 0 && namespaces.length > 0 && !pdbs.some(inScope)) return [];
    const renewedAt =
      time(lease.spec?.renewTime) ?? time(lease.spec?.acquireTime) ?? time(lease.metadata?.creationTimestamp);
    const holder = lease.spec?.holderIdentity;
    return [
      {
        name: lease.metadata?.name ?? '',
        pdbs,
        ...(holder ? { holder } : {}),
        ...(renewedAt === undefined ? {} : { renewedAt }),
      },
    ];
  });
}
