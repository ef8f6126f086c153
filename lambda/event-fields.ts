/** Field checks shared by the event parsers: each throws `Invalid` naming the field and what it got. */

export type Json = Record<string, unknown>;

/** A field of the event that is missing or malformed; the parser turns it into outcome `invalid-event`. */
export class Invalid {
  constructor(
    readonly field: string,
    readonly problem: string,
  ) {}
}

export function object(value: unknown, field: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Invalid(field, `expected an object, got ${show(value)}`);
  }
  return value as Json;
}

/** A string field of `detail` matching `pattern`. */
export function text(detail: Json, field: string, pattern: RegExp, prefix = 'detail'): string {
  const value = detail[field];
  if (typeof value !== 'string' || !pattern.test(value)) {
    throw new Invalid(`${prefix}.${field}`, `expected a string matching ${pattern}, got ${show(value)}`);
  }
  return value;
}

/** The event's `time` (ISO 8601), when present. */
export function optionalTime(value: unknown): { time?: number } {
  if (value === undefined) return {};
  const time = typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(time)) throw new Invalid('time', `expected an ISO 8601 time, got ${show(value)}`);
  return { time };
}

export function show(value: unknown): string {
  const shown = value === undefined ? 'nothing' : JSON.stringify(value);
  return shown.length > 80 ? `${shown.slice(0, 80)}…` : shown;
}

/** An EC2 instance id as AWS writes it. */
export const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;
/** An Auto Scaling group name (no whitespace, no colon: names, not ARNs). */
export const GROUP_NAME = /^[^\s:]{1,255}$/u;
export const HOOK_NAME = /^[A-Za-z0-9\-_/.]{1,255}$/;
export const TOKEN = /^[A-Za-z0-9-]{1,64}$/;
