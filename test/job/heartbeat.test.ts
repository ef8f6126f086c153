import { describe, expect, it } from 'vitest';
import { Heartbeat } from '../../lambda/job/heartbeat.js';
import type { LifecyclePort } from '../../lambda/job/ports.js';
import { type LogEntry, memoryLogger } from '../../scripts/harness/memory-logger.js';
import { VirtualClock } from '../support/fakes.js';

const T0 = 1_700_000_000_000;

/** Answers each heartbeat with the next scripted answer ('throw' fails the call). */
function scriptedAction(answers: ('recorded' | 'expired' | 'throw')[], clock: VirtualClock) {
  const beats: number[] = [];
  const port: LifecyclePort = {
    heartbeat: async () => {
      beats.push(clock.t - T0);
      const answer = answers.shift() ?? 'recorded';
      if (answer === 'throw') throw new Error('Rate exceeded');
      return answer;
    },
    state: async () => 'Terminating:Wait',
    complete: async () => 'completed',
  };
  return { beats, port };
}

function setup(answers: ('recorded' | 'expired' | 'throw')[] = []) {
  const clock = new VirtualClock(T0);
  const logs: LogEntry[] = [];
  const { beats, port } = scriptedAction(answers, clock);
  const heartbeat = new Heartbeat(port, 30_000, { clock, log: memoryLogger(logs) });
  return { clock, logs, beats, heartbeat };
}

describe('Heartbeat.beat', () => {
  it('counts a recorded heartbeat', async () => {
    const { heartbeat } = setup(['recorded']);

    const answer = await heartbeat.beat();

    expect(answer).toBe('recorded');
    expect(heartbeat.counts()).toEqual({ recorded: 1, failed: 0 });
    expect(heartbeat.expired).toBe(false);
  });

  it('marks the action expired when AWS says it is no longer active, counting nothing', async () => {
    const { heartbeat } = setup(['expired']);

    const answer = await heartbeat.beat();

    expect(answer).toBe('expired');
    expect(heartbeat.expired).toBe(true);
    expect(heartbeat.counts()).toEqual({ recorded: 0, failed: 0 });
  });

  it('counts and logs a failed heartbeat without throwing', async () => {
    const { heartbeat, logs } = setup(['throw', 'throw']);

    await heartbeat.beat();
    const answer = await heartbeat.beat();

    expect(answer).toBe('failed');
    expect(heartbeat.counts()).toEqual({ recorded: 0, failed: 2 });
    expect(heartbeat.expired).toBe(false);
    expect(logs.at(-1)).toEqual({
      level: 'warn',
      message: 'heartbeat failed',
      data: { error: 'Rate exceeded', failures: 2 },
    });
  });
});

describe('Heartbeat.run', () => {
  it('beats once every interval until its signal aborts', async () => {
    const { clock, beats, heartbeat } = setup();
    const stop = new AbortController();
    const running = heartbeat.run(stop.signal, () => {});
    void clock.sleep(95_000).then(() => stop.abort());

    await running;

    expect(beats).toEqual([30_000, 60_000, 90_000]);
    expect(heartbeat.counts().recorded).toBe(3);
  });

  it('keeps beating after a failed heartbeat', async () => {
    const { clock, beats, heartbeat } = setup(['throw', 'recorded']);
    const stop = new AbortController();
    const running = heartbeat.run(stop.signal, () => {});
    void clock.sleep(65_000).then(() => stop.abort());

    await running;

    expect(beats).toEqual([30_000, 60_000]);
    expect(heartbeat.counts()).toEqual({ recorded: 1, failed: 1 });
  });

  it('stops beating and tells the caller when the action expired', async () => {
    const { beats, heartbeat } = setup(['recorded', 'expired', 'recorded']);
    const stop = new AbortController();
    let expiredCalls = 0;

    await heartbeat.run(stop.signal, () => expiredCalls++);

    expect(beats).toEqual([30_000, 60_000]);
    expect(expiredCalls).toBe(1);
  });

  it('does not beat at all when its signal is already aborted', async () => {
    const { beats, heartbeat } = setup();
    const stop = new AbortController();
    stop.abort();

    await heartbeat.run(stop.signal, () => {});

    expect(beats).toEqual([]);
  });
});
