/**
 * What the drain needs from Kubernetes: the rules of `infra/k8s/rbac.yaml`, as data. The check asks
 * one SelfSubjectAccessReview per verb and resource of these rules; test/check/permissions.test.ts
 * proves that rbac.yaml's ClusterRole holds exactly these rules (so the file and the check cannot drift).
 */

export interface PolicyRule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
}

/** The drainer's ClusterRole rules, in the order of rbac.yaml. */
export const DRAINER_RULES: readonly PolicyRule[] = [
  { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'patch'] },
  { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch', 'delete'] },
  { apiGroups: [''], resources: ['pods/eviction'], verbs: ['create'] },
  { apiGroups: ['policy'], resources: ['poddisruptionbudgets'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: ['storage.k8s.io'], resources: ['volumeattachments'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
];

/** One verb on one resource (and subresource) of one API group: what a SelfSubjectAccessReview asks. */
export interface Permission {
  readonly group: string;
  readonly resource: string;
  readonly subresource?: string;
  readonly verb: string;
}

export function permissionsOf(rules: readonly PolicyRule[]): Permission[] {
  return rules.flatMap((rule) =>
    rule.apiGroups.flatMap((group) =>
      rule.resources.flatMap((full) => {
        const [resource = full, subresource] = full.split('/');
        return rule.verbs.map((verb) => ({ group, resource, ...(subresource ? { subresource } : {}), verb }));
      }),
    ),
  );
}

/** `pods/eviction`, `poddisruptionbudgets.policy`: how kubectl names a resource. */
export function resourceName(p: Pick<Permission, 'group' | 'resource' | 'subresource'>): string {
  const name = p.subresource ? `${p.resource}/${p.subresource}` : p.resource;
  return p.group ? `${name}.${p.group}` : name;
}
