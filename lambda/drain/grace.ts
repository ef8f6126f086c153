/** The grace period of a drain with a hard end (a Spot interruption): pure, used by the drain loop. */
import type { PodSnapshot } from './model.js';
import type { GracePeriod } from './ports.js';

/** A clamped grace period is at least this: 0 would remove the pod object before the kubelet stops it. */
const MIN_GRACE_SECONDS = 1;

/**
 * The grace period to send with an eviction or deletion: none (the pod's own applies) without a hard
 * end or when the pod's own fits in the time left; else the whole seconds left, at least 1.
 */
export function clampedGrace(
  pod: Pick<PodSnapshot, 'gracePeriodSeconds'>,
  hardEnd: number | undefined,
  now: number,
): GracePeriod {
  if (hardEnd === undefined) return {};
  const left = Math.max(MIN_GRACE_SECONDS, Math.floor((hardEnd - now) / 1000));
  return pod.gracePeriodSeconds <= left ? {} : { gracePeriodSeconds: left };
}
