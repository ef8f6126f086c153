/**
 * Which invocations tell the notification topic: exactly the one that ends a node's job, so a drain
 * is told once however many invocations, notices and retries it took. An invocation that hands over
 * (`continued-in-new-invocation`), joins another's job (`joined`), or ran no drain says nothing; the
 * invocation that ends the job speaks for the notices that joined it.
 */
import type { NotifyOn } from '../contract.js';
import type { HandlerOutcome } from '../outcome.js';

/** What asked for the node's drain: a termination lifecycle action, or an EC2 notice. */
export type DrainTrigger = 'termination' | 'spot-interruption' | 'rebalance-recommendation';

/** How the node's job ended: every pod evicted in time, or anything less. */
export type DrainEnd = 'drained' | 'problem';

/**
 * The end of the node's job this invocation reached, or undefined when it reached none:
 * - `node-not-found` is a problem for a termination only: the instance goes and nothing was drained
 *   (a node that never joined, or node names the drainer cannot match); a notice for an instance
 *   without a node takes nothing away;
 * - `already-completed` with a drain report: the job drained, then found its own action completed
 *   or expired (the instance may have gone mid-drain); without one, the first heartbeat found the
 *   action gone and nothing ran: a repeated delivery, told by nobody (the AlreadyCompleted alarm
 *   covers the hook that timed out before its drain started);
 * - a Spot drain (`spot-interrupted`) is judged by its drain: all pods out before the hard end, or not.
 */
export function drainEnd(
  outcome: HandlerOutcome,
  drainOutcome: string | undefined,
  trigger: DrainTrigger,
): DrainEnd | undefined {
  switch (outcome) {
    case 'drained':
      return 'drained';
    case 'deadline-deleted':
    case 'deadline-continued':
    case 'deadline-abandoned':
    case 'action-expired':
      return 'problem';
    case 'spot-interrupted':
      return drainOutcome === 'drained' ? 'drained' : 'problem';
    case 'already-completed':
      return drainOutcome === undefined ? undefined : 'problem';
    case 'node-not-found':
      return trigger === 'termination' ? 'problem' : undefined;
    default:
      return undefined;
  }
}

/** `problems`: every end but a clean drain; `all`: every end. */
export function shouldNotify(end: DrainEnd | undefined, notifyOn: NotifyOn): boolean {
  return end === 'problem' || (end === 'drained' && notifyOn === 'all');
}
