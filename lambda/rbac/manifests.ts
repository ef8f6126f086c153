/**
 * The Kubernetes objects the stack applies for the drainer (infra/k8s/*.yaml, handed over as JSON in
 * the custom resource's properties): where each one lives in the API, and which objects an update
 * leaves behind. Only the kinds those files hold are known; any other is refused before a call.
 */

export interface Manifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string };
  readonly [field: string]: unknown;
}

/** Each kind's resource name and whether it lives in a namespace. */
const KINDS: Readonly<Record<string, { readonly resource: string; readonly namespaced: boolean }>> = {
  Namespace: { resource: 'namespaces', namespaced: false },
  ClusterRole: { resource: 'clusterroles', namespaced: false },
  ClusterRoleBinding: { resource: 'clusterrolebindings', namespaced: false },
  Role: { resource: 'roles', namespaced: true },
  RoleBinding: { resource: 'rolebindings', namespaced: true },
  FlowSchema: { resource: 'flowschemas', namespaced: false },
  PriorityLevelConfiguration: { resource: 'prioritylevelconfigurations', namespaced: false },
};

/** The manifests of a `Manifests` property (a JSON array), each checked; throws what is wrong. */
export function parseManifests(json: unknown, property = 'Manifests'): Manifest[] {
  if (typeof json !== 'string') throw new Error(`${property} must be a JSON array of objects`);
  const parsed: unknown = JSON.parse(json);
  if (!Array.isArray(parsed)) throw new Error(`${property} must be a JSON array of objects`);
  return parsed.map((object, index) => checked(object, `${property}[${index}]`));
}

function checked(object: unknown, where: string): Manifest {
  const o = object as Partial<Manifest> | null;
  if (typeof o !== 'object' || o === null) throw new Error(`${where} is not an object`);
  if (typeof o.apiVersion !== 'string' || typeof o.kind !== 'string') {
    throw new Error(`${where} has no apiVersion or kind`);
  }
  const kind = KINDS[o.kind];
  if (!kind) throw new Error(`${where}: kind ${o.kind} is not one the drainer applies`);
  const name = o.metadata?.name;
  if (typeof name !== 'string' || name === '') throw new Error(`${where} (${o.kind}) has no metadata.name`);
  if (kind.namespaced !== (typeof o.metadata?.namespace === 'string')) {
    throw new Error(
      `${where} (${o.kind} ${name}) ${kind.namespaced ? 'needs' : 'takes no'} metadata.namespace`,
    );
  }
  return o as Manifest;
}

/** `/api/v1` for the core group, `/apis/<group>/<version>` otherwise. */
export function groupVersionPath(apiVersion: string): string {
  return apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
}

/** The object's path in the API: `<group version>/[namespaces/<ns>/]<resource>/<name>`. */
export function objectPath(manifest: Manifest): string {
  const kind = KINDS[manifest.kind];
  if (!kind) throw new Error(`kind ${manifest.kind} is not one the drainer applies`);
  const { name, namespace } = manifest.metadata;
  const scope = namespace === undefined ? '' : `/namespaces/${encodeURIComponent(namespace)}`;
  return `${groupVersionPath(manifest.apiVersion)}${scope}/${kind.resource}/${encodeURIComponent(name)}`;
}

/** `Kind namespace/name`, for logs and answers. */
export function describe(manifest: Manifest): string {
  const { name, namespace } = manifest.metadata;
  return `${manifest.kind} ${namespace ? `${namespace}/` : ''}${name}`;
}

/** Objects of `before` that `after` no longer holds (same kind, namespace and name), to delete. */
export function leftBehind(before: readonly Manifest[], after: readonly Manifest[]): Manifest[] {
  const kept = new Set(after.map(identity));
  return before.filter((m) => !kept.has(identity(m)));
}

const identity = (m: Manifest): string =>
  `${m.apiVersion.split('/').length > 1 ? m.apiVersion.split('/')[0] : ''}|${m.kind}|${m.metadata.namespace ?? ''}|${m.metadata.name}`;
