/**
 * Applies the drainer's RBAC to the cluster for the stack, holding cluster-admin only while it works:
 * an EKS access entry with the cluster admin access policy for the applier's own role is created
 * first and removed last, whatever happened in between. Create and Update apply every object
 * (server-side apply: an unchanged object stays unchanged) and delete what the previous properties
 * held and these no longer do; Delete removes every object. An API the server does not serve (the
 * flowcontrol v1 objects before Kubernetes 1.29) is skipped and said so.
 */
import type { Clock, Logger } from '../drain/ports.js';
import { errorMessage } from '../errors.js';
import { isStatus, toApiFailure } from '../kube/api-error.js';
import { describe, leftBehind, type Manifest } from './manifests.js';

/** The applier's cluster access, through EKS access entries. */
export interface ClusterAccessPort {
  /** Creates the applier's access entry with the cluster admin policy (an existing entry is kept). */
  grant(): Promise<'granted' | 'no-cluster'>;
  /** Removes the applier's access entry and so its policy; a missing entry is fine. */
  revoke(): Promise<void>;
}

export interface ManifestApiPort {
  /** Whether the server serves this apiVersion (discovery). */
  served(apiVersion: string): Promise<boolean>;
  /** Server-side apply; what it did to the object. */
  apply(manifest: Manifest): Promise<'created' | 'changed' | 'unchanged'>;
  /** Deletes the object; `absent` when there was none. */
  remove(manifest: Manifest): Promise<'deleted' | 'absent'>;
}

export interface RbacReport {
  readonly created: string[];
  readonly changed: string[];
  readonly unchanged: string[];
  readonly deleted: string[];
  /** Not served by this server: `<object>: <apiVersion> not served`. */
  readonly skipped: string[];
}

export interface RbacDeps {
  readonly access: ClusterAccessPort;
  /** Connects once access is granted (a token signed before the grant may be cached as refused). */
  readonly api: () => Promise<ManifestApiPort>;
  readonly clock: Clock;
  readonly log: Logger;
  /** How long the first call may be refused while EKS propagates the new access entry. */
  readonly accessWaitMs: number;
}

/** EKS applies a new access entry within seconds; until then the server answers 401 or 403. */
export const ACCESS_WAIT_MS = 90_000;

export type RbacRequest =
  | {
      readonly action: 'apply';
      readonly manifests: readonly Manifest[];
      readonly before: readonly Manifest[];
    }
  | { readonly action: 'remove'; readonly manifests: readonly Manifest[] };

export async function applyRbac(deps: RbacDeps, request: RbacRequest): Promise<RbacReport> {
  const report: RbacReport = { created: [], changed: [], unchanged: [], deleted: [], skipped: [] };
  if ((await deps.access.grant()) === 'no-cluster') {
    // a stack removed after its cluster: nothing is left to remove
    if (request.action === 'remove') return { ...report, skipped: ['the cluster no longer exists'] };
    throw new Error('the EKS cluster does not exist');
  }
  deps.log.info('cluster access granted to the applier', {});
  let failure: unknown;
  try {
    const api = await deps.api();
    const untilAccess = deps.clock.now() + deps.accessWaitMs;
    // the first call waits for the access entry to take effect; every later one runs on it
    const call = async <T>(manifest: Manifest, fn: () => Promise<T>): Promise<T> => {
      try {
        return await whenAccessible(fn, untilAccess, deps);
      } catch (error) {
        const { status, message } = toApiFailure(error);
        throw new Error(`${describe(manifest)}: ${status ? `HTTP ${status}: ` : ''}${message}`, {
          cause: error,
        });
      }
    };
    if (request.action === 'apply') {
      for (const manifest of request.manifests) {
        if (!(await call(manifest, () => api.served(manifest.apiVersion)))) {
          report.skipped.push(`${describe(manifest)}: ${manifest.apiVersion} not served`);
          continue;
        }
        report[await call(manifest, () => api.apply(manifest))].push(describe(manifest));
      }
    }
    const removed =
      request.action === 'apply' ? leftBehind(request.before, request.manifests) : request.manifests;
    // bindings before roles, a namespace last: the reverse of the files' order
    for (const manifest of [...removed].reverse()) {
      if ((await call(manifest, () => api.remove(manifest))) === 'deleted')
        report.deleted.push(describe(manifest));
    }
  } catch (error) {
    failure = error;
  }
  try {
    await deps.access.revoke();
    deps.log.info('cluster access of the applier removed', {});
  } catch (error) {
    // the admin entry must not outlive the request unseen: the request fails and says so
    throw new Error(
      `${failure ? `${errorMessage(failure)}; and ` : ''}the applier's access entry could not be removed: ${errorMessage(error)}`,
    );
  }
  if (failure) throw failure;
  return report;
}

async function whenAccessible<T>(fn: () => Promise<T>, until: number, deps: RbacDeps): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (!isStatus(error, 401, 403) || deps.clock.now() >= until) throw error;
      deps.log.debug('access not in effect yet', { attempt });
      await deps.clock.sleep(Math.min(5_000, 500 * 2 ** attempt));
    }
  }
}
