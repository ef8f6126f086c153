import { describe, expect, it } from 'vitest';
import { awaitAdoption, LeaseKeeper, openJob } from '../../lambda/job/lease.js';
import {
  finish,
  HANDOVER_MS,
  handOver,
  type JobRecord,
  type JobRequest,
  jobLimits,
  joinState,
  LEASE_MS,
  letGo,
  MAX_REQUESTS,
  open,
  REQUEST_MAX_AGE_MS,
  renew,
} from '../../lambda/job/record.js';
import { memoryLogger } from '../../scripts/harness/memory-logger.js';
import { VirtualClock } from '../support/fakes.js';
import { MemoryJobStore } from '../support/job-fakes.js';

const NOW = 1_700_000_000_000;
const BEFORE = { unschedulable: false, excludedFromLoadBalancers: false };

function request(id: string, extra: Partial<JobRequest> = {}): JobRequest {
  return {
    id,
    kind: 'termination',
    instanceId: 'i-1',
    startedAt: NOW - 1_000,
    deadline: NOW + 900_000,
    policy: 'delete',
    ...extra,
  };
}

function record(extra: Partial<JobRecord> = {}): JobRecord {
  return {
    chain: 'first',
    holder: 'first',
    until: NOW + LEASE_MS,
    before: BEFORE,
    requests: [request('termination:t1', { adopted: true })],
    ...extra,
  };
}

const me = (holder: string, req: JobRequest, chain = holder) => ({ holder, chain, request: req, now: NOW });

describe('open', () => {
  it('takes the lease of a node without a record, with how the node is now and its request adopted', () => {
    const opening = open(
      undefined,
      { unschedulable: true, excludedFromLoadBalancers: false },
      me('a', request('r')),
    );

    expect(opening).toEqual({
      role: 'holder',
      record: {
        chain: 'a',
        holder: 'a',
        until: NOW + LEASE_MS,
        before: { unschedulable: true, excludedFromLoadBalancers: false },
        requests: [{ ...request('r'), adopted: true }],
      },
    });
  });

  it("joins a live holder's job: its request waits in the record, not adopted", () => {
    const opening = open(record(), BEFORE, me('second', request('spot:i-1', { kind: 'spot' })));

    expect(opening.role).toBe('joined');
    expect(opening).toMatchObject({ holder: 'first' });
    expect(opening.record?.holder).toBe('first');
    expect(opening.record?.requests.map((r) => [r.id, r.adopted])).toEqual([
      ['termination:t1', true],
      ['spot:i-1', false],
    ]);
  });

  it('joins without writing anything when its request is already in the record (a duplicate)', () => {
    const opening = open(record(), BEFORE, me('second', request('termination:t1')));

    expect(opening).toEqual({ role: 'joined', holder: 'first' });
  });

  it('takes over an expired lease with the requests in it and how the node was before', () => {
    const old = record({ until: NOW, before: { unschedulable: false, excludedFromLoadBalancers: true } });

    const opening = open(
      old,
      { unschedulable: true, excludedFromLoadBalancers: true },
      me('b', request('r2')),
    );

    expect(opening.role).toBe('holder');
    expect(opening).toMatchObject({ tookOver: 'first' });
    expect(opening.record?.before).toEqual({ unschedulable: false, excludedFromLoadBalancers: true });
    expect(opening.record?.requests.map((r) => [r.id, r.adopted])).toEqual([
      ['termination:t1', true],
      ['r2', true],
    ]);
  });

  it('drops the requests of an expired record older than a lifecycle action may live', () => {
    const old = record({
      until: NOW - 1,
      requests: [request('old', { startedAt: NOW - REQUEST_MAX_AGE_MS })],
    });

    const opening = open(old, BEFORE, me('b', request('r2')));

    expect(opening.record?.requests.map((r) => r.id)).toEqual(['r2']);
  });

  it('lets the next invocation of the chain take over a lease handed over to it', () => {
    const paused = handOver(record(), NOW - 1_000);

    const opening = open(paused, BEFORE, me('first-2', request('termination:t1'), 'first'));

    expect(opening.role).toBe('holder');
    expect(opening).not.toHaveProperty('tookOver');
    expect(opening.record).toMatchObject({ chain: 'first', holder: 'first-2' });
    expect(opening.record).not.toHaveProperty('handedOver');
  });

  it('makes a second delivery of the same continuation join the first', () => {
    const resumed = record({ holder: 'first-2' });

    const opening = open(resumed, BEFORE, me('first-2-again', request('termination:t1'), 'first'));

    expect(opening).toEqual({ role: 'joined', holder: 'first-2' });
  });

  it('lets the same invocation take its own lease again (a retry with the same request id)', () => {
    expect(open(record(), BEFORE, me('first', request('termination:t1'))).role).toBe('holder');
  });

  it(`keeps at most ${MAX_REQUESTS} requests, the newest`, () => {
    const many = record({ requests: Array.from({ length: MAX_REQUESTS }, (_, i) => request(`r${i}`)) });

    const opening = open(many, BEFORE, me('second', request('last')));

    expect(opening.record?.requests).toHaveLength(MAX_REQUESTS);
    expect(opening.record?.requests.at(-1)?.id).toBe('last');
    expect(opening.record?.requests[0]?.id).toBe('r1');
  });
});

describe('jobLimits', () => {
  const termination = request('t', { deadline: NOW + 900_000, startedAt: NOW - 5_000 });
  const spot = request('s', {
    kind: 'spot',
    deadline: NOW + 105_000,
    hardEnd: NOW + 120_000,
    startedAt: NOW,
  });
  const rebalance = request('r', {
    kind: 'rebalance',
    deadline: NOW + 600_000,
    policy: 'continue',
    startedAt: NOW - 60_000,
  });

  it('tightens the deadline to a Spot warning that joins, with its hard end; never loosens it', () => {
    expect(jobLimits([termination, spot])).toEqual({
      startedAt: NOW - 5_000,
      deadline: NOW + 105_000,
      policy: 'delete',
      hardEnd: NOW + 120_000,
    });
    expect(jobLimits([spot, termination]).deadline).toBe(NOW + 105_000);
  });

  it('bounds a rebalance drain by its own deadline and policy continue while nothing certain joined', () => {
    expect(jobLimits([rebalance])).toEqual({
      startedAt: NOW - 60_000,
      deadline: NOW + 600_000,
      policy: 'continue',
    });
  });

  it("gives a rebalance drain the termination's terms once the termination joins, though later", () => {
    expect(jobLimits([rebalance, termination])).toEqual({
      startedAt: NOW - 60_000,
      deadline: NOW + 900_000,
      policy: 'delete',
    });
  });
});

describe('renew', () => {
  it('renews the lease, adopts the requests that joined, and ends a hand-over', () => {
    const current = handOver(record({ requests: [request('a', { adopted: true }), request('b')] }), NOW);

    const renewal = renew(current, record(), NOW + 10_000);

    expect(renewal.kind).toBe('renewed');
    if (renewal.kind !== 'renewed') return;
    expect(renewal.adopted.map((r) => r.id)).toEqual(['b']);
    expect(renewal.record.until).toBe(NOW + 10_000 + LEASE_MS);
    expect(renewal.record.requests.every((r) => r.adopted)).toBe(true);
    expect(renewal.record).not.toHaveProperty('handedOver');
  });

  it('reports the job lost to the invocation that holds it now', () => {
    expect(renew(record({ holder: 'other' }), record(), NOW)).toEqual({ kind: 'lost', holder: 'other' });
  });

  it('writes a record that vanished again from what the holder knows', () => {
    const renewal = renew(undefined, record(), NOW + 1);

    expect(renewal).toMatchObject({
      kind: 'renewed',
      record: { holder: 'first', until: NOW + 1 + LEASE_MS },
    });
  });
});

describe('handOver and letGo', () => {
  it('keeps the lease five minutes for the continuation', () => {
    expect(handOver(record(), NOW)).toMatchObject({ until: NOW + HANDOVER_MS, handedOver: true });
  });

  it('lets the lease run out now, keeping the requests for whoever comes next', () => {
    const gone = letGo(handOver(record(), NOW), NOW + 5);

    expect(gone.until).toBe(NOW + 5);
    expect(gone).not.toHaveProperty('handedOver');
    expect(gone.requests).toHaveLength(1);
  });
});

describe('finish', () => {
  it('releases once every request in the record was answered', () => {
    expect(finish(record(), 'first', new Set(['termination:t1']))).toEqual({ kind: 'release' });
    expect(finish(undefined, 'first', new Set())).toEqual({ kind: 'release' });
  });

  it('hands back the requests not answered yet, those that joined at the end included', () => {
    const late = record({ requests: [request('termination:t1'), request('spot:i-1')] });

    expect(finish(late, 'first', new Set(['termination:t1']))).toEqual({
      kind: 'more',
      requests: [request('spot:i-1')],
    });
  });

  it('reports the job lost when another invocation holds it', () => {
    expect(finish(record({ holder: 'x' }), 'first', new Set())).toEqual({ kind: 'lost', holder: 'x' });
  });
});

describe('joinState', () => {
  const joined = record({ requests: [request('mine')] });

  it('waits while the request is not adopted, and says when it is', () => {
    expect(joinState(joined, 'mine', NOW)).toBe('waiting');
    expect(joinState(record({ requests: [request('mine', { adopted: true })] }), 'mine', NOW)).toBe(
      'adopted',
    );
  });

  it('is released when the record is gone, or no longer has the request', () => {
    expect(joinState(undefined, 'mine', NOW)).toBe('released');
    expect(joinState(record(), 'mine', NOW)).toBe('released');
  });

  it('says when the lease ran out', () => {
    expect(joinState(joined, 'mine', NOW + LEASE_MS)).toBe('expired');
  });
});

describe('the record on a store with compare-and-swap', () => {
  const log = memoryLogger([]);

  it('lets one of two invocations that open at once hold the job; the other joins', async () => {
    const store = new MemoryJobStore();
    // the second reads the same version as the first, then loses the write
    let first = true;
    store.beforeWrite = () => {
      if (!first) return;
      first = false;
      store.put('node-a', record({ holder: 'rival', chain: 'rival', requests: [request('rival')] }));
    };

    const opened = await openJob(store, 'node-a', me('a', request('mine')));

    expect(store.conflicts).toBe(1);
    expect(opened).toEqual({ role: 'joined', holder: 'rival' });
    expect(store.record('node-a')?.requests.map((r) => r.id)).toEqual(['rival', 'mine']);
  });

  it('renews only when due, and at once when a request joined', async () => {
    const store = new MemoryJobStore();
    const opened = await openJob(store, 'node-a', me('a', request('mine')));
    if (opened.role !== 'holder') throw new Error('expected to hold');
    const keeper = opened.keeper;
    const writes = store.writes.length;

    expect(await keeper.keep(NOW + 20_000)).toEqual({ adopted: [] });
    expect(store.writes.length).toBe(writes + 1);
    expect(await keeper.keep(NOW + 25_000)).toEqual({ adopted: [] });
    expect(store.writes.length).toBe(writes + 1);
    const current = store.record('node-a');
    if (current) store.put('node-a', { ...current, requests: [...current.requests, request('joiner')] });
    const kept = await keeper.keep(NOW + 26_000);

    expect(kept).toEqual({ adopted: [request('joiner')] });
    expect(store.record('node-a')?.requests.every((r) => r.adopted)).toBe(true);
  });

  it('answers a request that joined as the holder ended, before removing the record', async () => {
    const store = new MemoryJobStore();
    const opened = await openJob(store, 'node-a', me('a', request('mine')));
    if (opened.role !== 'holder') throw new Error('expected to hold');
    const answered: string[][] = [];
    let joined = false;

    const finished = await opened.keeper.finish(
      async (requests) => {
        answered.push(requests.map((r) => r.id));
        if (joined) return;
        joined = true;
        const current = store.record('node-a');
        if (current) store.put('node-a', { ...current, requests: [...current.requests, request('late')] });
      },
      () => undefined,
    );

    expect(finished).toBe('released');
    expect(answered).toEqual([['mine'], ['late']]);
    expect(store.record('node-a')).toBeUndefined();
  });

  it('writes the warm-pool mark with the removal of the record', async () => {
    const store = new MemoryJobStore();
    const keeper = new LeaseKeeper(store, 'node-a', record());
    store.put('node-a', record());
    const mark = { instanceId: 'i-1', at: NOW, wasUnschedulable: false, hadExcludeLabel: false };

    await keeper.finish(
      async () => {},
      () => mark,
    );

    expect(store.mark('node-a')).toEqual(mark);
    expect(store.record('node-a')).toBeUndefined();
  });

  it('takes the job over when the holder lets its lease run out while this one waits to be adopted', async () => {
    const clock = new VirtualClock(NOW);
    const store = new MemoryJobStore();
    store.put(
      'node-a',
      record({ requests: [request('termination:t1', { adopted: true }), request('spot:i-1')] }),
    );
    void clock.sleep(5_000).then(() => {
      const current = store.record('node-a');
      if (current) store.put('node-a', letGo(current, clock.t));
    });

    const end = await awaitAdoption(
      store,
      'node-a',
      me('second', request('spot:i-1', { kind: 'spot' })),
      { pauseAt: NOW + 60_000 },
      { clock, log },
    );

    expect(end.kind).toBe('took-over');
    expect(store.record('node-a')).toMatchObject({ holder: 'second' });
    expect(store.record('node-a')?.requests.map((r) => r.id)).toEqual(['termination:t1', 'spot:i-1']);
  });

  it('stops waiting when its invocation must end, its request still in the record', async () => {
    const clock = new VirtualClock(NOW);
    const store = new MemoryJobStore();
    store.put('node-a', record({ until: NOW + 3_600_000, requests: [request('mine')] }));

    const end = await awaitAdoption(
      store,
      'node-a',
      me('second', request('mine')),
      { pauseAt: NOW + 10_000 },
      {
        clock,
        log,
      },
    );

    expect(end).toEqual({ kind: 'waiting' });
    expect(clock.t).toBeLessThanOrEqual(NOW + 12_000);
  });
});
