import { KubeConfig } from '@kubernetes/client-node';
import type { ClusterPort } from '../drain/ports.js';

const USER = 'eks-node-drainer';

/** A KubeConfig for an EKS endpoint: TLS verified against the cluster's CA, bearer token per request. */
export function eksKubeConfig(
  endpoint: { readonly endpoint: string; readonly certificateAuthority: string },
  token: () => Promise<string>,
): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      { name: 'eks', server: endpoint.endpoint, caData: endpoint.certificateAuthority, skipTLSVerify: false },
    ],
    users: [{ name: USER }],
    contexts: [{ name: 'eks', cluster: 'eks', user: USER }],
    currentContext: 'eks',
  });
  kc.addAuthenticator({
    isAuthProvider: (user) => user.name === USER,
    applyAuthentication: async (_user, opts) => {
      const headers = (opts.headers ?? {}) as Record<string, string>;
      headers.Authorization = `Bearer ${await token()}`;
      opts.headers = headers;
    },
  });
  return kc;
}

/**
 * A ClusterPort that connects on first use, so a failing connection (DescribeCluster, say) is retried
 * by the drain like any other cluster failure; a failed connection is tried again on the next call.
 */
export function lazyCluster(connect: () => Promise<ClusterPort>): ClusterPort {
  let connected: Promise<ClusterPort> | undefined;
  const cluster = (): Promise<ClusterPort> => {
    connected ??= connect().catch((error: unknown) => {
      connected = undefined;
      throw error;
    });
    return connected;
  };
  return {
    findNode: async (target) => (await cluster()).findNode(target),
    cordon: async (node, options) => (await cluster()).cordon(node, options),
    listVolumeAttachments: async (node) => (await cluster()).listVolumeAttachments(node),
    listPods: async (node) => (await cluster()).listPods(node),
    evict: async (pod, options) => (await cluster()).evict(pod, options),
    deletePod: async (pod, options) => (await cluster()).deletePod(pod, options),
    listPdbs: async (namespace) => (await cluster()).listPdbs(namespace),
    recordEvent: async (subject, event) => (await cluster()).recordEvent(subject, event),
    claimNode: async (node, claim) => (await cluster()).claimNode(node, claim),
    releaseNode: async (node, holder) => (await cluster()).releaseNode(node, holder),
  };
}
