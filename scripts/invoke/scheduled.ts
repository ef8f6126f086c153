/**
 * `npm run invoke -- --scheduled-event START`: a hand-made AWS Health retirement event for the
 * instance, its window starting at START. A dry run unless --yes: the answer names the node that
 * would be cordoned and when its replacement would be requested; nothing is changed.
 */
import { scheduledHealthEvent } from '../../lambda/health-event.js';
import { invokeFunction, type RunResult } from './aws.js';
import { EXIT_FAILED, EXIT_OK } from './errors.js';
import { type LocalConfig, runLocally } from './local.js';
import type { Io } from './output.js';

/** Outcomes after which a scheduled event did what was asked. */
const DONE = new Set([
  'dry-run',
  'scheduled-replacement-planned',
  'scheduled-replacement-requested',
  'scheduled-event-cordoned',
]);

export async function invokeScheduledEvent(
  options: {
    readonly instanceId: string;
    readonly start: Date;
    readonly dryRun: boolean;
    readonly json: boolean;
  },
  runner:
    | { readonly kind: 'function'; readonly name: string }
    | { readonly kind: 'local'; readonly config: LocalConfig },
  region: string,
  io: Io,
): Promise<number> {
  const event = scheduledHealthEvent(options.instanceId, options.start, { region, dryRun: options.dryRun });
  const mode = options.dryRun ? 'dry run: nothing is cordoned or replaced' : 'NOT a dry run';
  io.err(
    `sending a scheduled retirement of instance ${options.instanceId} at ${options.start.toISOString()} (${mode}) …`,
  );
  const result: RunResult =
    runner.kind === 'function'
      ? await invokeFunction(runner.name, event, region)
      : await runLocally(runner.config, event, options.json, io);
  const outcome = result.summary?.outcome;
  const problem = result.functionError
    ? `the function failed: ${result.functionError.errorMessage}`
    : outcome === undefined || !DONE.has(outcome)
      ? `outcome ${outcome ?? 'unknown'} (see the log)`
      : undefined;
  if (options.json) io.out(JSON.stringify({ ...result.summary, ok: problem === undefined }));
  else {
    io.out(`${options.dryRun ? 'DRY RUN' : 'SCHEDULED EVENT'}  outcome: ${outcome ?? 'none'}`);
    for (const s of result.summary?.scheduled ?? []) {
      const replace = s.replaceAt ? `, replacement requested from ${s.replaceAt}` : '';
      io.out(`  ${s.instanceId}: ${s.result}${s.node ? ` (node ${s.node})` : ''}${replace}`);
    }
  }
  if (problem !== undefined) io.err(`invoke: ${problem}`);
  return problem === undefined ? EXIT_OK : EXIT_FAILED;
}
