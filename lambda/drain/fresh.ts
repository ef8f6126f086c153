/**
 * "Gone" must mean gone: a pod missing from a read counts as gone only if that read is at least as
 * new as the newest one the drain has seen. The drain asks the server for such reads (a list's
 * resourceVersion means "not older than"), and checks the answer too: a lagging server instance, a
 * cache or a proxy that answers with an older state is caught here instead of ending a drain early.
 *
 * resourceVersions are opaque to clients; etcd-backed servers (every EKS cluster) write etcd's
 * revision, a decimal number. Two such versions are compared as numbers; anything else cannot be
 * ordered and is trusted to the server's "not older than".
 */
import type { ResourceVersion } from './ports.js';

const DECIMAL = /^[0-9]{1,30}$/;

/** True only when both are decimal revisions and `a` is strictly older than `b`. */
export function olderThan(a: ResourceVersion | undefined, b: ResourceVersion | undefined): boolean {
  if (a === undefined || b === undefined || !DECIMAL.test(a) || !DECIMAL.test(b)) return false;
  // without leading zeros (as etcd writes them) the longer is the larger, and equal lengths compare as text
  if (a[0] !== '0' && b[0] !== '0') return a.length !== b.length ? a.length < b.length : a < b;
  return BigInt(a) < BigInt(b);
}

/** The newer of two versions (the first one known when they cannot be ordered). */
export function newest(
  a: ResourceVersion | undefined,
  b: ResourceVersion | undefined,
): ResourceVersion | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return olderThan(a, b) ? b : a;
}
