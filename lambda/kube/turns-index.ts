/**
 * The tickets per PDB and the drains' heartbeats (lambda/kube/turns.ts), kept from the watch event by
 * event: a drain reads them on every pass, and going over all the namespace's tickets at every change
 * cost 1.6 s of the 50-node benchmark's process. A PDB's array is replaced only when one of its
 * tickets changes, the heartbeats' map only when a heartbeat does: the drain's turn answers are kept
 * per array and map (lambda/drain/turn-queue.ts).
 */
import type { Heartbeats, Ticket } from '../drain/turn-queue.js';

/** A lease of the namespace's queues: a ticket, or a drain's heartbeat (its holder and version). */
export type TurnsLease = Ticket | { readonly beat: string; readonly version: string } | undefined;

export const isTicket = (lease: TurnsLease): lease is Ticket => lease !== undefined && 'pdb' in lease;

const isBeat = (lease: TurnsLease): lease is { readonly beat: string; readonly version: string } =>
  lease !== undefined && 'beat' in lease;

export class TurnsIndex {
  private byPdb = new Map<string, readonly Ticket[]>();
  private beats: Heartbeats = new Map();

  /** After a list: the whole set again (arrays and map kept where nothing changed). */
  listed(all: readonly TurnsLease[]): void {
    const byPdb = new Map<string, Ticket[]>();
    const beats = new Map<string, string>();
    for (const lease of all) {
      if (isTicket(lease)) {
        const some = byPdb.get(lease.pdb);
        if (some) some.push(lease);
        else byPdb.set(lease.pdb, [lease]);
      } else if (isBeat(lease)) beats.set(lease.beat, lease.version);
    }
    const before = this.byPdb;
    this.byPdb = new Map(
      [...byPdb].map(([pdb, tickets]) => {
        const was = before.get(pdb);
        const same = was?.length === tickets.length && was.every((t, i) => t === tickets[i]);
        return [pdb, same ? was : tickets];
      }),
    );
    const sameBeats = beats.size === this.beats.size && [...beats].every(([h, v]) => this.beats.get(h) === v);
    if (!sameBeats) this.beats = beats;
  }

  /** One lease added, changed or deleted (`previous`, `next`: the watch's objects before and after). */
  applied(previous: TurnsLease, next: TurnsLease): void {
    if (isTicket(previous)) {
      const left = (this.byPdb.get(previous.pdb) ?? []).filter((t) => t !== previous);
      if (left.length > 0) this.byPdb.set(previous.pdb, left);
      else this.byPdb.delete(previous.pdb);
    }
    if (isTicket(next)) this.byPdb.set(next.pdb, [...(this.byPdb.get(next.pdb) ?? []), next]);
    if (isBeat(previous) || isBeat(next)) {
      const beats = new Map(this.beats);
      if (isBeat(previous)) beats.delete(previous.beat);
      if (isBeat(next)) beats.set(next.beat, next.version);
      this.beats = beats;
    }
  }

  tickets(pdb: string): readonly Ticket[] {
    return this.byPdb.get(pdb) ?? [];
  }

  heartbeats(): Heartbeats {
    return this.beats;
  }
}
