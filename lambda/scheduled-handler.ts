/**
 * The handler's part for an EC2 scheduled event (AWS Health) and the schedule's sweep of the
 * replacements due (lambda/job/scheduled.ts), apart from the composition root like lost-handler.ts.
 */
import { errorMessage } from './errors.js';
import type { ParsedEvent } from './event.js';
import type { InvocationSummary } from './handler.js';
import type { HandlerPartDeps } from './handler-parts.js';
import { runScheduledEvent, type ScheduledReport, sweepScheduledReplacements } from './job/scheduled.js';

export async function handleScheduled(
  parsed: Extract<ParsedEvent, { kind: 'scheduled' | 'scheduled-sweep' }>,
  { config, log, clock, wired, finish, failed }: HandlerPartDeps,
  began: number,
): Promise<InvocationSummary> {
  const settings = {
    action: config.onScheduledEvent,
    leadSeconds: config.scheduledEventLeadSeconds,
    dryRun: config.dryRun || (parsed.kind === 'scheduled' && parsed.dryRun === true),
  };
  const cluster = { cluster: config.clusterName };
  if (parsed.kind === 'scheduled')
    log.appendKeys({ eventArn: parsed.event.eventArn, eventTypeCode: parsed.event.eventTypeCode });
  try {
    const ports = (await wired()).forScheduled();
    const report: ScheduledReport =
      parsed.kind === 'scheduled'
        ? await runScheduledEvent(parsed.event, settings, ports, { clock, log })
        : await sweepScheduledReplacements(settings, ports, { clock, log });
    return finish(
      { outcome: report.outcome, lifecycleResult: null, scheduled: report.instances },
      began,
      cluster,
    );
  } catch (error) {
    // a Kubernetes or AutoScaling call failed: the async invocation retries (the sweep runs again anyway)
    log.error('invocation failed', { error: errorMessage(error) });
    failed(cluster);
    throw error;
  }
}
