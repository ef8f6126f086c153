import { afterEach, describe, expect, it } from 'vitest';
import { KubeCluster, toPodSnapshot } from '../../lambda/kube/cluster.js';
import { kubeConfigFor } from '../../scripts/harness/cluster.js';
import type { Workload } from '../../scripts/harness/workload.js';
import { createScenario } from './support/scenario.js';

let scenario: Workload;
afterEach(async () => {
  expect(scenario.sim.failures).toEqual([]);
  await scenario.dispose();
});

describe('drainNode against a real kube-apiserver', () => {
  it('drains a deployment without ever breaking its PDB and runs every preStop', async () => {
    scenario = await createScenario('pdb-chain');
    const labels = await scenario.deployment('web', 4, { preStopSeconds: 1 });
    await scenario.pdb('web', labels, { minAvailable: 3 });
    await scenario.waitRunning(4);
    await scenario.waitPdb('web', (s) => s.disruptionsAllowed === 1);
    const health = scenario.sim.monitor(scenario.namespace, labels);
    await scenario.openSpare();

    const report = await scenario.drain();

    expect(report.outcome).toBe('drained');
    expect(report.evicted).toHaveLength(4);
    expect(report.errors).toEqual([]);
    // the drain held each eviction until the PDB's status (its watch) allowed it, so the server refused
    // none, or one when a status reached the watch late; sent blindly, 3 of the 4 would be refused
    expect(report.evictionRefusals).toBeLessThanOrEqual(1);
    expect(health.samples).toBeGreaterThan(10);
    expect(health.minHealthy).toBeGreaterThanOrEqual(3);
    const evicted = [...scenario.sim.terminations.values()].filter((t) => t.node === scenario.node);
    expect(evicted).toHaveLength(4);
    for (const t of evicted) {
      expect(t.finishedAt).toBeDefined();
      expect((t.finishedAt ?? 0) - t.startedAt).toBeGreaterThanOrEqual(t.preStopMs - 50);
      expect(t.preStopMs).toBe(1000);
    }
    expect(await scenario.podsOn()).toEqual([]);
    const node = await scenario.core.readNode({ name: scenario.node });
    expect(node.spec?.unschedulable).toBe(true);
  });

  it('evicts each pod with its own terminationGracePeriodSeconds, never an override', async () => {
    scenario = await createScenario('grace');
    await scenario.deployment('slow', 2, { gracePeriodSeconds: 45, preStopSeconds: 1 });
    const bare = await scenario.pod('quick', { gracePeriodSeconds: 7 });
    await scenario.waitRunning(3);
    await scenario.openSpare();

    const report = await scenario.drain();

    expect(report.outcome).toBe('drained');
    expect(report.evicted).toHaveLength(3);
    const evicted = [...scenario.sim.terminations.values()].filter((t) => t.node === scenario.node);
    // what the API server granted each deletion: the pod's own grace period
    expect(
      evicted.map((t) => [t.name.startsWith('slow-') ? 'slow' : t.name, t.deletionGracePeriodSeconds]).sort(),
    ).toEqual([
      ['quick', 7],
      ['slow', 45],
      ['slow', 45],
    ]);
    expect(evicted.find((t) => t.name === 'quick')?.uid).toBe(bare.metadata?.uid);
  });

  it('leaves DaemonSet, mirror and finished pods alone and evicts bare and emptyDir pods', async () => {
    scenario = await createScenario('classes');
    await scenario.daemonSetPod('agent');
    await scenario.pod('static-x', {
      metadata: { annotations: { 'kubernetes.io/config.mirror': 'abc123' } },
    });
    await scenario.finishedPod('job-done', 'Succeeded');
    await scenario.pod('bare');
    await scenario.pod('scratch', { emptyDir: true });
    await scenario.waitRunning(4);
    await scenario.waitUntil('finished pod', async () =>
      (await scenario.podsOn()).some((p) => p.status?.phase === 'Succeeded'),
    );

    const report = await scenario.drain();

    expect(report.outcome).toBe('drained');
    expect([...report.evicted].sort()).toEqual([scenario.key('bare'), scenario.key('scratch')]);
    expect(report.skipped).toEqual(
      expect.arrayContaining([
        { pod: scenario.key('agent-x1'), reason: 'daemonset' },
        { pod: scenario.key('static-x'), reason: 'mirror' },
        { pod: scenario.key('job-done'), reason: 'finished' },
      ]),
    );
    expect(report.warnings).toEqual(
      expect.arrayContaining([
        { pod: scenario.key('bare'), warning: 'bare-pod' },
        { pod: scenario.key('scratch'), warning: 'empty-dir' },
      ]),
    );
    const left = (await scenario.podsOn()).map((p) => [p.metadata?.name, p.metadata?.deletionTimestamp]);
    expect(left.sort()).toEqual([
      ['agent-x1', undefined],
      ['job-done', undefined],
      ['static-x', undefined],
    ]);
  });

  describe.each([
    ['delete', 'deadline-deleted'],
    ['continue', 'deadline-continued'],
    ['abandon', 'deadline-abandoned'],
  ] as const)('at the deadline with policy %s', (policy, outcome) => {
    it(`reports the PDB-blocked pod and ends ${outcome}`, async () => {
      scenario = await createScenario(`stuck-${policy}`);
      const labels = await scenario.deployment('db', 1, { preStopSeconds: 1, gracePeriodSeconds: 45 });
      await scenario.pdb('db-pdb', labels, { minAvailable: 1 });
      await scenario.waitRunning(1);
      await scenario.waitPdb('db-pdb', (s) => s.currentHealthy === 1);
      const [pod] = await scenario.podsOn();
      const podKey = scenario.key(pod?.metadata?.name ?? '');

      const report = await scenario.drain({ deadline: Date.now() + 2_500, onDeadline: policy });

      expect(report.outcome).toBe(outcome);
      expect(report.evicted).toEqual([]);
      expect(report.blocked).toEqual([
        expect.objectContaining({
          pod: podKey,
          reason: 'pdb',
          pdbs: [{ name: 'db-pdb', disruptionsAllowed: 0 }],
        }),
      ]);
      // one refusal, then the drain waits on the PDB's status instead of retrying blindly
      expect(report.blocked[0]?.attempts).toBe(1);
      const events = await scenario.core.listNamespacedEvent({
        namespace: scenario.namespace,
        fieldSelector: `involvedObject.name=${pod?.metadata?.name}`,
      });
      expect(events.items.map((e) => [e.reason, e.type, e.count, e.message])).toEqual([
        [
          'EvictionBlocked',
          'Warning',
          1,
          'eviction for node drain blocked by PodDisruptionBudget db-pdb: The disruption budget db-pdb needs 1 healthy pods and has 1 currently',
        ],
      ]);
      const record = scenario.sim.terminations.get(pod?.metadata?.uid ?? '');
      if (policy === 'delete') {
        expect(report.deleted).toEqual([podKey]);
        expect(report.remaining).toEqual([]);
        // graceful: the pod's own grace period (no override), and the simulated preStop ran before it went away
        expect(record?.deletionGracePeriodSeconds).toBe(45);
        expect((record?.finishedAt ?? 0) - (record?.startedAt ?? 0)).toBeGreaterThanOrEqual(950);
        expect(await scenario.podsOn()).toEqual([]);
      } else {
        expect(report.deleted).toEqual([]);
        expect(report.remaining).toEqual([podKey]);
        expect(record).toBeUndefined();
        const [still] = await scenario.podsOn();
        expect(still?.metadata?.uid).toBe(pod?.metadata?.uid);
        expect(still?.metadata?.deletionTimestamp).toBeUndefined();
      }
    });
  });

  it('waits for a pod that was already terminating without evicting it again', async () => {
    scenario = await createScenario('terminating');
    const pod = await scenario.pod('leaving', { preStopSeconds: 2 });
    await scenario.waitRunning(1);
    await scenario.core.deleteNamespacedPod({ name: 'leaving', namespace: scenario.namespace });
    await scenario.waitUntil('terminating', async () =>
      scenario.sim.terminations.has(pod.metadata?.uid ?? ''),
    );

    const report = await scenario.drain();

    expect(report.outcome).toBe('drained');
    expect(report.evictionRequests).toBe(0);
    expect(report.evicted).toEqual([]);
    const record = scenario.sim.terminations.get(pod.metadata?.uid ?? '');
    expect(record?.finishedAt).toBeDefined();
    expect(Date.now()).toBeGreaterThanOrEqual(record?.finishedAt ?? Number.POSITIVE_INFINITY);
  });

  it('never evicts a replacement that took the evicted pod name (UID precondition)', async () => {
    scenario = await createScenario('same-name');
    const original = await scenario.pod('db-0');
    await scenario.waitRunning(1);
    const stale = toPodSnapshot(original);
    await scenario.core.deleteNamespacedPod({
      name: 'db-0',
      namespace: scenario.namespace,
      gracePeriodSeconds: 0,
    });
    await scenario.waitUntil('original gone', async () => (await scenario.podsOn()).length === 0);
    const replacement = await scenario.pod('db-0', { spec: { nodeName: scenario.spare } });

    const cluster = new KubeCluster(kubeConfigFor(scenario.info, 'drainer'));
    const result = await cluster.evict(stale, { dryRun: false });
    const report = await scenario.drain();

    // 409 (UID precondition): not proof of anything; the node's pod list decides the pod is gone
    expect(result).toMatchObject({ kind: 'failed', status: 409 });
    expect(report.outcome).toBe('drained');
    const current = await scenario.core.readNamespacedPod({ name: 'db-0', namespace: scenario.namespace });
    expect(current.metadata?.uid).toBe(replacement.metadata?.uid);
    expect(current.metadata?.deletionTimestamp).toBeUndefined();
  });

  it('names both PDBs when two overlap one pod and stops at the deadline', async () => {
    scenario = await createScenario('two-pdbs');
    const labels = await scenario.deployment('api', 2);
    await scenario.pdb('api-a', labels, { maxUnavailable: 1 });
    await scenario.pdb('api-b', labels, { maxUnavailable: 1 });
    await scenario.waitRunning(2);
    const started = Date.now();

    const report = await scenario.drain({ deadline: started + 2_000, onDeadline: 'continue' });

    expect(report.outcome).toBe('deadline-continued');
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(report.blocked).toHaveLength(2);
    for (const blocked of report.blocked) {
      expect(blocked.reason).toBe('multiple-pdbs');
      expect(blocked.message).toMatch(/more than one PodDisruptionBudget/);
      expect(blocked.pdbs.map((p) => p.name).sort()).toEqual(['api-a', 'api-b']);
    }
    expect(scenario.logs.some((l) => l.level === 'warn' && l.data?.kind === 'multiple-pdbs')).toBe(true);
  });

  it('evicts critical pods only after the ordinary ones are gone', async () => {
    scenario = await createScenario('critical');
    const critical = await scenario.pod('dns', { priorityClassName: 'system-cluster-critical' });
    const ordinary = await scenario.pod('app', { preStopSeconds: 1 });
    await scenario.waitRunning(2);

    const report = await scenario.drain();

    expect(report.outcome).toBe('drained');
    const app = scenario.sim.terminations.get(ordinary.metadata?.uid ?? '');
    const dns = scenario.sim.terminations.get(critical.metadata?.uid ?? '');
    expect(dns?.startedAt).toBeGreaterThanOrEqual(app?.finishedAt ?? Number.POSITIVE_INFINITY);
  });

  it('plans with server-side dry-run evictions and changes nothing', async () => {
    scenario = await createScenario('dry-run');
    const labels = await scenario.deployment('web', 2);
    await scenario.pdb('web', labels, { minAvailable: 2 });
    await scenario.pod('bare');
    await scenario.waitRunning(3);
    await scenario.waitPdb('web', (s) => s.currentHealthy === 2);

    const report = await scenario.drain({ dryRun: true });

    expect(report.outcome).toBe('dry-run');
    expect(report.evicted).toEqual([scenario.key('bare')]);
    expect(report.blocked.map((b) => [b.reason, b.pdbs[0]?.name])).toEqual([
      ['pdb', 'web'],
      ['pdb', 'web'],
    ]);
    const node = await scenario.core.readNode({ name: scenario.node });
    expect(node.spec?.unschedulable).toBeUndefined();
    const pods = await scenario.podsOn();
    expect(pods).toHaveLength(3);
    expect(pods.every((p) => p.metadata?.deletionTimestamp === undefined)).toBe(true);
  });

  it('finds the node by the instance id in spec.providerID when the name does not match', async () => {
    scenario = await createScenario('provider-id');
    await scenario.pod('solo');
    await scenario.waitRunning(1);

    const report = await scenario.drain({
      target: { nodeName: 'ip-10-0-0-1.ec2.internal', instanceId: scenario.instanceId },
    });

    expect(report.node).toBe(scenario.node);
    expect(report.outcome).toBe('drained');
    expect(report.evicted).toEqual([scenario.key('solo')]);
  });

  it('reports node-not-found without throwing when no node matches', async () => {
    scenario = await createScenario('no-node');

    const report = await scenario.drain({
      target: { nodeName: 'ip-10-9-9-9.ec2.internal', instanceId: 'i-0000000000000000f' },
    });

    expect(report.outcome).toBe('node-not-found');
    expect(report.node).toBeUndefined();
    expect(report.errors).toEqual([]);
  });

  it('records the drain as Events on the node', async () => {
    scenario = await createScenario('events');
    await scenario.pod('solo');
    await scenario.waitRunning(1);

    await scenario.drain();

    const events = await scenario.core.listNamespacedEvent({
      namespace: 'default',
      fieldSelector: `involvedObject.name=${scenario.node}`,
    });
    expect(events.items.map((e) => e.reason)).toEqual(expect.arrayContaining(['DrainStarted', 'Drained']));
  });

  it('aggregates a repeated pod event into one Event whose count grows', async () => {
    scenario = await createScenario('aggregate');
    const pod = await scenario.pod('blocked');
    const cluster = new KubeCluster(kubeConfigFor(scenario.info, 'drainer'));
    const subject = { kind: 'Pod' as const, ...toPodSnapshot(pod) };
    const event = { reason: 'EvictionBlocked', type: 'Warning' as const, series: 'abc' };

    await cluster.recordEvent(subject, { ...event, message: 'first', count: 1 });
    await cluster.recordEvent(subject, { ...event, message: 'again', count: 4 });

    const events = await scenario.core.listNamespacedEvent({ namespace: scenario.namespace });
    expect(events.items.map((e) => [e.reason, e.count, e.message, e.involvedObject.uid])).toEqual([
      ['EvictionBlocked', 4, 'again', pod.metadata?.uid],
    ]);
  });

  it('fails with forbidden, retried until the deadline, for an identity without the RBAC grants', async () => {
    scenario = await createScenario('rbac');
    await scenario.pod('solo');
    await scenario.waitRunning(1);

    const report = await scenario.drain({ deadline: Date.now() + 1_500, onDeadline: 'continue' }, 'outsider');

    expect(report.outcome).toBe('deadline-continued');
    expect(report.errors.join('\n')).toMatch(/forbidden/i);
    const [pod] = await scenario.podsOn();
    expect(pod?.metadata?.deletionTimestamp).toBeUndefined();
  });
});
