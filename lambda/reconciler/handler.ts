/**
 * Composition root of the discovery reconciler (its own Lambda, same package): puts the drainer's
 * termination hook on every Auto Scaling group of the cluster, at deploy (custom resource), on a
 * schedule and when CloudTrail reports a new group or node group; removes the hooks it put when the
 * stack goes (custom resource Delete). Ends every invocation with one `reconcile finished` log line.
 */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { loadReconcilerConfig, type ReconcilerConfig } from '../config.js';
import { respondToCloudFormation } from '../custom-resource.js';
import { type Clock, systemClock } from '../drain/ports.js';
import { errorMessage } from '../errors.js';
import { JsonLogger } from '../log.js';
import { AutoScalingHooks } from './autoscaling.js';
import { parseReconcilerEvent, type ReconcilerEvent } from './event.js';
import {
  type HooksApi,
  type ReconcileReport,
  type RemoveReport,
  reconcile,
  removeOwnHooks,
  waitForNodegroup,
} from './reconcile.js';

const config: ReconcilerConfig = loadReconcilerConfig(process.env);
const log = new JsonLogger(config.logLevel);
const clock: Clock = systemClock;
// Throttling is retried by the SDK (standard mode, backoff with jitter): up to 8 attempts per call.
const api: HooksApi = new AutoScalingHooks(
  new AutoScalingClient({
    maxAttempts: 8,
    requestHandler: { connectionTimeout: 3_000, requestTimeout: 10_000 },
  }),
  config.clusterName,
);
const spec = {
  hookName: config.hookName,
  heartbeatTimeoutSeconds: config.heartbeatTimeoutSeconds,
  defaultResult: config.defaultResult,
};

export interface ReconcilerSummary {
  readonly trigger: ReconcilerEvent['kind'];
  readonly reconciled?: ReconcileReport;
  readonly removed?: RemoveReport;
  readonly reason?: string;
}

export async function handler(event: unknown): Promise<ReconcilerSummary> {
  log.resetKeys();
  log.appendKeys({ cluster: config.clusterName, hookName: config.hookName });
  const parsed = parseReconcilerEvent(event);
  if (parsed.kind === 'custom-resource') return customResource(parsed);
  if (parsed.kind === 'ignored') return finish({ trigger: 'ignored', reason: parsed.reason });
  if (parsed.kind === 'nodegroup-created' && parsed.clusterName !== config.clusterName) {
    return finish({ trigger: 'ignored', reason: `node group of cluster ${parsed.clusterName ?? '(none)'}` });
  }
  let reconciled: ReconcileReport;
  try {
    if (parsed.kind === 'nodegroup-created' && parsed.nodegroupName) {
      // EKS makes the node group's Auto Scaling group minutes after CreateNodegroup returns
      if (!(await waitForNodegroup(api, parsed.nodegroupName, clock))) {
        log.warn('node group has no Auto Scaling group yet; the schedule will put its hook', {
          nodegroup: parsed.nodegroupName,
        });
      }
    }
    reconciled = await reconcile(api, config.clusterName, spec, log);
  } catch (error) {
    // the cluster's groups could not be listed: nothing was reconciled; Lambda retries the invocation
    log.error('reconcile failed', { trigger: parsed.kind, error: errorMessage(error) });
    throw error;
  }
  const summary = finish({ trigger: parsed.kind, reconciled });
  // a failure (after the SDK's retries) fails the invocation: Lambda retries it, the Errors alarm sees it
  if (reconciled.failed.length > 0) throw new Error(failures(reconciled.failed));
  return summary;
}

type CustomResourceEvent = Extract<ReconcilerEvent, { kind: 'custom-resource' }>;

/** Always answers CloudFormation (SUCCESS or FAILED with the reason): a silent failure hangs the stack for an hour. */
async function customResource(event: CustomResourceEvent): Promise<ReconcilerSummary> {
  let summary: ReconcilerSummary = { trigger: 'custom-resource' };
  let failure: string | undefined;
  try {
    if (event.requestType === 'Delete') {
      const removed = await removeOwnHooks(api, config.clusterName, event.hookName ?? config.hookName, log);
      summary = { ...summary, removed };
      if (removed.failed.length > 0) failure = failures(removed.failed);
    } else {
      const renamed = event.oldHookName !== undefined && event.oldHookName !== config.hookName;
      const removed = renamed
        ? await removeOwnHooks(api, config.clusterName, event.oldHookName, log)
        : undefined;
      const reconciled = await reconcile(api, config.clusterName, spec, log);
      summary = { ...summary, reconciled, ...(removed && { removed }) };
      const failed = [...(removed?.failed ?? []), ...reconciled.failed];
      if (failed.length > 0) failure = failures(failed);
    }
  } catch (error) {
    failure = errorMessage(error);
  }
  await respond(event, failure);
  return finish(summary, event.requestType);
}

function respond(event: CustomResourceEvent, failure: string | undefined): Promise<void> {
  return respondToCloudFormation(event, {
    ...(failure !== undefined && { failure }),
    success: 'hooks reconciled',
    physicalResourceId: `eks-node-drainer-hooks-${config.clusterName}`,
  });
}

function failures(failed: readonly { readonly group: string; readonly error: string }[]): string {
  return `hooks not reconciled on ${failed.length} group(s): ${failed.map((f) => `${f.group}: ${f.error}`).join('; ')}`;
}

function finish(summary: ReconcilerSummary, requestType?: string): ReconcilerSummary {
  const { reconciled, removed } = summary;
  const failed = [...(reconciled?.failed ?? []), ...(removed?.failed ?? [])];
  (failed.length > 0 ? log.error : log.info)('reconcile finished', {
    trigger: summary.trigger,
    ...(requestType && { requestType }),
    ...(summary.reason && { reason: summary.reason }),
    ...(reconciled && {
      put: reconciled.put,
      updated: reconciled.updated,
      unchanged: reconciled.unchanged.length,
      notOurs: reconciled.notOurs,
    }),
    ...(removed && { removed: removed.removed }),
    ...(failed.length > 0 && { failed }),
  });
  return summary;
}
