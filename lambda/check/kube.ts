/** ClusterCheckPort on @kubernetes/client-node: reviews and discovery only, every request bounded. */
import {
  AuthenticationV1Api,
  AuthorizationV1Api,
  type KubeConfig,
  VersionApi,
} from '@kubernetes/client-node';
import { toApiFailure } from '../kube/api-error.js';
import { boundedConfiguration, DEFAULT_REQUEST_TIMEOUTS } from '../kube/bounded.js';
import { KubeCluster } from '../kube/cluster.js';
import type { ClusterCheckPort, Identity } from './check.js';
import type { Permission } from './permissions.js';

export class KubeClusterCheck implements ClusterCheckPort {
  private readonly authentication: AuthenticationV1Api;
  private readonly authorization: AuthorizationV1Api;
  private readonly versionApi: VersionApi;
  private readonly cluster: KubeCluster;

  constructor(kubeConfig: KubeConfig) {
    const configuration = boundedConfiguration(kubeConfig, DEFAULT_REQUEST_TIMEOUTS);
    this.authentication = new AuthenticationV1Api(configuration);
    this.authorization = new AuthorizationV1Api(configuration);
    this.versionApi = new VersionApi(configuration);
    this.cluster = new KubeCluster(kubeConfig);
  }

  async version(): Promise<string> {
    return (await this.call(() => this.versionApi.getCode())).gitVersion;
  }

  /**
   * SelfSubjectReview where served (authentication.k8s.io/v1, 1.28+), else SelfSubjectRulesReview.
   * Asked by discovery: an older server answers a review of an unknown resource 403 (authorization
   * comes first), not 404.
   */
  async whoAmI(): Promise<Identity> {
    const resources = await this.call(() => this.authentication.getAPIResources());
    if (resources.resources.some((r) => r.name === 'selfsubjectreviews')) {
      const review = await this.call(() =>
        this.authentication.createSelfSubjectReview({
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
      this.authorization.createSelfSubjectRulesReview({ body: { spec: { namespace: 'default' } } }),
    );
    return { via: 'SelfSubjectRulesReview' };
  }

  async canI(p: Permission): Promise<{ allowed: boolean; reason?: string }> {
    const review = await this.call(() =>
      this.authorization.createSelfSubjectAccessReview({
        body: {
          spec: {
            resourceAttributes: {
              group: p.group,
              resource: p.resource,
              verb: p.verb,
              ...(p.subresource ? { subresource: p.subresource } : {}),
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

  /**
   * Runs one call; a failure becomes an Error with the server's own message. No retry on 401: the
   * token is at most 10 minutes old (TokenSource), so a refusal is the finding.
   */
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
