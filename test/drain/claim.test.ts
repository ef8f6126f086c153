import { describe, expect, it } from 'vitest';
import { CLAIM_HANDOVER_MS, CLAIM_TTL_MS, NodeClaimKeeper } from '../../lambda/drain/claim.js';
import { DEFAULT_DRAIN_TUNING, type DrainOptions, drainNode } from '../../lambda/drain/drain.js';
import { type LogEntry, memoryLogger } from '../../scripts/harness/memory-logger.js';
import { FakeCluster, pod, VirtualClock } from '../support/fakes.js';

const T0 = 1_700_000_000_000;

function setup() {
  const clock = new VirtualClock(T0);
  const cluster = new FakeCluster(clock, []);
  const keeper = new NodeClaimKeeper(cluster, 'node-a', 'first', clock);
  return { clock, cluster, keeper };
}

describe('NodeClaimKeeper', () => {
  it('claims the node for a minute by default', async () => {
    const { cluster, keeper } = setup();

    const claim = await keeper.claim();

    expect(claim).toEqual({ kind: 'claimed' });
    expect(CLAIM_TTL_MS).toBe(60_000);
    expect(cluster.claims.get('node-a')).toEqual({ holder: 'first', until: T0 + 60_000 });
  });

  it('claims the node for as long as it is asked to, e.g. for the hand-over', async () => {
    const { cluster, keeper } = setup();

    await keeper.claim(CLAIM_HANDOVER_MS);

    expect(CLAIM_HANDOVER_MS).toBe(300_000);
    expect(cluster.claims.get('node-a')?.until).toBe(T0 + 300_000);
  });

  it('reports the other holder of an unexpired claim', async () => {
    const { cluster, keeper } = setup();
    cluster.claims.set('node-a', { holder: 'other', until: T0 + 1 });

    const claim = await keeper.claim();

    expect(claim).toEqual({ kind: 'held', holder: 'other', until: T0 + 1 });
  });

  it('is due for renewal 15 s after its claim, not before', async () => {
    const { clock, keeper } = setup();
    clock.t = T0 + 1_000;

    await keeper.claim();

    expect(keeper.due(T0 + 1_000 + 14_999)).toBe(false);
    expect(keeper.due(T0 + 1_000 + 15_000)).toBe(true);
  });

  it('is due at once before its first claim', () => {
    const { keeper } = setup();

    expect(keeper.due(0)).toBe(true);
  });

  it('tries a failed renewal again after the retry delay', async () => {
    const { keeper } = setup();
    await keeper.claim();

    keeper.retryIn(T0 + 20_000, 5_000);

    expect(keeper.due(T0 + 24_999)).toBe(false);
    expect(keeper.due(T0 + 25_000)).toBe(true);
  });

  it('drops its own claim on release', async () => {
    const { cluster, keeper } = setup();
    await keeper.claim();

    await keeper.release();

    expect(cluster.requests).toEqual(['claim node-a first', 'release node-a first']);
    expect(cluster.claims.has('node-a')).toBe(false);
  });
});

function drainSetup(options: Partial<DrainOptions> = {}, terminationMs = 1_000) {
  const clock = new VirtualClock(T0);
  const cluster = new FakeCluster(clock, [pod('a')], terminationMs);
  const logs: LogEntry[] = [];
  const claims: { at: number; until: number }[] = [];
  const claimNode = cluster.claimNode.bind(cluster);
  cluster.claimNode = (node, claim) => {
    claims.push({ at: claim.now - T0, until: claim.until - T0 });
    return claimNode(node, claim);
  };
  const run = () =>
    drainNode(
      cluster,
      {
        ...DEFAULT_DRAIN_TUNING,
        target: { nodeName: 'node-a' },
        startedAt: T0,
        deadline: T0 + 60_000,
        onDeadline: 'continue',
        dryRun: false,
        claim: { holder: 'first' },
        ...options,
      },
      { clock, log: memoryLogger(logs) },
    );
  return { clock, cluster, claims, logs, run };
}

describe('drainNode and the node claim', () => {
  it('renews its claim for a minute every 15 s while it drains', async () => {
    const { claims, run } = drainSetup({}, 40_000);

    const report = await run();

    expect(report.outcome).toBe('drained');
    expect(claims).toEqual([
      { at: 0, until: 60_000 },
      { at: 15_000, until: 75_000 },
      { at: 30_000, until: 90_000 },
    ]);
  });

  it('stops without releasing when another drain took the node over', async () => {
    const { clock, cluster, logs, run } = drainSetup();
    cluster.evictor = () => ({ kind: 'pdb-blocked', message: 'no' });
    void clock
      .sleep(10_000)
      .then(() => cluster.claims.set('node-a', { holder: 'other', until: T0 + 600_000 }));

    const report = await run();

    expect(report.outcome).toBe('already-draining');
    // at the first renewal due after the takeover
    expect(clock.t - T0).toBeGreaterThanOrEqual(15_000);
    expect(clock.t - T0).toBeLessThan(15_500);
    expect(cluster.count('release')).toBe(0);
    expect(report.blocked).toEqual([]);
    expect(logs).toContainEqual(
      expect.objectContaining({ level: 'error', message: 'another drain took the node over' }),
    );
  });

  it('tries a failed renewal again after the longest backoff, and reports the failure', async () => {
    const { cluster, claims, run } = drainSetup({}, 25_000);
    const claimNode = cluster.claimNode.bind(cluster);
    cluster.claimNode = async (node, claim) => {
      if (claims.length === 1) {
        claims.push({ at: claim.now - T0, until: claim.until - T0 });
        throw new Error('HTTP 409: conflict');
      }
      return claimNode(node, claim);
    };

    const report = await run();

    expect(report.outcome).toBe('drained');
    expect(claims.map((c) => c.at)).toEqual([0, 15_000, 20_000]);
    expect(report.errors).toEqual(['renew claim: HTTP 409: conflict']);
  });

  it('keeps its claim for five minutes for the continuation when it pauses', async () => {
    const { cluster, claims, run } = drainSetup({ pauseAt: T0 + 2_000 });
    cluster.evictor = () => ({ kind: 'pdb-blocked', message: 'no' });

    const report = await run();

    expect(report.outcome).toBe('paused');
    expect(claims.at(-1)).toEqual({ at: 2_000, until: 302_000 });
  });

  it('releases its claim when the deadline policy ends the drain', async () => {
    const { cluster, run } = drainSetup({ deadline: T0 + 2_000, minEvictionWindowMs: 0 });
    cluster.evictor = () => ({ kind: 'pdb-blocked', message: 'no' });

    const report = await run();

    expect(report.outcome).toBe('deadline-continued');
    expect(cluster.count('release node-a first')).toBe(1);
  });

  it('reports a claim it could not release, and still ends drained', async () => {
    const { cluster, run } = drainSetup();
    cluster.releaseNode = async () => {
      throw new Error('HTTP 500');
    };

    const report = await run();

    expect(report.outcome).toBe('drained');
    expect(report.errors).toEqual(['release claim: HTTP 500']);
  });

  it('claims nothing and releases nothing when asked to drain without a claim', async () => {
    const { cluster, claims, run } = drainSetup({ claim: undefined, pauseAt: T0 + 2_000 });
    cluster.evictor = () => ({ kind: 'pdb-blocked', message: 'no' });

    const report = await run();

    expect(report.outcome).toBe('paused');
    expect(claims).toEqual([]);
  });
});
