import { describe, expect, it } from 'vitest';
import { InvalidPatternError, matchesPattern } from '../../scripts/harness/event-pattern.js';

const EVENT = {
  source: 'aws.autoscaling',
  'detail-type': 'EC2 Instance-terminate Lifecycle Action',
  resources: ['arn:a', 'arn:b'],
  detail: {
    AutoScalingGroupName: 'prod-ng-a',
    LifecycleHookName: 'eks-node-drainer',
    Origin: 'AutoScalingGroup',
  },
};

describe('matchesPattern (EventBridge semantics)', () => {
  it('matches exact values and arrays of alternatives, nested', () => {
    expect(
      matchesPattern(
        { source: ['aws.autoscaling'], detail: { AutoScalingGroupName: ['prod-ng-b', 'prod-ng-a'] } },
        EVENT,
      ),
    ).toBe(true);
    expect(matchesPattern({ detail: { AutoScalingGroupName: ['prod-ng-b'] } }, EVENT)).toBe(false);
    expect(matchesPattern({ detail: { Missing: ['x'] } }, EVENT)).toBe(false);
  });

  it('matches an event array when any element matches', () => {
    expect(matchesPattern({ resources: ['arn:b'] }, EVENT)).toBe(true);
    expect(matchesPattern({ resources: ['arn:c'] }, EVENT)).toBe(false);
  });

  it('matches prefix, suffix and equals-ignore-case', () => {
    expect(matchesPattern({ detail: { AutoScalingGroupName: [{ prefix: 'prod-' }] } }, EVENT)).toBe(true);
    expect(matchesPattern({ detail: { AutoScalingGroupName: [{ prefix: 'dev-' }] } }, EVENT)).toBe(false);
    expect(matchesPattern({ detail: { AutoScalingGroupName: [{ suffix: '-a' }] } }, EVENT)).toBe(true);
    expect(
      matchesPattern({ detail: { Origin: [{ 'equals-ignore-case': 'autoscalinggroup' }] } }, EVENT),
    ).toBe(true);
  });

  it('matches anything-but a value, a list or a prefix', () => {
    expect(
      matchesPattern({ detail: { AutoScalingGroupName: [{ 'anything-but': 'prod-ng-b' }] } }, EVENT),
    ).toBe(true);
    expect(
      matchesPattern({ detail: { AutoScalingGroupName: [{ 'anything-but': ['prod-ng-a'] }] } }, EVENT),
    ).toBe(false);
    expect(
      matchesPattern({ detail: { AutoScalingGroupName: [{ 'anything-but': { prefix: 'prod' } }] } }, EVENT),
    ).toBe(false);
    // a missing field matches no anything-but
    expect(matchesPattern({ detail: { Missing: [{ 'anything-but': 'x' }] } }, EVENT)).toBe(false);
  });

  it('matches exists: true on a present field and exists: false on a missing one', () => {
    expect(matchesPattern({ detail: { LifecycleHookName: [{ exists: true }] } }, EVENT)).toBe(true);
    expect(matchesPattern({ detail: { LifecycleHookName: [{ exists: false }] } }, EVENT)).toBe(false);
    expect(matchesPattern({ detail: { Token: [{ exists: false }] } }, EVENT)).toBe(true);
    expect(matchesPattern({ detail: { Token: [{ exists: true }] } }, EVENT)).toBe(false);
  });

  it('refuses an operator it does not implement, and malformed patterns', () => {
    expect(() => matchesPattern({ detail: { n: [{ numeric: ['>', 1] }] } }, EVENT)).toThrow(
      InvalidPatternError,
    );
    expect(() => matchesPattern({ source: 'aws.autoscaling' }, EVENT)).toThrow(
      'must be an object or an array',
    );
    expect(() => matchesPattern({ source: [] }, EVENT)).toThrow('empty arrays');
    expect(() => matchesPattern([], EVENT)).toThrow('not a JSON object');
  });
});
