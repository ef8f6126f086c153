/**
 * A real, local Kubernetes control plane for tests, benchmarks and the demo: etcd on tmpfs,
 * kube-apiserver (1.20.2 built from Debian's source, or the provided v1.32) with TLS from a throw-away
 * CA and RBAC on, and kube-controller-manager with the disruption, replicaset and deployment
 * controllers. See ../../../shared/design/TEST-HARNESS.md and ../../../shared/k8s-v1.32/README.md.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeConfig, type KubernetesObject, KubernetesObjectApi, loadAllYaml } from '@kubernetes/client-node';
import { FLOWCONTROL_FILE, rbacFiles } from '../../lambda/contract.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * The control planes the harness runs: 1.20.2 (policy/v1beta1 only, built by scripts/setup-cluster.sh)
 * and v1.32 (policy/v1 only, like every supported EKS version; unpacked from ../shared/k8s-v1.32).
 */
export const K8S_VERSIONS = ['1.20', '1.32'] as const;
export type K8sVersion = (typeof K8S_VERSIONS)[number];

export function parseK8sVersion(value: string): K8sVersion {
  const version = K8S_VERSIONS.find((v) => v === value || value === `${v}.2` || value === `v${v}`);
  if (!version) throw new Error(`unknown Kubernetes version '${value}' (one of ${K8S_VERSIONS.join(', ')})`);
  return version;
}

/** EKS_DRAINER_K8S, else 1.20: the one server every machine can build. */
export function defaultK8sVersion(): K8sVersion {
  const value = process.env.EKS_DRAINER_K8S;
  return value ? parseK8sVersion(value) : '1.20';
}

/** Where the v1.32 pair is provided: ../shared/k8s-v1.32 beside the repo, or EKS_DRAINER_K8S_132_DIR. */
export function k8s132SourceDir(): string {
  return process.env.EKS_DRAINER_K8S_132_DIR ?? resolve(REPO_ROOT, '..', 'shared', 'k8s-v1.32');
}

/** Why the v1.32 binaries cannot be used on this machine, or undefined when they can. */
export function k8s132Missing(): string | undefined {
  const dir = k8s132SourceDir();
  const missing = ['SHA256SUMS', 'kube-apiserver.xz', 'kube-controller-manager.xz'].filter(
    (file) => !existsSync(join(dir, file)),
  );
  return missing.length ? `v1.32 binaries not found at ${dir} (missing ${missing.join(', ')})` : undefined;
}

/** admin: system:masters · drainer: group eks-node-drainer (the project's RBAC) · outsider: no grants. */
export type Identity = 'admin' | 'drainer' | 'outsider';

/** Connection facts of a running cluster; plain JSON, so it can cross process boundaries. */
export interface ClusterInfo {
  readonly server: string;
  readonly caFile: string;
  readonly tokens: Readonly<Record<Identity, string>>;
  /** kubeconfig file for the admin identity (for kubectl and the controller manager). */
  readonly adminKubeconfig: string;
  readonly dir: string;
  /** Which of the harness's control planes runs. */
  readonly version: K8sVersion;
  /** What the apiserver says it is (`/version` gitVersion), e.g. v1.20.2 or v1.32.0-beta.0. */
  readonly serverVersion: string;
}

export interface LocalCluster extends ClusterInfo {
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Which control plane; default EKS_DRAINER_K8S, else 1.20. */
  readonly version?: K8sVersion;
  /** Folder holding kube-apiserver and kube-controller-manager; default: the setup script's cache. */
  readonly binDir?: string;
  /**
   * The controller manager's client rate to the apiserver (--kube-api-qps; burst twice that). Default:
   * client-go's 20 QPS, burst 30, which throttles the ReplicaSet controller in mass evictions.
   */
  readonly kubeApiQps?: number;
  /** An authentication webhook (TokenReview) the apiserver should consult, e.g. the EKS token verifier. */
  readonly tokenWebhookUrl?: string;
  /** Print process logs' location and progress. */
  readonly log?: (message: string) => void;
}

export function defaultBinDir(version: K8sVersion = defaultK8sVersion()): string {
  const cache = process.env.EKS_DRAINER_CACHE ?? join(homedir(), '.cache', 'eks-node-drainer');
  return join(cache, version === '1.20' ? 'k8s-1.20.2' : 'k8s-1.32', 'bin');
}

/**
 * Builds (1.20, once) or unpacks and verifies (1.32, on first use) the binaries; the setup script is
 * idempotent and fast when cached. For 1.32 it always runs: it also notices new shared binaries.
 */
export function ensureBinaries(binDir?: string, version: K8sVersion = defaultK8sVersion()): string {
  const dir = binDir ?? defaultBinDir(version);
  const present = existsSync(join(dir, 'kube-apiserver')) && existsSync(join(dir, 'kube-controller-manager'));
  if (binDir !== undefined || (version === '1.20' && present)) return dir;
  if (version === '1.32') {
    const missing = k8s132Missing();
    if (missing) throw new Error(`${missing}: set EKS_DRAINER_K8S_132_DIR, or use EKS_DRAINER_K8S=1.20`);
  }
  execFileSync('bash', [join(REPO_ROOT, 'scripts', 'setup-cluster.sh'), version], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return dir;
}

/** Flags one version needs and the other refuses or does not need (../shared/k8s-v1.32/README.md). */
const VERSION_FLAGS: Record<
  K8sVersion,
  { etcd: string[]; apiserver: string[]; controllerManager: string[] }
> = {
  // the insecure port and the controller manager's insecure --port were removed after 1.20
  '1.20': {
    etcd: [],
    apiserver: ['--insecure-port=0'],
    // namespace (both versions): a removed namespace goes away (the RBAC applier's destroy removes the drainer's)
    controllerManager: ['--port=0', '--controllers=disruption,replicaset,deployment,namespace'],
  },
  '1.32': {
    // 1.32 serves a watch without resourceVersion from its watch cache once the cache has caught up with
    // etcd's current revision. A quiet resource's cache only learns that revision from etcd's progress
    // notifications, which etcd 3.4 sends every 10 min by default (and on request only from 3.4.31/3.5.13
    // on, as EKS's etcd does): without this, such a watch fails after 3 s with "Too large resource version".
    etcd: ['--experimental-watch-progress-notify-interval=200ms'],
    apiserver: [],
    controllerManager: ['--controllers=disruption,replicaset,deployment,namespace'],
  },
};

export async function startCluster(options: StartOptions = {}): Promise<LocalCluster> {
  const log = options.log ?? (() => {});
  const version = options.version ?? defaultK8sVersion();
  const flags = VERSION_FLAGS[version];
  const binDir = ensureBinaries(options.binDir, version);
  const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const dir = mkdtempSync(join(base, 'eks-node-drainer-'));
  const processes: ChildProcess[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(processes.reverse().map(stopProcess));
    rmSync(dir, { recursive: true, force: true });
  };
  const killOnExit = (): void => {
    for (const child of processes) killGroup(child, 'SIGKILL');
  };
  process.once('exit', killOnExit);

  try {
    makeCertificates(dir);
    const tokens: Record<Identity, string> = {
      admin: randomToken(),
      drainer: randomToken(),
      outsider: randomToken(),
    };
    writeFileSync(
      join(dir, 'tokens.csv'),
      [
        `${tokens.admin},admin,admin,"system:masters"`,
        `${tokens.drainer},drainer-test,drainer-test,"eks-node-drainer"`,
        `${tokens.outsider},outsider,outsider`,
        '',
      ].join('\n'),
    );
    const [etcdPort, peerPort, apiPort] = await freePorts(3);
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;

    processes.push(
      launch(dir, 'etcd', 'etcd', [
        `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-cluster=default=http://127.0.0.1:${peerPort}`,
        '--name=default',
        '--log-level=warn',
        ...flags.etcd,
      ]),
    );
    await waitFor('etcd', 20_000, processes, async () => (await fetch(`${etcdUrl}/health`)).ok);
    log(`etcd ready on ${etcdUrl}`);

    const webhookArgs = options.tokenWebhookUrl
      ? [
          `--authentication-token-webhook-config-file=${writeWebhookConfig(dir, options.tokenWebhookUrl)}`,
          '--authentication-token-webhook-cache-ttl=0s',
        ]
      : [];
    processes.push(
      launch(dir, 'kube-apiserver', join(binDir, 'kube-apiserver'), [
        `--etcd-servers=${etcdUrl}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${apiPort}`,
        ...flags.apiserver,
        `--tls-cert-file=${join(dir, 'server.crt')}`,
        `--tls-private-key-file=${join(dir, 'server.key')}`,
        `--client-ca-file=${join(dir, 'ca.crt')}`,
        `--token-auth-file=${join(dir, 'tokens.csv')}`,
        '--authorization-mode=RBAC',
        `--service-account-key-file=${join(dir, 'sa.pub')}`,
        `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
        '--service-account-issuer=https://kubernetes.default.svc',
        '--service-cluster-ip-range=10.96.0.0/16',
        '--disable-admission-plugins=ServiceAccount',
        '--endpoint-reconciler-type=none',
        `--profiling=${process.env.EKS_DRAINER_APISERVER_PROFILING === '1'}`,
        ...webhookArgs,
      ]),
    );
    const server = `https://127.0.0.1:${apiPort}`;
    const ca = readFileSync(join(dir, 'ca.crt'));
    await waitFor('kube-apiserver', 60_000, processes, async () => {
      return (await httpsGet(`${server}/readyz`, ca, tokens.admin)).status === 200;
    });
    const serverVersion = (
      JSON.parse((await httpsGet(`${server}/version`, ca, tokens.admin)).body) as { gitVersion: string }
    ).gitVersion;
    log(`kube-apiserver ${serverVersion} ready on ${server}`);

    const adminKubeconfig = join(dir, 'admin.kubeconfig');
    writeFileSync(adminKubeconfig, kubeconfigYaml(server, join(dir, 'ca.crt'), tokens.admin));
    const qps = options.kubeApiQps
      ? [`--kube-api-qps=${options.kubeApiQps}`, `--kube-api-burst=${2 * options.kubeApiQps}`]
      : [];
    processes.push(
      launch(dir, 'kube-controller-manager', join(binDir, 'kube-controller-manager'), [
        `--kubeconfig=${adminKubeconfig}`,
        '--leader-elect=false',
        ...flags.controllerManager,
        '--secure-port=0',
        '--concurrent-replicaset-syncs=10',
        '--concurrent-deployment-syncs=10',
        ...qps,
      ]),
    );

    const info: ClusterInfo = {
      server,
      caFile: join(dir, 'ca.crt'),
      tokens,
      adminKubeconfig,
      dir,
      version,
      serverVersion,
    };
    await applyRbac(info);
    log('project RBAC applied');
    return {
      ...info,
      stop: async () => {
        process.removeListener('exit', killOnExit);
        await stop();
      },
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Each CA file's content, base64: read once (a KubeConfig with `caFile` reads it on every request). */
const caData = new Map<string, string>();

/**
 * A KubeConfig for one of the cluster's identities, verifying TLS against the cluster's CA (its data
 * inline: with the file's path, every request of every client read the file again, 6 s of the
 * 50-node benchmark's process).
 */
export function kubeConfigFor(info: ClusterInfo, identity: Identity): KubeConfig {
  let ca = caData.get(info.caFile);
  if (ca === undefined) {
    ca = readFileSync(info.caFile).toString('base64');
    caData.set(info.caFile, ca);
  }
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'local', server: info.server, caData: ca, skipTLSVerify: false }],
    users: [{ name: identity, token: info.tokens[identity] }],
    contexts: [{ name: 'local', cluster: 'local', user: identity }],
    currentContext: 'local',
  });
  return kc;
}

export { FLOWCONTROL_FILE } from '../../lambda/contract.js';

/**
 * What acts on the out-of-service taint of a lost node (Non-graceful node shutdown, 1.28+): the NoExecute
 * taint eviction (its own controller from 1.29) and podgc, which force-deletes the terminating pods of a
 * NotReady node with that taint; the node lifecycle controller only lends the taint eviction its
 * pods-by-node index. They run only for the files that need them (test/e2e/lost.test.ts), in a
 * controller manager of their own: the node lifecycle controller writes taints to every node (e.g.
 * `unschedulable` on a cordoned one), and those writes race the other files' read-then-write checks.
 */
export const LOST_NODE_CONTROLLERS = ['node-lifecycle-controller', 'taint-eviction-controller', 'podgc'];

/**
 * Starts more controllers of the cluster's kube-controller-manager in a process of their own beside
 * the cluster's; resolves to its stop. With no kubelet reporting, the node lifecycle controller must
 * never call a node unreachable (the tests mark a lost node themselves): grace periods of a day.
 */
export async function startControllers(
  info: ClusterInfo,
  controllers: readonly string[],
): Promise<() => Promise<void>> {
  const binDir = ensureBinaries(undefined, info.version);
  const child = launch(
    info.dir,
    `kube-controller-manager-${controllers[0]}`,
    join(binDir, 'kube-controller-manager'),
    [
      `--kubeconfig=${info.adminKubeconfig}`,
      '--leader-elect=false',
      `--controllers=${controllers.join(',')}`,
      '--secure-port=0',
      '--node-startup-grace-period=24h',
      '--node-monitor-grace-period=24h',
    ],
  );
  // no health endpoint on --secure-port=0: give its informers a moment to sync
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  return () => stopProcess(child);
}

/**
 * Applies the project's least-privilege RBAC for ON_DRAIN_TIMEOUT=delete, the widest policy:
 * infra/k8s/rbac.yaml and infra/k8s/rbac-delete-pods.yaml (pods delete, at the deadline); and on a
 * server that serves flowcontrol v1 (v1.32 here), the drainer's priority level, as a cluster would
 * have them.
 */
async function applyRbac(info: ClusterInfo): Promise<void> {
  const api = KubernetesObjectApi.makeApiClient(kubeConfigFor(info, 'admin'));
  const files = [...rbacFiles('delete'), ...(info.version === '1.32' ? [FLOWCONTROL_FILE] : [])];
  for (const file of files) {
    const docs = loadAllYaml(readFileSync(join(REPO_ROOT, file), 'utf8')) as KubernetesObject[];
    for (const doc of docs) await api.create(doc);
  }
}

// ---- processes ------------------------------------------------------------------------------

function launch(dir: string, name: string, command: string, args: string[]): ChildProcess {
  const out = openSync(join(dir, `${name}.log`), 'a');
  // detached: a process group of its own, so stopping it takes its children too
  const child = spawn(command, args, { detached: true, stdio: ['ignore', out, out] });
  child.on('error', () => {});
  child.unref();
  return child;
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  killGroup(child, 'SIGTERM');
  const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

async function waitFor(
  what: string,
  timeoutMs: number,
  processes: readonly ChildProcess[],
  ready: () => Promise<boolean>,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const dead = processes.find((p) => p.exitCode !== null);
    if (dead) throw new Error(`${what}: a harness process exited early (code ${dead.exitCode}); see its log`);
    if (await ready().catch(() => false)) return;
    if (Date.now() > until) throw new Error(`${what} not ready within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A GET with the cluster's CA and a bearer token, answered within 5 s. */
export function httpsGet(url: string, ca: Buffer, token: string): Promise<{ status: number; body: string }> {
  return new Promise((resolvePromise, reject) => {
    const req = request(
      url,
      { agent: new Agent({ ca }), headers: { Authorization: `Bearer ${token}` } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolvePromise({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    // a wedged connection must not stall the readiness wait past its own deadline
    req.setTimeout(5_000, () => req.destroy(new Error(`${url}: no answer within 5 s`)));
    req.end();
  });
}

export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolvePromise, reject) => {
          const s = createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolvePromise(s));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const address = s.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    return address.port;
  });
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

// ---- files ----------------------------------------------------------------------------------

function randomToken(): string {
  return randomBytes(24).toString('hex');
}

function makeCertificates(dir: string): void {
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  };
  writeFileSync(
    join(dir, 'server.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n',
  );
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '2',
    '-subj',
    '/CN=eks-node-drainer-test-ca',
  );
  openssl(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
    '-subj',
    '/CN=kube-apiserver',
  );
  openssl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.crt',
    '-days',
    '2',
    '-extfile',
    'server.ext',
  );
  openssl('genrsa', '-out', 'sa.key', '2048');
  openssl('rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub');
}

function kubeconfigYaml(server: string, caFile: string, token: string): string {
  return `apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: ${server}
    certificate-authority: ${caFile}
users:
- name: admin
  user:
    token: ${token}
contexts:
- name: local
  context:
    cluster: local
    user: admin
current-context: local
`;
}

function writeWebhookConfig(dir: string, url: string): string {
  const file = join(dir, 'token-webhook.kubeconfig');
  writeFileSync(
    file,
    `apiVersion: v1
kind: Config
clusters:
- name: token-webhook
  cluster:
    server: ${url}
users:
- name: apiserver
contexts:
- name: webhook
  context:
    cluster: token-webhook
    user: apiserver
current-context: webhook
`,
  );
  return file;
}
