import { existsSync, readFileSync } from 'node:fs';
import { loadAllYaml } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import {
  DELETE_PODS_RULES,
  DRAINER_RULES,
  drainerRules,
  permissionsOf,
  resourceName,
} from '../../lambda/check/permissions.js';
import { DEADLINE_POLICIES, KUBERNETES_GROUP, rbacApplyCommand } from '../../lambda/contract.js';

type Doc = {
  kind: string;
  metadata: { name: string };
  rules?: unknown[];
  roleRef?: { kind: string; name: string };
  subjects?: { kind: string; name: string }[];
};

const REPO = new URL('../../', import.meta.url);
const docsOf = (file: string): Doc[] => loadAllYaml(readFileSync(new URL(file, REPO), 'utf8')) as Doc[];
const roleOf = (file: string): Doc | undefined => docsOf(file).find((doc) => doc.kind === 'ClusterRole');

describe('DRAINER_RULES', () => {
  it('are exactly the rules of the ClusterRole in infra/k8s/rbac.yaml', () => {
    expect(roleOf('infra/k8s/rbac.yaml')?.rules).toEqual(DRAINER_RULES);
  });

  it('hold no pods delete: rbac.yaml is what every deadline policy needs', () => {
    expect(permissionsOf(DRAINER_RULES)).not.toContainEqual({ group: '', resource: 'pods', verb: 'delete' });
  });
});

describe('DELETE_PODS_RULES', () => {
  it('are exactly the rules of the ClusterRole in infra/k8s/rbac-delete-pods.yaml', () => {
    expect(roleOf('infra/k8s/rbac-delete-pods.yaml')?.rules).toEqual(DELETE_PODS_RULES);
  });

  it('are bound to the drainer group by a binding of the same name, labelled like rbac.yaml', () => {
    const docs = docsOf('infra/k8s/rbac-delete-pods.yaml');

    expect(docs.map((d) => [d.kind, d.metadata.name])).toEqual([
      ['ClusterRole', 'eks-node-drainer-delete-pods'],
      ['ClusterRoleBinding', 'eks-node-drainer-delete-pods'],
    ]);
    const binding = docs[1];
    expect(binding?.roleRef).toMatchObject({ kind: 'ClusterRole', name: 'eks-node-drainer-delete-pods' });
    expect(binding?.subjects).toEqual([
      { apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: KUBERNETES_GROUP },
    ]);
    const clusterWide = docsOf('infra/k8s/rbac.yaml').filter((d) => d.kind.startsWith('Cluster'));
    expect(docs.map((d) => d.metadata)).toEqual(
      clusterWide.map((d) => ({ ...d.metadata, name: 'eks-node-drainer-delete-pods' })),
    );
  });
});

describe('drainerRules', () => {
  it('asks pods delete of the delete policy only: it alone deletes pods, at the deadline', () => {
    const podsDelete = { group: '', resource: 'pods', verb: 'delete' };

    expect(permissionsOf(drainerRules('delete'))).toContainEqual(podsDelete);
    expect(permissionsOf(drainerRules('continue'))).not.toContainEqual(podsDelete);
    expect(permissionsOf(drainerRules('abandon'))).not.toContainEqual(podsDelete);
    expect(drainerRules('continue')).toEqual(DRAINER_RULES);
    expect(drainerRules('delete')).toEqual([...DRAINER_RULES, ...DELETE_PODS_RULES]);
  });

  it.each(DEADLINE_POLICIES)('are exactly the rules the apply command of %s applies', (policy) => {
    const command = rbacApplyCommand(policy);
    const files = [...command.matchAll(/-f (\S+)/g)].map((m) => m[1] as string);

    expect(command).toMatch(/^kubectl apply( -f \S+)+$/);
    expect(files.every((file) => existsSync(new URL(file, REPO)))).toBe(true);
    expect(files.flatMap((file) => roleOf(file)?.rules ?? [])).toEqual(drainerRules(policy));
  });
});

describe('rbacApplyCommand', () => {
  it('applies both files for delete, rbac.yaml alone for continue and abandon', () => {
    expect(rbacApplyCommand('delete')).toBe(
      'kubectl apply -f infra/k8s/rbac.yaml -f infra/k8s/rbac-delete-pods.yaml',
    );
    expect(rbacApplyCommand('continue')).toBe('kubectl apply -f infra/k8s/rbac.yaml');
    expect(rbacApplyCommand('abandon')).toBe('kubectl apply -f infra/k8s/rbac.yaml');
  });
});

describe('permissionsOf', () => {
  it('gives one permission per verb, resource and group, splitting subresources', () => {
    const permissions = permissionsOf(drainerRules('delete'));

    expect(permissions).toHaveLength(16);
    expect(permissions).toContainEqual({
      group: '',
      resource: 'pods',
      subresource: 'eviction',
      verb: 'create',
    });
    expect(permissions).toContainEqual({ group: 'policy', resource: 'poddisruptionbudgets', verb: 'watch' });
  });
});

describe('resourceName', () => {
  it('names a resource as kubectl does', () => {
    expect(resourceName({ group: '', resource: 'pods', subresource: 'eviction' })).toBe('pods/eviction');
    expect(resourceName({ group: 'storage.k8s.io', resource: 'volumeattachments' })).toBe(
      'volumeattachments.storage.k8s.io',
    );
  });
});
