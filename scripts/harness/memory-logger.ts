import type { Logger } from '../../lambda/drain/ports.js';

export interface LogEntry {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly message: string;
  readonly data?: Record<string, unknown>;
}

/** A Logger that keeps every entry, for assertions. */
export function memoryLogger(entries: LogEntry[]): Logger {
  const at =
    (level: LogEntry['level']) =>
    (message: string, data?: Record<string, unknown>): void => {
      entries.push({ level, message, ...(data ? { data } : {}) });
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
