import { describe, expect, it } from 'vitest';
import { type ClusterCheckPort, runFunctionCheck, SLOW_API_MS } from '../../lambda/check/check.js';
import type { Permission } from '../../lambda/check/permissions.js';
import { worst } from '../../lambda/check/report.js';
import type { DeadlinePolicy } from '../../lambda/contract.js';
import { VirtualClock } from '../support/fakes.js';

const CLUSTER = 'prod';
const GROUP = 'eks-node-drainer';

/** A cluster that allows everything unless told otherwise; `latencyMs` advances the clock on /version. */
function fakeCluster(
  clock: VirtualClock,
  overrides: Partial<ClusterCheckPort> & { latencyMs?: number } = {},
): ClusterCheckPort {
  return {
    version: async () => {
      clock.t += overrides.latencyMs ?? 12;
      return 'v1.32.0';
    },
    whoAmI: async () => ({
      via: 'SelfSubjectReview',
      username: 'drainer',
      groups: [GROUP, 'system:authenticated'],
    }),
    canI: async () => ({ allowed: true }),
    evictionVersion: async () => 'v1',
    ...overrides,
  };
}

function run(
  cluster: ClusterCheckPort,
  clock: VirtualClock,
  describeCluster = async () => ({ endpoint: 'https://k8s' }),
  onDrainTimeout?: DeadlinePolicy,
) {
  return runFunctionCheck(CLUSTER, {
    describeCluster,
    connect: () => cluster,
    clock,
    kubernetesGroup: GROUP,
    ...(onDrainTimeout ? { onDrainTimeout } : {}),
  });
}

const TWO_FILES = 'kubectl apply -f infra/k8s/rbac.yaml -f infra/k8s/rbac-delete-pods.yaml';
const isPodsDelete = (p: Permission): boolean =>
  p.group === '' && p.resource === 'pods' && !p.subresource && p.verb === 'delete';
const isLeases = (p: Permission): boolean => p.group === 'coordination.k8s.io' && p.resource === 'leases';
const LEASES_VERBS = 'get, list, watch, create, patch, delete';
const NO_TURNS =
  'drains that share a PDB will not take turns (each races for its disruptions, uncoordinated)';

/** A cluster that records the reviews asked and denies `denied` (as RBAC with a grant missing). */
function denying(
  clock: VirtualClock,
  denied: (p: Permission) => boolean,
): { cluster: ClusterCheckPort; asked: Permission[] } {
  const asked: Permission[] = [];
  const cluster = fakeCluster(clock, {
    canI: async (p: Permission) => {
      asked.push(p);
      return denied(p) ? { allowed: false, reason: 'no RBAC policy matched' } : { allowed: true };
    },
  });
  return { cluster, asked };
}

/** A cluster that records the reviews asked and denies pods delete (as with rbac.yaml applied alone). */
function withoutPodsDelete(clock: VirtualClock): { cluster: ClusterCheckPort; asked: Permission[] } {
  return denying(clock, isPodsDelete);
}

describe('runFunctionCheck', () => {
  it('passes every check when the function may do all a drain does', async () => {
    const clock = new VirtualClock();

    const report = await run(fakeCluster(clock), clock);

    expect(report.checks.map((c) => c.status)).toEqual(Array(12).fill('pass'));
    expect(report.checks[1]?.title).toBe('API server v1.32.0 reached in 12 ms');
    expect(report.checks.find((c) => c.id === 'function.permissions.leases')).toEqual({
      id: 'function.permissions.leases',
      status: 'pass',
      title: `may ${LEASES_VERBS} leases.coordination.k8s.io in eks-node-drainer`,
    });
    expect(report.checks[2]?.title).toBe(
      'token accepted as drainer (groups eks-node-drainer, system:authenticated)',
    );
  });

  it('fails DescribeCluster and marks every later check not checked', async () => {
    const clock = new VirtualClock();

    const report = await run(fakeCluster(clock), clock, async () => {
      throw new Error('AccessDeniedException: no');
    });

    expect(report.checks[0]).toMatchObject({ id: 'function.describe-cluster', status: 'fail' });
    expect(report.checks[0]?.fix).toContain('eks:DescribeCluster');
    expect(report.checks).toHaveLength(12);
    expect(report.checks.slice(1).every((c) => c.title === 'not checked: no cluster endpoint')).toBe(true);
    // what the drain can do without is a warning unchecked too; everything else fails
    expect(report.checks.filter((c) => c.status !== 'fail').map((c) => [c.id, c.status])).toEqual([
      ['function.permissions.leases', 'warn'],
      ['function.lost-nodes', 'warn'],
    ]);
  });

  it('warns when the API server answers slower than a second', async () => {
    const clock = new VirtualClock();

    const report = await run(fakeCluster(clock, { latencyMs: SLOW_API_MS + 1 }), clock);

    expect(report.checks[1]).toMatchObject({
      status: 'warn',
      title: `API server v1.32.0 reached, but slowly: ${SLOW_API_MS + 1} ms for /version`,
    });
  });

  it('fails with the network fix when the API server is unreachable', async () => {
    const clock = new VirtualClock();
    const unreachable = fakeCluster(clock, {
      version: async () => {
        throw new Error('connect timeout');
      },
    });

    const report = await run(unreachable, clock);

    expect(report.checks[1]).toMatchObject({
      status: 'fail',
      title: 'API server unreachable from the function: connect timeout',
    });
    expect(report.checks[1]?.fix).toContain('-c vpcId=');
    expect(report.checks.slice(2).every((c) => c.title === 'not checked: API server unreachable')).toBe(true);
  });

  it('fails with the access entry fix when the token is refused', async () => {
    const clock = new VirtualClock();
    const refused = fakeCluster(clock, {
      whoAmI: async () => {
        throw new Error('HTTP 401: Unauthorized');
      },
    });

    const report = await run(refused, clock);

    expect(report.checks[2]).toMatchObject({ id: 'function.identity', status: 'fail' });
    expect(report.checks[2]?.fix).toContain(`aws eks create-access-entry --cluster-name ${CLUSTER}`);
  });

  it('fails when the token maps to a user outside group eks-node-drainer', async () => {
    const clock = new VirtualClock();
    const stranger = fakeCluster(clock, {
      whoAmI: async () => ({ via: 'SelfSubjectReview', username: 'x', groups: ['system:authenticated'] }),
    });

    const report = await run(stranger, clock);

    expect(report.checks[2]).toMatchObject({
      status: 'fail',
      title: 'token accepted as x (groups system:authenticated), but not in group eks-node-drainer',
    });
  });

  it('lists each missing verb with the reason and the fix of the default policy (delete): both files', async () => {
    const clock = new VirtualClock();
    const noEviction = fakeCluster(clock, {
      canI: async (p: Permission) =>
        p.subresource === 'eviction' || (p.resource === 'nodes' && p.verb === 'patch')
          ? { allowed: false, reason: 'no RBAC policy matched' }
          : { allowed: true },
    });

    const report = await run(noEviction, clock);

    const failed = report.checks.filter((c) => c.status === 'fail');
    expect(failed.map((c) => [c.id, c.title])).toEqual([
      ['function.permissions.nodes', 'may not patch nodes'],
      ['function.permissions.pods/eviction', 'may not create pods/eviction'],
    ]);
    expect(failed[0]).toMatchObject({
      details: ['patch: no RBAC policy matched'],
      fix: TWO_FILES,
    });
  });

  it.each(['continue', 'abandon'] as const)(
    'with ON_DRAIN_TIMEOUT=%s, does not ask for pods delete and fixes with rbac.yaml alone',
    async (policy) => {
      const clock = new VirtualClock();
      const { cluster, asked } = withoutPodsDelete(clock);
      const noNodesPatch = fakeCluster(clock, {
        canI: async (p: Permission) =>
          p.resource === 'nodes' && p.verb === 'patch' ? { allowed: false } : { allowed: true },
      });

      const report = await run(cluster, clock, undefined, policy);
      const failing = await run(noNodesPatch, clock, undefined, policy);

      expect(asked).toHaveLength(21);
      expect(asked.some(isPodsDelete)).toBe(false);
      expect(asked.filter(isLeases)).toHaveLength(6);
      expect(report.checks.map((c) => c.status)).toEqual(Array(12).fill('pass'));
      expect(report.checks.find((c) => c.id === 'function.permissions.pods')?.title).toBe(
        'may get, list, watch pods',
      );
      expect(failing.checks.find((c) => c.status === 'fail')).toMatchObject({
        id: 'function.permissions.nodes',
        fix: 'kubectl apply -f infra/k8s/rbac.yaml',
      });
    },
  );

  it('with ON_DRAIN_TIMEOUT=delete, asks for pods delete and names both files as the fix', async () => {
    const clock = new VirtualClock();
    const { cluster, asked } = withoutPodsDelete(clock);

    const report = await run(cluster, clock, undefined, 'delete');

    expect(asked).toHaveLength(22);
    expect(asked.filter(isPodsDelete)).toHaveLength(1);
    expect(report.checks.filter((c) => c.status === 'fail')).toEqual([
      {
        id: 'function.permissions.pods',
        status: 'fail',
        title: 'may not delete pods',
        details: ['delete: no RBAC policy matched'],
        fix: TWO_FILES,
      },
    ]);
  });

  it('without a policy, checks as ON_DRAIN_TIMEOUT=delete, the default', async () => {
    const clock = new VirtualClock();
    const { cluster, asked } = withoutPodsDelete(clock);

    const report = await run(cluster, clock);

    expect(asked.filter(isPodsDelete)).toHaveLength(1);
    expect(report.checks.find((c) => c.status === 'fail')).toMatchObject({
      id: 'function.permissions.pods',
      title: 'may not delete pods',
      fix: TWO_FILES,
    });
  });

  it.each(['delete', 'continue'] as const)(
    'marks each permission line of %s not checked, once, when the cluster is not reached',
    async (policy) => {
      const clock = new VirtualClock();

      const report = await run(
        fakeCluster(clock),
        clock,
        async () => {
          throw new Error('AccessDeniedException: no');
        },
        policy,
      );

      expect(report.checks.map((c) => c.id).filter((id) => id.startsWith('function.permissions.'))).toEqual([
        'function.permissions.nodes',
        'function.permissions.pods',
        'function.permissions.pods/eviction',
        'function.permissions.poddisruptionbudgets',
        'function.permissions.volumeattachments',
        'function.permissions.events',
        'function.permissions.leases',
      ]);
    },
  );

  it('asks every lease verb in namespace eks-node-drainer, and nothing else in a namespace', async () => {
    const clock = new VirtualClock();
    const { cluster, asked } = denying(clock, () => false);

    await run(cluster, clock);

    expect(asked.filter(isLeases)).toEqual(
      LEASES_VERBS.split(', ').map((verb) => ({
        group: 'coordination.k8s.io',
        resource: 'leases',
        verb,
        namespace: 'eks-node-drainer',
      })),
    );
    expect(asked.filter((p) => p.namespace !== undefined)).toEqual(asked.filter(isLeases));
  });

  it.each([
    ['delete', TWO_FILES],
    ['continue', 'kubectl apply -f infra/k8s/rbac.yaml'],
  ] as const)(
    'with ON_DRAIN_TIMEOUT=%s, only warns without the lease grant: drains will not take turns; the fix applies the RBAC',
    async (policy, fix) => {
      const clock = new VirtualClock();
      const { cluster } = denying(clock, isLeases);

      const report = await run(cluster, clock, undefined, policy);

      expect(report.checks.filter((c) => c.status !== 'pass')).toEqual([
        {
          id: 'function.permissions.leases',
          status: 'warn',
          title: `may not ${LEASES_VERBS} leases.coordination.k8s.io in eks-node-drainer: ${NO_TURNS}`,
          details: LEASES_VERBS.split(', ').map((verb) => `${verb}: no RBAC policy matched`),
          fix,
        },
      ]);
      expect(worst(report.checks)).toBe('warn');
    },
  );

  it('warns of a lease verb missing, and still fails what the drain needs', async () => {
    const clock = new VirtualClock();
    const { cluster } = denying(
      clock,
      (p) => (isLeases(p) && p.verb === 'delete') || (p.resource === 'nodes' && p.verb === 'patch'),
    );

    const report = await run(cluster, clock);

    expect(report.checks.filter((c) => c.status !== 'pass').map((c) => [c.id, c.status, c.title])).toEqual([
      ['function.permissions.nodes', 'fail', 'may not patch nodes'],
      [
        'function.permissions.leases',
        'warn',
        `may not delete leases.coordination.k8s.io in eks-node-drainer: ${NO_TURNS}`,
      ],
    ]);
    expect(worst(report.checks)).toBe('fail');
  });

  it('counts a review that fails as not allowed, with why', async () => {
    const clock = new VirtualClock();
    const broken = fakeCluster(clock, {
      canI: async () => {
        throw new Error('HTTP 500: boom');
      },
    });

    const report = await run(broken, clock);

    expect(report.checks.find((c) => c.id === 'function.permissions.events')?.details).toEqual([
      'create: review failed: HTTP 500: boom',
      'patch: review failed: HTTP 500: boom',
    ]);
  });

  it('passes a server that only proves the token (SelfSubjectRulesReview)', async () => {
    const clock = new VirtualClock();
    const old = fakeCluster(clock, {
      whoAmI: async () => ({ via: 'SelfSubjectRulesReview' }),
      evictionVersion: async () => 'v1beta1',
    });

    const report = await run(old, clock);

    expect(report.checks[2]).toMatchObject({ status: 'pass' });
    expect(report.checks[3]?.title).toBe('Eviction API served as policy/v1beta1');
  });

  describe('lost nodes', () => {
    const lostLine = (report: Awaited<ReturnType<typeof run>>) =>
      report.checks.find((c) => c.id === 'function.lost-nodes');
    const on120 = (clock: VirtualClock, podsDelete: boolean) => {
      const asked: Permission[] = [];
      const cluster = fakeCluster(clock, {
        version: async () => 'v1.20.2',
        canI: async (p: Permission) => {
          asked.push(p);
          return { allowed: podsDelete || !isPodsDelete(p) };
        },
      });
      return { cluster, asked };
    };

    it('on 1.28+, releases by the out-of-service taint: no pods delete asked for it', async () => {
      const clock = new VirtualClock();
      const { cluster, asked } = withoutPodsDelete(clock);

      const report = await run(cluster, clock, undefined, 'continue');

      expect(lostLine(report)).toEqual({
        id: 'function.lost-nodes',
        status: 'pass',
        title: "a lost node's pods are released by the out-of-service taint (v1.32.0)",
      });
      expect(asked.some(isPodsDelete)).toBe(false);
    });

    it('before 1.28 without pods delete, warns that a lost node is only cordoned and names the file', async () => {
      const clock = new VirtualClock();
      const { cluster } = on120(clock, false);

      const report = await run(cluster, clock, undefined, 'continue');

      expect(lostLine(report)).toEqual({
        id: 'function.lost-nodes',
        status: 'warn',
        title: 'may not delete pods: a lost node is only cordoned on v1.20.2',
        fix: 'kubectl apply -f infra/k8s/rbac-delete-pods.yaml',
      });
    });

    it('before 1.28 with pods delete, passes: the pods are deleted at once', async () => {
      const clock = new VirtualClock();
      const { cluster } = on120(clock, true);

      const report = await run(cluster, clock, undefined, 'continue');

      expect(lostLine(report)?.status).toBe('pass');
      expect(lostLine(report)?.title).toBe(
        "a lost node's pods are deleted at once (v1.20.2: no out-of-service taint)",
      );
    });

    it('with ON_NODE_LOST=ignore, passes without asking', async () => {
      const clock = new VirtualClock();
      const { cluster, asked } = on120(clock, false);

      const report = await runFunctionCheck(CLUSTER, {
        describeCluster: async () => ({ endpoint: 'https://k8s' }),
        connect: () => cluster,
        clock,
        kubernetesGroup: GROUP,
        onDrainTimeout: 'continue',
        onNodeLost: 'ignore',
      });

      expect(lostLine(report)?.title).toBe('lost nodes are left alone (ON_NODE_LOST=ignore)');
      expect(asked.some(isPodsDelete)).toBe(false);
    });
  });
});
