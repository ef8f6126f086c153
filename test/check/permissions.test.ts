import { existsSync, readFileSync } from 'node:fs';
import { loadAllYaml } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import {
  DELETE_PODS_RULES,
  DRAINER_RULES,
  drainerRules,
  type PolicyRule,
  permissionsOf,
  resourceName,
  TURNS_RULES,
} from '../../lambda/check/permissions.js';
import {
  DEADLINE_POLICIES,
  DRAINER_NAMESPACE,
  KUBERNETES_GROUP,
  RBAC_FILE,
  rbacApplyCommand,
} from '../../lambda/contract.js';

type Doc = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  rules?: PolicyRule[];
  roleRef?: { apiGroup: string; kind: string; name: string };
  subjects?: { apiGroup?: string; kind: string; name: string }[];
};

const REPO = new URL('../../', import.meta.url);
const docsOf = (file: string): Doc[] => loadAllYaml(readFileSync(new URL(file, REPO), 'utf8')) as Doc[];
const roleOf = (file: string): Doc | undefined => docsOf(file).find((doc) => doc.kind === 'ClusterRole');
/** Every rule a file grants, a Role's with its namespace (as PolicyRule says it). */
const rulesOf = (file: string): PolicyRule[] =>
  docsOf(file).flatMap((doc) =>
    doc.kind === 'ClusterRole'
      ? (doc.rules ?? [])
      : doc.kind === 'Role'
        ? (doc.rules ?? []).map((rule) => ({ ...rule, namespace: doc.metadata.namespace as string }))
        : [],
  );
/** The rules as RBAC holds them: `optional` is the check's own word, no field of a role. */
const granted = (rules: readonly PolicyRule[]): PolicyRule[] =>
  rules.map(({ optional: _, ...rule }) => ({ ...rule }));

describe('DRAINER_RULES', () => {
  it('are exactly the rules of the ClusterRole in infra/k8s/rbac.yaml', () => {
    expect(roleOf('infra/k8s/rbac.yaml')?.rules).toEqual(DRAINER_RULES);
  });

  it('hold no pods delete: rbac.yaml is what every deadline policy needs', () => {
    expect(permissionsOf(DRAINER_RULES)).not.toContainEqual({ group: '', resource: 'pods', verb: 'delete' });
  });
});

describe('TURNS_RULES', () => {
  const docs = docsOf(RBAC_FILE);
  const at = (kind: string) => docs.findIndex((d) => d.kind === kind);

  it('are exactly the rules of the Role in rbac.yaml, in namespace eks-node-drainer', () => {
    const roles = docs.filter((d) => d.kind === 'Role');

    expect(roles).toHaveLength(1);
    expect(roles[0]?.metadata).toMatchObject({
      name: 'eks-node-drainer-turns',
      namespace: DRAINER_NAMESPACE,
    });
    expect(DRAINER_NAMESPACE).toBe('eks-node-drainer');
    expect(TURNS_RULES.every((rule) => rule.namespace === roles[0]?.metadata.namespace)).toBe(true);
    expect(roles[0]?.rules).toEqual(granted(TURNS_RULES).map(({ namespace: _, ...rule }) => rule));
  });

  it('are bound to group eks-node-drainer by a RoleBinding in the same namespace', () => {
    const bindings = docs.filter((d) => d.kind === 'RoleBinding');

    expect(bindings).toHaveLength(1);
    expect(bindings[0]?.metadata).toMatchObject({
      name: 'eks-node-drainer-turns',
      namespace: DRAINER_NAMESPACE,
    });
    expect(bindings[0]?.roleRef).toEqual({
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'Role',
      name: 'eks-node-drainer-turns',
    });
    expect(bindings[0]?.subjects).toEqual([
      { apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: KUBERNETES_GROUP },
    ]);
  });

  it('live in a Namespace that rbac.yaml creates before its Role and RoleBinding (kubectl applies in order)', () => {
    const namespaces = docs.filter((d) => d.kind === 'Namespace');

    expect(namespaces.map((d) => [d.apiVersion, d.metadata.name])).toEqual([['v1', DRAINER_NAMESPACE]]);
    expect(at('Namespace')).toBeGreaterThanOrEqual(0);
    expect(at('Namespace')).toBeLessThan(at('Role'));
    expect(at('Namespace')).toBeLessThan(at('RoleBinding'));
  });

  it('are optional, saying what is lost, and are no part of the ClusterRoles', () => {
    expect(TURNS_RULES.every((rule) => rule.optional?.includes('will not take turns'))).toBe(true);
    expect([...DRAINER_RULES, ...DELETE_PODS_RULES].some((rule) => rule.optional ?? rule.namespace)).toBe(
      false,
    );
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
    expect(drainerRules('continue')).toEqual([...DRAINER_RULES, ...TURNS_RULES]);
    expect(drainerRules('abandon')).toEqual([...DRAINER_RULES, ...TURNS_RULES]);
    expect(drainerRules('delete')).toEqual([...DRAINER_RULES, ...DELETE_PODS_RULES, ...TURNS_RULES]);
  });

  it.each(DEADLINE_POLICIES)('are exactly the rules the apply command of %s applies', (policy) => {
    const command = rbacApplyCommand(policy);
    const files = [...command.matchAll(/-f (\S+)/g)].map((m) => m[1] as string);

    expect(command).toMatch(/^kubectl apply( -f \S+)+$/);
    expect(files.every((file) => existsSync(new URL(file, REPO)))).toBe(true);
    // across files in any order: each file's own order is proven above
    const sorted = (rules: readonly PolicyRule[]) =>
      rules
        .map((rule) =>
          JSON.stringify(
            Object.entries(rule)
              .filter(([, value]) => value !== undefined)
              .sort(),
          ),
        )
        .sort();
    expect(sorted(files.flatMap(rulesOf))).toEqual(sorted(granted(drainerRules(policy))));
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

    expect(permissions).toHaveLength(22);
    expect(permissions).toContainEqual({
      group: '',
      resource: 'pods',
      subresource: 'eviction',
      verb: 'create',
    });
    expect(permissions).toContainEqual({ group: 'policy', resource: 'poddisruptionbudgets', verb: 'watch' });
  });

  it("asks a Role's permissions in its namespace, and the ClusterRoles' cluster-wide", () => {
    const permissions = permissionsOf(drainerRules('continue'));
    const leases = permissions.filter((p) => p.resource === 'leases');

    expect(leases).toEqual(
      ['get', 'list', 'watch', 'create', 'patch', 'delete'].map((verb) => ({
        group: 'coordination.k8s.io',
        resource: 'leases',
        verb,
        namespace: 'eks-node-drainer',
      })),
    );
    expect(permissions.filter((p) => p.namespace !== undefined)).toEqual(leases);
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
