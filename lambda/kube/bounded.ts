/**
 * Every Kubernetes request gets a connect timeout and a whole-request timeout (@kubernetes/client-node
 * 1.4 sets none), and all requests share one keep-alive agent instead of a new TLS handshake each.
 */
import { Agent, type AgentOptions } from 'node:https';
import type { Socket } from 'node:net';
import {
  type Configuration,
  createConfiguration,
  type KubeConfig,
  type Middleware,
  type RequestContext,
  ServerConfiguration,
} from '@kubernetes/client-node';

export interface RequestTimeouts {
  /** TCP + TLS handshake. */
  readonly connectMs: number;
  /** The whole request: connect, response and body. */
  readonly requestMs: number;
}

export const DEFAULT_REQUEST_TIMEOUTS: RequestTimeouts = { connectMs: 3_000, requestMs: 10_000 };

/** An https.Agent whose connections fail when the handshake takes longer than `connectMs`. */
export class ConnectTimeoutAgent extends Agent {
  constructor(
    options: AgentOptions,
    private readonly connectMs: number,
  ) {
    super(options);
  }

  override createConnection(
    ...args: Parameters<Agent['createConnection']>
  ): ReturnType<Agent['createConnection']> {
    const socket = super.createConnection(...args) as Socket | undefined;
    if (socket) {
      const timer = setTimeout(
        () => socket.destroy(new Error(`connect timeout: no TLS handshake within ${this.connectMs} ms`)),
        this.connectMs,
      );
      socket.once('secureConnect', () => clearTimeout(timer));
      socket.once('close', () => clearTimeout(timer));
    }
    return socket;
  }
}

/** A client-node configuration for `kubeConfig` whose every request is bounded by `timeouts`. */
export function boundedConfiguration(kubeConfig: KubeConfig, timeouts: RequestTimeouts): Configuration {
  const server = kubeConfig.getCurrentCluster()?.server;
  if (!server) throw new Error('the kubeconfig has no current cluster');
  let shared: ConnectTimeoutAgent | undefined;
  const bound: Middleware = {
    pre: async (context: RequestContext) => {
      // the kubeconfig's authentication made a fresh agent with the cluster's CA; reuse its options once
      const fresh = context.getAgent() as Agent | undefined;
      if (fresh instanceof Agent) {
        // rejectUnauthorized explicitly: client-node leaves it unset unless TLS is skipped, and then
        // NODE_TLS_REJECT_UNAUTHORIZED=0 in the environment would switch verification off
        shared ??= new ConnectTimeoutAgent(
          { ...fresh.options, keepAlive: true, rejectUnauthorized: true },
          timeouts.connectMs,
        );
        context.setAgent(shared);
      }
      context.setSignal(AbortSignal.timeout(timeouts.requestMs));
      return context;
    },
    post: async (response) => response,
  };
  return createConfiguration({
    baseServer: new ServerConfiguration(server, {}),
    authMethods: { default: kubeConfig },
    promiseMiddleware: [bound],
  });
}
