import { describe, expect, it } from 'vitest';
import { classifyPod } from '../../lambda/drain/classify.js';
import { pod } from '../support/fakes.js';

describe('classifyPod', () => {
  it.each([
    ['a DaemonSet pod', pod('ds', { controller: { kind: 'DaemonSet', name: 'agent' } }), 'skip', 'daemonset'],
    [
      'a mirror pod',
      pod('static', { mirror: true, controller: { kind: 'Node', name: 'n' } }),
      'skip',
      'mirror',
    ],
    ['a Succeeded pod', pod('job', { phase: 'Succeeded' }), 'skip', 'finished'],
    ['a Failed pod', pod('job', { phase: 'Failed' }), 'skip', 'finished'],
    ['a terminating pod', pod('leaving', { terminating: true }), 'wait', 'terminating'],
  ])('decides %s', (_, input, action, reason) => {
    expect(classifyPod(input)).toMatchObject({ action, reason });
  });

  it('evicts a replicated pod without warnings', () => {
    expect(classifyPod(pod('web'))).toMatchObject({ action: 'evict', critical: false, warnings: [] });
  });

  it('evicts a bare pod with emptyDir, warning about both', () => {
    const bare = pod('bare', { usesEmptyDir: true });
    delete (bare as { controller?: unknown }).controller;
    expect(classifyPod(bare)).toMatchObject({ action: 'evict', warnings: ['bare-pod', 'empty-dir'] });
  });

  it('skips a terminating DaemonSet pod rather than waiting for it', () => {
    const decision = classifyPod(
      pod('ds', { terminating: true, controller: { kind: 'DaemonSet', name: 'x' } }),
    );
    expect(decision).toMatchObject({ action: 'skip', reason: 'daemonset' });
  });

  it.each(['system-cluster-critical', 'system-node-critical'])('marks priority class %s critical', (pc) => {
    expect(classifyPod(pod('dns', { priorityClassName: pc }))).toMatchObject({
      action: 'evict',
      critical: true,
    });
  });

  it('does not mark an ordinary priority class critical', () => {
    expect(classifyPod(pod('web', { priorityClassName: 'high-priority' }))).toMatchObject({
      action: 'evict',
      critical: false,
    });
  });

  it('evicts a pending pod like a running one', () => {
    expect(classifyPod(pod('new', { phase: 'Pending' }))).toMatchObject({ action: 'evict' });
  });

  it('keeps the pod it decided on in the decision', () => {
    const web = pod('web');
    expect(classifyPod(web).pod).toBe(web);
    const ds = pod('ds', { controller: { kind: 'DaemonSet', name: 'x' } });
    expect(classifyPod(ds).pod).toBe(ds);
  });
});
