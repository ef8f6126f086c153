/**
 * What the drain needs from Kubernetes: the rules of `infra/k8s/rbac.yaml` (every deadline policy: its
 * ClusterRole, and its Role for the tickets in the drainer's namespace) and of
 * `infra/k8s/rbac-delete-pods.yaml` (`ON_DRAIN_TIMEOUT=delete` only), as data. The check asks one
 * SelfSubjectAccessReview per verb and resource of the rules its policy needs (in the Role's namespace
 * for the Role's); test/check/permissions.test.ts proves that each file's roles hold exactly their
 * rules (so the files and the check cannot drift).
 */
import { type DeadlinePolicy, DRAINER_NAMESPACE } from '../contract.js';

export interface PolicyRule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
  /** A Role's rule: granted in this namespace only. */
  readonly namespace?: string;
  /** The drain works without it, in a lesser way (this says how): missing is a warning, not a failure. */
  readonly optional?: string;
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

/** The Role of rbac.yaml in the drainer's namespace: the tickets with which drains sharing PDBs take turns. */
export const TURNS_RULES: readonly PolicyRule[] = [
  {
    apiGroups: ['coordination.k8s.io'],
    resources: ['leases'],
    verbs: ['get', 'list', 'watch', 'create', 'patch', 'delete'],
    namespace: DRAINER_NAMESPACE,
    optional: 'drains that share a PDB will not take turns (each races for its disruptions, uncoordinated)',
  },
];

/** The rules a function with this deadline policy needs: only `delete` may delete pods. */
export function drainerRules(policy: DeadlinePolicy): readonly PolicyRule[] {
  return [...DRAINER_RULES, ...(policy === 'delete' ? DELETE_PODS_RULES : []), ...TURNS_RULES];
}

/** One verb on one resource (and subresource) of one API group: what a SelfSubjectAccessReview asks. */
export interface Permission {
  readonly group: string;
  readonly resource: string;
  readonly subresource?: string;
  readonly verb: string;
  /** Asked in this namespace (a Role's); absent: cluster-wide. */
  readonly namespace?: string;
}

export function permissionsOf(rules: readonly PolicyRule[]): Permission[] {
  return rules.flatMap((rule) =>
    rule.apiGroups.flatMap((group) =>
      rule.resources.flatMap((full) => {
        const [resource = full, subresource] = full.split('/');
        return rule.verbs.map((verb) => ({
          group,
          resource,
          ...(subresource ? { subresource } : {}),
          verb,
          ...(rule.namespace ? { namespace: rule.namespace } : {}),
        }));
      }),
    ),
  );
}

/** `pods/eviction`, `poddisruptionbudgets.policy`: how kubectl names a resource. */
export function resourceName(p: Pick<Permission, 'group' | 'resource' | 'subresource'>): string {
  const name = p.subresource ? `${p.resource}/${p.subresource}` : p.resource;
  return p.group ? `${name}.${p.group}` : name;
}
