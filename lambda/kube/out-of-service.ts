/**
 * The lost-node adapter (lambda/job/lost.ts): the `node.kubernetes.io/out-of-service` taint, the
 * drainer's mark of what it did (an annotation, so a stopped instance that comes back gets exactly
 * that undone), and, before Kubernetes 1.28, the deletion of the node's pods. Node writes carry the
 * read resourceVersion: a node changed meanwhile is read again.
 */
import type { V1Node, V1Pod, V1Taint } from '@kubernetes/client-node';
import { OUT_OF_SERVICE_TAINT } from '../contract.js';
import type { LostMark, LostNodePort, LostNodeView } from '../job/lost.js';
import { accessError, isStatus } from './api-error.js';
import { DEFAULT_REQUEST_TIMEOUTS } from './bounded.js';
import { type KubeConfigLike, KubeHttp } from './http.js';
import { JOB_ANNOTATION, parseRecord } from './job-format.js';
import { accessCall, patchNode, readNode, withNode } from './node-writes.js';

/** The mark's annotation on the node (JSON, times in ISO 8601). */
export const LOST_MARK = 'eks-node-drainer/node-lost';
/** The taint's value, as the Kubernetes documentation writes it. */
export const OUT_OF_SERVICE_VALUE = 'nodeshutdown';
/** The taint is honoured from this minor on (GA in 1.28: NodeOutOfServiceVolumeDetach). */
export const OUT_OF_SERVICE_MINOR = 28;

const DELETE_CONCURRENCY = 16;
const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';

export class KubeLostNodes implements LostNodePort {
  private readonly http: KubeHttp;
  private minor?: Promise<number>;

  /** @param onUnauthorized called on a 401 before the one retry (e.g. re-sign the EKS token). */
  constructor(kubeConfig: KubeConfigLike, onUnauthorized?: () => void) {
    this.http = new KubeHttp(kubeConfig, DEFAULT_REQUEST_TIMEOUTS, onUnauthorized);
  }

  /** By discovery (/version), asked once, as the eviction version is. EKS writes minor as "28+". */
  async outOfServiceTaint(): Promise<boolean> {
    this.minor ??= this.http.getJson<{ major?: string; minor?: string }>('/version').then(
      (v) =>
        Number.parseInt(v.major ?? '', 10) > 1 ? Number.MAX_SAFE_INTEGER : Number.parseInt(v.minor ?? '', 10),
      (error: unknown) => {
        this.minor = undefined;
        throw accessError(error);
      },
    );
    return (await this.minor) >= OUT_OF_SERVICE_MINOR;
  }

  async read(nodeName: string, now: number): Promise<LostNodeView> {
    const node = await accessCall(() => readNode(this.http, nodeName));
    const job = parseRecord(node.metadata?.annotations?.[JOB_ANNOTATION]);
    const mark = parseLostMark(node);
    return {
      ...(mark ? { mark } : {}),
      unschedulable: node.spec?.unschedulable === true,
      releasable: (await this.releasable(nodeName)).length,
      ...(job && job.until > now ? { drainJob: job.holder } : {}),
    };
  }

  async mark(
    nodeName: string,
    mark: Omit<LostMark, 'tainted' | 'cordoned'>,
    taint: boolean,
  ): Promise<LostMark> {
    return withNode(this.http, nodeName, async (node) => {
      const taints = node.spec?.taints ?? [];
      const hasTaint = taints.some((t) => t.key === OUT_OF_SERVICE_TAINT);
      const earlier = parseLostMark(node);
      const same = earlier?.instanceId === mark.instanceId ? earlier : undefined;
      // a repeat keeps what the first release did: that is what a return undoes
      const written: LostMark = {
        ...mark,
        tainted: (same?.tainted ?? false) || (taint && !hasTaint),
        cordoned: same ? same.cordoned : node.spec?.unschedulable !== true,
      };
      const added: V1Taint = { key: OUT_OF_SERVICE_TAINT, value: OUT_OF_SERVICE_VALUE, effect: 'NoExecute' };
      await patchNode(this.http, node, {
        spec: { unschedulable: true, ...(taint && !hasTaint ? { taints: [...taints, added] } : {}) },
        metadata: { annotations: { [LOST_MARK]: formatLostMark(written) } },
      });
      return written;
    });
  }

  async deletePods(nodeName: string): Promise<{ readonly deleted: number; readonly forbidden?: true }> {
    const pods = await this.releasable(nodeName);
    let deleted = 0;
    let forbidden = false;
    for (let i = 0; i < pods.length && !forbidden; i += DELETE_CONCURRENCY) {
      await Promise.all(
        pods.slice(i, i + DELETE_CONCURRENCY).map(async (pod) => {
          const meta = pod.metadata ?? {};
          const path = `/api/v1/namespaces/${encodeURIComponent(meta.namespace ?? '')}/pods/${encodeURIComponent(meta.name ?? '')}`;
          try {
            // grace 0: no kubelet will ever confirm a graceful deletion; the object must go now
            await this.http.send('DELETE', path, {
              body: { gracePeriodSeconds: 0, preconditions: { uid: meta.uid } },
            });
            deleted++;
          } catch (error) {
            if (isStatus(error, 404, 409)) return;
            if (isStatus(error, 403)) {
              forbidden = true;
              return;
            }
            throw accessError(error);
          }
        }),
      );
    }
    return { deleted, ...(forbidden ? { forbidden: true as const } : {}) };
  }

  async restore(nodeName: string, mark: LostMark, now: number): Promise<'restored' | 'changed' | 'draining'> {
    return withNode(this.http, nodeName, async (node) => {
      const current = parseLostMark(node);
      if (current?.instanceId !== mark.instanceId || current.at !== mark.at) return 'changed';
      const job = parseRecord(node.metadata?.annotations?.[JOB_ANNOTATION]);
      if (job && job.until > now) return 'draining';
      const taints = node.spec?.taints ?? [];
      const kept = taints.filter(
        (t) => !(t.key === OUT_OF_SERVICE_TAINT && t.value === OUT_OF_SERVICE_VALUE),
      );
      await patchNode(this.http, node, {
        spec: {
          ...(mark.cordoned ? { unschedulable: false } : {}),
          ...(mark.tainted && kept.length !== taints.length ? { taints: kept } : {}),
        },
        metadata: { annotations: { [LOST_MARK]: null } },
      });
      return 'restored';
    });
  }

  /** Every pod bound to the node but DaemonSet pods (their controller would put them back there) and mirror pods. */
  private async releasable(nodeName: string): Promise<V1Pod[]> {
    const list = await accessCall(() =>
      this.http.getJson<{ items?: V1Pod[] }>('/api/v1/pods', { fieldSelector: `spec.nodeName=${nodeName}` }),
    );
    return (list.items ?? []).filter(
      (pod) =>
        pod.metadata?.annotations?.[MIRROR_ANNOTATION] === undefined &&
        !pod.metadata?.ownerReferences?.some((ref) => ref.controller && ref.kind === 'DaemonSet'),
    );
  }
}

export function formatLostMark(mark: LostMark): string {
  return JSON.stringify({ ...mark, at: new Date(mark.at).toISOString() });
}

/** The node's mark; an unreadable annotation counts as none (never undone). */
export function parseLostMark(node: V1Node): LostMark | undefined {
  const value = node.metadata?.annotations?.[LOST_MARK];
  if (!value) return undefined;
  try {
    const raw = JSON.parse(value) as Record<string, unknown>;
    const at = typeof raw.at === 'string' ? Date.parse(raw.at) : Number.NaN;
    const { instanceId, state, tainted, cordoned } = raw;
    if (typeof instanceId !== 'string' || typeof state !== 'string' || !Number.isFinite(at)) return undefined;
    if (typeof tainted !== 'boolean' || typeof cordoned !== 'boolean') return undefined;
    return { instanceId, state, at, tainted, cordoned };
  } catch {
    return undefined;
  }
}
