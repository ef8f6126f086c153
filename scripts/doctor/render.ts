/** What the doctor prints: the checklist for a person (colour on a TTY) or one JSON object. */
import { type CheckLine, type CheckStatus, worst } from '../../lambda/check/report.js';

export const SCHEMA = 'eks-node-drainer/doctor/v1';

export interface Section {
  readonly id: 'stack' | 'node-groups' | 'function' | 'audit';
  readonly title: string;
  readonly checks: readonly CheckLine[];
}

export interface DoctorReport {
  readonly schema: typeof SCHEMA;
  readonly cluster: string;
  readonly region: string;
  readonly ok: boolean;
  readonly counts: Readonly<Record<CheckStatus, number>>;
  readonly sections: readonly (Section & { readonly status: CheckStatus })[];
  /** Why the doctor could not run at all (no credentials, unknown cluster); then `sections` is empty. */
  readonly error?: string;
}

export function report(
  cluster: string,
  region: string,
  sections: readonly Section[],
  error?: string,
): DoctorReport {
  const all = sections.flatMap((s) => s.checks);
  const counts = { pass: 0, warn: 0, fail: 0 };
  for (const check of all) counts[check.status]++;
  return {
    schema: SCHEMA,
    cluster,
    region,
    ok: error === undefined && counts.fail === 0,
    counts,
    sections: sections.map((s) => ({ ...s, status: worst(s.checks) })),
    ...(error === undefined ? {} : { error }),
  };
}

const MARK: Record<CheckStatus, string> = { pass: '✔', warn: '⚠', fail: '✘' };
const COLOUR: Record<CheckStatus, string> = { pass: '\x1b[32m', warn: '\x1b[33m', fail: '\x1b[31m' };
const RESET = '\x1b[0m';
const DIM = '\x1b[2m';

const painter = (colour: boolean) => (status: CheckStatus, text: string) =>
  colour ? `${COLOUR[status]}${text}${RESET}` : text;

/** One line per check (its details and fix indented below it). */
export function renderChecks(checks: readonly CheckLine[], colour: boolean): string {
  const paint = painter(colour);
  const dim = (text: string) => (colour ? `${DIM}${text}${RESET}` : text);
  return checks
    .flatMap((check) => [
      `  ${paint(check.status, MARK[check.status])} ${check.title}`,
      ...(check.details ?? []).map((detail) => dim(`      ${detail}`)),
      ...(check.fix && check.status !== 'pass' ? [`      fix: ${check.fix}`] : []),
    ])
    .join('\n');
}

export function renderText(r: DoctorReport, colour: boolean): string {
  const paint = painter(colour);
  const out = [`eks-node-drainer doctor · cluster ${r.cluster} · ${r.region}`];
  if (r.error) out.push('', paint('fail', `${MARK.fail} ${r.error}`));
  r.sections.forEach((section, n) => {
    out.push('', `${n + 1}. ${section.title}`, renderChecks(section.checks, colour));
  });
  const { pass, warn, fail } = r.counts;
  out.push(
    '',
    `${paint('pass', `${pass} ${MARK.pass}`)}  ${paint('warn', `${warn} ${MARK.warn}`)}  ${paint('fail', `${fail} ${MARK.fail}`)}  → ${r.ok ? 'the drainer is ready' : 'fix the ✘ lines'}`,
  );
  return out.join('\n');
}
