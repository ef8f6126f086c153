import { describe, expect, it } from 'vitest';
import { backoffDelay, contendedDelay, mapLimit } from '../../lambda/drain/concurrency.js';
import { VirtualClock } from '../support/fakes.js';

describe('mapLimit', () => {
  it('keeps order and never runs more than the limit at once', async () => {
    const clock = new VirtualClock();
    let running = 0;
    let peak = 0;
    const results = await mapLimit([5, 1, 4, 2, 3], 2, async (n) => {
      running++;
      peak = Math.max(peak, running);
      await clock.sleep(n);
      running--;
      return n * 10;
    });
    expect(results).toEqual([50, 10, 40, 20, 30]);
    expect(peak).toBe(2);
  });

  it('still runs every item, one at a time, with a limit below one', async () => {
    let running = 0;
    let peak = 0;
    const results = await mapLimit([1, 2, 3], 0, async (n) => {
      running++;
      peak = Math.max(peak, running);
      await Promise.resolve();
      running--;
      return n;
    });
    expect(results).toEqual([1, 2, 3]);
    expect(peak).toBe(1);
  });

  it('returns an empty list for no items', async () => {
    expect(await mapLimit([], 4, async () => 1)).toEqual([]);
  });
});

describe('backoffDelay', () => {
  const options = { initialMs: 200, maxMs: 5_000 };

  it('doubles from the initial delay up to the maximum, jittered within the upper half', () => {
    expect([1, 2, 3, 10].map((step) => backoffDelay(step, options, () => 0))).toEqual([100, 200, 400, 2_500]);
    expect([1, 2, 3, 10].map((step) => backoffDelay(step, options, () => 0.999999))).toEqual([
      200, 400, 800, 5_000,
    ]);
  });

  it('treats a step below one like the first step', () => {
    expect(backoffDelay(0, options, () => 0)).toBe(100);
  });

  it('rounds to whole milliseconds', () => {
    expect(backoffDelay(1, { initialMs: 3, maxMs: 5_000 }, () => 0)).toBe(2);
  });

  it('waits at least as long as Retry-After asks', () => {
    expect(backoffDelay(1, options, () => 0, 3_000)).toBe(3_000);
  });
});

describe('contendedDelay', () => {
  it('waits anywhere from nothing to the backoff step (full jitter)', () => {
    const options = { initialMs: 200, maxMs: 5_000 };
    expect([1, 2, 10].map((step) => contendedDelay(step, options, () => 0))).toEqual([0, 0, 0]);
    expect([1, 2, 10].map((step) => contendedDelay(step, options, () => 0.5))).toEqual([100, 200, 2_500]);
    expect(contendedDelay(10, options, () => 0.999999)).toBe(5_000);
  });
});
