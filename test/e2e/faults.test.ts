/**
 * Faults between the drainer and a real kube-apiserver (a fault-injecting proxy in front of it) and
 * on the lifecycle action (the local AWS endpoint expires actions like AWS): each test fails when
 * the behaviour it names is removed.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { DEFAULT_DRAIN_TUNING, type DrainOptions, drainNode } from '../../lambda/drain/drain.js';
import { DRAINER_KEY } from '../../lambda/event.js';
import { KubeCluster } from '../../lambda/kube/cluster.js';
import { LocalAwsEndpoint } from '../../scripts/harness/aws-endpoint.js';
import { kubeConfigFor } from '../../scripts/harness/cluster.js';
import { FaultProxy } from '../../scripts/harness/fault-proxy.js';
import { type LogEntry, memoryLogger } from '../../scripts/harness/memory-logger.js';
import type { Workload } from '../../scripts/harness/workload.js';
import {
  captureLogs,
  context,
  lifecycleAction,
  lifecycleEvent,
  loadHandler,
  registerCluster,
} from './support/lambda.js';
import { createScenario } from './support/scenario.js';
import { fillReady, fillStuck } from './support/worlds.js';

const aws = new LocalAwsEndpoint();
let proxy: FaultProxy;
let world: Workload | undefined;

beforeAll(async () => {
  await aws.start();
  proxy = await FaultProxy.start(inject('cluster'));
});
afterAll(async () => {
  await proxy.stop();
  await aws.stop();
});
afterEach(async () => {
  proxy.clearRules();
  registerCluster(aws);
  if (world) {
    expect(world.sim.failures).toEqual([]);
    await world.dispose();
    world = undefined;
  }
});

/** Two replicas behind a PDB that lets one go at a time, and a bare pod. */
async function readyWorld(prefix: string, preStopSeconds = 1): Promise<Workload> {
  world = await createScenario(prefix);
  return fillReady(world, { preStopSeconds });
}

/** A node whose only pod no PDB lets go. */
async function stuckWorld(prefix: string): Promise<Workload> {
  world = await createScenario(prefix);
  return fillStuck(world);
}

/** The real engine through the proxy, as the RBAC-limited drainer, with short request timeouts. */
async function drainThroughProxy(w: Workload, options: Partial<DrainOptions> = {}) {
  const logs: LogEntry[] = [];
  const cluster = new KubeCluster(kubeConfigFor({ ...w.info, server: proxy.url }, 'drainer'), undefined, {
    connectMs: 1_000,
    requestMs: 1_500,
  });
  const now = Date.now();
  const report = await drainNode(
    cluster,
    {
      ...DEFAULT_DRAIN_TUNING,
      target: { nodeName: w.node },
      startedAt: now,
      deadline: now + 60_000,
      onDeadline: 'delete',
      dryRun: false,
      ...options,
    },
    { clock: { now: Date.now, sleep: sleep, random: Math.random }, log: memoryLogger(logs) },
  );
  return { report, logs };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

const EVICTION = /\/pods\/[^/]+\/eviction/;

describe('bounded Kubernetes requests', () => {
  it('hands over on time while the apiserver hangs, and the continuation finishes once it answers', async () => {
    registerCluster(aws, proxy.url);
    const handler = await loadHandler(aws, { LOG_LEVEL: 'info' });
    const w = await readyWorld('f-hung');
    const action = lifecycleAction(aws, w);
    proxy.addRule({ method: 'POST', path: EVICTION, action: { kind: 'stall' } });
    const invocations = aws.invocations.length;
    const began = Date.now();

    // 5 s left in this invocation: it must hand over by then although every eviction hangs
    const { result, lines } = await captureLogs(() => handler(lifecycleEvent(action), context(5_000)));
    const ended = Date.now();

    expect(result.outcome).toBe('continued-in-new-invocation');
    expect(ended - began).toBeLessThan(5_000);
    const handedOver = aws.invocations.slice(invocations);
    expect(handedOver).toHaveLength(1);
    expect(lines.at(-1)).toMatchObject({
      message: 'invocation finished',
      outcome: 'continued-in-new-invocation',
    });
    expect(proxy.count('POST', EVICTION)).toBeGreaterThan(0);
    expect(action.result).toBeUndefined();

    proxy.clearRules();
    const payload = handedOver[0]?.payload as Record<string, unknown>;
    const second = await handler(payload, context());

    expect(second.outcome).toBe('drained');
    expect(action.result).toBe('CONTINUE');
    expect(await w.podsOn()).toEqual([]);
    expect(payload[DRAINER_KEY]).toMatchObject({ attempt: 2, holder: expect.any(String) });
  });

  it('gives up on a hung request after its timeout and retries it', async () => {
    const w = await readyWorld('f-timeout');
    proxy.addRule({ method: 'POST', path: EVICTION, action: { kind: 'stall' }, times: 1 });

    const { report } = await drainThroughProxy(w);

    expect(report.outcome).toBe('drained');
    expect(report.errors.join('\n')).toMatch(/timed out/);
    expect(await w.podsOn()).toEqual([]);
  });
});

describe('faults in the middle of a drain', () => {
  it.each([
    [
      'cordon answered 503',
      { method: 'PATCH', path: /\/api\/v1\/nodes\//, action: { kind: 'status', status: 503 } },
    ],
    ['the pod list reset', { method: 'GET', path: /\/api\/v1\/pods\?/, action: { kind: 'reset' } }],
    [
      'evictions answered 500',
      {
        method: 'POST',
        path: EVICTION,
        action: { kind: 'status', status: 500, message: 'etcd leader changed' },
      },
    ],
  ] as const)('survives %s: retried, reported, drained', async (_, rule) => {
    const w = await readyWorld('f-fault');
    proxy.addRule({ ...rule, times: 2 });

    const { report } = await drainThroughProxy(w);

    expect(report.outcome).toBe('drained');
    expect(report.errors.length).toBeGreaterThan(0);
    expect(report.evicted).toHaveLength(3);
    expect(await w.podsOn()).toEqual([]);
  });

  it('retries a delete at the deadline that failed, so the blocked pod still goes', async () => {
    const w = await stuckWorld('f-delete');
    proxy.addRule({ method: 'DELETE', path: /\/pods\//, action: { kind: 'status', status: 503 }, times: 2 });
    const now = Date.now();

    const { report } = await drainThroughProxy(w, { deadline: now + 2_000, minEvictionWindowMs: 1_000 });

    expect(report.outcome).toBe('deadline-deleted');
    expect(report.deleted).toHaveLength(1);
    expect(report.errors.join('\n')).toMatch(/delete .*503/);
    expect(proxy.count('DELETE', /\/pods\//)).toBe(3);
    expect(await w.podsOn()).toEqual([]);
  });

  it('never takes a 409 on an eviction for a gone pod: it stays, reported, until the list says so', async () => {
    const w = await stuckWorld('f-409');
    await w.deletePdb('db');
    proxy.addRule({
      method: 'POST',
      path: EVICTION,
      action: {
        kind: 'status',
        status: 409,
        message: 'Operation cannot be fulfilled on poddisruptionbudgets',
      },
    });
    const now = Date.now();

    const { report } = await drainThroughProxy(w, {
      deadline: now + 3_000,
      onDeadline: 'continue',
      minEvictionWindowMs: 1_000,
    });

    expect(report.outcome).toBe('deadline-continued');
    expect(report.evicted).toEqual([]);
    expect(report.remaining).toHaveLength(1);
    expect(report.blocked).toMatchObject([{ reason: 'error' }]);
    expect(await w.podsOn()).toHaveLength(1);
  });

  it('treats a 429 without a PDB as throttling: Retry-After honoured, reported apart from PDB refusals', async () => {
    const w = await readyWorld('f-apf');
    const before = proxy.requests.length;
    const retryAfterSeconds = 1;
    proxy.addRule({
      method: 'POST',
      path: EVICTION,
      action: {
        kind: 'status',
        status: 429,
        message: 'Too many requests, please try again later.',
        retryAfterSeconds,
      },
      times: 3,
    });

    const { report } = await drainThroughProxy(w);

    expect(report.outcome).toBe('drained');
    expect(report.throttled).toBe(3);
    expect(report.evictionRefusals).toBeLessThanOrEqual(2); // only real PDB refusals (web goes one at a time)
    const evictions = proxy.requests
      .slice(before)
      .filter((r) => r.method === 'POST' && EVICTION.test(r.path));
    // each throttled pod's next request waited at least Retry-After
    for (const throttled of evictions.filter((r) => r.fault === 'status')) {
      const next = evictions.find((r) => r.path === throttled.path && r.at > throttled.at);
      expect((next?.at ?? Number.POSITIVE_INFINITY) - throttled.at).toBeGreaterThanOrEqual(
        retryAfterSeconds * 1000 - 50,
      );
    }
  });
});

describe('the lifecycle action is the source of truth', () => {
  it('keeps the action alive across several heartbeat timeouts with periodic heartbeats', async () => {
    registerCluster(aws);
    const handler = await loadHandler(aws, { HEARTBEAT_INTERVAL_SECONDS: '1' });
    const w = await readyWorld('f-beats', 4);
    aws.instances.set(w.instanceId, w.node);
    const action = aws.addLifecycleAction({
      token: randomUUID(),
      autoScalingGroupName: `${w.namespace}-asg`,
      hookName: 'eks-node-drainer',
      instanceId: w.instanceId,
      heartbeatTimeoutSeconds: 1.5,
    });
    const began = Date.now();

    const result = await handler(lifecycleEvent(action), context());

    expect(Date.now() - began).toBeGreaterThan(2 * 1_500); // the drain outlived two heartbeat timeouts
    expect(result.outcome).toBe('drained');
    expect(action.expiredAt).toBeUndefined();
    expect(action.result).toBe('CONTINUE');
    expect(action.heartbeats).toBeGreaterThanOrEqual(3);
  });

  it('stops at once when the action expires mid-drain: action-expired, logged, counted, nothing completed', async () => {
    registerCluster(aws);
    // a heartbeat every 4 s cannot keep a 1.5 s timeout alive
    const handler = await loadHandler(aws, { HEARTBEAT_INTERVAL_SECONDS: '4', LOG_LEVEL: 'info' });
    const w = await stuckWorld('f-expired');
    aws.instances.set(w.instanceId, w.node);
    const action = aws.addLifecycleAction({
      token: randomUUID(),
      autoScalingGroupName: `${w.namespace}-asg`,
      hookName: 'eks-node-drainer',
      instanceId: w.instanceId,
      heartbeatTimeoutSeconds: 1.5,
    });
    const began = Date.now();

    const { result, lines } = await captureLogs(() => handler(lifecycleEvent(action), context()));

    expect(result.outcome).toBe('action-expired');
    expect(result.lifecycleResult).toBeNull();
    expect(Date.now() - began).toBeLessThan(8_000);
    expect(action.expiredAt).toBeDefined();
    const completions = aws.callsOf('autoscaling', 'CompleteLifecycleAction');
    expect(completions.filter((c) => c.params.LifecycleActionToken === action.token)).toEqual([]);
    expect(lines.some((l) => l.level === 'error' && /expired while draining/.test(String(l.message)))).toBe(
      true,
    );
    expect(lines.some((l) => l.ActionExpired === 1)).toBe(true);
  });
});

describe('bad and forged input never bypasses a PDB', () => {
  it.each([
    ['1970', new Date(0)],
    ['next year', new Date(Date.now() + 365 * 86_400_000)],
  ])(
    'a lifecycle event dated %s still offers every pod an eviction before the deadline policy',
    async (_, time) => {
      registerCluster(aws);
      const handler = await loadHandler(aws, {
        DRAIN_TIMEOUT_SECONDS: '30',
        MIN_EVICTION_WINDOW_SECONDS: '3',
      });
      const w = await readyWorld('f-forged');
      const action = lifecycleAction(aws, w);

      const result = await handler(lifecycleEvent(action, time), context());

      // every pod went by eviction (the PDB let them go one at a time): nothing was deleted
      expect(result.outcome).toBe('drained');
      expect(result.report?.evicted).toHaveLength(3);
      expect(result.report?.deleted).toEqual([]);
    },
  );

  it('refuses a continuation with a forged attempt count', async () => {
    registerCluster(aws);
    const handler = await loadHandler(aws);
    const w = await readyWorld('f-attempt');
    const action = lifecycleAction(aws, w);
    const event = { ...lifecycleEvent(action), [DRAINER_KEY]: { startedAt: Date.now(), attempt: 100_000 } };

    const result = await handler(event, context());

    expect(result.outcome).toBe('invalid-event');
    expect(await w.podsOn()).toHaveLength(3);
  });

  it('drains a hand-made event (no token) only for an instance in Terminating:Wait, unless forced', async () => {
    registerCluster(aws);
    const handler = await loadHandler(aws);
    const w = await readyWorld('f-manual');
    aws.instances.set(w.instanceId, w.node);
    aws.autoScalingInstances.set(w.instanceId, { asg: `${w.namespace}-asg`, lifecycleState: 'InService' });
    const fields = {
      autoScalingGroupName: `${w.namespace}-asg`,
      hookName: 'eks-node-drainer',
      instanceId: w.instanceId,
    };

    const refused = await handler(lifecycleEvent(fields), context());

    expect(refused.outcome).toBe('instance-not-terminating');
    expect(refused.report).toBeUndefined();
    expect(await w.podsOn()).toHaveLength(3);

    const forced = await handler({ ...lifecycleEvent(fields), [DRAINER_KEY]: { force: true } }, context());

    // no lifecycle action to keep alive or complete: drained, nothing sent to AutoScaling
    expect(forced.outcome).toBe('drained');
    expect(forced.lifecycleResult).toBeNull();
    expect(forced.report?.evicted).toHaveLength(3);
  });
});
