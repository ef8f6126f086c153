/**
 * The node writes of the drainer's marks (warm pool, scheduled events, lost nodes): read the node, act
 * on what it says, write with the read resourceVersion, and on a 409 (the node changed meanwhile: a
 * drain started, a controller tainted it) read again, a few times. Failures are ClusterAccessErrors.
 */
import type { V1Node } from '@kubernetes/client-node';
import { accessError, isStatus } from './api-error.js';
import type { KubeHttp } from './http.js';

const ATTEMPTS = 3;

/** Runs a read, mapping its failure to a ClusterAccessError. */
export async function accessCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw accessError(error);
  }
}

export function readNode(http: KubeHttp, nodeName: string): Promise<V1Node> {
  return http.getJson<V1Node>(`/api/v1/nodes/${encodeURIComponent(nodeName)}`);
}

/** Read, act, and on a 409 (the node changed meanwhile) read again. */
export async function withNode<T>(
  http: KubeHttp,
  nodeName: string,
  act: (node: V1Node) => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const node = await accessCall(() => readNode(http, nodeName));
    try {
      return await act(node);
    } catch (error) {
      if (attempt >= ATTEMPTS || !isStatus(error, 409)) throw accessError(error);
    }
  }
}

/** Merge patch with the read resourceVersion: refused (409) if the node changed since. */
export function patchNode(
  http: KubeHttp,
  node: V1Node,
  body: { readonly spec?: object; readonly metadata?: object },
): Promise<unknown> {
  return http.send('PATCH', `/api/v1/nodes/${encodeURIComponent(node.metadata?.name ?? '')}`, {
    body: { ...body, metadata: { ...body.metadata, resourceVersion: node.metadata?.resourceVersion } },
    contentType: 'application/merge-patch+json',
  });
}
