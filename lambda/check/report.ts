/**
 * The checklist shape shared by the function's check mode and `npm run doctor`: one line per check,
 * ✔ pass / ⚠ warn / ✘ fail, and for a failure the exact command that fixes it.
 */

export type CheckStatus = 'pass' | 'warn' | 'fail';

export interface CheckLine {
  /** Stable id (the `--json` schema): e.g. `function.permissions.nodes`. */
  readonly id: string;
  readonly status: CheckStatus;
  /** One short sentence: what was checked and what was found. */
  readonly title: string;
  /** More facts (which pods, which nodes, for how long). */
  readonly details?: readonly string[];
  /** The exact command (or change) that fixes a failure or a warning. */
  readonly fix?: string;
}

/** What the function answers to a check request (`{ "eksNodeDrainer": { "check": true } }`). */
export interface FunctionCheckReport {
  readonly cluster: string;
  readonly checks: readonly CheckLine[];
}

export function line(
  id: string,
  status: CheckStatus,
  title: string,
  more: { readonly details?: readonly string[]; readonly fix?: string | undefined } = {},
): CheckLine {
  return {
    id,
    status,
    title,
    ...(more.details && more.details.length > 0 ? { details: more.details } : {}),
    ...(more.fix ? { fix: more.fix } : {}),
  };
}

/** The worst status of the lines (a fail beats a warn beats a pass). */
export function worst(lines: readonly CheckLine[]): CheckStatus {
  if (lines.some((l) => l.status === 'fail')) return 'fail';
  if (lines.some((l) => l.status === 'warn')) return 'warn';
  return 'pass';
}
