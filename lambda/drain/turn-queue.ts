/**
 * The order of a PDB's queue of drains (lambda/drain/turns.ts): first come, first served by the
 * ticket's time, and a holder that died is passed over. A ticket at the head must show life (its
 * renewal seen) within TURN_LEASE_MS of reaching the head, by the observer's clock (as client-go's
 * leader election judges a lease), or it is passed over; it keeps its place, so a continuation that
 * renews it again is back at the head. Pure.
 */
import type { PdbInfo } from './model.js';

/** A ticket at the head with no renewal seen for this long is passed over (its drain died or paused). */
export const TURN_LEASE_MS = 6_000;

export interface Ticket {
  /** The PDB, as `namespace/name`. */
  readonly pdb: string;
  /** The drain that queued (its node: one drain per node). */
  readonly holder: string;
  /** When it queued (epoch ms, the holder's clock): first come, first served. */
  readonly queuedAt: number;
  /** Changes with every write of the ticket (a renewal): how an observer sees it alive. */
  readonly version?: string;
}

export const pdbKey = (pdb: Pick<PdbInfo, 'namespace' | 'name'>): string => `${pdb.namespace}/${pdb.name}`;

export const byQueue = (a: Ticket, b: Ticket): number =>
  a.queuedAt - b.queuedAt || (a.holder < b.holder ? -1 : a.holder > b.holder ? 1 : 0);

/**
 * One drain's view of the queues: who holds a turn, judged with what it saw of each ticket's
 * renewals. `me` is this drain's holder name.
 */
export class TurnView {
  /** Per ticket (pdb + holder): the version last seen, when it changed, since when it is at the head. */
  private readonly seen = new Map<string, { version?: string; changedAt: number; headSince?: number }>();
  /**
   * Per PDB, the last answer of holds(): for the same tickets (the feed's array, the same until a
   * ticket changes) and slots it stays true until `until`, the first moment a head ticket's lease
   * could run out. The drain asks on every pass, for every pod (bench: most of a scale-in's CPU).
   */
  private readonly answers = new Map<
    string,
    {
      readonly tickets: readonly Ticket[];
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
  holds(tickets: readonly Ticket[], allowed: number, now: number): boolean {
    const pdb = tickets[0]?.pdb;
    if (pdb === undefined) return false;
    const slots = Math.max(1, allowed);
    const last = this.answers.get(pdb);
    if (last?.tickets === tickets && last.slots === slots && now <= last.until) return last.mine;
    const { mine, until } = this.order(tickets, allowed, now);
    this.answers.set(pdb, { tickets, slots, mine, until });
    return mine;
  }

  /**
   * The live queue in order, the tickets passed over, whether this drain holds a turn, and until when
   * that holds for these tickets (the earliest a live head ticket's lease runs out).
   */
  order(
    tickets: readonly Ticket[],
    allowed: number,
    now: number,
  ): {
    readonly live: readonly Ticket[];
    readonly passedOver: readonly Ticket[];
    readonly mine: boolean;
    readonly until: number;
  } {
    const slots = Math.max(1, allowed);
    const live: Ticket[] = [];
    const passedOver: Ticket[] = [];
    let until = Number.POSITIVE_INFINITY;
    for (const ticket of [...tickets].sort(byQueue)) {
      const key = `${ticket.pdb} ${ticket.holder}`;
      let seen = this.seen.get(key);
      if (!seen || seen.version !== ticket.version) {
        seen = {
          ...(ticket.version === undefined ? {} : { version: ticket.version }),
          changedAt: now,
          ...(seen?.headSince === undefined ? {} : { headSince: seen.headSince }),
        };
        this.seen.set(key, seen);
      }
      if (ticket.holder === this.me || live.length >= slots) {
        seen.headSince = undefined;
        live.push(ticket);
        continue;
      }
      seen.headSince ??= now;
      const expires = Math.max(seen.headSince, seen.changedAt) + TURN_LEASE_MS;
      if (now > expires) passedOver.push(ticket);
      else {
        live.push(ticket);
        until = Math.min(until, expires);
      }
    }
    const index = live.findIndex((t) => t.holder === this.me);
    return { live, passedOver, mine: index >= 0 && index < slots, until };
  }
}
