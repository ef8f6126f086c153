/**
 * The node's job record (lambda/job/record.ts) as an annotation on the node, written with the read
 * resourceVersion (a merge patch carrying metadata.resourceVersion is refused with 409 when the node
 * changed meanwhile): of two invocations that read the same node, one writes and the other reads
 * again. Times are ISO 8601 so that `kubectl get node -o yaml` tells an operator who drains the node
 * and until when.
 */
import type { V1Node } from '@kubernetes/client-node';
import type { JobStorePort, NodeState } from '../job/ports.js';
import type { JobRecord } from '../job/record.js';
import type { WarmPoolMark } from '../job/warm-pool.js';
import { accessError, isStatus } from './api-error.js';
import { DEFAULT_REQUEST_TIMEOUTS } from './bounded.js';
import { EXCLUDE_FROM_LOAD_BALANCERS_LABEL } from './cluster.js';
import { type KubeConfigLike, KubeHttp } from './http.js';
import { formatRecord, JOB_ANNOTATION, parseRecord } from './job-format.js';
import { markFields } from './marks.js';

export class KubeJobStore implements JobStorePort {
  private readonly http: KubeHttp;

  /** @param onUnauthorized called on a 401 before the one retry (e.g. re-sign the EKS token). */
  constructor(kubeConfig: KubeConfigLike, onUnauthorized?: () => void) {
    this.http = new KubeHttp(kubeConfig, DEFAULT_REQUEST_TIMEOUTS, onUnauthorized);
  }

  async read(node: string): Promise<NodeState> {
    try {
      return nodeState(await this.http.getJson<V1Node>(`/api/v1/nodes/${encodeURIComponent(node)}`));
    } catch (error) {
      throw accessError(error);
    }
  }

  async write(
    node: string,
    version: string,
    record: JobRecord | null,
    mark?: WarmPoolMark,
  ): Promise<'written' | 'conflict'> {
    const marked = mark ? markFields(mark) : { labels: {}, annotations: {} };
    const body = {
      metadata: {
        resourceVersion: version,
        labels: marked.labels,
        annotations: { ...marked.annotations, [JOB_ANNOTATION]: record ? formatRecord(record) : null },
      },
    };
    try {
      await this.http.send('PATCH', `/api/v1/nodes/${encodeURIComponent(node)}`, {
        body,
        contentType: 'application/merge-patch+json',
      });
      return 'written';
    } catch (error) {
      if (isStatus(error, 409)) return 'conflict';
      throw accessError(error);
    }
  }
}

export function nodeState(node: V1Node): NodeState {
  const record = parseRecord(node.metadata?.annotations?.[JOB_ANNOTATION]);
  return {
    version: node.metadata?.resourceVersion ?? '',
    ...(record ? { record } : {}),
    now: {
      unschedulable: node.spec?.unschedulable === true,
      excludedFromLoadBalancers: node.metadata?.labels?.[EXCLUDE_FROM_LOAD_BALANCERS_LABEL] !== undefined,
    },
  };
}
