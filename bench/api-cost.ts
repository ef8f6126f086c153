/**
 * Benchmark 2, API cost: Kubernetes requests per drain by verb, counted at the client.
 *
 * Ours: at node's `https.request`, which every call of the drainer passes (lambda/kube/http.ts):
 * countHttps in a drain's own process, countEksTokenRequests where the handlers share a process with
 * the simulated kubelets (the scale-in), each request with its method and URL, 401 retries included.
 * kubectl: from its `-v=6` log, one `round_trippers.go` line per request with method, URL and status.
 * Both sides go through the same classifier, so the rows compare like with like.
 */
import { IncomingMessage } from 'node:http';
import https from 'node:https';
import { syncBuiltinESMExports } from 'node:module';
import type { DrainRun } from './latency.js';
import { DEPLOYMENTS, mdTable, median, REPLICAS, type Section } from './support.js';

export type RequestCounts = Record<string, number>;

/** "LIST pods", "POST pods/eviction", "PATCH nodes", "GET discovery", … */
export function requestKind(method: string, url: string): string {
  const { pathname, searchParams } = new URL(url);
  const parts = pathname.split('/').filter(Boolean);
  const rest = parts[0] === 'api' ? parts.slice(2) : parts[0] === 'apis' ? parts.slice(3) : [];
  if (rest.length === 0) return `${method} discovery`;
  const [resource, name, sub] = rest[0] === 'namespaces' && rest.length >= 3 ? rest.slice(2) : rest;
  const verb =
    method !== 'GET' ? method : searchParams.get('watch') === 'true' ? 'WATCH' : name ? 'GET' : 'LIST';
  return `${verb} ${resource}${sub ? `/${sub}` : ''}`;
}

/**
 * A read the API server answers from etcd rather than its watch cache: on servers before 1.31 every
 * GET and LIST without resourceVersion=0 (watches are served from the cache).
 */
export function readsEtcd(method: string, url: string): boolean {
  const { searchParams } = new URL(url);
  return (
    method === 'GET' && searchParams.get('watch') !== 'true' && searchParams.get('resourceVersion') !== '0'
  );
}

/** Request kinds in counts, plus 'reads → etcd' and 'bytes received' (response bodies). */
export const ETCD_READS = 'reads → etcd';
export const BYTES = 'bytes received';

/**
 * Counts every HTTPS request this process sends from now on, at node's https.request: the
 * @kubernetes/client-node calls (through node-fetch) and the drainer's own list and watch requests
 * (lambda/kube/http.ts) alike, with the bytes of every response body.
 */
export function countHttps(): RequestCounts {
  const counts: RequestCounts = { [BYTES]: 0 };
  const add = (kind: string, n = 1) => {
    counts[kind] = (counts[kind] ?? 0) + n;
  };
  const real = https.request;
  https.request = ((...args: Parameters<typeof https.request>) => {
    const req = real(...args);
    const url = `https://${req.host}${req.path}`;
    add(requestKind(req.method, url));
    if (readsEtcd(req.method, url)) add(ETCD_READS);
    return req;
  }) as typeof https.request;
  syncBuiltinESMExports();
  // body bytes as the HTTP parser hands them over (a 'data' listener would change how they flow)
  const push = IncomingMessage.prototype.push;
  IncomingMessage.prototype.push = function (
    this: IncomingMessage,
    chunk: unknown,
    encoding?: BufferEncoding,
  ) {
    if (chunk instanceof Buffer || typeof chunk === 'string') add(BYTES, Buffer.byteLength(chunk));
    return push.call(this, chunk, encoding);
  };
  return counts;
}

/**
 * Counts the HTTPS requests this process sends with an EKS token (`Bearer k8s-aws-v1.…`): the
 * handlers' own (lambda/kube/http.ts, every call of the drainer goes through it), not those of the
 * simulated kubelets or the benchmark (client certificates) in the same process. A watch counts once,
 * when it opens.
 */
export function countEksTokenRequests(): { counts: RequestCounts; stop: () => void } {
  const counts: RequestCounts = {};
  const real = https.request;
  https.request = ((...args: Parameters<typeof https.request>) => {
    const req = real(...args);
    const auth = req.getHeader('authorization');
    if (typeof auth === 'string' && auth.startsWith('Bearer k8s-aws-v1.')) {
      const kind = requestKind(req.method, `https://${req.host}${req.path}`);
      counts[kind] = (counts[kind] ?? 0) + 1;
    }
    return req;
  }) as typeof https.request;
  syncBuiltinESMExports();
  const stop = (): void => {
    https.request = real;
    syncBuiltinESMExports();
  };
  return { counts, stop };
}

/** Requests in a kubectl `-v=6` log, by kind; 429 answers are also counted under "… → 429". */
export function kubectlRequests(log: string): RequestCounts {
  const counts: RequestCounts = {};
  for (const match of log.matchAll(/round_trippers\.go:\d+\] (GET|POST|PUT|PATCH|DELETE) (\S+) (\d{3})/g)) {
    const [, method = '', url = '', status = ''] = match;
    for (const kind of [
      requestKind(method, url),
      ...(status === '429' ? [`${requestKind(method, url)} → 429`] : []),
      ...(readsEtcd(method, url) ? [ETCD_READS] : []),
    ])
      counts[kind] = (counts[kind] ?? 0) + 1;
  }
  return counts;
}

export function total(counts: RequestCounts): number {
  return Object.entries(counts)
    .filter(([kind]) => !kind.includes('→') && kind !== BYTES)
    .reduce((sum, [, n]) => sum + n, 0);
}

/** Median per kind over repetitions (a kind missing from a repetition counts 0 there). */
export function medianCounts(runs: readonly RequestCounts[]): RequestCounts {
  const kinds = new Set(runs.flatMap((r) => Object.keys(r)));
  return Object.fromEntries([...kinds].map((k) => [k, median(runs.map((r) => r[k] ?? 0))]));
}

export function apiCostSection(runs: readonly DrainRun[]): Section {
  const of = (drainer: DrainRun['drainer']): RequestCounts =>
    medianCounts(runs.filter((r) => r.drainer === drainer).map((r) => r.requests));
  const ours = of('ours');
  const before = of('polling');
  const kubectl = of('kubectl');
  const pods = DEPLOYMENTS * REPLICAS;
  const order = (k: string): string =>
    (k.includes('eviction') ? '0' : k.startsWith('GET pods') ? '1' : '2') + k;
  const kinds = [...new Set([...Object.keys(ours), ...Object.keys(before), ...Object.keys(kubectl)])]
    .filter((k) => k !== BYTES && k !== ETCD_READS)
    .sort((a, b) => order(a).localeCompare(order(b)));
  const kib = (c: RequestCounts): string =>
    c[BYTES] === undefined ? 'not logged' : `${Math.round(c[BYTES] / 1024)} KiB`;
  const table = mdTable(
    ['request (median per drain)', 'ours (watches)', 'before (listing)', 'kubectl drain'],
    [
      ...kinds.map((k) => [k, String(ours[k] ?? 0), String(before[k] ?? 0), String(kubectl[k] ?? 0)]),
      ['**total**', `**${total(ours)}**`, `**${total(before)}**`, `**${total(kubectl)}**`],
      [
        `GETs and LISTs that reach etcd (${ETCD_READS})`,
        String(ours[ETCD_READS] ?? 0),
        String(before[ETCD_READS] ?? 0),
        String(kubectl[ETCD_READS] ?? 0),
      ],
      ['response bytes received', kib(ours), kib(before), 'not logged'],
    ],
    'lrrr',
  );
  const oursRuns = runs.filter((r) => r.drainer === 'ours');
  // per run: every eviction request is a pod's first or a retry after a 429; no GET of single pods
  const met = oursRuns.every(
    (r) =>
      r.requests['POST pods/eviction'] === pods + r.evictionRefusals && (r.requests['GET pods'] ?? 0) === 0,
  );
  const evictions = ours['POST pods/eviction'] ?? 0;
  const refusals = ours['POST pods/eviction → 429'] ?? 0;
  const perPodGets = kubectl['GET pods'] ?? 0;
  return {
    rows: [
      {
        benchmark: '2. API cost per 110-pod drain',
        result:
          `ours ${total(ours)} requests (${kib(ours)}; ${ours[ETCD_READS] ?? 0} reads reach etcd): ${evictions} evictions = ${pods} pods + ${refusals} PDB refusals, ` +
          `${ours['LIST pods'] ?? 0} pod LISTs, ${ours['WATCH pods'] ?? 0} + ${ours['WATCH poddisruptionbudgets'] ?? 0} watches · before ${total(before)} (${kib(before)}, ${before['LIST pods'] ?? 0} pod LISTs) · kubectl ${total(kubectl)} (${perPodGets} per-pod GETs, ${kubectl[ETCD_READS] ?? 0} reads reach etcd)`,
        target: 'evictions ≈ pods + PDB retries; no per-pod polling GETs',
        met,
      },
    ],
    details: `### 2. API cost: Kubernetes requests per 110-pod drain, by kind (median of the runs above)

Counted at the client, at the HTTP level. Ours: every request the drain process sends passes node's
\`https.request\` (the @kubernetes/client-node calls through node-fetch and the engine's own list and watch
requests alike), so the one-off policy-group discovery and any 401 retry count too, with every response
body's bytes. "Reach etcd": GETs and LISTs without \`resourceVersion=0\` (and not watches), which servers before
1.31 answer with a quorum read of etcd; from 1.31 consistent lists are served from the watch cache too. The 429 row comes from the drain's report (refusals are not
visible before the response). kubectl: its \`-v=6\` log, one \`round_trippers.go\` line per request with
method, URL and status, warm discovery cache. Both go through the same URL classifier (GET with a name,
LIST without; \`→ 429\` rows are included in the line above them, not added to the total).

${table}

Ours follows the node's pods (\`fieldSelector=spec.nodeName\`) and the PDBs with one watch each, after one list
each from the watch cache; before watches it listed the node on every poll. kubectl GETs every evicted pod once
a second; kubectl retries a refused pod after a flat 5 s and is throttled to 5 QPS
client-side, so it is refused ${kubectl['POST pods/eviction → 429'] ?? 0} times per drain to our ${refusals}.`,
  };
}
