/** Every outcome an invocation reports (ARCHITECTURE.md, "Outcomes"; docs/outcomes-and-troubleshooting.md lists them all). */
import type { LifecycleRunReport } from './job/lifecycle.js';
import type { LostReport } from './job/lost.js';
import type { NoticeReport } from './job/notice.js';
import type { ScheduledReport } from './job/scheduled.js';
import type { WarmPoolReturnReport } from './job/warm-pool.js';

export type HandlerOutcome =
  | LifecycleRunReport['outcome']
  | NoticeReport['outcome']
  | WarmPoolReturnReport['outcome']
  /** An instance that went outside its group's lifecycle (lambda/job/lost.ts). */
  | LostReport['outcome']
  /** EC2 scheduled events (lambda/job/scheduled.ts). */
  | ScheduledReport['outcome']
  | 'ignored'
  | 'invalid-event'
  /** The event's Auto Scaling group is not one this drainer serves: nothing called (lambda/aws/groups.ts). */
  | 'foreign-auto-scaling-group';
