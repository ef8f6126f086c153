import { describe, expect, it } from 'vitest';
import type { Continuation } from '../../lambda/drain/continuation.js';
import { type LifecycleRunSettings, runLifecycleAction } from '../../lambda/drain/lifecycle.js';
import type { LifecycleResult, LoadBalancerPort, TargetRegistration } from '../../lambda/drain/ports.js';
import { waitForRelease } from '../../lambda/drain/release.js';
import { type LogEntry, memoryLogger } from '../../scripts/harness/memory-logger.js';
import { FakeCluster, lifecycleSettings, pod, VirtualClock } from '../support/fakes.js';

const TG = 'arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web/1';

/** Targets that stay registered until `releasedAt` (virtual time), then are gone. */
class FakeLoadBalancers implements LoadBalancerPort {
  calls = 0;
  failures = 0;
  constructor(
    private readonly clock: VirtualClock,
    private readonly releasedAt: number,
    private readonly targets: TargetRegistration[] = [
      { targetGroupArn: TG, id: 'i-0123456789abcdef0', state: 'draining' },
    ],
  ) {}
  async registrations(): Promise<TargetRegistration[]> {
    this.calls++;
    if (this.failures > 0 && this.failures-- > 0) throw new Error('Rate exceeded');
    return this.clock.t >= this.releasedAt ? [] : this.targets;
  }
}

describe('waitForRelease', () => {
  it('waits until the instance left every target group and its volumes detached', async () => {
    const clock = new VirtualClock();
    const start = clock.t;
    const cluster = new FakeCluster(clock, []);
    // the CSI driver detaches the volume 7 s in
    cluster.listVolumeAttachments = async () => (clock.t < start + 7_000 ? ['csi-abc'] : []);
    const loadBalancers = new FakeLoadBalancers(clock, start + 42_000);

    const report = await waitForRelease(
      { loadBalancers, cluster },
      { node: 'node-a', instanceId: 'i-0123456789abcdef0', privateIps: [], until: start + 300_000 },
      { clock, log: memoryLogger([]) },
    );

    expect(report.outcome).toBe('released');
    expect(report.loadBalancers?.seen).toHaveLength(1);
    expect(report.loadBalancers?.left).toEqual([]);
    expect(report.loadBalancers?.waitedMs).toBeGreaterThanOrEqual(42_000);
    expect(report.loadBalancers?.waitedMs).toBeLessThan(42_000 + 5_000 + 1);
    // polled every 5 s, not in a tight loop
    expect(loadBalancers.calls).toBeLessThanOrEqual(11);
    expect(report.volumes).toMatchObject({ seen: ['csi-abc'], left: [] });
    expect(report.volumes?.waitedMs).toBeGreaterThanOrEqual(7_000);
    expect(report.volumes?.waitedMs).toBeLessThan(8_001);
  });

  it('ends at the deadline with what is still attached, and retries failing calls meanwhile', async () => {
    const clock = new VirtualClock();
    const start = clock.t;
    const loadBalancers = new FakeLoadBalancers(clock, Number.POSITIVE_INFINITY);
    loadBalancers.failures = 2;

    const report = await waitForRelease(
      { loadBalancers },
      { node: 'node-a', instanceId: 'i-0123456789abcdef0', privateIps: [], until: start + 60_000 },
      { clock, log: memoryLogger([]) },
    );

    expect(report.outcome).toBe('deadline');
    expect(report.loadBalancers?.left).toHaveLength(1);
    expect(report.loadBalancers?.errors).toEqual(['Rate exceeded', 'Rate exceeded']);
    expect(clock.t).toBe(start + 60_000);
  });
});

class Action {
  readonly completions: LifecycleResult[] = [];
  async heartbeat(): Promise<'recorded'> {
    return 'recorded';
  }
  async state(): Promise<string> {
    return 'Terminating:Wait';
  }
  async complete(result: LifecycleResult): Promise<'completed'> {
    this.completions.push(result);
    return 'completed';
  }
}

function run(overrides: Partial<LifecycleRunSettings>, releasedAt: number) {
  const clock = new VirtualClock();
  const cluster = new FakeCluster(clock, [pod('a')]);
  const action = new Action();
  const loadBalancers = new FakeLoadBalancers(clock, clock.t + releasedAt);
  const continuations: Continuation[] = [];
  const logs: LogEntry[] = [];
  const report = runLifecycleAction(
    lifecycleSettings(clock, { waitForLoadBalancers: true, waitForVolumeDetach: true, ...overrides }),
    {
      cluster,
      lifecycle: action,
      instances: { privateDnsName: async () => 'node-a', privateIps: async () => ['10.0.0.7'] },
      continuation: { continueLater: async (c) => void continuations.push(c) },
      loadBalancers,
    },
    { clock, log: memoryLogger(logs) },
  );
  return { clock, cluster, action, loadBalancers, continuations, report };
}

describe('runLifecycleAction with the release waits', () => {
  it('labels the node out of load balancers and completes only after the targets are gone', async () => {
    const { clock, cluster, action, report } = run({}, 120_000);
    const start = clock.t;

    const result = await report;

    expect(cluster.requests).toContain('cordon node-a exclude-from-lb');
    expect(cluster.events.find((e) => e.reason === 'InstanceReleased')?.message).toMatch(
      /1 load balancer target\(s\), 0 left after 120 s/,
    );
    expect(result.outcome).toBe('drained');
    expect(result.release?.outcome).toBe('released');
    expect(clock.t - start).toBeGreaterThanOrEqual(120_000);
    expect(action.completions).toEqual(['CONTINUE']);
  });

  it('completes per the policy when the deadline comes first, and says what was still registered', async () => {
    const { action, report } = run({ drainTimeoutSeconds: 60, onDrainTimeout: 'continue' }, 600_000);

    const result = await report;

    expect(result.outcome).toBe('deadline-continued');
    expect(result.release?.loadBalancers?.left).toHaveLength(1);
    expect(action.completions).toEqual(['CONTINUE']);
  });

  it('hands the wait over to a new invocation when this one runs out of time', async () => {
    // the invocation hands over at +600 s (lifecycleSettings), long before the 15-minute deadline
    const { continuations, action, report } = run({ drainTimeoutSeconds: 900 }, 700_000);

    const result = await report;

    expect(result.outcome).toBe('continued-in-new-invocation');
    expect(continuations).toHaveLength(1);
    expect(action.completions).toEqual([]);
  });

  it('in a dry run, looks once and reports what it would wait for, without waiting', async () => {
    const { clock, loadBalancers, report } = run({ dryRun: true }, 600_000);
    const start = clock.t;

    const result = await report;

    expect(result.outcome).toBe('dry-run');
    expect(result.release?.loadBalancers?.seen).toHaveLength(1);
    expect(loadBalancers.calls).toBe(1);
    expect(clock.t - start).toBeLessThan(1_000);
  });

  it('waits for nothing with both waits off', async () => {
    const { loadBalancers, report } = run(
      { waitForLoadBalancers: false, waitForVolumeDetach: false },
      600_000,
    );

    const result = await report;

    expect(result.outcome).toBe('drained');
    expect(result.release).toBeUndefined();
    expect(loadBalancers.calls).toBe(0);
  });
});
