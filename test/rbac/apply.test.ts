import { ApiException } from '@kubernetes/client-node/dist/gen/apis/exception.js';
import { describe, expect, it } from 'vitest';
import type { Logger } from '../../lambda/drain/ports.js';
import {
  applyRbac,
  type ClusterAccessPort,
  type ManifestApiPort,
  type RbacDeps,
} from '../../lambda/rbac/apply.js';
import type { Manifest } from '../../lambda/rbac/manifests.js';
import { VirtualClock } from '../support/fakes.js';

const role = (name: string): Manifest => ({
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'ClusterRole',
  metadata: { name },
  rules: [],
});
const level: Manifest = {
  apiVersion: 'flowcontrol.apiserver.k8s.io/v1',
  kind: 'PriorityLevelConfiguration',
  metadata: { name: 'p' },
};

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Records the order of access changes and calls; `refuse` answers the first calls 401. */
function setup(
  options: { refuse?: number; failApply?: string; failRevoke?: boolean; noCluster?: boolean } = {},
) {
  const log: string[] = [];
  let refusals = options.refuse ?? 0;
  const access: ClusterAccessPort = {
    grant: async () => {
      log.push('grant');
      return options.noCluster ? 'no-cluster' : 'granted';
    },
    revoke: async () => {
      log.push('revoke');
      if (options.failRevoke) throw new Error('AccessDenied');
    },
  };
  const refusedYet = () => {
    if (refusals > 0) {
      refusals--;
      throw new ApiException(401, 'Unauthorized', '{}', {});
    }
  };
  const api: ManifestApiPort = {
    served: async (apiVersion) => {
      refusedYet();
      return !apiVersion.startsWith('flowcontrol');
    },
    apply: async (m) => {
      if (m.metadata.name === options.failApply)
        throw new ApiException(422, 'Unprocessable', '{"message":"bad rule"}', {});
      log.push(`apply ${m.metadata.name}`);
      return 'created';
    },
    remove: async (m) => {
      log.push(`remove ${m.metadata.name}`);
      return 'deleted';
    },
  };
  const clock = new VirtualClock();
  const deps: RbacDeps = { access, api: async () => api, clock, log: quiet, accessWaitMs: 90_000 };
  return { deps, log, clock };
}

describe('applyRbac', () => {
  it('holds access only around the calls, and removes what the new objects no longer hold', async () => {
    const { deps, log } = setup();

    const report = await applyRbac(deps, {
      action: 'apply',
      manifests: [role('a'), level],
      before: [role('a'), role('b')],
    });

    expect(log).toEqual(['grant', 'apply a', 'remove b', 'revoke']);
    expect(report).toMatchObject({
      created: ['ClusterRole a'],
      deleted: ['ClusterRole b'],
      skipped: ['PriorityLevelConfiguration p: flowcontrol.apiserver.k8s.io/v1 not served'],
    });
  });

  it('removes every object in reverse order on Delete', async () => {
    const { deps, log } = setup();

    await applyRbac(deps, { action: 'remove', manifests: [role('a'), role('b')] });

    expect(log).toEqual(['grant', 'remove b', 'remove a', 'revoke']);
  });

  it('waits while the new access entry is not in effect yet', async () => {
    const { deps, log, clock } = setup({ refuse: 3 });

    await applyRbac(deps, { action: 'apply', manifests: [role('a')], before: [] });

    expect(log).toEqual(['grant', 'apply a', 'revoke']);
    expect(clock.sleeps).toEqual([500, 1_000, 2_000]);
  });

  it('fails when access never takes effect, and still removes the entry', async () => {
    const { deps, log } = setup({ refuse: 1_000 });

    await expect(applyRbac(deps, { action: 'apply', manifests: [role('a')], before: [] })).rejects.toThrow(
      /^ClusterRole a: HTTP 401/,
    );
    expect(log).toEqual(['grant', 'revoke']);
  });

  it('fails naming the object the server refused, and still removes the entry', async () => {
    const { deps, log } = setup({ failApply: 'b' });

    await expect(
      applyRbac(deps, { action: 'apply', manifests: [role('a'), role('b'), role('c')], before: [] }),
    ).rejects.toThrow('ClusterRole b: HTTP 422: bad rule');
    expect(log).toEqual(['grant', 'apply a', 'revoke']);
  });

  it('fails saying so when the entry cannot be removed', async () => {
    const { deps } = setup({ failRevoke: true });

    await expect(applyRbac(deps, { action: 'remove', manifests: [role('a')] })).rejects.toThrow(
      "the applier's access entry could not be removed: AccessDenied",
    );
  });

  it('has nothing to remove from a cluster that is gone, and fails to apply to one', async () => {
    const { deps, log } = setup({ noCluster: true });

    expect(await applyRbac(deps, { action: 'remove', manifests: [role('a')] })).toMatchObject({
      skipped: ['the cluster no longer exists'],
    });
    await expect(applyRbac(deps, { action: 'apply', manifests: [role('a')], before: [] })).rejects.toThrow(
      'the EKS cluster does not exist',
    );
    expect(log).toEqual(['grant', 'grant']);
  });
});
