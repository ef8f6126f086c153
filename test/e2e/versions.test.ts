import { afterEach, describe, expect, inject, it } from 'vitest';
import { KubeCluster } from '../../lambda/kube/cluster.js';
import { kubeConfigFor } from '../../scripts/harness/cluster.js';
import type { Workload } from '../../scripts/harness/workload.js';
import { createScenario } from './support/scenario.js';

// Runs on whichever server the project started (e2e-1.20 or e2e-1.32): every test asserts what that
// server does, so both runs check something real.
const info = inject('cluster');
const modern = info.version === '1.32';

let scenario: Workload | undefined;
afterEach(async () => {
  if (!scenario) return;
  expect(scenario.sim.failures).toEqual([]);
  await scenario.dispose();
  scenario = undefined;
});

const drainer = (): KubeCluster => new KubeCluster(kubeConfigFor(info, 'drainer'));

/** A node whose only pod runs but is not Ready, under a PDB minAvailable 1 that allows no disruption. */
async function unreadyPodUnderPdb(
  prefix: string,
  extras: Parameters<Workload['pdb']>[3] = {},
): Promise<{ w: Workload; podKey: string }> {
  const w = await createScenario(prefix);
  scenario = w;
  const labels = await w.deployment('db', 1, { unready: true });
  await w.pdb('db', labels, { minAvailable: 1 }, extras);
  await w.waitRunning(1);
  await w.waitUntil('pdb db counts the unready pod', async () => {
    const status = (await w.readPdb('db')).status;
    return status?.expectedPods === 1 && status.currentHealthy === 0 && status.disruptionsAllowed === 0;
  });
  const [pod] = await w.podsOn();
  expect(pod?.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('False');
  return { w, podKey: w.key(pod?.metadata?.name ?? '') };
}

/** Deployment `web` with `replicas` pods running under a PDB minAvailable replicas − 1 that counts them all. */
async function webUnderPdb(
  prefix: string,
  replicas: number,
): Promise<{ w: Workload; labels: Record<string, string> }> {
  const w = await createScenario(prefix);
  scenario = w;
  const labels = await w.deployment('web', replicas);
  await w.pdb('web', labels, { minAvailable: replicas - 1 });
  await w.waitRunning(replicas);
  await w.waitPdb('web', (s) => s.currentHealthy === replicas);
  return { w, labels };
}

describe(`Kubernetes version handling on kube-apiserver ${info.serverVersion}`, () => {
  it(`discovers policy/${modern ? 'v1' : 'v1beta1'} for evictions, as the RBAC-limited drainer`, async () => {
    expect(info.serverVersion).toMatch(modern ? /^v1\.32\./ : /^v1\.20\.2$/);

    expect(await drainer().evictionVersion()).toBe(modern ? 'v1' : 'v1beta1');
  });

  it('lists PDBs with their status through the served policy version', async () => {
    const { w, labels } = await webUnderPdb('v-pdbs', 3);

    const pdbs = await drainer().listPdbs(w.namespace);

    expect(pdbs).toEqual([
      expect.objectContaining({
        namespace: w.namespace,
        name: 'web',
        selector: { matchLabels: labels },
        disruptionsAllowed: 1,
        currentHealthy: 3,
        desiredHealthy: 2,
      }),
    ]);
  });

  it('reads one PDB as stored, with its version, through the served policy version; a deleted one is undefined', async () => {
    const { w } = await webUnderPdb('v-read-pdb', 2);
    const stored = await w.readPdb('web');

    const read = await drainer().readPdb(w.namespace, 'web');

    expect(read).toEqual(
      expect.objectContaining({ name: 'web', disruptionsAllowed: 1, currentHealthy: 2, desiredHealthy: 1 }),
    );
    expect(read?.resourceVersion).toBe(stored.metadata?.resourceVersion);
    await w.deletePdb('web');
    expect(await drainer().readPdb(w.namespace, 'web')).toBeUndefined();
  });

  it('refuses an unready pod under a PDB that allows no disruption (the default unhealthy-pod policy)', async () => {
    const { w, podKey } = await unreadyPodUnderPdb('v-unready');

    const report = await w.drain({ deadline: Date.now() + 2_500, onDeadline: 'continue' });

    expect(report.outcome).toBe('deadline-continued');
    expect(report.evicted).toEqual([]);
    expect(report.blocked).toEqual([expect.objectContaining({ pod: podKey, reason: 'pdb' })]);
    expect(report.remaining).toEqual([podKey]);
  });

  it(
    modern
      ? 'evicts an unready pod at once when its PDB says unhealthyPodEvictionPolicy: AlwaysAllow'
      : 'drops unhealthyPodEvictionPolicy (unknown before 1.26) and still refuses the unready pod',
    async () => {
      const { w, podKey } = await unreadyPodUnderPdb('v-always', {
        unhealthyPodEvictionPolicy: 'AlwaysAllow',
      });
      const stored = await w.readPdb('db');

      const report = await w.drain({
        deadline: Date.now() + (modern ? 30_000 : 2_500),
        onDeadline: 'continue',
      });

      if (modern) {
        expect(stored.spec?.unhealthyPodEvictionPolicy).toBe('AlwaysAllow');
        expect(report.outcome).toBe('drained');
        expect(report.evicted).toEqual([podKey]);
        expect(report.blocked).toEqual([]);
        expect(report.evictionRefusals).toBe(0);
        expect([...w.sim.terminations.values()].map((t) => `${t.namespace}/${t.name}`)).toEqual([podKey]);
      } else {
        expect(stored.spec?.unhealthyPodEvictionPolicy).toBeUndefined();
        expect(report.outcome).toBe('deadline-continued');
        expect(report.evicted).toEqual([]);
        expect(report.blocked).toEqual([expect.objectContaining({ pod: podKey, reason: 'pdb' })]);
        expect(w.sim.terminations.size).toBe(0);
      }
    },
  );
});
