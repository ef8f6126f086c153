import { describe, expect, it } from 'vitest';
import type { PdbInfo } from '../../lambda/drain/model.js';
import { blockedPod, blockReason } from '../../lambda/drain/report.js';
import { newTrack, type Refusal, type Track } from '../../lambda/drain/track.js';
import { pod } from '../support/fakes.js';

function track(lastRefusal?: Refusal, extra: Partial<Track> = {}): Track {
  return { ...newTrack(pod('a'), false, 'pending'), ...(lastRefusal ? { lastRefusal } : {}), ...extra };
}

describe('blockReason', () => {
  it.each([
    ['a PDB refusal', { kind: 'pdb-blocked', message: 'no' } as const, 'pdb'],
    ['more than one PDB', { kind: 'multiple-pdbs', message: 'two' } as const, 'multiple-pdbs'],
    ['throttling', { kind: 'throttled', message: 'slow' } as const, 'throttled'],
    ['a failure', { kind: 'failed', message: 'HTTP 500' } as const, 'error'],
  ])('blames %s', (_, refusal, reason) => {
    expect(blockReason(track(refusal))).toBe(reason);
  });

  it('blames a PDB for a pod refused in an earlier invocation and not tried since', () => {
    expect(blockReason(track(undefined, { pdbRefused: true }))).toBe('pdb');
  });

  it('says a pod never tried waits for the ordinary pods', () => {
    expect(blockReason(track())).toBe('waiting-for-ordinary-pods');
  });
});

describe('blockedPod', () => {
  const pdb = (name: string, app: string, disruptionsAllowed: number): PdbInfo => ({
    namespace: 'default',
    name,
    selector: { matchLabels: { app } },
    disruptionsAllowed,
    currentHealthy: 1,
    desiredHealthy: 1,
  });

  it('reports the pod, the reason, the message, the attempts and the PDBs covering it', () => {
    const blocked = track({ kind: 'pdb-blocked', message: 'needs 1 healthy pod' }, { attempts: 7 });

    expect(blockedPod(blocked, [pdb('a-pdb', 'a', 0), pdb('b-pdb', 'b', 1)])).toEqual({
      pod: 'default/a',
      reason: 'pdb',
      message: 'needs 1 healthy pod',
      attempts: 7,
      pdbs: [{ name: 'a-pdb', disruptionsAllowed: 0 }],
    });
  });

  it('reports no message for a pod never refused', () => {
    expect(blockedPod(track(), [])).toEqual({
      pod: 'default/a',
      reason: 'waiting-for-ordinary-pods',
      attempts: 0,
      pdbs: [],
    });
  });
});
