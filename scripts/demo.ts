/**
 * `npm run demo`: the drain, end to end, on an embedded local cluster (real kube-apiserver, etcd and
 * disruption controller; simulated kubelets). Creates a small realistic workload on one node, drains
 * it with the real engine as the least-privilege drainer identity, and prints what happens.
 * Flags: --json (structured log lines instead of plain text).
 */
import { DEFAULT_DRAIN_TUNING, type DrainReport } from '../lambda/drain/drain.js';
import type { Logger } from '../lambda/drain/ports.js';
import { type LocalCluster, startCluster } from './harness/cluster.js';
import { Workload } from './harness/workload.js';

const json = process.argv.includes('--json');
const began = Date.now();
const elapsed = (): string => `${((Date.now() - began) / 1000).toFixed(1).padStart(5)}s`;
const say = (line: string): void => {
  if (!json) console.log(`[${elapsed()}] ${line}`);
};

function demoLogger(): Logger {
  const write =
    (level: string) =>
    (message: string, data: Record<string, unknown> = {}): void => {
      if (json) {
        console.log(JSON.stringify({ time: new Date().toISOString(), level, message, ...data }));
      } else if (level !== 'debug') {
        const details = Object.entries(data)
          .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
          .join(' ');
        say(`${level === 'info' ? '' : `${level.toUpperCase()} `}${message} ${details}`);
      }
    };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

function printReport(report: DrainReport): void {
  if (json) {
    console.log(JSON.stringify({ message: 'drain report', ...report }));
    return;
  }
  console.log('');
  console.log(`outcome     ${report.outcome}`);
  console.log(`node        ${report.node ?? '-'}`);
  console.log(`duration    ${(report.durationMs / 1000).toFixed(1)} s`);
  console.log(`evicted     ${report.evicted.length}: ${report.evicted.join(', ')}`);
  console.log(`skipped     ${report.skipped.map((s) => `${s.pod} (${s.reason})`).join(', ') || '-'}`);
  console.log(`warnings    ${report.warnings.map((w) => `${w.pod} (${w.warning})`).join(', ') || '-'}`);
  console.log(`blocked     ${report.blocked.map((b) => `${b.pod} (${b.reason})`).join(', ') || '-'}`);
  console.log(`evictions   ${report.evictionRequests} requests, ${report.evictionRefusals} refused by PDBs`);
}

async function main(): Promise<void> {
  let cluster: LocalCluster | undefined;
  let workload: Workload | undefined;
  const cleanUp = async (): Promise<void> => {
    await workload?.dispose().catch(() => undefined);
    await cluster?.stop();
  };
  process.once('SIGINT', () => {
    say('interrupted: stopping the local cluster');
    void cleanUp().finally(() => process.exit(130));
  });
  try {
    say('starting local control plane (etcd, kube-apiserver 1.20, controller manager)');
    cluster = await startCluster();
    say(`cluster ready at ${cluster.server}`);
    workload = await Workload.create(cluster, 'demo', demoLogger());
    const web = await workload.deployment('web', 3, { preStopSeconds: 2 });
    await workload.pdb('web', web, { minAvailable: 2 });
    const api = await workload.deployment('api', 2, { preStopSeconds: 1 });
    await workload.pdb('api', api, { maxUnavailable: 1 });
    const ds = await workload.apps.createNamespacedDaemonSet({
      namespace: workload.namespace,
      body: {
        metadata: { name: 'log-agent' },
        spec: {
          selector: { matchLabels: { app: 'log-agent' } },
          template: {
            metadata: { labels: { app: 'log-agent' } },
            spec: { containers: [{ name: 'agent', image: 'fluent-bit' }] },
          },
        },
      },
    });
    await workload.pod('log-agent-x1', {
      metadata: {
        labels: { app: 'log-agent' },
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            kind: 'DaemonSet',
            name: 'log-agent',
            uid: ds.metadata?.uid ?? '',
            controller: true,
          },
        ],
      },
    });
    await workload.pod('debug-shell', { preStopSeconds: 1 });
    await workload.waitRunning(7);
    await workload.waitPdb('web', (s) => s.disruptionsAllowed === 1);
    await workload.waitPdb('api', (s) => s.disruptionsAllowed === 1);
    say(
      `workload running on ${workload.node}: web×3 (PDB minAvailable 2), api×2 (PDB maxUnavailable 1), a DaemonSet pod, a bare pod`,
    );
    await workload.openSpare();

    say(`draining ${workload.node} as the least-privilege drainer identity`);
    const report = await workload.drain({ ...DEFAULT_DRAIN_TUNING, deadline: Date.now() + 120_000 });
    printReport(report);
    process.exitCode = report.outcome === 'drained' ? 0 : 1;
  } finally {
    await cleanUp();
    say('local cluster stopped');
  }
}

main().catch((error: unknown) => {
  console.error('demo failed:', error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
