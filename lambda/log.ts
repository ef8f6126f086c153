import type { LogLevel } from './config.js';
import type { Logger } from './drain/ports.js';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** One JSON object per line on stdout (CloudWatch keeps it as is); keys appended per invocation. */
export class JsonLogger implements Logger {
  private keys: Record<string, unknown> = {};

  constructor(
    private readonly level: LogLevel,
    private readonly write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
  ) {}

  /** Keys carried by every later line (instanceId, nodeName, asgName, …). */
  appendKeys(keys: Record<string, unknown>): void {
    this.keys = { ...this.keys, ...keys };
  }

  resetKeys(): void {
    this.keys = {};
  }

  debug = (message: string, data?: Record<string, unknown>): void => this.emit('debug', message, data);
  info = (message: string, data?: Record<string, unknown>): void => this.emit('info', message, data);
  warn = (message: string, data?: Record<string, unknown>): void => this.emit('warn', message, data);
  error = (message: string, data?: Record<string, unknown>): void => this.emit('error', message, data);

  /** A record written as it is, whatever the level (EMF metrics). */
  record(record: Record<string, unknown>): void {
    this.write(JSON.stringify(record));
  }

  private emit(level: LogLevel, message: string, data: Record<string, unknown> = {}): void {
    if (RANK[level] < RANK[this.level]) return;
    // level, time and message lead every line and cannot be overwritten by data
    const line = { level, time: new Date().toISOString(), message };
    this.write(JSON.stringify(Object.assign({}, line, this.keys, data, line)));
  }
}
