import { describe, expect, it } from 'vitest';
import { DEFAULT_DRAIN_TUNING, type DrainOptions, drainNode } from '../../lambda/drain/drain.js';
import type { PodSnapshot } from '../../lambda/drain/model.js';
import { memoryLogger } from '../../scripts/harness/memory-logger.js';
import { drainSetup, FakeCluster, pod, VirtualClock } from '../support/fakes.js';

function setup(pods: PodSnapshot[], options: Partial<DrainOptions> = {}, terminationMs = 1_000) {
  return drainSetup((clock) => new FakeCluster(clock, pods, terminationMs), options);
}

describe('drainNode', () => {
  it('cordons first, evicts every pod once and ends drained when the node is empty', async () => {
    const { cluster, run } = setup([
      pod('a'),
      pod('b'),
      pod('ds', { controller: { kind: 'DaemonSet', name: 'x' } }),
    ]);

    const report = await run();

    expect(report.outcome).toBe('drained');
    expect([...report.evicted].sort()).toEqual(['default/a', 'default/b']);
    expect(report.skipped).toEqual([{ pod: 'default/ds', reason: 'daemonset' }]);
    expect(cluster.requests.slice(0, 2)).toEqual(['findNode node-a', 'cordon node-a']);
    expect(cluster.count('evict')).toBe(2);
    expect(cluster.events.map((e) => e.reason)).toEqual(['DrainStarted', 'Drained']);
    expect(report.blocked).toEqual([]);
  });

  it('waits for evicted pods by listing the node, not by reading each pod', async () => {
    const { cluster, run } = setup([pod('a'), pod('b'), pod('c')], {}, 3_000);

    await run();

    // ~3 s of termination at a 500 ms poll: a handful of lists for three pods, nothing per pod
    expect(cluster.count('listPods')).toBeGreaterThanOrEqual(6);
    expect(cluster.count('listPods')).toBeLessThanOrEqual(9);
    expect(cluster.requests.every((r) => /^(findNode|cordon|listPods|evict)/.test(r))).toBe(true);
  });

  it('retries an eviction refused by a PDB with growing backoff', async () => {
    const { clock, cluster, run } = setup([pod('a')]);
    const attempts: number[] = [];
    cluster.evictor = (_, call) => {
      attempts.push(clock.t);
      return call <= 4 ? { kind: 'pdb-blocked', message: 'needs 2 healthy pods' } : { kind: 'evicted' };
    };

    const report = await run();

    expect(report.outcome).toBe('drained');
    expect(report.evictionRefusals).toBe(4);
    const gaps = attempts.slice(1).map((t, i) => t - (attempts[i] ?? 0));
    expect(gaps).toEqual([150, 300, 500, 1_200].map((g) => expect.closeTo(g, -2.5)));
    expect(gaps.every((gap, i) => i === 0 || gap >= (gaps[i - 1] ?? 0))).toBe(true);
  });

  it('holds PDB-refused pods while the PDB allows nothing and releases as many as it then allows', async () => {
    const web = (name: string) => pod(name, { labels: { app: 'web' } });
    const { clock, cluster, run } = setup([web('w1'), web('w2'), web('w3')], {
      deadline: 1_700_000_010_000,
      onDeadline: 'continue',
    });
    // the PDB's status, as the disruption controller keeps it: one disruption at 3 s, one more at 6 s
    let allowed = 0;
    const granted = new Set<number>();
    const status = (): number => {
      for (const at of [3_000, 6_000]) {
        if (clock.t - 1_700_000_000_000 >= at && !granted.has(at)) {
          granted.add(at);
          allowed++;
        }
      }
      return allowed;
    };
    const pdb = {
      namespace: 'default',
      name: 'web',
      selector: { matchLabels: { app: 'web' } },
      currentHealthy: 3,
      desiredHealthy: 3,
    };
    cluster.listPdbs = async () => [{ ...pdb, disruptionsAllowed: status() }];
    const attemptsAt: number[] = [];
    cluster.evictor = () => {
      attemptsAt.push(clock.t - 1_700_000_000_000);
      if (status() === 0) return { kind: 'pdb-blocked', message: 'no', pdbName: 'web' };
      allowed--;
      return { kind: 'evicted' };
    };

    const report = await run();

    expect(report.evicted).toHaveLength(2);
    expect(report.outcome).toBe('deadline-continued');
    // one refused round at the start, then evictions only when the status allows (plus a rare stale-status probe)
    expect(attemptsAt.filter((t) => t < 3_000)).toHaveLength(3);
    expect(report.evictionRefusals).toBeLessThanOrEqual(6);
    // released within one poll of the status changing
    const evictedAt = attemptsAt.filter((t) => t === 3_000 || (t > 3_000 && t <= 3_500));
    expect(evictedAt.length).toBeGreaterThanOrEqual(1);
  });

  it('honours Retry-After on a refused eviction', async () => {
    const { clock, cluster, run } = setup([pod('a')]);
    const attempts: number[] = [];
    cluster.evictor = (_, call) => {
      attempts.push(clock.t);
      return call === 1
        ? { kind: 'pdb-blocked', message: 'later', retryAfterMs: 4_000 }
        : { kind: 'evicted' };
    };

    await run();

    expect((attempts[1] ?? 0) - (attempts[0] ?? 0)).toBeGreaterThanOrEqual(4_000);
  });

  it('retries a refused pod as soon as another pod has left the node', async () => {
    const { clock, cluster, run } = setup(
      [pod('a'), pod('b')],
      { backoff: { initialMs: 4_000, maxMs: 4_000 } },
      600,
    );
    let bAllowedAt = Number.POSITIVE_INFINITY;
    cluster.evictor = (ref) => {
      if (ref.name === 'a') return { kind: 'evicted' };
      if (!cluster.pods.has('uid-a')) {
        bAllowedAt = Math.min(bAllowedAt, clock.t);
        return { kind: 'evicted' };
      }
      return { kind: 'pdb-blocked', message: 'one at a time' };
    };

    const report = await run();

    expect(report.outcome).toBe('drained');
    // a leaves at +600 ms (seen at the 1 s poll); b does not sit out its 2-4 s backoff
    expect(bAllowedAt - 1_700_000_000_000).toBeLessThanOrEqual(1_000);
  });

  it('evicts critical pods only after every ordinary pod is gone', async () => {
    const { clock, cluster, run } = setup(
      [pod('dns', { priorityClassName: 'system-cluster-critical' }), pod('web')],
      {},
      2_000,
    );
    const evictedAt: Record<string, number> = {};
    cluster.evictor = (ref) => {
      evictedAt[ref.name] = clock.t;
      return { kind: 'evicted' };
    };

    await run();

    expect((evictedAt.dns ?? 0) - (evictedAt.web ?? 0)).toBeGreaterThanOrEqual(2_000);
  });

  it('retries a failing list until the cluster answers', async () => {
    const { cluster, run } = setup([pod('a')]);
    cluster.failures.listPods = 3;

    const report = await run();

    expect(report.outcome).toBe('drained');
    expect(report.errors).toEqual(['list pods: HTTP 401: Unauthorized']);
  });

  it('applies the deadline policy when the cluster is unreachable until the deadline', async () => {
    const { cluster, logs, run } = setup([pod('a')], { deadline: 1_700_000_010_000, onDeadline: 'abandon' });
    cluster.failures.findNode = Number.POSITIVE_INFINITY;

    const report = await run();

    expect(report.outcome).toBe('deadline-abandoned');
    expect(report.errors).toEqual(['find node: connect ECONNREFUSED']);
    expect(cluster.count('cordon')).toBe(0);
    expect(
      logs.some((l) => l.level === 'error' && l.message === 'cluster unreachable until the deadline'),
    ).toBe(true);
  });

  it('reports dry-run, not a deadline outcome, when a dry run never reaches the cluster', async () => {
    const { cluster, run } = setup([pod('a')], { deadline: 1_700_000_005_000, dryRun: true });
    cluster.failures.findNode = Number.POSITIVE_INFINITY;

    const report = await run();

    expect(report.outcome).toBe('dry-run');
    expect(report.errors).toEqual(['find node: connect ECONNREFUSED']);
  });

  it('deletes still-blocked pods at the deadline with policy delete and waits for them', async () => {
    const { cluster, run } = setup([pod('a'), pod('b')], { deadline: 1_700_000_005_000 });
    cluster.pdbs = [
      {
        namespace: 'default',
        name: 'a-pdb',
        selector: { matchLabels: { app: 'a' } },
        disruptionsAllowed: 0,
        currentHealthy: 1,
        desiredHealthy: 1,
      },
    ];
    cluster.evictor = (ref) =>
      ref.name === 'a' ? { kind: 'pdb-blocked', message: 'no' } : { kind: 'evicted' };

    const report = await run();

    expect(report.outcome).toBe('deadline-deleted');
    expect(report.evicted).toEqual(['default/b']);
    expect(report.deleted).toEqual(['default/a']);
    expect(report.remaining).toEqual([]);
    expect(report.blocked).toEqual([
      {
        pod: 'default/a',
        reason: 'pdb',
        message: 'no',
        attempts: expect.any(Number),
        pdbs: [{ name: 'a-pdb', disruptionsAllowed: 0 }],
      },
    ]);
    // the node ends empty: the deadline is recorded, then the drain's end
    expect(cluster.events.filter((e) => e.subject === 'node-a').map((e) => e.reason)).toEqual([
      'DrainStarted',
      'DrainDeadlineReached',
      'Drained',
    ]);
    expect(cluster.events.filter((e) => e.subject === 'default/a')).toEqual([
      expect.objectContaining({
        reason: 'EvictionBlocked',
        type: 'Warning',
        count: 1,
        message: 'eviction for node drain blocked: no',
      }),
    ]);
  });

  it('records one aggregated EvictionBlocked event per blocked pod, updated at most every 30 s', async () => {
    const { cluster, run } = setup([pod('a')], { deadline: 1_700_000_100_000, onDeadline: 'continue' });
    cluster.evictor = () => ({ kind: 'pdb-blocked', message: 'needs 2 healthy pods', pdbName: 'a-pdb' });

    await run();

    const blocked = cluster.events.filter((e) => e.reason === 'EvictionBlocked');
    expect(blocked.length).toBeGreaterThanOrEqual(3);
    expect(blocked.length).toBeLessThanOrEqual(4);
    expect(new Set(blocked.map((e) => e.series)).size).toBe(1);
    expect(blocked.map((e) => e.count)).toEqual(
      [...blocked.map((e) => e.count)].sort((x = 0, y = 0) => x - y),
    );
    expect(blocked[0]?.message).toBe(
      'eviction for node drain blocked by PodDisruptionBudget a-pdb: needs 2 healthy pods',
    );
  });

  it('stops with paused at pauseAt and leaves the rest to the next invocation', async () => {
    const { cluster, run } = setup([pod('a')], { pauseAt: 1_700_000_003_000 });
    cluster.evictor = () => ({ kind: 'pdb-blocked', message: 'no' });

    const report = await run();

    expect(report.outcome).toBe('paused');
    expect(report.durationMs).toBeGreaterThanOrEqual(3_000);
    expect(report.durationMs).toBeLessThan(4_000);
    expect(cluster.count('delete')).toBe(0);
  });

  it('reports node-not-found when no node matches', async () => {
    const clock = new VirtualClock();
    const cluster = new FakeCluster(clock, [], 0, null);
    const report = await drainNode(
      cluster,
      {
        target: { instanceId: 'i-1' },
        startedAt: clock.t,
        deadline: clock.t + 1000,
        onDeadline: 'delete',
        dryRun: false,
        ...DEFAULT_DRAIN_TUNING,
      },
      { clock, log: memoryLogger([]) },
    );
    expect(report.outcome).toBe('node-not-found');
    expect(cluster.requests).toEqual(['findNode ']);
  });

  it('plans a dry run with dry-run evictions only: no cordon, no waiting, no events', async () => {
    const { cluster, run } = setup([pod('a'), pod('b')], { dryRun: true });
    cluster.evictor = (ref) =>
      ref.name === 'a' ? { kind: 'pdb-blocked', message: 'no', pdbName: 'a-pdb' } : { kind: 'evicted' };

    const report = await run();

    expect(report.outcome).toBe('dry-run');
    expect(report.evicted).toEqual(['default/b']);
    expect(report.blocked.map((b) => b.pod)).toEqual(['default/a']);
    expect(cluster.requests.filter((r) => !r.startsWith('listPdbs'))).toEqual([
      'findNode node-a',
      'listPods',
      'evict a dry-run',
      'evict b dry-run',
    ]);
    expect(cluster.events).toEqual([]);
  });

  it('keeps draining when recording an event fails', async () => {
    const { cluster, logs, run } = setup([pod('a')]);
    cluster.recordEvent = async () => {
      throw new Error('HTTP 403: events is forbidden');
    };

    const report = await run();

    expect(report.outcome).toBe('drained');
    expect(logs.some((l) => l.message === 'could not record event')).toBe(true);
  });

  it('records how many pods it evicts and skips, and what it did when done', async () => {
    const { cluster, run } = setup([
      pod('a'),
      pod('leaving', { terminating: true }),
      pod('ds', { controller: { kind: 'DaemonSet', name: 'x' } }),
    ]);
    cluster.terminateLater('uid-leaving', 1_000);

    await run();

    expect(cluster.events.map((e) => e.message)).toEqual([
      'evicting 1 pod(s), 1 skipped',
      '1 evicted, 1 skipped, 0 deleted',
    ]);
  });

  it('waits for a pod that is already terminating, without evicting it', async () => {
    const { clock, cluster, run } = setup([pod('a'), pod('leaving', { terminating: true })]);
    cluster.terminateLater('uid-leaving', 4_000);

    const report = await run();

    expect(report.outcome).toBe('drained');
    expect(cluster.count('evict leaving')).toBe(0);
    expect(report.evicted).toEqual(['default/a']);
    expect(clock.t - 1_700_000_000_000).toBeGreaterThanOrEqual(4_000);
  });

  it('stops evicting a refused pod once someone else deleted it, and waits for it to leave', async () => {
    const { clock, cluster, run } = setup([pod('a')]);
    const evictedAt: number[] = [];
    cluster.evictor = () => {
      evictedAt.push(clock.t - 1_700_000_000_000);
      return { kind: 'pdb-blocked', message: 'no' };
    };
    void clock.sleep(1_000).then(() => {
      cluster.pods.set('uid-a', { ...pod('a'), terminating: true });
      cluster.terminateLater('uid-a', 3_000);
    });

    const report = await run();

    expect(report.outcome).toBe('drained');
    expect(evictedAt.every((t) => t <= 1_000)).toBe(true);
    expect(report.evicted).toEqual([]);
  });

  it('does not evict again a pod the API server says is gone while the list still shows it', async () => {
    const { cluster, run } = setup([pod('a')]);
    cluster.evictor = () => {
      cluster.terminateLater('uid-a', 2_000);
      return { kind: 'gone' };
    };

    const report = await run();

    expect(report.outcome).toBe('drained');
    expect(cluster.count('evict a')).toBe(1);
    expect(report.evicted).toEqual([]);
  });

  it('reports the warnings of the pods it evicts', async () => {
    const bare = pod('bare', { usesEmptyDir: true });
    delete (bare as { controller?: unknown }).controller;
    const { run } = setup([bare]);

    const report = await run();

    expect(report.warnings).toEqual([
      { pod: 'default/bare', warning: 'bare-pod' },
      { pod: 'default/bare', warning: 'empty-dir' },
    ]);
  });

  it('reports a failed eviction as an error and counts every request', async () => {
    const { cluster, run } = setup([pod('a')]);
    cluster.evictor = (_, call) =>
      call < 3
        ? { kind: 'failed', message: 'HTTP 500: etcdserver: timeout', status: 500 }
        : { kind: 'evicted' };

    const report = await run();

    expect(report.errors).toEqual(['default/a: HTTP 500: etcdserver: timeout']);
    expect(report.evictionRequests).toBe(3);
    expect(report.evictionRefusals).toBe(0);
  });

  it('reports an eviction that threw, even with something else than an Error', async () => {
    const { cluster, run } = setup([pod('a')]);
    cluster.evictor = (_, call) => {
      if (call === 1) throw 'socket hang up';
      return { kind: 'evicted' };
    };

    const report = await run();

    expect(report.outcome).toBe('drained');
    expect(report.errors).toEqual(['default/a: socket hang up']);
    // a failure, not a refusal: no "eviction blocked" event on the pod
    expect(cluster.events.filter((e) => e.reason === 'EvictionBlocked')).toEqual([]);
  });

  it('names the blocked pod, its attempts and its event series after the drain start', async () => {
    const { cluster, run } = setup([pod('a')], { pauseAt: 1_700_000_001_000 });
    cluster.evictor = () => ({ kind: 'pdb-blocked', message: 'no' });

    const report = await run();

    const attempts = cluster.count('evict a');
    expect(report.blocked).toMatchObject([{ pod: 'default/a', attempts }]);
    expect(report.evictionRequests).toBe(attempts);
    expect(cluster.events.find((e) => e.reason === 'EvictionBlocked')?.series).toBe(
      (1_700_000_000_000).toString(36),
    );
  });

  it('announces the start once, with the pods of the first list that succeeded', async () => {
    const { cluster, run } = setup([pod('a'), pod('b')]);
    cluster.failures.listPods = 2;

    const report = await run();

    expect(report.evicted).toHaveLength(2);
    expect(cluster.events.filter((e) => e.reason === 'DrainStarted')).toEqual([
      expect.objectContaining({ message: 'evicting 2 pod(s), 0 skipped' }),
    ]);
  });

  it('reports no node, nothing blocked and asks for no PDB when no node matches', async () => {
    const clock = new VirtualClock();
    const cluster = new FakeCluster(clock, [], 0, null);

    const report = await drainNode(
      cluster,
      {
        ...DEFAULT_DRAIN_TUNING,
        target: { instanceId: 'i-1' },
        startedAt: clock.t,
        deadline: clock.t + 1000,
        onDeadline: 'delete',
        dryRun: false,
      },
      { clock, log: memoryLogger([]) },
    );

    expect(report).not.toHaveProperty('node');
    expect(report.blocked).toEqual([]);
    expect(cluster.count('listPdbs')).toBe(0);
  });

  it('plans a dry run for the pods to evict only, and leaves nothing remaining', async () => {
    const { cluster, run } = setup([pod('a'), pod('leaving', { terminating: true })], { dryRun: true });

    const report = await run();

    expect(report.outcome).toBe('dry-run');
    expect(report.dryRun).toBe(true);
    expect(report.node).toBe('node-a');
    expect(cluster.count('evict')).toBe(1);
    expect(report.remaining).toEqual([]);
  });

  it('names the call that failed in the errors it reports', async () => {
    const { cluster, run } = setup([pod('a')]);
    let finds = 0;
    const findNode = cluster.findNode.bind(cluster);
    cluster.findNode = async (target) => {
      if (++finds === 1) throw new Error('HTTP 429: too many requests');
      return findNode(target);
    };
    let cordons = 0;
    const cordon = cluster.cordon.bind(cluster);
    cluster.cordon = async (node, options) => {
      if (++cordons === 1) throw new Error('HTTP 403: forbidden');
      return cordon(node, options);
    };

    const report = await run();

    expect(report.outcome).toBe('drained');
    expect(report.errors).toEqual(['find node: HTTP 429: too many requests', 'cordon: HTTP 403: forbidden']);
  });

  it.each(['findNode', 'cordon'] as const)(
    'evicts nothing and applies the policy when %s fails until the deadline',
    async (method) => {
      const { cluster, run } = setup([pod('a')], {
        deadline: 1_700_000_005_000,
        onDeadline: 'abandon',
      });
      cluster[method] = async () => {
        throw new Error('HTTP 503');
      };

      const report = await run();

      expect(report.outcome).toBe('deadline-abandoned');
      expect(cluster.count('evict')).toBe(0);
    },
  );

  it('records only its blocked-eviction events on a blocked pod, addressed to the pod', async () => {
    const { cluster, run } = setup([pod('a')], { pauseAt: 1_700_000_001_000 });
    cluster.evictor = () => ({ kind: 'pdb-blocked', message: 'no' });
    const subjects: string[] = [];
    const recordEvent = cluster.recordEvent.bind(cluster);
    cluster.recordEvent = async (subject, event) => {
      subjects.push(subject.kind);
      return recordEvent(subject, event);
    };

    await run();

    expect(cluster.count('evict a')).toBeGreaterThan(1);
    expect(cluster.events.filter((e) => e.subject === 'default/a').map((e) => e.reason)).toEqual([
      'EvictionBlocked',
    ]);
    expect(subjects).toEqual(['Node', 'Pod']);
  });

  it('reports dry-run when the pods of the node cannot be listed until the deadline', async () => {
    const { cluster, run } = setup([pod('a')], { dryRun: true, deadline: 1_700_000_005_000 });
    cluster.failures.listPods = Number.POSITIVE_INFINITY;

    const report = await run();

    expect(report.outcome).toBe('dry-run');
    expect(report.errors).toEqual(['list pods: HTTP 401: Unauthorized']);
  });

  it('gives up on an unreachable cluster when the next retry would come at the deadline', async () => {
    // the first retry is due 150 ms after the first failure (jitter 0.5): exactly the deadline
    const { cluster, run } = setup([pod('a')], { deadline: 1_700_000_000_150, minEvictionWindowMs: 0 });
    cluster.failures.findNode = Number.POSITIVE_INFINITY;

    const report = await run();

    expect(report.outcome).toBe('deadline-deleted');
    expect(cluster.count('findNode')).toBe(1);
  });

  it('hands over an unreachable cluster when the next retry would come at pauseAt', async () => {
    const { cluster, run } = setup([pod('a')], { pauseAt: 1_700_000_000_150 });
    cluster.failures.findNode = Number.POSITIVE_INFINITY;

    const report = await run();

    expect(report.outcome).toBe('paused');
    expect(cluster.count('findNode')).toBe(1);
  });
});
