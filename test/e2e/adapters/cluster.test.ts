/**
 * KubeCluster (lambda/kube/cluster.ts), the drain's ClusterPort, against the real kube-apiserver as
 * the drainer (the RBAC of infra/k8s/): what each call asks the server and what the server answers,
 * on 1.20.2 (policy/v1beta1) and v1.32 (policy/v1) alike.
 */
import { PatchStrategy, setHeaderOptions, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ClusterAccessError } from '../../../lambda/errors.js';
import { EXCLUDE_FROM_LOAD_BALANCERS_LABEL, KubeCluster } from '../../../lambda/kube/cluster.js';
import { kubeConfigFor } from '../../../scripts/harness/cluster.js';
import { FaultProxy } from '../../../scripts/harness/fault-proxy.js';
import type { Workload } from '../../../scripts/harness/workload.js';
import { createScenario } from '../support/scenario.js';

const info = inject('cluster');
let world: Workload;
let proxy: FaultProxy;
/** The drainer's KubeCluster through the proxy (every request it sends is recorded there). */
let cluster: KubeCluster;

beforeAll(async () => {
  world = await createScenario('adapter-cluster');
  proxy = await FaultProxy.start(info);
  cluster = new KubeCluster(kubeConfigFor({ ...info, server: proxy.url }, 'drainer'));
});
afterAll(async () => {
  await proxy?.stop();
  await world?.dispose();
});

const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** A pod on the world's target node, Running and Ready (the simulator's kubelet). */
async function runningPod(name: string, extra: Parameters<Workload['pod']>[1] = {}): Promise<V1Pod> {
  const pod = await world.pod(name, extra);
  await world.waitUntil(`${name} running`, async () => {
    const read = await world.core.readNamespacedPod({ name, namespace: world.namespace });
    return read.status?.phase === 'Running';
  });
  return pod;
}

/** The paths the drainer's client requested since `mark` (proxy.requests.length before). */
const paths = (mark: number): string[] => proxy.requests.slice(mark).map((r) => r.path);

const ref = (pod: V1Pod) => ({
  namespace: pod.metadata?.namespace ?? '',
  name: pod.metadata?.name ?? '',
  uid: pod.metadata?.uid ?? '',
});

async function failure(call: Promise<unknown>): Promise<unknown> {
  try {
    await call;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

describe('KubeCluster.findNode', () => {
  it('finds the node by name', async () => {
    expect(await cluster.findNode({ nodeName: world.node, instanceId: 'i-other' })).toBe(world.node);
  });

  it('finds the node by the instance id at the end of its providerID when no node has the name', async () => {
    expect(
      await cluster.findNode({ nodeName: 'ip-10-0-0-1.ec2.internal', instanceId: world.instanceId }),
    ).toBe(world.node);
    const mark = proxy.requests.length;
    expect(await cluster.findNode({ instanceId: world.instanceId })).toBe(world.node);
    // no name: no read by name, one LIST of the nodes from the watch cache
    expect(paths(mark)).toEqual(['/api/v1/nodes?resourceVersion=0']);
  });

  it('finds nothing when neither the name nor an instance id matches', async () => {
    const mark = proxy.requests.length;
    expect(await cluster.findNode({ nodeName: `${world.namespace}-absent` })).toBeUndefined();
    // no instance id: nothing to look for in a LIST
    expect(paths(mark)).toEqual([`/api/v1/nodes/${world.namespace}-absent`]);
    expect(
      await cluster.findNode({ nodeName: `${world.namespace}-absent`, instanceId: 'i-absent' }),
    ).toBeUndefined();
  });

  it('fails when the node cannot be read for a reason other than its absence', async () => {
    const remove = proxy.addRule({
      method: 'GET',
      path: new RegExp(`^/api/v1/nodes/${world.node}$`),
      action: { kind: 'status', status: 500, message: 'etcdserver: request timed out' },
    });
    try {
      const error = await failure(cluster.findNode({ nodeName: world.node, instanceId: world.instanceId }));
      expect(error).toBeInstanceOf(ClusterAccessError);
      expect((error as ClusterAccessError).message).toBe('HTTP 500: etcdserver: request timed out');
    } finally {
      remove();
    }
  });
});

describe('KubeCluster.cordon', () => {
  it('makes the node unschedulable, and with excludeFromLoadBalancers labels it for the load balancer controllers', async () => {
    await world.core.patchNode({ name: world.spare, body: { spec: { unschedulable: false } } }, MERGE);

    await cluster.cordon(world.spare);
    const cordoned = await world.core.readNode({ name: world.spare });
    await cluster.cordon(world.spare, { excludeFromLoadBalancers: true });
    await cluster.cordon(world.spare, { excludeFromLoadBalancers: true });
    const excluded = await world.core.readNode({ name: world.spare });

    expect(cordoned.spec?.unschedulable).toBe(true);
    expect(cordoned.metadata?.labels?.[EXCLUDE_FROM_LOAD_BALANCERS_LABEL]).toBeUndefined();
    expect(excluded.spec?.unschedulable).toBe(true);
    expect(excluded.metadata?.labels?.[EXCLUDE_FROM_LOAD_BALANCERS_LABEL]).toBe('true');
  });

  it('fails with the server status for a node that is not there', async () => {
    const error = await failure(cluster.cordon(`${world.namespace}-absent`));
    expect(error).toBeInstanceOf(ClusterAccessError);
    expect((error as ClusterAccessError).status).toBe(404);
  });
});

describe('KubeCluster.listPods', () => {
  it("lists the node's pods only, from the watch cache, with their IP and the list's resourceVersion", async () => {
    const pod = await runningPod('listed');
    await world.core.patchNamespacedPodStatus(
      { name: 'listed', namespace: world.namespace, body: { status: { podIP: '10.0.7.7' } } },
      MERGE,
    );
    const mark = proxy.requests.length;

    const list = await cluster.listPods(world.node, { notOlderThan: await currentVersion() });

    const listed = list.pods.find((p) => p.name === 'listed');
    expect(listed).toMatchObject({
      namespace: world.namespace,
      uid: pod.metadata?.uid,
      phase: 'Running',
      ready: true,
    });
    expect(listed?.ip).toBe('10.0.7.7');
    expect(list.pods.every((p) => p.namespace === world.namespace)).toBe(true);
    expect(list.resourceVersion).toMatch(/^\d+$/);
    expect(proxy.requests.slice(mark).map((r) => r.path)).toEqual([
      expect.stringMatching(/^\/api\/v1\/pods\?.*fieldSelector=spec.nodeName%3D/),
    ]);
  });

  it('leaves the IP out of a pod that has none', async () => {
    await runningPod('no-ip');
    const patched = await world.core.patchNamespacedPodStatus(
      { name: 'no-ip', namespace: world.namespace, body: { status: { podIP: null, podIPs: null } } },
      MERGE,
    );
    expect(patched.status?.podIP).toBeUndefined();

    const list = await cluster.listPods(world.node, {
      notOlderThan: patched.metadata?.resourceVersion ?? '',
    });

    const pod = list.pods.find((p) => p.name === 'no-ip');
    expect(pod?.phase).toBe('Running');
    expect(pod).not.toHaveProperty('ip');
  });

  it('reads from the watch cache as it is without notOlderThan (resourceVersion=0)', async () => {
    const mark = proxy.requests.length;

    const list = await cluster.listPods(world.node);

    expect(list.resourceVersion).toMatch(/^\d+$/);
    expect(proxy.requests.slice(mark).map((r) => r.path)).toEqual([
      expect.stringMatching(/resourceVersion=0(&|$)/),
    ]);
  });

  it('answers at least as new as notOlderThan: a pod created just before is in the list', async () => {
    const created = await world.pod('fresh');
    const version = created.metadata?.resourceVersion ?? '';

    const list = await cluster.listPods(world.node, { notOlderThan: version });

    expect(list.pods.map((p) => p.name)).toContain('fresh');
    expect(BigInt(list.resourceVersion ?? '0')).toBeGreaterThanOrEqual(BigInt(version));
  });

  it('fails with 504 "Too large resource version" after waiting, for a version the watch cache never reaches', async () => {
    const ahead = String(BigInt(await currentVersion()) + 1_000_000n);
    const started = Date.now();

    const error = await failure(cluster.listPods(world.node, { notOlderThan: ahead }));

    const waited = Date.now() - started;
    console.log(
      '504',
      info.version,
      waited,
      (error as ClusterAccessError).message,
      (error as ClusterAccessError).retryAfterMs,
    );
    expect(error).toBeInstanceOf(ClusterAccessError);
    expect((error as ClusterAccessError).status).toBe(504);
    expect((error as ClusterAccessError).message).toMatch(/Too large resource version/);
    expect(waited).toBeGreaterThanOrEqual(2_500);
  });
});

/** The cluster's current resourceVersion, as a consistent list of a quiet collection gives it. */
async function currentVersion(): Promise<string> {
  const list = await world.core.listNamespacedConfigMap({ namespace: world.namespace });
  return list.metadata?.resourceVersion ?? '0';
}

describe('KubeCluster.evict', () => {
  it('evicts a pod no PDB covers: it terminates with its own grace period', async () => {
    const pod = await runningPod('evictee', { preStopSeconds: 1, gracePeriodSeconds: 20 });

    const result = await cluster.evict(ref(pod), { dryRun: false });

    expect(result).toEqual({ kind: 'evicted' });
    await world.waitUntil('the termination', async () => world.sim.terminations.has(ref(pod).uid));
    expect(world.sim.terminations.get(ref(pod).uid)?.deletionGracePeriodSeconds).toBe(20);
  });

  it('sends a grace period when given one (a Spot drain clamps it)', async () => {
    const pod = await runningPod('clamped', { preStopSeconds: 1, gracePeriodSeconds: 20 });

    expect(await cluster.evict(ref(pod), { dryRun: false, gracePeriodSeconds: 3 })).toEqual({
      kind: 'evicted',
    });

    await world.waitUntil('the termination', async () => world.sim.terminations.has(ref(pod).uid));
    expect(world.sim.terminations.get(ref(pod).uid)?.deletionGracePeriodSeconds).toBe(3);
  });

  it('evicts nothing in a dry run, though the server answers as it would', async () => {
    const pod = await runningPod('dry');

    expect(await cluster.evict(ref(pod), { dryRun: true })).toEqual({ kind: 'evicted' });

    const read = await world.core.readNamespacedPod({ name: 'dry', namespace: world.namespace });
    expect(read.metadata?.deletionTimestamp).toBeUndefined();
  });

  it('sends the UID as a precondition: a pod of the same name but another UID is not evicted', async () => {
    const pod = await runningPod('renamed');

    const result = await cluster.evict({ ...ref(pod), uid: 'a-replaced-pod' }, { dryRun: false });

    expect(result).toMatchObject({ kind: 'failed', status: 409 });
    const read = await world.core.readNamespacedPod({ name: 'renamed', namespace: world.namespace });
    expect(read.metadata?.deletionTimestamp).toBeUndefined();
  });

  it('says gone for a pod that is not there', async () => {
    const result = await cluster.evict(
      { namespace: world.namespace, name: 'never-was', uid: 'u' },
      { dryRun: false },
    );
    expect(result).toEqual({ kind: 'gone' });
  });

  it('says which PDB refuses an eviction', async () => {
    const pod = await runningPod('guarded', { metadata: { labels: { app: 'guarded' } } });
    await world.pdb('guarded', { app: 'guarded' }, { minAvailable: 1 });
    await world.waitPdb('guarded', (s) => s.currentHealthy === 1 && s.disruptionsAllowed === 0);

    const result = await cluster.evict(ref(pod), { dryRun: false });

    expect(result).toMatchObject({ kind: 'pdb-blocked', pdbName: 'guarded' });
    expect((result as { message: string }).message).toMatch(/disruption budget guarded/);
  });
});

describe('KubeCluster.deletePod', () => {
  it('deletes a pod with its UID as precondition; a pod already gone or replaced is gone', async () => {
    const pod = await runningPod('deleted', { preStopSeconds: 1, gracePeriodSeconds: 20 });
    const other = await runningPod('replaced');

    expect(await cluster.deletePod({ ...ref(other), uid: 'an-older-pod' })).toBe('gone');
    expect(await cluster.deletePod(ref(pod), { gracePeriodSeconds: 4 })).toBe('deleted');
    await world.waitUntil('the termination', async () => world.sim.terminations.has(ref(pod).uid));
    expect(world.sim.terminations.get(ref(pod).uid)?.deletionGracePeriodSeconds).toBe(4);
    expect(await cluster.deletePod({ namespace: world.namespace, name: 'never-was', uid: 'u' })).toBe('gone');
    const replaced = await world.core.readNamespacedPod({ name: 'replaced', namespace: world.namespace });
    expect(replaced.metadata?.deletionTimestamp).toBeUndefined();
  });

  it('fails when the server refuses the deletion for another reason', async () => {
    const pod = await runningPod('undeletable');
    const remove = proxy.addRule({
      method: 'DELETE',
      path: /\/pods\/undeletable$/,
      action: { kind: 'status', status: 403, message: 'pods "undeletable" is forbidden' },
    });
    try {
      const error = await failure(cluster.deletePod(ref(pod)));
      expect(error).toBeInstanceOf(ClusterAccessError);
      expect((error as ClusterAccessError).status).toBe(403);
    } finally {
      remove();
    }
  });

  it('keeps its own grace period when given none', async () => {
    const pod = await runningPod('own-grace', { preStopSeconds: 1, gracePeriodSeconds: 17 });

    expect(await cluster.deletePod(ref(pod))).toBe('deleted');

    await world.waitUntil('the termination', async () => world.sim.terminations.has(ref(pod).uid));
    expect(world.sim.terminations.get(ref(pod).uid)?.deletionGracePeriodSeconds).toBe(17);
  });
});

describe('KubeCluster.listPdbs and evictionVersion', () => {
  it("lists the namespace's PDBs with the status the disruption controller computed", async () => {
    await runningPod('budgeted', { metadata: { labels: { app: 'budgeted' } } });
    await world.pdb('budgeted', { app: 'budgeted' }, { minAvailable: 0 });
    await world.waitPdb('budgeted', (s) => s.currentHealthy === 1);

    const mark = proxy.requests.length;
    const pdbs = await cluster.listPdbs(world.namespace);

    // from the watch cache
    expect(paths(mark).at(-1)).toMatch(/\/namespaces\/[^/]+\/poddisruptionbudgets\?resourceVersion=0$/);
    expect(pdbs.find((p) => p.name === 'budgeted')).toMatchObject({
      namespace: world.namespace,
      selector: { matchLabels: { app: 'budgeted' } },
      currentHealthy: 1,
      desiredHealthy: 0,
      disruptionsAllowed: 1,
      resourceVersion: expect.stringMatching(/^\d+$/),
    });
    expect(await cluster.listPdbs(`${world.namespace}-none`)).toEqual([]);
  });

  it('evicts through the policy version the server serves, found by discovery once', async () => {
    const fresh = new KubeCluster(kubeConfigFor({ ...info, server: proxy.url }, 'drainer'));
    const mark = proxy.requests.length;

    const version = await fresh.evictionVersion();
    await fresh.evictionVersion();
    await fresh.listPdbs(world.namespace);

    expect(version).toBe(info.version === '1.20' ? 'v1beta1' : 'v1');
    expect(proxy.requests.slice(mark).filter((r) => r.path === '/apis/policy')).toHaveLength(1);
    expect(proxy.requests.at(-1)?.path).toMatch(new RegExp(`^/apis/policy/${version}/namespaces/`));
  });

  it('asks again after a discovery that failed', async () => {
    const fresh = new KubeCluster(kubeConfigFor({ ...info, server: proxy.url }, 'drainer'));
    const remove = proxy.addRule({
      method: 'GET',
      path: /^\/apis\/policy$/,
      action: { kind: 'status', status: 503 },
      times: 1,
    });

    const error = await failure(fresh.listPdbs(world.namespace));
    remove();

    expect(error).toMatchObject({ status: 503 });
    expect(await fresh.listPdbs(world.namespace)).toEqual(expect.any(Array));
  });
});

describe('KubeCluster.listVolumeAttachments', () => {
  it("names the node's VolumeAttachments only", async () => {
    const attachment = (name: string, nodeName: string) => ({
      apiVersion: 'storage.k8s.io/v1',
      kind: 'VolumeAttachment',
      metadata: { name },
      spec: { attacher: 'ebs.csi.aws.com', nodeName, source: { persistentVolumeName: `${name}-pv` } },
    });
    const mine = `${world.namespace}-mine`;
    const spare = `${world.namespace}-spare-va`;
    await world.objects.create(attachment(mine, world.node) as never);
    await world.objects.create(attachment(spare, world.spare) as never);
    try {
      // from the watch cache, which may lag a moment behind the create
      await world.waitUntil('the attachment', async () =>
        (await cluster.listVolumeAttachments(world.node)).includes(mine),
      );

      const mark = proxy.requests.length;
      const names = await cluster.listVolumeAttachments(world.node);

      // all of them from the watch cache (no field selector on the node for VolumeAttachments)
      expect(paths(mark)).toEqual(['/apis/storage.k8s.io/v1/volumeattachments?resourceVersion=0']);
      expect(names).toContain(mine);
      expect(names).not.toContain(spare);
    } finally {
      for (const name of [mine, spare])
        await world.objects.delete(attachment(name, '') as never).catch(() => undefined);
    }
  });
});

describe('KubeCluster.recordEvent', () => {
  it('records each node Event as one of its own in namespace default, as the kubelet does', async () => {
    await cluster.recordEvent(
      { kind: 'Node', name: world.node },
      { reason: 'DrainStarted', message: 'draining for i-1', type: 'Normal' },
    );
    await new Promise((resolve) => setTimeout(resolve, 5));
    await cluster.recordEvent(
      { kind: 'Node', name: world.node },
      { reason: 'DrainStarted', message: 'draining for i-2', type: 'Normal' },
    );

    const events = await world.core.listNamespacedEvent({
      namespace: 'default',
      fieldSelector: `involvedObject.name=${world.node}`,
    });
    expect(events.items.map((e) => e.message).sort()).toEqual(['draining for i-1', 'draining for i-2']);
    for (const event of events.items) {
      expect(event).toMatchObject({
        metadata: { name: expect.stringMatching(new RegExp(`^${world.node}\\.[0-9a-f]{10,}$`)) },
        reason: 'DrainStarted',
        type: 'Normal',
        count: 1,
        involvedObject: { apiVersion: 'v1', kind: 'Node', name: world.node, uid: world.node },
        source: { component: 'eks-node-drainer' },
        reportingComponent: 'eks-node-drainer',
        reportingInstance: 'eks-node-drainer',
      });
      expect(event.firstTimestamp).toBeInstanceOf(Date);
      expect(event.lastTimestamp).toEqual(event.firstTimestamp);
    }
  });

  it("records a pod Event in the pod's namespace, and a series as one Event whose count grows", async () => {
    const pod = await runningPod('evented');
    const subject = { kind: 'Pod' as const, ...ref(pod) };
    const blocked = (count: number) => ({
      reason: 'EvictionBlocked',
      message: `refused ${count} times`,
      type: 'Warning' as const,
      series: 'drain-1',
      count,
    });

    await cluster.recordEvent(subject, blocked(1));
    await cluster.recordEvent(subject, blocked(4));

    const events = await world.core.listNamespacedEvent({
      namespace: world.namespace,
      fieldSelector: 'involvedObject.name=evented',
    });
    expect(events.items).toEqual([
      expect.objectContaining({
        metadata: expect.objectContaining({ name: 'evented.evictionblocked.drain-1' }),
        reason: 'EvictionBlocked',
        message: 'refused 4 times',
        type: 'Warning',
        count: 4,
        involvedObject: expect.objectContaining({ kind: 'Pod', name: 'evented', uid: ref(pod).uid }),
      }),
    ]);
  });

  it('fails for an Event the server refuses (a namespace that does not exist)', async () => {
    const error = await failure(
      cluster.recordEvent(
        { kind: 'Pod', namespace: `${world.namespace}-absent`, name: 'p', uid: 'u' },
        { reason: 'EvictionBlocked', message: 'x', type: 'Warning', series: 's', count: 1 },
      ),
    );
    expect(error).toBeInstanceOf(ClusterAccessError);
    expect((error as ClusterAccessError).status).toBe(404);
  });
});

describe('KubeCluster.followNode', () => {
  it('wakes for a PDB modified only when wakesForPdb says so, for one created always', async () => {
    await world.pdb('quiet', { app: 'quiet' }, { minAvailable: 0 });
    const modify = (minAvailable: number) =>
      world.objects.patch(
        {
          apiVersion: world.policyVersion as string,
          kind: 'PodDisruptionBudget',
          metadata: { name: 'quiet', namespace: world.namespace },
          spec: { minAvailable },
        },
        undefined,
        undefined,
        undefined,
        undefined,
        PatchStrategy.MergePatch,
      );
    let changes = 0;
    let wake = false;
    const asked: string[] = [];
    // a node without pods: every change counted is a PDB's
    const feed = await cluster.followNode(
      `${world.node}-empty`,
      () => changes++,
      (pdb) => {
        if (pdb.namespace === world.namespace) asked.push(pdb.name);
        return wake;
      },
    );
    try {
      await world.waitUntil('the PDB', async () =>
        feed.pdbs(world.namespace).some((p) => p.name === 'quiet'),
      );
      const listed = changes;
      const seen = feed.pdbs(world.namespace);
      await modify(1);
      await world.waitUntil('the change', async () => feed.pdbs(world.namespace) !== seen);

      expect(asked).toContain('quiet');
      expect(changes).toBe(listed);
      wake = true;
      await modify(2);
      await world.waitUntil('the wake', async () => changes > listed);
      wake = false;
      const before = changes;
      await world.pdb('created', { app: 'created' }, { minAvailable: 0 });
      await world.waitUntil('the created PDB', async () => changes > before);
    } finally {
      feed.close();
    }
  });

  it("follows the node's pods and the PDBs of each namespace with one watch each", async () => {
    await runningPod('followed', { metadata: { labels: { app: 'followed' } } });
    await world.pdb('followed', { app: 'followed' }, { minAvailable: 0 });
    let changes = 0;
    const mark = proxy.requests.length;

    const feed = await cluster.followNode(world.node, () => changes++);
    try {
      expect(feed.pods().map((p) => p.name)).toContain('followed');
      await world.waitUntil('the PDB', async () =>
        feed.pdbs(world.namespace).some((p) => p.name === 'followed'),
      );
      // the same array while no PDB changed; a new one, with the change, after
      const seen = feed.pdbs(world.namespace);
      expect(feed.pdbs(world.namespace)).toBe(seen);
      expect(feed.pdbs(`${world.namespace}-other`)).toEqual([]);
      await world.pdb('later', { app: 'later' }, { minAvailable: 0 });
      await world.waitUntil('the later PDB', async () =>
        feed.pdbs(world.namespace).some((p) => p.name === 'later'),
      );
      expect(feed.pdbs(world.namespace)).not.toBe(seen);
      const before = changes;
      await world.pod('joined');
      await world.waitUntil('the new pod', async () => feed.pods().some((p) => p.name === 'joined'));

      expect(changes).toBeGreaterThan(before);
      expect(feed.failed()).toBe(false);
      const watches = proxy.requests.slice(mark).filter((r) => r.path.includes('watch=true'));
      expect(watches.map((r) => r.path.split('?')[0]).sort()).toEqual([
        '/api/v1/pods',
        `/apis/policy/${await cluster.evictionVersion()}/poddisruptionbudgets`,
      ]);
    } finally {
      feed.close();
    }
  });

  it('closes the watch it opened when the other cannot be opened, and fails', async () => {
    const remove = proxy.addRule({
      method: 'GET',
      path: /poddisruptionbudgets\?.*watch=true/,
      action: { kind: 'status', status: 403, message: 'watch is forbidden' },
    });
    try {
      const error = await failure(cluster.followNode(world.node, () => {}));
      expect(error).toBeInstanceOf(ClusterAccessError);
      expect((error as ClusterAccessError).status).toBe(403);
    } finally {
      remove();
    }
  });
});
