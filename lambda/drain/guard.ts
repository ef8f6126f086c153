/**
 * A drain's calls under its caller's signal: once the signal aborts (the invocation must hand over,
 * or the lifecycle action is gone), no new request starts and none in flight is waited for.
 */

/** Thrown inside a run when its caller's signal aborts; the run reports outcome `stopped`. */
export class Stopped extends Error {
  override name = 'Stopped';
}

export class Guard {
  private readonly aborted: Promise<never>;

  constructor(readonly signal?: AbortSignal) {
    this.aborted = new Promise<never>((_, reject) => {
      if (!signal) return;
      if (signal.aborted) reject(new Stopped());
      else signal.addEventListener('abort', () => reject(new Stopped()), { once: true });
    });
    this.aborted.catch(() => {});
  }

  get stopped(): boolean {
    return this.signal?.aborted === true;
  }

  /**
   * Starts `call` unless the signal has aborted (then it is never started), and stops waiting for it
   * the moment the signal aborts: a hung request must not outlast the invocation.
   */
  run<T>(call: () => Promise<T>): Promise<T> {
    if (this.stopped) return Promise.reject(new Stopped());
    const started = call();
    if (!this.signal) return started;
    return Promise.race([started, this.aborted]);
  }
}

/** Rethrows a Stopped (the run ends), returns anything else for the caller to handle. */
export function unlessStopped(error: unknown): unknown {
  if (error instanceof Stopped) throw error;
  return error;
}
