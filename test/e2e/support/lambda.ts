import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, inject, vi } from 'vitest';
import type { InvocationContext, InvocationSummary } from '../../../lambda/handler.js';
import { type LifecycleActionState, LocalAwsEndpoint } from '../../../scripts/harness/aws-endpoint.js';
import type { Workload } from '../../../scripts/harness/workload.js';

export { lifecycleEvent } from '../../support/events.js';

import { E2E_CLUSTER_NAME } from '../global-setup.js';

export const FUNCTION_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:eks-node-drainer';

export type Handler = (event: unknown, context: InvocationContext) => Promise<InvocationSummary>;

/**
 * Imports a fresh lambda/handler.ts (a new "container") with this environment: the local AWS
 * endpoint for every SDK client, and the drainer's own settings. The environment is set through
 * vi.stubEnv and lasts until the end of the test (see restoreEnv): a setting such as
 * ON_DRAIN_TIMEOUT=abandon never reaches a handler loaded by a later test. Within one test, settings
 * of an earlier call stay unless overridden.
 */
export async function loadHandler(aws: LocalAwsEndpoint, env: Record<string, string> = {}): Promise<Handler> {
  vi.resetModules();
  const all = { ...aws.env(), CLUSTER_NAME: E2E_CLUSTER_NAME, LOG_LEVEL: 'error', ...env };
  for (const [key, value] of Object.entries(all)) vi.stubEnv(key, value);
  return (await import('../../../lambda/handler.js')).handler;
}

/** Puts process.env back as it was before loadHandler; runs after every test of a file that imports this. */
export function restoreEnv(): void {
  vi.unstubAllEnvs();
}

afterEach(() => {
  restoreEnv();
});

/** A local AWS endpoint for the calling test file: started before its tests, stopped after them. */
export function localAws(): LocalAwsEndpoint {
  const aws = new LocalAwsEndpoint();
  beforeAll(async () => {
    await aws.start();
  });
  afterAll(async () => {
    await aws.stop();
  });
  return aws;
}

/** Registers the e2e cluster with the local EKS endpoint (optionally at another address). */
export function registerCluster(aws: LocalAwsEndpoint, endpoint = inject('cluster').server): void {
  const ca = readFileSync(inject('cluster').caFile).toString('base64');
  aws.clusters.set(E2E_CLUSTER_NAME, { endpoint, certificateAuthority: ca });
}

export function context(remainingMs = 900_000): InvocationContext {
  const deadline = Date.now() + remainingMs;
  return {
    invokedFunctionArn: FUNCTION_ARN,
    awsRequestId: randomUUID(),
    getRemainingTimeInMillis: () => deadline - Date.now(),
  };
}

/** A lifecycle action for the workload's node, known to the local AutoScaling endpoint. */
export function lifecycleAction(
  aws: LocalAwsEndpoint,
  world: Workload,
  withDns = true,
): LifecycleActionState {
  if (withDns) aws.instances.set(world.instanceId, world.node);
  return aws.addLifecycleAction({
    token: randomUUID(),
    autoScalingGroupName: `${world.namespace}-asg`,
    hookName: 'eks-node-drainer',
    instanceId: world.instanceId,
  });
}

/** The JSON lines the handler writes to stdout while `fn` runs. */
export async function captureLogs<T>(
  fn: () => Promise<T>,
): Promise<{ result: T; lines: Record<string, unknown>[] }> {
  const lines: Record<string, unknown>[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    for (const line of String(chunk).split('\n')) {
      if (line.startsWith('{')) lines.push(JSON.parse(line) as Record<string, unknown>);
    }
    return true;
  });
  try {
    return { result: await fn(), lines };
  } finally {
    spy.mockRestore();
  }
}

export async function webhookControl(path: string, method = 'GET'): Promise<unknown> {
  const res = await fetch(`${inject('tokenWebhook')}${path}`, { method });
  return res.status === 204 ? undefined : res.json();
}

/** A TCP relay to the apiserver that only starts accepting connections when opened. */
export class DelayedProxy {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  constructor(
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}

  async open(): Promise<void> {
    this.server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('error', () => {});
        s.on('close', () => this.sockets.delete(s));
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => this.server?.listen(this.port, '127.0.0.1', resolve));
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => (this.server ? this.server.close(resolve) : resolve(undefined)));
  }
}
