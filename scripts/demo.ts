/**
 * `npm run demo`: the product end to end with no AWS account and no cluster. Starts the embedded
 * local cluster (real kube-apiserver, etcd and disruption controller; simulated kubelets), an
 * EKS-style token webhook and a local AWS endpoint, puts a small realistic workload on one node,
 * fires a real-shaped lifecycle event at the real `lambda/handler.ts`, and shows the drain.
 *
 *   npm run demo                       plain text (progress line on a TTY)
 *   npm run demo -- --json             the handler's JSON log lines as they are
 *   npm run demo -- --k8s 1.32         on the v1.32 control plane (default: EKS_DRAINER_K8S, else 1.20)
 *   npm run demo -- --kubeconfig FILE --node NAME [--yes]
 *                                      the same drain engine on a cluster you have, with the
 *                                      kubeconfig's credentials; a dry run unless --yes
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { DEFAULT_DRAIN_TUNING, type DrainReport, drainNode } from '../lambda/drain/drain.js';
import { type Logger, systemClock } from '../lambda/drain/ports.js';
import { lifecycleEvent } from '../lambda/event.js';
import type { InvocationSummary } from '../lambda/handler.js';
import { KubeCluster } from '../lambda/kube/cluster.js';
import { LocalAwsEndpoint, TEST_CREDENTIALS, TEST_REGION } from './harness/aws-endpoint.js';
import { defaultK8sVersion, type LocalCluster, parseK8sVersion, startCluster } from './harness/cluster.js';
import { EksTokenWebhook } from './harness/eks-token-webhook.js';
import { Workload } from './harness/workload.js';

const CLUSTER = 'demo';
const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    k8s: { type: 'string' },
    kubeconfig: { type: 'string' },
    node: { type: 'string' },
    yes: { type: 'boolean', default: false },
  },
});
const began = Date.now();
const tty = process.stdout.isTTY === true && !args.json;
const write = process.stdout.write.bind(process.stdout);
const clock = (): string => `${((Date.now() - began) / 1000).toFixed(1).padStart(5)}s`;

/** A line for a person (plain mode) or a JSON object (--json). */
function say(message: string, data: Record<string, unknown> = {}): void {
  clearProgress();
  if (args.json)
    write(`${JSON.stringify({ source: 'demo', time: new Date().toISOString(), message, ...data })}\n`);
  else write(`[${clock()}] ${message}${Object.keys(data).length ? ` ${details(data)}` : ''}\n`);
}

function details(data: Record<string, unknown>): string {
  return Object.entries(data)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
}

let progress = '';
function clearProgress(): void {
  if (progress && tty) write('\r\u001b[2K');
  progress = '';
}
function showProgress(line: string): void {
  if (!tty) return;
  clearProgress();
  progress = line;
  write(`[${clock()}] ${line}`);
}

/** The handler's JSON log lines, rendered for a person; --json passes them through untouched. */
function renderHandlerLine(line: string): void {
  if (args.json) {
    write(`${line}\n`);
    return;
  }
  const entry = JSON.parse(line) as Record<string, unknown>;
  const { message, level, pod, kind } = entry;
  if (message === 'pod evicted') say(`evicted   ${pod}`);
  else if (message === 'eviction refused')
    say(`waiting   ${pod}: ${kind === 'pdb-blocked' ? 'PDB says: ' : `${kind}: `}${entry.detail}`);
  else if (message === 'evicting pod with warning') say(`warning   ${pod}: ${entry.warning}`);
  else if (message === 'invocation finished' || entry._aws !== undefined)
    return; // summary and EMF metrics follow
  else if (level === 'warn' || level === 'error')
    say(`${String(level).toUpperCase()} ${message}`, strip(entry));
  else say(String(message), strip(entry));
}

function strip(entry: Record<string, unknown>): Record<string, unknown> {
  const {
    level: _l,
    time: _t,
    message: _m,
    cluster: _c,
    requestId: _r,
    instanceId: _i,
    asgName: _a,
    hookName: _h,
    ...rest
  } = entry;
  return rest;
}

/** Routes what the handler prints (JSON lines on stdout) through the renderer while `fn` runs. */
async function withHandlerOutput<T>(fn: () => Promise<T>): Promise<T> {
  const original = process.stdout.write;
  process.stdout.write = ((chunk: string | Uint8Array) => {
    for (const line of String(chunk).split('\n')) if (line.startsWith('{')) renderHandlerLine(line);
    return true;
  }) as typeof process.stdout.write;
  try {
    return await fn();
  } finally {
    process.stdout.write = original;
  }
}

function printReport(report: DrainReport | undefined, summary: Record<string, unknown>): void {
  clearProgress();
  if (args.json) {
    write(`${JSON.stringify({ source: 'demo', message: 'result', ...summary, report })}\n`);
    return;
  }
  const rows: [string, string][] = [
    ...Object.entries(summary).map(([k, v]): [string, string] => [k, String(v)]),
    ...(report
      ? ([
          ['node', report.node ?? '-'],
          ['drain time', `${(report.durationMs / 1000).toFixed(1)} s`],
          ['evicted', `${report.evicted.length}: ${report.evicted.join(', ') || '-'}`],
          ['skipped', report.skipped.map((s) => `${s.pod} (${s.reason})`).join(', ') || '-'],
          ['warnings', report.warnings.map((w) => `${w.pod} (${w.warning})`).join(', ') || '-'],
          [
            'blocked',
            report.blocked
              .map((b) => `${b.pod} (${b.reason} ${b.pdbs.map((p) => p.name).join('+')})`)
              .join(', ') || '-',
          ],
          ['evictions', `${report.evictionRequests} requests, ${report.evictionRefusals} refused by PDBs`],
        ] as [string, string][])
      : []),
  ];
  write('\n');
  for (const [k, v] of rows) write(`  ${k.padEnd(18)} ${v}\n`);
  write('\n');
}

// ---- the embedded demo ------------------------------------------------------------------------

async function embeddedDemo(): Promise<number> {
  let cluster: LocalCluster | undefined;
  let world: Workload | undefined;
  const webhook = new EksTokenWebhook({
    clusterName: CLUSTER,
    region: TEST_REGION,
    ...TEST_CREDENTIALS,
    groups: ['eks-node-drainer'],
  });
  const aws = new LocalAwsEndpoint();
  let ticker: NodeJS.Timeout | undefined;
  const cleanUp = async (): Promise<void> => {
    clearInterval(ticker);
    await world?.dispose().catch(() => undefined);
    await cluster?.stop();
    await Promise.all([webhook.stop(), aws.stop()]);
  };
  process.once('SIGINT', () => {
    say('interrupted: stopping everything the demo started');
    void cleanUp().finally(() => process.exit(130));
  });
  try {
    const version = args.k8s ? parseK8sVersion(args.k8s) : defaultK8sVersion();
    say(
      `starting the local control plane (etcd, kube-apiserver ${version}, controller manager), token webhook, AWS endpoint`,
    );
    await Promise.all([webhook.start(), aws.start()]);
    cluster = await startCluster({ version, tokenWebhookUrl: `${webhook.url}/authenticate` });
    say(`cluster ready at ${cluster.server} (kube-apiserver ${cluster.serverVersion})`);

    world = await Workload.create(cluster, 'demo');
    const web = await world.deployment('web', 3, { preStopSeconds: 2 });
    await world.pdb('web', web, { minAvailable: 2 });
    const api = await world.deployment('api', 2, { preStopSeconds: 1 });
    await world.pdb('api', api, { maxUnavailable: 1 });
    await world.daemonSetPod('log-agent');
    await world.pod('debug-shell', { preStopSeconds: 1 });
    await world.waitRunning(7);
    await world.waitPdb('web', (s) => s.disruptionsAllowed === 1);
    await world.waitPdb('api', (s) => s.disruptionsAllowed === 1);
    await world.openSpare();
    const health = world.sim.monitor(world.namespace, web);
    say(
      `workload on ${world.node}: web×3 (PDB minAvailable 2, preStop 2 s), api×2 (PDB maxUnavailable 1, preStop 1 s), a DaemonSet pod, a bare pod`,
    );

    aws.clusters.set(CLUSTER, {
      endpoint: cluster.server,
      certificateAuthority: readFileSync(cluster.caFile).toString('base64'),
    });
    aws.instances.set(world.instanceId, world.node);
    const action = aws.addLifecycleAction({
      token: randomUUID(),
      autoScalingGroupName: 'demo-nodes',
      hookName: 'eks-node-drainer',
      instanceId: world.instanceId,
    });
    Object.assign(process.env, aws.env(), {
      CLUSTER_NAME: CLUSTER,
      LOG_LEVEL: 'info',
      HEARTBEAT_INTERVAL_SECONDS: '10',
      DRAIN_TIMEOUT_SECONDS: '300',
    });
    const { handler } = await import('../lambda/handler.js');

    say(
      `ASG demo-nodes terminates ${world.instanceId}: lifecycle hook holds it in Terminating:Wait, EventBridge invokes the handler`,
    );
    const w = world;
    ticker = setInterval(() => void tick(w), 1000);
    const summary: InvocationSummary = await withHandlerOutput(() =>
      handler(lifecycleEvent(action), {
        invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:eks-node-drainer-demo',
        awsRequestId: randomUUID(),
        getRemainingTimeInMillis: () => 900_000,
      }),
    );
    clearInterval(ticker);
    const completion = aws.callsOf('autoscaling', 'CompleteLifecycleAction').at(-1)?.params;
    printReport(summary.report, {
      outcome: summary.outcome,
      'lifecycle action': completion
        ? `CompleteLifecycleAction ${completion.LifecycleActionResult} (token ${completion.LifecycleActionToken})`
        : 'not completed',
      heartbeats: action.heartbeats,
      'PDB web, lowest': `${health.minHealthy} healthy during the drain (minAvailable 2)`,
    });
    return summary.outcome === 'drained' ? 0 : 1;
  } finally {
    await cleanUp();
    say('stopped everything the demo started');
  }
}

async function tick(world: Workload): Promise<void> {
  const pods = await world.podsOn().catch(() => []);
  const terminating = pods.filter((p) => p.metadata?.deletionTimestamp).length;
  showProgress(`draining ${world.node}: ${pods.length} pods on the node (${terminating} terminating)`);
}

// ---- a cluster the user already has -----------------------------------------------------------

async function ownCluster(kubeconfig: string, node: string): Promise<number> {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const dryRun = !args.yes;
  say(
    `${dryRun ? 'dry run (server-side dry-run evictions, no cordon; --yes to drain)' : 'draining'} ${node} on ${kc.getCurrentCluster()?.server}`,
  );
  const now = Date.now();
  const log: Logger = {
    debug: () => {},
    info: (m, d) => say(m, d),
    warn: (m, d) => say(`WARN ${m}`, d),
    error: (m, d) => say(`ERROR ${m}`, d),
  };
  const report = await drainNode(
    new KubeCluster(kc),
    {
      ...DEFAULT_DRAIN_TUNING,
      target: { nodeName: node },
      startedAt: now,
      deadline: now + 600_000,
      onDeadline: 'continue',
      dryRun,
    },
    { clock: systemClock, log },
  );
  printReport(report, { outcome: report.outcome });
  return report.outcome === 'drained' || report.outcome === 'dry-run' ? 0 : 1;
}

const run = args.kubeconfig
  ? args.node
    ? ownCluster(args.kubeconfig, args.node)
    : Promise.reject(new Error('--kubeconfig needs --node <name>'))
  : embeddedDemo();
run.then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    clearProgress();
    process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
