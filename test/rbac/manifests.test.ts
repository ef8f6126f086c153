import { describe, expect, it } from 'vitest';
import { drainerManifests } from '../../infra/rbac.js';
import { leftBehind, objectPath, parseManifests } from '../../lambda/rbac/manifests.js';

describe('parseManifests', () => {
  it('takes the objects of every file the stack applies', () => {
    const all = drainerManifests('delete');

    expect(parseManifests(JSON.stringify(all))).toEqual(all);
  });

  it.each([
    ['not JSON text', 42, 'Manifests must be a JSON array of objects'],
    ['an object', '{}', 'Manifests must be a JSON array of objects'],
    [
      'a kind it does not apply',
      '[{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s","namespace":"n"}}]',
      'Manifests[0]: kind Secret is not one the drainer applies',
    ],
    [
      'a Role without namespace',
      '[{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"r"}}]',
      'Manifests[0] (Role r) needs metadata.namespace',
    ],
    [
      'a ClusterRole with one',
      '[{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"r","namespace":"n"}}]',
      'Manifests[0] (ClusterRole r) takes no metadata.namespace',
    ],
    [
      'no name',
      '[{"apiVersion":"v1","kind":"Namespace","metadata":{}}]',
      'Manifests[0] (Namespace) has no metadata.name',
    ],
  ])('refuses %s', (_, json, message) => {
    expect(() => parseManifests(json)).toThrow(message);
  });
});

describe('objectPath', () => {
  it('puts core objects under /api and the others under their group', () => {
    const [namespace, role] = parseManifests(
      JSON.stringify([
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ns' } },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'Role',
          metadata: { name: 'r', namespace: 'ns' },
        },
      ]),
    );

    expect(objectPath(namespace as never)).toBe('/api/v1/namespaces/ns');
    expect(objectPath(role as never)).toBe('/apis/rbac.authorization.k8s.io/v1/namespaces/ns/roles/r');
  });
});

describe('leftBehind', () => {
  it('is what the objects before held and the objects now do not, by kind, namespace and name', () => {
    expect(
      leftBehind(drainerManifests('delete'), drainerManifests('continue')).map(
        (m) => `${m.kind} ${m.metadata.name}`,
      ),
    ).toEqual([
      'ClusterRole eks-node-drainer-delete-pods',
      'ClusterRoleBinding eks-node-drainer-delete-pods',
    ]);
    expect(leftBehind(drainerManifests('continue'), drainerManifests('delete'))).toEqual([]);
  });
});
