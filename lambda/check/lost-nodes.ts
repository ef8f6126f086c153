/**
 * The self-check's line on lost nodes (lambda/job/lost.ts): how this server lets the drainer release
 * a lost instance's pods. 1.28+ takes the out-of-service taint (nodes patch, already a drain's
 * permission); an older server needs pods delete (infra/k8s/rbac-delete-pods.yaml), without which a
 * lost node is only cordoned: a warning, not a failure.
 */
import { type NodeLostAction, RBAC_DELETE_PODS_FILE } from '../contract.js';
import { OUT_OF_SERVICE_MINOR } from '../kube/out-of-service.js';
import type { ClusterCheckPort } from './check.js';
import { type CheckLine, line } from './report.js';

const ID = 'function.lost-nodes';

/** The minor of a gitVersion such as v1.20.2 or v1.32.0-eks-1234; undefined if unreadable. */
export function minorOf(gitVersion: string): number | undefined {
  const match = /^v?1\.(\d+)/.exec(gitVersion);
  return match ? Number(match[1]) : undefined;
}

export async function lostNodesLine(
  kube: ClusterCheckPort,
  gitVersion: string,
  onNodeLost: NodeLostAction,
): Promise<CheckLine> {
  if (onNodeLost === 'ignore') return line(ID, 'pass', 'lost nodes are left alone (ON_NODE_LOST=ignore)');
  const minor = minorOf(gitVersion);
  if (minor === undefined || minor >= OUT_OF_SERVICE_MINOR)
    return line(ID, 'pass', `a lost node's pods are released by the out-of-service taint (${gitVersion})`);
  const answer = await kube
    .canI({ group: '', resource: 'pods', verb: 'delete' })
    .catch((error: unknown) => ({ allowed: false, reason: `review failed: ${String(error)}` }));
  if (answer.allowed)
    return line(
      ID,
      'pass',
      `a lost node's pods are deleted at once (${gitVersion}: no out-of-service taint)`,
    );
  return line(ID, 'warn', `may not delete pods: a lost node is only cordoned on ${gitVersion}`, {
    fix: `kubectl apply -f ${RBAC_DELETE_PODS_FILE}`,
  });
}
