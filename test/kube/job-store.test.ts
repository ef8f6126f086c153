/**
 * How the job store reads a node object (lambda/kube/job-store.ts nodeState). Its writes, and the job
 * protocol on top of them, are tested against a real API server in test/e2e/adapters/job-store.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { EXCLUDE_FROM_LOAD_BALANCERS_LABEL } from '../../lambda/kube/cluster.js';
import { formatRecord, JOB_ANNOTATION } from '../../lambda/kube/job-format.js';
import { nodeState } from '../../lambda/kube/job-store.js';

describe('nodeState', () => {
  it('reads the version, the record and how the node is now', () => {
    const record = {
      chain: 'c',
      holder: 'h',
      until: Date.parse('2026-12-06T10:00:00Z'),
      before: { unschedulable: false, excludedFromLoadBalancers: false },
      requests: [
        {
          id: 'r',
          kind: 'termination' as const,
          instanceId: 'i-1',
          startedAt: Date.parse('2026-12-06T09:00:00Z'),
          deadline: Date.parse('2026-12-06T11:00:00Z'),
          policy: 'continue' as const,
        },
      ],
    };
    expect(
      nodeState({
        metadata: {
          resourceVersion: '42',
          labels: { [EXCLUDE_FROM_LOAD_BALANCERS_LABEL]: '' },
          annotations: { [JOB_ANNOTATION]: formatRecord(record) },
        },
        spec: { unschedulable: true },
      }),
    ).toStrictEqual({ version: '42', record, now: { unschedulable: true, excludedFromLoadBalancers: true } });
  });

  it('reads a node object with nothing in it as an unversioned, schedulable node without a record', () => {
    expect(nodeState({})).toStrictEqual({
      version: '',
      now: { unschedulable: false, excludedFromLoadBalancers: false },
    });
    expect(nodeState({ metadata: {}, spec: {} })).toStrictEqual({
      version: '',
      now: { unschedulable: false, excludedFromLoadBalancers: false },
    });
  });
});
