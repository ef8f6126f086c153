/**
 * Release waits (issue 12): what the waits for load balancers and volumes add to a drain. After the
 * node's pods are gone, the drainer completes the lifecycle action only once no ELBv2 target of the
 * cluster still routes to the instance and no VolumeAttachment is left on the node. The claim under
 * test: the waits add nothing beyond what the AWS side needs (the deregistration delay D, the CSI
 * detach time V), save at most one poll interval.
 *
 * One run: a fresh node on the real local control plane with a Deployment of 2 pods behind a PDB
 * (minAvailable 1, 1 s preStop) and one pod standing for a StatefulSet pod (owned by a StatefulSet,
 * its PVC as a volume, 1 s preStop) whose VolumeAttachment is on the node; one target group tagged
 * `elbv2.k8s.aws/cluster=<CLUSTER_NAME>` with the instance as a target; the AWS Load Balancer
 * Controller stand-in (scripts/harness/load-balancer-controller.ts) that deregisters the instance with
 * delay D once the node carries the exclusion label (the handler sets it with the cordon); a "CSI
 * driver" that deletes the VolumeAttachment V after the pods are gone. The real lambda/handler.ts runs
 * in-process (one module instance per setting, reused like a warm container) and drains the node.
 *
 * Scenarios: (D, V) = (5 s, 2 s), (2 s, 5 s), (8 s, 8 s), (0, 0) with the waits on, and (5 s, 2 s) with
 * WAIT_FOR_LOAD_BALANCERS=false and WAIT_FOR_VOLUME_DETACH=false as the baseline; 3 repetitions each,
 * interleaved; medians reported.
 *
 *   npx tsx bench/release-waits.ts [--k8s 1.20|1.32] [--reps 3]
 *
 * Prints progress and a Markdown table; writes bench/results/release-waits-<date>.md. Figures are
 * reported, never asserted. Stops everything it started, also on Ctrl-C, and gives up after 8 minutes.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { AppsV1Api, type KubeConfig, StorageV1Api, type V1Pod, Watch } from '@kubernetes/client-node';
import type { InvocationContext, InvocationSummary } from '../lambda/handler.js';
import { defaultK8sVersion, kubeConfigFor, parseK8sVersion } from '../scripts/harness/cluster.js';
import { LoadBalancerControllerStandIn } from '../scripts/harness/load-balancer-controller.js';
import { Workload } from '../scripts/harness/workload.js';
import {
  type BenchEnv,
  CLUSTER_NAME,
  captureJsonLogs,
  cleanUp,
  codeRevision,
  context,
  disposeWorkload,
  elapsedMs,
  isInterrupted,
  lifecycleEvent,
  machineDescription,
  mdTable,
  median,
  progress,
  REPO_ROOT,
  runProcess,
  type Section,
  seconds,
  startEnv,
  stopOnInterrupt,
} from './support.js';

/** The whole run gives up after this (setup included). */
const RUN_LIMIT_MS = 8 * 60_000;
/** Each invocation's Lambda time limit, as its context reports it. */
const INVOCATION_LIMIT_MS = 900_000;
/** Bounds one run: a wait that never ends stops at this drain deadline (a run then reports `deadline`). */
const DRAIN_TIMEOUT_SECONDS = 60;
const PRESTOP_SECONDS = 1;
const WEB_REPLICAS = 2;
/** The target's port (a NodePort, as an instance-mode target of the AWS Load Balancer Controller). */
const TARGET_PORT = 30080;

type Handler = (event: unknown, context: InvocationContext) => Promise<InvocationSummary>;

export interface Scenario {
  readonly key: string;
  readonly title: string;
  /** WAIT_FOR_LOAD_BALANCERS and WAIT_FOR_VOLUME_DETACH (both). */
  readonly waits: boolean;
  /** Deregistration delay of the target group, ms. */
  readonly deregistrationDelayMs: number;
  /** The CSI driver deletes the VolumeAttachment this long after the pods are gone, ms. */
  readonly detachDelayMs: number;
}

export const SCENARIOS: readonly Scenario[] = [
  { key: 'd5-v2', title: 'waits on', waits: true, deregistrationDelayMs: 5_000, detachDelayMs: 2_000 },
  { key: 'd2-v5', title: 'waits on', waits: true, deregistrationDelayMs: 2_000, detachDelayMs: 5_000 },
  { key: 'd8-v8', title: 'waits on', waits: true, deregistrationDelayMs: 8_000, detachDelayMs: 8_000 },
  { key: 'd0-v0', title: 'waits on', waits: true, deregistrationDelayMs: 0, detachDelayMs: 0 },
  {
    key: 'off-d5-v2',
    title: 'waits off (baseline)',
    waits: false,
    deregistrationDelayMs: 5_000,
    detachDelayMs: 2_000,
  },
];

/** One drain: every time is epoch ms. */
export interface Run {
  readonly scenario: Scenario;
  readonly rep: number;
  outcome?: string;
  lifecycleResult?: string | null;
  releaseOutcome?: string;
  /** The handler was invoked. */
  firedAt?: number;
  /** The controller stand-in first saw the exclusion label. */
  labelSeenAt?: number;
  /** The last pod left the node (pod watch, DELETED). */
  podsGoneAt?: number;
  /** The handler logged "node drained" (its pod-list poll saw the node empty): the release wait starts. */
  drainSawAt?: number;
  /** labelSeenAt + D: the target is gone from DescribeTargetHealth. */
  targetGoneAt?: number;
  /** The CSI driver deleted the VolumeAttachment. */
  detachedAt?: number;
  /** CompleteLifecycleAction reached the local AutoScaling endpoint. */
  completedAt?: number;
  /** release.loadBalancers.waitedMs / release.volumes.waitedMs of the handler's summary. */
  lbWaitedMs?: number;
  volumeWaitedMs?: number;
  /** DescribeTargetHealth calls for this run's target group (the LB wait's polls). */
  targetHealthPolls: number;
  readonly errors: string[];
}

/** A run's figures, relative to the moment the pods were gone (ms; negative: before). */
export interface RunFigures {
  readonly podsGoneToComplete?: number;
  readonly targetGoneAfterPods?: number;
  readonly detachedAfterPods?: number;
  /** What the AWS side still needed after the pods were gone: max(0, target gone, detached). */
  readonly needed?: number;
  /** podsGoneToComplete − needed: the time the drainer added; negative: it completed too early. */
  readonly overhead?: number;
  readonly labelSeenBeforePods?: number;
  readonly detectionLag?: number;
  /** The action completed while a target or the VolumeAttachment was still there. */
  readonly early?: boolean;
}

export function figures(run: Run): RunFigures {
  const { podsGoneAt, completedAt, targetGoneAt, detachedAt, labelSeenAt, drainSawAt } = run;
  if (podsGoneAt === undefined) return {};
  const after = (t: number | undefined): number | undefined => (t === undefined ? undefined : t - podsGoneAt);
  const targetGoneAfterPods = after(targetGoneAt);
  const detachedAfterPods = after(detachedAt);
  const podsGoneToComplete = after(completedAt);
  const needed =
    targetGoneAfterPods === undefined || detachedAfterPods === undefined
      ? undefined
      : Math.max(0, targetGoneAfterPods, detachedAfterPods);
  return {
    podsGoneToComplete,
    targetGoneAfterPods,
    detachedAfterPods,
    needed,
    overhead:
      podsGoneToComplete === undefined || needed === undefined ? undefined : podsGoneToComplete - needed,
    labelSeenBeforePods: labelSeenAt === undefined ? undefined : podsGoneAt - labelSeenAt,
    detectionLag: after(drainSawAt),
    early:
      completedAt === undefined || targetGoneAt === undefined || detachedAt === undefined
        ? undefined
        : completedAt < targetGoneAt || completedAt < detachedAt,
  };
}

export interface ReleaseWaitsResult {
  readonly runs: readonly Run[];
  readonly reps: number;
  /** The poll intervals of lambda/drain/release.ts, read from its source. */
  readonly polls: { readonly loadBalancerMs: number; readonly volumeMs: number };
}

/**
 * Every scenario `reps` times, interleaved (rep 1 of each, then rep 2, …), on a running environment.
 * For bench/run.ts: `releaseWaitsSection(await runReleaseWaits(env))`.
 */
export async function runReleaseWaits(
  env: BenchEnv,
  {
    reps = 3,
    scenarios = SCENARIOS,
  }: { readonly reps?: number; readonly scenarios?: readonly Scenario[] } = {},
): Promise<ReleaseWaitsResult> {
  if (!(Number.isInteger(reps) && reps >= 1)) throw new Error(`reps must be a whole number ≥ 1, got ${reps}`);
  const handlers = new Map<boolean, Handler>();
  for (const waits of new Set(scenarios.map((s) => s.waits)))
    handlers.set(waits, await loadHandler(env, waits));
  const runs: Run[] = [];
  for (let rep = 1; rep <= reps; rep++) {
    for (const scenario of scenarios) {
      if (isInterrupted()) return { runs, reps, polls: pollIntervals() };
      const handler = handlers.get(scenario.waits) as Handler;
      const run = await runOnce(env, handler, scenario, rep);
      runs.push(run);
      const f = figures(run);
      progress(
        `${label(scenario)} #${rep}: ${run.outcome ?? 'no outcome'}, pods gone → complete ${ms(f.podsGoneToComplete)}, ` +
          `AWS side needed ${ms(f.needed)}, overhead ${ms(f.overhead)}` +
          (run.errors.length ? `, errors: ${run.errors.join('; ')}` : ''),
      );
    }
  }
  return { runs, reps, polls: pollIntervals() };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { k8s: { type: 'string' }, reps: { type: 'string', default: '3' } },
  });
  const version = values.k8s ? parseK8sVersion(values.k8s) : defaultK8sVersion();
  stopOnInterrupt();
  setTimeout(() => {
    progress(`release waits: still running after ${seconds(RUN_LIMIT_MS)}: giving up`);
    void cleanUp().finally(() => process.exit(2));
  }, RUN_LIMIT_MS).unref(); // fires only if something still keeps the process alive
  const startedAt = new Date();
  const loadAtStart = loadavg()[0] ?? 0;
  const code = await codeRevision('bench/release-waits.ts');

  progress(`starting the local control plane (EKS token webhook, etcd, kube-apiserver ${version})`);
  const env = await startEnv(version);
  progress(`control plane ready at ${env.cluster.server} (${env.serverVersion})`);
  const result = await runReleaseWaits(env, { reps: Number(values.reps) });
  await env.stop();

  const date = startedAt.toLocaleDateString('sv'); // YYYY-MM-DD, local time
  const args = process.argv.slice(2).join(' ');
  const { kubectl: _, ...machine } = machineDescription(env.serverVersion, '');
  const markdown = `# Release waits, ${date}

\`npx tsx bench/release-waits.ts${args ? ` ${args}` : ''}\` started ${startedAt.toISOString()}; total wall time ${(elapsedMs() / 60_000).toFixed(1)} min.
Figures are measured and reported, never asserted.

## Machine

${mdTable(
  ['', ''],
  Object.entries({
    'Code measured': code,
    ...machine,
    'Load average (1 min)': `${loadAtStart.toFixed(2)} at the start, ${(loadavg()[0] ?? 0).toFixed(2)} at the end`,
  }).map(([k, v]) => [k, v]),
)}

${releaseWaitsSection(result).details}
`;
  const dir = join(REPO_ROOT, 'bench', 'results');
  const file = join(dir, `release-waits-${date}.md`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, markdown);
  await runProcess(join(REPO_ROOT, 'node_modules', '.bin', 'biome'), ['format', '--write', file]);
  console.log(`\n${readFileSync(file, 'utf8')}`);
  progress(`results written to bench/results/release-waits-${date}.md`);
}

// ---- one run ------------------------------------------------------------------------------------

async function runOnce(env: BenchEnv, handler: Handler, scenario: Scenario, rep: number): Promise<Run> {
  const run: Run = { scenario, rep, targetHealthPolls: 0, errors: [] };
  const admin = kubeConfigFor(env.cluster, 'admin');
  const storage = admin.makeApiClient(StorageV1Api);
  const apps = admin.makeApiClient(AppsV1Api);
  const w = await Workload.create(env.cluster, `rw-${scenario.key}`);
  const attachment = `csi-${w.namespace}`;
  const stopped = new AbortController();
  let controller: LoadBalancerControllerStandIn | undefined;
  let group: { readonly arn: string } | undefined;
  try {
    // the world: a Deployment behind a PDB, and a StatefulSet's pod with its volume attached to the node
    const labels = await w.deployment('web', WEB_REPLICAS, { preStopSeconds: PRESTOP_SECONDS });
    await w.pdb('web', labels, { minAvailable: 1 });
    await statefulSetPod(w, apps);
    await w.waitRunning(WEB_REPLICAS + 1);
    await w.waitPdb('web', (s) => s.disruptionsAllowed === 1);
    await w.openSpare();
    await storage.createVolumeAttachment({
      body: {
        metadata: { name: attachment },
        spec: {
          attacher: 'ebs.csi.aws.com',
          nodeName: w.node,
          source: { persistentVolumeName: `pv-${w.namespace}` },
        },
      },
    });
    group = env.aws.elbv2.addTargetGroup({
      name: `k8s-${w.namespace}`.slice(0, 32),
      tags: { 'elbv2.k8s.aws/cluster': CLUSTER_NAME },
      targets: [{ id: w.instanceId, port: TARGET_PORT }],
    });
    env.aws.instances.set(w.instanceId, w.node);
    const action = env.aws.addLifecycleAction({
      token: randomUUID(),
      autoScalingGroupName: `${w.namespace}-asg`,
      hookName: 'eks-node-drainer',
      instanceId: w.instanceId,
    });
    controller = new LoadBalancerControllerStandIn({
      kubeConfig: admin,
      aws: env.aws,
      nodeName: w.node,
      instanceId: w.instanceId,
      deregistrationDelayMs: scenario.deregistrationDelayMs,
    }).start();

    // the CSI driver: detach V after the node's pods are gone
    const gone = podsGone(admin, w, stopped.signal);
    const csi = gone
      .then(async (at) => {
        run.podsGoneAt = at;
        await sleep(scenario.detachDelayMs, stopped.signal);
        if (stopped.signal.aborted) return;
        await storage.deleteVolumeAttachment({ name: attachment });
        run.detachedAt = Date.now();
      })
      .catch((error: unknown) => {
        run.errors.push(`pod watch or CSI driver: ${message(error)}`);
      });

    const logs = captureJsonLogs();
    run.firedAt = Date.now();
    let summary: InvocationSummary | undefined;
    try {
      summary = await handler(lifecycleEvent(action), context(INVOCATION_LIMIT_MS));
    } catch (error) {
      run.errors.push(`handler threw: ${message(error)}`);
    } finally {
      logs.restore();
    }
    run.outcome = summary?.outcome;
    run.lifecycleResult = summary?.lifecycleResult;
    run.releaseOutcome = summary?.release?.outcome;
    run.lbWaitedMs = summary?.release?.loadBalancers?.waitedMs;
    run.volumeWaitedMs = summary?.release?.volumes?.waitedMs;
    run.drainSawAt = logTime(logs.lines, 'node drained');
    run.completedAt = env.aws
      .callsOf('autoscaling', 'CompleteLifecycleAction')
      .find((c) => c.params.LifecycleActionToken === action.token)?.at;
    run.targetHealthPolls = env.aws
      .callsOf('elasticloadbalancing', 'DescribeTargetHealth')
      .filter((c) => c.params.TargetGroupArn === group?.arn).length;

    // without the waits the handler may return before the AWS side is done: let it finish, bounded
    await Promise.race([csi, sleep(scenario.detachDelayMs + 30_000, stopped.signal)]);
    if (run.detachedAt === undefined) run.errors.push('the VolumeAttachment was not deleted');
    run.labelSeenAt = controller.labelSeenAt;
    if (run.labelSeenAt === undefined)
      run.errors.push('the controller stand-in never saw the exclusion label');
    else run.targetGoneAt = run.labelSeenAt + scenario.deregistrationDelayMs;
    if (run.completedAt === undefined) run.errors.push('CompleteLifecycleAction was never called');
    run.errors.push(...w.sim.failures);
  } catch (error) {
    run.errors.push(message(error));
  } finally {
    stopped.abort();
    await controller?.stop();
    if (group) env.aws.elbv2.targetGroups.delete(group.arn);
    await storage.deleteVolumeAttachment({ name: attachment }).catch(() => undefined);
    await apps.deleteNamespacedStatefulSet({ name: 'data', namespace: w.namespace }).catch(() => undefined);
    await w.core
      .deleteNamespacedPersistentVolumeClaim({ name: 'data-data-0', namespace: w.namespace })
      .catch(() => undefined);
    await disposeWorkload(w);
  }
  return run;
}

/**
 * A StatefulSet `data` (no StatefulSet controller runs here: it stays as it is) and its pod `data-0`
 * on the node, with the claim `data-data-0` as its volume, as the StatefulSet controller makes them.
 */
async function statefulSetPod(w: Workload, apps: AppsV1Api): Promise<V1Pod> {
  const labels = { app: 'data' };
  const claim = {
    metadata: { name: 'data' },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
  };
  const set = await apps.createNamespacedStatefulSet({
    namespace: w.namespace,
    body: {
      metadata: { name: 'data' },
      spec: {
        serviceName: 'data',
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: { containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.9' }] },
        },
        volumeClaimTemplates: [claim],
      },
    },
  });
  await w.core.createNamespacedPersistentVolumeClaim({
    namespace: w.namespace,
    body: { ...claim, metadata: { name: 'data-data-0' } },
  });
  return w.pod('data-0', {
    preStopSeconds: PRESTOP_SECONDS,
    metadata: {
      labels,
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'StatefulSet',
          name: 'data',
          uid: set.metadata?.uid ?? '',
          controller: true,
        },
      ],
    },
    spec: { volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data-data-0' } }] },
  });
}

/**
 * Resolves with Date.now() when the last pod left the node: a pod watch from the list's
 * resourceVersion (the DELETED event's arrival), or polling every 100 ms if the watch ends early.
 */
function podsGone(kc: KubeConfig, w: Workload, signal: AbortSignal): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    let settled = false;
    let watch: AbortController | undefined;
    const settle = (at: number): void => {
      if (settled) return;
      settled = true;
      watch?.abort();
      resolvePromise(at);
    };
    const poll = async (): Promise<void> => {
      while (!settled && !signal.aborted) {
        if ((await w.podsOn()).length === 0) return settle(Date.now());
        await sleep(100, signal);
      }
    };
    void (async () => {
      const list = await w.core.listNamespacedPod({
        namespace: w.namespace,
        fieldSelector: `spec.nodeName=${w.node}`,
      });
      const present = new Set(list.items.map((p) => p.metadata?.uid ?? ''));
      if (present.size === 0) throw new Error('no pods on the node to wait for');
      watch = await new Watch(kc).watch(
        `/api/v1/namespaces/${w.namespace}/pods`,
        { fieldSelector: `spec.nodeName=${w.node}`, resourceVersion: list.metadata?.resourceVersion },
        (type: string, pod: V1Pod) => {
          const uid = pod.metadata?.uid ?? '';
          if (type === 'DELETED') present.delete(uid);
          else if (type === 'ADDED') present.add(uid);
          if (present.size === 0) settle(Date.now());
        },
        () => {
          // the watch ended before the node was empty: fall back to polling
          if (!settled && !signal.aborted) poll().catch(reject);
        },
      );
      signal.addEventListener('abort', () => watch?.abort(), { once: true });
    })().catch(reject);
  });
}

// ---- the Lambda side ----------------------------------------------------------------------------

/**
 * One module instance of lambda/handler.ts (a warm container) with the waits on or off. The SDK's
 * settings (local endpoints, test credentials) stay in process.env, as the other benchmarks leave
 * them; the drainer's own settings are read once, when the module loads, and are put back after.
 */
async function loadHandler(env: BenchEnv, waits: boolean): Promise<Handler> {
  Object.assign(process.env, env.aws.env(), { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' });
  const drainer: Record<string, string> = {
    CLUSTER_NAME,
    LOG_LEVEL: 'info',
    DRAIN_TIMEOUT_SECONDS: String(DRAIN_TIMEOUT_SECONDS),
    EXCLUDE_FROM_LOAD_BALANCERS: 'true',
    WAIT_FOR_LOAD_BALANCERS: String(waits),
    WAIT_FOR_VOLUME_DETACH: String(waits),
  };
  const before = Object.fromEntries(Object.keys(drainer).map((k) => [k, process.env[k]]));
  Object.assign(process.env, drainer);
  const url = pathToFileURL(join(REPO_ROOT, 'lambda', 'handler.ts')).href;
  try {
    const module = (await import(`${url}?release-waits=${waits ? 'on' : 'off'}`)) as { handler: Handler };
    return module.handler;
  } finally {
    for (const [key, value] of Object.entries(before)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

/** The `time` of the first log line with this message, epoch ms. */
function logTime(lines: readonly string[], text: string): number | undefined {
  for (const line of lines) {
    const record = JSON.parse(line) as { message?: unknown; time?: unknown };
    if (record.message === text && typeof record.time === 'string') return Date.parse(record.time);
  }
  return undefined;
}

/** LOAD_BALANCER_POLL_MS and VOLUME_POLL_MS as lambda/drain/release.ts has them (not exported). */
function pollIntervals(): { loadBalancerMs: number; volumeMs: number } {
  const source = readFileSync(join(REPO_ROOT, 'lambda', 'drain', 'release.ts'), 'utf8');
  const read = (name: string, fallback: number): number => {
    const value = new RegExp(`const ${name} = ([\\d_]+);`).exec(source)?.[1];
    return value === undefined ? fallback : Number(value.replaceAll('_', ''));
  };
  return { loadBalancerMs: read('LOAD_BALANCER_POLL_MS', 5_000), volumeMs: read('VOLUME_POLL_MS', 1_000) };
}

// ---- report -------------------------------------------------------------------------------------

const ms = (value: number | undefined): string => {
  if (value === undefined || Number.isNaN(value)) return '–';
  const rounded = Math.round(value / 10) / 100;
  return `${(rounded === 0 ? 0 : rounded).toFixed(2)} s`; // never "-0.00 s"
};

function label(s: Scenario): string {
  return `${s.title}, D ${s.deregistrationDelayMs / 1000} s, V ${s.detachDelayMs / 1000} s`;
}

/** The median of the defined values ('–' when there are none). */
function med(values: readonly (number | undefined)[]): string {
  const defined = values.filter((v): v is number => v !== undefined);
  return defined.length ? ms(median(defined)) : '–';
}

function summaryTable(result: ReleaseWaitsResult): string {
  const scenarios = [...new Set(result.runs.map((r) => r.scenario))];
  return mdTable(
    [
      'scenario',
      'D / V',
      'pods gone → CompleteLifecycleAction',
      'target gone (label seen + D), after pods gone',
      'VolumeAttachment deleted, after pods gone',
      'AWS side needed after pods gone',
      'loadBalancers.waitedMs',
      'volumes.waitedMs',
      '**overhead**',
      'completed while still attached',
    ],
    scenarios.map((s) => {
      const runs = result.runs.filter((r) => r.scenario === s);
      const f = runs.map(figures);
      return [
        s.title,
        `${s.deregistrationDelayMs / 1000} s / ${s.detachDelayMs / 1000} s`,
        med(f.map((x) => x.podsGoneToComplete)),
        med(f.map((x) => x.targetGoneAfterPods)),
        med(f.map((x) => x.detachedAfterPods)),
        med(f.map((x) => x.needed)),
        s.waits ? med(runs.map((r) => r.lbWaitedMs)) : 'off',
        s.waits ? med(runs.map((r) => r.volumeWaitedMs)) : 'off',
        `**${med(f.map((x) => x.overhead))}**`,
        `${f.filter((x) => x.early).length} of ${runs.length}`,
      ];
    }),
    'llrrrrrrrr',
  );
}

function runsTable(result: ReleaseWaitsResult): string {
  return mdTable(
    [
      'scenario',
      'D / V',
      'rep',
      'outcome (release)',
      'label seen, before pods gone',
      'pods gone → drain saw it',
      'pods gone → complete',
      'target gone',
      'VA deleted',
      'needed',
      'LB waitedMs',
      'volumes waitedMs',
      'DescribeTargetHealth calls',
      'overhead',
    ],
    [...result.runs]
      .sort((a, b) => SCENARIOS.indexOf(a.scenario) - SCENARIOS.indexOf(b.scenario) || a.rep - b.rep)
      .map((r) => {
        const f = figures(r);
        return [
          r.scenario.title,
          `${r.scenario.deregistrationDelayMs / 1000} s / ${r.scenario.detachDelayMs / 1000} s`,
          String(r.rep),
          `${r.outcome ?? '–'} (${r.releaseOutcome ?? 'no wait'})`,
          ms(f.labelSeenBeforePods),
          ms(f.detectionLag),
          ms(f.podsGoneToComplete),
          ms(f.targetGoneAfterPods),
          ms(f.detachedAfterPods),
          ms(f.needed),
          ms(r.lbWaitedMs),
          ms(r.volumeWaitedMs),
          String(r.targetHealthPolls),
          ms(f.overhead),
        ];
      }),
    'llrlrrrrrrrrrr',
  );
}

/** The summary row and the details, as bench/run.ts's other benchmarks give them. */
export function releaseWaitsSection(result: ReleaseWaitsResult): Section {
  const { polls, reps } = result;
  const on = result.runs.filter((r) => r.scenario.waits).map(figures);
  const off = result.runs.filter((r) => !r.scenario.waits).map(figures);
  const overheads = on.map((f) => f.overhead).filter((v): v is number => v !== undefined);
  const worst = overheads.length ? Math.max(...overheads) : Number.NaN;
  const bound = polls.loadBalancerMs + 1_000;
  const earlyOn = on.filter((f) => f.early).length;
  const errors = result.runs.flatMap((r) =>
    r.errors.map((e) => `${label(r.scenario)} #${r.rep}: ${e.replaceAll('\n', ' ')}`),
  );
  const floor = median(off.map((f) => f.podsGoneToComplete).filter((v): v is number => v !== undefined));
  const zero = result.runs
    .filter(
      (r) => r.scenario.waits && r.scenario.deregistrationDelayMs === 0 && r.scenario.detachDelayMs === 0,
    )
    .map((r) => figures(r).podsGoneToComplete)
    .filter((v): v is number => v !== undefined);
  const zeroNote = zero.length
    ? `- D = V = 0 (nothing to wait for): pods gone → CompleteLifecycleAction ${ms(median(zero))} with the waits, ` +
      `${ms(floor)} without (the floor): the looks themselves cost ${ms(median(zero) - floor)};\n`
    : '';
  return {
    rows: [
      {
        benchmark: '7. Release waits: LB deregistration delay D and volume detach V after the drain',
        result:
          `overhead beyond what AWS needed: median ${ms(median(overheads))}, worst ${ms(worst)} ` +
          `(LB poll ${polls.loadBalancerMs / 1000} s); ${earlyOn} completions while still attached with the waits, ` +
          `${off.filter((f) => f.early).length} of ${off.length} without`,
        target: `overhead ≤ one LB poll (${polls.loadBalancerMs / 1000} s) + 1 s; never completed while attached`,
        met: overheads.length > 0 && worst <= bound && earlyOn === 0 && errors.length === 0,
      },
    ],
    details: `### 7. Release waits: what waiting for the load balancers and the volumes adds to a drain

Each run drains a fresh node through the real \`lambda/handler.ts\` (in-process; one module instance
per setting, reused like a warm container; \`DRAIN_TIMEOUT_SECONDS=${DRAIN_TIMEOUT_SECONDS}\`, the rest default).
The node holds a Deployment \`web\` × ${WEB_REPLICAS} behind a PDB \`minAvailable: 1\` and a pod \`data-0\` owned by a
StatefulSet, with its claim \`data-data-0\` as a volume (no StatefulSet controller runs: it stands for the
StatefulSet's pod); every pod has a ${PRESTOP_SECONDS} s simulated preStop. Around the drain:

- **Load balancer**: one ELBv2 target group tagged \`elbv2.k8s.aws/cluster=${CLUSTER_NAME}\` (the handler's
  \`CLUSTER_NAME\`) with the instance as a healthy target (port ${TARGET_PORT}) in the local ELBv2 endpoint. The AWS Load
  Balancer Controller stand-in (\`scripts/harness/load-balancer-controller.ts\`, node read every 200 ms)
  deregisters the instance once the node carries \`node.kubernetes.io/exclude-from-external-load-balancers\`,
  which the handler sets with the cordon; the target is then \`draining\` for the deregistration delay **D**
  and gone after it (at label seen + D).
- **Volume**: a VolumeAttachment (\`ebs.csi.aws.com\`) on the node, created with StorageV1Api; a "CSI driver"
  deletes it **V** after the node's pods are gone.
- **Pods gone**: the arrival of the DELETED event of the node's last pod on a pod watch of the node.
  **Completion**: the moment \`CompleteLifecycleAction\` reached the local AutoScaling endpoint
  (\`aws.callsOf('autoscaling', 'CompleteLifecycleAction')[…].at\`).

Scenarios (D, V) with \`WAIT_FOR_LOAD_BALANCERS\` and \`WAIT_FOR_VOLUME_DETACH\` on (the default), and a
baseline with both \`false\` (\`EXCLUDE_FROM_LOAD_BALANCERS\` stays on, so the controller still deregisters);
${reps} repetition${reps === 1 ? '' : 's'} each, interleaved (every scenario once per round). Medians of the repetitions:

${summaryTable(result)}

**How to read it.** All times count from the moment the node's pods were gone. The AWS side still needed
max(0, target gone, VolumeAttachment deleted) after it: the label is set with the cordon, so the
deregistration delay runs during the evictions and a short D is already over when the pods are gone (a
negative "target gone"). **Overhead = (pods gone → CompleteLifecycleAction) − what the AWS side needed**:
the time the drainer held the instance beyond that. For the baseline it is negative: the action completed
that long before the AWS side let go (the instance would go while its target still drains and its
volume is attached, "completed while still attached").

**Why the overhead is bounded by the poll interval.** The release wait (\`lambda/drain/release.ts\`) starts
when the drain's own pod listing (every 500 ms) finds the node empty, and looks right away; it then asks
ELBv2 every **${polls.loadBalancerMs / 1000} s** (\`LOAD_BALANCER_POLL_MS\`: DescribeTargetHealth of each of the cluster's target
groups) and lists VolumeAttachments every **${polls.volumeMs / 1000} s** (\`VOLUME_POLL_MS\`, from the watch cache). What lets go
after the wait began is noticed at the next look: the load-balancer wait overshoots the end of the
deregistration by less than ${polls.loadBalancerMs / 1000} s, the volume wait the detach by less than ${polls.volumeMs / 1000} s. What let go before the
wait began costs only the first look; then the overhead is the drain's detection lag (≤ 0.5 s) and one
CompleteLifecycleAction call, which the baseline pays too: its pods gone → CompleteLifecycleAction, ${ms(floor)},
is the floor of any drain. Where the ${polls.loadBalancerMs / 1000} s looks fall against the moment the target leaves is chance
(D minus the time the evictions took decides it), so a scenario whose load balancer lets go last has an
overhead anywhere in [0, ${polls.loadBalancerMs / 1000} s) plus a few tens of ms for the looks, and one whose volume lets go last within
[0, ${polls.volumeMs / 1000} s). \`loadBalancers.waitedMs\` and \`volumes.waitedMs\` are the release report's own figures: from the start of
the release wait to the look that found nothing left, so a multiple of the poll interval (plus the looks'
own time) whenever the first look still found something.

What was measured here:

- the worst overhead of any run with the waits on: ${ms(worst)} (bound: one LB poll + 1 s = ${ms(bound)});
${zeroNote}- runs that completed while a target or the VolumeAttachment was still there: ${earlyOn} of ${on.length} with the waits,
  ${off.filter((f) => f.early).length} of ${off.length} without them.

#### Every run

"label seen, before pods gone": how long before the pods were gone the controller stand-in saw the
exclusion label (the deregistration delay was running meanwhile). "pods gone → drain saw it": the handler's
\`node drained\` log line, i.e. when the release wait started. "DescribeTargetHealth calls": the load-balancer
wait's looks at this run's target group.

${runsTable(result)}
${errors.length ? `\nErrors:\n\n${errors.map((e) => `- \`${e}\``).join('\n')}\n` : ''}`,
  };
}

// ---- small things -------------------------------------------------------------------------------

function sleep(delayMs: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolvePromise) => {
    if (signal?.aborted) return resolvePromise();
    const timer = setTimeout(done, delayMs);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolvePromise();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Run directly (npx tsx bench/release-waits.ts), not imported by bench/run.ts. */
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
