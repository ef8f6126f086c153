/**
 * ClusterCheckPort on the drainer's REST client (../kube/http.ts): reviews and discovery only, every
 * request bounded. No retry on 401: the token is at most 10 minutes old (TokenSource), so a refusal
 * is the finding.
 */
import type {
  V1APIResourceList,
  V1SelfSubjectAccessReview,
  V1SelfSubjectReview,
  VersionInfo,
} from '@kubernetes/client-node';
import { toApiFailure } from '../kube/api-error.js';
import { DEFAULT_REQUEST_TIMEOUTS } from '../kube/bounded.js';
import { KubeCluster } from '../kube/cluster.js';
import { type KubeConfigLike, KubeHttp } from '../kube/http.js';
import type { ClusterCheckPort, Identity } from './check.js';
import type { Permission } from './permissions.js';

const AUTHENTICATION = '/apis/authentication.k8s.io/v1';
const AUTHORIZATION = '/apis/authorization.k8s.io/v1';

export class KubeClusterCheck implements ClusterCheckPort {
  private readonly http: KubeHttp;
  private readonly cluster: KubeCluster;

  constructor(kubeConfig: KubeConfigLike) {
    this.http = new KubeHttp(kubeConfig, DEFAULT_REQUEST_TIMEOUTS);
    this.cluster = new KubeCluster(kubeConfig);
  }

  async version(): Promise<string> {
    return (await this.call(() => this.http.getJson<VersionInfo>('/version'))).gitVersion;
  }

  /**
   * SelfSubjectReview where served (authentication.k8s.io/v1, 1.28+), else SelfSubjectRulesReview.
   * Asked by discovery: an older server answers a review of an unknown resource 403 (authorization
   * comes first), not 404.
   */
  async whoAmI(): Promise<Identity> {
    const resources = await this.call(() => this.http.getJson<V1APIResourceList>(AUTHENTICATION));
    if (resources.resources.some((r) => r.name === 'selfsubjectreviews')) {
      const review = await this.call(() =>
        this.http.send<V1SelfSubjectReview>('POST', `${AUTHENTICATION}/selfsubjectreviews`, {
          body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
        }),
      );
      const user = review.status?.userInfo;
      return {
        via: 'SelfSubjectReview',
        ...(user?.username ? { username: user.username } : {}),
        groups: user?.groups ?? [],
      };
    }
    await this.call(() =>
      this.http.send('POST', `${AUTHORIZATION}/selfsubjectrulesreviews`, {
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SelfSubjectRulesReview',
          spec: { namespace: 'default' },
        },
      }),
    );
    return { via: 'SelfSubjectRulesReview' };
  }

  async canI(p: Permission): Promise<{ allowed: boolean; reason?: string }> {
    const review = await this.call(() =>
      this.http.send<V1SelfSubjectAccessReview>('POST', `${AUTHORIZATION}/selfsubjectaccessreviews`, {
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SelfSubjectAccessReview',
          spec: {
            resourceAttributes: {
              group: p.group,
              resource: p.resource,
              verb: p.verb,
              ...(p.subresource ? { subresource: p.subresource } : {}),
              ...(p.namespace ? { namespace: p.namespace } : {}),
            },
          },
        },
      }),
    );
    const reason = review.status?.reason;
    return { allowed: review.status?.allowed === true, ...(reason ? { reason } : {}) };
  }

  evictionVersion(): Promise<'v1' | 'v1beta1'> {
    return this.call(() => this.cluster.evictionVersion());
  }

  /** Runs one call; a failure becomes an Error with the server's own message. */
  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw failure(error);
    }
  }
}

function failure(error: unknown): Error {
  const { status, message } = toApiFailure(error);
  return new Error(status === undefined ? message : `HTTP ${status}: ${message}`, { cause: error });
}
