import { ApiException, type V1Pod } from '@kubernetes/client-node';
import { describe, expect, it, vi } from 'vitest';
import { evictionBody, toEvictionResult, toPdbInfo, toPodSnapshot } from '../../lambda/kube/cluster.js';

const status = (code: number, message: string, details: object = {}) =>
  JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message, details, code });

describe('evictionBody', () => {
  const pod = { namespace: 'shop', name: 'web-1', uid: 'u-1' };

  it('builds a policy/v1 Eviction with a UID precondition and no grace period override', () => {
    expect(evictionBody('v1', pod, false)).toEqual({
      apiVersion: 'policy/v1',
      kind: 'Eviction',
      metadata: { name: 'web-1', namespace: 'shop' },
      deleteOptions: { preconditions: { uid: 'u-1' } },
    });
  });

  it('marks a dry run with dryRun All on the v1beta1 body', () => {
    expect(evictionBody('v1beta1', pod, true)).toMatchObject({
      apiVersion: 'policy/v1beta1',
      deleteOptions: { preconditions: { uid: 'u-1' }, dryRun: ['All'] },
    });
    expect(evictionBody('v1beta1', pod, true).deleteOptions).not.toHaveProperty('gracePeriodSeconds');
  });

  it.each(['v1', 'v1beta1'] as const)(
    'carries a clamped grace period in deleteOptions on policy/%s',
    (version) => {
      expect(evictionBody(version, pod, false, { gracePeriodSeconds: 12 }).deleteOptions).toEqual({
        preconditions: { uid: 'u-1' },
        gracePeriodSeconds: 12,
      });
    },
  );
});

describe('toEvictionResult', () => {
  it('names the PDB from the server cause of a 429 (body as sent by kube-apiserver 1.20)', () => {
    const body = status(429, "Cannot evict pod as it would violate the pod's disruption budget.", {
      causes: [
        {
          reason: 'DisruptionBudget',
          message: 'The disruption budget db needs 1 healthy pods and has 1 currently',
        },
      ],
    });
    expect(toEvictionResult(new ApiException(429, 'x', body, {}))).toEqual({
      kind: 'pdb-blocked',
      pdbName: 'db',
      message: 'The disruption budget db needs 1 healthy pods and has 1 currently',
    });
  });

  it('honours a Retry-After header on a PDB refusal', () => {
    const message = "Cannot evict pod as it would violate the pod's disruption budget.";
    const result = toEvictionResult(new ApiException(429, 'x', status(429, message), { 'retry-after': '7' }));
    expect(result).toEqual({ kind: 'pdb-blocked', message, retryAfterMs: 7_000 });
  });

  it('tells throttling (a 429 naming no disruption budget) apart from a PDB refusal', () => {
    const result = toEvictionResult(
      new ApiException(429, 'x', status(429, 'Too many requests, please try again later.'), {
        'retry-after': '1',
      }),
    );
    expect(result).toEqual({
      kind: 'throttled',
      message: 'Too many requests, please try again later.',
      retryAfterMs: 1_000,
    });
  });

  it('treats 404 as gone', () => {
    expect(toEvictionResult(new ApiException(404, 'x', status(404, 'nope'), {}))).toEqual({ kind: 'gone' });
  });

  it('never treats a 409 as gone: the node pod list decides', () => {
    const body = status(409, 'Precondition failed: UID in precondition: u-1, UID in object meta: u-2');
    expect(toEvictionResult(new ApiException(409, 'x', body, {}))).toMatchObject({
      kind: 'failed',
      status: 409,
    });
  });

  it('recognises the multiple-PDB misconfiguration', () => {
    const body = status(
      500,
      'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.',
    );
    expect(toEvictionResult(new ApiException(500, 'x', body, {}))).toMatchObject({ kind: 'multiple-pdbs' });
  });

  it('keeps the status of other failures, and marks transport errors without one', () => {
    const forbidden = status(
      403,
      'pods "a" is forbidden: unable to create new content in namespace x because it is being terminated',
    );
    expect(toEvictionResult(new ApiException(403, 'x', forbidden, {}))).toMatchObject({
      kind: 'failed',
      status: 403,
    });
    expect(toEvictionResult(new Error('connect ECONNREFUSED 127.0.0.1:443'))).toEqual({
      kind: 'failed',
      message: 'connect ECONNREFUSED 127.0.0.1:443',
    });
  });
});

describe('toPodSnapshot', () => {
  it('maps the fields the drain decides on', () => {
    const pod: V1Pod = {
      metadata: {
        namespace: 'kube-system',
        name: 'coredns-1',
        uid: 'u-9',
        labels: { k8s: 'dns' },
        deletionTimestamp: new Date(),
        annotations: { 'kubernetes.io/config.mirror': 'h' },
        ownerReferences: [
          { apiVersion: 'v1', kind: 'Service', name: 'not-controller', uid: '1' },
          { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'coredns', uid: '2', controller: true },
        ],
      },
      spec: {
        containers: [],
        priorityClassName: 'system-cluster-critical',
        terminationGracePeriodSeconds: 5,
        volumes: [{ name: 'tmp', emptyDir: {} }],
      },
      status: { phase: 'Running' },
    };
    expect(toPodSnapshot(pod)).toEqual({
      namespace: 'kube-system',
      name: 'coredns-1',
      uid: 'u-9',
      phase: 'Running',
      controller: { kind: 'ReplicaSet', name: 'coredns' },
      mirror: true,
      terminating: true,
      priorityClassName: 'system-cluster-critical',
      usesEmptyDir: true,
      labels: { k8s: 'dns' },
      gracePeriodSeconds: 5,
      ready: false,
    });
    const readyPod = {
      ...pod,
      status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
    };
    expect(toPodSnapshot(readyPod).ready).toBe(true);
  });

  it('reads a pod object with nothing in it with the defaults the drain assumes', () => {
    expect(toPodSnapshot({})).toStrictEqual({
      namespace: 'default',
      name: '',
      uid: '',
      phase: 'Unknown',
      mirror: false,
      terminating: false,
      usesEmptyDir: false,
      labels: {},
      gracePeriodSeconds: 30,
      ready: false,
    });
  });

  it('reads a null deletionTimestamp as not terminating, and only a Ready condition that is True as ready', () => {
    const pod = (conditions: { type: string; status: string }[]): V1Pod => ({
      metadata: { name: 'p', deletionTimestamp: null as unknown as undefined },
      spec: { containers: [], volumes: [{ name: 'config', configMap: { name: 'c' } }] },
      status: { phase: 'Running', conditions },
    });
    expect(toPodSnapshot(pod([{ type: 'Ready', status: 'False' }]))).toMatchObject({
      terminating: false,
      usesEmptyDir: false,
      ready: false,
    });
    expect(toPodSnapshot(pod([{ type: 'PodScheduled', status: 'True' }])).ready).toBe(false);
    expect(
      toPodSnapshot(
        pod([
          { type: 'PodScheduled', status: 'True' },
          { type: 'Ready', status: 'True' },
        ]),
      ).ready,
    ).toBe(true);
  });

  it('carries the pod IP (ip-mode load balancer targets), and none before the pod has one', () => {
    const running: V1Pod = { metadata: { name: 'web-1' }, status: { phase: 'Running', podIP: '10.0.3.7' } };
    expect(toPodSnapshot(running).ip).toBe('10.0.3.7');
    expect(toPodSnapshot({ metadata: { name: 'web-2' }, status: { phase: 'Pending' } })).not.toHaveProperty(
      'ip',
    );
  });
});

describe('toPdbInfo', () => {
  const raw = (resourceVersion: string, allowed: number, disruptedPods?: Record<string, string>) => ({
    metadata: { namespace: 'shop', name: 'web', resourceVersion },
    spec: { selector: { matchLabels: { app: 'web' } } },
    status: { disruptionsAllowed: allowed, currentHealthy: 3, desiredHealthy: 2, disruptedPods },
  });

  it('maps the status the drain paces by, with the pods whose eviction it already counts', () => {
    expect(toPdbInfo(raw('41', 0, { 'web-1': '2026-12-02T06:00:00Z' }))).toEqual({
      namespace: 'shop',
      name: 'web',
      resourceVersion: '41',
      selector: { matchLabels: { app: 'web' } },
      disruptionsAllowed: 0,
      currentHealthy: 3,
      desiredHealthy: 2,
      disruptedPods: ['web-1'],
    });
  });

  it('keeps one selector object across status changes, so the drain can remember what it matched', () => {
    expect(toPdbInfo(raw('42', 1)).selector).toBe(toPdbInfo(raw('43', 0)).selector);
  });

  it('reads a PDB object with nothing in it as one that allows nothing and selects nothing', () => {
    expect(toPdbInfo({})).toStrictEqual({
      namespace: 'default',
      name: '',
      disruptionsAllowed: 0,
      currentHealthy: 0,
      desiredHealthy: 0,
    });
  });

  it('forgets the selectors it keeps once there are 10 000 (a warm container must not grow without end)', async () => {
    // a module of its own: the count starts at zero
    vi.resetModules();
    const { toPdbInfo: fresh } = await import('../../lambda/kube/cluster.js');
    const pdb = (app: string) => ({
      metadata: { name: app, resourceVersion: '1' },
      spec: { selector: { matchLabels: { app } } },
    });
    const first = fresh(pdb('first')).selector;
    for (let i = 1; i < 10_000; i++) fresh(pdb(`other-${i}`));
    // 10 000 kept: the first is still the same object
    expect(fresh(pdb('first')).selector).toBe(first);

    fresh(pdb('one-more'));

    expect(fresh(pdb('first')).selector).not.toBe(first);
    expect(fresh(pdb('first')).selector).toEqual(first);
  });
});
