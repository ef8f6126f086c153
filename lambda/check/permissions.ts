/**
 * What the drain needs from Kubernetes: the rules of `infra/k8s/rbac.yaml` (every deadline policy) and
 * of `infra/k8s/rbac-delete-pods.yaml` (`ON_DRAIN_TIMEOUT=delete` only), as data. The check asks one
 * SelfSubjectAccessReview per verb and resource of the rules its policy needs; test/check/permissions.test.ts
 * proves that each file's ClusterRole holds exactly its rules (so the files and the check cannot drift).
 */
import type { DeadlinePolicy } from '../contract.js';

export interface PolicyRule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
}

/** The drainer's ClusterRole rules, in the order of rbac.yaml: what every deadline policy needs. */
export const DRAINER_RULES: readonly PolicyRule[] = [
  { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'patch'] },
  { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: [''], resources: ['pods/eviction'], verbs: ['create'] },
  { apiGroups: ['policy'], resources: ['poddisruptionbudgets'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: ['storage.k8s.io'], resources: ['volumeattachments'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
];

/** The rules of rbac-delete-pods.yaml: `ON_DRAIN_TIMEOUT=delete` deletes the pods still blocked at the deadline. */
export const DELETE_PODS_RULES: readonly PolicyRule[] = [
  { apiGroups: [''], resources: ['pods'], verbs: ['delete'] },
];

/** The rules a function with this deadline policy needs: only `delete` may delete pods. */
export function drainerRules(policy: DeadlinePolicy): readonly PolicyRule[] {
  return policy === 'delete' ? [...DRAINER_RULES, ...DELETE_PODS_RULES] : DRAINER_RULES;
}

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
