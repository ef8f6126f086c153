/** What `npm run invoke` prints: the summary for a person or as JSON, and whether the run did what was asked. */
import type { InvocationSummary } from '../../lambda/handler.js';
import { renderChecks } from '../doctor/render.js';
import type { RunResult } from './aws.js';
import { EXIT_FAILED, EXIT_OK, parseJson } from './errors.js';

/** Where the tool writes: `out` gets the result (text or JSON), `err` progress, warnings, errors. */
export interface Io {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

export const stdio: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

export function describe(base: {
  instanceId: string;
  autoScalingGroupName: string;
  hookName: string;
}): string {
  return `instance ${base.instanceId} (ASG ${base.autoScalingGroupName}, hook ${base.hookName})`;
}

export interface SummaryView extends RunResult {
  readonly instanceId: string;
  readonly autoScalingGroupName: string;
  readonly hookName: string;
  readonly dryRun: boolean;
  readonly force?: boolean;
  readonly eventTime: string;
  readonly mode: 'function' | 'local';
  readonly functionName?: string;
  readonly clusterName?: string;
}

/** Outcomes after which the drainer did what was asked. */
const DONE_OUTCOMES: ReadonlySet<string> = new Set([
  'drained',
  'node-not-found',
  'dry-run',
  'continued-in-new-invocation',
  'already-completed',
]);
const DONE_DRAINS: ReadonlySet<string> = new Set(['drained', 'node-not-found', 'dry-run', 'paused']);

/** The drainer's answer to a token-less event for an instance that is not terminating (and no force). */
const NOT_TERMINATING = 'instance-not-terminating';

/** Why the run counts as failed, in one line; undefined when it did what was asked. */
function problemOf(result: RunResult): string | undefined {
  const { summary, functionError } = result;
  if (functionError) {
    const type = functionError.errorType ? `${functionError.errorType}: ` : '';
    return `the function failed (${functionError.kind}): ${type}${functionError.errorMessage}`;
  }
  if (!summary) return 'no summary';
  const report = summary.report;
  if (
    report &&
    report.node === undefined &&
    report.outcome !== 'node-not-found' &&
    report.errors.length > 0
  ) {
    return `the cluster could not be reached: ${report.errors.slice(0, 3).join('; ')}`;
  }
  if (summary.outcome === 'invalid-event') return 'the drainer rejected the event as invalid (see its log)';
  if (summary.outcome === 'ignored') return 'the drainer ignored the event (see its log)';
  if ((summary.outcome as string) === NOT_TERMINATING) {
    return 'the drainer refused: the instance is not in Terminating:Wait (a hand-made event drains only a terminating instance; --force drains it anyway)';
  }
  if (!DONE_OUTCOMES.has(summary.outcome) || (report && !DONE_DRAINS.has(report.outcome))) {
    const blocked = report?.blocked.length ?? 0;
    return `the drain did not finish: outcome ${report?.outcome ?? summary.outcome}, ${blocked} pod(s) blocked`;
  }
  return undefined;
}

export function print(view: SummaryView, json: boolean, io: Io): number {
  const problem = problemOf(view);
  const exitCode = problem === undefined ? EXIT_OK : EXIT_FAILED;
  if (json) {
    const { summary, ...rest } = view;
    io.out(
      JSON.stringify({
        ...rest,
        ...(summary ?? {}),
        ok: problem === undefined,
        ...(problem === undefined ? {} : { problem }),
      }),
    );
  } else {
    for (const line of summaryText(view)) io.out(line);
  }
  if (problem !== undefined) io.err(`invoke: ${problem}`);
  return exitCode;
}

const LIST_LIMIT = 10;

/** The summary for a person: who, the outcome, the pods by fate, then the log tail. */
function summaryText(view: SummaryView): string[] {
  const where =
    view.mode === 'function' ? `function ${view.functionName}` : `local, cluster ${view.clusterName}`;
  const lines = [`${view.dryRun ? 'DRY RUN' : 'DRAIN'}  ${describe(view)} · ${where}`];
  const row = (label: string, value: string): void => {
    lines.push(`${`${label}:`.padEnd(17)} ${value}`);
  };
  const { summary, functionError } = view;
  if (functionError) {
    row(
      'function error',
      `${functionError.kind}: ${functionError.errorType ?? 'Error'}: ${functionError.errorMessage}`,
    );
  }
  if (summary) {
    row('outcome', summary.outcome);
    row('lifecycle result', summary.lifecycleResult ?? 'none sent');
    if (view.dryRun && summary.lifecycleResult !== null) {
      lines.push(`warning: a lifecycle result (${summary.lifecycleResult}) was sent during a dry run`);
    }
    const report = summary.report;
    if (report) {
      row('node', report.node ?? '(not found)');
      row(`${report.dryRun ? 'would evict' : 'evicted'} (${report.evicted.length})`, names(report.evicted));
      row(`skipped (${report.skipped.length})`, names(report.skipped.map((s) => `${s.pod} (${s.reason})`)));
      row(
        `blocked (${report.blocked.length})`,
        names(
          report.blocked.map((b) => {
            const pdbs = b.pdbs.map((p) => `${p.name} allows ${p.disruptionsAllowed}`).join(', ');
            return `${b.pod} (${b.reason}${pdbs ? `: ${pdbs}` : ''})`;
          }),
        ),
      );
      if (report.turns && report.turns.length > 0) {
        row(
          `would queue at (${report.turns.length})`,
          names(
            report.turns.map(
              (t) => `${t.pdb} (${t.behind.length === 0 ? 'first' : `behind ${t.behind.join(', ')}`})`,
            ),
          ),
        );
      }
      if (report.warnings.length > 0) {
        row(
          `warnings (${report.warnings.length})`,
          names(report.warnings.map((w) => `${w.pod} (${w.warning})`)),
        );
      }
      if (report.deleted.length > 0) row(`deleted (${report.deleted.length})`, names(report.deleted));
      if (report.remaining.length > 0) row(`remaining (${report.remaining.length})`, names(report.remaining));
      if (report.errors.length > 0) row(`errors (${report.errors.length})`, names(report.errors));
      row('duration', `${(report.durationMs / 1000).toFixed(1)} s since the lifecycle action began`);
    }
    const release = summary.release;
    const waitVerb = view.dryRun ? 'would wait for' : 'waited for';
    if (release?.loadBalancers) {
      const lb = release.loadBalancers;
      row(
        `${waitVerb} targets (${lb.seen.length})`,
        names(
          lb.seen.map(
            (t) => `${t.targetGroupArn.split(':').at(-1)} ${t.id}${t.port ? `:${t.port}` : ''} (${t.state})`,
          ),
        ),
      );
    }
    if (release?.volumes)
      row(`${waitVerb} volumes (${release.volumes.seen.length})`, names(release.volumes.seen));
    const note = problemOf(view) === undefined ? outcomeNote(summary, view.instanceId) : undefined;
    if (note) lines.push(note);
  }
  if (view.logTail !== undefined) {
    lines.push('log tail:');
    for (const line of view.logTail.split('\n')) if (line.trim()) lines.push(`  ${readableLogLine(line)}`);
  }
  return lines;
}

function outcomeNote(summary: InvocationSummary, instanceId: string): string | undefined {
  switch (summary.outcome) {
    case 'node-not-found':
      return `note: no node of the cluster runs on ${instanceId} (it never joined, or is already gone)`;
    case 'already-completed':
      return 'note: no lifecycle action was waiting for this instance (completed, expired, or the instance is not terminating)';
    case 'continued-in-new-invocation':
      return "note: the drain goes on in a new invocation; follow it in the function's logs";
    default:
      return undefined;
  }
}

function names(items: readonly string[]): string {
  if (items.length === 0) return '-';
  const shown = items.slice(0, LIST_LIMIT).join(', ');
  return items.length > LIST_LIMIT ? `${shown}, … and ${items.length - LIST_LIMIT} more` : shown;
}

/** The drainer's JSON log line as `time level message key=value …`; anything else as it is. */
export function readableLogLine(line: string): string {
  const start = line.indexOf('{');
  const parsed = start >= 0 ? parseJson(line.slice(start)) : undefined;
  if (
    typeof parsed !== 'object' ||
    parsed === null ||
    typeof (parsed as { message?: unknown }).message !== 'string'
  ) {
    return line;
  }
  const { level, time, message, cluster, requestId, instanceId, asgName, hookName, ...data } =
    parsed as Record<string, unknown>;
  const clock = typeof time === 'string' ? time.slice(11, 23) : '';
  const keys = Object.entries(data)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${clock} ${String(level ?? '').padEnd(5)} ${String(message)}${keys ? ` ${keys}` : ''}`;
}

/** The function's answer to a check request: its check lines; exit 1 when one failed or the function did. */
export function printCheck(result: RunResult, json: boolean, io: Io): number {
  const checks = result.summary?.check?.checks;
  const problem = result.functionError
    ? `the function failed (${result.functionError.kind}): ${result.functionError.errorMessage}`
    : checks
      ? undefined
      : `the function does not answer check requests (outcome ${result.summary?.outcome}): an older drainer?`;
  const failed = problem !== undefined || (checks ?? []).some((c) => c.status === 'fail');
  if (json) {
    io.out(JSON.stringify({ ok: !failed, ...(problem ? { problem } : {}), checks: checks ?? [] }, null, 2));
  } else {
    if (checks) io.out(renderChecks(checks, process.stdout.isTTY === true && !process.env.NO_COLOR));
    if (problem) io.out(`✘ ${problem}`);
    if (result.logTail && failed) io.out(`\nlog tail:\n${result.logTail}`);
  }
  return failed ? EXIT_FAILED : EXIT_OK;
}

/** `--instance-state`: the outcome, the reason or what was done to the node, and the log tail on failure. */
export function printState(result: RunResult, json: boolean, io: Io): number {
  const summary = result.summary;
  const failed = result.functionError !== undefined || summary === undefined;
  if (json) {
    io.out(JSON.stringify({ ok: !failed, ...(summary ?? {}), ...(result.functionError ?? {}) }, null, 2));
  } else if (result.functionError) {
    io.out(`✘ the function failed (${result.functionError.kind}): ${result.functionError.errorMessage}`);
  } else if (summary) {
    io.out(`outcome: ${summary.outcome}${summary.lostNode ? ` ${JSON.stringify(summary.lostNode)}` : ''}`);
  }
  if (result.logTail && failed && !json) io.out(`\nlog tail:\n${result.logTail}`);
  return failed ? EXIT_FAILED : EXIT_OK;
}
