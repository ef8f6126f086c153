/**
 * "Gone" means gone: a pod missing from a read counts as gone only if the read is at least as new as
 * the newest state the drain has seen (drain/fresh.ts), and a pod that shows up again is tracked
 * again. Through the handler and a real server, with a proxy replaying an older answer: test/e2e/stale-list.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { newest, olderThan } from '../../lambda/drain/fresh.js';
import type { PodList, ReadOptions } from '../../lambda/drain/ports.js';
import { drainSetup, FakeCluster, pod, WatchedCluster } from '../support/fakes.js';

describe('olderThan', () => {
  it('orders etcd revisions as numbers, not as text', () => {
    expect(olderThan('99', '100')).toBe(true);
    expect(olderThan('100', '99')).toBe(false);
    expect(olderThan('100', '100')).toBe(false);
    expect(olderThan('123456789012345678901', '123456789012345678902')).toBe(true);
    expect(olderThan('209', '210')).toBe(true);
    expect(olderThan('210', '209')).toBe(false);
    // with leading zeros (no etcd writes them) still as numbers
    expect(olderThan('0099', '100')).toBe(true);
    expect(olderThan('100', '0099')).toBe(false);
    expect(olderThan('0', '1')).toBe(true);
  });

  it('cannot order what is not a decimal revision, nor an unknown one: trusted to the server', () => {
    expect(olderThan('abc', '100')).toBe(false);
    expect(olderThan(undefined, '100')).toBe(false);
    expect(olderThan('99', undefined)).toBe(false);
  });
});

describe('newest', () => {
  it('keeps the newer of two revisions, and the known one of a pair with a gap', () => {
    expect(newest('99', '100')).toBe('100');
    expect(newest('100', '99')).toBe('100');
    expect(newest(undefined, '7')).toBe('7');
    expect(newest('7', undefined)).toBe('7');
  });
});

/** A cluster whose n-th list answers with a list the test made up (a lagging server, a replaying cache). */
class LaggingCluster extends FakeCluster {
  readonly replay = new Map<number, PodList>();
  private calls = 0;

  override async listPods(node: string, options: ReadOptions = {}): Promise<PodList> {
    const list = await super.listPods(node, options);
    return this.replay.get(++this.calls) ?? list;
  }
}

describe('drainNode and reads older than the newest seen', () => {
  it('lists first from the cache as it is, then each time at least as new as the newest list seen', async () => {
    const { cluster, run } = drainSetup((clock) => new FakeCluster(clock, [pod('a')]));

    await run();

    expect(cluster.notOlderThan[0]).toBeUndefined();
    expect(cluster.notOlderThan[1]).toBe('100');
    expect(cluster.notOlderThan.slice(1).every((v) => v !== undefined && Number(v) >= 100)).toBe(true);
  });

  it('does not count a pod gone that a list older than one already seen lacks, and says so', async () => {
    const { cluster, logs, run } = drainSetup((clock) => new LaggingCluster(clock, [pod('a'), pod('b')]));
    // the second list comes from before b was bound to the node
    cluster.replay.set(2, { pods: [pod('a')], resourceVersion: '90' });

    const report = await run();

    expect(report.outcome).toBe('drained');
    expect(cluster.count('evict b')).toBe(1);
    expect(report.invocation.staleReads).toBe(1);
    expect(logs.some((l) => l.message === 'pod list older than a read already seen: not trusted')).toBe(true);
  });

  it('tracks a pod again that a read it could not order lacked, and evicts it', async () => {
    const { clock, cluster, logs, run } = drainSetup(
      (clock) => new LaggingCluster(clock, [pod('a'), pod('b')], 5_000),
    );
    cluster.evictor = (ref) =>
      ref.name === 'b' ? { kind: 'pdb-blocked', message: 'no' } : { kind: 'evicted' };
    // a list without a version that can be ordered, and without b: b looks gone
    cluster.replay.set(2, { pods: [pod('a')], resourceVersion: 'opaque' });
    void clock.sleep(2_000).then(() => {
      cluster.evictor = () => ({ kind: 'evicted' });
    });

    const report = await run();

    expect(report.outcome).toBe('drained');
    expect(cluster.count('evict b')).toBeGreaterThan(1);
    expect(cluster.pods.size).toBe(0);
    expect(logs.some((l) => l.message === 'pod seen again after it was gone: tracked again')).toBe(true);
  });

  it('never evicts a pod twice that came back into view after its eviction', async () => {
    const { cluster, run } = drainSetup((clock) => new LaggingCluster(clock, [pod('a'), pod('b')], 5_000));
    // after both evictions: a read without b, then one with b as it was before its eviction
    cluster.replay.set(2, { pods: [pod('a', { terminating: true })], resourceVersion: 'opaque' });
    cluster.replay.set(3, { pods: [pod('a', { terminating: true }), pod('b')], resourceVersion: 'opaque' });

    const report = await run();

    expect(report.outcome).toBe('drained');
    expect(cluster.count('evict b')).toBe(1);
    expect(cluster.count('evict a')).toBe(1);
  });

  it("does not trust the watches' view when it shows a state older than one already seen (a relist answered from it), warned once", async () => {
    const { clock, cluster, logs, run } = drainSetup(
      (clock) => new WatchedCluster(clock, [pod('a'), pod('b')]),
    );
    cluster.evictor = (ref) =>
      ref.name === 'b' ? { kind: 'pdb-blocked', message: 'no' } : { kind: 'evicted' };
    // 0.5 s in, the view shows the node from before its pods were bound to it, at an older version
    void clock.sleep(500).then(() => {
      cluster.staleView = { version: '90', pods: [] };
      cluster.change();
    });
    // on its way back (events replayed from the older relist) the view passes another older version
    void clock.sleep(1_500).then(() => {
      cluster.staleView = { version: '95', pods: [] };
      cluster.change();
    });
    void clock.sleep(3_000).then(() => {
      cluster.staleView = undefined;
      cluster.evictor = () => ({ kind: 'evicted' });
      cluster.change();
    });

    const report = await run();

    expect(report.outcome).toBe('drained');
    expect(cluster.pods.size).toBe(0);
    expect(report.durationMs).toBeGreaterThanOrEqual(3_000);
    expect(report.invocation.staleReads).toBe(1);
    expect(
      logs.filter((l) => l.message === 'watched pods older than a read already seen: not trusted'),
    ).toHaveLength(1);
  });
});
