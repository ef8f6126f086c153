/**
 * Keeps a set of objects current the way informers do: one list (resourceVersion=0, served from the
 * API server's watch cache), then a watch from the list's
 * resourceVersion with bookmarks. A stream that ends (the server's timeoutSeconds) or breaks is
 * reopened from the last resourceVersion seen; `410 Gone` (the version fell out of the server's
 * window) lists again with a consistent read, as client-go does, so a relist never shows an older
 * state than the watch already did. A stream that ends soon after it opened counts as a failure like
 * one that could not be opened: after `maxFailures` in a row (with growing pauses between) the watch
 * gives up and says so (`failed`), and its user lists instead of reading a frozen view.
 */
import { ApiException } from '@kubernetes/client-node/dist/gen/apis/exception.js';
import { type Clock, systemClock } from '../drain/ports.js';
import type { KubeHttp, Query, WatchEvent } from './http.js';

export interface WatchedKind<T> {
  /** Collection path, e.g. /api/v1/pods. */
  readonly path: string;
  /** Selectors of the collection, e.g. fieldSelector. */
  readonly query?: Query;
  convert(raw: RawObject): T;
}

export interface RawObject {
  readonly metadata?: { readonly uid?: string; readonly resourceVersion?: string };
  readonly code?: number;
  readonly [key: string]: unknown;
}

interface RawList {
  readonly metadata?: { readonly resourceVersion?: string };
  readonly items?: RawObject[];
}

export interface ListWatchOptions<T = unknown> {
  /**
   * Called after every change of the set (a list, an added, changed or deleted object), or, with
   * `wakesFor`, after a list and the events it accepts.
   */
  readonly onChange: () => void;
  /**
   * Which watch events call onChange (default: every one), told the object as converted (for a
   * deletion, as the set held it); the set is kept current either way.
   */
  readonly wakesFor?: (type: string, value: T | undefined) => boolean;
  /** Called for every object a watch event deletes, with the event's object (its resourceVersion: the deletion's). */
  readonly onDeleted?: (raw: RawObject) => void;
  /**
   * Called for every object a watch event adds, changes or deletes, before onChange: what the set
   * held for it before and holds now (undefined: nothing). A reader that keeps its own index updates
   * it here instead of going over `values()` at every change.
   */
  readonly onApplied?: (previous: T | undefined, next: T | undefined) => void;
  /** Called after every list, before onChange, with the whole set (the index starts again). */
  readonly onListed?: (all: readonly T[]) => void;
  /** Called once when the watch gives up. */
  readonly onFailed?: (error: unknown) => void;
  /** The server closes each stream after this long (it is then reopened); default 60. */
  readonly timeoutSeconds?: number;
  /** Consecutive failed reconnects before giving up; default 5. */
  readonly maxFailures?: number;
  /** Pause before the n-th consecutive reconnect; default 100 ms × 2^(n−1), at most 2 s. */
  readonly reconnectDelayMs?: (failures: number) => number;
  /**
   * A stream that lived less than this (or half the server's timeout, if shorter) counts as a
   * failure, however it ended; default 5 s.
   */
  readonly healthyAfterMs?: number;
  /** The time source of the pauses and of a stream's age (tests use a virtual one). */
  readonly clock?: Clock;
}

/** How a list reads: as the watch cache has it, or consistently (etcd, or a cache proven current). */
type ListRead = 'cache' | 'consistent';

export class ListWatch<T> {
  private readonly items = new Map<string, T>();
  private snapshot?: readonly T[];
  private resourceVersion?: string;
  private stop?: () => void;
  private closed = false;
  private failures = 0;
  private relistNeeded = false;
  /** What an ERROR event of the current stream said. */
  private streamError?: Error;
  /** When the current stream opened (clock ms). */
  private openedAt = 0;
  /** Aborted on close: ends a pause before a reconnect. */
  private readonly closing = new AbortController();
  /** The watch gave up; the set is no longer kept current. */
  failed = false;
  /** Lists and watch streams opened so far (for tests and the benchmark). */
  readonly stats = { lists: 0, watches: 0, events: 0, relists: 0 };

  constructor(
    private readonly http: KubeHttp,
    private readonly kind: WatchedKind<T>,
    private readonly options: ListWatchOptions<T>,
  ) {}

  /** Lists (from the watch cache, as it is), then opens the watch; rejects if either fails (the caller then lists by itself). */
  async start(): Promise<void> {
    await this.list('cache');
    try {
      await this.open();
    } catch (error) {
      if (!(error instanceof ApiException && error.code === 410)) throw error;
      this.stats.relists++;
      await this.list('consistent');
      await this.open();
    }
  }

  /** The resourceVersion of the state `values()` shows: its list's, then each event's. */
  version(): string | undefined {
    return this.resourceVersion;
  }

  /** The same array until something changes, so a reader can tell nothing did. */
  values(): readonly T[] {
    this.snapshot ??= [...this.items.values()];
    return this.snapshot;
  }

  close(): void {
    this.closed = true;
    this.closing.abort();
    this.stop?.();
  }

  private get clock(): Clock {
    return this.options.clock ?? systemClock;
  }

  private async list(read: ListRead): Promise<void> {
    // no resourceVersion: a consistent read (quorum, or a cache proven current)
    const resourceVersion = read === 'consistent' ? undefined : '0';
    const list = await this.http.getJson<RawList>(this.kind.path, { ...this.kind.query, resourceVersion });
    this.stats.lists++;
    this.items.clear();
    this.snapshot = undefined;
    for (const raw of list.items ?? []) this.items.set(raw.metadata?.uid ?? '', this.kind.convert(raw));
    this.resourceVersion = list.metadata?.resourceVersion;
    this.relistNeeded = false;
    this.options.onListed?.(this.values());
    this.options.onChange();
  }

  private async open(): Promise<void> {
    const timeoutSeconds = this.options.timeoutSeconds ?? 60;
    this.stop = await this.http.watch(
      this.kind.path,
      {
        ...this.kind.query,
        watch: 'true',
        allowWatchBookmarks: 'true',
        timeoutSeconds: String(timeoutSeconds),
        resourceVersion: this.resourceVersion,
      },
      // the server ends the stream at timeoutSeconds; silence well past that means a dead connection
      timeoutSeconds * 1000 + 15_000,
      { onEvent: (event) => this.apply(event), onEnd: (error) => this.ended(error) },
    );
    this.stats.watches++;
    this.openedAt = this.clock.now();
    if (this.closed) this.stop();
  }

  private apply(event: WatchEvent): void {
    const raw = (event.object ?? {}) as RawObject;
    if (event.type === 'ERROR') {
      // 410 Gone: our resourceVersion is too old for the server; anything else: reconnect
      if (raw.code === 410) this.relistNeeded = true;
      this.streamError = new Error(`watch error ${raw.code ?? ''}: ${String(raw.message ?? '')}`);
      this.stop?.();
      return;
    }
    this.stats.events++;
    const version = raw.metadata?.resourceVersion;
    if (version) this.resourceVersion = version;
    if (event.type === 'BOOKMARK') return;
    const uid = raw.metadata?.uid ?? '';
    const previous = this.items.get(uid);
    let next: T | undefined;
    if (event.type === 'DELETED') {
      this.items.delete(uid);
      this.options.onDeleted?.(raw);
    } else {
      next = this.kind.convert(raw);
      this.items.set(uid, next);
    }
    this.snapshot = undefined;
    this.options.onApplied?.(previous, next);
    if (this.options.wakesFor?.(event.type, next ?? previous) ?? true) this.options.onChange();
  }

  private ended(error?: Error): void {
    this.stop = undefined;
    const failure = error ?? this.streamError;
    this.streamError = undefined;
    if (this.closed || this.failed) return;
    // a stream that ended soon after it opened, cleanly or not, did not work: only a stream that
    // lived a while (the server's timeoutSeconds, say) starts the count again
    const lived = this.clock.now() - this.openedAt;
    const timeoutMs = (this.options.timeoutSeconds ?? 60) * 1000;
    if (lived >= Math.min(this.options.healthyAfterMs ?? 5_000, timeoutMs / 2)) this.failures = 0;
    else this.failures++;
    this.reconnect(failure ?? new Error(`watch stream ended after ${lived} ms`));
  }

  private reconnect(lastError: unknown): void {
    if (this.failures > (this.options.maxFailures ?? 5)) {
      this.failed = true;
      this.options.onFailed?.(lastError);
      return;
    }
    const delay =
      this.failures === 0
        ? 0
        : (this.options.reconnectDelayMs ?? ((n) => Math.min(2_000, 100 * 2 ** (n - 1))))(this.failures);
    void this.clock
      .sleep(delay, this.closing.signal)
      .then(() => this.resume())
      .catch((error: unknown) => {
        if (error instanceof ApiException && error.code === 410) this.relistNeeded = true;
        this.failures++;
        this.reconnect(error);
      });
  }

  private async resume(): Promise<void> {
    if (this.closed) return;
    if (this.relistNeeded) {
      this.stats.relists++;
      await this.list('consistent');
    }
    if (!this.closed) await this.open();
  }
}
