import type { V1APIGroup, V1Eviction, V1Node, V1Pod, V1VolumeAttachment } from '@kubernetes/client-node';
import type { LabelSelector, NodeTarget, PdbInfo, PodRef, PodSnapshot } from '../drain/model.js';
import type {
  ClusterEvent,
  ClusterPort,
  EventSubject,
  EvictionResult,
  EvictOptions,
  GracePeriod,
  NodeFeed,
  PodList,
  ReadOptions,
} from '../drain/ports.js';
import { accessError, isStatus, toApiFailure } from './api-error.js';
import { DEFAULT_REQUEST_TIMEOUTS, type RequestTimeouts } from './bounded.js';
import { type KubeConfigLike, KubeHttp } from './http.js';
import { ListWatch, type ListWatchOptions, type RawObject } from './list-watch.js';

export type PolicyVersion = 'v1' | 'v1beta1';

const COMPONENT = 'eks-node-drainer';
/** Honoured by the in-tree service controller and the AWS Load Balancer Controller. */
export const EXCLUDE_FROM_LOAD_BALANCERS_LABEL = 'node.kubernetes.io/exclude-from-external-load-balancers';
const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';

/**
 * The Eviction request for one pod: UID precondition; no grace override (the pod's own applies)
 * unless a Spot drain clamps it to the time left.
 */
export function evictionBody(
  version: PolicyVersion,
  pod: PodRef,
  dryRun: boolean,
  grace: GracePeriod = {},
): V1Eviction {
  return {
    apiVersion: `policy/${version}`,
    kind: 'Eviction',
    metadata: { name: pod.name, namespace: pod.namespace },
    deleteOptions: {
      preconditions: { uid: pod.uid },
      ...(dryRun ? { dryRun: ['All'] } : {}),
      ...graceOption(grace),
    },
  };
}

const graceOption = ({ gracePeriodSeconds }: GracePeriod) =>
  gracePeriodSeconds === undefined ? {} : { gracePeriodSeconds };

export function toPodSnapshot(pod: V1Pod): PodSnapshot {
  const meta = pod.metadata ?? {};
  const controller = meta.ownerReferences?.find((ref) => ref.controller);
  return {
    namespace: meta.namespace ?? 'default',
    name: meta.name ?? '',
    uid: meta.uid ?? '',
    phase: pod.status?.phase ?? 'Unknown',
    ...(controller ? { controller: { kind: controller.kind, name: controller.name } } : {}),
    mirror: meta.annotations?.[MIRROR_ANNOTATION] !== undefined,
    terminating: meta.deletionTimestamp !== undefined && meta.deletionTimestamp !== null,
    ...(pod.spec?.priorityClassName ? { priorityClassName: pod.spec.priorityClassName } : {}),
    usesEmptyDir: (pod.spec?.volumes ?? []).some((volume) => volume.emptyDir !== undefined),
    labels: meta.labels ?? {},
    gracePeriodSeconds: pod.spec?.terminationGracePeriodSeconds ?? 30,
    ready: pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    ...(pod.status?.podIP ? { ip: pod.status.podIP } : {}),
  };
}

/** Maps an eviction failure to what the drain does next (DRAIN-SEMANTICS.md, "Eviction"). */
export function toEvictionResult(error: unknown): EvictionResult {
  const failure = toApiFailure(error);
  const retryAfter = failure.retryAfterMs === undefined ? {} : { retryAfterMs: failure.retryAfterMs };
  switch (failure.status) {
    case 404: // not there: the node's pod list confirms it by UID
      return { kind: 'gone' };
    case 429: {
      const cause = failure.causes.find((c) => c.reason === 'DisruptionBudget')?.message;
      if (cause === undefined && !/disruption budget/i.test(failure.message)) {
        // API Priority and Fairness (or another limiter): throttling, not a PDB refusal
        return { kind: 'throttled', message: failure.message, ...retryAfter };
      }
      const pdbName = /disruption budget (\S+)/.exec(cause ?? '')?.[1];
      return {
        kind: 'pdb-blocked',
        message: cause || failure.message,
        ...(pdbName ? { pdbName } : {}),
        ...retryAfter,
      };
    }
    default:
      // 409 included: a PDB update conflict the server gave up on, or the UID precondition failed
      // (a replacement took the name); either way the pod counts as gone only when the list says so
      if (failure.status === 500 && /more than one PodDisruptionBudget/i.test(failure.message)) {
        return { kind: 'multiple-pdbs', message: failure.message };
      }
      return {
        kind: 'failed',
        message: failure.message,
        ...(failure.status === undefined ? {} : { status: failure.status }),
        ...retryAfter,
      };
  }
}

/**
 * ClusterPort over the drainer's REST client (./http.ts); authentication is whatever the KubeConfig
 * (or the EKS stand-in, ./eks-cluster.ts) carries. Node name, namespace and pod names go into paths
 * URL-encoded.
 */
export class KubeCluster implements ClusterPort {
  private readonly http: KubeHttp;
  private policyVersion?: Promise<PolicyVersion>;
  /** Watch tuning (tests shorten the server's stream timeout). */
  watchOptions: Omit<ListWatchOptions, 'onChange' | 'onFailed'> = {};

  /**
   * @param onUnauthorized called on a 401 before the one retry of that request (e.g. re-sign the
   *   EKS token); without it a 401 is final.
   */
  constructor(
    kubeConfig: KubeConfigLike,
    onUnauthorized?: () => void,
    timeouts: RequestTimeouts = DEFAULT_REQUEST_TIMEOUTS,
  ) {
    this.http = new KubeHttp(kubeConfig, timeouts, onUnauthorized);
  }

  findNode(target: NodeTarget): Promise<string | undefined> {
    return this.call(() => this.lookUpNode(target));
  }

  private async lookUpNode(target: NodeTarget): Promise<string | undefined> {
    if (target.nodeName) {
      try {
        return (await this.readNode(target.nodeName)).metadata?.name;
      } catch (error) {
        if (!isStatus(error, 404)) throw error;
      }
    }
    if (!target.instanceId) return undefined;
    const suffix = `/${target.instanceId}`;
    const nodes = await this.http.getJson<{ items?: V1Node[] }>('/api/v1/nodes', { resourceVersion: '0' });
    return (nodes.items ?? []).find((node) => node.spec?.providerID?.endsWith(suffix))?.metadata?.name;
  }

  async cordon(
    nodeName: string,
    options: { readonly excludeFromLoadBalancers?: boolean } = {},
  ): Promise<void> {
    const labels = options.excludeFromLoadBalancers
      ? { [EXCLUDE_FROM_LOAD_BALANCERS_LABEL]: 'true' }
      : undefined;
    await this.call(() =>
      this.patchNode(nodeName, {
        spec: { unschedulable: true },
        ...(labels ? { metadata: { labels } } : {}),
      }),
    );
  }

  /** From the watch cache (resourceVersion 0): VolumeAttachments take no field selector on the node. */
  async listVolumeAttachments(nodeName: string): Promise<string[]> {
    const list = await this.call(() =>
      this.http.getJson<{ items?: V1VolumeAttachment[] }>('/apis/storage.k8s.io/v1/volumeattachments', {
        resourceVersion: '0',
      }),
    );
    return (list.items ?? []).filter((a) => a.spec?.nodeName === nodeName).map((a) => a.metadata?.name ?? '');
  }

  /**
   * From the watch cache: as it is (resourceVersion 0), or at least as new as `notOlderThan` (the
   * server waits for its cache to catch up, or fails the read).
   */
  async listPods(nodeName: string, options: ReadOptions = {}): Promise<PodList> {
    const list = await this.call(() =>
      this.http.getJson<{ metadata?: { resourceVersion?: string }; items?: V1Pod[] }>('/api/v1/pods', {
        fieldSelector: `spec.nodeName=${nodeName}`,
        resourceVersion: options.notOlderThan ?? '0',
      }),
    );
    const resourceVersion = list.metadata?.resourceVersion;
    return { pods: (list.items ?? []).map(toPodSnapshot), ...(resourceVersion ? { resourceVersion } : {}) };
  }

  /**
   * Watches the node's pods and every PDB of the cluster (one stream each); resolves once both are
   * listed and watching. A PDB modified wakes the drain only when `wakesForPdb` says so.
   */
  async followNode(
    nodeName: string,
    onChange: () => void,
    wakesForPdb?: (pdb: PdbInfo) => boolean,
  ): Promise<NodeFeed> {
    const version = await this.call(() => this.evictionVersion());
    let failed = false;
    const options = { ...this.watchOptions, onChange, onFailed: () => (failed = true) };
    const pods = new ListWatch(
      this.http,
      { path: '/api/v1/pods', query: { fieldSelector: `spec.nodeName=${nodeName}` }, convert: rawPod },
      options,
    );
    const pdbs = new ListWatch(
      this.http,
      { path: `/apis/policy/${version}/poddisruptionbudgets`, convert: toPdbInfo },
      {
        ...options,
        ...(wakesForPdb && {
          wakesFor: (type: string, pdb: PdbInfo | undefined) =>
            type !== 'MODIFIED' || !pdb || wakesForPdb(pdb),
        }),
      },
    );
    try {
      await this.call(() => Promise.all([pods.start(), pdbs.start()]));
    } catch (error) {
      pods.close();
      pdbs.close();
      throw error;
    }
    // one array per namespace while no PDB changed (NodeFeed: the same array until something changes)
    let indexed: readonly PdbInfo[] | undefined;
    let byNamespace = new Map<string, readonly PdbInfo[]>();
    const pdbsIn = (all: readonly PdbInfo[], namespace: string): readonly PdbInfo[] => {
      if (all !== indexed) [indexed, byNamespace] = [all, new Map()];
      let some = byNamespace.get(namespace);
      if (!some) {
        some = all.filter((pdb) => pdb.namespace === namespace);
        byNamespace.set(namespace, some);
      }
      return some;
    };
    return {
      pods: () => pods.values(),
      podsVersion: () => pods.version(),
      pdbs: (namespace) => pdbsIn(pdbs.values(), namespace),
      pdbsVersion: () => pdbs.version(),
      failed: () => failed,
      close: () => {
        pods.close();
        pdbs.close();
      },
    };
  }

  async evict(pod: PodRef, options: EvictOptions): Promise<EvictionResult> {
    const version = await this.call(() => this.evictionVersion());
    const body = evictionBody(version, pod, options.dryRun, options);
    try {
      await this.http.send('POST', `${podPath(pod)}/eviction`, { body });
      return { kind: 'evicted' };
    } catch (error) {
      return toEvictionResult(error);
    }
  }

  async deletePod(pod: PodRef, grace: GracePeriod = {}): Promise<'deleted' | 'gone'> {
    try {
      await this.http.send('DELETE', podPath(pod), {
        body: { preconditions: { uid: pod.uid }, ...graceOption(grace) },
      });
      return 'deleted';
    } catch (error) {
      if (isStatus(error, 404, 409)) return 'gone';
      throw accessError(error);
    }
  }

  private readNode(nodeName: string): Promise<V1Node> {
    return this.http.getJson<V1Node>(`/api/v1/nodes/${encodeURIComponent(nodeName)}`);
  }

  private patchNode(nodeName: string, body: object): Promise<unknown> {
    return this.http.send('PATCH', `/api/v1/nodes/${encodeURIComponent(nodeName)}`, {
      body,
      contentType: MERGE_PATCH,
    });
  }

  /** A namespace's PDBs, through the served policy version. */
  private async pdbsPath(namespace: string): Promise<string> {
    return `/apis/policy/${await this.evictionVersion()}/namespaces/${encodeURIComponent(namespace)}/poddisruptionbudgets`;
  }

  /** From the watch cache (resourceVersion 0). */
  async listPdbs(namespace: string): Promise<PdbInfo[]> {
    const list = await this.call(async () =>
      this.http.getJson<{ items?: RawObject[] }>(await this.pdbsPath(namespace), { resourceVersion: '0' }),
    );
    return (list.items ?? []).map(toPdbInfo);
  }

  /** A consistent read (no resourceVersion: etcd's current state, not the watch cache's). */
  readPdb(namespace: string, name: string): Promise<PdbInfo | undefined> {
    return this.call(async () => {
      try {
        const path = `${await this.pdbsPath(namespace)}/${encodeURIComponent(name)}`;
        return toPdbInfo(await this.http.getJson<RawObject>(path));
      } catch (error) {
        if (isStatus(error, 404)) return undefined;
        throw error;
      }
    });
  }

  /** Node events go to namespace default (as the kubelet's do), pod events to the pod's namespace. */
  async recordEvent(subject: EventSubject, event: ClusterEvent): Promise<void> {
    const now = new Date().toISOString();
    const namespace = subject.kind === 'Node' ? 'default' : subject.namespace;
    const name = event.series
      ? `${subject.name}.${event.reason.toLowerCase()}.${event.series}`
      : `${subject.name}.${Date.now().toString(16)}`;
    const events = `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`;
    const body = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace },
      involvedObject:
        subject.kind === 'Node'
          ? { apiVersion: 'v1', kind: 'Node', name: subject.name, uid: subject.name }
          : { apiVersion: 'v1', kind: 'Pod', name: subject.name, namespace, uid: subject.uid },
      reason: event.reason,
      message: event.message,
      type: event.type,
      source: { component: COMPONENT },
      reportingComponent: COMPONENT,
      reportingInstance: COMPONENT,
      firstTimestamp: now,
      lastTimestamp: now,
      count: event.count ?? 1,
    };
    try {
      await this.http.send('POST', events, { body });
    } catch (error) {
      if (!event.series || !isStatus(error, 409)) throw accessError(error);
      // the series exists: bump it in place
      await this.call(() =>
        this.http.send('PATCH', `${events}/${encodeURIComponent(name)}`, {
          body: { count: event.count ?? 1, lastTimestamp: now, message: event.message },
          contentType: MERGE_PATCH,
        }),
      );
    }
  }

  /** Runs one API call; a failure becomes a ClusterAccessError with the server's own message. */
  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw accessError(error);
    }
  }

  /** policy/v1 where served, else policy/v1beta1; asked once by discovery, as kubectl does. */
  evictionVersion(): Promise<PolicyVersion> {
    this.policyVersion ??= this.http.getJson<V1APIGroup>('/apis/policy').then(
      (group) => (group.versions.some((v) => v.version === 'v1') ? 'v1' : 'v1beta1'),
      (error: unknown) => {
        this.policyVersion = undefined;
        throw error;
      },
    );
    return this.policyVersion;
  }
}

const MERGE_PATCH = 'application/merge-patch+json';

function podPath(pod: PodRef): string {
  return `/api/v1/namespaces/${encodeURIComponent(pod.namespace)}/pods/${encodeURIComponent(pod.name)}`;
}

interface PdbObject {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
  spec?: { selector?: LabelSelector };
  status?: {
    disruptionsAllowed?: number;
    currentHealthy?: number;
    desiredHealthy?: number;
    disruptedPods?: Record<string, string>;
  };
}

function rawPod(raw: RawObject): PodSnapshot {
  return toPodSnapshot(raw as V1Pod);
}

/**
 * One object per distinct selector: a PDB's status changes far more often than its selector, and
 * the drain remembers which pods a selector object matched (drain/selector.ts).
 */
const selectors = new Map<string, LabelSelector>();
function interned(selector: LabelSelector): LabelSelector {
  const key = JSON.stringify(selector);
  const known = selectors.get(key);
  if (known) return known;
  if (selectors.size >= 10_000) selectors.clear();
  selectors.set(key, selector);
  return selector;
}

export function toPdbInfo(raw: RawObject): PdbInfo {
  const pdb = raw as PdbObject;
  return {
    namespace: pdb.metadata?.namespace ?? 'default',
    name: pdb.metadata?.name ?? '',
    ...(pdb.metadata?.resourceVersion ? { resourceVersion: pdb.metadata.resourceVersion } : {}),
    ...(pdb.spec?.selector ? { selector: interned(pdb.spec.selector) } : {}),
    disruptionsAllowed: pdb.status?.disruptionsAllowed ?? 0,
    currentHealthy: pdb.status?.currentHealthy ?? 0,
    desiredHealthy: pdb.status?.desiredHealthy ?? 0,
    ...(pdb.status?.disruptedPods ? { disruptedPods: Object.keys(pdb.status.disruptedPods) } : {}),
  };
}
