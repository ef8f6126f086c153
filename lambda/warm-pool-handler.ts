/**
 * The handler's part for an instance back from the warm pool (lambda/job/warm-pool.ts), apart from the
 * composition root like lost-handler.ts.
 */
import { errorMessage } from './errors.js';
import type { WarmPoolLaunch } from './event.js';
import type { InvocationSummary } from './handler.js';
import type { HandlerPartDeps } from './handler-parts.js';
import { restoreFromWarmPool } from './job/warm-pool.js';

export async function handleWarmPoolLaunch(
  launch: WarmPoolLaunch,
  { config, log, clock, wired, finish, failed }: HandlerPartDeps,
  began: number,
): Promise<InvocationSummary> {
  const { instanceId, autoScalingGroupName, action } = launch;
  log.appendKeys({
    instanceId,
    asgName: autoScalingGroupName,
    ...(action ? { hookName: action.hookName } : {}),
  });
  const dimensions = { cluster: config.clusterName, autoScalingGroup: autoScalingGroupName };
  try {
    const wiring = await wired();
    if (!(await wiring.groups.serves(autoScalingGroupName))) {
      log.info('event ignored', { reason: `Auto Scaling group ${autoScalingGroupName} is not served` });
      return finish({ outcome: 'ignored', lifecycleResult: null }, began, dimensions);
    }
    const report = await restoreFromWarmPool(launch, wiring.forLaunch(launch), {
      log,
      clock,
      dryRun: config.dryRun,
    });
    if (report.node) log.appendKeys({ node: report.node });
    return finish({ outcome: report.outcome, lifecycleResult: report.lifecycleResult }, began, dimensions);
  } catch (error) {
    // completing the launch action failed after retries of the SDK: the async invocation retries the event
    log.error('invocation failed', { error: errorMessage(error) });
    failed(dimensions);
    throw error;
  }
}
