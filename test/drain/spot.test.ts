import { describe, expect, it } from 'vitest';
import type { LifecyclePort, LifecycleResult } from '../../lambda/drain/ports.js';
import {
  type AutoScalingInstance,
  clampedGrace,
  type NoticeSettings,
  runNotice,
  SPOT_NOTICE_MS,
  servedInstance,
} from '../../lambda/drain/spot.js';
import type { Ec2Notice } from '../../lambda/ec2-event.js';
import { type LogEntry, memoryLogger } from '../../scripts/harness/memory-logger.js';
import { FakeCluster, pod, VirtualClock } from '../support/fakes.js';

const INSTANCE = 'i-0123456789abcdef0';

class FakeAction implements LifecyclePort {
  completed: LifecycleResult[] = [];
  constructor(private lifecycleState: string) {}
  async heartbeat(): Promise<'recorded' | 'expired'> {
    return 'recorded';
  }
  async state(): Promise<string | undefined> {
    return this.lifecycleState;
  }
  async complete(result: LifecycleResult): Promise<'completed' | 'already-completed'> {
    this.completed.push(result);
    this.lifecycleState = 'Terminating:Proceed';
    return 'completed';
  }
}

function setup(
  options: {
    instance?: AutoScalingInstance | 'fails';
    served?: readonly string[];
    pods?: ReturnType<typeof pod>[];
    nodeName?: string | null;
    terminationMs?: number;
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
  const action = new FakeAction(
    options.instance && options.instance !== 'fails' ? options.instance.state : 'InService',
  );
  const asked: string[] = [];
  const ports = {
    cluster,
    instances: { privateDnsName: async () => 'node-a' },
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
    terminationAction: () => action,
  };
  const settings = (overrides: Partial<NoticeSettings> = {}): NoticeSettings => ({
    onRebalance: 'cordon',
    dryRun: false,
    onDrainTimeout: 'delete',
    drainTimeoutSeconds: 300,
    maxConcurrentEvictions: 8,
    excludeFromLoadBalancers: true,
    holder: 'request-1',
    startedAt: clock.t,
    pauseAt: clock.t + 800_000,
    ...overrides,
  });
  const run = (notice: Ec2Notice, overrides: Partial<NoticeSettings> = {}) =>
    runNotice(notice, settings(overrides), ports, { clock, log: memoryLogger(logs) });
  return { clock, cluster, logs, action, asked, ports, run };
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
    const { run, action, cluster } = setup({ instance: { group: 'web-asg', state: 'Terminating:Wait' } });
    const report = await run(spot());

    expect(report.lifecycleResult).toBe('CONTINUE');
    expect(action.completed).toEqual(['CONTINUE']);
    expect(cluster.claims.size).toBe(0); // released before completing
  });

  it('completes nothing when no action waits, or when another drain holds the node', async () => {
    const idle = setup({ instance: IN_GROUP });
    expect((await idle.run(spot())).lifecycleResult).toBeNull();
    expect(idle.action.completed).toEqual([]);

    const held = setup({ instance: { group: 'web-asg', state: 'Terminating:Wait' } });
    held.cluster.claims.set('node-a', { holder: 'lifecycle-request', until: held.clock.t + 60_000 });
    const report = await held.run(spot());
    expect(report.outcome).toBe('spot-interrupted');
    expect(report.drain?.outcome).toBe('already-draining');
    expect(held.action.completed).toEqual([]);
  });

  it('ends foreign-instance for an instance of another group, without a Kubernetes call', async () => {
    const { run, cluster } = setup({ instance: { group: 'elsewhere', state: 'InService' } });
    expect(await run(spot())).toEqual({ outcome: 'foreign-instance', lifecycleResult: null });
    expect(cluster.requests).toEqual([]);
  });
});

describe('runNotice: a Spot instance that is stopped or hibernated comes back', () => {
  const marksOf = () => {
    const marked: string[] = [];
    return {
      marked,
      marks: {
        mark: async (node: string, mark: { instanceId: string }) => {
          marked.push(`${node} ${mark.instanceId}`);
        },
        read: async () => undefined,
        markedNodes: async () => [],
        restore: async () => 'restored' as const,
      },
    };
  };

  it.each(['stop', 'hibernate'])(
    'marks the node before the cordon when the action is %s',
    async (instanceAction) => {
      const { run, ports } = setup({ instance: IN_GROUP });
      const { marks, marked } = marksOf();
      Object.assign(ports, { marks });
      await run({ kind: 'spot-interruption', instanceId: INSTANCE, instanceAction });
      expect(marked).toEqual([`node-a ${INSTANCE}`]);
    },
  );

  it('does not mark a node whose instance terminates', async () => {
    const { run, ports } = setup({ instance: IN_GROUP });
    const { marks, marked } = marksOf();
    Object.assign(ports, { marks });
    await run(spot());
    expect(marked).toEqual([]);
  });
});

describe('runNotice with DRY_RUN', () => {
  it('Spot: server-side dry-run evictions, no cordon, no lifecycle completion', async () => {
    const { run, cluster, action } = setup({ instance: { group: 'web-asg', state: 'Terminating:Wait' } });
    const report = await run(spot(), { dryRun: true });

    expect(report.outcome).toBe('dry-run');
    expect(cluster.requests).toContain('evict a dry-run');
    expect(cluster.count('cordon')).toBe(0);
    expect(action.completed).toEqual([]);
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
    expect(report).toEqual({
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
    const { run, cluster } = setup({
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
  });

  it('node-not-found when the served instance has no node', async () => {
    const { run } = setup({ instance: IN_GROUP, nodeName: null });
    expect((await run(rebalance)).outcome).toBe('node-not-found');
  });
});
