import { describe, expect, it } from 'vitest';
import { type DrainTrigger, drainEnd, shouldNotify } from '../../lambda/notify/policy.js';
import type { HandlerOutcome } from '../../lambda/outcome.js';

describe('drainEnd', () => {
  it.each<[HandlerOutcome, string | undefined, DrainTrigger, ReturnType<typeof drainEnd>]>([
    ['drained', 'drained', 'termination', 'drained'],
    ['deadline-deleted', 'deadline-deleted', 'termination', 'problem'],
    ['deadline-continued', 'deadline-continued', 'rebalance-recommendation', 'problem'],
    ['deadline-abandoned', 'deadline-abandoned', 'termination', 'problem'],
    ['action-expired', 'paused', 'termination', 'problem'],
    ['spot-interrupted', 'drained', 'spot-interruption', 'drained'],
    ['spot-interrupted', 'deadline-deleted', 'spot-interruption', 'problem'],
    ['spot-interrupted', undefined, 'spot-interruption', 'problem'],
    ['already-completed', 'drained', 'termination', 'problem'],
    ['node-not-found', undefined, 'termination', 'problem'],
  ])('%s (drain %s, asked by %s) ends the job: %s', (outcome, drain, trigger, end) => {
    expect(drainEnd(outcome, drain, trigger)).toBe(end);
  });

  it.each<[HandlerOutcome, string | undefined, DrainTrigger]>([
    ['continued-in-new-invocation', 'paused', 'termination'],
    ['joined', undefined, 'termination'],
    ['joined', 'drained', 'spot-interruption'],
    ['already-completed', undefined, 'termination'],
    ['node-not-found', undefined, 'spot-interruption'],
    ['node-not-found', undefined, 'rebalance-recommendation'],
    ['dry-run', 'dry-run', 'termination'],
    ['rebalance-cordoned', undefined, 'rebalance-recommendation'],
    ['spot-unconfirmed', undefined, 'spot-interruption'],
    ['foreign-instance', undefined, 'spot-interruption'],
    ['foreign-auto-scaling-group', undefined, 'termination'],
    ['instance-not-terminating', undefined, 'termination'],
    ['ignored', undefined, 'rebalance-recommendation'],
    ['invalid-event', undefined, 'termination'],
  ])('%s (drain %s, asked by %s) ends no job', (outcome, drain, trigger) => {
    expect(drainEnd(outcome, drain, trigger)).toBeUndefined();
  });
});

describe('shouldNotify', () => {
  it('tells problems whatever the setting, and a clean drain only with all', () => {
    expect(shouldNotify('problem', 'problems')).toBe(true);
    expect(shouldNotify('problem', 'all')).toBe(true);
    expect(shouldNotify('drained', 'problems')).toBe(false);
    expect(shouldNotify('drained', 'all')).toBe(true);
    expect(shouldNotify(undefined, 'all')).toBe(false);
  });
});
