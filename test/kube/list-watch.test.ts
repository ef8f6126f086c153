/**
 * ListWatch's handling of what a watch stream says, with a scripted stream: the API server's watch
 * cache reports an expired resourceVersion as an ERROR event (code 410) inside a 200 stream, which
 * the e2e tests cannot provoke on demand; bookmarks only move the resourceVersion. The real-server
 * behaviour (reopen, HTTP 410, giving up, fallback) is in test/e2e/watch.test.ts.
 */
import { ApiException } from '@kubernetes/client-node/dist/gen/apis/exception.js';
import { describe, expect, it } from 'vitest';
import type { KubeHttp, Query, WatchEvent, WatchHandlers } from '../../lambda/kube/http.js';
import { ListWatch, type ListWatchOptions, type RawObject } from '../../lambda/kube/list-watch.js';
import { VirtualClock } from '../support/fakes.js';

interface Opened {
  readonly query: Query;
  readonly handlers: WatchHandlers;
  readonly idleMs?: number;
}

/** Lists answer `items` at `version`; each watch is recorded and driven by the test. */
class ScriptedHttp {
  readonly lists: Query[] = [];
  readonly watches: Opened[] = [];
  items: RawObject[] = [];
  version = '10';

  async getJson<T>(_path: string, query: Query = {}): Promise<T> {
    this.lists.push(query);
    return { metadata: { resourceVersion: this.version }, items: this.items } as T;
  }

  async watch(_path: string, query: Query, idleMs: number, handlers: WatchHandlers): Promise<() => void> {
    this.watches.push({ query, handlers, idleMs });
    return () => handlers.onEnd();
  }

  last(): Opened {
    const opened = this.watches.at(-1);
    if (!opened) throw new Error('no watch opened');
    return opened;
  }
}

function obj(uid: string, resourceVersion: string, extra: Record<string, unknown> = {}): RawObject {
  return { metadata: { uid, resourceVersion }, ...extra };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

function setUp() {
  const http = new ScriptedHttp();
  let changes = 0;
  const watch = new ListWatch<string>(
    http as unknown as KubeHttp,
    { path: '/api/v1/pods', convert: (raw) => raw.metadata?.uid ?? '' },
    { onChange: () => changes++, reconnectDelayMs: () => 1 },
  );
  const send = (event: WatchEvent) => http.last().handlers.onEvent(event);
  return { http, watch, send, changes: () => changes };
}

describe('ListWatch', () => {
  it('lists from the watch cache, then watches from the list’s resourceVersion with bookmarks', async () => {
    const { http, watch } = setUp();
    http.items = [obj('a', '5')];

    await watch.start();

    expect(http.lists).toEqual([{ resourceVersion: '0' }]);
    expect(http.last().query).toMatchObject({
      watch: 'true',
      allowWatchBookmarks: 'true',
      resourceVersion: '10',
      timeoutSeconds: '60',
    });
    expect(watch.values()).toEqual(['a']);
  });

  it('applies added, modified and deleted objects; a bookmark moves only the resourceVersion', async () => {
    const { http, watch, send, changes } = setUp();
    await watch.start();
    const before = changes();

    send({ type: 'ADDED', object: obj('a', '11') });
    send({ type: 'ADDED', object: obj('b', '12') });
    send({ type: 'DELETED', object: obj('a', '13') });
    const seen = watch.values();
    send({ type: 'BOOKMARK', object: obj('', '20') });

    expect(watch.values()).toEqual(['b']);
    // the same array while nothing changed (the drain skips a pass over unchanged pods), a new one after
    expect(watch.values()).toBe(seen);
    send({ type: 'MODIFIED', object: obj('b', '21') });
    expect(watch.values()).not.toBe(seen);
    expect(changes() - before).toBe(4);
    // every event counts, the bookmark too
    expect(watch.stats.events).toBe(5);
    http.last().handlers.onEnd(); // the server's timeoutSeconds
    await tick();
    expect(http.last().query.resourceVersion).toBe('21');
    expect(http.lists).toHaveLength(1);
  });

  it('tells a reader each object before and after every event, and the whole set after every list', async () => {
    const http = new ScriptedHttp();
    http.items = [obj('a', '9')];
    const seen: string[] = [];
    const watch = new ListWatch<string>(
      http as unknown as KubeHttp,
      { path: '/api/v1/pods', convert: (raw) => `${raw.metadata?.uid}@${raw.metadata?.resourceVersion}` },
      {
        onChange: () => seen.push('change'),
        onApplied: (previous, next) => seen.push(`${previous ?? '-'} -> ${next ?? '-'}`),
        onListed: (all) => seen.push(`listed ${all.join(',')}`),
        reconnectDelayMs: () => 1,
      },
    );
    await watch.start();
    const send = (event: WatchEvent) => http.last().handlers.onEvent(event);

    send({ type: 'ADDED', object: obj('b', '11') });
    send({ type: 'MODIFIED', object: obj('a', '12') });
    send({ type: 'DELETED', object: obj('b', '13') });
    send({ type: 'BOOKMARK', object: obj('', '14') });
    http.items = [obj('c', '30')];
    send({ type: 'ERROR', object: { code: 410, message: 'too old' } });
    await tick();

    expect(seen).toEqual([
      'listed a@9',
      'change',
      '- -> b@11',
      'change',
      'a@9 -> a@12',
      'change',
      'b@11 -> -',
      'change',
      'listed c@30',
      'change',
    ]);
  });

  it('lists again after an ERROR event with code 410 inside the stream, then watches from the new list', async () => {
    const { http, watch, send } = setUp();
    http.items = [obj('a', '5')];
    await watch.start();
    http.items = [obj('b', '30')];
    http.version = '31';

    send({ type: 'ERROR', object: { code: 410, message: 'too old resource version: 10 (25)' } });
    await tick();

    expect(http.lists).toHaveLength(2);
    expect(watch.stats.relists).toBe(1);
    expect(watch.values()).toEqual(['b']);
    expect(http.last().query.resourceVersion).toBe('31');
  });

  it('reopens after another ERROR without listing, and gives up after maxFailures in a row', async () => {
    const { http, watch, send } = setUp();
    await watch.start();
    send({ type: 'ERROR', object: { code: 500, message: 'internal error' } });
    await tick();
    expect(http.watches).toHaveLength(2);
    expect(http.lists).toHaveLength(1);

    // every reopening is refused from now on
    http.watch = async () => {
      throw new Error('connect ECONNREFUSED');
    };
    http.last().handlers.onEnd(new Error('socket hang up'));
    for (let i = 0; i < 20 && !watch.failed; i++) await tick();

    expect(watch.failed).toBe(true);
  });

  it('stops for good when closed: no reopening after the stream ends', async () => {
    const { http, watch } = setUp();
    await watch.start();
    watch.close();
    await tick();
    expect(http.watches).toHaveLength(1);
  });
});

/**
 * A watch the server opens (200) and then ends at once, again and again: each reopening must count as
 * a failure, pause longer than the one before, and give up after maxFailures, so that the drain lists
 * instead of reading a frozen view. Pauses run on the virtual clock: `clock.sleeps` is the schedule.
 */
describe('ListWatch on a virtual clock', () => {
  /** Every stream opens, then (one event loop turn later) does what `stream` says. */
  function flapping(
    options: Partial<ListWatchOptions> = {},
    stream: (handlers: WatchHandlers, clock: VirtualClock) => void = (h) => h.onEnd(),
  ) {
    const http = new ScriptedHttp();
    const clock = new VirtualClock();
    const failedWith: unknown[] = [];
    http.watch = async (_path, query, _idleMs, handlers) => {
      http.watches.push({ query, handlers });
      setImmediate(() => stream(handlers, clock));
      return () => handlers.onEnd();
    };
    const watch = new ListWatch<string>(
      http as unknown as KubeHttp,
      { path: '/api/v1/pods', convert: (raw) => raw.metadata?.uid ?? '' },
      { onChange: () => {}, onFailed: (error) => failedWith.push(error), clock, ...options },
    );
    return { http, clock, watch, failedWith };
  }

  async function settled(watch: ListWatch<string>): Promise<void> {
    for (let i = 0; i < 200 && !watch.failed; i++) await new Promise((resolve) => setImmediate(resolve));
  }

  it('backs off 100, 200, 400, 800, 1600 ms from a stream that ends cleanly at once, then gives up, once', async () => {
    const { http, clock, watch, failedWith } = flapping();

    await watch.start();
    await settled(watch);

    expect(clock.sleeps).toEqual([100, 200, 400, 800, 1600]);
    expect(http.watches).toHaveLength(6);
    expect(watch.failed).toBe(true);
    expect(failedWith).toHaveLength(1);
    expect(String(failedWith[0])).toMatch(/watch stream ended after 0 ms/);
    // it never fell back to listing by itself: the caller lists once it sees `failed`
    expect(http.lists).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(http.watches).toHaveLength(6);
  });

  it('backs off the same way from a stream that sends one ERROR event and ends, and says what the server said', async () => {
    const { clock, watch, failedWith } = flapping({}, (handlers) => {
      handlers.onEvent({ type: 'ERROR', object: { code: 500, message: 'etcd cluster is unavailable' } });
      handlers.onEnd();
    });

    await watch.start();
    await settled(watch);

    expect(clock.sleeps).toEqual([100, 200, 400, 800, 1600]);
    expect(watch.failed).toBe(true);
    expect(failedWith.map(String)).toEqual(['Error: watch error 500: etcd cluster is unavailable']);
  });

  it('gives up after maxFailures reconnects, pausing as reconnectDelayMs says for each failure count', async () => {
    const asked: number[] = [];
    const { http, clock, watch } = flapping({
      maxFailures: 2,
      reconnectDelayMs: (failures) => {
        asked.push(failures);
        return failures * 7;
      },
    });

    await watch.start();
    await settled(watch);

    expect(asked).toEqual([1, 2]);
    expect(clock.sleeps).toEqual([7, 14]);
    expect(http.watches).toHaveLength(3);
  });

  it('caps the default pause at 2 s', async () => {
    const { clock, watch } = flapping({ maxFailures: 8 });

    await watch.start();
    await settled(watch);

    expect(clock.sleeps).toEqual([100, 200, 400, 800, 1600, 2000, 2000, 2000]);
  });

  it.each([
    ['a stream that lived healthyAfterMs (default 5 s) was healthy', {}, 5_000, true],
    ['one that lived 1 ms less was not', {}, 4_999, false],
    ['half the server timeout suffices when shorter', { timeoutSeconds: 2 }, 1_000, true],
    ['1 ms less than half the server timeout does not', { timeoutSeconds: 2 }, 999, false],
    ['a healthyAfterMs of its own is honoured', { healthyAfterMs: 300 }, 300, true],
    ['1 ms less than its own healthyAfterMs is not', { healthyAfterMs: 300 }, 299, false],
  ])('%s', async (_, options: Partial<ListWatchOptions>, livedMs, healthy) => {
    let streams = 0;
    const { clock, watch } = flapping(options, (handlers, c) => {
      streams++;
      // the first stream lives `livedMs`, the second ends at once, the third stays open
      if (streams === 1) c.t += livedMs;
      if (streams <= 2) handlers.onEnd();
    });

    await watch.start();
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));

    // a healthy stream starts the count again: reopened at once, and the next failure is the first
    expect(clock.sleeps).toEqual(healthy ? [0, 100] : [100, 200]);
    watch.close();
  });

  it('counts a reopening the server refuses as a failure too, pausing longer each time', async () => {
    const { http, clock, watch, failedWith } = flapping();
    await watch.start();
    http.watch = async () => {
      throw new ApiException(503, 'HTTP 503', '{"message":"overloaded"}', {});
    };

    await settled(watch);

    expect(clock.sleeps).toEqual([100, 200, 400, 800, 1600]);
    expect(watch.failed).toBe(true);
    expect(failedWith).toHaveLength(1);
    expect((failedWith[0] as ApiException<string>).code).toBe(503);
  });

  it('reopens no more once closed during a pause', async () => {
    const { http, clock, watch } = flapping();
    await watch.start();
    await new Promise((resolve) => setImmediate(resolve));
    expect(clock.sleeps).toEqual([100]);

    watch.close();
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));

    expect(http.watches).toHaveLength(1);
    expect(watch.failed).toBe(false);
  });
});

describe('ListWatch after 410 Gone', () => {
  it('relists with a consistent read (no resourceVersion) after an ERROR 410 inside the stream', async () => {
    const { http, watch, send } = setUp();
    await watch.start();

    send({ type: 'ERROR', object: { code: 410, message: 'too old resource version: 10 (25)' } });
    await tick();

    expect(http.lists).toHaveLength(2);
    expect(http.lists[0]?.resourceVersion).toBe('0');
    expect(http.lists[1]?.resourceVersion).toBeUndefined();
  });

  it('relists with a consistent read when the reopening itself is answered 410', async () => {
    const { http, watch } = setUp();
    await watch.start();
    const reopen = http.watch.bind(http);
    let refused = 0;
    http.watch = async (path, query, idleMs, handlers) => {
      if (refused++ === 0) throw new ApiException(410, 'HTTP 410', '{"reason":"Expired"}', {});
      return reopen(path, query, idleMs, handlers);
    };
    http.version = '40';

    http.last().handlers.onEnd();
    for (let i = 0; i < 10 && http.lists.length < 2; i++) await tick();
    await tick();

    expect(http.lists.map((q) => q.resourceVersion)).toEqual(['0', undefined]);
    expect(watch.stats.relists).toBe(1);
    expect(http.last().query.resourceVersion).toBe('40');
  });

  it('relists with a consistent read when the first watch after the list is answered 410, and starts', async () => {
    const http = new ScriptedHttp();
    const reopen = http.watch.bind(http);
    let refused = 0;
    http.watch = async (path, query, idleMs, handlers) => {
      if (refused++ === 0) throw new ApiException(410, 'HTTP 410', '{"reason":"Expired"}', {});
      return reopen(path, query, idleMs, handlers);
    };
    const watch = new ListWatch<string>(
      http as unknown as KubeHttp,
      { path: '/api/v1/pods', convert: (raw) => raw.metadata?.uid ?? '' },
      { onChange: () => {} },
    );

    await watch.start();

    expect(http.lists.map((q) => q.resourceVersion)).toEqual(['0', undefined]);
    expect(watch.stats).toMatchObject({ lists: 2, relists: 1, watches: 1 });
  });

  it('rejects start() when the first watch fails otherwise: the caller lists by itself', async () => {
    const http = new ScriptedHttp();
    http.watch = async () => {
      throw new ApiException(403, 'HTTP 403', '{"reason":"Forbidden"}', {});
    };
    const watch = new ListWatch<string>(
      http as unknown as KubeHttp,
      { path: '/api/v1/pods', convert: (raw) => raw.metadata?.uid ?? '' },
      { onChange: () => {} },
    );

    await expect(watch.start()).rejects.toMatchObject({ code: 403 });
    expect(http.lists).toHaveLength(1);
  });
});

describe('ListWatch streams', () => {
  it('ends a stream that stays silent 15 s past the server timeout (a dead connection)', async () => {
    const { http, watch } = setUp();
    await watch.start();
    const short = new ListWatch<string>(
      http as unknown as KubeHttp,
      { path: '/api/v1/pods', convert: (raw) => raw.metadata?.uid ?? '' },
      { onChange: () => {}, timeoutSeconds: 1 },
    );
    await short.start();

    expect(http.watches.map((w) => [w.query.timeoutSeconds, w.idleMs])).toEqual([
      ['60', 75_000],
      ['1', 16_000],
    ]);
  });

  it('lists again only once after a 410: the streams after the relist reopen without listing', async () => {
    const { http, watch, send } = setUp();
    await watch.start();
    send({ type: 'ERROR', object: { code: 410, message: 'too old resource version' } });
    await tick();

    http.last().handlers.onEnd();
    await tick();
    http.last().handlers.onEnd();
    await tick();

    expect(http.lists).toHaveLength(2);
    expect(http.watches).toHaveLength(4);
  });

  it('says what an ERROR event without code or message was', async () => {
    const failedWith: unknown[] = [];
    const http = new ScriptedHttp();
    const watch = new ListWatch<string>(
      http as unknown as KubeHttp,
      { path: '/api/v1/pods', convert: (raw) => raw.metadata?.uid ?? '' },
      { onChange: () => {}, onFailed: (e) => failedWith.push(e), maxFailures: 0 },
    );
    await watch.start();

    http.last().handlers.onEvent({ type: 'ERROR', object: {} });
    await tick();

    expect(failedWith.map(String)).toEqual(['Error: watch error : ']);
  });

  it('stops a stream that opens after it was closed, and reopens nothing', async () => {
    const http = new ScriptedHttp();
    let open!: () => void;
    const opening = new Promise<void>((resolve) => {
      open = resolve;
    });
    let stopped = 0;
    const watch = new ListWatch<string>(
      http as unknown as KubeHttp,
      { path: '/api/v1/pods', convert: (raw) => raw.metadata?.uid ?? '' },
      { onChange: () => {} },
    );
    http.watch = async (_path, query, idleMs, handlers) => {
      http.watches.push({ query, handlers, idleMs });
      await opening;
      return () => {
        stopped++;
        handlers.onEnd();
      };
    };

    const starting = watch.start();
    await tick();
    watch.close();
    open();
    await starting;
    await tick();

    expect(stopped).toBe(1);
    expect(http.watches).toHaveLength(1);
  });

  it('opens no stream after a relist that ended when it was closed meanwhile', async () => {
    const { http, watch, send } = setUp();
    await watch.start();
    const list = http.getJson.bind(http);
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    http.getJson = async <T>(path: string, query?: Query): Promise<T> => {
      await held;
      return list<T>(path, query);
    };

    send({ type: 'ERROR', object: { code: 410, message: 'too old resource version' } });
    await tick();
    watch.close();
    release();
    await tick();

    expect(http.lists).toHaveLength(2);
    expect(http.watches).toHaveLength(1);
  });

  it('gives up on no more streams once it failed: a late end changes nothing', async () => {
    const failedWith: unknown[] = [];
    const http = new ScriptedHttp();
    const watch = new ListWatch<string>(
      http as unknown as KubeHttp,
      { path: '/api/v1/pods', convert: (raw) => raw.metadata?.uid ?? '' },
      { onChange: () => {}, onFailed: (e) => failedWith.push(e), maxFailures: 0 },
    );
    await watch.start();
    const first = http.last();

    first.handlers.onEnd(new Error('socket hang up'));
    await tick();
    first.handlers.onEnd(new Error('again'));
    await tick();

    expect(watch.failed).toBe(true);
    expect(failedWith.map(String)).toEqual(['Error: socket hang up']);
    expect(http.watches).toHaveLength(1);
  });
});
