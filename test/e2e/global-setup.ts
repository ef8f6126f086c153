import type { TestProject } from 'vitest/node';
import { APPLIER_CREDENTIALS, TEST_CREDENTIALS, TEST_REGION } from '../../scripts/harness/aws-endpoint.js';
import { type ClusterInfo, parseK8sVersion, startCluster } from '../../scripts/harness/cluster.js';
import { EksTokenWebhook } from '../../scripts/harness/eks-token-webhook.js';

/** The EKS cluster name the e2e tests' tokens are signed for. */
export const E2E_CLUSTER_NAME = 'drainer-e2e';

declare module 'vitest' {
  export interface ProvidedContext {
    cluster: ClusterInfo;
    /** Base URL of the EKS token webhook (POST /reject?count=N, GET /reviews). */
    tokenWebhook: string;
  }
}

/**
 * One real control plane (etcd, kube-apiserver, controller manager) for the whole e2e project, with an
 * EKS-style token webhook that maps good tokens to group eks-node-drainer. The project's name says
 * which server: e2e-1.20 or e2e-1.32 (vitest.config.ts).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const version = parseK8sVersion(project.name.replace(/^e2e-/, ''));
  const webhook = await new EksTokenWebhook({
    clusterName: E2E_CLUSTER_NAME,
    region: TEST_REGION,
    ...TEST_CREDENTIALS,
    groups: ['eks-node-drainer'],
    accessEntryPrincipals: [APPLIER_CREDENTIALS],
  }).start();
  const cluster = await startCluster({ version, tokenWebhookUrl: `${webhook.url}/authenticate` });
  const tag = `[${project.name}]`;
  console.log(
    `${tag} kube-apiserver ${cluster.serverVersion} ready in ${Date.now() - started} ms at ${cluster.server}`,
  );
  const { stop, ...info } = cluster;
  project.provide('cluster', info);
  project.provide('tokenWebhook', webhook.url);
  return async () => {
    await stop();
    await webhook.stop();
    console.log(
      `${tag} e2e on ${cluster.serverVersion}: ${((Date.now() - started) / 1000).toFixed(1)} s wall`,
    );
  };
}
