/**
 * A scale-in's steps as its drains logged them: for each message, when each invocation first logged it
 * (from the first invocation), as median and slowest over the invocations that did. Shows where the
 * start-up (before the first eviction) and the tail (after the last pod is gone) spend their time.
 */
import { mdTable, median } from './support.js';

export interface LogStep {
  readonly message: string;
  /** Invocations that logged it. */
  readonly invocations: number;
  readonly medianMs: number;
  readonly maxMs: number;
}

/** `lines`: the invocations' JSON log lines (each with `time`, `message` and its `requestId`). */
export function logSteps(lines: readonly string[], startedAt: number): LogStep[] {
  const first = new Map<string, Map<string, number>>();
  for (const line of lines) {
    const { message, time, requestId } = JSON.parse(line) as {
      message?: string;
      time?: string;
      requestId?: string;
    };
    const at = Date.parse(time ?? '');
    if (!message || !requestId || !Number.isFinite(at)) continue;
    const byInvocation = first.get(message) ?? new Map<string, number>();
    first.set(message, byInvocation);
    if (!byInvocation.has(requestId)) byInvocation.set(requestId, at - startedAt);
  }
  return [...first]
    .map(([message, byInvocation]) => {
      const times = [...byInvocation.values()];
      return { message, invocations: times.length, medianMs: median(times), maxMs: Math.max(...times) };
    })
    .sort((a, b) => a.medianMs - b.medianMs);
}

/** The steps as a table, in the order of their median time. */
export function stepsTable(steps: readonly LogStep[]): string {
  const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
  return mdTable(
    [
      'Step the invocations logged (its first line)',
      'invocations',
      'median after the first invocation',
      'slowest',
    ],
    steps.map((step) => [`\`${step.message}\``, String(step.invocations), s(step.medianMs), s(step.maxMs)]),
    'lrrr',
  );
}
