/**
 * A TLS-terminating HTTP proxy in front of the real kube-apiserver that injects faults per request:
 * stalls, connection resets, Kubernetes-shaped error answers and delays. Everything else is
 * forwarded untouched (method, path, headers including Authorization, body) and the answer streamed
 * back, so watches keep working through it.
 *
 * The client verifies TLS against the cluster CA, so the proxy serves a certificate for
 * 127.0.0.1/localhost signed by that same CA: a client only needs its server URL changed.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Agent, createServer, request, type Server } from 'node:https';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClusterInfo } from './cluster.js';

export type FaultAction =
  /** Accept the request and never answer; released (socket destroyed) when the rule goes or the proxy stops. */
  | { kind: 'stall' }
  /** Destroy the client's socket at once: the client sees ECONNRESET / "socket hang up". */
  | { kind: 'reset' }
  /** Answer a Kubernetes `Status` with this code, and Retry-After when `retryAfterSeconds` is set. */
  | {
      kind: 'status';
      status: number;
      message?: string;
      reason?: string;
      retryAfterSeconds?: number;
      causes?: { reason: string; message: string }[];
    }
  /** Forward the request after this delay. */
  | { kind: 'delay'; ms: number }
  /**
   * Forward the request at once, but hand each part of the answer to the client this much later, in
   * order: a watch whose events all arrive late (a stream behind the others, a stale view).
   */
  | { kind: 'lag'; ms: number }
  /**
   * Answer 200 as a watch does, then end the stream at once: cleanly, or after one ERROR event whose
   * object is a Kubernetes `Status` with this code (what the API server sends inside a watch stream,
   * e.g. 410 for an expired resourceVersion or 500). A client sees a watch that opened fine and ended.
   */
  | { kind: 'end-watch'; error?: { status: number; message?: string; reason?: string } }
  /** Answer with this body as JSON instead of the server (e.g. an older answer the test kept: a stale read). */
  | { kind: 'respond'; status: number; body: unknown };

export interface FaultRule {
  /** HTTP method, any case; default: every method. */
  method?: string;
  /** Matched against path+query, e.g. `/api/v1/namespaces/x/pods?limit=500`. */
  path: RegExp;
  action: FaultAction;
  /** The rule retires after this many uses; default: forever. */
  times?: number;
}

export interface ProxiedRequest {
  readonly method: string;
  readonly path: string;
  readonly at: number;
  /** The fault applied, if a rule matched. */
  readonly fault?: FaultAction['kind'];
}

interface ActiveRule {
  readonly rule: FaultRule;
  remaining: number;
}

/** Reasons the apiserver gives for these codes, used when a rule names none. */
const REASONS: Record<number, string> = {
  409: 'Conflict',
  410: 'Expired',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

/** Hop-by-hop headers belong to one connection and must not be forwarded. */
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'upgrade'];

export class FaultProxy {
  readonly requests: ProxiedRequest[] = [];
  private rules: ActiveRule[] = [];
  /** Stalled requests → the rule that stalls them (it may have retired since, by `times`). */
  private readonly stalled = new Map<ServerResponse, ActiveRule>();
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private stallAllRemover?: () => void;

  private constructor(
    private readonly server: Server,
    private readonly agent: Agent,
    private readonly target: URL,
    private readonly dir: string,
    readonly url: string,
  ) {}

  static async start(info: ClusterInfo): Promise<FaultProxy> {
    const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'fault-proxy-'));
    try {
      makeCertificate(dir, info.dir);
      const server = createServer({
        cert: readFileSync(join(dir, 'proxy.crt')),
        key: readFileSync(join(dir, 'proxy.key')),
      });
      // keepAlive: like a real client pool, so a drain's many requests don't each pay a handshake
      const agent = new Agent({ ca: readFileSync(info.caFile), keepAlive: true });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('no proxy address');
      const proxy = new FaultProxy(
        server,
        agent,
        new URL(info.server),
        dir,
        `https://127.0.0.1:${address.port}`,
      );
      server.on('connection', (socket: Socket) => {
        proxy.sockets.add(socket);
        socket.on('close', () => proxy.sockets.delete(socket));
      });
      server.on('request', (req: IncomingMessage, res: ServerResponse) => proxy.handle(req, res));
      return proxy;
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Adds a rule; the most recently added matching rule wins. Returns its remover. */
  addRule(rule: FaultRule): () => void {
    const active: ActiveRule = { rule, remaining: rule.times ?? Number.POSITIVE_INFINITY };
    this.rules.push(active);
    return () => this.remove(active);
  }

  /** Removes every rule and releases the requests they stall. */
  clearRules(): void {
    this.rules = [];
    this.stallAllRemover = undefined;
    for (const res of this.stalled.keys()) res.destroy();
    this.stalled.clear();
  }

  /** Stalls every new request, as an apiserver that stopped answering. */
  stallAll(): void {
    this.stallAllRemover ??= this.addRule({ path: /.*/, action: { kind: 'stall' } });
  }

  /** Undoes stallAll: new requests pass again, the stalled ones are released (destroyed). */
  resume(): void {
    this.stallAllRemover?.();
    this.stallAllRemover = undefined;
  }

  count(method: string, path: RegExp): number {
    return this.requests.filter((r) => r.method === method.toUpperCase() && matches(path, r.path)).length;
  }

  async stop(): Promise<void> {
    this.clearRules();
    for (const timer of this.timers) clearTimeout(timer);
    const closed = new Promise((resolve) => this.server.close(resolve));
    for (const socket of this.sockets) socket.destroy();
    await closed;
    this.agent.destroy();
    rmSync(this.dir, { recursive: true, force: true });
  }

  // ---- per request ----------------------------------------------------------------------------

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const method = (req.method ?? 'GET').toUpperCase();
    const path = req.url ?? '/';
    const active = this.rules.findLast(
      (r) =>
        (r.rule.method === undefined || r.rule.method.toUpperCase() === method) && matches(r.rule.path, path),
    );
    this.requests.push({
      method,
      path,
      at: Date.now(),
      ...(active ? { fault: active.rule.action.kind } : {}),
    });
    if (!active) {
      this.forward(req, res);
      return;
    }
    // a used-up rule leaves the list, but still holds what it stalled until removed or cleared
    active.remaining--;
    if (active.remaining <= 0) this.rules = this.rules.filter((r) => r !== active);
    const action = active.rule.action;
    switch (action.kind) {
      case 'stall':
        this.stalled.set(res, active);
        res.on('close', () => this.stalled.delete(res));
        return;
      case 'reset':
        req.socket.destroy();
        return;
      case 'status':
        req.resume(); // drain any body, so the kept-alive connection stays usable
        answerStatus(res, action);
        return;
      case 'end-watch':
        req.resume();
        endWatch(res, action);
        return;
      case 'respond':
        req.resume();
        res.writeHead(action.status, { 'content-type': 'application/json' }).end(JSON.stringify(action.body));
        return;
      case 'lag':
        this.forward(req, res, action.ms);
        return;
      case 'delay': {
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          if (!res.destroyed) this.forward(req, res);
        }, action.ms);
        this.timers.add(timer);
        return;
      }
    }
  }

  private forward(req: IncomingMessage, res: ServerResponse, lagMs = 0): void {
    const upstream = request(
      {
        protocol: 'https:',
        hostname: this.target.hostname,
        port: this.target.port,
        method: req.method,
        path: req.url,
        headers: { ...withoutHopByHop(req.headers), host: this.target.host },
        agent: this.agent,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, withoutHopByHop(answer.headers));
        // a watch sends headers long before its first event: let the client see them now
        res.flushHeaders();
        if (lagMs > 0) this.lagged(answer, res, lagMs);
        else answer.pipe(res);
        answer.on('error', () => res.destroy());
      },
    );
    upstream.on('error', () => res.destroy());
    // the client went away (e.g. closed its watch): stop the apiserver side too
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  }

  /** Passes the answer on `ms` late, part by part (the timers fire in the order they were set). */
  private lagged(answer: IncomingMessage, res: ServerResponse, ms: number): void {
    const later = (write: () => void): void => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        if (!res.destroyed) write();
      }, ms);
      this.timers.add(timer);
    };
    answer.on('data', (chunk: Buffer) => later(() => res.write(chunk)));
    answer.on('end', () => later(() => res.end()));
  }

  /** Takes the rule out of service and releases (destroys) the requests it stalls. */
  private remove(active: ActiveRule): void {
    this.rules = this.rules.filter((r) => r !== active);
    for (const [res, rule] of this.stalled) if (rule === active) res.destroy();
  }
}

function answerStatus(res: ServerResponse, action: Extract<FaultAction, { kind: 'status' }>): void {
  res
    .writeHead(action.status, {
      'content-type': 'application/json',
      ...(action.retryAfterSeconds === undefined ? {} : { 'retry-after': String(action.retryAfterSeconds) }),
    })
    .end(JSON.stringify(statusObject(action)));
}

/** A watch's 200 and headers (as kube-apiserver sends them), at most one ERROR event, and the end. */
function endWatch(res: ServerResponse, action: Extract<FaultAction, { kind: 'end-watch' }>): void {
  res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
  res.flushHeaders();
  if (action.error) res.write(`${JSON.stringify({ type: 'ERROR', object: statusObject(action.error) })}\n`);
  res.end();
}

/** The Kubernetes `Status` object of a failure with this code. */
function statusObject(
  action: Omit<Extract<FaultAction, { kind: 'status' }>, 'kind'>,
): Record<string, unknown> {
  const details = {
    ...(action.causes ? { causes: action.causes } : {}),
    ...(action.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: action.retryAfterSeconds }),
  };
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: action.message ?? `fault-proxy: injected ${action.status}`,
    reason: action.reason ?? REASONS[action.status] ?? '',
    code: action.status,
    ...(Object.keys(details).length > 0 ? { details } : {}),
  };
}

function withoutHopByHop<T extends Record<string, unknown>>(headers: T): T {
  const copy = { ...headers };
  for (const name of HOP_BY_HOP) delete copy[name];
  return copy;
}

/** A /g or /y RegExp keeps state between test() calls; start each match afresh. */
function matches(pattern: RegExp, text: string): boolean {
  pattern.lastIndex = 0;
  return pattern.test(text);
}

/** A key and certificate for 127.0.0.1/localhost, signed by the cluster's own CA. */
function makeCertificate(dir: string, clusterDir: string): void {
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  };
  writeFileSync(
    join(dir, 'proxy.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n',
  );
  // EC keys are generated in milliseconds, RSA ones take noticeably longer on a busy machine
  openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'proxy.key');
  openssl('req', '-new', '-key', 'proxy.key', '-out', 'proxy.csr', '-subj', '/CN=fault-proxy');
  // -set_serial rather than -CAcreateserial: the latter would write a serial file into the cluster's dir
  const signedBy = ['-CA', join(clusterDir, 'ca.crt'), '-CAkey', join(clusterDir, 'ca.key')];
  const serial = `0x${randomBytes(8).toString('hex')}`;
  openssl(
    ...'x509 -req -in proxy.csr -out proxy.crt -days 2 -extfile proxy.ext'.split(' '),
    ...signedBy,
    '-set_serial',
    serial,
  );
}
