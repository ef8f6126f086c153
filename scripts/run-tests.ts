/**
 * `npm test` and `npm run test:e2e`: the unit project, then the e2e project once per Kubernetes
 * server, one vitest run after another (one control plane at a time on 2 cores), and a summary with
 * each run's wall time.
 *
 *   tsx scripts/run-tests.ts all|e2e [vitest arguments, e.g. a file filter]
 *
 * Servers: EKS_DRAINER_K8S (e.g. 1.32, or 1.20,1.32) if set; else 1.20.2 and v1.32, or 1.20.2 alone
 * when the v1.32 binaries are not on this machine (../shared/k8s-v1.32, EKS_DRAINER_K8S_132_DIR).
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type K8sVersion, k8s132Missing, parseK8sVersion } from './harness/cluster.js';

const REPO_ROOT = join(import.meta.dirname, '..');
const VITEST = join(REPO_ROOT, 'node_modules', '.bin', 'vitest');

interface Run {
  readonly label: string;
  readonly project: string;
  readonly env: Record<string, string>;
}

interface Result {
  readonly run: Run;
  readonly ok: boolean;
  readonly wallMs: number;
  readonly passed: number;
  readonly failed: number;
}

/** Which servers the e2e project runs on, said out loud when one is left out. */
function e2eServers(): K8sVersion[] {
  const chosen = process.env.EKS_DRAINER_K8S;
  if (chosen) {
    const versions = chosen.split(',').map((v) => parseK8sVersion(v.trim()));
    const missing = versions.includes('1.32') ? k8s132Missing() : undefined;
    if (missing) throw new Error(`EKS_DRAINER_K8S=${chosen}, but ${missing}`);
    return versions;
  }
  const missing = k8s132Missing();
  if (missing) {
    console.log(`[e2e] ${missing}: running e2e on 1.20.2 only`);
    return ['1.20'];
  }
  console.log('[e2e] running e2e on 1.20.2, then on v1.32');
  return ['1.20', '1.32'];
}

let interrupted = false;

function vitest(run: Run, args: readonly string[]): Promise<Result> {
  const started = Date.now();
  console.log(`\n[test] ${run.label}: vitest run --project ${run.project} ${args.join(' ')}`.trimEnd());
  const report = join(tmpdir(), `eks-node-drainer-${run.project}-${process.pid}.json`);
  const reporters = ['--reporter=default', '--reporter=json', `--outputFile.json=${report}`];
  const child = spawn(VITEST, ['run', '--project', run.project, ...reporters, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...run.env },
    stdio: 'inherit',
  });
  // vitest stops its cluster on a signal; the runs after this one are not started
  const forward = (signal: NodeJS.Signals): void => {
    interrupted = true;
    child.kill(signal);
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  return new Promise((resolvePromise) => {
    child.once('error', (error) => {
      console.error(`[test] ${run.label}: ${error.message}`);
    });
    child.once('close', (code) => {
      process.removeListener('SIGINT', forward);
      process.removeListener('SIGTERM', forward);
      resolvePromise({ run, ok: code === 0, wallMs: Date.now() - started, ...counts(report) });
    });
  });
}

/** Passed and failed tests of one run, from vitest's JSON report (none when it wrote none). */
function counts(file: string): { passed: number; failed: number } {
  try {
    const json = JSON.parse(readFileSync(file, 'utf8')) as {
      numPassedTests?: number;
      numFailedTests?: number;
    };
    rmSync(file, { force: true });
    return { passed: json.numPassedTests ?? 0, failed: json.numFailedTests ?? 0 };
  } catch {
    return { passed: 0, failed: 0 };
  }
}

async function main(): Promise<number> {
  const [suite = 'all', ...rest] = process.argv.slice(2);
  if (suite !== 'all' && suite !== 'e2e') throw new Error(`unknown suite '${suite}' (all or e2e)`);
  // a file filter meant for one project must not fail the others for finding nothing
  const args = rest.length > 0 ? ['--passWithNoTests', ...rest] : [];
  const runs: Run[] = [
    ...(suite === 'all' ? [{ label: 'unit', project: 'unit', env: {} }] : []),
    ...e2eServers().map((v) => ({
      label: `e2e on ${v === '1.20' ? '1.20.2' : 'v1.32'}`,
      project: `e2e-${v}`,
      env: { EKS_DRAINER_K8S: v },
    })),
  ];
  const results: Result[] = [];
  for (const run of runs) if (!interrupted) results.push(await vitest(run, args));

  console.log('\n[test] summary');
  for (const { run, ok, wallMs } of results) {
    const wall = `${(wallMs / 1000).toFixed(1)} s`.padStart(8);
    console.log(
      `[test]   ${run.label.padEnd(14)} ${run.project.padEnd(9)} ${ok ? 'passed' : 'FAILED'} ${wall}`,
    );
  }
  const passed = results.reduce((sum, r) => sum + r.passed, 0);
  const failed = results.reduce((sum, r) => sum + r.failed, 0);
  // the plain closing line: every run's tests together
  console.log(`\n${passed} passed, ${failed} failed`);
  return !interrupted && results.every((r) => r.ok) && passed > 0 ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`[test] ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
