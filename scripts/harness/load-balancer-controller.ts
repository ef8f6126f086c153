/**
 * Plays the AWS Load Balancer Controller (and the in-tree service controller) for tests: watches one
 * node's labels by polling, and once the node carries
 * `node.kubernetes.io/exclude-from-external-load-balancers` (any value) deregisters the node's instance
 * id and its IPs from every target group of the local ELBv2 endpoint, with a deregistration delay.
 * The targets then drain for that delay and disappear (see scripts/harness/elbv2.ts).
 */
import { CoreV1Api, type KubeConfig, type V1Node } from '@kubernetes/client-node';
import type { LocalAwsEndpoint } from './aws-endpoint.js';

export const EXCLUDE_FROM_LOAD_BALANCERS_LABEL = 'node.kubernetes.io/exclude-from-external-load-balancers';

/** The one Kubernetes call the stand-in makes; `CoreV1Api` is one. */
export interface NodeReader {
  readNode(param: { name: string }): Promise<V1Node>;
}

export interface LoadBalancerControllerOptions {
  /** An admin KubeConfig; or `nodes` (e.g. a stub in a unit test). */
  readonly kubeConfig?: KubeConfig;
  readonly nodes?: NodeReader;
  /** The local endpoint whose `elbv2` model is changed. */
  readonly aws: Pick<LocalAwsEndpoint, 'elbv2' | 'privateIpsOf'>;
  readonly nodeName: string;
  /**
   * The node's instance id.
   * @default the last path segment of the node's spec.providerID (aws:///<zone>/<instance-id>)
   */
  readonly instanceId?: string;
  /**
   * The IPs deregistered besides the instance id (IP-mode targets).
   * @default the instance's IPs in the endpoint's EC2 model, and the node's InternalIP addresses
   */
  readonly ips?: readonly string[];
  /** How long deregistered targets stay `draining` before they are gone. */
  readonly deregistrationDelayMs: number;
  /** @default 200 */
  readonly pollIntervalMs?: number;
  /** Polling stops after this long without seeing the label (`result` = 'timed-out'). @default 120000 */
  readonly timeoutMs?: number;
}

export type LoadBalancerControllerResult = 'deregistered' | 'stopped' | 'timed-out';

export class LoadBalancerControllerStandIn {
  /** Date.now() of the poll that first saw the label; undefined until then. */
  labelSeenAt?: number;
  /** What was deregistered: each id and how many targets started draining for it. */
  readonly deregistered: { readonly id: string; readonly targets: number }[] = [];
  /** Node reads so far. */
  polls = 0;
  /** The last failed node read (e.g. 404 before the node exists); polling goes on. */
  lastError?: unknown;
  /** Settles once: after the deregistration, on stop(), or at the timeout. */
  readonly result: Promise<LoadBalancerControllerResult>;

  private readonly nodes: NodeReader;
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private timer?: NodeJS.Timeout;
  private inFlight?: Promise<void>;
  private startedAt?: number;
  private finished = false;
  private settle!: (result: LoadBalancerControllerResult) => void;

  constructor(private readonly options: LoadBalancerControllerOptions) {
    if ((options.kubeConfig === undefined) === (options.nodes === undefined)) {
      throw new Error('give exactly one of kubeConfig and nodes');
    }
    this.nodes = options.nodes ?? (options.kubeConfig as KubeConfig).makeApiClient(CoreV1Api);
    this.intervalMs = options.pollIntervalMs ?? 200;
    this.timeoutMs = options.timeoutMs ?? 120_000;
    if (!(this.intervalMs > 0)) throw new Error(`pollIntervalMs must be positive, got ${this.intervalMs}`);
    if (!(options.deregistrationDelayMs >= 0)) {
      throw new Error(`deregistrationDelayMs must not be negative, got ${options.deregistrationDelayMs}`);
    }
    this.result = new Promise((resolve) => {
      this.settle = resolve;
    });
  }

  /** Starts polling (the first read right away). */
  start(): this {
    if (this.startedAt !== undefined) throw new Error('already started');
    this.startedAt = Date.now();
    this.schedule(0);
    return this;
  }

  /** Stops polling and waits for a read in flight; `result` is 'stopped' unless it settled before. */
  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.finish('stopped');
    await this.inFlight;
  }

  private schedule(delayMs: number): void {
    if (this.finished) return;
    this.timer = setTimeout(() => {
      this.inFlight = this.poll();
    }, delayMs);
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    if (this.finished) return;
    this.polls++;
    let node: V1Node;
    try {
      node = await this.nodes.readNode({ name: this.options.nodeName });
    } catch (error) {
      this.lastError = error;
      this.next();
      return;
    }
    if (this.finished) return;
    if (node.metadata?.labels?.[EXCLUDE_FROM_LOAD_BALANCERS_LABEL] === undefined) {
      this.next();
      return;
    }
    this.labelSeenAt = Date.now();
    this.deregister(node);
    this.finish('deregistered');
  }

  private next(): void {
    if (Date.now() - (this.startedAt ?? 0) >= this.timeoutMs) this.finish('timed-out');
    else this.schedule(this.intervalMs);
  }

  private deregister(node: V1Node): void {
    const instanceId = this.options.instanceId ?? node.spec?.providerID?.split('/').at(-1);
    const ips =
      this.options.ips ??
      [
        ...(instanceId ? this.options.aws.privateIpsOf(instanceId) : []),
        ...(node.status?.addresses ?? []).filter((a) => a.type === 'InternalIP').map((a) => a.address),
      ].filter((ip, i, all) => all.indexOf(ip) === i);
    for (const id of [...(instanceId ? [instanceId] : []), ...ips]) {
      const targets = this.options.aws.elbv2.deregister('*', id, this.options.deregistrationDelayMs);
      this.deregistered.push({ id, targets });
    }
  }

  private finish(result: LoadBalancerControllerResult): void {
    if (this.finished) return;
    this.finished = true;
    this.settle(result);
  }
}
