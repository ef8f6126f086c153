/** The project's small error hierarchy: every error names itself and keeps its cause. */
export class DrainerError extends Error {
  override name = 'DrainerError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Configuration that cannot work; raised once, at start-up. */
export class ConfigError extends DrainerError {
  override name = 'ConfigError';
}

/** The cluster refused who we are (401) or what we asked (403), or could not be reached. */
export class ClusterAccessError extends DrainerError {
  override name = 'ClusterAccessError';
  /** The server's Retry-After (429 throttling, 503), a floor for the next attempt. */
  readonly retryAfterMs?: number;
  constructor(
    message: string,
    readonly status?: number,
    options?: { cause?: unknown; retryAfterMs?: number },
  ) {
    super(message, options);
    if (options?.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }
}

/** The message of anything thrown, for logs and reports. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
