/**
 * The drainer's REST client (lambda/kube/http.ts) against a scripted TLS server: what each request
 * carries, what an answer becomes (JSON, nothing, or an ApiException with the server's status, body
 * and headers), the one retry after a 401, and a watch stream cut into lines, events and one end.
 * Against the real kube-apiserver it is tested through every adapter in test/e2e/adapters/.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type RequestOptions, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiException } from '@kubernetes/client-node/dist/gen/apis/exception.js';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type KubeConfigLike, KubeHttp, type WatchEvent } from '../../lambda/kube/http.js';

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

let server: Server;
let endpoint: string;
let cert: string;
/** What the server does with the next requests (the test sets it). */
let answer: (req: IncomingMessage, res: ServerResponse, body: string) => void;
const seen: Seen[] = [];

/** A self-signed certificate for 127.0.0.1, its own CA. */
function selfSigned(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'http-test-'));
  try {
    execFileSync(
      'openssl',
      [
        ...'req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1'.split(' '),
        ...['-keyout', 'key.pem', '-out', 'cert.pem', '-subj', '/CN=127.0.0.1'],
        ...['-addext', 'subjectAltName=IP:127.0.0.1'],
      ],
      { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    return {
      key: readFileSync(join(dir, 'key.pem'), 'utf8'),
      cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

beforeAll(async () => {
  const pki = selfSigned();
  cert = pki.cert;
  server = createServer(pki, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      answer(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  endpoint = `https://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
afterEach(() => {
  seen.length = 0;
});

/** A kubeconfig trusting the server's certificate, with a new bearer token per request. */
function kubeConfig(server = endpoint): KubeConfigLike & { tokens: number } {
  const config = {
    tokens: 0,
    getCurrentCluster: () => ({ server }),
    applyToHTTPSOptions: async (options: RequestOptions) => {
      options.ca = cert;
      options.headers = { ...options.headers, Authorization: `Bearer t${++config.tokens}` };
    },
  };
  return config;
}

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) =>
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));

const http = (timeouts = { connectMs: 3_000, requestMs: 2_000 }, onUnauthorized?: () => void) =>
  new KubeHttp(kubeConfig(), timeouts, onUnauthorized);

async function failure(call: Promise<unknown>): Promise<unknown> {
  try {
    await call;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

describe('KubeHttp requests', () => {
  it('GETs JSON with the bearer token, asking for JSON, with the query minus what is undefined', async () => {
    answer = (_, res) => json(res, 200, { kind: 'NodeList', items: [] });

    const list = await http().getJson('/api/v1/nodes', {
      labelSelector: 'a=b,c',
      resourceVersion: undefined,
    });

    expect(list).toEqual({ kind: 'NodeList', items: [] });
    expect(seen).toEqual([
      expect.objectContaining({ method: 'GET', url: '/api/v1/nodes?labelSelector=a%3Db%2Cc', body: '' }),
    ]);
    expect(seen[0]?.headers).toMatchObject({ authorization: 'Bearer t1', accept: 'application/json' });
    expect(seen[0]?.headers).not.toHaveProperty('content-type');
  });

  it('sends a JSON body with its length, as JSON unless a patch type is given', async () => {
    answer = (_, res, body) => json(res, 201, { echoed: JSON.parse(body) });
    const client = http();

    const created = await client.send('POST', '/api/v1/namespaces/x/events', { body: { reason: 'é' } });
    await client.send('PATCH', '/api/v1/nodes/n', {
      body: { spec: { unschedulable: true } },
      contentType: 'application/merge-patch+json',
    });

    expect(created).toEqual({ echoed: { reason: 'é' } });
    expect(
      seen.map((s) => [s.method, s.headers['content-type'], s.headers['content-length'], s.body]),
    ).toEqual([
      ['POST', 'application/json', String(Buffer.byteLength('{"reason":"é"}')), '{"reason":"é"}'],
      ['PATCH', 'application/merge-patch+json', '31', '{"spec":{"unschedulable":true}}'],
    ]);
  });

  it('answers undefined for a 2xx without a body', async () => {
    answer = (_, res) => res.writeHead(200).end();
    expect(await http().send('DELETE', '/api/v1/namespaces/x/pods/p')).toBeUndefined();
  });

  it.each([
    [300, 'HTTP 300 Multiple Choices'],
    [404, 'HTTP 404 Not Found'],
    [429, 'HTTP 429 Too Many Requests'],
    [500, 'HTTP 500 Internal Server Error'],
    [599, 'HTTP 599'],
  ])('fails an answer with status %i as an ApiException with its body and headers', async (code, message) => {
    answer = (_, res) =>
      res.writeHead(code, { 'content-type': 'application/json', 'retry-after': '3' }).end('{"message":"no"}');

    const error = await failure(http().getJson('/api/v1/nodes/n'));

    expect(error).toBeInstanceOf(ApiException);
    expect(error).toMatchObject({ code, body: '{"message":"no"}', headers: { 'retry-after': '3' } });
    expect((error as Error).message).toContain(`Message: ${message}\n`);
  });

  it('takes any 2xx as success, 299 included', async () => {
    answer = (_, res) => json(res, 299, { ok: 1 });
    expect(await http().getJson('/api')).toEqual({ ok: 1 });
  });

  it('re-signs after a 401 and tries once more', async () => {
    let calls = 0;
    answer = (_, res) =>
      ++calls === 1 ? json(res, 401, { message: 'Unauthorized' }) : json(res, 200, { ok: true });
    let resigned = 0;

    expect(await http(undefined, () => resigned++).getJson('/api/v1/nodes/n')).toEqual({ ok: true });

    expect(resigned).toBe(1);
    expect(seen.map((s) => s.headers.authorization)).toEqual(['Bearer t1', 'Bearer t2']);
  });

  it('fails a request whose body does not complete in time', async () => {
    answer = (_, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"items":[');
    };

    const error = await failure(http({ connectMs: 1_000, requestMs: 300 }).getJson('/api/v1/pods'));

    expect(String(error)).toMatch(/request timed out: body not complete within \d+ ms/);
  });

  it('fails before sending anything when the kubeconfig has no current cluster', async () => {
    const client = new KubeHttp(
      { getCurrentCluster: () => null, applyToHTTPSOptions: async () => {} },
      { connectMs: 100, requestMs: 100 },
    );
    await expect(client.getJson('/api')).rejects.toThrow('the kubeconfig has no current cluster');
    expect(seen).toEqual([]);
  });
});

describe('KubeHttp connections', () => {
  /** TLS connections the server accepted while `run` ran. */
  async function connectionsDuring(run: () => Promise<void>): Promise<number> {
    let connections = 0;
    const count = (): void => {
      connections++;
    };
    server.on('secureConnection', count);
    try {
      await run();
    } finally {
      server.off('secureConnection', count);
    }
    return connections;
  }
  const timeouts = { connectMs: 3_000, requestMs: 2_000 };

  it('shares one keep-alive pool among the clients of one KubeConfig (a container’s adapters)', async () => {
    answer = (_, res) => json(res, 200, { ok: true });
    const config = kubeConfig();
    const cluster = new KubeHttp(config, timeouts);
    const jobs = new KubeHttp(config, timeouts);
    const turns = new KubeHttp(config, timeouts);

    const connections = await connectionsDuring(async () => {
      await cluster.getJson('/api/v1/nodes/n');
      await jobs.send('PATCH', '/api/v1/nodes/n', { body: {} });
      await turns.getJson('/apis/coordination.k8s.io/v1/namespaces/x/leases');
    });

    expect(seen).toHaveLength(3);
    expect(connections).toBe(1);
  });

  it('opens a connection per concurrent request, and one pool per KubeConfig', async () => {
    answer = (_, res) => setTimeout(() => json(res, 200, { ok: true }), 50);
    const one = kubeConfig();

    const connections = await connectionsDuring(async () => {
      await Promise.all([
        new KubeHttp(one, timeouts).getJson('/a'),
        new KubeHttp(one, timeouts).getJson('/b'),
      ]);
      await new KubeHttp(kubeConfig(), timeouts).getJson('/c');
    });

    expect(seen).toHaveLength(3);
    expect(connections).toBe(3);
  });

  it('answers one client while another client of the same KubeConfig waits on a stalled request', async () => {
    answer = (req, res) => {
      if (req.url !== '/stall') json(res, 200, { ok: true });
    };
    const config = kubeConfig();
    let stalledSettled = false;
    const stalled = failure(
      new KubeHttp(config, { connectMs: 3_000, requestMs: 1_000 }).getJson('/stall'),
    ).finally(() => {
      stalledSettled = true;
    });
    await vi.waitFor(() => expect(seen.map((s) => s.url)).toContain('/stall'), {
      timeout: 1_000,
      interval: 5,
    });

    expect(await new KubeHttp(config, { connectMs: 3_000, requestMs: 1_000 }).getJson('/ok')).toEqual({
      ok: true,
    });

    expect(stalledSettled).toBe(false);
    expect(String(await stalled)).toMatch(/request timed out/);
  });
});

/** Opens a watch whose handlers record what they get. */
async function watch(client: KubeHttp, idleMs = 5_000) {
  const events: WatchEvent[] = [];
  const ends: (Error | undefined)[] = [];
  let ended!: () => void;
  const done = new Promise<void>((resolve) => {
    ended = resolve;
  });
  const stop = await client.watch('/api/v1/pods', { watch: 'true', resourceVersion: '7' }, idleMs, {
    onEvent: (event) => events.push(event),
    onEnd: (error) => {
      ends.push(error);
      ended();
    },
  });
  return { events, ends, done, stop };
}

const line = (type: string, name: string) => `${JSON.stringify({ type, object: { metadata: { name } } })}\n`;

describe('KubeHttp watch', () => {
  it('hands over each event line, whole though the server split it, then one clean end', async () => {
    answer = (_, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const two = line('ADDED', 'a') + line('MODIFIED', 'a');
      res.write(two.slice(0, 10));
      setTimeout(() => res.write(two.slice(10)), 20);
      setTimeout(() => res.write(`\n  \n${line('DELETED', 'a')}`), 40);
      setTimeout(() => res.end(), 60);
    };

    const w = await watch(http());
    await w.done;

    expect(w.events.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
    expect(w.ends).toEqual([undefined]);
    expect(seen[0]?.url).toBe('/api/v1/pods?watch=true&resourceVersion=7');
  });

  it('ends with an error at a line that is not JSON, and hands over nothing after it', async () => {
    answer = (_, res) => {
      res.writeHead(200);
      res.write(`${line('ADDED', 'a')}{not json\n${line('ADDED', 'b')}`);
    };

    const w = await watch(http());
    await w.done;

    expect(w.events.map((e) => (e.object as { metadata: { name: string } }).metadata.name)).toEqual(['a']);
    expect(w.ends).toHaveLength(1);
    expect(w.ends[0]).toBeInstanceOf(SyntaxError);
  });

  it('ends a stream that stays silent for idleMs, however often data came before', async () => {
    answer = (_, res) => {
      res.writeHead(200);
      res.write(line('ADDED', 'a'));
      setTimeout(() => res.write(line('ADDED', 'b')), 150);
    };
    const started = Date.now();

    const w = await watch(http(), 300);
    await w.done;

    // the second event refreshed the idle timer: the end came 300 ms after it, not after the first
    expect(Date.now() - started).toBeGreaterThanOrEqual(420);
    expect(w.events).toHaveLength(2);
    expect(w.ends.map(String)).toEqual(['Error: watch idle for 300 ms']);
  });

  it('ends once, without an error, when the caller stops it', async () => {
    answer = (_, res) => {
      res.writeHead(200);
      res.write(line('ADDED', 'a'));
    };

    const w = await watch(http());
    await new Promise((resolve) => setTimeout(resolve, 50));
    w.stop();
    w.stop();
    await w.done;
    await new Promise((resolve) => setTimeout(resolve, 50));

    expect(w.ends).toEqual([undefined]);
  });

  it('rejects a watch the server does not open (not 200), with its status and body', async () => {
    answer = (_, res) => json(res, 410, { kind: 'Status', code: 410, reason: 'Expired' });

    const error = await failure(watch(http()));

    expect(error).toBeInstanceOf(ApiException);
    expect(error).toMatchObject({ code: 410 });
    expect(JSON.parse(String((error as ApiException<string>).body))).toMatchObject({ reason: 'Expired' });
  });

  it('re-signs after a 401 to a watch and opens it', async () => {
    let calls = 0;
    answer = (_, res) => {
      if (++calls === 1) json(res, 401, { message: 'Unauthorized' });
      else res.writeHead(200).end(line('ADDED', 'a'));
    };
    let resigned = 0;

    const w = await watch(http(undefined, () => resigned++));
    await w.done;

    expect(resigned).toBe(1);
    expect(w.events).toHaveLength(1);
  });
});
