import { backoffDelay } from '../drain/concurrency.js';
import { errorMessage } from '../errors.js';
import type { Clock, LifecyclePort, LifecycleResult, Logger } from './ports.js';

const COMPLETE_ATTEMPTS = 5;

/** Throttling and transient failures are retried; after the last attempt the error propagates. */
export async function completeWithRetry(
  lifecycle: LifecyclePort,
  result: LifecycleResult,
  deps: { readonly clock: Clock; readonly log: Logger },
): Promise<'completed' | 'already-completed'> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await lifecycle.complete(result);
    } catch (error) {
      if (attempt >= COMPLETE_ATTEMPTS) throw error;
      deps.log.warn('complete lifecycle action failed; retrying', { attempt, error: errorMessage(error) });
      await deps.clock.sleep(backoffDelay(attempt, { initialMs: 500, maxMs: 8_000 }, deps.clock.random));
    }
  }
}
