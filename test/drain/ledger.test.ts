import { describe, expect, it } from 'vitest';
import { Ledger } from '../../lambda/drain/ledger.js';
import { type DrainTotals, MAX_CARRIED_NAMES, NO_TOTALS } from '../../lambda/drain/progress.js';
import { newTrack } from '../../lambda/drain/track.js';
import { pod } from '../support/fakes.js';

const T0 = 1_700_000_000_000;

const CARRIED: DrainTotals = {
  evicted: ['default/x'],
  deleted: ['default/y'],
  evictionRequests: 10,
  evictionRefusals: 6,
  throttled: 2,
  errors: ['earlier'],
};

describe('Ledger', () => {
  it('totals nothing for a fresh drain', () => {
    expect(new Ledger().totals()).toEqual(NO_TOTALS);
  });

  it('totals this invocation on top of what earlier ones carried', () => {
    const ledger = new Ledger(CARRIED);
    ledger.evicted.push('default/a');
    ledger.deleted.push('default/b');
    ledger.evictionRequests = 3;
    ledger.evictionRefusals = 1;
    ledger.throttled = 1;
    ledger.addError('now');

    expect(ledger.totals()).toEqual({
      evicted: ['default/x', 'default/a'],
      deleted: ['default/y', 'default/b'],
      evictionRequests: 13,
      evictionRefusals: 7,
      throttled: 3,
      errors: ['earlier', 'now'],
    });
  });

  it('keeps at most 20 distinct errors', () => {
    const ledger = new Ledger();

    for (let i = 0; i < 25; i++) ledger.addError(`error ${i}`);
    ledger.addError('error 0');

    expect(ledger.errors.size).toBe(20);
    expect([...ledger.errors].at(-1)).toBe('error 19');
  });

  it('keeps at most 20 errors across invocations', () => {
    const carried = { ...NO_TOTALS, errors: Array.from({ length: 20 }, (_, i) => `old ${i}`) };
    const ledger = new Ledger(carried);

    ledger.addError('new');

    expect(ledger.totals().errors).toHaveLength(20);
    expect(ledger.totals().errors).not.toContain('new');
  });

  it('tallies the whole drain, skipped pods of this invocation included', () => {
    const ledger = new Ledger(CARRIED);
    ledger.evicted.push('default/a');
    ledger.skipped.set('uid-ds', { pod: 'default/ds', reason: 'daemonset' });

    expect(ledger.tally()).toEqual({ evicted: 2, skipped: 1, deleted: 1 });
  });

  it('hands over the offers made to the pods still there, the PDB refusals and the policy end', () => {
    const ledger = new Ledger(CARRIED);
    const offered = { ...newTrack(pod('a'), false, 'pending', T0), pdbRefused: true };
    const never = newTrack(pod('b'), false, 'pending');

    const progress = ledger.progress([offered, never], T0 + 90_000);

    expect(progress).toEqual({
      offeredAt: { 'uid-a': T0 },
      pdbRefused: ['uid-a'],
      policyEndsAt: T0 + 90_000,
      totals: CARRIED,
    });
    expect(Object.keys(progress.offeredAt)).toEqual(['uid-a']);
  });

  it('hands over neither PDB refusals nor a policy end when there are none', () => {
    const progress = new Ledger().progress([newTrack(pod('a'), false, 'pending', T0)], undefined);

    expect(progress).toEqual({ offeredAt: { 'uid-a': T0 }, totals: NO_TOTALS });
    expect(progress).not.toHaveProperty('pdbRefused');
    expect(progress).not.toHaveProperty('policyEndsAt');
  });

  it('hands over at most MAX_CARRIED_NAMES pods', () => {
    const tracks = Array.from({ length: MAX_CARRIED_NAMES + 1 }, (_, i) => ({
      ...newTrack(pod(`p${i}`), false, 'pending', T0),
      pdbRefused: true,
    }));

    const progress = new Ledger().progress(tracks, undefined);

    expect(Object.keys(progress.offeredAt)).toHaveLength(MAX_CARRIED_NAMES);
    expect(progress.pdbRefused).toHaveLength(MAX_CARRIED_NAMES);
    expect(progress.offeredAt).not.toHaveProperty(`uid-p${MAX_CARRIED_NAMES}`);
  });
});
