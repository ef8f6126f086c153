/**
 * The job record's text in the node annotation (lambda/kube/job-format.ts): what an operator reads
 * with `kubectl get node -o yaml`, and what counts as no record (anything that cannot be read in
 * full: a record read in part would let an invocation drain under terms nobody asked for). The round
 * trip through a real API server is in test/e2e/adapters/job-store.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { JobRecord } from '../../lambda/job/record.js';
import { formatRecord, parseRecord } from '../../lambda/kube/job-format.js';

const T = Date.parse('2026-12-06T10:00:00.000Z');

const RECORD: JobRecord = {
  chain: 'inv-1',
  holder: 'inv-2',
  until: T + 60_000,
  before: { unschedulable: false, excludedFromLoadBalancers: true },
  requests: [
    {
      id: 'termination-1',
      kind: 'termination',
      instanceId: 'i-0123456789abcdef0',
      startedAt: T - 5_000,
      deadline: T + 600_000,
      policy: 'delete',
      action: { group: 'asg-a', hook: 'drain', instanceId: 'i-0123456789abcdef0', token: 'tok' },
      adopted: true,
    },
  ],
};

/** The annotation's JSON, as an object to change one field of. */
const stored = (): Record<string, unknown> => JSON.parse(formatRecord(RECORD)) as Record<string, unknown>;
const requestOf = (raw: Record<string, unknown>): Record<string, unknown> =>
  (raw.requests as Record<string, unknown>[])[0] as Record<string, unknown>;

/** The stored record with its first request changed. */
function withRequest(change: (request: Record<string, unknown>) => void): string {
  const raw = stored();
  change(requestOf(raw));
  return JSON.stringify(raw);
}

describe('formatRecord', () => {
  it('writes every time as ISO 8601 UTC, and the rest as it is', () => {
    const spot = {
      ...RECORD,
      handedOver: true as const,
      requests: [
        {
          id: 'spot-1',
          kind: 'spot' as const,
          instanceId: 'i-1',
          startedAt: T,
          deadline: T + 105_000,
          hardEnd: T + 120_000,
          policy: 'delete' as const,
          group: 'asg-a',
          comesBack: true,
        },
      ],
    };

    expect(JSON.parse(formatRecord(spot))).toEqual({
      chain: 'inv-1',
      holder: 'inv-2',
      until: '2026-12-06T10:01:00.000Z',
      handedOver: true,
      before: { unschedulable: false, excludedFromLoadBalancers: true },
      requests: [
        {
          id: 'spot-1',
          kind: 'spot',
          instanceId: 'i-1',
          startedAt: '2026-12-06T10:00:00.000Z',
          deadline: '2026-12-06T10:01:45.000Z',
          hardEnd: '2026-12-06T10:02:00.000Z',
          policy: 'delete',
          group: 'asg-a',
          comesBack: true,
        },
      ],
    });
  });

  it('writes no hard end for a request that has none', () => {
    expect(requestOf(stored())).not.toHaveProperty('hardEnd');
  });
});

describe('parseRecord', () => {
  it('reads back what formatRecord wrote', () => {
    expect(parseRecord(formatRecord(RECORD))).toEqual(RECORD);
  });

  it('reads every optional field back', () => {
    const full: JobRecord = {
      ...RECORD,
      handedOver: true,
      requests: [
        {
          id: 'spot-1',
          kind: 'spot',
          instanceId: 'i-1',
          startedAt: T,
          deadline: T + 105_000,
          hardEnd: T + 120_000,
          policy: 'abandon',
          group: 'asg-a',
          comesBack: true,
          adopted: true,
          action: { group: 'asg-a', hook: 'drain', instanceId: 'i-1' },
        },
        {
          id: 'rebalance-1',
          kind: 'rebalance',
          instanceId: 'i-1',
          startedAt: T,
          deadline: T + 1,
          policy: 'continue',
        },
      ],
    };
    expect(parseRecord(formatRecord(full))).toStrictEqual(full);
  });

  it('leaves out the flags that are not true, and a group that is not a string', () => {
    const raw = stored();
    raw.handedOver = 'yes';
    Object.assign(requestOf(raw), { adopted: false, comesBack: 'no', group: 7 });

    const record = parseRecord(JSON.stringify(raw));

    expect(record).toBeDefined();
    expect(record).not.toHaveProperty('handedOver');
    const request = record?.requests[0];
    expect(request).not.toHaveProperty('adopted');
    expect(request).not.toHaveProperty('comesBack');
    expect(request).not.toHaveProperty('group');
  });

  it('reads an action without a token (a hand-made event) as one addressed by instance id', () => {
    const value = withRequest((r) => {
      r.action = { group: 'asg-a', hook: 'drain', instanceId: 'i-1' };
    });
    expect(parseRecord(value)?.requests[0]?.action).toStrictEqual({
      group: 'asg-a',
      hook: 'drain',
      instanceId: 'i-1',
    });
  });

  it.each([
    ['no annotation', undefined],
    ['an empty annotation', ''],
    ['not JSON', '{"chain":'],
    ['JSON that is no object', '"inv-1"'],
    ['no requests', JSON.stringify({ ...stored(), requests: undefined })],
    ['requests that are no list', JSON.stringify({ ...stored(), requests: { id: 'x' } })],
    ['an empty list of requests', JSON.stringify({ ...stored(), requests: [] })],
    ['a request that is no object', JSON.stringify({ ...stored(), requests: ['termination-1'] })],
    ['a request that is null', JSON.stringify({ ...stored(), requests: [null] })],
    ['no before', JSON.stringify({ ...stored(), before: undefined })],
    [
      'a before without unschedulable',
      JSON.stringify({ ...stored(), before: { excludedFromLoadBalancers: true } }),
    ],
    ['a before without the label fact', JSON.stringify({ ...stored(), before: { unschedulable: false } })],
    ['a chain that is no string', JSON.stringify({ ...stored(), chain: 1 })],
    ['a holder that is no string', JSON.stringify({ ...stored(), holder: null })],
    ['no until', JSON.stringify({ ...stored(), until: undefined })],
    ['an until that is no time', JSON.stringify({ ...stored(), until: 'in a minute' })],
    ['an until in epoch ms (not ISO)', JSON.stringify({ ...stored(), until: T })],
    ['a request without an id', withRequest((r) => delete r.id)],
    ['a request without an instance', withRequest((r) => (r.instanceId = 5))],
    ['a request of an unknown kind', withRequest((r) => (r.kind = 'reboot'))],
    ['a request of an unknown policy', withRequest((r) => (r.policy = 'ignore'))],
    ['a request without a start', withRequest((r) => delete r.startedAt)],
    ['a request whose start is no time', withRequest((r) => (r.startedAt = 'now'))],
    ['a request without a deadline', withRequest((r) => delete r.deadline)],
    ['a request whose deadline is no time', withRequest((r) => (r.deadline = 'later'))],
    ['a request whose hard end is no time', withRequest((r) => (r.hardEnd = 'soon'))],
    ['a request whose action is no object', withRequest((r) => (r.action = 'complete'))],
    ['a request whose action is null', withRequest((r) => (r.action = null))],
    ['an action without a group', withRequest((r) => (r.action = { hook: 'drain', instanceId: 'i-1' }))],
    ['an action without a hook', withRequest((r) => (r.action = { group: 'g', instanceId: 'i-1' }))],
    ['an action without an instance', withRequest((r) => (r.action = { group: 'g', hook: 'drain' }))],
    [
      'an action whose token is no string',
      withRequest((r) => (r.action = { group: 'g', hook: 'drain', instanceId: 'i-1', token: 7 })),
    ],
  ])('reads %s as no record', (_, value) => {
    expect(parseRecord(value)).toBeUndefined();
  });

  it('reads a record none of whose requests can be read as no record, even when one can', () => {
    const raw = stored();
    raw.requests = [requestOf(raw), { ...requestOf(raw), id: 'second', kind: 'reboot' }];
    expect(parseRecord(JSON.stringify(raw))).toBeUndefined();
  });
});
