/**
 * Discovery: every Auto Scaling group of the cluster gets the drainer's termination hook, now and
 * later. Pure logic against a narrow port (HooksApi); lambda/reconciler/autoscaling.ts adapts it to the
 * AWS SDK. A hook is recorded as the reconciler's own by a tag on its group (written before the hook),
 * and only hooks so recorded are ever updated or removed.
 */
import { CREATED_HOOK_TAG_PREFIX, HOOK_TRANSITION } from '../contract.js';
import type { Clock, Logger } from '../drain/ports.js';
import { errorMessage } from '../errors.js';

export type Tags = Readonly<Record<string, string>>;

/** The hook every group of the cluster gets: the same as the named-group path's (infra/hooks.ts). */
export interface HookSpec {
  readonly hookName: string;
  readonly heartbeatTimeoutSeconds: number;
  readonly defaultResult: 'CONTINUE' | 'ABANDON';
}

export interface GroupView {
  readonly name: string;
  readonly tags: Tags;
}

export interface HookView {
  readonly transition: string;
  readonly heartbeatTimeoutSeconds: number;
  readonly defaultResult: string;
}

/** The only Auto Scaling calls the reconciler makes. */
export interface HooksApi {
  /** The groups tagged for the cluster (every page). */
  clusterGroups(): Promise<GroupView[]>;
  /** The groups carrying this tag with this value (every page). */
  groupsTagged(key: string, value: string): Promise<GroupView[]>;
  hook(group: string, hookName: string): Promise<HookView | undefined>;
  putHook(group: string, spec: HookSpec): Promise<void>;
  /** 'gone': there was no such hook (or group). */
  deleteHook(group: string, hookName: string): Promise<'deleted' | 'gone'>;
  tag(group: string, key: string, value: string): Promise<void>;
  untag(group: string, key: string): Promise<void>;
}

/** The tag recording that the reconciler of this cluster put the hook on a group. */
export function createdHookTag(clusterName: string): string {
  return `${CREATED_HOOK_TAG_PREFIX}${clusterName}`;
}

export interface ReconcileReport {
  /** Groups that got the hook now. */
  readonly put: string[];
  /** Groups whose (own) hook had other settings, now updated. */
  readonly updated: string[];
  /** Groups that already had the reconciler's hook as specified. */
  readonly unchanged: string[];
  /** Groups with a hook of that name the reconciler did not put: left alone. */
  readonly notOurs: string[];
  readonly failed: { readonly group: string; readonly error: string }[];
}

/** Puts the hook on every group of the cluster that lacks it; idempotent. A group's failure does not stop the others. */
export async function reconcile(
  api: HooksApi,
  clusterName: string,
  spec: HookSpec,
  log: Logger,
): Promise<ReconcileReport> {
  const report: ReconcileReport = { put: [], updated: [], unchanged: [], notOurs: [], failed: [] };
  const marker = createdHookTag(clusterName);
  for (const group of await api.clusterGroups()) {
    try {
      const ours = group.tags[marker] === spec.hookName;
      const hook = await api.hook(group.name, spec.hookName);
      if (hook && !ours) {
        report.notOurs.push(group.name);
        log.info('hook left alone: not put by the reconciler', {
          asgName: group.name,
          hookName: spec.hookName,
        });
      } else if (hook && matches(hook, spec)) {
        report.unchanged.push(group.name);
      } else {
        // the record comes first: a hook is never there without it
        if (!ours) await api.tag(group.name, marker, spec.hookName);
        await api.putHook(group.name, spec);
        (hook ? report.updated : report.put).push(group.name);
        log.info(hook ? 'hook updated' : 'hook put', { asgName: group.name, hookName: spec.hookName });
      }
    } catch (error) {
      report.failed.push({ group: group.name, error: errorMessage(error) });
      log.error('hook not reconciled', { asgName: group.name, error: errorMessage(error) });
    }
  }
  return report;
}

export interface RemoveReport {
  readonly removed: string[];
  readonly failed: { readonly group: string; readonly error: string }[];
}

/** Removes the hooks this cluster's reconciler put (by the record tag), then the record. */
export async function removeOwnHooks(
  api: HooksApi,
  clusterName: string,
  hookName: string,
  log: Logger,
): Promise<RemoveReport> {
  const report: RemoveReport = { removed: [], failed: [] };
  const marker = createdHookTag(clusterName);
  for (const group of await api.groupsTagged(marker, hookName)) {
    try {
      await api.deleteHook(group.name, hookName);
      await api.untag(group.name, marker);
      report.removed.push(group.name);
      log.info('hook removed', { asgName: group.name, hookName });
    } catch (error) {
      report.failed.push({ group: group.name, error: errorMessage(error) });
      log.error('hook not removed', { asgName: group.name, error: errorMessage(error) });
    }
  }
  return report;
}

/** How long the reconciler waits for a new managed node group's Auto Scaling group, and how often it looks. */
export const NODEGROUP_WAIT = { timeoutMs: 10 * 60_000, intervalMs: 20_000 } as const;

/**
 * CreateNodegroup returns before EKS has made the group's Auto Scaling group: look until a group of
 * the cluster tagged `eks:nodegroup-name=<name>` exists (true), or give up at the timeout (false).
 */
export async function waitForNodegroup(
  api: HooksApi,
  nodegroupName: string,
  clock: Clock,
  wait: { readonly timeoutMs: number; readonly intervalMs: number } = NODEGROUP_WAIT,
): Promise<boolean> {
  const deadline = clock.now() + wait.timeoutMs;
  for (;;) {
    const groups = await api.clusterGroups();
    if (groups.some((g) => g.tags['eks:nodegroup-name'] === nodegroupName)) return true;
    if (clock.now() + wait.intervalMs > deadline) return false;
    await clock.sleep(wait.intervalMs);
  }
}

function matches(hook: HookView, spec: HookSpec): boolean {
  return (
    hook.transition === HOOK_TRANSITION &&
    hook.heartbeatTimeoutSeconds === spec.heartbeatTimeoutSeconds &&
    hook.defaultResult === spec.defaultResult
  );
}
