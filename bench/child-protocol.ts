/** What a handler child (handler-child.ts) tells the scale-in benchmark (scale-in.ts), on its stdout. */
import type { InvocationSummary } from '../lambda/handler.js';
import type { RequestCounts } from './api-cost.js';

/** Starts the child's last line, the JSON of a HandlerChildResult. */
export const RESULT_PREFIX = 'BENCH_RESULT ';

export interface HandlerChildResult {
  readonly summary?: InvocationSummary;
  readonly error?: string;
  /** The handler's Kubernetes requests by kind. */
  readonly requests: RequestCounts;
  /** CPU seconds (user + system) of the invocation. */
  readonly cpuS: number;
  /** How late this process's event loop ran during the invocation, p99 ms. */
  readonly loopDelayP99Ms: number;
}
