/**
 * The drainer's Kubernetes REST client: the few calls it makes and the watch streams, as raw JSON.
 * No client-node API classes at run time: their generated models are most of a list's CPU cost and
 * 1.6 MB of the function's bundle (bench/results). TLS and authentication come from a KubeConfig or
 * anything shaped like one (lambda/kube/eks-cluster.ts for EKS), verified (rejectUnauthorized is set
 * explicitly); one keep-alive connection pool per KubeConfig, whatever adapters share it, with a
 * connect timeout; every request bounded. Failures are client-node ApiExceptions (its small error
 * module alone), so they map as before.
 */
import { type IncomingMessage, STATUS_CODES } from 'node:http';
import { type RequestOptions, request } from 'node:https';
import { createSecureContext } from 'node:tls';
import { ApiException } from '@kubernetes/client-node/dist/gen/apis/exception.js';
import { retryUnauthorized } from './api-error.js';
import { ConnectTimeoutAgent, type RequestTimeouts } from './bounded.js';

/** What the client needs of a KubeConfig: @kubernetes/client-node's KubeConfig is one. */
export interface KubeConfigLike {
  getCurrentCluster(): { readonly server: string } | null;
  /** Sets the CA (and client certificate) and the authentication headers on `options`. */
  applyToHTTPSOptions(options: RequestOptions): Promise<void>;
}

export type Query = Readonly<Record<string, string | undefined>>;

/** One line of a watch stream. */
export interface WatchEvent {
  readonly type: string;
  readonly object: unknown;
}

export interface WatchHandlers {
  onEvent(event: WatchEvent): void;
  /** Once: the stream ended (the server's timeoutSeconds), broke, or went idle too long. */
  onEnd(error?: Error): void;
}

/**
 * The connection pools, one per KubeConfig (and connect timeout): the adapters of one Lambda container
 * (cluster, job record, turns, marks: six KubeHttp) reuse each other's idle connections instead of
 * each opening its own. Bench (50 nodes at once): 641 → 462-505 TLS connections a scale-in.
 */
const pools = new WeakMap<KubeConfigLike, Map<number, ConnectTimeoutAgent>>();

export class KubeHttp {
  private agent?: ConnectTimeoutAgent;

  /** @param onUnauthorized called on a 401 before the one retry (e.g. re-sign the EKS token). */
  constructor(
    private readonly kubeConfig: KubeConfigLike,
    private readonly timeouts: RequestTimeouts,
    private readonly onUnauthorized?: () => void,
  ) {}

  /** A GET of a JSON document within the request timeout. */
  getJson<T>(path: string, query: Query = {}): Promise<T> {
    return this.send<T>('GET', path, { query });
  }

  /**
   * One request with an optional JSON body (`contentType` for patches), answered within the request
   * timeout; a 2xx answer's JSON, anything else an ApiException.
   */
  async send<T>(
    method: string,
    path: string,
    options: { readonly query?: Query; readonly body?: unknown; readonly contentType?: string } = {},
  ): Promise<T> {
    return retryUnauthorized(async () => {
      const began = Date.now();
      const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
      const response = await this.open(path, options.query ?? {}, this.timeouts.requestMs, {
        method,
        ...(payload === undefined ? {} : { payload, contentType: options.contentType ?? 'application/json' }),
      });
      const text = await readAll(response, Math.max(1, this.timeouts.requestMs - (Date.now() - began)));
      const status = response.statusCode ?? 0;
      if (status < 200 || status > 299) throw failure(response, text);
      return (text === '' ? undefined : JSON.parse(text)) as T;
    }, this.onUnauthorized);
  }

  /**
   * Opens a watch: resolves once the server answered 200 (rejects with its status otherwise), then
   * hands over every event. The stream is ended if nothing arrives for `idleMs`.
   */
  async watch(path: string, query: Query, idleMs: number, handlers: WatchHandlers): Promise<() => void> {
    const response = await retryUnauthorized(async () => {
      const opened = await this.open(path, query, this.timeouts.requestMs);
      if (opened.statusCode === 200) return opened;
      throw failure(opened, await readAll(opened, this.timeouts.requestMs));
    }, this.onUnauthorized);
    let ended = false;
    const end = (error?: Error): void => {
      if (ended) return;
      ended = true;
      clearTimeout(idle);
      response.destroy();
      handlers.onEnd(error);
    };
    let idle = setTimeout(() => end(new Error(`watch idle for ${idleMs} ms`)), idleMs);
    let buffered = '';
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      idle.refresh();
      buffered += chunk;
      let newline = buffered.indexOf('\n');
      while (newline >= 0 && !ended) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (line.trim() !== '') {
          try {
            handlers.onEvent(JSON.parse(line) as WatchEvent);
          } catch (error) {
            end(error instanceof Error ? error : new Error(String(error)));
          }
        }
        newline = buffered.indexOf('\n');
      }
    });
    response.on('end', () => end());
    response.on('error', (error) => end(error));
    response.on('close', () => end());
    idle = idle.unref();
    return () => end();
  }

  private async open(
    path: string,
    query: Query,
    headersMs: number,
    send: { readonly method?: string; readonly payload?: string; readonly contentType?: string } = {},
  ): Promise<IncomingMessage> {
    const server = this.kubeConfig.getCurrentCluster()?.server;
    if (!server) throw new Error('the kubeconfig has no current cluster');
    const options: RequestOptions = {};
    await this.kubeConfig.applyToHTTPSOptions(options);
    this.agent ??= this.pool(options);
    const url = new URL(path, server);
    for (const [key, value] of Object.entries(query))
      if (value !== undefined) url.searchParams.set(key, value);
    return new Promise<IncomingMessage>((resolve, reject) => {
      const req = request(url, {
        method: send.method ?? 'GET',
        agent: this.agent,
        headers: {
          ...options.headers,
          accept: 'application/json',
          ...(send.payload === undefined
            ? {}
            : { 'content-type': send.contentType, 'content-length': Buffer.byteLength(send.payload) }),
        },
        ...(options.auth ? { auth: options.auth } : {}),
      });
      const timer = setTimeout(
        () => req.destroy(new Error(`request timed out: no answer within ${headersMs} ms`)),
        headersMs,
      );
      req.once('response', (response) => {
        clearTimeout(timer);
        resolve(response);
      });
      req.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      req.end(send.payload);
    });
  }

  /** The KubeConfig's pool: made by the first of its clients to connect (its TLS options are the same). */
  private pool(options: RequestOptions): ConnectTimeoutAgent {
    let byTimeout = pools.get(this.kubeConfig);
    if (!byTimeout) {
      byTimeout = new Map<number, ConnectTimeoutAgent>();
      pools.set(this.kubeConfig, byTimeout);
    }
    let agent = byTimeout.get(this.timeouts.connectMs);
    if (!agent) {
      agent = new ConnectTimeoutAgent(
        {
          // one TLS context for every connection: built per connection otherwise (bench: 45 ms a drain)
          secureContext: createSecureContext({
            ...(options.ca ? { ca: options.ca } : {}),
            ...(options.cert ? { cert: options.cert } : {}),
            ...(options.key ? { key: options.key } : {}),
          }),
          keepAlive: true,
          rejectUnauthorized: true,
        },
        this.timeouts.connectMs,
      );
      byTimeout.set(this.timeouts.connectMs, agent);
    }
    return agent;
  }
}

function readAll(response: IncomingMessage, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const timer = setTimeout(
      () => response.destroy(new Error(`request timed out: body not complete within ${timeoutMs} ms`)),
      timeoutMs,
    );
    response.on('data', (chunk: Buffer) => chunks.push(chunk));
    response.once('end', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    response.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

function failure(response: IncomingMessage, body: string): ApiException<string> {
  const status = response.statusCode ?? 0;
  const headers = Object.fromEntries(
    Object.entries(response.headers).flatMap(([k, v]) => (typeof v === 'string' ? [[k, v]] : [])),
  );
  return new ApiException(status, `HTTP ${status} ${STATUS_CODES[status] ?? ''}`.trim(), body, headers);
}
