import { afterEach, describe, expect, it, vi } from 'vitest';
import { KubeClusterCheck } from '../../lambda/check/kube.js';
import { drainerRules, permissionsOf } from '../../lambda/check/permissions.js';
import { KubeHttp } from '../../lambda/kube/http.js';

/** A kubeconfig no request reaches: KubeHttp.send is replaced below. */
const kubeConfig = {
  getCurrentCluster: () => ({ server: 'https://127.0.0.1:1' }),
  applyToHTTPSOptions: async () => {},
};

afterEach(() => {
  vi.restoreAllMocks();
});

/** The SelfSubjectAccessReviews KubeClusterCheck sends, as (path, body); each answered allowed. */
function recordReviews(): { path: string; body: unknown }[] {
  const sent: { path: string; body: unknown }[] = [];
  vi.spyOn(KubeHttp.prototype, 'send').mockImplementation(async (_method, path, options) => {
    sent.push({ path, body: options?.body });
    return { status: { allowed: true } } as never;
  });
  return sent;
}

describe('KubeClusterCheck.canI', () => {
  it("asks a Role's permission (the leases) in its namespace: the review names eks-node-drainer", async () => {
    const sent = recordReviews();
    const leases = permissionsOf(drainerRules('delete')).find(
      (p) => p.resource === 'leases' && p.verb === 'create',
    );
    if (!leases) throw new Error('no leases create in the rules');

    const answer = await new KubeClusterCheck(kubeConfig).canI(leases);

    expect(answer).toEqual({ allowed: true });
    expect(sent).toEqual([
      {
        path: '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SelfSubjectAccessReview',
          spec: {
            resourceAttributes: {
              group: 'coordination.k8s.io',
              resource: 'leases',
              verb: 'create',
              namespace: 'eks-node-drainer',
            },
          },
        },
      },
    ]);
  });

  it('asks the ClusterRoles’ permissions cluster-wide: no namespace in the review', async () => {
    const sent = recordReviews();
    const check = new KubeClusterCheck(kubeConfig);

    for (const p of permissionsOf(drainerRules('delete')).filter((p) => p.resource !== 'leases')) {
      await check.canI(p);
    }

    expect(sent).toHaveLength(16);
    expect(sent).toContainEqual({
      path: '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
      body: {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SelfSubjectAccessReview',
        spec: {
          resourceAttributes: { group: '', resource: 'pods', subresource: 'eviction', verb: 'create' },
        },
      },
    });
    const attributes = sent.map(
      (s) => (s.body as { spec: { resourceAttributes: Record<string, string> } }).spec.resourceAttributes,
    );
    expect(attributes.some((a) => 'namespace' in a)).toBe(false);
  });
});
