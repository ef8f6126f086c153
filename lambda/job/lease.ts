/**
 * The node's job record in use: opening it (take the lease or join), keeping the lease while the
 * holder drains (renewal, and adopting the requests that join), and letting it go. Every write is
 * compare-and-swap on the node's resourceVersion (JobStorePort); a conflict reads again.
 */
import { errorMessage } from '../errors.js';
import type { Clock, JobStorePort, Logger, NodeState } from './ports.js';
import {
  finish,
  handOver,
  type JobRecord,
  type JobRequest,
  joinState,
  letGo,
  type Me,
  type Opening,
  open,
  RENEW_MS,
  renew,
} from './record.js';
import type { WarmPoolMark } from './warm-pool.js';

/** How often the holder reads its record: a joining Spot warning is taken up within this. */
export const KEEPER_POLL_MS = 5_000;
/** How often a joined invocation looks whether the holder took its request over. */
export const JOIN_POLL_MS = 2_000;
/** Writes that lose to another writer are read and tried again this often before giving up. */
const CAS_ATTEMPTS = 5;

type Deps = { readonly clock: Clock; readonly log: Logger };

/** Read, decide, write if the node did not change meanwhile; again on a conflict. */
async function update<T>(
  store: JobStorePort,
  node: string,
  decide: (state: NodeState) => {
    readonly write?: JobRecord | null;
    readonly mark?: WarmPoolMark;
    readonly value: T;
  },
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const state = await store.read(node);
    const { write, mark, value } = decide(state);
    if (write === undefined) return value;
    if ((await store.write(node, state.version, write, mark)) === 'written') return value;
    if (attempt >= CAS_ATTEMPTS) throw new Error(`the node ${node} kept changing: ${attempt} writes lost`);
  }
}

export type Opened =
  | { readonly role: 'holder'; readonly keeper: LeaseKeeper; readonly tookOver?: string }
  | { readonly role: 'joined'; readonly holder: string };

/** Takes the node's lease, or joins the job of the invocation that holds it. */
export async function openJob(store: JobStorePort, node: string, me: Me): Promise<Opened> {
  const opening = await update<Opening>(store, node, (state) => {
    const decided = open(state.record, state.now, me);
    return { write: decided.record, value: decided };
  });
  if (opening.role === 'joined') return { role: 'joined', holder: opening.holder };
  return {
    role: 'holder',
    keeper: new LeaseKeeper(store, node, opening.record),
    ...(opening.tookOver ? { tookOver: opening.tookOver } : {}),
  };
}

export type JoinEnd =
  /** The holder took the request over (or answered it and ended). */
  | { readonly kind: 'adopted' | 'released' }
  /** Still waiting when this invocation had to end: the holder adopts it later. */
  | { readonly kind: 'waiting' }
  /** The holder's lease ran out: this invocation holds the job now. */
  | { readonly kind: 'took-over'; readonly keeper: LeaseKeeper };

/**
 * A joined invocation waits (its own action kept alive by its caller) until the holder adopts its
 * request, the job ends, or the holder's lease runs out (then it takes the job over).
 */
export async function awaitAdoption(
  store: JobStorePort,
  node: string,
  me: Me,
  until: { readonly pauseAt: number; readonly signal?: AbortSignal },
  { clock, log }: Deps,
): Promise<JoinEnd> {
  for (;;) {
    await clock.sleep(JOIN_POLL_MS, until.signal);
    if (until.signal?.aborted || clock.now() >= until.pauseAt) return { kind: 'waiting' };
    const state = await store.read(node).catch((error: unknown) => {
      log.warn('could not read the job record; looking again', { node, error: errorMessage(error) });
      return undefined;
    });
    if (!state) continue;
    const seen = joinState(state.record, me.request.id, clock.now());
    if (seen === 'adopted' || seen === 'released') return { kind: seen };
    if (seen === 'expired') {
      const opened = await openJob(store, node, { ...me, now: clock.now() });
      if (opened.role === 'holder') return { kind: 'took-over', keeper: opened.keeper };
    }
  }
}

type Kept = { readonly adopted: readonly JobRequest[] } | { readonly lost: string };

/** The holder's side of the record while it drains. */
export class LeaseKeeper {
  private renewedAt = 0;

  constructor(
    private readonly store: JobStorePort,
    readonly node: string,
    private known: JobRecord,
  ) {}

  get record(): JobRecord {
    return this.known;
  }

  /**
   * Renews the lease when due, and adopts the requests that joined since the last look. Returns
   * what it adopted, or `lost` when another invocation holds the job now.
   */
  async keep(now: number): Promise<Kept> {
    return update<Kept>(this.store, this.node, (state) => {
      const renewal = renew(state.record, this.known, now);
      if (renewal.kind === 'lost') return { value: { lost: renewal.holder } };
      const due = now - this.renewedAt >= RENEW_MS || renewal.adopted.length > 0 || !state.record;
      if (!due) return { value: { adopted: [] } };
      this.known = renewal.record;
      this.renewedAt = now;
      return { write: renewal.record, value: { adopted: renewal.adopted } };
    });
  }

  /** Follows the record until `signal` aborts: every KEEPER_POLL_MS, keep(). */
  async run(
    signal: AbortSignal,
    deps: Deps,
    on: { adopted(requests: readonly JobRequest[]): void; lost(holder: string): void },
  ): Promise<void> {
    for (;;) {
      await deps.clock.sleep(KEEPER_POLL_MS, signal);
      if (signal.aborted) return;
      try {
        const kept = await this.keep(deps.clock.now());
        if ('lost' in kept) {
          deps.log.error('another invocation took the node’s job over', {
            node: this.node,
            holder: kept.lost,
          });
          on.lost(kept.lost);
          return;
        }
        if (kept.adopted.length > 0) on.adopted(kept.adopted);
      } catch (error) {
        // the lease still has most of its life: the next look tries again
        deps.log.warn('could not keep the job record', { node: this.node, error: errorMessage(error) });
      }
    }
  }

  /** Keeps the lease for the next invocation of this chain. */
  async handOver(now: number): Promise<void> {
    await this.writeMine((record) => handOver(record, now));
  }

  /** Lets the lease run out now: whoever comes next takes the job over, its requests included. */
  async letGo(now: number): Promise<void> {
    await this.writeMine((record) => letGo(record, now));
  }

  /**
   * Ends the job: `answer` is given every request not yet answered (it completes their actions),
   * then the record goes (with the warm-pool mark, if `mark` says one). Requests that join
   * meanwhile are answered too before the record goes.
   */
  async finish(
    answer: (requests: readonly JobRequest[], record: JobRecord) => Promise<void>,
    mark: (record: JobRecord) => WarmPoolMark | undefined,
  ): Promise<'released' | { readonly lost: string }> {
    const answered = new Set<string>();
    for (let round = 1; ; round++) {
      const state = await this.store.read(this.node);
      const decided = finish(state.record, this.known.holder, answered);
      if (decided.kind === 'lost') return { lost: decided.holder };
      if (decided.kind === 'more') {
        if (state.record) this.known = state.record;
        await answer(decided.requests, this.known);
        for (const request of decided.requests) answered.add(request.id);
        continue;
      }
      if (!state.record) return 'released';
      const written = await this.store.write(this.node, state.version, null, mark(this.known));
      if (written === 'written') return 'released';
      if (round >= CAS_ATTEMPTS * 2)
        throw new Error(`the node ${this.node} kept changing: its job record stays`);
    }
  }

  private async writeMine(change: (record: JobRecord) => JobRecord): Promise<void> {
    await update<undefined>(this.store, this.node, (state) => {
      const current = state.record ?? this.known;
      if (current.holder !== this.known.holder) return { value: undefined };
      this.known = change(current);
      return { write: this.known, value: undefined };
    });
  }
}
