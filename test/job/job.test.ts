/**
 * Where notices meet on one node: every invocation below runs on one virtual clock against one
 * cluster and one job record store, as concurrent Lambda invocations would against one API server.
 * The record's protocol is the product's (lambda/job/record.ts, lease.ts); the store only does what
 * the API server does with a resourceVersion precondition.
 */
import { describe, expect, it } from 'vitest';
import { NO_TOTALS } from '../../lambda/drain/progress.js';
import type { Ec2Notice } from '../../lambda/ec2-event.js';
import { runLifecycleAction } from '../../lambda/job/lifecycle.js';
import { type NoticePorts, type NoticeSettings, runNotice } from '../../lambda/job/notice.js';
import { HANDOVER_MS, LEASE_MS } from '../../lambda/job/record.js';
import { type LogEntry, memoryLogger } from '../../scripts/harness/memory-logger.js';
import { FakeCluster, lifecycleSettings, pod, VirtualClock } from '../support/fakes.js';
import { jobPorts, noticeSettings } from '../support/job-fakes.js';

const INSTANCE = 'i-0123456789abcdef0';
const blocking = {
  kind: 'pdb-blocked',
  message: 'The disruption budget web needs 2',
  pdbName: 'web',
} as const;

function world(pods = [pod('a'), pod('b')], terminationMs = 1_000) {
  const clock = new VirtualClock();
  const cluster = new FakeCluster(clock, pods, terminationMs);
  const { ports, store, actions, continuation } = jobPorts(cluster);
  const logs: LogEntry[] = [];
  const deps = { clock, log: memoryLogger(logs) };
  const noticePorts: NoticePorts = {
    ...ports,
    instances: {
      privateDnsName: async () => 'node-a',
      spotInterruption: async () => ({ kind: 'marked', code: 'marked-for-termination' }),
    },
    groups: { serves: async () => true },
    describeInstance: async () => ({ group: 'web-asg', state: actions.action(INSTANCE).lifecycleState }),
  };
  const lifecycle = (overrides: Parameters<typeof lifecycleSettings>[1] = {}) =>
    runLifecycleAction(lifecycleSettings(clock, overrides), ports, deps);
  const notice = (event: Ec2Notice, overrides: Partial<NoticeSettings> = {}) =>
    runNotice(event, noticeSettings(clock, overrides), noticePorts, deps);
  const after = (ms: number) => clock.sleep(ms);
  return { clock, cluster, store, actions, continuation, logs, lifecycle, notice, after };
}

const spotWarning = (time: number): Ec2Notice => ({
  kind: 'spot-interruption',
  instanceId: INSTANCE,
  instanceAction: 'terminate',
  time,
});
const rebalance: Ec2Notice = { kind: 'rebalance-recommendation', instanceId: INSTANCE };

describe('a rebalance drain, then the termination of its instance', () => {
  it('completes the termination action once, CONTINUE, only after the last pod is gone', async () => {
    const w = world([pod('a'), pod('b')], 20_000);
    const action = w.actions.action(INSTANCE);
    action.lifecycleState = 'InService';
    let goneAt = 0;
    const evict = w.cluster.evict.bind(w.cluster);
    w.cluster.evict = async (ref, options) => {
      const answer = await evict(ref, options);
      goneAt = Math.max(goneAt, w.clock.t + 20_000);
      return answer;
    };
    let completedAt = 0;
    const complete = action.complete.bind(action);
    action.complete = async (result) => {
      completedAt = w.clock.t;
      return complete(result);
    };

    const draining = w.notice(rebalance);
    await w.after(3_000);
    action.lifecycleState = 'Terminating:Wait';
    const termination = await w.lifecycle({ invocation: 'termination-1', chain: 'termination-1' });
    const rebalanced = await draining;

    expect(termination.outcome).toBe('joined');
    expect(termination.lifecycleResult).toBeNull();
    expect(rebalanced.outcome).toBe('drained');
    expect(rebalanced.completed).toEqual([
      { request: 'termination:token-1', result: 'CONTINUE', completion: 'completed' },
    ]);
    expect(action.completions).toEqual(['CONTINUE']);
    expect(completedAt).toBeGreaterThanOrEqual(goneAt);
    expect(w.cluster.count('evict a')).toBe(1);
    expect(w.cluster.count('evict b')).toBe(1);
    expect(w.store.record('node-a')).toBeUndefined();
  });

  it("keeps the termination's action alive while the rebalance holder drains", async () => {
    const w = world([pod('a')], 200_000);
    const action = w.actions.action(INSTANCE);

    const draining = w.notice(rebalance);
    await w.after(1_000);
    await w.lifecycle({ invocation: 'termination-1', chain: 'termination-1' });
    await draining;

    // one beat by the joined invocation, one at its adoption, then the holder's every 60 s for the
    // 200 s the pod takes
    expect(action.heartbeats).toBe(5);
    expect(action.completions).toEqual(['CONTINUE']);
  });

  it("drains on under the termination's terms when its own deadline passed with pods left", async () => {
    const w = world([pod('a')], 1_000);
    w.cluster.evictor = () => blocking;
    // the rebalance recommendation came long ago: its own deadline (policy continue) is near
    const draining = w.notice(rebalance, { startedAt: w.clock.t - 299_000, drainTimeoutSeconds: 300 });
    await w.after(500);
    const termination = w.lifecycle({
      invocation: 'termination-1',
      chain: 'termination-1',
      drainTimeoutSeconds: 30,
      minEvictionWindowSeconds: 10,
    });

    const [rebalanced, terminated] = await Promise.all([draining, termination]);

    // the termination's policy (delete) applied at its deadline, not the rebalance's continue
    expect(terminated.outcome).toBe('joined');
    expect(rebalanced.outcome).toBe('deadline-deleted');
    expect(w.cluster.count('delete a')).toBe(1);
    expect(w.actions.action(INSTANCE).completions).toEqual(['CONTINUE']);
  });
  it('drains on when the termination joins just as the rebalance drain gives up at its deadline', async () => {
    const w = world([pod('a', { gracePeriodSeconds: 5 })], 1_000);
    w.cluster.evictor = () => blocking;
    const cordon = w.cluster.cordon.bind(w.cluster);
    w.cluster.cordon = async (node, options) => {
      await w.clock.sleep(2_000);
      return cordon(node, options);
    };
    // a continued rebalance drain whose pod had its window long ago: it ends at once after the cordon
    const past = w.clock.t - 1_000_000;
    const draining = w.notice(rebalance, {
      startedAt: past,
      attempt: 4,
      progress: { offeredAt: { 'uid-a': past }, totals: NO_TOTALS },
    });
    await w.after(1_000);
    const terminated = await w.lifecycle({ invocation: 't', chain: 't', minEvictionWindowSeconds: 10 });
    const report = await draining;

    expect(terminated.outcome).toBe('joined');
    expect(report.outcome).toBe('deadline-deleted');
    expect(w.cluster.count('delete a')).toBe(1);
    expect(w.actions.action(INSTANCE).completions).toEqual(['CONTINUE']);
  });
});

describe('a Spot warning during a lifecycle drain', () => {
  it('tightens the running drain to the two minutes, grace clamped, and the action completes once', async () => {
    const w = world([pod('a', { gracePeriodSeconds: 60 }), pod('b')], 3_000);
    w.cluster.evictor = (ref) => (ref.name === 'a' ? blocking : { kind: 'evicted' });
    const action = w.actions.action(INSTANCE);

    const draining = w.lifecycle({ drainTimeoutSeconds: 900 });
    await w.after(2_000);
    // the warning was sent 80 s ago: the instance goes in 40 s
    const warnedAt = w.clock.t - 80_000;
    const goesAt = warnedAt + 120_000;
    const spot = await w.notice(spotWarning(warnedAt), { startedAt: warnedAt });
    const drained = await draining;

    expect(spot.outcome).toBe('joined');
    expect(spot.joined).toEqual({ holder: 'request-1', adopted: true });
    expect(drained.outcome).toBe('deadline-deleted');
    // deleted at the Spot deadline (15 s before the end), its grace clamped to end the 5 s before it
    const deletion = w.cluster.requests.find((r) => r.startsWith('delete a'));
    expect(deletion).toBe('delete a grace=10');
    expect(w.clock.t).toBeLessThan(goesAt);
    expect(action.completions).toEqual(['CONTINUE']);
    expect(drained.limits?.hardEnd).toBe(goesAt);
  });
});

describe('duplicates and continuations', () => {
  it('joins a duplicate delivery at once: one drain, one completion', async () => {
    const w = world([pod('a')], 10_000);

    const first = w.lifecycle();
    await w.after(1_000);
    const duplicate = await w.lifecycle({ invocation: 'request-2', chain: 'request-2' });
    const drained = await first;

    expect(duplicate.outcome).toBe('joined');
    expect(duplicate.joined?.adopted).toBe(true);
    expect(drained.outcome).toBe('drained');
    expect(w.cluster.count('evict a')).toBe(1);
    expect(w.cluster.count('cordon')).toBe(1);
    expect(w.actions.action(INSTANCE).completions).toEqual(['CONTINUE']);
  });

  it('lets the continuation take its chain over while a duplicate racing it joins', async () => {
    const w = world([pod('a')], 100_000);

    const paused = await w.lifecycle({ pauseAt: w.clock.t + 10_000 });
    expect(paused.outcome).toBe('continued-in-new-invocation');
    expect(w.store.record('node-a')).toMatchObject({ handedOver: true, until: w.clock.t + HANDOVER_MS });
    const carried = w.continuation.sent[0];

    const [continued, duplicate] = await Promise.all([
      w.lifecycle({
        invocation: 'request-1-2',
        chain: carried?.holder ?? '',
        attempt: carried?.attempt ?? 0,
        ...(carried?.progress ? { progress: carried.progress } : {}),
      }),
      w.lifecycle({ invocation: 'request-3', chain: 'request-3' }),
    ]);

    expect(continued.outcome).toBe('drained');
    expect(duplicate.outcome).toBe('joined');
    expect(w.cluster.count('evict a')).toBe(1);
    expect(w.actions.action(INSTANCE).completions).toEqual(['CONTINUE']);
  });

  it('makes a second delivery of the same continuation join the first', async () => {
    const w = world([pod('a')], 100_000);
    await w.lifecycle({ pauseAt: w.clock.t + 10_000 });

    const [one, two] = await Promise.all([
      w.lifecycle({ invocation: 'copy-1', chain: 'request-1', attempt: 2 }),
      w.lifecycle({ invocation: 'copy-2', chain: 'request-1', attempt: 2 }),
    ]);

    expect([one.outcome, two.outcome].sort()).toEqual(['drained', 'joined']);
    expect(w.actions.action(INSTANCE).completions).toEqual(['CONTINUE']);
  });
});

describe('a holder that goes away', () => {
  it('is taken over by the notice waiting to join, once its lease runs out', async () => {
    const w = world([pod('a')], 1_000);
    // a holder that died mid-drain: its record stays, its lease runs out in 20 s
    w.store.put('node-a', {
      chain: 'dead',
      holder: 'dead',
      until: w.clock.t + 20_000,
      before: { unschedulable: false, excludedFromLoadBalancers: false },
      requests: [],
    });

    const report = await w.lifecycle({ invocation: 'second', chain: 'second' });

    expect(report.outcome).toBe('drained');
    expect(report.tookOverFrom).toBe('dead');
    expect(w.clock.t).toBeGreaterThanOrEqual(1_700_000_020_000);
    expect(w.actions.action(INSTANCE).completions).toEqual(['CONTINUE']);
  });

  it('stops draining and completes nothing when another invocation took its job over', async () => {
    const w = world([pod('a')], 100_000);
    const draining = w.lifecycle();
    await w.after(6_000);
    const record = w.store.record('node-a');
    if (record)
      w.store.put('node-a', { ...record, holder: 'usurper', chain: 'usurper', until: w.clock.t + LEASE_MS });

    const report = await draining;

    expect(report.outcome).toBe('joined');
    expect(report.joined).toEqual({ holder: 'usurper', adopted: true });
    expect(w.actions.action(INSTANCE).completions).toEqual([]);
  });

  it('drops an adopted action that was already gone, and drains on', async () => {
    const w = world([pod('a')], 1_000);
    const stale = w.actions.action('i-0old');
    stale.lifecycleState = 'Terminating:Proceed';
    w.store.put('node-a', {
      chain: 'old',
      holder: 'old',
      until: w.clock.t - 1,
      before: { unschedulable: false, excludedFromLoadBalancers: false },
      requests: [
        {
          id: 'termination:old',
          kind: 'termination',
          instanceId: 'i-0old',
          startedAt: w.clock.t - 3_600_000,
          deadline: w.clock.t - 2_700_000,
          policy: 'delete',
          action: { group: 'web-asg', hook: 'eks-node-drainer', instanceId: 'i-0old', token: 'old' },
          adopted: true,
        },
      ],
    });

    const report = await w.lifecycle();

    expect(report.outcome).toBe('drained');
    expect(report.completed.map((c) => [c.request, c.completion])).toEqual([
      ['termination:old', 'already-completed'],
      ['termination:token-1', 'completed'],
    ]);
  });

  it('lets no heartbeat answer after its own completion: one in flight is awaited, then the action completed', async () => {
    const w = world([pod('a')], 70_000);
    const action = w.actions.action(INSTANCE);
    // the beat due at 60 s is answered 30 s later, after the pod is gone (70 s)
    action.beforeBeat = async () => {
      if (action.heartbeats >= 1) await w.clock.sleep(30_000);
    };

    const report = await w.lifecycle({ heartbeatIntervalSeconds: 60 });

    expect(report.outcome).toBe('drained');
    expect(action.completions).toEqual(['CONTINUE']);
    expect(action.heartbeats).toBe(2);
    expect(w.logs.filter((l) => l.level === 'error')).toEqual([]);
  });

  it('stops at once when a joined action it kept alive expires: the instance is going', async () => {
    const w = world([pod('a')], 500_000);
    const action = w.actions.action(INSTANCE);
    const draining = w.notice(rebalance);
    await w.after(1_000);
    await w.lifecycle({ invocation: 't', chain: 't', heartbeatIntervalSeconds: 30 });
    action.expiresAfterBeats = action.heartbeats + 1;

    const report = await draining;

    expect(report.outcome).toBe('action-expired');
    expect(action.completions).toEqual([]);
    expect(w.store.record('node-a')).toBeUndefined();
  });
});
