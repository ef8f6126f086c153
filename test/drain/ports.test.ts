import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { podKey } from '../../lambda/drain/model.js';
import { systemClock } from '../../lambda/drain/ports.js';

describe('systemClock', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_700_000_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('tells the wall-clock time in epoch ms', () => {
    expect(systemClock.now()).toBe(1_700_000_000_000);
  });

  it('sleeps for the given time, not less', async () => {
    let woke = false;
    const sleeping = systemClock.sleep(1_000).then(() => {
      woke = true;
    });

    await vi.advanceTimersByTimeAsync(999);
    expect(woke).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await sleeping;
    expect(woke).toBe(true);
  });

  it('wakes early when its signal aborts, leaving no timer behind', async () => {
    const controller = new AbortController();
    const sleeping = systemClock.sleep(60_000, controller.signal);

    controller.abort();
    await sleeping;

    expect(vi.getTimerCount()).toBe(0);
  });

  it('does not sleep at all when its signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();

    await systemClock.sleep(60_000, controller.signal);

    expect(vi.getTimerCount()).toBe(0);
  });

  it('stops listening to its signal once it woke', async () => {
    const controller = new AbortController();
    const removed = vi.spyOn(controller.signal, 'removeEventListener');
    const sleeping = systemClock.sleep(10, controller.signal);

    await vi.advanceTimersByTimeAsync(10);
    await sleeping;

    expect(removed).toHaveBeenCalledWith('abort', expect.any(Function));
  });

  it('treats a negative sleep as none', async () => {
    let woke = false;
    const sleeping = systemClock.sleep(-5).then(() => {
      woke = true;
    });

    await vi.advanceTimersByTimeAsync(0);
    await sleeping;
    expect(woke).toBe(true);
  });

  it('draws jitter in [0, 1)', () => {
    const value = systemClock.random();
    expect(value).toBeGreaterThanOrEqual(0);
    expect(value).toBeLessThan(1);
  });
});

describe('podKey', () => {
  it('names a pod namespace/name', () => {
    expect(podKey({ namespace: 'kube-system', name: 'coredns-1', uid: 'u' })).toBe('kube-system/coredns-1');
  });
});
