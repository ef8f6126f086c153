/**
 * The order of a PDB's queue of drains (lambda/drain/turns.ts): first come, first served in the
 * order the server wrote the tickets, and a holder that died is passed over.
 *
 * The order is the tickets' places, the revision of the write that queued each (lambda/kube/turns-lease.ts),
 * not a time the drains wrote: a watch delivers the writes in that order, so a drain
 * that sees its own ticket has seen every ticket queued before it, and all drains agree on who is
 * first, even when they queued within the same milliseconds (ordered by their own clocks they could
 * briefly disagree, and both evict once).
 *
 * A drain shows life through its heartbeat: every write of its Lease (renewed while it holds a turn
 * another drain waits for). A ticket at the head whose holder's heartbeat is not seen to change within
 * TURN_LEASE_MS of the ticket reaching the head, by the observer's clock (as client-go's leader
 * election judges a lease), is passed over; it keeps its place, so a continuation that beats again
 * is back at the head. Pure.
 */
import { olderThan } from './fresh.js';
import type { PdbInfo } from './model.js';
import type { ResourceVersion } from './ports.js';

/** A ticket at the head whose holder shows no heartbeat for this long is passed over (its drain died or paused). */
export const TURN_LEASE_MS = 6_000;

export interface Ticket {
  /** The PDB, as `namespace/name`. */
  readonly pdb: string;
  /** The drain that queued (its node: one drain per node). */
  readonly holder: string;
  /** When it queued (epoch ms, the holder's clock): shown to people, and the order where `created` is unknown. */
  readonly queuedAt: number;
  /** Its place: the server's revision of the write that queued it: the queue's order. */
  readonly created?: ResourceVersion;
}

/** Each drain's life as last seen (holder → its Lease's resourceVersion): the same map until one changes. */
export type Heartbeats = ReadonlyMap<string, string>;

export const NO_HEARTBEATS: Heartbeats = new Map();

export const pdbKey = (pdb: Pick<PdbInfo, 'namespace' | 'name'>): string => `${pdb.namespace}/${pdb.name}`;

/** First created first; by time where the revisions cannot be ordered; then by holder. */
export function byQueue(a: Ticket, b: Ticket): number {
  if (olderThan(a.created, b.created)) return -1;
  if (olderThan(b.created, a.created)) return 1;
  return a.queuedAt - b.queuedAt || (a.holder < b.holder ? -1 : a.holder > b.holder ? 1 : 0);
}

/**
 * One drain's view of the queues: who holds a turn, judged with what it saw of each drain's
 * heartbeat. `me` is this drain's holder name.
 */
export class TurnView {
  /** Per holder: its heartbeat's version last seen, and when that changed (or the holder was first seen). */
  private readonly beats = new Map<string, { version?: string; changedAt: number }>();
  /** Per PDB, the holders of its head tickets (other than this drain): since when each is at the head. */
  private readonly headSince = new Map<string, ReadonlyMap<string, number>>();
  /** Per tickets array (the feed's, the same until a ticket changes): the tickets in queue order. */
  private readonly sorted = new WeakMap<readonly Ticket[], readonly Ticket[]>();
  /**
   * Per PDB, the last answer of holds(): for the same tickets (the feed's array), heartbeats (the
   * feed's map, the same until one changes) and slots it stays true until `until`, the first moment
   * a head ticket's lease could run out. The drain asks on every pass, for every pod (bench: most of
   * a scale-in's CPU before).
   */
  private readonly answers = new Map<
    string,
    {
      readonly tickets: readonly Ticket[];
      readonly heartbeats: Heartbeats;
      readonly slots: number;
      readonly mine: boolean;
      readonly until: number;
    }
  >();

  constructor(readonly me: string) {}

  /**
   * Whether this drain holds a turn for the PDB: its ticket among the first `max(1, allowed)` live
   * tickets. Without a ticket of its own, never. `tickets` are one PDB's.
   */
  holds(tickets: readonly Ticket[], heartbeats: Heartbeats, allowed: number, now: number): boolean {
    const pdb = tickets[0]?.pdb;
    if (pdb === undefined) return false;
    const slots = Math.max(1, allowed);
    const last = this.answers.get(pdb);
    if (
      last?.tickets === tickets &&
      last.heartbeats === heartbeats &&
      last.slots === slots &&
      now <= last.until
    ) {
      return last.mine;
    }
    const { mine, until } = this.order(tickets, heartbeats, allowed, now);
    this.answers.set(pdb, { tickets, heartbeats, slots, mine, until });
    return mine;
  }

  /**
   * Whether it holds a turn for these tickets, with as many turns as the PDB allowed at its last
   * answer (one before any): asked when a ticket is released, between passes.
   */
  holdsAsBefore(tickets: readonly Ticket[], heartbeats: Heartbeats, now: number): boolean {
    const pdb = tickets[0]?.pdb;
    return pdb !== undefined && this.holds(tickets, heartbeats, this.answers.get(pdb)?.slots ?? 1, now);
  }

  /**
   * Its last answer for the PDB was "not mine" for at least as many turns as `allowed` gives: until
   * the tickets change or a head's lease could run out (the drain's timed passes), a change of the
   * PDB's status alone cannot give it a turn.
   */
  waits(pdb: string, allowed: number): boolean {
    const last = this.answers.get(pdb);
    return last !== undefined && !last.mine && Math.max(1, allowed) <= last.slots;
  }

  /**
   * The queue's head: the tickets passed over, whether this drain holds a turn, and until when that
   * holds for these tickets (the earliest a live head ticket's lease runs out). It reads the queue
   * only as far as the turns go (a drain 30th in a queue of 50 asks at every release).
   */
  order(
    tickets: readonly Ticket[],
    heartbeats: Heartbeats,
    allowed: number,
    now: number,
  ): {
    readonly live: readonly Ticket[];
    readonly passedOver: readonly Ticket[];
    readonly mine: boolean;
    readonly until: number;
  } {
    const slots = Math.max(1, allowed);
    const pdb = tickets[0]?.pdb ?? '';
    const before = this.headSince.get(pdb);
    const heads = new Map<string, number>();
    const live: Ticket[] = [];
    const passedOver: Ticket[] = [];
    let until = Number.POSITIVE_INFINITY;
    for (const ticket of this.inOrder(tickets)) {
      if (live.length >= slots) break;
      const changedAt = this.beatSeen(ticket.holder, heartbeats.get(ticket.holder), now);
      if (ticket.holder === this.me) {
        live.push(ticket);
        continue;
      }
      const headSince = before?.get(ticket.holder) ?? now;
      heads.set(ticket.holder, headSince);
      const expires = Math.max(headSince, changedAt) + TURN_LEASE_MS;
      if (now > expires) passedOver.push(ticket);
      else {
        live.push(ticket);
        until = Math.min(until, expires);
      }
    }
    // a ticket that left the head (released, or behind again) starts its lease anew when back
    this.headSince.set(pdb, heads);
    return { live, passedOver, mine: live.some((t) => t.holder === this.me), until };
  }

  private inOrder(tickets: readonly Ticket[]): readonly Ticket[] {
    let sorted = this.sorted.get(tickets);
    if (!sorted) {
      sorted = [...tickets].sort(byQueue);
      this.sorted.set(tickets, sorted);
    }
    return sorted;
  }

  /** When the holder last showed life: its heartbeat seen to change, or the holder first seen. */
  private beatSeen(holder: string, version: string | undefined, now: number): number {
    const seen = this.beats.get(holder);
    if (seen && seen.version === version) return seen.changedAt;
    this.beats.set(holder, { ...(version === undefined ? {} : { version }), changedAt: now });
    return now;
  }
}
