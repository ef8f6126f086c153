import { errorMessage } from '../errors.js';
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

/**
 * The heartbeats of every lifecycle action a job answers for: the holder's own and those it adopted
 * from notices that joined. An action that expires after it was kept alive here means the instance
 * is going: `onExpired` runs once and every beat stops. An adopted action whose first beat finds it
 * gone was over before the holder took it (an old record's, or a hook that timed out meanwhile): it
 * is dropped, nothing more.
 */
export class Heartbeats {
  private readonly beats = new Map<string, { heartbeat: Heartbeat; running: Promise<void> }>();
  private readonly stop = new AbortController();
  /** An action kept alive here expired: the instance is going. */
  expired = false;

  constructor(
    private readonly intervalMs: number,
    private readonly deps: { readonly clock: Clock; readonly log: Logger },
    private readonly onExpired: () => void,
  ) {}

  /**
   * Keeps the action alive from now on. `heartbeat` when its first beat was already sent; else the
   * first beat goes now. Returns false when the action was already gone (dropped).
   */
  async add(id: string, lifecycle: LifecyclePort, heartbeat?: Heartbeat): Promise<boolean> {
    if (this.beats.has(id) || this.stop.signal.aborted) return true;
    let beat = heartbeat;
    if (!beat) {
      beat = new Heartbeat(lifecycle, this.intervalMs, this.deps);
      if ((await beat.beat()) === 'expired') {
        this.deps.log.warn('a joined lifecycle action was already completed or expired: dropped', {
          request: id,
        });
        return false;
      }
    }
    const running = beat.run(this.stop.signal, () => {
      if (this.expired) return;
      this.expired = true;
      this.deps.log.error('lifecycle action expired while draining: the instance is already going', {
        request: id,
      });
      this.onExpired();
      this.stop.abort();
    });
    this.beats.set(id, { heartbeat: beat, running });
    return true;
  }

  has(id: string): boolean {
    return this.beats.has(id);
  }

  async close(): Promise<void> {
    this.stop.abort();
    await Promise.all([...this.beats.values()].map((b) => b.running));
  }

  counts(): { readonly recorded: number; readonly failed: number } {
    let recorded = 0;
    let failed = 0;
    for (const { heartbeat } of this.beats.values()) {
      const c = heartbeat.counts();
      recorded += c.recorded;
      failed += c.failed;
    }
    return { recorded, failed };
  }
}
