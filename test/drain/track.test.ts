import { describe, expect, it } from 'vitest';
import { newTrack } from '../../lambda/drain/track.js';
import { pod } from '../support/fakes.js';

describe('newTrack', () => {
  it('starts a pod with no attempts, due at once, refused by nothing', () => {
    const web = pod('web');

    expect(newTrack(web, true, 'pending', 1_000)).toEqual({
      pod: web,
      critical: true,
      state: 'pending',
      attempts: 0,
      backoffStep: 0,
      nextAttemptAt: 0,
      pdbRefused: false,
      offeredAt: 1_000,
      deleteFailures: 0,
      nextDeleteAt: 0,
    });
  });

  it('has no offer time for a pod never offered an eviction', () => {
    expect(newTrack(pod('web'), false, 'terminating')).not.toHaveProperty('offeredAt');
  });
});
