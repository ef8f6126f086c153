import { describe, expect, it } from 'vitest';
import type { Ec2Notice } from '../../lambda/ec2-event.js';
import {
  type AutoScalingInstance,
  clampedGrace,
  type NoticePorts,
  type NoticeSettings,
  runNotice,
  SPOT_NOTICE_MS,
  servedInstance,
} from '../../lambda/job/notice.js';
import type { SpotInterruption } from '../../lambda/job/ports.js';
import { type LogEntry, memoryLogger } from '../../scripts/harness/memory-logger.js';
import { FakeCluster, pod, VirtualClock } from '../support/fakes.js';
import { jobPorts, noticeSettings } from '../support/job-fakes.js';

const INSTANCE = 'i-0123456789abcdef0';

function setup(
  options: {
    instance?: AutoScalingInstance | 'fails';
    served?: readonly string[];
    pods?: ReturnType<typeof pod>[];
    nodeName?: string | null;
    terminationMs?: number;
    spot?: SpotInterruption | 'fails';
  } = {},
) {
  const clock = new VirtualClock();
  const cluster = new FakeCluster(
    clock,
    options.pods ?? [pod('a')],
    options.terminationMs ?? 1_000,
    options.nodeName === undefined ? 'node-a' : options.nodeName,
  );
  const logs: LogEntry[] = [];
  const { ports: base, store, actions, continuation } = jobPorts(cluster);
  const action = actions.action(INSTANCE);
  action.lifecycleState =
    options.instance && options.instance !== 'fails' ? options.instance.state : 'InService';
  const asked: string[] = [];
  const spotAnswer = options.spot ?? { kind: 'marked', code: 'marked-for-termination' };
  const ports: NoticePorts = {
    ...base,
    instances: {
      privateDnsName: async () => 'node-a',
      spotInterruption: async () => {
        if (spotAnswer === 'fails') throw new Error('Rate exceeded');
        return spotAnswer;
      },
    },
    groups: {
      serves: async (group: string) => {
        asked.push(group);
        return (options.served ?? ['web-asg']).includes(group);
      },
    },
    describeInstance: async () => {
      if (options.instance === 'fails') throw new Error('Rate exceeded');
      return options.instance;
    },
  };
  const settings = (overrides: Partial<NoticeSettings> = {}): NoticeSettings =>
    noticeSettings(clock, {
      onRebalance: 'cordon',
      invocation: 'request-1',
      chain: 'request-1',
      ...overrides,
    });
  const run = (notice: Ec2Notice, overrides: Partial<NoticeSettings> = {}) =>
    runNotice(notice, settings(overrides), ports, { clock, log: memoryLogger(logs) });
  return { clock, cluster, logs, action, actions, asked, ports, store, continuation, run };
}

const spot = (time?: number): Ec2Notice => ({
  kind: 'spot-interruption',
  instanceId: INSTANCE,
  instanceAction: 'terminate',
  ...(time === undefined ? {} : { time }),
});
const rebalance: Ec2Notice = { kind: 'rebalance-recommendation', instanceId: INSTANCE };
const IN_GROUP: AutoScalingInstance = { group: 'web-asg', state: 'InService' };

describe('clampedGrace', () => {
  const end = 1_000_000;
  it('sends none without a hard end: the pod’s own applies', () => {
    expect(clampedGrace({ gracePeriodSeconds: 3_600 }, undefined, 0)).toEqual({});
  });
  it('sends none when the pod’s own fits in the time left', () => {
    expect(clampedGrace({ gracePeriodSeconds: 30 }, end, end - 30_000)).toEqual({});
  });
  it('clamps to the whole seconds left when the pod’s own does not fit', () => {
    expect(clampedGrace({ gracePeriodSeconds: 30 }, end, end - 29_999)).toEqual({ gracePeriodSeconds: 29 });
  });
  it('never sends less than 1 s, also past the end (0 would skip the kubelet)', () => {
    expect(clampedGrace({ gracePeriodSeconds: 30 }, end, end + 5_000)).toEqual({ gracePeriodSeconds: 1 });
  });
});

describe('servedInstance', () => {
  it('serves an instance of a served group without asking Kubernetes', async () => {
    const { ports, cluster, logs } = setup({ instance: IN_GROUP });
    expect(await servedInstance(INSTANCE, ports, memoryLogger(logs))).toEqual({
      served: true,
      group: 'web-asg',
    });
    expect(cluster.requests).toEqual([]);
  });

  it('finds an instance of another group foreign, with no Kubernetes call', async () => {
    const { ports, cluster, logs } = setup({ instance: { group: 'other-cluster-asg', state: 'InService' } });
    expect(await servedInstance(INSTANCE, ports, memoryLogger(logs))).toEqual({
      served: false,
      reason: 'Auto Scaling group other-cluster-asg is not served by this drainer',
    });
    expect(cluster.requests).toEqual([]);
  });

  it('serves an instance in no group when a node has its providerID (one lookup, by instance only)', async () => {
    const { ports, cluster, logs } = setup({ instance: undefined });
    expect(await servedInstance(INSTANCE, ports, memoryLogger(logs))).toEqual({
      served: true,
      node: 'node-a',
    });
    expect(cluster.requests).toEqual(['findNode ']);
  });

  it('finds an instance in no group and with no node foreign', async () => {
    const { ports, logs } = setup({ instance: undefined, nodeName: null });
    expect(await servedInstance(INSTANCE, ports, memoryLogger(logs))).toMatchObject({ served: false });
  });

  it('looks for the node by providerID when AutoScaling cannot be asked, and says so', async () => {
    const { ports, logs } = setup({ instance: 'fails' });
    expect(await servedInstance(INSTANCE, ports, memoryLogger(logs))).toEqual({
      served: true,
      node: 'node-a',
    });
    expect(logs.map((l) => l.message)).toContain(
      'auto scaling instance lookup failed; looking for the node by providerID',
    );
  });
});

describe('runNotice: Spot interruption', () => {
  it('drains with grace periods clamped to the time left before the instance goes, less 5 s', async () => {
    const { run, cluster, clock } = setup({
      instance: IN_GROUP,
      pods: [pod('slow', { gracePeriodSeconds: 120 }), pod('quick', { gracePeriodSeconds: 10 })],
    });
    // the warning came 60 s ago: 60 s left, pods to be gone in 55 s
    const sentAt = clock.t - 60_000;
    const report = await run(spot(sentAt), { startedAt: sentAt });

    expect(report.outcome).toBe('spot-interrupted');
    expect(report.hardEnd).toBe(new Date(sentAt + SPOT_NOTICE_MS).toISOString());
    expect(cluster.requests).toContain('evict slow grace=55');
    expect(cluster.requests).toContain('evict quick');
    expect(report.drain?.evicted).toHaveLength(2);
  });

  it('retries PDB refusals until 15 s before the end, then deletes with the grace clamped too, ending by the end', async () => {
    // the deleted pod never leaves (a stuck kubelet): the drain must still end before the instance goes
    const { run, cluster, clock } = setup({
      instance: IN_GROUP,
      pods: [pod('blocked', { gracePeriodSeconds: 60 })],
      terminationMs: 300_000,
    });
    cluster.evictor = () => ({
      kind: 'pdb-blocked',
      message: "Cannot evict pod as it would violate the pod's disruption budget.",
    });
    // 30 s left: less than the usual 60 s eviction window before the policy deadline
    const sentAt = clock.t - 90_000;
    const started = clock.t;

    const report = await run(spot(sentAt), { startedAt: sentAt });

    // deleted at the policy deadline (sentAt + 105 s): 10 s left until pods must be gone (end − 5 s)
    expect(cluster.requests.find((r) => r.startsWith('delete blocked'))).toBe('delete blocked grace=10');
    expect(cluster.count('evict blocked')).toBeGreaterThan(3);
    expect(clock.t - started).toBeGreaterThanOrEqual(15_000);
    expect(report.drain?.deleted).toEqual(['default/blocked']);
    expect(report.drain?.remaining).toEqual(['default/blocked']);
    expect(report.outcome).toBe('spot-interrupted');
    // the grace periods end at end − 5 s; the drain watches 1.5 s more for those pods, then reports
    expect(clock.t).toBeLessThanOrEqual(sentAt + SPOT_NOTICE_MS - 3_500);
  });

  it('completes the termination lifecycle action waiting for the instance, once, after the drain', async () => {
    const { run, action, store } = setup({ instance: { group: 'web-asg', state: 'Terminating:Wait' } });
    const report = await run(spot());

    expect(report.lifecycleResult).toBe('CONTINUE');
    expect(action.completions).toEqual(['CONTINUE']);
    expect(store.record('node-a')).toBeUndefined();
  });

  it('completes nothing when no action waits', async () => {
    const { run, action } = setup({ instance: IN_GROUP });
    expect((await run(spot())).lifecycleResult).toBeNull();
    expect(action.completions).toEqual([]);
  });

  it('ends foreign-instance for an instance of another group, without a Kubernetes call', async () => {
    const { run, cluster } = setup({ instance: { group: 'elsewhere', state: 'InService' } });
    expect(await run(spot())).toMatchObject({ outcome: 'foreign-instance', lifecycleResult: null });
    expect(cluster.requests).toEqual([]);
  });
});

describe('runNotice: a Spot warning EC2 did not mark', () => {
  it.each([
    ['an On-Demand instance', { kind: 'not-spot' } as const, 'not a Spot instance'],
    ['a Spot instance still fulfilled', { kind: 'not-marked', code: 'fulfilled' } as const, 'fulfilled'],
  ])('cordons %s only: no eviction, no deadline, nothing completed', async (_, answer, status) => {
    const { run, cluster, action, store } = setup({
      instance: { group: 'web-asg', state: 'Terminating:Wait' },
      spot: answer,
    });

    const report = await run(spot());

    expect(report).toMatchObject({ outcome: 'spot-unconfirmed', node: 'node-a', spotStatus: status });
    expect(cluster.requests).toEqual(['findNode node-a', 'cordon node-a exclude-from-lb']);
    expect(action.completions).toEqual([]);
    expect(store.writes).toEqual([]);
  });

  it('drains as warned when EC2 cannot be asked, and says so', async () => {
    const { run, logs } = setup({ instance: IN_GROUP, spot: 'fails' });

    const report = await run(spot());

    expect(report.outcome).toBe('spot-interrupted');
    expect(report.spotStatus).toBe('unconfirmed');
    expect(logs.map((l) => l.message)).toContain(
      'could not confirm the Spot interruption with EC2; draining as warned',
    );
  });
});

describe('runNotice: a Spot instance that is stopped or hibernated comes back', () => {
  it.each(['stop', 'hibernate'])(
    'marks the node, as it was before the drain, when the drain ends (action %s)',
    async (instanceAction) => {
      const { run, store } = setup({ instance: IN_GROUP });
      store.nodes.set('node-a', {
        version: 1,
        now: { unschedulable: false, excludedFromLoadBalancers: true },
      });
      await run({ kind: 'spot-interruption', instanceId: INSTANCE, instanceAction });
      expect(store.mark('node-a')).toMatchObject({
        instanceId: INSTANCE,
        wasUnschedulable: false,
        hadExcludeLabel: true,
      });
    },
  );

  it('does not mark a node whose instance terminates', async () => {
    const { run, store } = setup({ instance: IN_GROUP });
    await run(spot());
    expect(store.mark('node-a')).toBeUndefined();
  });
});

describe('runNotice with DRY_RUN', () => {
  it('Spot: server-side dry-run evictions, no cordon, no lifecycle completion', async () => {
    const { run, cluster, action } = setup({ instance: { group: 'web-asg', state: 'Terminating:Wait' } });
    const report = await run(spot(), { dryRun: true });

    expect(report.outcome).toBe('dry-run');
    expect(cluster.requests).toContain('evict a dry-run');
    expect(cluster.count('cordon')).toBe(0);
    expect(action.completions).toEqual([]);
  });

  it('rebalance cordon: finds the node, cordons nothing', async () => {
    const { run, cluster } = setup({ instance: IN_GROUP });
    expect((await run(rebalance, { dryRun: true })).outcome).toBe('dry-run');
    expect(cluster.requests).toEqual(['findNode node-a']);
  });
});

describe('runNotice: rebalance recommendation', () => {
  it('cordon: cordons and excludes from load balancers, evicts nothing', async () => {
    const { run, cluster } = setup({ instance: IN_GROUP });
    const report = await run(rebalance);
    expect(report).toMatchObject({
      outcome: 'rebalance-cordoned',
      node: 'node-a',
      group: 'web-asg',
      lifecycleResult: null,
    });
    expect(cluster.requests).toEqual(['findNode node-a', 'cordon node-a exclude-from-lb']);
  });

  it('ignore: asks nobody anything', async () => {
    const { run, cluster, asked } = setup({ instance: IN_GROUP });
    expect((await run(rebalance, { onRebalance: 'ignore' })).outcome).toBe('ignored');
    expect(cluster.requests).toEqual([]);
    expect(asked).toEqual([]);
  });

  it('drain: drains without a grace override and never deletes past a PDB', async () => {
    const { run, cluster, store } = setup({
      instance: IN_GROUP,
      pods: [pod('a', { gracePeriodSeconds: 600 }), pod('b')],
    });
    cluster.evictor = (ref) =>
      ref.name === 'b' ? { kind: 'pdb-blocked', message: 'disruption budget b-pdb' } : { kind: 'evicted' };
    const report = await run(rebalance, { onRebalance: 'drain', drainTimeoutSeconds: 60 });

    expect(report.outcome).toBe('deadline-continued');
    expect(cluster.requests).toContain('evict a');
    expect(cluster.count('delete')).toBe(0);
    expect(report.lifecycleResult).toBeNull();
    expect(store.record('node-a')).toBeUndefined();
  });

  it('drain: continues in a new invocation like any drain, keeping the job for it', async () => {
    const { run, cluster, continuation, store, clock } = setup({
      instance: IN_GROUP,
      terminationMs: 120_000,
    });
    cluster.evictor = () => ({ kind: 'pdb-blocked', message: 'no' });

    const report = await run(rebalance, { onRebalance: 'drain', pauseAt: clock.t + 30_000 });

    expect(report.outcome).toBe('continued-in-new-invocation');
    expect(continuation.sent).toEqual([expect.objectContaining({ attempt: 2, holder: 'request-1' })]);
    expect(store.record('node-a')).toMatchObject({ holder: 'request-1', handedOver: true });
  });

  it('node-not-found when the served instance has no node', async () => {
    const { run } = setup({ instance: IN_GROUP, nodeName: null });
    expect((await run(rebalance)).outcome).toBe('node-not-found');
  });
});
