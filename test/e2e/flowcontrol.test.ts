/**
 * The drainer's API Priority and Fairness objects (infra/k8s/flowcontrol/): on a server that serves
 * flowcontrol v1 (v1.32; the harness applies them there as a cluster would have them), every request
 * of group eks-node-drainer is classified into the drainer's own priority level; 1.20 serves no v1,
 * which is why the file is apart from the RBAC.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { loadAllYaml } from '@kubernetes/client-node';
import { describe, expect, inject, it } from 'vitest';
import { DEFAULT_REQUEST_TIMEOUTS } from '../../lambda/kube/bounded.js';
import { KubeHttp } from '../../lambda/kube/http.js';
import { FLOWCONTROL_FILE, kubeConfigFor } from '../../scripts/harness/cluster.js';

const REPO_ROOT = join(import.meta.dirname, '..', '..');

/** The response headers of one GET by `identity`. */
async function headersOf(path: string, identity: 'drainer' | 'admin'): Promise<Record<string, unknown>> {
  const kc = kubeConfigFor(inject('cluster'), identity);
  const options: Parameters<typeof request>[1] = {};
  await kc.applyToHTTPSOptions(options as never);
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, inject('cluster').server), { ...options, method: 'GET' }, (res) => {
      res.resume();
      resolve(res.headers);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('API Priority and Fairness for the drainer', () => {
  it('classifies every request of the drainer group into its own priority level where v1 is served', async () => {
    const admin = new KubeHttp(kubeConfigFor(inject('cluster'), 'admin'), DEFAULT_REQUEST_TIMEOUTS);
    const group = await admin.getJson<{ versions: { version: string }[] }>(
      '/apis/flowcontrol.apiserver.k8s.io',
    );
    const docs = loadAllYaml(readFileSync(join(REPO_ROOT, FLOWCONTROL_FILE), 'utf8')) as {
      apiVersion: string;
      kind: string;
    }[];
    expect(docs.map((d) => [d.apiVersion, d.kind])).toEqual([
      ['flowcontrol.apiserver.k8s.io/v1', 'PriorityLevelConfiguration'],
      ['flowcontrol.apiserver.k8s.io/v1', 'FlowSchema'],
    ]);

    if (!group.versions.some((v) => v.version === 'v1')) {
      // 1.20: the objects cannot be applied; the file says which version older servers take
      expect(inject('cluster').version).toBe('1.20');
      return;
    }
    const flowSchema = await admin.getJson<{ metadata: { uid: string } }>(
      '/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas/eks-node-drainer',
    );
    const level = await admin.getJson<{ metadata: { uid: string } }>(
      '/apis/flowcontrol.apiserver.k8s.io/v1/prioritylevelconfigurations/eks-node-drainer',
    );

    for (const path of ['/api/v1/nodes', '/apis/policy/v1/poddisruptionbudgets', '/apis']) {
      const drainer = await headersOf(path, 'drainer');
      expect(drainer['x-kubernetes-pf-flowschema-uid']).toBe(flowSchema.metadata.uid);
      expect(drainer['x-kubernetes-pf-prioritylevel-uid']).toBe(level.metadata.uid);
    }
    // nobody else lands there
    expect((await headersOf('/api/v1/nodes', 'admin'))['x-kubernetes-pf-flowschema-uid']).not.toBe(
      flowSchema.metadata.uid,
    );
  });
});
