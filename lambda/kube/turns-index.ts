/**
 * The tickets per PDB and the drains' heartbeats (lambda/kube/turns.ts), kept from the watch of the
 * drains' leases event by event: a drain reads them on every pass, and going over all the namespace's
 * tickets at every change cost 1.6 s of the 50-node benchmark's process. A PDB's array is replaced
 * only when one of its tickets is added, dropped or moved; the heartbeats' map (each drain's lease
 * version: every write of a drain's lease shows it alive) whenever a lease changes. The drain's turn
 * answers are kept per array and map (lambda/drain/turn-queue.ts).
 */
import type { Heartbeats, Ticket } from '../drain/turn-queue.js';
import type { DrainLease } from './turns-lease.js';

const NONE: ReadonlyMap<string, Ticket> = new Map();

export class TurnsIndex {
  private byPdb = new Map<string, readonly Ticket[]>();
  private beats: Heartbeats = new Map();

  /** After a list: the whole set again (arrays and map kept where nothing changed). */
  listed(all: readonly (DrainLease | undefined)[]): void {
    const byPdb = new Map<string, Ticket[]>();
    const beats = new Map<string, string>();
    for (const lease of all) {
      if (!lease) continue;
      beats.set(lease.holder, lease.version);
      for (const ticket of lease.tickets.values()) {
        const some = byPdb.get(ticket.pdb);
        if (some) some.push(ticket);
        else byPdb.set(ticket.pdb, [ticket]);
      }
    }
    const before = this.byPdb;
    this.byPdb = new Map(
      [...byPdb].map(([pdb, tickets]) => {
        const was = before.get(pdb);
        const same =
          was?.length === tickets.length && tickets.every((t) => was.some((w) => sameTicket(w, t)));
        return [pdb, same ? was : tickets];
      }),
    );
    const sameBeats = beats.size === this.beats.size && [...beats].every(([h, v]) => this.beats.get(h) === v);
    if (!sameBeats) this.beats = beats;
  }

  /**
   * One drain's lease added, changed or deleted (`previous`, `next`: the watch's before and after).
   * Returns the PDBs whose tickets of that drain it dropped (released).
   */
  applied(previous: DrainLease | undefined, next: DrainLease | undefined): string[] {
    const holder = (next ?? previous)?.holder;
    if (holder === undefined) return [];
    const [before, after] = [previous?.tickets ?? NONE, next?.tickets ?? NONE];
    const released: string[] = [];
    for (const pdb of before.keys()) {
      if (after.has(pdb)) continue;
      this.drop(pdb, holder);
      released.push(pdb);
    }
    for (const [pdb, ticket] of after) {
      const was = before.get(pdb);
      if (was && sameTicket(was, ticket)) continue;
      if (was) this.drop(pdb, holder);
      this.byPdb.set(pdb, [...(this.byPdb.get(pdb) ?? []), ticket]);
    }
    if (previous?.version !== next?.version) {
      const beats = new Map(this.beats);
      if (next) beats.set(holder, next.version);
      else beats.delete(holder);
      this.beats = beats;
    }
    return released;
  }

  tickets(pdb: string): readonly Ticket[] {
    return this.byPdb.get(pdb) ?? [];
  }

  heartbeats(): Heartbeats {
    return this.beats;
  }

  private drop(pdb: string, holder: string): void {
    const left = (this.byPdb.get(pdb) ?? []).filter((t) => t.holder !== holder);
    if (left.length > 0) this.byPdb.set(pdb, left);
    else this.byPdb.delete(pdb);
  }
}

/** The same ticket: holder, PDB and place (its queuedAt is the lease's, which no write changes). */
function sameTicket(a: Ticket, b: Ticket): boolean {
  return a.holder === b.holder && a.pdb === b.pdb && a.created === b.created;
}
