/**
 * The warm-pool mark on the node (lambda/drain/warm-pool.ts): an annotation holding what the drainer
 * did and how the node was before, and a label of the same key so marked nodes are found by one
 * label-selected LIST. Writes carry the read resourceVersion: a node changed meanwhile is re-read.
 */
import type { V1Node } from '@kubernetes/client-node';
import type { MarkedNode, MarksPort, Undo, WarmPoolMark } from '../job/warm-pool.js';
import { DEFAULT_REQUEST_TIMEOUTS } from './bounded.js';
import { EXCLUDE_FROM_LOAD_BALANCERS_LABEL } from './cluster.js';
import { type KubeConfigLike, KubeHttp } from './http.js';
import { JOB_ANNOTATION, parseRecord } from './job-format.js';
import { accessCall, patchNode, readNode, withNode } from './node-writes.js';
import { parseScheduledMark } from './scheduled-marks.js';

/** Annotation (the mark's JSON) and label (`true`, for selection) on a node drained toward the warm pool. */
export const WARM_POOL_MARK = 'eks-node-drainer/warm-pool-mark';

export class KubeMarks implements MarksPort {
  private readonly http: KubeHttp;

  /** @param onUnauthorized called on a 401 before the one retry (e.g. re-sign the EKS token). */
  constructor(kubeConfig: KubeConfigLike, onUnauthorized?: () => void) {
    this.http = new KubeHttp(kubeConfig, DEFAULT_REQUEST_TIMEOUTS, onUnauthorized);
  }

  async read(nodeName: string): Promise<WarmPoolMark | undefined> {
    return parseMark(await accessCall(() => readNode(this.http, nodeName)));
  }

  async markedNodes(): Promise<MarkedNode[]> {
    const list = await accessCall(() =>
      this.http.getJson<{ items?: V1Node[] }>('/api/v1/nodes', { labelSelector: WARM_POOL_MARK }),
    );
    return (list.items ?? []).flatMap((node) => {
      const mark = parseMark(node);
      if (!mark || !node.metadata?.name) return [];
      const ready = node.status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'True');
      const since = ready?.lastTransitionTime ? new Date(ready.lastTransitionTime).getTime() : undefined;
      return [{ node: node.metadata.name, mark, ...(since === undefined ? {} : { readySince: since }) }];
    });
  }

  async restore(
    nodeName: string,
    mark: WarmPoolMark,
    undo: Undo,
    now: number,
  ): Promise<'restored' | 'changed' | 'draining'> {
    return withNode(this.http, nodeName, async (node) => {
      const current = parseMark(node);
      if (current?.instanceId !== mark.instanceId || current.at !== mark.at) return 'changed';
      // a Ready flap while a job drains the node must not uncordon it
      const job = parseRecord(node.metadata?.annotations?.[JOB_ANNOTATION]);
      if (job && job.until > now) return 'draining';
      // a node waiting for its scheduled replacement stays cordoned (./scheduled-marks.ts)
      const scheduled = parseScheduledMark(node);
      const uncordon = undo.uncordon && (scheduled === undefined || scheduled.state === 'gone');
      await patchNode(this.http, node, {
        ...(uncordon ? { spec: { unschedulable: false } } : {}),
        metadata: {
          labels: {
            [WARM_POOL_MARK]: null,
            ...(undo.removeExcludeLabel ? { [EXCLUDE_FROM_LOAD_BALANCERS_LABEL]: null } : {}),
          },
          annotations: { [WARM_POOL_MARK]: null },
        },
      });
      return 'restored';
    });
  }
}

/** The label and annotation that mark a node (written by the job store with the job's end). */
export function markFields(mark: WarmPoolMark): {
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
} {
  return {
    labels: { [WARM_POOL_MARK]: 'true' },
    annotations: { [WARM_POOL_MARK]: JSON.stringify({ ...mark, at: new Date(mark.at).toISOString() }) },
  };
}

/** The node's mark; an unreadable annotation counts as none (never acted on). */
export function parseMark(node: V1Node): WarmPoolMark | undefined {
  const value = node.metadata?.annotations?.[WARM_POOL_MARK];
  if (!value) return undefined;
  try {
    const parsed = JSON.parse(value) as Record<string, unknown>;
    const at = typeof parsed.at === 'string' ? Date.parse(parsed.at) : Number.NaN;
    const { instanceId, wasUnschedulable, hadExcludeLabel } = parsed;
    if (typeof instanceId !== 'string' || !Number.isFinite(at)) return undefined;
    // without both facts the drainer cannot tell what it did: no undo
    if (typeof wasUnschedulable !== 'boolean' || typeof hadExcludeLabel !== 'boolean') return undefined;
    return { instanceId, at, wasUnschedulable, hadExcludeLabel };
  } catch {
    return undefined;
  }
}
