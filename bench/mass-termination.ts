/**
 * Mass terminations (issue 9, item 5): more nodes terminate at once than there are Lambda executions.
 * N lifecycle events fired at once at a pool of P < N in-process executions of the real handler; each
 * execution is its own module instance of lambda/handler.ts (a Lambda "container", loaded once and
 * reused for the events it takes), and an event waits in a queue for a free execution, as a throttled
 * asynchronous Lambda event does. Nobody heartbeats a queued event's lifecycle action, so the hook's
 * heartbeat timeout decides whether the action is still alive when its drain starts.
 *
 * Two scenarios, one after the other on the same local control plane (so that they never share the
 * 2 cores), each with N fresh nodes and lifecycle actions that expire as AWS's do:
 *   (b) derived: heartbeat timeout = 2 × DRAIN_TIMEOUT_SECONDS, the stack's rule scaled down;
 *   (a) naive:   heartbeat timeout = the median drain measured in (b), i.e. shorter than the queue wait.
 * (b) runs first because it measures the drain duration that (a)'s timeout is set to.
 *
 *   npx tsx bench/mass-termination.ts [--k8s 1.20|1.32] [--nodes 12] [--pool 4]
 *
 * Prints progress and a Markdown table; writes bench/results/mass-termination-<date>.md. Figures are
 * reported, never asserted. Stops everything it started, also on Ctrl-C, and gives up after 8 minutes.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { CoreV1Api } from '@kubernetes/client-node';
import { Duration } from 'aws-cdk-lib';
import { nodesDrainableAtOnce } from '../infra/settings.js';
import type { InvocationContext, InvocationSummary } from '../lambda/handler.js';
import type { LifecycleActionState } from '../scripts/harness/aws-endpoint.js';
import { defaultK8sVersion, kubeConfigFor, parseK8sVersion } from '../scripts/harness/cluster.js';
import { SharedWorld } from '../scripts/harness/shared-world.js';
import {
  type BenchEnv,
  CLUSTER_NAME,
  captureJsonLogs,
  cleanUp,
  codeRevision,
  context,
  elapsedMs,
  isInterrupted,
  lifecycleEvent,
  machineDescription,
  mdTable,
  median,
  type PdbCheck,
  PRESTOP_SECONDS,
  pdbCheck,
  progress,
  REPO_ROOT,
  runProcess,
  type Section,
  seconds,
  startEnv,
  stopOnInterrupt,
} from './support.js';

/** Deployments spread over the nodes, one replica of each on every node: the pods per node. */
const DEPLOYMENTS = 4;
const DRAIN_TIMEOUT_SECONDS = 30;
const HEARTBEAT_INTERVAL_SECONDS = 1;
/** A late drain still offers each pod this long before the deadline policy (capped at the drain timeout). */
const MIN_EVICTION_WINDOW_SECONDS = 30;
/** (a)'s timeout if (b) drained no node to take a drain's duration from. */
const NAIVE_FALLBACK_SECONDS = 5;
/** The whole run gives up after this (setup included). */
const RUN_LIMIT_MS = 8 * 60_000;
/** Each invocation's Lambda time limit, as its context reports it. */
const INVOCATION_LIMIT_MS = 300_000;

type Handler = (event: unknown, context: InvocationContext) => Promise<InvocationSummary>;

export interface Scenario {
  readonly key: 'naive' | 'derived';
  readonly title: string;
  readonly heartbeatTimeoutSeconds: number;
  /** How the timeout was chosen. */
  readonly why: string;
}

/** One lifecycle event's way through the queue. */
export interface EventRun {
  readonly index: number;
  readonly node: string;
  readonly token: string;
  readonly firedAt: number;
  pickedAt?: number;
  returnedAt?: number;
  worker?: number;
  outcome?: string;
  error?: string;
  /** The invocation's first RecordLifecycleActionHeartbeat reached the endpoint. */
  firstHeartbeatAt?: number;
  /** What became of the action (AWS's view): completed, expired before or during the drain. */
  fate?: 'CONTINUE' | 'ABANDON' | 'expired before drain' | 'expired mid-drain' | 'still active';
  expiredAt?: number;
}

export interface ScenarioResult {
  readonly scenario: Scenario;
  readonly nodes: number;
  readonly pool: number;
  readonly podsPerNode: number;
  readonly events: readonly EventRun[];
  readonly wallMs: number;
  /** Wall time of each invocation that drained its node (outcome drained). */
  readonly drainMs: readonly number[];
  readonly longestWaitMs: number;
  readonly expiredBeforeDrain: number;
  readonly expiredMidDrain: number;
  readonly completedContinue: number;
  readonly outcomes: Record<string, number>;
  /** EMF metric values the handlers emitted (AlreadyCompleted, ActionExpired, HeartbeatFailures). */
  readonly alarmedMetrics: Record<string, number>;
  /** Pods still running on nodes whose instance went without a drain (the cost of an expiry). */
  readonly podsLeftUndrained: number;
  readonly pdb: PdbCheck;
  readonly errors: readonly string[];
  readonly predicted: number;
}

export interface MassTerminationResult {
  readonly naive: ScenarioResult;
  readonly derived: ScenarioResult;
}

/**
 * Both scenarios on a running environment: (b) derived first, whose median drain sets (a)'s timeout.
 * For bench/run.ts: `massTerminationSection(await runMassTermination(env))`.
 */
export async function runMassTermination(
  env: BenchEnv,
  { nodes = 12, pool = 4 }: { readonly nodes?: number; readonly pool?: number } = {},
): Promise<MassTerminationResult> {
  if (!(Number.isInteger(nodes) && Number.isInteger(pool) && pool >= 1 && nodes > pool))
    throw new Error(`nodes must be more than pool (both whole numbers), got ${nodes} and ${pool}`);
  const derived = await runScenario(env, nodes, pool, {
    key: 'derived',
    title: '(b) derived hook',
    heartbeatTimeoutSeconds: 2 * DRAIN_TIMEOUT_SECONDS,
    why: `2 × DRAIN_TIMEOUT_SECONDS ${DRAIN_TIMEOUT_SECONDS} s (the stack's rule, scaled down)`,
  });
  // "about one drain": the drain (b) measured, in whole seconds as a hook's timeout is
  const measured = median(derived.drainMs);
  const naive = await runScenario(env, nodes, pool, {
    key: 'naive',
    title: '(a) naive hook',
    heartbeatTimeoutSeconds: Number.isFinite(measured)
      ? Math.max(2, Math.round(measured / 1000))
      : NAIVE_FALLBACK_SECONDS,
    why: Number.isFinite(measured)
      ? `≈ one drain: the median drain of (b), ${seconds(measured)}, rounded`
      : `(b) drained no node to measure: ${NAIVE_FALLBACK_SECONDS} s`,
  });
  return { naive, derived };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      k8s: { type: 'string' },
      nodes: { type: 'string', default: '12' },
      pool: { type: 'string', default: '4' },
    },
  });
  const version = values.k8s ? parseK8sVersion(values.k8s) : defaultK8sVersion();
  stopOnInterrupt();
  setTimeout(() => {
    progress(`mass termination: still running after ${seconds(RUN_LIMIT_MS)}: giving up`);
    void cleanUp().finally(() => process.exit(2));
  }, RUN_LIMIT_MS).unref(); // fires only if something still keeps the process alive
  const startedAt = new Date();
  const code = await codeRevision('bench/mass-termination.ts');

  progress(`starting the local control plane (EKS token webhook, etcd, kube-apiserver ${version})`);
  const env = await startEnv(version);
  progress(`control plane ready at ${env.cluster.server} (${env.serverVersion})`);
  const result = await runMassTermination(env, { nodes: Number(values.nodes), pool: Number(values.pool) });
  await env.stop();

  const date = startedAt.toLocaleDateString('sv'); // YYYY-MM-DD, local time
  const args = process.argv.slice(2).join(' ');
  const markdown = `# Mass terminations, ${date}

\`npx tsx bench/mass-termination.ts${args ? ` ${args}` : ''}\` started ${startedAt.toISOString()}; total wall time ${(elapsedMs() / 60_000).toFixed(1)} min.
Figures are measured and reported, never asserted.

## Machine

${mdTable(
  ['', ''],
  Object.entries({
    'Code measured': code,
    ...withoutKubectl(machineDescription(env.serverVersion, '')),
  }).map(([k, v]) => [k, v]),
)}

${massTerminationSection(result).details}
`;
  const dir = join(REPO_ROOT, 'bench', 'results');
  const file = join(dir, `mass-termination-${date}.md`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, markdown);
  await runProcess(join(REPO_ROOT, 'node_modules', '.bin', 'biome'), ['format', '--write', file]);
  console.log(`\n${readFileSync(file, 'utf8')}`);
  progress(`results written to bench/results/mass-termination-${date}.md`);
}

// ---- one scenario -----------------------------------------------------------------------------

async function runScenario(
  env: BenchEnv,
  count: number,
  pool: number,
  scenario: Scenario,
): Promise<ScenarioResult> {
  const core = kubeConfigFor(env.cluster, 'admin').makeApiClient(CoreV1Api);
  progress(
    `${scenario.title}: ${count} nodes × ${DEPLOYMENTS} pods (${DEPLOYMENTS} Deployments × ${count}, PDB maxUnavailable 1), ` +
      `hook heartbeat timeout ${scenario.heartbeatTimeoutSeconds} s, ${pool} executions`,
  );
  const world = await SharedWorld.create(env.cluster, `mass-${scenario.key}`, {
    nodes: count,
    deployments: DEPLOYMENTS,
    preStopSeconds: PRESTOP_SECONDS,
  });
  const { namespace, nodes, sim } = world;
  const asg = `${namespace}-asg`;
  try {
    const monitors = Array.from({ length: DEPLOYMENTS }, (_, d) =>
      sim.monitor(namespace, { app: `shared-${d}` }),
    );
    const handlers = await loadHandlers(env, scenario.key, pool);
    await world.openSpare();

    // the ASG starts terminating all N instances at once: N actions, N events, one queue
    const actions = nodes.map((node) => {
      env.aws.instances.set(node.instanceId, node.name);
      return env.aws.addLifecycleAction({
        token: randomUUID(),
        autoScalingGroupName: asg,
        hookName: 'eks-node-drainer',
        instanceId: node.instanceId,
        heartbeatTimeoutSeconds: scenario.heartbeatTimeoutSeconds,
        defaultResult: 'CONTINUE',
      });
    });
    const logs = captureJsonLogs();
    const firedAt = Date.now();
    const events: EventRun[] = actions.map((action, index) => ({
      index,
      node: nodes[index]?.name ?? '',
      token: action.token,
      firedAt,
    }));
    const payloads = actions.map((action) => lifecycleEvent(action));
    progress(`${scenario.title}: ${count} events fired at ${pool} executions`);
    let next = 0;
    const worker = async (w: number, handler: Handler): Promise<void> => {
      for (let i = next++; i < count; i = next++) {
        const run = events[i] as EventRun;
        run.worker = w;
        run.pickedAt = Date.now();
        try {
          run.outcome = (await handler(payloads[i], context(INVOCATION_LIMIT_MS))).outcome;
        } catch (error) {
          run.outcome = 'threw';
          run.error = error instanceof Error ? error.message : String(error);
        }
        run.returnedAt = Date.now();
      }
    };
    await Promise.all(handlers.map((handler, w) => worker(w, handler))).finally(() => logs.restore());
    const wallMs = Math.max(...events.map((e) => e.returnedAt ?? firedAt)) - firedAt;
    progress(`${scenario.title}: all ${count} events handled after ${seconds(wallMs)}`);

    for (const [i, run] of events.entries()) fate(env, run, actions[i] as LifecycleActionState);
    const undrained = new Set(events.filter((e) => e.outcome !== 'drained').map((e) => e.node));
    const podsLeft = (await core.listNamespacedPod({ namespace })).items.filter(
      (p) => undrained.has(p.spec?.nodeName ?? '') && !p.metadata?.deletionTimestamp,
    ).length;
    const tally = (values: readonly string[]): Record<string, number> =>
      Object.fromEntries([...new Set(values)].map((v) => [v, values.filter((x) => x === v).length]));
    return {
      scenario,
      nodes: count,
      pool,
      podsPerNode: DEPLOYMENTS,
      events,
      wallMs,
      drainMs: events
        .filter((e) => e.outcome === 'drained')
        .map((e) => (e.returnedAt ?? 0) - (e.pickedAt ?? 0)),
      longestWaitMs: Math.max(...events.map((e) => (e.pickedAt ?? firedAt) - e.firedAt)),
      expiredBeforeDrain: events.filter((e) => e.fate === 'expired before drain').length,
      expiredMidDrain: events.filter((e) => e.fate === 'expired mid-drain').length,
      completedContinue: events.filter((e) => e.fate === 'CONTINUE').length,
      outcomes: tally(events.map((e) => e.outcome ?? 'none')),
      alarmedMetrics: emfSums(logs.lines, ['AlreadyCompleted', 'ActionExpired', 'HeartbeatFailures']),
      podsLeftUndrained: podsLeft,
      pdb: pdbCheck(
        monitors.map((m) => m.minHealthy),
        count - 1,
      ),
      errors: [...events.flatMap((e) => (e.error ? [`invocation threw: ${e.error}`] : [])), ...sim.failures],
      predicted: nodesDrainableAtOnce(
        pool,
        Duration.seconds(scenario.heartbeatTimeoutSeconds),
        Duration.seconds(DRAIN_TIMEOUT_SECONDS),
      ),
    };
  } finally {
    await world.dispose();
  }
}

/** What AWS made of the event's action: completed (with what), or expired before or during its drain. */
function fate(env: BenchEnv, run: EventRun, action: LifecycleActionState): void {
  const state = env.aws.actionState(action.token) ?? action;
  run.firstHeartbeatAt = env.aws
    .callsOf('autoscaling', 'RecordLifecycleActionHeartbeat')
    .find((c) => c.params.LifecycleActionToken === action.token)?.at;
  if (state.result === 'CONTINUE' || state.result === 'ABANDON') run.fate = state.result;
  else if (state.expiredAt !== undefined) {
    run.expiredAt = state.expiredAt;
    // the drain starts with its first heartbeat: an action gone by then was never drained
    const start = run.firstHeartbeatAt ?? run.pickedAt ?? Number.POSITIVE_INFINITY;
    run.fate = state.expiredAt <= start ? 'expired before drain' : 'expired mid-drain';
  } else run.fate = 'still active';
}

// ---- the Lambda side: containers --------------------------------------------------------------

/**
 * `pool` module instances of lambda/handler.ts: one per execution, each reused for the events it
 * takes. The SDK's settings (local endpoints, test credentials) stay in process.env, as scale-in.ts
 * leaves them: the SDK reads them at its first call. The drainer's own settings are read once, when
 * the module loads (as at a cold start), and are put back after, so that handlers another benchmark
 * loads in the same process never see them.
 */
async function loadHandlers(env: BenchEnv, scenario: string, pool: number): Promise<Handler[]> {
  Object.assign(process.env, env.aws.env(), { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' });
  const drainer: Record<string, string> = {
    CLUSTER_NAME,
    LOG_LEVEL: 'info',
    DRAIN_TIMEOUT_SECONDS: String(DRAIN_TIMEOUT_SECONDS),
    HEARTBEAT_INTERVAL_SECONDS: String(HEARTBEAT_INTERVAL_SECONDS),
    MIN_EVICTION_WINDOW_SECONDS: String(MIN_EVICTION_WINDOW_SECONDS),
  };
  const before = Object.fromEntries(Object.keys(drainer).map((k) => [k, process.env[k]]));
  Object.assign(process.env, drainer);
  const url = pathToFileURL(join(REPO_ROOT, 'lambda', 'handler.ts')).href;
  try {
    return await Promise.all(
      Array.from({ length: pool }, async (_, i) => {
        const module = (await import(`${url}?mass=${scenario}-${i}`)) as { handler: Handler };
        return module.handler;
      }),
    );
  } finally {
    for (const [key, value] of Object.entries(before)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

/** Sums of the named metrics over the Embedded Metric Format records among the log lines. */
function emfSums(lines: readonly string[], names: readonly string[]): Record<string, number> {
  const sums = Object.fromEntries(names.map((n) => [n, 0]));
  for (const line of lines) {
    const record = JSON.parse(line) as Record<string, unknown>;
    if (!record._aws) continue;
    for (const name of names)
      if (typeof record[name] === 'number') sums[name] = (sums[name] ?? 0) + (record[name] as number);
  }
  return sums;
}

/** The machine description without its kubectl row (no kubectl runs here). */
function withoutKubectl(machine: Record<string, string>): Record<string, string> {
  const { kubectl: _, ...rest } = machine;
  return rest;
}

// ---- report -------------------------------------------------------------------------------------

function resultTable(results: readonly ScenarioResult[]): string {
  const list = (counts: Record<string, number>): string =>
    Object.entries(counts)
      .sort(([, a], [, b]) => b - a)
      .map(([k, n]) => `${k} ×${n}`)
      .join(', ') || 'none';
  const rows: [string, (r: ScenarioResult) => string][] = [
    ['nodes N / executions P', (r) => `${r.nodes} / ${r.pool} (${r.podsPerNode} pods per node)`],
    ['hook heartbeat timeout', (r) => `**${r.scenario.heartbeatTimeoutSeconds} s**: ${r.scenario.why}`],
    [
      `predicted nodes drainable at once, P × (⌊timeout ÷ drain timeout ${DRAIN_TIMEOUT_SECONDS} s⌋ + 1)`,
      (r) => `${r.predicted}${r.nodes > r.predicted ? ` (< N: expiries possible)` : ' (≥ N: none expected)'}`,
    ],
    [
      'drain duration, median / max (invocations that drained)',
      (r) =>
        r.drainMs.length ? `${seconds(median(r.drainMs))} / ${seconds(Math.max(...r.drainMs))}` : 'no drain',
    ],
    ['longest queue wait (fired → drain started)', (r) => seconds(r.longestWaitMs)],
    ['actions expired before their drain started', (r) => `**${r.expiredBeforeDrain}**`],
    ['actions expired mid-drain', (r) => String(r.expiredMidDrain)],
    ['actions completed CONTINUE', (r) => String(r.completedContinue)],
    ['outcomes', (r) => list(r.outcomes)],
    [
      'alarmed metrics emitted (AlreadyCompleted / ActionExpired)',
      (r) => `${r.alarmedMetrics.AlreadyCompleted ?? 0} / ${r.alarmedMetrics.ActionExpired ?? 0}`,
    ],
    ['expired actions not reported by an outcome (silent)', (r) => String(silentExpiries(r))],
    ['pods left on nodes that went undrained', (r) => String(r.podsLeftUndrained)],
    [
      'PDB violations (lowest healthy of any Deployment)',
      (r) => `${r.pdb.violations} (${r.pdb.lowest}/${r.nodes}, needed ${r.pdb.required})`,
    ],
    ['errors (invocations that threw, simulator failures)', (r) => String(r.errors.length)],
    ['wall time (fired → last invocation returned)', (r) => seconds(r.wallMs)],
  ];
  return mdTable(
    ['', ...results.map((r) => r.scenario.title)],
    rows.map(([label, cell]) => [label, ...results.map(cell)]),
  );
}

/** Expired actions whose invocation did not say so (already-completed or action-expired). */
function silentExpiries(r: ScenarioResult): number {
  return r.events.filter(
    (e) =>
      (e.fate === 'expired before drain' || e.fate === 'expired mid-drain') &&
      e.outcome !== 'already-completed' &&
      e.outcome !== 'action-expired',
  ).length;
}

function eventTable(r: ScenarioResult): string {
  const at = (t: number | undefined): string =>
    t === undefined ? '–' : seconds(t - (r.events[0]?.firedAt ?? 0));
  return mdTable(
    ['event', 'execution', 'drain started', 'returned', 'action expired at', 'outcome', 'action'],
    [...r.events]
      .sort((a, b) => (a.pickedAt ?? 0) - (b.pickedAt ?? 0))
      .map((e) => [
        String(e.index),
        String(e.worker ?? '–'),
        at(e.pickedAt),
        at(e.returnedAt),
        at(e.expiredAt),
        e.outcome ?? '–',
        e.fate ?? '–',
      ]),
    'rrrrrll',
  );
}

/** The summary row and the details, as bench/run.ts's other benchmarks give them. */
export function massTerminationSection({ naive, derived }: MassTerminationResult): Section {
  const expired = (r: ScenarioResult): number => r.expiredBeforeDrain + r.expiredMidDrain;
  const errors = naive.errors.length + derived.errors.length;
  return {
    rows: [
      {
        benchmark: `6. Mass terminations: ${derived.nodes} events at ${derived.pool} executions`,
        result:
          `hook ${derived.scenario.heartbeatTimeoutSeconds} s (2 × drain timeout): ${expired(derived)} expired, ` +
          `${derived.outcomes.drained ?? 0} drained, longest wait ${seconds(derived.longestWaitMs)} · ` +
          `hook ${naive.scenario.heartbeatTimeoutSeconds} s (≈ one drain): ${expired(naive)} expired, ` +
          `${silentExpiries(naive)} of them silent · ` +
          `${naive.pdb.violations + derived.pdb.violations} PDB violations, ${errors} errors`,
        target: '2 × drain timeout: 0 expired; no expiry silent; 0 PDB violations',
        met:
          expired(derived) === 0 &&
          silentExpiries(naive) + silentExpiries(derived) === 0 &&
          naive.pdb.ok &&
          derived.pdb.ok &&
          errors === 0,
      },
    ],
    details: `### 6. Mass terminations: ${naive.nodes} nodes terminating at once, ${naive.pool} executions

${naive.nodes} lifecycle events fired at once at a pool of ${naive.pool} in-process executions of the real
\`lambda/handler.ts\` (each its own module instance, loaded once like a Lambda container and reused for the
events it takes); an event waits in a queue for a free execution, as an asynchronous Lambda event does
beyond the reserved concurrency, and nobody heartbeats its action meanwhile. ${naive.nodes} nodes ×
${naive.podsPerNode} pods (${naive.podsPerNode} Deployments × ${naive.nodes} replicas, one of each per node, PDB
\`maxUnavailable: 1\`, ${PRESTOP_SECONDS} s preStop) on the real local control plane; lifecycle actions in the
local AWS endpoint expire as AWS's do. Handler settings: \`DRAIN_TIMEOUT_SECONDS=${DRAIN_TIMEOUT_SECONDS}\`,
\`HEARTBEAT_INTERVAL_SECONDS=${HEARTBEAT_INTERVAL_SECONDS}\`, \`MIN_EVICTION_WINDOW_SECONDS=${MIN_EVICTION_WINDOW_SECONDS}\`; the
hook's default result is CONTINUE, as the stack's. The scenarios ran one after the other on the same
control plane (fresh nodes and namespace each), (b) first: (a)'s timeout is "about one drain", the median
drain (b) measured. A drain starts when an execution takes the event (its first heartbeat follows at
once); its duration is that invocation's wall time.

${resultTable([naive, derived])}

The prediction is the stack's \`nodesDrainableAtOnce\` (infra/settings.ts) for these figures. It assumes every
drain takes the whole drain timeout, so it is a floor: the drains here take a fraction of it, and more
nodes may get through. The stack keeps its heartbeat timeout within 5 min–2 h (\`defaultHeartbeatTimeout\`);
(b) is its rule, 2 × the drain timeout, at a drain timeout a benchmark can wait for.

#### Every event, in the order the executions took them (times from the moment all were fired)

${naive.scenario.title}, heartbeat timeout ${naive.scenario.heartbeatTimeoutSeconds} s:

${eventTable(naive)}

${derived.scenario.title}, heartbeat timeout ${derived.scenario.heartbeatTimeoutSeconds} s:

${eventTable(derived)}
${
  errors ? `\nErrors:\n\n${[...naive.errors, ...derived.errors].map((e) => `- \`${e}\``).join('\n')}\n` : ''
}`,
  };
}

/** Run directly (npx tsx bench/mass-termination.ts), not imported by bench/run.ts. */
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main()
    .catch((error: unknown) => {
      if (isInterrupted()) return;
      console.error('benchmark failed:', error instanceof Error ? (error.stack ?? error.message) : error);
      process.exitCode = 1;
    })
    .finally(async () => {
      await cleanUp();
      progress('stopped everything the benchmark started');
    });
}
