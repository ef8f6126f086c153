import { readFileSync } from 'node:fs';
import { loadAllYaml } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { DRAINER_RULES, permissionsOf, resourceName } from '../../lambda/check/permissions.js';

describe('DRAINER_RULES', () => {
  it('are exactly the rules of the ClusterRole in infra/k8s/rbac.yaml', () => {
    const docs = loadAllYaml(readFileSync(new URL('../../infra/k8s/rbac.yaml', import.meta.url), 'utf8')) as {
      kind: string;
      rules?: unknown;
    }[];
    const role = docs.find((doc) => doc.kind === 'ClusterRole');

    expect(role?.rules).toEqual(DRAINER_RULES);
  });
});

describe('permissionsOf', () => {
  it('gives one permission per verb, resource and group, splitting subresources', () => {
    const permissions = permissionsOf(DRAINER_RULES);

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
