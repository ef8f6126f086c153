import { inject } from 'vitest';
import { Workload } from '../../../scripts/harness/workload.js';

/** A fresh namespace, target and spare node, and simulator on the e2e run's shared cluster. */
export function createScenario(prefix: string): Promise<Workload> {
  return Workload.create(inject('cluster'), prefix);
}
