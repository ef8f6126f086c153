import { errorMessage } from './drain.js';
import type { Clock, LifecyclePort, Logger } from './ports.js';

/**
 * Keeps the lifecycle action alive while the node drains: one heartbeat at once, then one every
 * interval on the injected clock. A heartbeat answered "No active Lifecycle Action" means the
 * instance is already going: the caller is told at once, and beating stops.
 */
export class Heartbeat {
  private recorded = 0;
  private failed = 0;
  expired = false;

  constructor(
    private readonly lifecycle: LifecyclePort,
    private readonly intervalMs: number,
    private readonly deps: { readonly clock: Clock; readonly log: Logger },
  ) {}

  async beat(): Promise<'recorded' | 'expired' | 'failed'> {
    try {
      const answer = await this.lifecycle.heartbeat();
      if (answer === 'expired') {
        this.expired = true;
        return 'expired';
      }
      this.recorded++;
      return 'recorded';
    } catch (error) {
      // throttled or unreachable: the next beat may get through; counted, logged, alarmed on
      this.failed++;
      this.deps.log.warn('heartbeat failed', { error: errorMessage(error), failures: this.failed });
      return 'failed';
    }
  }

  /** Beats every interval until `signal` aborts or the action expires (then `onExpired` runs). */
  async run(signal: AbortSignal, onExpired: () => void): Promise<void> {
    for (;;) {
      await this.deps.clock.sleep(this.intervalMs, signal);
      if (signal.aborted) return;
      if ((await this.beat()) === 'expired') {
        onExpired();
        return;
      }
    }
  }

  counts(): { readonly recorded: number; readonly failed: number } {
    return { recorded: this.recorded, failed: this.failed };
  }
}
