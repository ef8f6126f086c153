import { errorMessage } from './errors.js';
import type { InvocationSummary } from './handler.js';
import type { HandlerPartDeps } from './handler-parts.js';
import { runLostNode } from './job/lost.js';
import type { StateChange } from './state-change-event.js';

export async function handleStateChange(
  change: StateChange,
  { config, log, clock, wired, finish, failed }: HandlerPartDeps,
  began: number,
): Promise<InvocationSummary> {
  log.appendKeys({ instanceId: change.instanceId, instanceState: change.state });
  const cluster = { cluster: config.clusterName };
  if (config.onNodeLost === 'ignore') {
    // before any AWS call: the rule delivers every instance's state changes of the account
    log.info('event ignored', { reason: 'instance state changes are ignored (ON_NODE_LOST=ignore)' });
    return finish({ outcome: 'ignored', lifecycleResult: null }, began, cluster);
  }
  try {
    const report = await runLostNode(
      change,
      { dryRun: config.dryRun, now: clock.now() },
      (await wired()).forLost(),
      log,
    );
    log.appendKeys({
      ...(report.group ? { asgName: report.group } : {}),
      ...(report.node ? { node: report.node } : {}),
      ...(report.reason ? { reason: report.reason } : {}),
    });
    return finish(
      {
        outcome: report.outcome,
        lifecycleResult: null,
        ...(report.release ? { lostNode: report.release } : {}),
      },
      began,
      report.group ? { ...cluster, autoScalingGroup: report.group } : cluster,
    );
  } catch (error) {
    // EC2, AutoScaling or the cluster failed: the async invocation retries the event
    log.error('invocation failed', { error: errorMessage(error) });
    failed(cluster);
    throw error;
  }
}
