/**
 * Drains that share a PDB take turns instead of racing for its disruptions. Every drain that has a
 * pod under a PDB puts a ticket in that PDB's queue (in its own Lease of the drainer's namespace,
 * which lists its tickets: no write conflicts with another drain's); the queue is first come, first
 * served in the order the server wrote the tickets. A drain sends an eviction for a pod under the PDB only while its
 * ticket is among the first `max(1, disruptionsAllowed)` live tickets, and gives its ticket back once
 * its evictions under the PDB are answered and counted by the PDB's status (or its pods are gone, or
 * the drain ends). The API server's PDB check stays the guarantee; this only keeps drains from asking
 * for a disruption another drain is about to use. A drain holding a turn that another drain waits for
 * shows it is alive by renewing its Lease (every write of it does).
 *
 * The queue's order and a dead holder's lease: turn-queue.ts. Pure: the adapter
 * (lambda/kube/turns.ts) keeps the tickets and heartbeats current.
 *
 * The tickets and the PDBs come on two watches with no common order: a drain can see the ticket
 * ahead of it released before its PDB watch delivers the status that counts the released holder's
 * eviction, and would ask for a disruption already spent (refused). So a turn that another drain's
 * release handed over is used only once the PDB watch has caught up with that release (its
 * resourceVersion at least the release's, fresh.ts), or once a read of the PDB shows the view current
 * (behind in version only: readIfCurrent), or TURN_CATCH_UP_MS after it was seen.
 */
import { errorMessage } from '../errors.js';
import { olderThan } from './fresh.js';
import type { Guard } from './guard.js';
import type { PdbInfo } from './model.js';
import { pdbSpent } from './pacing.js';
import type { Clock, ResourceVersion } from './ports.js';
import type { PdbCoverage } from './selector.js';
import type { Track } from './track.js';
import { byQueue, type Heartbeats, pdbKey, type Ticket, TurnView } from './turn-queue.js';

/** A drain holding a turn another drain waits for renews its heartbeat this often. */
export const TURN_RENEW_MS = 2_000;
/**
 * A PDB watch still behind another drain's release this long after it was seen is trusted anyway
 * (a quiet cluster may send no PDB event for a while; the server's PDB check stays the guarantee).
 */
export const TURN_CATCH_UP_MS = 2_000;
/**
 * Tickets that could not be followed for a passing reason (a connect timeout in a mass start, a
 * watch that gave up) are tried again this often; meanwhile the drain goes uncoordinated.
 */
export const TURN_REFOLLOW_MS = 5_000;

/** The tickets of the PDBs, as the adapter's watch last saw them. */
export interface TicketFeed {
  /** The PDB's tickets, any order: the same array until one of them changes. */
  tickets(pdb: string): readonly Ticket[];
  /** The drains' heartbeats: the same map until one changes. */
  heartbeats(): Heartbeats;
  /** The resourceVersion of the newest release (deletion) of another drain's ticket for the PDB seen. */
  releasedAt(pdb: string): ResourceVersion | undefined;
  /** The watch gave up: turns are no longer known. */
  failed(): boolean;
  close(): void;
}

/** What the drain does with its own tickets (the adapter's writes). Each may throw. */
export interface TicketWriter {
  /** Queues for the PDB; a ticket already there (a continuation's) keeps its place. */
  take(pdb: string): Promise<void>;
  release(pdb: string): Promise<void>;
  /** Shows this drain alive (renews its Lease). */
  heartbeat(): Promise<void>;
  /** The drain ends: its Lease, an earlier invocation's too, goes once it holds no ticket. */
  endHeartbeat(): Promise<void>;
}

/** The queues' side the drain needs: following the tickets, and writing its own. */
export interface TurnsPort extends TicketWriter {
  /**
   * Lists and watches the tickets; rejects when that cannot be done (no permission, say). `onChange`
   * is called when this drain's own ticket changes, and when another drain's ticket for a PDB is
   * released and `wakesOnRelease(pdb)` says yes (default: every release).
   */
  follow(onChange: () => void, wakesOnRelease?: (pdb: string) => boolean): Promise<TicketFeed>;
}

type Log = {
  info(message: string, data?: Record<string, unknown>): void;
  warn(message: string, data?: Record<string, unknown>): void;
};

/**
 * One drain's turns: queues for the PDBs its pods need, says whether it holds a turn, keeps the
 * turns it holds alive, and gives its tickets back. Never required for safety: when the queues cannot
 * be had the drain goes on uncoordinated, as it did before turns: for good without permission for
 * the leases (said once), until they can be followed again after any other failure (a connect
 * timeout, a watch that gave up: tried again every TURN_REFOLLOW_MS, said once per spell).
 */
export class PdbTurns {
  private feed?: TicketFeed;
  private onChange: () => void = () => {};
  private clock: Pick<Clock, 'now'> = { now: Date.now };
  /** The tickets could not be followed for a passing reason: when to try again. */
  private retryAt?: number;
  private readonly view: TurnView;
  /**
   * This drain's tickets: queued (written) or being queued, seen in the watch, and when each turn it
   * holds is renewed next.
   */
  private readonly mine = new Map<string, Mine>();
  /** When the heartbeat was last written (at most one write per TURN_RENEW_MS for all its turns). */
  private beatAt?: number;
  /** The PDBs the drain needed disruptions of at its last pass (settle); undefined before the first. */
  private needed?: ReadonlySet<string>;
  private off = false;

  /**
   * @param readPdb a consistent read of one PDB (ClusterPort.readPdb): tells a PDB view that is
   *   behind a release only in version from one that misses a write (caughtUp).
   */
  constructor(
    private readonly port: TurnsPort,
    holder: string,
    private readonly log: Log,
    private readonly readPdb?: (namespace: string, name: string) => Promise<PdbInfo | undefined>,
  ) {
    this.view = new TurnView(holder);
  }

  /** Follows the queues; `onChange` wakes the drain when a ticket change may concern it. */
  async start(onChange: () => void, clock: Pick<Clock, 'now'>): Promise<void> {
    this.onChange = onChange;
    this.clock = clock;
    await this.follow(clock.now());
  }

  /**
   * Follows the queues again once TURN_REFOLLOW_MS passed since they could not be (or gave up); no
   * promise when there is nothing to do (the drain asks on every pass).
   */
  refollow(now: number): Promise<void> | undefined {
    if (this.feed?.failed()) {
      this.feed.close();
      this.feed = undefined;
      this.unavailable(new Error('the tickets watch gave up'), now);
    }
    if (this.off || this.feed || this.retryAt === undefined || now < this.retryAt) return undefined;
    return this.follow(now);
  }

  get coordinated(): boolean {
    return !this.off && this.feed !== undefined && !this.feed.failed();
  }

  private async follow(now: number): Promise<void> {
    try {
      this.feed = await this.port.follow(this.onChange, (pdb) => this.wakesOnRelease(pdb));
      if (this.retryAt !== undefined) this.log.info('PDB turns back: draining coordinated again');
      this.retryAt = undefined;
    } catch (error) {
      if (isForbidden(error)) this.uncoordinated(error);
      else this.unavailable(error, now);
    }
  }

  /** Uncoordinated until the tickets can be followed again (said once per spell). */
  private unavailable(error: unknown, now: number): void {
    if (this.retryAt === undefined) {
      this.log.warn('draining uncoordinated for now: the PDB turns cannot be followed; trying again', {
        error: errorMessage(error),
      });
    }
    this.retryAt = now + TURN_REFOLLOW_MS;
  }

  /**
   * Whether the drain may evict a pod under `pdb` now: it holds a turn (queueing first if it has
   * not), and its PDB view (`pdbsVersion`, the PDB watch's resourceVersion) has caught up with the
   * last release of another drain's ticket for the PDB.
   */
  mayUse(pdb: PdbInfo, now: number, pdbsVersion?: ResourceVersion): boolean {
    if (!this.coordinated || !this.feed) return true;
    const key = pdbKey(pdb);
    const entry = this.mine.get(key);
    if (!entry) {
      this.queue(key);
      return false;
    }
    if (!entry.queued) return false;
    const tickets = this.feed.tickets(key);
    if (!tickets.some((t) => t.holder === this.view.me)) {
      // seen before and gone now (someone deleted it): queue again, at the back
      if (entry.seen) this.queue(key);
      // written but not seen yet: wait for the watch, so the order is the one everyone sees
      return false;
    }
    entry.seen = true;
    const holds = this.view.holds(tickets, this.feed.heartbeats(), pdb.disruptionsAllowed, now);
    if (!holds) return false;
    this.keepAlive(key, entry, now);
    return this.caughtUp(entry, pdb, this.feed.releasedAt(key), pdbsVersion, now);
  }

  /**
   * Whether the PDB view is at least as new as the last release seen, or read to be current, or
   * waited for long enough.
   */
  private caughtUp(
    entry: Mine,
    pdb: PdbInfo,
    release: ResourceVersion | undefined,
    pdbsVersion: ResourceVersion | undefined,
    now: number,
  ): boolean {
    if (release === undefined || !olderThan(pdbsVersion, release)) return true;
    if (entry.behind?.release !== release) entry.behind = { release, since: now };
    if (entry.behind.current) return true;
    // a view that allows no disruption needs no read: the status that allows one comes on the PDB
    // watch after the release and passes it (bench: 700 of 710 reads were of such a view)
    if (pdb.disruptionsAllowed > 0) this.readIfCurrent(entry.behind, pdb);
    return now - entry.behind.since >= TURN_CATCH_UP_MS;
  }

  /**
   * A PDB watch behind a release is often behind in version only: nothing happened to the PDB since
   * the status that allows the next disruption, which came before the release (the previous holder
   * released late), so no PDB event brings the watch past it. One consistent read of the PDB tells:
   * the same object version as the view's means the view is current, and the turn is used at once
   * (the drain is woken) instead of TURN_CATCH_UP_MS later. Read only while the view allows a
   * disruption (caughtUp), again only when the view's version of the PDB changed; a failed read leaves
   * the wait as it was.
   */
  private readIfCurrent(behind: Behind, pdb: PdbInfo): void {
    const seen = pdb.resourceVersion;
    if (!this.readPdb || seen === undefined || behind.readFor === seen) return;
    behind.readFor = seen;
    this.readPdb(pdb.namespace, pdb.name).then(
      (current) => {
        if (current?.resourceVersion !== seen) return;
        behind.current = true;
        this.onChange();
      },
      () => {},
    );
  }

  /**
   * Whether a change of the PDB can wait for the drain's next timed pass: coordinated, and at its
   * last pass the drain needed none of the PDB's disruptions, or waited in its queue behind holders
   * of as many turns as the PDB allows now. A drain that holds the turn, or has not queued or seen its
   * ticket yet, is woken.
   */
  idleFor(pdb: PdbInfo): boolean {
    if (!this.coordinated || !this.needed) return false;
    const key = pdbKey(pdb);
    if (!this.needed.has(key)) return true;
    return this.mine.get(key)?.seen === true && this.view.waits(key, pdb.disruptionsAllowed);
  }

  /**
   * Whether another drain's release of a ticket for the PDB must wake this drain: it is queued there
   * and holds a turn now (50 drains at a PDB: the next in line is woken, not the 49 still waiting).
   * Its own ticket not seen yet: it is woken (the drain's passes decide).
   */
  private wakesOnRelease(key: string): boolean {
    const entry = this.mine.get(key);
    if (!entry) return false;
    if (!this.feed || !entry.seen) return true;
    return this.view.holdsAsBefore(this.feed.tickets(key), this.feed.heartbeats(), this.clock.now());
  }

  /** Renews the turns it holds (also those whose pods are all sent, until their evictions are counted). */
  tick(allowedOf: (key: string) => number | undefined, now: number): void {
    if (!this.coordinated || !this.feed) return;
    for (const [key, entry] of this.mine) {
      const allowed = allowedOf(key);
      if (!entry.queued || allowed === undefined) continue;
      if (this.view.holds(this.feed.tickets(key), this.feed.heartbeats(), allowed, now)) {
        this.keepAlive(key, entry, now);
      }
    }
  }

  /** The PDBs it queued for. */
  queued(): string[] {
    return [...this.mine.keys()];
  }

  /**
   * After a pass: gives back the tickets of PDBs the drain needs no more disruptions of (each of its
   * pods under it sent, answered and counted by the PDB's status, or gone), and keeps the turns it
   * holds alive. `pdbOf` is the one PDB a track's eviction spends, if any.
   */
  settle(
    tracks: Iterable<Track>,
    inFlight: (track: Track) => boolean,
    pdbOf: (track: Track) => PdbInfo | undefined,
    now: number,
  ): void {
    const needed = new Set<string>();
    const allowed = new Map<string, number>();
    for (const track of tracks) {
      const pdb = pdbOf(track);
      if (!pdb) continue;
      const key = pdbKey(pdb);
      allowed.set(key, pdb.disruptionsAllowed);
      if (track.state === 'pending' || inFlight(track) || track.spentPdb !== undefined) needed.add(key);
    }
    this.needed = needed;
    for (const key of this.queued()) if (!needed.has(key)) this.release(key);
    this.tick((key) => allowed.get(key), now);
  }

  /** Gives a ticket back: the drain needs no more disruptions of that PDB. */
  release(key: string): void {
    if (!this.mine.delete(key)) return;
    void this.port
      .release(key)
      .catch((error: unknown) => this.warn('could not give a PDB turn back', key, error));
  }

  /**
   * At the drain's end: gives every ticket back and deletes its heartbeat, or, when `keepPlaces` (it
   * hands over to a continuation), keeps them so the continuation keeps its places.
   */
  async close(keepPlaces: boolean): Promise<void> {
    // a heartbeat of this node's: written by this invocation or an earlier one of the same drain
    const beating = this.beatAt !== undefined || this.feed?.heartbeats().has(this.view.me) === true;
    this.feed?.close();
    if (keepPlaces) return;
    const keys = [...this.mine.keys()];
    this.mine.clear();
    await Promise.all([
      ...keys.map((key) =>
        this.port
          .release(key)
          .catch((error: unknown) => this.warn('could not give a PDB turn back', key, error)),
      ),
      beating &&
        this.port
          .endHeartbeat()
          .catch((error: unknown) =>
            this.log.warn("could not delete the drain's heartbeat", { error: errorMessage(error) }),
          ),
    ]);
  }

  private queue(key: string): void {
    const entry: Mine = { queued: false, seen: false };
    this.mine.set(key, entry);
    this.port.take(key).then(
      () => {
        entry.queued = true;
      },
      (error: unknown) => {
        this.mine.delete(key);
        if (isForbidden(error)) this.uncoordinated(error);
        else this.warn('could not queue for a PDB turn; trying again', key, error);
      },
    );
  }

  /**
   * Shows a turn it holds alive TURN_RENEW_MS after it began and every TURN_RENEW_MS from then on,
   * while another drain is queued for the PDB: a turn shorter than that (most: one eviction) writes
   * nothing, nor does a drain alone at its PDB (nobody judges its life; a drain that queues later sees
   * a heartbeat within TURN_RENEW_MS, well within the lease it gives the head). One heartbeat serves
   * all its turns: at most one write per TURN_RENEW_MS.
   */
  private keepAlive(key: string, entry: Mine, now: number): void {
    if (entry.renewAt === undefined) {
      entry.renewAt = now + TURN_RENEW_MS;
      return;
    }
    if (now < entry.renewAt) return;
    entry.renewAt = now + TURN_RENEW_MS;
    if (!this.feed?.tickets(key).some((t) => t.holder !== this.view.me)) return;
    if (this.beatAt !== undefined && now - this.beatAt < TURN_RENEW_MS) return;
    this.beatAt = now;
    void this.port
      .heartbeat()
      .catch((error: unknown) =>
        this.log.warn("could not renew the drain's heartbeat", { error: errorMessage(error) }),
      );
  }

  private uncoordinated(error: unknown): void {
    if (this.off) return;
    this.off = true;
    this.log.warn('draining uncoordinated: the PDB turns cannot be had', {
      error: errorMessage(error),
    });
  }

  private warn(message: string, pdb: string, error: unknown): void {
    this.log.warn(message, { pdb, error: errorMessage(error) });
  }
}

interface Mine {
  queued: boolean;
  /** Its ticket showed in the watch: gone from it later means someone deleted it. */
  seen: boolean;
  renewAt?: number;
  /** The release its PDB view is behind, and since when (TURN_CATCH_UP_MS). */
  behind?: Behind;
}

interface Behind {
  readonly release: ResourceVersion;
  readonly since: number;
  /** The view's version of the PDB last read to check (readIfCurrent). */
  readFor?: ResourceVersion;
  /** A read showed the view's PDB current after the release. */
  current?: boolean;
}

/** 403 (no permission for the leases) or 404 (no namespace of the drainer's): no turns to be had. */
function isForbidden(error: unknown): boolean {
  const status = (error as { status?: number } | undefined)?.status;
  return status === 403 || status === 404;
}

/** A dry run's view of the queues: for each PDB its pods would need a turn of, who queued first. */
export interface PlannedTurn {
  readonly pdb: string;
  /** The drains (nodes) already in the PDB's queue, first come first: a drain now would wait behind them. */
  readonly behind: readonly string[];
}

/**
 * A dry run: for each PDB the planned pods would need a turn of, the drains already queued (one look
 * at the tickets; nothing written).
 */
export async function plannedTurnsOf(
  port: TurnsPort,
  me: string,
  planned: readonly Track[],
  pdbsIn: (namespace: string) => Promise<readonly PdbInfo[] | undefined>,
  coverage: PdbCoverage,
  guard: Guard,
): Promise<PlannedTurn[]> {
  const pdbs = new Set<string>();
  for (const namespace of new Set(planned.map((t) => t.pod.namespace))) {
    const inNamespace = (await pdbsIn(namespace)) ?? [];
    for (const track of planned.filter((t) => t.pod.namespace === namespace)) {
      const pdb = pdbSpent(track.pod, inNamespace, coverage);
      if (pdb) pdbs.add(pdbKey(pdb));
    }
  }
  const feed = await guard.run(() => port.follow(() => {}));
  try {
    return [...pdbs].sort().map((pdb) => ({
      pdb,
      behind: [...feed.tickets(pdb)]
        .filter((t) => t.holder !== me)
        .sort(byQueue)
        .map((t) => t.holder),
    }));
  } finally {
    feed.close();
  }
}
