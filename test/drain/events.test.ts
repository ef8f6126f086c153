import { describe, expect, it } from 'vitest';
import {
  BLOCKED_EVENT_INTERVAL_MS,
  blockedEvent,
  deadlineEvent,
  drainedEvent,
  startedEvent,
  summary,
} from '../../lambda/drain/events.js';
import { newTrack, type Refusal, type Track } from '../../lambda/drain/track.js';
import { pod } from '../support/fakes.js';

const T0 = 1_700_000_000_000;
const TALLY = { evicted: 3, skipped: 2, deleted: 1 };

function refused(lastRefusal: Refusal | undefined, extra: Partial<Track> = {}): Track {
  return {
    ...newTrack(pod('a'), false, 'pending', T0),
    attempts: 4,
    ...(lastRefusal ? { lastRefusal } : {}),
    ...extra,
  };
}

describe('drain events', () => {
  it('sums up what the drain did', () => {
    expect(summary(TALLY)).toBe('3 evicted, 2 skipped, 1 deleted');
  });

  it('records the start with how many pods it evicts and skips', () => {
    expect(startedEvent(5, 2)).toEqual({
      reason: 'DrainStarted',
      type: 'Normal',
      message: 'evicting 5 pod(s), 2 skipped',
    });
  });

  it('records the end of a drain with its summary', () => {
    expect(drainedEvent(TALLY)).toEqual({
      reason: 'Drained',
      type: 'Normal',
      message: '3 evicted, 2 skipped, 1 deleted',
    });
  });

  it('warns at the deadline with the blocked pods, the policy and the summary', () => {
    expect(deadlineEvent(2, 'delete', TALLY)).toEqual({
      reason: 'DrainDeadlineReached',
      type: 'Warning',
      message: '2 pod(s) still blocked, policy delete; 3 evicted, 2 skipped, 1 deleted',
    });
  });
});

describe('blockedEvent', () => {
  it('names the refusing PDB, in the drain series, counting the attempts', () => {
    const track = refused({ kind: 'pdb-blocked', message: 'needs 2 healthy pods', pdbName: 'web' });

    expect(blockedEvent(track, T0, 'series-1')).toEqual({
      reason: 'EvictionBlocked',
      type: 'Warning',
      message: 'eviction for node drain blocked by PodDisruptionBudget web: needs 2 healthy pods',
      series: 'series-1',
      count: 4,
    });
    expect(track.lastEventAt).toBe(T0);
  });

  it('says only the message when the refusal names no PDB', () => {
    const track = refused({ kind: 'pdb-blocked', message: 'not processed yet' });

    expect(blockedEvent(track, T0, 's')?.message).toBe('eviction for node drain blocked: not processed yet');
  });

  it('reports more than one PDB as a blocked eviction', () => {
    const track = refused({ kind: 'multiple-pdbs', message: 'more than one PodDisruptionBudget' });

    expect(blockedEvent(track, T0, 's')?.message).toBe(
      'eviction for node drain blocked: more than one PodDisruptionBudget',
    );
  });

  it.each([
    ['a pod never refused', undefined],
    ['a failed eviction', { kind: 'failed', message: 'HTTP 500' } as const],
    ['a throttled eviction', { kind: 'throttled', message: 'Too many requests' } as const],
  ])('records nothing for %s', (_, refusal) => {
    const track = refused(refusal);

    expect(blockedEvent(track, T0, 's')).toBeUndefined();
    expect(track.lastEventAt).toBeUndefined();
  });

  it('records nothing again within 30 s of the last event', () => {
    const track = refused({ kind: 'pdb-blocked', message: 'no' }, { lastEventAt: T0 });

    expect(blockedEvent(track, T0 + BLOCKED_EVENT_INTERVAL_MS - 1, 's')).toBeUndefined();
    expect(track.lastEventAt).toBe(T0);
  });

  it('records an update once 30 s have passed since the last event', () => {
    const track = refused({ kind: 'pdb-blocked', message: 'no' }, { lastEventAt: T0 });

    expect(BLOCKED_EVENT_INTERVAL_MS).toBe(30_000);
    expect(blockedEvent(track, T0 + 30_000, 's')).toMatchObject({ reason: 'EvictionBlocked' });
    expect(track.lastEventAt).toBe(T0 + 30_000);
  });
});
