/**
 * The fault proxy in front of the real apiserver, used through a real @kubernetes/client-node
 * client: what passes is the apiserver's own answer, what a rule matches is the injected fault.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import {
  ApiException,
  type ConfigurationOptions,
  CoreV1Api,
  type KubeConfig,
  Observable,
  PatchStrategy,
  setHeaderOptions,
  Watch,
} from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { kubeConfigFor } from '../../scripts/harness/cluster.js';
import { FaultProxy } from '../../scripts/harness/fault-proxy.js';

const cluster = inject('cluster');
const NAMESPACES = /^\/api\/v1\/namespaces(\?|$)/;

let proxy: FaultProxy;
let viaProxy: CoreV1Api;
const direct = kubeConfigFor(cluster, 'admin').makeApiClient(CoreV1Api);

beforeAll(async () => {
  proxy = await FaultProxy.start(cluster);
  viaProxy = proxyKubeConfig().makeApiClient(CoreV1Api);
});
afterAll(async () => {
  await proxy.stop();
});
afterEach(() => {
  proxy.clearRules();
  proxy.resume();
});

/** The admin's kubeconfig with only the server changed: same CA file, same token. */
function proxyKubeConfig(): KubeConfig {
  return kubeConfigFor({ ...cluster, server: proxy.url }, 'admin');
}

/** Per-call client options that abort the request with this signal. */
function withSignal(signal: AbortSignal): ConfigurationOptions {
  return {
    middleware: [
      {
        pre: (context) => {
          context.setSignal(signal);
          return new Observable(Promise.resolve(context));
        },
        post: (context) => new Observable(Promise.resolve(context)),
      },
    ],
    middlewareMergeStrategy: 'append',
  };
}

/** What the call rejected with; fails the test when it resolved. */
async function failure(call: Promise<unknown>): Promise<unknown> {
  try {
    await call;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

function statusBody(error: unknown): Record<string, unknown> {
  expect(error).toBeInstanceOf(ApiException);
  return JSON.parse(String((error as ApiException<unknown>).body)) as Record<string, unknown>;
}

/** `promise`, or a rejection when it has not settled within `ms`: a broken proxy fails fast, not at the test timeout. */
function inTime<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** Settles `promise`, or says it did not within `ms`. */
function within<T>(promise: Promise<T>, ms: number): Promise<{ settled: true } | { settled: false }> {
  return Promise.race([
    promise.then(
      () => ({ settled: true as const }),
      () => ({ settled: true as const }),
    ),
    new Promise<{ settled: false }>((resolve) => setTimeout(() => resolve({ settled: false }), ms)),
  ]);
}

describe('fault proxy in front of the real apiserver', () => {
  it('forwards a list with the caller token and returns the apiserver answer', async () => {
    const before = proxy.requests.length;
    const counted = proxy.count('get', NAMESPACES);

    const list = await viaProxy.listNamespace();

    expect(list.items.map((ns) => ns.metadata?.name)).toEqual(
      expect.arrayContaining(['default', 'kube-system']),
    );
    expect(proxy.requests.slice(before)).toEqual([
      { method: 'GET', path: '/api/v1/namespaces', at: expect.any(Number) },
    ]);
    expect(proxy.count('GET', NAMESPACES)).toBe(counted + 1);
  });

  it('streams watch events as they happen', async () => {
    const namespace = `fault-proxy-${randomUUID().slice(0, 8)}`;
    await direct.createNamespace({ body: { metadata: { name: namespace } } });
    const seen: string[] = [];
    let sawConfigMap!: () => void;
    const added = new Promise<void>((resolve) => {
      sawConfigMap = resolve;
    });
    // resolves once the response headers are through, long before the watch ends
    const watching = new Watch(proxyKubeConfig()).watch(
      `/api/v1/namespaces/${namespace}/configmaps`,
      // "0": from the watch cache as it is; without it, 1.32 on etcd 3.4 may wait for a fresher
      // cache and answer 504 "Too large resource version" for a resource nobody has changed lately
      { resourceVersion: '0' },
      (type, object: { metadata?: { name?: string } }) => {
        seen.push(`${type} ${object.metadata?.name}`);
        if (object.metadata?.name === 'settings') sawConfigMap();
      },
      () => {},
    );
    const watch = await inTime(watching, 10_000, 'watch response headers');
    try {
      await direct.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'settings' } } });

      await inTime(added, 10_000, 'the ADDED event');
      expect(seen).toContain('ADDED settings');
    } finally {
      watch.abort();
      await direct.deleteNamespace({ name: namespace });
    }
  });

  it('answers a Kubernetes Status with the injected code and message, once when times is 1', async () => {
    proxy.addRule({
      method: 'GET',
      path: NAMESPACES,
      action: { kind: 'status', status: 503, message: 'etcdserver: leader changed' },
      times: 1,
    });

    const error = await failure(viaProxy.listNamespace());
    const again = await viaProxy.listNamespace();

    expect((error as ApiException<unknown>).code).toBe(503);
    expect(statusBody(error)).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'etcdserver: leader changed',
      reason: 'ServiceUnavailable',
      code: 503,
    });
    expect(again.items.length).toBeGreaterThan(0);
    expect(proxy.requests.slice(-2).map((r) => r.fault)).toEqual(['status', undefined]);
  });

  it('sends Retry-After and the details of a 429 as the apiserver does', async () => {
    const causes = [
      { reason: 'DisruptionBudget', message: 'The disruption budget web needs 1 healthy pods' },
    ];
    proxy.addRule({
      path: NAMESPACES,
      action: { kind: 'status', status: 429, retryAfterSeconds: 7, causes },
    });

    const error = await failure(viaProxy.listNamespace());

    expect((error as ApiException<unknown>).code).toBe(429);
    expect((error as ApiException<unknown>).headers['retry-after']).toBe('7');
    expect(statusBody(error)).toMatchObject({
      reason: 'TooManyRequests',
      code: 429,
      details: { causes, retryAfterSeconds: 7 },
    });
  });

  it('resets the connection, a transport error rather than an HTTP answer', async () => {
    proxy.addRule({ path: NAMESPACES, action: { kind: 'reset' } });

    const error = await failure(viaProxy.listNamespace());

    expect(error).not.toBeInstanceOf(ApiException);
    expect(error).toMatchObject({ code: 'ECONNRESET' });
    expect(proxy.requests.at(-1)?.fault).toBe('reset');
  });

  it('stalls a request until the client gives up', async () => {
    proxy.addRule({ path: NAMESPACES, action: { kind: 'stall' } });
    const started = Date.now();

    const error = await failure(
      inTime(viaProxy.listNamespace({}, withSignal(AbortSignal.timeout(500))), 5_000, 'abort'),
    );

    expect(error).toMatchObject({ name: 'AbortError' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    expect(proxy.requests.at(-1)?.fault).toBe('stall');
  });

  it('releases stalled requests on clearRules, and lets the next ones through', async () => {
    proxy.addRule({ path: NAMESPACES, action: { kind: 'stall' }, times: 1 });
    const stalled = viaProxy.listNamespace();
    expect(await within(stalled, 500)).toEqual({ settled: false });

    proxy.clearRules();

    await expect(inTime(stalled, 5_000, 'release')).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect((await viaProxy.listNamespace()).items.length).toBeGreaterThan(0);
  });

  it('stalls every request after stallAll and none after resume', async () => {
    proxy.stallAll();
    const stalled = viaProxy.readNamespace({ name: 'default' });
    expect(await within(stalled, 500)).toEqual({ settled: false });

    proxy.resume();

    await expect(inTime(stalled, 5_000, 'release')).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect((await viaProxy.readNamespace({ name: 'default' })).metadata?.name).toBe('default');
  });

  it('delays a request, then forwards it', async () => {
    proxy.addRule({ path: NAMESPACES, action: { kind: 'delay', ms: 600 } });
    const started = Date.now();

    const list = await viaProxy.listNamespace();

    expect(Date.now() - started).toBeGreaterThanOrEqual(600);
    expect(list.items.length).toBeGreaterThan(0);
    expect(proxy.requests.at(-1)?.fault).toBe('delay');
  });

  it('hands a watch its events late, in order', async () => {
    proxy.addRule({ method: 'GET', path: /\/namespaces\?.*watch=true/, action: { kind: 'lag', ms: 800 } });
    const namespace = `fault-proxy-${randomUUID().slice(0, 8)}`;
    const seen: { type: string; label?: string; at: number }[] = [];
    const twoSeen = new Promise<void>((resolve) => {
      void new Watch(proxyKubeConfig())
        .watch(
          '/api/v1/namespaces',
          {},
          (type, object: { metadata?: { name?: string; labels?: Record<string, string> } }) => {
            if (object.metadata?.name !== namespace) return;
            seen.push({ type, label: object.metadata.labels?.step, at: Date.now() });
            if (seen.length === 2) resolve();
          },
          () => {},
        )
        .then((controller) => twoSeen.finally(() => controller.abort()));
    });
    await new Promise((r) => setTimeout(r, 300)); // the watch is open
    try {
      await direct.createNamespace({ body: { metadata: { name: namespace, labels: { step: '1' } } } });
      const created = Date.now();
      await direct.patchNamespace(
        { name: namespace, body: { metadata: { labels: { step: '2' } } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );

      await inTime(twoSeen, 5_000, 'both events');
      expect(seen.map((e) => `${e.type} ${e.label}`)).toEqual(['ADDED 1', 'MODIFIED 2']);
      expect(seen[0]?.at).toBeGreaterThanOrEqual(created + 600);
      expect(proxy.requests.some((r) => r.fault === 'lag')).toBe(true);
    } finally {
      await direct.deleteNamespace({ name: namespace });
    }
  });

  it('answers a watch with 200 and ends the stream at once, cleanly', async () => {
    proxy.addRule({ method: 'GET', path: /\/namespaces\?.*watch=true/, action: { kind: 'end-watch' } });
    const events: string[] = [];
    let endedWith: unknown = 'not ended';
    const ended = new Promise<void>((resolve) => {
      void new Watch(proxyKubeConfig()).watch(
        '/api/v1/namespaces',
        { resourceVersion: '0' },
        (type) => events.push(type),
        (error) => {
          endedWith = error;
          resolve();
        },
      );
    });

    await inTime(ended, 5_000, 'the end of the stream');

    expect(events).toEqual([]);
    // the client saw a watch that opened (200) and ended without an error
    expect(endedWith).toBeFalsy();
    expect(proxy.requests.at(-1)).toMatchObject({ method: 'GET', fault: 'end-watch' });
  });

  it('ends a watch after one ERROR event carrying a Kubernetes Status, as the apiserver sends it', async () => {
    proxy.addRule({
      method: 'GET',
      path: /\/namespaces\?.*watch=true/,
      action: { kind: 'end-watch', error: { status: 500, message: 'etcd cluster is unavailable' } },
      times: 1,
    });
    const events: { type: string; object: unknown }[] = [];
    let endedWith: unknown = 'not ended';
    const ended = new Promise<void>((resolve) => {
      void new Watch(proxyKubeConfig()).watch(
        '/api/v1/namespaces',
        { resourceVersion: '0' },
        (type, object) => events.push({ type, object }),
        (error) => {
          endedWith = error;
          resolve();
        },
      );
    });

    await inTime(ended, 5_000, 'the end of the stream');

    expect(events).toEqual([
      {
        type: 'ERROR',
        object: {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Failure',
          message: 'etcd cluster is unavailable',
          reason: 'InternalError',
          code: 500,
        },
      },
    ]);
    expect(endedWith).toBeFalsy();
    // times: 1, so the next watch is the apiserver's own again
    expect(proxy.requests.at(-1)?.fault).toBe('end-watch');
    const next = await inTime(
      new Watch(proxyKubeConfig()).watch(
        '/api/v1/namespaces',
        { resourceVersion: '0' },
        () => {},
        () => {},
      ),
      5_000,
      'a forwarded watch',
    );
    next.abort();
    expect(proxy.requests.at(-1)?.fault).toBeUndefined();
  });

  it('applies a rule only to its method, and counts requests by method', async () => {
    const absent = /^\/api\/v1\/namespaces\/fault-proxy-absent$/;
    proxy.addRule({ method: 'delete', path: absent, action: { kind: 'status', status: 500 } });

    const deleted = await failure(viaProxy.deleteNamespace({ name: 'fault-proxy-absent' }));
    const read = await failure(viaProxy.readNamespace({ name: 'fault-proxy-absent' }));

    expect((deleted as ApiException<unknown>).code).toBe(500);
    expect((read as ApiException<unknown>).code).toBe(404); // the apiserver's own answer
    expect(proxy.count('DELETE', absent)).toBe(1);
    expect(proxy.count('get', absent)).toBe(1);
  });

  it('lets the most recently added matching rule win, until it is removed', async () => {
    proxy.addRule({ path: NAMESPACES, action: { kind: 'status', status: 500 } });
    const removeConflict = proxy.addRule({ path: NAMESPACES, action: { kind: 'status', status: 409 } });

    const newest = await failure(viaProxy.listNamespace());
    removeConflict();
    const older = await failure(viaProxy.listNamespace());

    expect((newest as ApiException<unknown>).code).toBe(409);
    expect((older as ApiException<unknown>).code).toBe(500);
  });

  it('stops: ends open watches, releases stalled requests, refuses new connections, removes its dir', async () => {
    const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
    const ownDirs = () => new Set(readdirSync(base).filter((name) => name.startsWith('fault-proxy-')));
    const before = ownDirs();
    const second = await FaultProxy.start(cluster);
    const [created] = [...ownDirs()].filter((name) => !before.has(name));
    const client = kubeConfigFor({ ...cluster, server: second.url }, 'admin').makeApiClient(CoreV1Api);
    let watchEnded!: () => void;
    const ended = new Promise<void>((resolve) => {
      watchEnded = resolve;
    });
    await new Watch(kubeConfigFor({ ...cluster, server: second.url }, 'admin')).watch(
      '/api/v1/namespaces',
      { resourceVersion: '0' },
      () => {},
      () => watchEnded(),
    );
    second.stallAll();
    const stalled = client.listNamespace();
    expect(await within(stalled, 300)).toEqual({ settled: false });

    await inTime(second.stop(), 5_000, 'stop');

    await expect(inTime(stalled, 5_000, 'release')).rejects.toMatchObject({ code: 'ECONNRESET' });
    await inTime(ended, 5_000, 'the watch end');
    await expect(client.listNamespace()).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(created).toBeDefined();
    expect(ownDirs().has(created as string)).toBe(false);
  });
});
