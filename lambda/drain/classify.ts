import type { PodSnapshot } from './model.js';

/** Priority classes whose pods leave only after every ordinary pod is gone. */
export const CRITICAL_PRIORITY_CLASSES: ReadonlySet<string> = new Set([
  'system-cluster-critical',
  'system-node-critical',
]);

export type SkipReason = 'daemonset' | 'mirror' | 'finished';
export type EvictWarning = 'bare-pod' | 'empty-dir';

export type Decision =
  | { readonly action: 'skip'; readonly reason: SkipReason }
  | { readonly action: 'wait'; readonly reason: 'terminating' }
  | { readonly action: 'evict'; readonly critical: boolean; readonly warnings: readonly EvictWarning[] };

export type PodDecision = Decision & { readonly pod: PodSnapshot };

/** A filter decides a pod's fate or has no opinion (undefined); the first opinion wins. */
type Filter = (pod: PodSnapshot) => Decision | undefined;

const mirrorPods: Filter = (pod) => (pod.mirror ? { action: 'skip', reason: 'mirror' } : undefined);

const daemonSetPods: Filter = (pod) =>
  pod.controller?.kind === 'DaemonSet' ? { action: 'skip', reason: 'daemonset' } : undefined;

const finishedPods: Filter = (pod) =>
  pod.phase === 'Succeeded' || pod.phase === 'Failed' ? { action: 'skip', reason: 'finished' } : undefined;

const terminatingPods: Filter = (pod) =>
  pod.terminating ? { action: 'wait', reason: 'terminating' } : undefined;

const FILTERS: readonly Filter[] = [mirrorPods, daemonSetPods, finishedPods, terminatingPods];

export function classifyPod(pod: PodSnapshot): PodDecision {
  for (const filter of FILTERS) {
    const decision = filter(pod);
    if (decision) return { ...decision, pod };
  }
  const warnings: EvictWarning[] = [];
  if (!pod.controller) warnings.push('bare-pod');
  if (pod.usesEmptyDir) warnings.push('empty-dir');
  return { action: 'evict', critical: isCritical(pod), warnings, pod };
}

export function isCritical(pod: PodSnapshot): boolean {
  return pod.priorityClassName !== undefined && CRITICAL_PRIORITY_CLASSES.has(pod.priorityClassName);
}
