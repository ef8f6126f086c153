/**
 * How the scale-in benchmark (scale-in.ts) runs its N handler invocations at once: as module
 * instances of lambda/handler.ts in this process (the default), or each in a process of its own
 * (handler-child.ts, `--scale-processes`). Each runner loads first and returns the call that invokes
 * them all, so loading is not timed.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import type { InvocationSummary } from '../lambda/handler.js';
import { countEksTokenRequests, type RequestCounts } from './api-cost.js';
import { type HandlerChildResult, RESULT_PREFIX } from './child-protocol.js';
import { bundleAsDeployed } from './cold-start.js';
import {
  type BenchEnv,
  CLUSTER_NAME,
  captureJsonLogs,
  cleanEnv,
  context,
  REPO_ROOT,
  removeOnCleanup,
} from './support.js';

type Handler = (event: unknown, context: unknown) => Promise<InvocationSummary>;

/** What the invocations left: their summaries (or how they failed), log lines, requests. */
export interface Invoked {
  readonly settled: readonly PromiseSettledResult<InvocationSummary>[];
  readonly logLines: readonly string[];
  readonly requests: RequestCounts;
  readonly startedAt: number;
  readonly loopDelayMs: { readonly p50: number; readonly p99: number };
  readonly drainsCpuS?: number;
}

/** The function's environment: the local AWS endpoint, the cluster's name. */
const functionEnv = (env: BenchEnv): Record<string, string> => ({
  ...env.aws.env(),
  CLUSTER_NAME,
  LOG_LEVEL: 'info',
});

/**
 * Loads one module instance of lambda/handler.ts per event (each its own config, SDK clients and
 * token source, like separate containers) in this process; the returned call invokes them at once.
 */
export async function inThisProcess(
  env: BenchEnv,
  events: readonly unknown[],
): Promise<() => Promise<Invoked>> {
  Object.assign(process.env, functionEnv(env));
  const url = pathToFileURL(join(REPO_ROOT, 'lambda', 'handler.ts')).href;
  const handlers = await Promise.all(
    events.map(async (_, i) => ((await import(`${url}?container=${i}`)) as { handler: Handler }).handler),
  );
  return async () => {
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    const requests = countEksTokenRequests();
    const logs = captureJsonLogs();
    const startedAt = Date.now();
    const settled = await Promise.allSettled(
      handlers.map((handler, i) => handler(events[i], context())),
    ).finally(() => {
      logs.restore();
      requests.stop();
      loop.disable();
    });
    return {
      settled,
      logLines: logs.lines,
      requests: requests.counts,
      startedAt,
      loopDelayMs: { p50: loop.percentile(50) / 1e6, p99: loop.percentile(99) / 1e6 },
    };
  };
}

/**
 * Starts one process per event (handler-child.ts, bundled as the function is) and waits until each
 * has loaded; the returned call tells them all to go and collects what they print.
 */
export async function inProcesses(
  env: BenchEnv,
  events: readonly unknown[],
): Promise<() => Promise<Invoked>> {
  const dir = mkdtempSync(join(tmpdir(), 'eks-node-drainer-handler-child-'));
  removeOnCleanup(dir);
  const file = join(dir, 'handler-child.mjs');
  await bundleAsDeployed(join(REPO_ROOT, 'bench', 'handler-child.ts'), file);
  const children = events.map((event) => {
    const child = spawn(process.execPath, ['--enable-source-maps', file], {
      env: cleanEnv({ ...functionEnv(env), BENCH_EVENT: JSON.stringify(event) }),
    });
    return { child, ...collect(child) };
  });
  await Promise.all(children.map((c) => c.ready));
  return async () => {
    const startedAt = Date.now();
    for (const { child } of children) child.stdin.write('go\n');
    const results = await Promise.all(children.map((c) => c.result));
    const p99s = results
      .flatMap((r) => (r.kind === 'ran' ? [r.result.loopDelayP99Ms] : []))
      .sort((a, b) => a - b);
    const requests: RequestCounts = {};
    for (const r of results) {
      if (r.kind !== 'ran') continue;
      for (const [kind, n] of Object.entries(r.result.requests)) requests[kind] = (requests[kind] ?? 0) + n;
    }
    return {
      settled: results.map((r): PromiseSettledResult<InvocationSummary> => {
        if (r.kind === 'ran' && r.result.summary) return { status: 'fulfilled', value: r.result.summary };
        return { status: 'rejected', reason: r.kind === 'ran' ? r.result.error : r.failure };
      }),
      logLines: children.flatMap((c) => c.logLines),
      requests,
      startedAt,
      loopDelayMs: { p50: p99s[Math.floor(p99s.length / 2)] ?? 0, p99: p99s.at(-1) ?? 0 },
      drainsCpuS: results.reduce((n, r) => n + (r.kind === 'ran' ? r.result.cpuS : 0), 0),
    };
  };
}

type ChildEnd = { kind: 'ran'; result: HandlerChildResult } | { kind: 'failed'; failure: string };

/** Reads a handler child's output: `ready`, its log lines, its result line (or how it failed). */
function collect(child: ChildProcessWithoutNullStreams): {
  ready: Promise<void>;
  result: Promise<ChildEnd>;
  logLines: string[];
} {
  const logLines: string[] = [];
  let stderr = '';
  let result: HandlerChildResult | undefined;
  let buffered = '';
  let isReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    isReady = resolve;
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4000);
  });
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      if (line === 'ready') isReady();
      else if (line.startsWith(RESULT_PREFIX)) result = JSON.parse(line.slice(RESULT_PREFIX.length));
      else if (line.startsWith('{')) logLines.push(line);
    }
  });
  const ended = new Promise<ChildEnd>((resolve) => {
    child.on('close', (code) => {
      isReady(); // one that died before it was ready still lets the others go
      resolve(result ? { kind: 'ran', result } : { kind: 'failed', failure: `exited ${code}: ${stderr}` });
    });
  });
  return { ready, result: ended, logLines };
}
