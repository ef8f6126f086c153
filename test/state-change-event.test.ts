import { describe, expect, it } from 'vitest';
import { parseEvent } from '../lambda/event.js';
import { stateChangeEvent } from './support/ec2-events.js';

const INSTANCE = 'i-0123456789abcdef0';
const TIME = new Date('2026-11-21T10:00:00Z');

describe('parseEvent on EC2 instance state changes', () => {
  it.each(['shutting-down', 'stopping', 'terminated', 'running'])('reads state %s', (state) => {
    expect(parseEvent(stateChangeEvent(INSTANCE, state, TIME))).toEqual({
      kind: 'state-change',
      change: { instanceId: INSTANCE, state, time: TIME.getTime() },
    });
  });

  it.each(['pending', 'stopped'])('ignores state %s, loudly', (state) => {
    expect(parseEvent(stateChangeEvent(INSTANCE, state, TIME))).toEqual({
      kind: 'ignored',
      reason: `instance state ${state}`,
    });
  });

  it('carries a dry-run request of the drainer’s key', () => {
    const event = { ...stateChangeEvent(INSTANCE, 'stopping', TIME), eksNodeDrainer: { dryRun: true } };
    expect(parseEvent(event)).toMatchObject({ kind: 'state-change', change: { dryRun: true } });
  });

  it.each([
    [{ 'instance-id': 'web-1', state: 'stopping' }, 'detail.instance-id'],
    [{ 'instance-id': INSTANCE }, 'detail.state'],
    [{ 'instance-id': INSTANCE, state: 'Shutting Down' }, 'detail.state'],
  ])('is invalid when a field relied on is malformed (%j)', (detail, field) => {
    const event = { ...stateChangeEvent(INSTANCE, 'stopping', TIME), detail };
    expect(parseEvent(event)).toMatchObject({ kind: 'invalid', field });
  });

  it('is invalid with a continuation or force in the drainer’s key (only dryRun rides on it)', () => {
    const event = { ...stateChangeEvent(INSTANCE, 'stopping', TIME), eksNodeDrainer: { force: true } };
    expect(parseEvent(event)).toMatchObject({ kind: 'invalid', field: 'eksNodeDrainer.force' });
  });

  it('is invalid without a detail object', () => {
    const event = { ...stateChangeEvent(INSTANCE, 'stopping', TIME), detail: 'x' };
    expect(parseEvent(event)).toMatchObject({ kind: 'invalid', field: 'detail' });
  });
});
