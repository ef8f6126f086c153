/**
 * Every Kubernetes request gets a connect timeout and a whole-request timeout, and all requests share
 * one keep-alive agent instead of a new TLS handshake each (./http.ts).
 */
import { Agent, type AgentOptions } from 'node:https';
import type { Socket } from 'node:net';

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
