import type { V1Node } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { parseMark, WARM_POOL_MARK } from '../../lambda/kube/marks.js';

const node = (value?: string): V1Node => ({
  metadata: { annotations: value === undefined ? {} : { [WARM_POOL_MARK]: value } },
});
const GOOD = {
  instanceId: 'i-0123456789abcdef0',
  at: '2026-12-02T03:00:00.000Z',
  wasUnschedulable: true,
  hadExcludeLabel: false,
};

describe('parseMark', () => {
  it('reads the mark the drainer wrote', () => {
    expect(parseMark(node(JSON.stringify(GOOD)))).toEqual({ ...GOOD, at: Date.parse(GOOD.at) });
  });

  it.each([
    ['no annotation', undefined],
    ['not JSON', '{oops'],
    ['no instance id', JSON.stringify({ ...GOOD, instanceId: 7 })],
    ['a bad time', JSON.stringify({ ...GOOD, at: 'yesterday' })],
    ['a time that is not a string', JSON.stringify({ ...GOOD, at: 2026 })],
    ['no cordon fact', JSON.stringify({ ...GOOD, wasUnschedulable: undefined })],
    ['no label fact', JSON.stringify({ ...GOOD, hadExcludeLabel: 'no' })],
  ])('reads %s as no mark: nothing is undone', (_, value) => {
    expect(parseMark(node(value))).toBeUndefined();
  });

  it('reads a node object without metadata or annotations as no mark', () => {
    expect(parseMark({})).toBeUndefined();
    expect(parseMark({ metadata: {} })).toBeUndefined();
  });
});
