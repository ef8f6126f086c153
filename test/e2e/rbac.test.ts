import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { drainerManifests } from '../../infra/rbac.js';
import { CLUSTER_ADMIN_ACCESS_POLICY, type DeadlinePolicy } from '../../lambda/contract.js';
import { KubeManifests } from '../../lambda/kube/apply.js';
import { DEFAULT_REQUEST_TIMEOUTS } from '../../lambda/kube/bounded.js';
import { KubeHttp } from '../../lambda/kube/http.js';
import type { RbacSummary } from '../../lambda/rbac/handler.js';
import type { Manifest } from '../../lambda/rbac/manifests.js';
import { objectPath } from '../../lambda/rbac/manifests.js';
import { APPLIER_CREDENTIALS } from '../../scripts/harness/aws-endpoint.js';
import { LocalCustomResourceResponses } from '../../scripts/harness/cfn-responses.js';
import { kubeConfigFor } from '../../scripts/harness/cluster.js';
import { E2E_CLUSTER_NAME } from './global-setup.js';
import { localAws, registerCluster } from './support/lambda.js';

const POLICY_ARN = `arn:aws:eks::aws:cluster-access-policy/${CLUSTER_ADMIN_ACCESS_POLICY}`;
const { principalArn } = APPLIER_CREDENTIALS;

/**
 * The stack's RBAC applier (lambda/rbac/handler.ts) through its custom resource requests, against the
 * real API server: the local EKS endpoint keeps the applier's access entry, and the token webhook
 * authenticates the applier only while that entry exists (system:masters with the cluster admin
 * policy), as EKS does.
 */
describe('the RBAC applier', () => {
  const aws = localAws();
  const cloudFormation = new LocalCustomResourceResponses();
  const admin = new KubeHttp(kubeConfigFor(inject('cluster'), 'admin'), DEFAULT_REQUEST_TIMEOUTS);
  /** Every access change the webhook was told of, in order. */
  const accessLog: string[] = [];
  /** How long EKS takes to put an access change into effect (the webhook hears of it this much later). */
  let propagationMs = 0;

  beforeAll(async () => {
    await cloudFormation.start();
    registerCluster(aws);
    aws.onAccessChange = async (_cluster, entry) => {
      const groups =
        'deleted' in entry ? null : entry.policies.includes(POLICY_ARN) ? ['system:masters'] : [];
      accessLog.push(`${'deleted' in entry ? 'deleted' : `policies ${entry.policies.length}`}`);
      const tell = () =>
        fetch(`${inject('tokenWebhook')}/access`, {
          method: 'POST',
          body: JSON.stringify({ principalArn: entry.principalArn, groups }),
        });
      // a grant takes a while on EKS; a removal is what the test checks at once
      if (groups && propagationMs > 0) setTimeout(() => void tell(), propagationMs);
      else await tell();
    };
  });

  afterAll(async () => {
    // the other files run on the RBAC the cluster started with: the files, applied as admin
    await waitForNamespaceGone();
    const asAdmin = new KubeManifests(admin);
    for (const manifest of drainerManifests('delete')) {
      if (await asAdmin.served(manifest.apiVersion)) await asAdmin.apply(manifest);
    }
    await cloudFormation.stop();
  });

  const manifests = (policy: DeadlinePolicy = 'delete') => JSON.stringify(drainerManifests(policy));

  async function request(
    requestType: 'Create' | 'Update' | 'Delete',
    properties: Record<string, unknown> = { Manifests: manifests() },
    oldProperties?: Record<string, unknown>,
  ): Promise<{ summary: RbacSummary; status: string; reason?: string }> {
    vi.resetModules();
    const env = {
      ...aws.env(),
      AWS_ACCESS_KEY_ID: APPLIER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: APPLIER_CREDENTIALS.secretAccessKey,
      CLUSTER_NAME: E2E_CLUSTER_NAME,
      LOG_LEVEL: 'error',
    };
    for (const [key, value] of Object.entries(env)) vi.stubEnv(key, value);
    const { handler } = await import('../../lambda/rbac/handler.js');
    const requestId = randomUUID();
    const summary = await handler({
      RequestType: requestType,
      ResponseURL: cloudFormation.responseUrl(requestId),
      StackId: 'arn:aws:cloudformation:us-east-1:000000000000:stack/EksNodeDrainer-e2e/1',
      RequestId: requestId,
      LogicalResourceId: 'NodeDrainerRbacResource',
      ...(requestType !== 'Create' && { PhysicalResourceId: `eks-node-drainer-rbac-${E2E_CLUSTER_NAME}` }),
      ResourceProperties: {
        ServiceToken: 'arn',
        PrincipalArn: principalArn,
        PolicyArn: POLICY_ARN,
        ...properties,
      },
      ...(oldProperties && { OldResourceProperties: { ServiceToken: 'arn', ...oldProperties } }),
    });
    const answer = cloudFormation.responses.find((r) => r.body.RequestId === requestId)?.body;
    return {
      summary,
      status: answer?.Status ?? 'no answer',
      ...(answer?.Reason && { reason: answer.Reason }),
    };
  }

  async function read(manifest: Manifest): Promise<Record<string, unknown> | undefined> {
    try {
      return await admin.getJson<Record<string, unknown>>(objectPath(manifest));
    } catch (error) {
      if ((error as { code?: number }).code === 404) return undefined;
      throw error;
    }
  }

  async function served(manifest: Manifest): Promise<boolean> {
    return new KubeManifests(admin).served(manifest.apiVersion);
  }

  async function waitForNamespaceGone(): Promise<void> {
    const namespace = drainerManifests('delete').find((m) => m.kind === 'Namespace') as Manifest;
    for (let i = 0; i < 120 && (await read(namespace))?.metadata; i++) {
      if (!(await read(namespace))) return;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  it('Create applies every object as the files say, holding cluster admin only meanwhile', async () => {
    // a clean cluster: what global setup applied is removed first
    const asAdmin = new KubeManifests(admin);
    for (const manifest of [...drainerManifests('delete')].reverse()) await asAdmin.remove(manifest);
    await waitForNamespaceGone();
    accessLog.length = 0;
    propagationMs = 1_500;

    const { summary, status } = await request('Create');

    expect(status).toBe('SUCCESS');
    for (const manifest of drainerManifests('delete')) {
      const object = await read(manifest);
      if (!(await served(manifest))) {
        expect(object).toBeUndefined();
        continue;
      }
      const { apiVersion, kind, metadata, ...content } = manifest;
      expect(object, `${kind} ${metadata.name}`).toMatchObject({
        ...content,
        metadata: { labels: (metadata as { labels?: unknown }).labels },
      });
    }
    expect(summary.report?.created.length).toBe(
      (await Promise.all(drainerManifests('delete').map(served))).filter(Boolean).length,
    );
    // the entry was made, given the policy, and removed again
    expect(accessLog).toEqual(['policies 0', 'policies 1', 'deleted']);
    expect(aws.accessEntries.entry(E2E_CLUSTER_NAME, principalArn)).toBeUndefined();
  });

  it('answers a second deploy with the same objects unchanged', async () => {
    const before = await Promise.all(drainerManifests('delete').map(read));

    const { summary, status } = await request(
      'Update',
      { Manifests: manifests() },
      { Manifests: manifests() },
    );

    expect(status).toBe('SUCCESS');
    expect(summary.report?.created).toEqual([]);
    expect(summary.report?.changed).toEqual([]);
    expect(summary.report?.deleted).toEqual([]);
    const after = await Promise.all(drainerManifests('delete').map(read));
    expect(
      after.map((o) => (o?.metadata as { resourceVersion?: string } | undefined)?.resourceVersion),
    ).toEqual(before.map((o) => (o?.metadata as { resourceVersion?: string } | undefined)?.resourceVersion));
  });

  it('removes what a changed policy no longer needs, and puts it back', async () => {
    const deletePods = drainerManifests('delete').filter(
      (m) => m.metadata.name === 'eks-node-drainer-delete-pods',
    );

    const narrowed = await request(
      'Update',
      { Manifests: manifests('continue') },
      { Manifests: manifests() },
    );

    expect(narrowed.status).toBe('SUCCESS');
    expect(narrowed.summary.report?.deleted.sort()).toEqual([
      'ClusterRole eks-node-drainer-delete-pods',
      'ClusterRoleBinding eks-node-drainer-delete-pods',
    ]);
    for (const manifest of deletePods) expect(await read(manifest)).toBeUndefined();

    const widened = await request('Update', { Manifests: manifests() }, { Manifests: manifests('continue') });
    expect(widened.summary.report?.created.sort()).toEqual([
      'ClusterRole eks-node-drainer-delete-pods',
      'ClusterRoleBinding eks-node-drainer-delete-pods',
    ]);
  });

  it('takes over the entry an interrupted request left behind, and still removes it', async () => {
    // a request that died between its grant and its revoke left the entry, with the policy
    await aws.accessEntries.answer('CreateAccessEntry', `/clusters/${E2E_CLUSTER_NAME}/access-entries`, {
      principalArn,
    });
    accessLog.length = 0;

    const { status } = await request('Update', { Manifests: manifests() }, { Manifests: manifests() });

    expect(status).toBe('SUCCESS');
    expect(accessLog).toEqual(['policies 1', 'deleted']);
    expect(aws.accessEntries.entry(E2E_CLUSTER_NAME, principalArn)).toBeUndefined();
  });

  it('fails with the way out on a cluster in CONFIG_MAP mode, and applies nothing', async () => {
    aws.accessEntries.configMapOnly.add(E2E_CLUSTER_NAME);
    try {
      const { status, reason } = await request(
        'Update',
        { Manifests: manifests() },
        { Manifests: manifests() },
      );

      expect(status).toBe('FAILED');
      expect(reason).toMatch(/CONFIG_MAP authentication mode needs applyRbac: false/);
    } finally {
      aws.accessEntries.configMapOnly.delete(E2E_CLUSTER_NAME);
    }
  });

  it('removes its access entry even when the server refuses an object', async () => {
    const refused = [
      ...drainerManifests('delete'),
      // a Role in a namespace that does not exist: the server answers 404
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name: 'nowhere', namespace: 'no-such-namespace-e2e' },
        rules: [],
      },
    ];
    accessLog.length = 0;

    const { status, reason } = await request(
      'Update',
      { Manifests: JSON.stringify(refused) },
      { Manifests: manifests() },
    );

    expect(status).toBe('FAILED');
    expect(reason).toBe(
      'Role no-such-namespace-e2e/nowhere: HTTP 404: namespaces "no-such-namespace-e2e" not found',
    );
    expect(accessLog.at(-1)).toBe('deleted');
    expect(aws.accessEntries.entry(E2E_CLUSTER_NAME, principalArn)).toBeUndefined();
  });

  it('Delete removes every object, and succeeds again once the cluster is gone', async () => {
    const { summary, status } = await request('Delete');

    expect(status).toBe('SUCCESS');
    expect(summary.outcome).toBe('removed');
    for (const manifest of drainerManifests('delete')) {
      const object = await read(manifest);
      // the namespace may still be finishing its deletion
      if (manifest.kind === 'Namespace') expect(object?.metadata).toHaveProperty('deletionTimestamp');
      else expect(object, `${manifest.kind} ${manifest.metadata.name}`).toBeUndefined();
    }

    const cluster = aws.clusters.get(E2E_CLUSTER_NAME);
    aws.clusters.delete(E2E_CLUSTER_NAME);
    try {
      const gone = await request('Delete');
      expect(gone.status).toBe('SUCCESS');
      expect(gone.summary.report?.skipped).toEqual(['the cluster no longer exists']);
    } finally {
      if (cluster) aws.clusters.set(E2E_CLUSTER_NAME, cluster);
    }
  });
});
