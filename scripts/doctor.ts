/**
 * `npm run doctor -- --cluster <name>`: proves a deployed drainer end to end before a node needs it.
 * Read-only. The parts: doctor/args.ts (command line), doctor/aws.ts (AWS reads), doctor/checks.ts
 * (stack and node group lines), doctor/kube.ts + doctor/audit.ts (drainability audit), doctor/run.ts
 * (the order of the checks), doctor/render.ts (checklist or JSON); the function's side is
 * lambda/check/. Exit codes: 0 nothing broken (⚠ allowed), 1 something broken, 2 usage error.
 */

import { parseDoctorArgs, USAGE } from './doctor/args.js';
import { type DoctorReport, renderText } from './doctor/render.js';
import { runDoctor } from './doctor/run.js';
import { isEntryPoint } from './entry-point.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, explain } from './invoke/errors.js';
import { type Io, stdio } from './invoke/output.js';

export async function main(
  argv: readonly string[],
  io: Io = stdio,
  colour = process.stdout.isTTY === true && !process.env.NO_COLOR,
): Promise<number> {
  const parsed = parseDoctorArgs(argv);
  if (parsed.kind === 'help') {
    io.out(USAGE);
    return EXIT_OK;
  }
  if (parsed.kind === 'usage-error') {
    io.err(`doctor: ${parsed.message} (see --help)`);
    return EXIT_USAGE;
  }
  let report: DoctorReport;
  try {
    report = await runDoctor(parsed.options);
  } catch (error) {
    // a failure no check caught: one line, no stack trace
    io.err(`doctor: ${explain(error).message}`);
    return EXIT_FAILED;
  }
  io.out(parsed.options.json ? JSON.stringify(report, null, 2) : renderText(report, colour));
  if (report.error && parsed.options.json) io.err(`doctor: ${report.error}`);
  return report.ok ? EXIT_OK : EXIT_FAILED;
}

if (isEntryPoint(import.meta.url)) process.exitCode = await main(process.argv.slice(2));
