import type { TestProject } from 'vitest/node';
import { type ClusterInfo, startCluster } from '../../scripts/harness/cluster.js';

declare module 'vitest' {
  export interface ProvidedContext {
    cluster: ClusterInfo;
  }
}

/** One real control plane (etcd, kube-apiserver, controller manager) for the whole e2e run. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const cluster = await startCluster();
  console.log(`[e2e] local cluster ready in ${Date.now() - started} ms at ${cluster.server}`);
  const { stop, ...info } = cluster;
  project.provide('cluster', info);
  return stop;
}
