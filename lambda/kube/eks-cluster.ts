import type { ClusterPort } from '../drain/ports.js';
import type { KubeConfigLike } from './http.js';

/**
 * What the REST client needs to reach an EKS endpoint: TLS verified against the cluster's CA, a bearer
 * token per request. (No @kubernetes/client-node KubeConfig: loading it is most of the bundle.)
 */
export function eksKubeConfig(
  endpoint: { readonly endpoint: string; readonly certificateAuthority: string },
  token: () => Promise<string>,
): KubeConfigLike {
  const ca = Buffer.from(endpoint.certificateAuthority, 'base64');
  return {
    getCurrentCluster: () => ({ server: endpoint.endpoint }),
    applyToHTTPSOptions: async (options) => {
      options.ca = ca;
      options.headers = { ...options.headers, Authorization: `Bearer ${await token()}` };
    },
  };
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
    listPods: async (node, options) => (await cluster()).listPods(node, options),
    evict: async (pod, options) => (await cluster()).evict(pod, options),
    deletePod: async (pod, options) => (await cluster()).deletePod(pod, options),
    listPdbs: async (namespace) => (await cluster()).listPdbs(namespace),
    followNode: async (node, onChange, wakesForPdb) => {
      const connected = await cluster();
      if (!connected.followNode) throw new Error('this cluster client cannot watch');
      return connected.followNode(node, onChange, wakesForPdb);
    },
    readPdb: async (namespace, name) => {
      const connected = await cluster();
      if (!connected.readPdb) throw new Error('this cluster client cannot read one PDB');
      return connected.readPdb(namespace, name);
    },
    recordEvent: async (subject, event) => (await cluster()).recordEvent(subject, event),
  };
}
