import type { Workload } from '../../../scripts/harness/workload.js';

/**
 * Makes a scenario's node ready to drain: two replicas behind a PDB that lets one go at a time
 * (preStop `preStopSeconds`), and with `bare` a pod no controller owns. The caller creates the
 * scenario first, so it can dispose of it even when this fails.
 */
export async function fillReady(
  world: Workload,
  { preStopSeconds = 1, bare = true }: { readonly preStopSeconds?: number; readonly bare?: boolean } = {},
): Promise<Workload> {
  const labels = await world.deployment('web', 2, { preStopSeconds });
  await world.pdb('web', labels, { minAvailable: 1 });
  if (bare) await world.pod('bare');
  await world.waitRunning(bare ? 3 : 2);
  await world.waitPdb('web', (s) => s.disruptionsAllowed === 1);
  await world.openSpare();
  return world;
}

/** Makes a scenario's node hold one pod that no PDB lets go. */
export async function fillStuck(world: Workload): Promise<Workload> {
  const labels = await world.deployment('db', 1);
  await world.pdb('db', labels, { minAvailable: 1 });
  await world.waitRunning(1);
  await world.waitPdb('db', (s) => s.currentHealthy === 1);
  return world;
}
