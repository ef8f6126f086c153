/**
 * ListWatch's handling of what a watch stream says, with a scripted stream: the API server's watch
 * cache reports an expired resourceVersion as an ERROR event (code 410) inside a 200 stream, which
 * the e2e tests cannot provoke on demand; bookmarks only move the resourceVersion. The real-server
 * behaviour (reopen, HTTP 410, giving up, fallback) is in test/e2e/watch.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { KubeHttp, Query, WatchEvent, WatchHandlers } from '../../lambda/kube/http.js';
import { ListWatch, type RawObject } from '../../lambda/kube/list-watch.js';

interface Opened {
  readonly query: Query;
  readonly handlers: WatchHandlers;
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

  async watch(_path: string, query: Query, _idleMs: number, handlers: WatchHandlers): Promise<() => void> {
    this.watches.push({ query, handlers });
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
    http.last().handlers.onEnd(); // the server's timeoutSeconds
    await tick();
    expect(http.last().query.resourceVersion).toBe('21');
    expect(http.lists).toHaveLength(1);
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
