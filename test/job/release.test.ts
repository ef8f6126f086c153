import { describe, expect, it } from 'vitest';
import type { Continuation } from '../../lambda/job/continuation.js';
import { type LifecycleRunSettings, runLifecycleAction } from '../../lambda/job/lifecycle.js';
import type {
  InstancePort,
  LifecycleResult,
  LoadBalancerPort,
  TargetRegistration,
} from '../../lambda/job/ports.js';
import { releaseEvent, waitForRelease } from '../../lambda/job/release.js';
import { type LogEntry, memoryLogger } from '../../scripts/harness/memory-logger.js';
import { FakeCluster, lifecycleSettings, pod, VirtualClock } from '../support/fakes.js';
import { MemoryJobStore } from '../support/job-fakes.js';

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

function waitSetup(
  ports: (clock: VirtualClock) => Parameters<typeof waitForRelease>[0],
  more: { until?: number; pauseAt?: number; signal?: AbortSignal } = {},
) {
  const clock = new VirtualClock();
  const start = clock.t;
  const logs: LogEntry[] = [];
  const wait = () =>
    waitForRelease(
      ports(clock),
      {
        node: 'node-a',
        instanceId: 'i-0123456789abcdef0',
        privateIps: ['10.0.0.7'],
        until: start + (more.until ?? 60_000),
        ...(more.pauseAt === undefined ? {} : { pauseAt: start + more.pauseAt }),
        ...(more.signal ? { signal: more.signal } : {}),
      },
      { clock, log: memoryLogger(logs) },
    );
  return { clock, start, logs, wait };
}

describe('waitForRelease, in detail', () => {
  it('is released at once when it waits for nothing', async () => {
    const { clock, start, wait } = waitSetup(() => ({}));

    const report = await wait();

    expect(report).toEqual({ outcome: 'released' });
    expect(clock.t).toBe(start);
  });

  it('asks the load balancers about the instance and its IPs', async () => {
    const asked: unknown[] = [];
    const { wait } = waitSetup(() => ({
      loadBalancers: {
        registrations: async (target) => {
          asked.push(target);
          return [];
        },
      },
    }));

    await wait();

    expect(asked).toEqual([{ instanceId: 'i-0123456789abcdef0', privateIps: ['10.0.0.7'] }]);
  });

  it('lists the volume attachments of the node every second until none is left', async () => {
    const at: number[] = [];
    const { start, wait } = waitSetup((clock) => ({
      cluster: {
        listVolumeAttachments: async (node) => {
          at.push(clock.t - start);
          return node === 'node-a' && clock.t < start + 3_000 ? ['csi-1'] : [];
        },
      },
    }));

    const report = await wait();

    expect(at).toEqual([0, 1_000, 2_000, 3_000]);
    expect(report.volumes).toEqual({ seen: ['csi-1'], left: [], waitedMs: 3_000, errors: [] });
  });

  it('reports what the first look found, though less was left later', async () => {
    const { wait } = waitSetup(
      (clock) => {
        const start = clock.t;
        return {
          cluster: {
            listVolumeAttachments: async () => (clock.t < start + 1_000 ? ['csi-1', 'csi-2'] : ['csi-2']),
          },
        };
      },
      { until: 5_000 },
    );

    const report = await wait();

    expect(report.outcome).toBe('deadline');
    expect(report.volumes).toEqual({
      seen: ['csi-1', 'csi-2'],
      left: ['csi-2'],
      waitedMs: 5_000,
      errors: [],
    });
  });

  it('stops asking about what is already released while it waits for the rest', async () => {
    let loadBalancers: FakeLoadBalancers | undefined;
    const { wait } = waitSetup((clock) => {
      const start = clock.t;
      loadBalancers = new FakeLoadBalancers(clock, start);
      return {
        loadBalancers,
        cluster: { listVolumeAttachments: async () => (clock.t < start + 20_000 ? ['csi-1'] : []) },
      };
    });

    const report = await wait();

    expect(report.outcome).toBe('released');
    expect(loadBalancers?.calls).toBe(1);
    expect(report.loadBalancers?.waitedMs).toBe(0);
    expect(report.volumes?.waitedMs).toBe(20_000);
  });

  it('backs off a failing look exponentially, starts over after a success, and reports at most 10 errors', async () => {
    const at: number[] = [];
    let calls = 0;
    const { start, wait } = waitSetup(
      (clock) => ({
        cluster: {
          listVolumeAttachments: async () => {
            calls++;
            at.push(clock.t - start);
            if (calls === 3 || calls > 15) return ['csi-1'];
            throw new Error(`HTTP 503 #${calls}`);
          },
        },
      }),
      { until: 600_000 },
    );

    const report = await wait();

    // 750 ms, 1.5 s after the first failures (equal jitter at 0.5), the 1 s poll after the success, 750 ms again
    expect(at.slice(0, 5)).toEqual([0, 750, 2_250, 3_250, 4_000]);
    expect(report.volumes?.errors).toHaveLength(10);
    expect(report.volumes?.errors[0]).toBe('HTTP 503 #1');
  });

  it('reports nothing seen when every look failed', async () => {
    const { wait } = waitSetup(
      () => ({
        cluster: {
          listVolumeAttachments: async () => {
            throw new Error('HTTP 403');
          },
        },
      }),
      { until: 3_000 },
    );

    const report = await wait();

    expect(report.outcome).toBe('deadline');
    expect(report.volumes).toMatchObject({ seen: [], left: [], waitedMs: 3_000 });
  });

  it('hands over exactly at pauseAt with what is still attached', async () => {
    const { clock, start, wait } = waitSetup(
      (c) => ({ loadBalancers: new FakeLoadBalancers(c, Number.POSITIVE_INFINITY) }),
      {
        pauseAt: 12_000,
      },
    );

    const report = await wait();

    expect(report.outcome).toBe('paused');
    expect(clock.t - start).toBe(12_000);
    expect(report.loadBalancers?.left).toHaveLength(1);
  });

  it('ends at the deadline before a pause that would come later', async () => {
    const { wait } = waitSetup(
      (c) => ({ loadBalancers: new FakeLoadBalancers(c, Number.POSITIVE_INFINITY) }),
      {
        until: 7_000,
        pauseAt: 7_000,
      },
    );

    expect((await wait()).outcome).toBe('deadline');
  });

  it('stops at once when its signal aborts while it sleeps', async () => {
    const controller = new AbortController();
    const { clock, start, wait } = waitSetup(
      (c) => ({ loadBalancers: new FakeLoadBalancers(c, Number.POSITIVE_INFINITY) }),
      {
        signal: controller.signal,
      },
    );
    void clock.sleep(7_000).then(() => controller.abort());

    const report = await wait();

    expect(report.outcome).toBe('stopped');
    expect(clock.t - start).toBe(7_000);
  });

  it('asks nothing more once its signal aborted, even when a look was due then', async () => {
    const controller = new AbortController();
    let loadBalancers: FakeLoadBalancers | undefined;
    const { clock, wait } = waitSetup(
      (c) => {
        loadBalancers = new FakeLoadBalancers(c, Number.POSITIVE_INFINITY);
        return { loadBalancers };
      },
      { signal: controller.signal },
    );
    // the abort comes at 10 s, when the third look (every 5 s) is due
    void clock.sleep(10_000).then(() => controller.abort());

    const report = await wait();

    expect(report.outcome).toBe('stopped');
    expect(loadBalancers?.calls).toBe(2);
  });

  it('stops at once when its signal aborts during a look', async () => {
    const controller = new AbortController();
    let calls = 0;
    const { wait } = waitSetup(
      () => ({
        loadBalancers: {
          registrations: async () => {
            controller.abort();
            return [];
          },
        },
        cluster: {
          listVolumeAttachments: async () => {
            calls++;
            return [];
          },
        },
      }),
      { signal: controller.signal },
    );

    const report = await wait();

    expect(report.outcome).toBe('stopped');
    expect(calls).toBe(0);
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
      store: new MemoryJobStore(),
      lifecycle: () => action,
      instances: { privateDnsName: async () => 'node-a', privateIps: async () => ['10.0.0.7'] },
      continuation: { continueLater: async (c) => void continuations.push(c) },
      loadBalancers,
    },
    { clock, log: memoryLogger(logs) },
  );
  return { clock, cluster, action, loadBalancers, continuations, logs, report };
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
    const { clock, cluster, loadBalancers, logs, report } = run({ dryRun: true }, 600_000);
    const start = clock.t;

    const result = await report;

    // the label is reported, not set: a dry run changes nothing
    expect(cluster.count('cordon')).toBe(0);
    expect(logs.find((l) => l.message === 'dry run planned')?.data).toMatchObject({
      wouldExcludeFromLoadBalancers: true,
    });
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

/** runLifecycleAction with the release waits, after `prepare` set the fakes up. */
function prepared(
  overrides: Partial<LifecycleRunSettings>,
  prepare: (fakes: {
    clock: VirtualClock;
    cluster: FakeCluster;
    instances: InstancePort;
    loadBalancers: FakeLoadBalancers;
  }) => void = () => {},
  releasedAt = 30_000,
) {
  const clock = new VirtualClock();
  const cluster = new FakeCluster(clock, [pod('a')]);
  const action = new Action();
  const loadBalancers = new FakeLoadBalancers(clock, clock.t + releasedAt);
  const asked: unknown[] = [];
  const registrations = loadBalancers.registrations.bind(loadBalancers);
  loadBalancers.registrations = async (target?: unknown) => {
    asked.push(target);
    return registrations();
  };
  const instances: InstancePort = {
    privateDnsName: async () => 'node-a',
    privateIps: async () => ['10.0.0.7'],
  };
  const continuations: Continuation[] = [];
  const logs: LogEntry[] = [];
  prepare({ clock, cluster, instances, loadBalancers });
  const run = () =>
    runLifecycleAction(
      lifecycleSettings(clock, { waitForLoadBalancers: true, waitForVolumeDetach: true, ...overrides }),
      {
        cluster,
        store: new MemoryJobStore(),
        lifecycle: () => action,
        instances,
        continuation: { continueLater: async (c) => void continuations.push(c) },
        loadBalancers,
      },
      { clock, log: memoryLogger(logs) },
    );
  return { clock, cluster, action, asked, loadBalancers, continuations, logs, run };
}

describe('runLifecycleAction, when it waits for the release', () => {
  it('gives the waits the eviction window after a late start, instead of one look past the deadline', async () => {
    // the action began an hour ago: its 15-minute deadline is long past when the drain ends
    const { clock, loadBalancers, run } = prepared(
      { startedAt: 1_700_000_000_000 - 3_600_000, minEvictionWindowSeconds: 60 },
      () => {},
      40_000,
    );
    const start = clock.t;

    const report = await run();

    expect(report.outcome).toBe('drained');
    expect(report.release?.outcome).toBe('released');
    expect(clock.t - start).toBeGreaterThanOrEqual(40_000);
    expect(loadBalancers.calls).toBeGreaterThan(1);
  });

  it('ends the waits one window after a late start when the targets stay', async () => {
    const { clock, run } = prepared(
      { startedAt: 1_700_000_000_000 - 3_600_000, minEvictionWindowSeconds: 60 },
      () => {},
      Number.POSITIVE_INFINITY,
    );
    const start = clock.t;

    const report = await run();

    // the pod was gone after 1 s; the targets stayed through the window that followed
    expect(report.drain?.outcome).toBe('drained');
    expect(report.outcome).toBe('deadline-continued');
    expect(report.release?.outcome).toBe('deadline');
    expect(clock.t - start).toBeGreaterThanOrEqual(61_000);
    expect(clock.t - start).toBeLessThan(62_000);
  });

  it('does not wait for the IP targets of the pods that stay on the node (a DaemonSet ingress)', async () => {
    const stays = pod('ingress', { controller: { kind: 'DaemonSet', name: 'ingress' }, ip: '10.0.0.9' });
    const { clock, action, run } = prepared({}, ({ clock: c, cluster, loadBalancers }) => {
      cluster.pods.set(stays.uid, stays);
      const instanceTarget = { targetGroupArn: TG, id: 'i-0123456789abcdef0', state: 'draining' };
      const podTarget = { targetGroupArn: TG, id: '10.0.0.9', port: 443, state: 'healthy' };
      loadBalancers.registrations = async () =>
        c.t < 1_700_000_030_000 ? [instanceTarget, podTarget] : [podTarget];
    });
    const start = clock.t;

    const report = await run();

    expect(report.outcome).toBe('drained');
    expect(report.release?.outcome).toBe('released');
    expect(clock.t - start).toBeLessThan(40_000);
    expect(action.completions).toEqual(['CONTINUE']);
  });

  it('asks the load balancers about the instance and all its IPs', async () => {
    const { asked, run } = prepared({});

    await run();

    expect(asked[0]).toEqual({ instanceId: 'i-0123456789abcdef0', privateIps: ['10.0.0.7'] });
  });

  it('checks instance targets alone when the instance has no IP lookup', async () => {
    const { asked, run } = prepared({}, ({ instances }) => {
      delete instances.privateIps;
    });

    await run();

    expect(asked[0]).toEqual({ instanceId: 'i-0123456789abcdef0', privateIps: [] });
  });

  it('checks instance targets alone, and says so, when the IP lookup fails', async () => {
    const { asked, logs, run } = prepared({}, ({ instances }) => {
      instances.privateIps = async () => {
        throw new Error('UnauthorizedOperation');
      };
    });

    const report = await run();

    expect(report.outcome).toBe('drained');
    expect(asked[0]).toEqual({ instanceId: 'i-0123456789abcdef0', privateIps: [] });
    expect(logs).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        message: 'instance IP lookup failed; ip-mode targets are not checked',
      }),
    );
  });

  it('waits for the release after the deadline policy deleted the blocked pods', async () => {
    const { loadBalancers, run } = prepared(
      { drainTimeoutSeconds: 5, minEvictionWindowSeconds: 1 },
      ({ cluster }) => {
        cluster.evictor = () => ({ kind: 'pdb-blocked', message: 'no' });
      },
    );

    const report = await run();

    expect(report.drain?.outcome).toBe('deadline-deleted');
    expect(loadBalancers.calls).toBeGreaterThan(0);
  });

  it('does not wait while pods are still on the node', async () => {
    const { loadBalancers, run } = prepared(
      { drainTimeoutSeconds: 5, minEvictionWindowSeconds: 1, onDrainTimeout: 'continue' },
      ({ cluster }) => {
        cluster.evictor = () => ({ kind: 'pdb-blocked', message: 'no' });
      },
    );

    const report = await run();

    expect(report.outcome).toBe('deadline-continued');
    expect(report.release).toBeUndefined();
    expect(loadBalancers.calls).toBe(0);
  });

  it('does not wait when the node could not even be cordoned before the deadline', async () => {
    const { loadBalancers, run } = prepared(
      { drainTimeoutSeconds: 5, minEvictionWindowSeconds: 1, onDrainTimeout: 'continue' },
      ({ cluster }) => {
        cluster.cordon = async () => {
          throw new Error('HTTP 403');
        };
      },
    );

    const report = await run();

    expect(report.outcome).toBe('deadline-continued');
    expect(report.drain?.remaining).toEqual([]);
    expect(loadBalancers.calls).toBe(0);
  });

  it('does not wait when the deleted pods are still on the node at the end of the policy phase', async () => {
    const { loadBalancers, run } = prepared(
      { drainTimeoutSeconds: 5, minEvictionWindowSeconds: 1 },
      ({ cluster }) => {
        cluster.evictor = () => ({ kind: 'pdb-blocked', message: 'no' });
        cluster.deletePod = async () => {
          throw new Error('HTTP 500');
        };
      },
    );

    const report = await run();

    expect(report.outcome).toBe('deadline-deleted');
    expect(report.drain?.remaining).toEqual(['default/a']);
    expect(loadBalancers.calls).toBe(0);
  });

  it('does not wait when no node matches', async () => {
    const { loadBalancers, run } = prepared({}, ({ cluster }) => {
      (cluster as { nodeName: string | null }).nodeName = null;
    });

    const report = await run();

    expect(report.outcome).toBe('node-not-found');
    expect(loadBalancers.calls).toBe(0);
  });

  it('waits for the volumes alone when the load balancer wait is off', async () => {
    const { cluster, loadBalancers, run } = prepared({ waitForLoadBalancers: false });

    const report = await run();

    expect(loadBalancers.calls).toBe(0);
    expect(cluster.count('listVolumeAttachments')).toBeGreaterThan(0);
    expect(report.release).toEqual(expect.objectContaining({ outcome: 'released' }));
    expect(report.release).not.toHaveProperty('loadBalancers');
  });

  it('waits for the load balancers alone when the volume wait is off', async () => {
    const { cluster, loadBalancers, run } = prepared({ waitForVolumeDetach: false });

    await run();

    expect(loadBalancers.calls).toBeGreaterThan(0);
    expect(cluster.count('listVolumeAttachments')).toBe(0);
  });

  it('completes ABANDON with policy abandon when the instance is still a target at the deadline', async () => {
    const { action, run } = prepared(
      { drainTimeoutSeconds: 60, onDrainTimeout: 'abandon' },
      () => {},
      600_000,
    );

    const report = await run();

    expect(report.outcome).toBe('deadline-abandoned');
    expect(action.completions).toEqual(['ABANDON']);
  });

  it('completes per the policy when a volume is still attached at the deadline', async () => {
    const { action, run } = prepared(
      { drainTimeoutSeconds: 60, onDrainTimeout: 'continue' },
      ({ cluster }) => {
        cluster.attachments.push('csi-1');
      },
      0,
    );

    const report = await run();

    expect(report.outcome).toBe('deadline-continued');
    expect(action.completions).toEqual(['CONTINUE']);
  });

  it('completes per the policy when a volume is still attached at the deadline, waiting for no load balancer', async () => {
    const { action, run } = prepared(
      { drainTimeoutSeconds: 60, onDrainTimeout: 'abandon', waitForLoadBalancers: false },
      ({ cluster }) => {
        cluster.attachments.push('csi-1');
      },
    );

    const report = await run();

    expect(report.outcome).toBe('deadline-abandoned');
    expect(action.completions).toEqual(['ABANDON']);
  });

  it('completes per the policy when still a target at the deadline, waiting for no volume', async () => {
    const { action, run } = prepared(
      { drainTimeoutSeconds: 60, onDrainTimeout: 'abandon', waitForVolumeDetach: false },
      () => {},
      600_000,
    );

    const report = await run();

    expect(report.outcome).toBe('deadline-abandoned');
    expect(action.completions).toEqual(['ABANDON']);
  });

  it('ends drained when nothing was known to be attached at the deadline', async () => {
    const { action, run } = prepared(
      { drainTimeoutSeconds: 60, onDrainTimeout: 'abandon' },
      ({ loadBalancers }) => {
        loadBalancers.failures = Number.POSITIVE_INFINITY;
      },
    );

    const report = await run();

    expect(report.release?.outcome).toBe('deadline');
    expect(report.outcome).toBe('drained');
    expect(action.completions).toEqual(['CONTINUE']);
  });

  it('records on the node what the wait found', async () => {
    const { cluster, run } = prepared({});

    await run();

    expect(cluster.events.find((e) => e.reason === 'InstanceReleased')).toEqual({
      reason: 'InstanceReleased',
      type: 'Normal',
      message: '1 load balancer target(s), 0 left after 30 s; 0 volume attachment(s), 0 left after 0 s',
      subject: 'node-a',
    });
  });

  it('keeps going, and says so, when the release event cannot be recorded', async () => {
    const { action, logs, run } = prepared({}, ({ cluster }) => {
      const recordEvent = cluster.recordEvent.bind(cluster);
      cluster.recordEvent = async (subject, event) => {
        if (event.reason.startsWith('InstanceRelease')) throw new Error('HTTP 403');
        return recordEvent(subject, event);
      };
    });

    const report = await run();

    expect(report.outcome).toBe('drained');
    expect(action.completions).toEqual(['CONTINUE']);
    expect(logs).toContainEqual({
      level: 'warn',
      message: 'could not record event',
      data: { error: 'HTTP 403' },
    });
  });

  it('records no release event in a dry run', async () => {
    const { cluster, run } = prepared({ dryRun: true });

    await run();

    expect(cluster.events.filter((e) => e.reason.startsWith('InstanceRelease'))).toEqual([]);
  });

  it('hands over, recording no release event, when its pause signal aborts during the wait', async () => {
    const pause = new AbortController();
    const { cluster, continuations, run } = prepared({ pauseSignal: pause.signal }, ({ clock }) => {
      void clock.sleep(10_000).then(() => pause.abort());
    });

    const report = await run();

    expect(report.outcome).toBe('continued-in-new-invocation');
    expect(report.release?.outcome).toBe('stopped');
    expect(continuations).toHaveLength(1);
    expect(cluster.events.filter((e) => e.reason.startsWith('InstanceRelease'))).toEqual([]);
  });
});

describe('releaseEvent', () => {
  const target = { targetGroupArn: 'arn:tg', id: 'i-1', state: 'draining' };

  it('says what the waits saw and how long they took, rounded to seconds', () => {
    const event = releaseEvent({
      outcome: 'released',
      loadBalancers: { seen: [target, target], left: [], waitedMs: 41_600, errors: [] },
      volumes: { seen: ['csi-1'], left: [], waitedMs: 7_400, errors: [] },
    });

    expect(event).toEqual({
      reason: 'InstanceReleased',
      type: 'Normal',
      message: '2 load balancer target(s), 0 left after 42 s; 1 volume attachment(s), 0 left after 7 s',
    });
  });

  it('warns that the release is incomplete when the wait ended otherwise', () => {
    const event = releaseEvent({
      outcome: 'deadline',
      volumes: { seen: ['csi-1', 'csi-2'], left: ['csi-2'], waitedMs: 60_000, errors: [] },
    });

    expect(event).toEqual({
      reason: 'InstanceReleaseIncomplete',
      type: 'Warning',
      message: '2 volume attachment(s), 1 left after 60 s',
    });
  });

  it('says only what it waited for', () => {
    const event = releaseEvent({
      outcome: 'paused',
      loadBalancers: { seen: [target], left: [target], waitedMs: 500, errors: [] },
    });

    expect(event.message).toBe('1 load balancer target(s), 1 left after 1 s');
  });
});
