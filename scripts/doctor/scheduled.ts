/** The doctor's line on EC2 scheduled events: the function's setting and the stack's two rules for it. */
import { type CheckLine, line } from '../../lambda/check/report.js';
import type { Config } from '../../lambda/config.js';
import type { RuleFacts } from './aws.js';

const ID = 'stack.scheduled-events';

/**
 * `rules`: the stack's AWS Health rule and schedule of replacements, as read (undefined: the stack
 * has none). `fix`: the deploy command that sets the stack's context.
 */
export function scheduledEventsLine(
  config: Pick<Config, 'onScheduledEvent' | 'scheduledEventLeadSeconds'>,
  rules: { readonly event?: RuleFacts; readonly sweep?: RuleFacts },
  fix: string,
): CheckLine {
  const setting = `ON_SCHEDULED_EVENT=${config.onScheduledEvent}`;
  if (config.onScheduledEvent === 'ignore') {
    return line(
      ID,
      'warn',
      `${setting}: nodes of instances AWS retires or stops go down undrained in their window`,
      {
        fix: `${fix} -c onScheduledEvent=replace`,
      },
    );
  }
  const missing = (rule: RuleFacts | undefined, what: string): CheckLine | undefined => {
    if (!rule) return line(ID, 'fail', `${setting} but the stack has no ${what}`, { fix });
    if (rule.state !== 'ENABLED')
      return line(ID, 'fail', `${setting} but the ${what} ${rule.name} is ${rule.state}`, {
        fix: `aws events enable-rule --name ${rule.name}`,
      });
    return undefined;
  };
  const problem =
    missing(rules.event, 'AWS Health rule: scheduled events never reach the drainer') ??
    (config.onScheduledEvent === 'replace'
      ? missing(rules.sweep, 'schedule of replacements: planned replacements are never requested')
      : undefined);
  if (problem) return problem;
  const when =
    config.onScheduledEvent === 'replace'
      ? `, replaced ${config.scheduledEventLeadSeconds} s before the window (SCHEDULED_EVENT_LEAD_SECONDS)`
      : ', cordoned only';
  return line(ID, 'pass', `EC2 scheduled events reach the drainer (${setting}${when})`);
}
