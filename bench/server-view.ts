/**
 * The API server's own view of a benchmark: its `/metrics` counters read before and after (every
 * client's requests by verb and resource, and the watch events it sent by kind), and what one request
 * of each kind the drains make costs it in CPU (`--only request-costs`: each kind sent many times on
 * the same server, its CPU counted). Together they say how much of a scale-in's API server CPU is
 * the drains' own requests and watches, and how much the scale-in itself (the controllers and the
 * kubelets replacing the evicted pods), which no drainer avoids.
 */
import { readFileSync } from 'node:fs';
import { DEFAULT_REQUEST_TIMEOUTS } from '../lambda/kube/bounded.js';
import { KubeHttp } from '../lambda/kube/http.js';
import { type ClusterInfo, httpsGet, kubeConfigFor } from '../scripts/harness/cluster.js';
import type { RequestCounts } from './api-cost.js';
import { type BenchEnv, cpuMeter, mdTable, progress, type Section } from './support.js';

/** The server's counters that moved between two reads of `/metrics`. */
export interface ServerView {
  /** Every client's requests: "PATCH leases", "POST pods/eviction", "WATCH pods", … */
  readonly requests: RequestCounts;
  /** The watch events the server sent, to every watcher, by kind. */
  readonly watchEvents: Record<string, number>;
}

/** `/metrics` as the admin reads it. */
export async function readMetrics(cluster: ClusterInfo): Promise<string> {
  const { status, body } = await httpsGet(
    `${cluster.server}/metrics`,
    readFileSync(cluster.caFile),
    cluster.tokens.admin,
  );
  if (status !== 200) throw new Error(`/metrics: ${status}`);
  return body;
}

/** Starts a view: the returned call reads `/metrics` again and gives what moved since. */
export async function serverViewFrom(cluster: ClusterInfo): Promise<() => Promise<ServerView>> {
  const before = counters(await readMetrics(cluster));
  return async () => {
    const after = counters(await readMetrics(cluster));
    const requests: RequestCounts = {};
    const watchEvents: Record<string, number> = {};
    for (const [key, value] of after) {
      const moved = value - (before.get(key) ?? 0);
      if (moved <= 0) continue;
      const [name, labels] = key.split('\u0000') as [string, string];
      const label = (l: string): string => new RegExp(`${l}="([^"]*)"`).exec(labels)?.[1] ?? '';
      if (name === 'apiserver_request_total') {
        const sub = label('subresource');
        const kind = `${label('verb')} ${label('resource')}${sub ? `/${sub}` : ''}`;
        requests[kind] = (requests[kind] ?? 0) + moved;
      } else if (name === 'apiserver_watch_events_total') {
        watchEvents[label('kind')] = (watchEvents[label('kind')] ?? 0) + moved;
      }
    }
    return { requests, watchEvents };
  };
}

/** The two counters of the text format, keyed by name and labels. */
function counters(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^(apiserver_request_total|apiserver_watch_events_total)\{([^}]*)\} (\S+)$/.exec(line);
    if (match) values.set(`${match[1]}\u0000${match[2]}`, Number(match[3]));
  }
  return values;
}

// ---- what one request of each kind the drains make costs the API server -----------------------

/** API server CPU milliseconds per request (or per watch event, per watcher), by kind. */
export type RequestCosts = Record<string, number>;

const COST_RUNS = { writes: 600, reads: 1000, watchers: 50, opens: 50 } as const;
/** The watch events are measured with objects about a PDB's size (its JSON with status: ~0.8 KB). */
const PDB_SIZED = 'x'.repeat(700);

/**
 * Sends each kind of request the drains make (but evictions: the scale-in's own, the same for any
 * drainer) many times, four at a time, on the running server, and divides the API server's CPU by
 * the count. The watch event's cost is what 50 watchers add to the same writes.
 */
export async function runRequestCosts(env: BenchEnv): Promise<RequestCosts> {
  progress('request costs: each kind of the drains’ requests, many times, on the same server');
  const admin = kubeConfigFor(env.cluster, 'admin');
  const http = new KubeHttp(admin, DEFAULT_REQUEST_TIMEOUTS);
  const namespace = `costs-${Date.now()}`;
  await http.send('POST', '/api/v1/namespaces', { body: { metadata: { name: namespace } } });
  const leases = `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`;
  const node = `${namespace}-node`;
  const nodePath = `/api/v1/nodes/${node}`;
  const costs: RequestCosts = {};
  const measure = async (kind: string, n: number, send: (i: number) => Promise<unknown>): Promise<number> => {
    const cpu = cpuMeter(env.cluster.dir);
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < n) await send(next++);
      }),
    );
    const ms = ((cpu()['kube-apiserver'] ?? 0) * 1000) / n;
    costs[kind] = ms;
    return ms;
  };
  const stops: (() => void)[] = [];
  try {
    for (let i = 0; i < COST_RUNS.watchers; i++) {
      await http.send('POST', leases, { body: { metadata: { name: `l${i}`, labels: { costs: 'yes' } } } });
    }
    const patchLease = (i: number) =>
      http.send('PATCH', `${leases}/l${i % COST_RUNS.watchers}`, {
        contentType: 'application/merge-patch+json',
        body: { metadata: { annotations: { tickets: `${PDB_SIZED}${i}` } } },
      });
    const unwatched = await measure('PATCH leases', COST_RUNS.writes, patchLease);
    await measure('POST leases', COST_RUNS.writes, (i) =>
      http.send('POST', leases, { body: { metadata: { name: `c${i}` } } }),
    );
    await measure('DELETE leases', COST_RUNS.writes, (i) => http.send('DELETE', `${leases}/c${i}`));
    await http.send('POST', '/api/v1/nodes', { body: { metadata: { name: node } } });
    await measure('GET nodes', COST_RUNS.reads, () => http.getJson(nodePath));
    await measure('PATCH nodes', COST_RUNS.writes, (i) =>
      http.send('PATCH', nodePath, {
        contentType: 'application/merge-patch+json',
        body: { metadata: { annotations: { job: `${i}` } } },
      }),
    );
    await measure('POST events', COST_RUNS.writes, (i) =>
      http.send('POST', `/api/v1/namespaces/${namespace}/events`, {
        body: {
          metadata: { name: `e${i}` },
          involvedObject: { kind: 'Node', name: node, namespace },
          reason: 'Costs',
          message: 'measuring',
          type: 'Normal',
        },
      }),
    );
    // a drain's watch opens with a list from the watch cache, then the watch from its version
    const open = async (): Promise<void> => {
      const list = await http.getJson<{ metadata?: { resourceVersion?: string } }>(leases, {
        labelSelector: 'costs=yes',
        resourceVersion: '0',
      });
      const query = {
        watch: 'true',
        labelSelector: 'costs=yes',
        resourceVersion: list.metadata?.resourceVersion,
        timeoutSeconds: '600',
      };
      stops.push(await http.watch(leases, query, 700_000, { onEvent: () => {}, onEnd: () => {} }));
    };
    await measure('LIST+WATCH', COST_RUNS.opens, open);
    const watched = await measure('PATCH leases, 50 watching', COST_RUNS.writes, patchLease);
    costs['watch event'] = (watched - unwatched) / COST_RUNS.opens;
    return costs;
  } finally {
    for (const stop of stops) stop();
    await http.send('DELETE', nodePath).catch(() => {});
    await http.send('DELETE', `/api/v1/namespaces/${namespace}`).catch(() => {});
  }
}

/** What the drains' requests and watches of a scale-in cost the API server, at the measured rates. */
export function drainsShare(
  costs: RequestCosts,
  drains: RequestCounts,
  server: ServerView,
): { rows: [string, number, number][]; cpuS: number } {
  const rows: [string, number, number][] = [];
  for (const [kind, count] of Object.entries(drains)) {
    const verb = kind.split(' ')[0];
    // a list and a watch are measured together, as a drain opens its watches: half each
    const each = verb === 'LIST' || verb === 'WATCH' ? (costs['LIST+WATCH'] ?? 0) / 2 : costs[kind];
    if (each !== undefined) rows.push([kind, count, (count * each) / 1000]);
  }
  const each = costs['watch event'] ?? 0;
  for (const kind of ['PodDisruptionBudget', 'Lease']) {
    const events = server.watchEvents[kind] ?? 0;
    if (events > 0) rows.push([`${kind} watch events, to every watcher`, events, (events * each) / 1000]);
  }
  return { rows, cpuS: rows.reduce((sum, [, , s]) => sum + s, 0) };
}

export function requestCostsSection(
  costs: RequestCosts,
  scale?: { readonly requests: RequestCounts; readonly server: ServerView; readonly apiserverCpuS: number },
): Section {
  const table = mdTable(
    ['request, four at a time', 'API server CPU each'],
    Object.entries(costs).map(([kind, ms]) => [
      kind,
      kind === 'watch event' ? `${(ms * 1000).toFixed(1)} µs a watcher` : `${ms.toFixed(2)} ms`,
    ]),
    'lr',
  );
  const share = scale && drainsShare(costs, scale.requests, scale.server);
  const shareText = share
    ? `

The scale-in's drains at these costs (their requests but evictions, counted by the handlers; the
watch events of the kinds they watch, counted by the server for every watcher: the drains are most of
them): **${share.cpuS.toFixed(1)} CPU s** of the API server's ${scale.apiserverCpuS.toFixed(1)} s during the scale-in. The rest is
the evictions and what the scale-in makes the rest of the cluster do (new pods, their binding and
status, the ReplicaSets', Deployments' and PDBs' status), which every drainer causes alike.

${mdTable(
  ['the drains’', 'count', 'CPU s'],
  share.rows.sort(([, , a], [, , b]) => b - a).map(([kind, n, s]) => [kind, String(n), s.toFixed(2)]),
  'lrr',
)}`
    : '';
  return {
    rows: [
      {
        benchmark: 'R. API server CPU of the drains’ requests (but evictions) in the scale-in',
        result: share
          ? `${share.cpuS.toFixed(1)} s of ${scale.apiserverCpuS.toFixed(1)} s`
          : 'no scale-in in this run',
        target: '(reference)',
        met: true,
      },
    ],
    details: `### R. What the drains' requests cost the API server

Each kind of request the drains make but evictions, sent many times on the same server (four at a
time, by the admin: a static token, where the drains' EKS tokens go through the webhook and its cache),
the API server's CPU divided by the count; a watch event's cost is what 50 watchers of the leases add
to the same lease writes (objects about a PDB's size).

${table}${shareText}`,
  };
}
