/**
 * What the composition root (lambda/handler.ts) hands each part of the handler kept in a file of its
 * own (lost-handler.ts, scheduled-handler.ts, warm-pool-handler.ts): its config, logger, clock,
 * adapters and the common end of an invocation.
 */
import type { Config } from './config.js';
import type { Clock } from './drain/ports.js';
import type { Finish } from './handler.js';
import type { JsonLogger } from './log.js';
import type { MetricDimensions } from './metrics.js';
import type { Wiring } from './wiring.js';

export interface HandlerPartDeps {
  readonly config: Config;
  readonly log: JsonLogger;
  readonly clock: Clock;
  wired(): Promise<Wiring>;
  readonly finish: Finish;
  /** Counts a failed invocation (before it throws for the async retry). */
  failed(dimensions: MetricDimensions): void;
}
