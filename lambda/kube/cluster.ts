import {
  CoreV1Api,
  type CoreV1Event,
  type KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  PolicyApi,
  StorageV1Api,
  setHeaderOptions,
  type V1Eviction,
  type V1Pod,
} from '@kubernetes/client-node';
import type { LabelSelector, NodeTarget, PdbInfo, PodRef, PodSnapshot } from '../drain/model.js';
import type {
  ClusterEvent,
  ClusterPort,
  EventSubject,
  EvictionResult,
  EvictOptions,
  GracePeriod,
  NodeClaim,
} from '../drain/ports.js';
import { accessError, apiCall, isStatus, retryUnauthorized, toApiFailure } from './api-error.js';
import { boundedConfiguration, DEFAULT_REQUEST_TIMEOUTS, type RequestTimeouts } from './bounded.js';

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

/** ClusterPort on @kubernetes/client-node; authentication is whatever the KubeConfig carries. */
export class KubeCluster implements ClusterPort {
  private readonly core: CoreV1Api;
  private readonly objects: KubernetesObjectApi;
  private readonly policy: PolicyApi;
  private readonly storage: StorageV1Api;
  private policyVersion?: Promise<PolicyVersion>;

  /**
   * @param onUnauthorized called on a 401 before the one retry of that request (e.g. re-sign the
   *   EKS token); without it a 401 is final.
   */
  constructor(
    kubeConfig: KubeConfig,
    private readonly onUnauthorized?: () => void,
    timeouts: RequestTimeouts = DEFAULT_REQUEST_TIMEOUTS,
  ) {
    const configuration = boundedConfiguration(kubeConfig, timeouts);
    this.core = new CoreV1Api(configuration);
    this.objects = new KubernetesObjectApi(configuration);
    this.policy = new PolicyApi(configuration);
    this.storage = new StorageV1Api(configuration);
  }

  findNode(target: NodeTarget): Promise<string | undefined> {
    return this.call(() => this.lookUpNode(target));
  }

  private async lookUpNode(target: NodeTarget): Promise<string | undefined> {
    if (target.nodeName) {
      try {
        return (await this.core.readNode({ name: target.nodeName })).metadata?.name;
      } catch (error) {
        if (!isStatus(error, 404)) throw error;
      }
    }
    if (!target.instanceId) return undefined;
    const suffix = `/${target.instanceId}`;
    const nodes = await this.core.listNode({});
    return nodes.items.find((node) => node.spec?.providerID?.endsWith(suffix))?.metadata?.name;
  }

  async cordon(
    nodeName: string,
    options: { readonly excludeFromLoadBalancers?: boolean } = {},
  ): Promise<void> {
    const labels = options.excludeFromLoadBalancers
      ? { [EXCLUDE_FROM_LOAD_BALANCERS_LABEL]: 'true' }
      : undefined;
    await this.call(() =>
      this.core.patchNode(
        {
          name: nodeName,
          body: { spec: { unschedulable: true }, ...(labels ? { metadata: { labels } } : {}) },
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      ),
    );
  }

  /** From the watch cache (resourceVersion 0): VolumeAttachments take no field selector on the node. */
  async listVolumeAttachments(nodeName: string): Promise<string[]> {
    const list = await this.call(() => this.storage.listVolumeAttachment({ resourceVersion: '0' }));
    return list.items.filter((a) => a.spec?.nodeName === nodeName).map((a) => a.metadata?.name ?? '');
  }

  async listPods(nodeName: string): Promise<PodSnapshot[]> {
    const pods = await this.call(() =>
      this.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${nodeName}` }),
    );
    return pods.items.map(toPodSnapshot);
  }

  async evict(pod: PodRef, options: EvictOptions): Promise<EvictionResult> {
    const version = await this.call(() => this.evictionVersion());
    const body = evictionBody(version, pod, options.dryRun, options);
    try {
      await this.retryUnauthorized(() =>
        this.core.createNamespacedPodEviction({ name: pod.name, namespace: pod.namespace, body }),
      );
      return { kind: 'evicted' };
    } catch (error) {
      return toEvictionResult(error);
    }
  }

  async deletePod(pod: PodRef, grace: GracePeriod = {}): Promise<'deleted' | 'gone'> {
    try {
      await this.retryUnauthorized(() =>
        this.core.deleteNamespacedPod({
          name: pod.name,
          namespace: pod.namespace,
          body: { preconditions: { uid: pod.uid }, ...graceOption(grace) },
        }),
      );
      return 'deleted';
    } catch (error) {
      if (isStatus(error, 404, 409)) return 'gone';
      throw accessError(error);
    }
  }

  async claimNode(
    nodeName: string,
    claim: { readonly holder: string; readonly until: number; readonly now: number },
  ): Promise<NodeClaim> {
    return this.call(async () => {
      for (let attempt = 1; ; attempt++) {
        const node = await this.core.readNode({ name: nodeName });
        const current = parseClaim(node.metadata?.annotations?.[CLAIM_ANNOTATION]);
        if (current && current.holder !== claim.holder && current.until > claim.now) {
          return { kind: 'held', ...current };
        }
        const value = JSON.stringify({ holder: claim.holder, until: new Date(claim.until).toISOString() });
        try {
          await this.patchNodeAnnotation(nodeName, node.metadata?.resourceVersion, value);
          return { kind: 'claimed' };
        } catch (error) {
          // someone wrote the node meanwhile (maybe a competing claim): read again
          if (attempt >= 3 || !isStatus(error, 409)) throw error;
        }
      }
    });
  }

  async releaseNode(nodeName: string, holder: string): Promise<void> {
    await this.call(async () => {
      const node = await this.core.readNode({ name: nodeName });
      const current = parseClaim(node.metadata?.annotations?.[CLAIM_ANNOTATION]);
      if (current?.holder !== holder) return;
      await this.patchNodeAnnotation(nodeName, node.metadata?.resourceVersion, null);
    });
  }

  /** Merge patch with the read resourceVersion: the server refuses it (409) if the node changed. */
  private patchNodeAnnotation(nodeName: string, resourceVersion: string | undefined, value: string | null) {
    return this.core.patchNode(
      {
        name: nodeName,
        body: { metadata: { resourceVersion, annotations: { [CLAIM_ANNOTATION]: value } } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }

  async listPdbs(namespace: string): Promise<PdbInfo[]> {
    const list = await this.call(async () =>
      this.objects.list<PdbObject>(
        `policy/${await this.evictionVersion()}`,
        'PodDisruptionBudget',
        namespace,
      ),
    );
    return list.items.map((pdb) => ({
      namespace: pdb.metadata?.namespace ?? namespace,
      name: pdb.metadata?.name ?? '',
      ...(pdb.spec?.selector ? { selector: pdb.spec.selector } : {}),
      disruptionsAllowed: pdb.status?.disruptionsAllowed ?? 0,
      currentHealthy: pdb.status?.currentHealthy ?? 0,
      desiredHealthy: pdb.status?.desiredHealthy ?? 0,
    }));
  }

  /** Node events go to namespace default (as the kubelet's do), pod events to the pod's namespace. */
  async recordEvent(subject: EventSubject, event: ClusterEvent): Promise<void> {
    const now = new Date();
    const namespace = subject.kind === 'Node' ? 'default' : subject.namespace;
    const name = event.series
      ? `${subject.name}.${event.reason.toLowerCase()}.${event.series}`
      : `${subject.name}.${now.getTime().toString(16)}`;
    const body: CoreV1Event = {
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
      await this.retryUnauthorized(() => this.core.createNamespacedEvent({ namespace, body }));
    } catch (error) {
      if (!event.series || !isStatus(error, 409)) throw accessError(error);
      // the series exists: bump it in place
      await this.call(() =>
        this.core.patchNamespacedEvent(
          { name, namespace, body: { count: event.count ?? 1, lastTimestamp: now, message: event.message } },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        ),
      );
    }
  }

  /** Runs one API call; a failure becomes a ClusterAccessError with the server's own message. */
  private call<T>(fn: () => Promise<T>): Promise<T> {
    return apiCall(fn, this.onUnauthorized);
  }

  private retryUnauthorized<T>(fn: () => Promise<T>): Promise<T> {
    return retryUnauthorized(fn, this.onUnauthorized);
  }

  /** policy/v1 where served, else policy/v1beta1; asked once by discovery, as kubectl does. */
  evictionVersion(): Promise<PolicyVersion> {
    this.policyVersion ??= this.policy.getAPIGroup().then(
      (group) => (group.versions.some((v) => v.version === 'v1') ? 'v1' : 'v1beta1'),
      (error: unknown) => {
        this.policyVersion = undefined;
        throw error;
      },
    );
    return this.policyVersion;
  }
}

/** The node annotation that says which drain holds the node, until when. */
export const CLAIM_ANNOTATION = 'eks-node-drainer/drain-claim';

function parseClaim(value: string | undefined): { holder: string; until: number } | undefined {
  if (!value) return undefined;
  try {
    const parsed = JSON.parse(value) as { holder?: unknown; until?: unknown };
    const until = typeof parsed.until === 'string' ? Date.parse(parsed.until) : Number.NaN;
    if (typeof parsed.holder !== 'string' || !Number.isFinite(until)) return undefined;
    return { holder: parsed.holder, until };
  } catch {
    return undefined; // unreadable: treated as no claim
  }
}

interface PdbObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  spec?: { selector?: LabelSelector };
  status?: { disruptionsAllowed?: number; currentHealthy?: number; desiredHealthy?: number };
}
