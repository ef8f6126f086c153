import { describe, expect, it } from 'vitest';
import type { Track } from '../../lambda/drain/track.js';
import { type Heartbeats, type Ticket, TURN_LEASE_MS, TurnView } from '../../lambda/drain/turn-queue.js';
import { PdbTurns, TURN_CATCH_UP_MS, TURN_REFOLLOW_MS, type TurnsPort } from '../../lambda/drain/turns.js';
import { drainSetup, pod, WatchedCluster } from '../support/fakes.js';

const T0 = 1_700_000_000_000;
/** A ticket created at revision `created` (its place in the queue), queued at `queuedAt` by its holder's clock. */
const ticket = (holder: string, created: number, queuedAt = T0): Ticket => ({
  pdb: 'shop/web',
  holder,
  queuedAt,
  created: String(created),
});
const beats = (entries: Record<string, string> = {}): Heartbeats => new Map(Object.entries(entries));
const NONE = beats();

describe('TurnView', () => {
  it('gives the turn to the first ticket created: first come, first served', () => {
    const tickets = [ticket('c', 12), ticket('a', 10), ticket('b', 11)];

    expect(new TurnView('a').holds(tickets, NONE, 1, T0)).toBe(true);
    expect(new TurnView('b').holds(tickets, NONE, 1, T0)).toBe(false);
    expect(new TurnView('c').holds(tickets, NONE, 1, T0)).toBe(false);
  });

  it("orders by the server's creation revision, not by the drains' clocks", () => {
    // b's clock is behind a's: b says it queued first, but the server created a's ticket first
    // (every drain sees a's ticket before b's in its watch)
    for (const tickets of [
      [ticket('a', 10, T0 + 5), ticket('b', 11, T0)],
      [ticket('b', 11, T0), ticket('a', 10, T0 + 5)],
    ]) {
      expect(new TurnView('a').holds(tickets, NONE, 1, T0)).toBe(true);
      expect(new TurnView('b').holds(tickets, NONE, 1, T0)).toBe(false);
    }
  });

  it('orders by the time queued where the revisions cannot be ordered, then by holder, the same for every drain', () => {
    const opaque = (holder: string, queuedAt: number): Ticket => ({
      pdb: 'shop/web',
      holder,
      queuedAt,
      created: 'x',
    });
    const byTime = [opaque('b', T0), opaque('a', T0 + 1)];
    expect(new TurnView('b').holds(byTime, NONE, 1, T0)).toBe(true);
    expect(new TurnView('a').holds(byTime, NONE, 1, T0)).toBe(false);

    const tied = [opaque('node-b', T0), opaque('node-a', T0)];
    expect(new TurnView('node-a').holds(tied, NONE, 1, T0)).toBe(true);
    expect(new TurnView('node-b').holds(tied, NONE, 1, T0)).toBe(false);
  });

  it('gives as many turns as the PDB allows disruptions, and one when it allows none', () => {
    const tickets = [ticket('a', 10), ticket('b', 11), ticket('c', 12)];

    expect(new TurnView('b').holds(tickets, NONE, 2, T0)).toBe(true);
    expect(new TurnView('c').holds(tickets, NONE, 2, T0)).toBe(false);
    expect(new TurnView('a').holds(tickets, NONE, 0, T0)).toBe(true);
  });

  it('holds no turn without a ticket of its own', () => {
    expect(new TurnView('z').holds([ticket('a', 10)], NONE, 5, T0)).toBe(false);
  });

  it('passes over a head that shows no life within the lease, and lets it back when its heartbeat changes', () => {
    const view = new TurnView('b');
    const tickets = [ticket('a', 10), ticket('b', 11)];
    const alive = beats({ a: '20' });

    expect(view.holds(tickets, alive, 1, T0)).toBe(false);
    expect(view.holds(tickets, alive, 1, T0 + TURN_LEASE_MS)).toBe(false);
    expect(view.holds(tickets, beats({ a: '20' }), 1, T0 + TURN_LEASE_MS + 1)).toBe(true);
    // a continuation beats for the dead holder: it is back at the head, its place kept
    expect(view.holds(tickets, beats({ a: '21' }), 1, T0 + TURN_LEASE_MS + 2)).toBe(false);
  });

  it("judges a holder's life by its one heartbeat for all its tickets", () => {
    const view = new TurnView('c');
    const web = [ticket('a', 10), ticket('c', 12)];
    expect(view.holds(web, beats({ a: '1' }), 1, T0)).toBe(false);
    // a beats (for another PDB's turn, say): its ticket at shop/web's head lives on past the lease
    expect(view.holds(web, beats({ a: '2' }), 1, T0 + TURN_LEASE_MS - 1)).toBe(false);
    expect(view.holds(web, beats({ a: '2' }), 1, T0 + TURN_LEASE_MS + 1)).toBe(false);
    expect(view.holds(web, beats({ a: '2' }), 1, T0 + 2 * TURN_LEASE_MS)).toBe(true);
  });

  it('counts the lease from when the ticket reached the head, not from when it was queued', () => {
    const view = new TurnView('c');
    // b holds the turn, a waits behind it (never beating: it need not), c last
    const waiting = [ticket('b', 10), ticket('a', 11), ticket('c', 12)];
    expect(view.holds(waiting, NONE, 1, T0)).toBe(false);
    // b kept beating, then left: a reaches the head now, with no heartbeat since it queued
    for (let t = 2_000; t <= 10_000; t += 2_000) view.holds(waiting, beats({ b: `${t}` }), 1, T0 + t);
    const afterB = waiting.slice(1);
    expect(view.holds(afterB, NONE, 1, T0 + 10_001)).toBe(false);
    expect(view.holds(afterB, NONE, 1, T0 + 10_001 + TURN_LEASE_MS)).toBe(false);
    expect(view.holds(afterB, NONE, 1, T0 + 10_002 + TURN_LEASE_MS)).toBe(true);
  });

  it('never passes over its own ticket', () => {
    const view = new TurnView('a');

    expect(view.holds([ticket('a', 10), ticket('b', 11)], NONE, 1, T0 + 10 * TURN_LEASE_MS)).toBe(true);
  });

  it('reports the tickets it passed over', () => {
    const view = new TurnView('b');
    const tickets = [ticket('a', 10), ticket('b', 11)];
    view.order(tickets, NONE, 1, T0);

    const later = view.order(tickets, NONE, 1, T0 + TURN_LEASE_MS + 1);

    expect(later.passedOver.map((t) => t.holder)).toEqual(['a']);
    expect(later.live.map((t) => t.holder)).toEqual(['b']);
  });
});

/** Queues in memory: what the Leases hold (the order and liveness logic under test is the product's). */
class MemoryQueues {
  readonly tickets = new Map<string, Ticket>();
  /** holder → heartbeat version; a new map on every change (as the adapter's feed). */
  heartbeats: Heartbeats = new Map();
  readonly calls: string[] = [];
  /** Every release, with the version it was written at (a Lease's deletion revision). */
  readonly releases: { pdb: string; holder: string; version: string }[] = [];
  private listeners: (() => void)[] = [];
  private version = 0;
  /** Per holder, the predicate its drain gave for releases (the adapter asks it: tested on the real server). */
  readonly wakesOnRelease = new Map<string, ((pdb: string) => boolean) | undefined>();
  failTake?: Error & { status?: number };
  followFails?: number;
  feedFailed = false;

  port(holder: string, clock: { now(): number }): TurnsPort {
    return {
      follow: async (onChange, wakesOnRelease) => {
        this.wakesOnRelease.set(holder, wakesOnRelease);
        if (this.followFails) {
          throw Object.assign(new Error(`HTTP ${this.followFails}`), { status: this.followFails });
        }
        this.listeners.push(onChange);
        return {
          tickets: (pdb) => [...this.tickets.values()].filter((t) => t.pdb === pdb),
          heartbeats: () => this.heartbeats,
          releasedAt: (pdb) => this.releases.findLast((r) => r.pdb === pdb && r.holder !== holder)?.version,
          failed: () => this.feedFailed,
          close: () => {},
        };
      },
      take: async (pdb) => {
        this.calls.push(`take ${pdb} ${holder}`);
        if (this.failTake) throw this.failTake;
        const key = `${pdb} ${holder}`;
        if (this.tickets.has(key)) return;
        this.tickets.set(key, { pdb, holder, queuedAt: clock.now(), created: String(++this.version) });
        this.changed();
      },
      release: async (pdb) => {
        this.calls.push(`release ${pdb} ${holder}`);
        if (this.tickets.delete(`${pdb} ${holder}`)) {
          this.releases.push({ pdb, holder, version: String(++this.version) });
        }
        this.changed();
      },
      heartbeat: async () => {
        this.calls.push(`heartbeat ${holder}`);
        this.heartbeats = new Map([...this.heartbeats, [holder, String(++this.version)]]);
      },
      endHeartbeat: async () => {
        this.calls.push(`endHeartbeat ${holder}`);
        this.heartbeats = new Map([...this.heartbeats].filter(([h]) => h !== holder));
      },
    };
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}

const settle = () => new Promise((resolve) => setImmediate(resolve));
const PDB = { namespace: 'shop', name: 'web', disruptionsAllowed: 1, currentHealthy: 3, desiredHealthy: 2 };

describe('PdbTurns', () => {
  function setup(holder = 'node-a') {
    let now = T0;
    const clock = { now: () => now };
    const queues = new MemoryQueues();
    const logs: { message: string }[] = [];
    const log = {
      info: (message: string) => void logs.push({ message }),
      warn: (message: string) => void logs.push({ message }),
    };
    const turns = new PdbTurns(queues.port(holder, clock), holder, log);
    return {
      turns,
      queues,
      logs,
      clock,
      advance: (ms: number) => (now += ms),
      port: queues.port.bind(queues),
    };
  }

  it('queues at the first ask and holds the turn only once its ticket is seen', async () => {
    const { turns, queues } = setup();
    await turns.start(() => {}, { now: () => T0 });

    expect(turns.mayUse(PDB, T0)).toBe(false);
    await settle();
    expect(queues.calls).toEqual(['take shop/web node-a']);
    expect(turns.mayUse(PDB, T0)).toBe(true);
  });

  /** node-b's turns, started behind node-a's ticket for shop/web. */
  async function behindNodeA() {
    const state = setup('node-b');
    const other = state.queues.port('node-a', state.clock);
    await other.take('shop/web');
    await state.turns.start(() => {}, { now: () => T0 });
    return { ...state, other };
  }

  it('waits behind a drain that queued first, and holds the turn once it is given back', async () => {
    const { turns, other } = await behindNodeA();
    turns.mayUse(PDB, T0);
    await settle();

    expect(turns.mayUse(PDB, T0 + 1)).toBe(false);
    await other.release('shop/web');
    expect(turns.mayUse(PDB, T0 + 2)).toBe(true);
  });

  it('is woken by a release only where it now holds the turn: the next in line, not the drains behind it', async () => {
    const { turns, queues, other, clock, logs } = await behindNodeA();
    const third = new PdbTurns(queues.port('node-c', clock), 'node-c', {
      info: (message) => void logs.push({ message }),
      warn: (message) => void logs.push({ message }),
    });
    await third.start(() => {}, { now: () => T0 });
    turns.mayUse(PDB, T0);
    await settle();
    third.mayUse(PDB, T0);
    await settle();
    turns.mayUse(PDB, T0);
    third.mayUse(PDB, T0);
    const wakes = (holder: string, pdb = 'shop/web') => queues.wakesOnRelease.get(holder)?.(pdb);
    expect([wakes('node-b'), wakes('node-c')]).toEqual([false, false]);
    // not queued for a PDB: a release there is nothing to it
    expect(wakes('node-b', 'shop/other')).toBe(false);

    await other.release('shop/web');
    expect([wakes('node-b'), wakes('node-c')]).toEqual([true, false]);
    turns.release('shop/web');
    await settle();
    expect(wakes('node-c')).toBe(true);
  });

  it('uses a turn handed over by a release only once its PDB view has caught up with the release', async () => {
    const { turns, queues, other } = await behindNodeA();
    turns.mayUse(PDB, T0, '1');
    await settle();
    await other.release('shop/web');
    const release = queues.releases[0]?.version ?? '';
    const before = String(Number(release) - 1);

    // the PDB watch still shows the status before the released holder's eviction was counted
    expect(turns.mayUse(PDB, T0 + 1, before)).toBe(false);
    expect(turns.mayUse(PDB, T0 + 1 + TURN_CATCH_UP_MS - 1, before)).toBe(false);
    expect(turns.mayUse(PDB, T0 + 2, release)).toBe(true);
    expect(turns.mayUse(PDB, T0 + 3, String(Number(release) + 5))).toBe(true);
  });

  /**
   * node-b behind node-a, whose PDB view (object and watch at version `view`) is behind node-a's
   * release in version; `server` is the PDB's version a consistent read returns.
   */
  async function releasedLate(server: () => string) {
    const { queues, clock, logs } = setup('node-b');
    const reads: string[] = [];
    const turns = new PdbTurns(
      queues.port('node-b', clock),
      'node-b',
      { info: (message) => void logs.push({ message }), warn: (message) => void logs.push({ message }) },
      async (namespace, name) => {
        reads.push(`${namespace}/${name}`);
        return { ...PDB, resourceVersion: server() };
      },
    );
    const other = queues.port('node-a', clock);
    await other.take('shop/web');
    let wakes = 0;
    await turns.start(() => wakes++, { now: () => T0 });
    const view = (version: string) => ({ ...PDB, resourceVersion: version });
    turns.mayUse(view('1'), T0, '1');
    await settle();
    await other.release('shop/web');
    const release = Number(queues.releases[0]?.version);
    return { turns, reads, view, release, wakes: () => wakes };
  }

  /** At view `version` (behind the release): one read finds it current, wakes the drain, the turn is used. */
  async function usedAfterOneRead(
    late: Awaited<ReturnType<typeof releasedLate>>,
    version: string,
    at: number,
  ) {
    const { turns, reads, view, wakes } = late;
    expect(turns.mayUse(view(version), at, version)).toBe(false);
    const woken = wakes();
    await settle();

    expect(reads).toEqual(['shop/web']);
    expect(wakes()).toBe(woken + 1);
    expect(turns.mayUse(view(version), at + 1, version)).toBe(true);
  }

  it('uses a turn released after its PDB view at once when a read shows the view current', async () => {
    const late = await releasedLate(() => '1');
    expect(late.release).toBeGreaterThan(1);

    await usedAfterOneRead(late, '1', T0 + 1);
  });

  it('reads nothing while its PDB view allows no disruption, and once it allows one', async () => {
    let server = '1';
    const late = await releasedLate(() => server);
    const none = (version: string) => ({ ...late.view(version), disruptionsAllowed: 0 });

    expect(late.turns.mayUse(none('1'), T0 + 1, '1')).toBe(false);
    await settle();
    expect(late.reads).toEqual([]);
    // the status that allows the next disruption came before the release: read, current, woken
    server = '2';
    expect(late.release).toBeGreaterThan(2);
    await usedAfterOneRead(late, '2', T0 + 2);
  });

  it('waits as before when the read shows a write its PDB view has not seen, and reads again once the view changes', async () => {
    let server = '2';
    const { turns, reads, view } = await releasedLate(() => server);

    expect(turns.mayUse(view('1'), T0 + 1, '1')).toBe(false);
    await settle();
    expect(turns.mayUse(view('1'), T0 + 2, '1')).toBe(false);
    expect(reads).toHaveLength(1);
    // the watch delivers the write the read saw, still before the release: one more read, current now
    server = '2';
    expect(turns.mayUse(view('2'), T0 + 3, '2')).toBe(false);
    await settle();
    expect(reads).toHaveLength(2);
    expect(turns.mayUse(view('2'), T0 + 4, '2')).toBe(true);
  });

  it('waits TURN_CATCH_UP_MS as before when the read shows the view missing a write and nothing else comes', async () => {
    const { turns, view } = await releasedLate(() => '2');

    expect(turns.mayUse(view('1'), T0 + 1, '1')).toBe(false);
    await settle();
    expect(turns.mayUse(view('1'), T0 + TURN_CATCH_UP_MS, '1')).toBe(false);
    expect(turns.mayUse(view('1'), T0 + 1 + TURN_CATCH_UP_MS, '1')).toBe(true);
  });

  it('trusts a PDB view still behind the release after TURN_CATCH_UP_MS, and one whose version cannot be ordered', async () => {
    const { turns, other } = await behindNodeA();
    turns.mayUse(PDB, T0);
    await settle();
    await other.release('shop/web');

    expect(turns.mayUse(PDB, T0 + 10, '0')).toBe(false);
    expect(turns.mayUse(PDB, T0 + 10 + TURN_CATCH_UP_MS, '0')).toBe(true);
    expect(turns.mayUse(PDB, T0 + 11, 'not-a-revision')).toBe(true);
    expect(turns.mayUse(PDB, T0 + 11)).toBe(true);
  });

  it('writes no heartbeat while no other drain is queued for the PDB', async () => {
    const { turns, queues } = setup();
    await turns.start(() => {}, { now: () => T0 });
    turns.mayUse(PDB, T0);
    await settle();
    turns.mayUse(PDB, T0 + 100);
    for (const at of [2_100, 4_200, 6_300, 8_400]) turns.tick(() => 1, T0 + at);
    await settle();

    expect(queues.calls.filter((c) => c.startsWith('heartbeat'))).toEqual([]);
  });

  it('beats for a turn it holds 2 s after it began and every 2 s on while another drain waits, and gives tickets and heartbeat back', async () => {
    const { turns, queues, clock, advance } = setup();
    await turns.start(() => {}, { now: () => T0 });
    turns.mayUse(PDB, T0);
    await settle();
    advance(1);
    await queues.port('node-b', clock).take('shop/web');
    turns.mayUse(PDB, T0 + 100);
    turns.tick(() => 1, T0 + 1_000);
    await settle();
    expect(queues.calls.filter((c) => c.startsWith('heartbeat'))).toHaveLength(0);
    turns.tick(() => 1, T0 + 2_100);
    turns.tick(() => 1, T0 + 3_000);
    turns.tick(() => 1, T0 + 4_200);
    await settle();

    expect(queues.calls.filter((c) => c.startsWith('heartbeat'))).toEqual([
      'heartbeat node-a',
      'heartbeat node-a',
    ]);
    turns.release('shop/web');
    await settle();
    expect(queues.tickets.has('shop/web node-a')).toBe(false);
    expect(turns.queued()).toEqual([]);
    await turns.close(false);
    expect(queues.heartbeats.has('node-a')).toBe(false);
  });

  it('writes one heartbeat for all the turns it holds', async () => {
    const { turns, queues, clock } = setup();
    const DB = { ...PDB, name: 'db' };
    await turns.start(() => {}, { now: () => T0 });
    turns.mayUse(PDB, T0);
    turns.mayUse(DB, T0);
    await settle();
    await queues.port('node-b', clock).take('shop/web');
    await queues.port('node-b', clock).take('shop/db');
    turns.mayUse(PDB, T0 + 100);
    turns.mayUse(DB, T0 + 600);
    for (const at of [2_100, 2_600, 4_100, 4_600]) turns.tick(() => 1, T0 + at);
    await settle();

    expect(queues.calls.filter((c) => c.startsWith('heartbeat'))).toEqual([
      'heartbeat node-a',
      'heartbeat node-a',
    ]);
  });

  it('queues again, at the back, when its ticket disappears (someone deleted it)', async () => {
    const { turns, queues, clock, advance } = setup('node-a');
    await turns.start(() => {}, { now: () => T0 });
    turns.mayUse(PDB, T0);
    await settle();
    expect(turns.mayUse(PDB, T0)).toBe(true);
    advance(5);
    await queues.port('node-b', clock).take('shop/web');
    queues.tickets.delete('shop/web node-a');
    advance(5);

    expect(turns.mayUse(PDB, T0 + 1)).toBe(false);
    await settle();
    expect(queues.calls.filter((c) => c === 'take shop/web node-a')).toHaveLength(2);
    expect(turns.mayUse(PDB, T0 + 2)).toBe(false);
  });

  it('keeps its places when it hands over, and gives them back when it ends', async () => {
    const kept = setup();
    await kept.turns.start(() => {}, { now: () => T0 });
    kept.turns.mayUse(PDB, T0);
    await settle();
    kept.queues.heartbeats = beats({ 'node-a': '7' });
    await kept.turns.close(true);
    expect(kept.queues.tickets.size).toBe(1);
    expect(kept.queues.heartbeats.has('node-a')).toBe(true);

    const ended = setup();
    await ended.turns.start(() => {}, { now: () => T0 });
    ended.turns.mayUse(PDB, T0);
    await settle();
    // a heartbeat an earlier invocation of this drain wrote
    ended.queues.heartbeats = beats({ 'node-a': '7' });
    await ended.turns.close(false);
    expect(ended.queues.tickets.size).toBe(0);
    expect(ended.queues.heartbeats.size).toBe(0);
  });

  it('drains uncoordinated, said once, when the queues cannot be followed', async () => {
    const { turns, queues, logs } = setup();
    queues.followFails = 403;
    await turns.start(() => {}, { now: () => T0 });

    expect(turns.mayUse(PDB, T0)).toBe(true);
    expect(turns.mayUse(PDB, T0)).toBe(true);
    expect(logs.map((l) => l.message)).toEqual(['draining uncoordinated: the PDB turns cannot be had']);
    expect(queues.calls).toEqual([]);
  });

  it('drains uncoordinated, said once, when it may not queue (403), and retries another failure', async () => {
    const { turns, queues, logs } = setup();
    await turns.start(() => {}, { now: () => T0 });
    queues.failTake = Object.assign(new Error('HTTP 503'), { status: 503 });
    turns.mayUse(PDB, T0);
    await settle();
    expect(turns.mayUse(PDB, T0)).toBe(false);
    expect(queues.calls).toHaveLength(2);

    queues.failTake = Object.assign(new Error('leases is forbidden'), { status: 403 });
    await settle();
    turns.mayUse(PDB, T0);
    await settle();
    expect(turns.mayUse(PDB, T0)).toBe(true);
    expect(logs.filter((l) => l.message.startsWith('draining uncoordinated'))).toHaveLength(1);
  });

  it('drains uncoordinated while the queues cannot be followed for another reason, and follows them again', async () => {
    const { turns, queues, logs } = setup();
    queues.followFails = 503;
    await turns.start(() => {}, { now: () => T0 });
    expect(turns.coordinated).toBe(false);
    expect(turns.mayUse(PDB, T0)).toBe(true);
    await turns.refollow(T0 + TURN_REFOLLOW_MS - 1);
    await turns.refollow(T0 + TURN_REFOLLOW_MS);
    queues.followFails = undefined;
    await turns.refollow(T0 + 2 * TURN_REFOLLOW_MS - 1);
    expect(turns.coordinated).toBe(false);

    await turns.refollow(T0 + 2 * TURN_REFOLLOW_MS);

    expect(turns.coordinated).toBe(true);
    expect(turns.mayUse(PDB, T0 + 2 * TURN_REFOLLOW_MS)).toBe(false);
    await settle();
    expect(queues.calls).toEqual(['take shop/web node-a']);
    expect(logs.map((l) => l.message)).toEqual([
      'draining uncoordinated for now: the PDB turns cannot be followed; trying again',
      'PDB turns back: draining coordinated again',
    ]);
  });

  it('leaves a PDB change to its timed passes while it waits in the queue or needs nothing of the PDB', async () => {
    const { turns, queues, clock } = setup('node-b');
    const other = queues.port('node-a', clock);
    await other.take('shop/web');
    await turns.start(() => {}, { now: () => T0 });
    const track = { pod: { namespace: 'shop' }, state: 'pending' } as unknown as Track;
    const settleWith = (tracks: Track[]) =>
      turns.settle(
        tracks,
        () => false,
        () => PDB,
        T0,
      );
    // before its first pass it knows nothing: every change wakes it
    expect(turns.idleFor(PDB)).toBe(false);
    turns.mayUse(PDB, T0);
    await settle();
    expect(turns.mayUse(PDB, T0)).toBe(false);
    settleWith([track]);

    expect(turns.idleFor(PDB)).toBe(true);
    // a status that gives more turns than its last answer counted may give it one
    expect(turns.idleFor({ ...PDB, disruptionsAllowed: 2 })).toBe(false);
    // another PDB, one it needs nothing of
    expect(turns.idleFor({ ...PDB, name: 'db' })).toBe(true);
    await other.release('shop/web');
    expect(turns.mayUse(PDB, T0 + 1)).toBe(true);
    expect(turns.idleFor(PDB)).toBe(false);
    // its pod is gone: nothing more of the PDB
    settleWith([]);
    expect(turns.idleFor(PDB)).toBe(true);
    queues.feedFailed = true;
    expect(turns.idleFor(PDB)).toBe(false);
  });

  it('drains uncoordinated once the tickets watch gives up, and follows them again', async () => {
    const { turns, queues } = setup();
    await turns.start(() => {}, { now: () => T0 });
    queues.feedFailed = true;

    expect(turns.coordinated).toBe(false);
    expect(turns.mayUse(PDB, T0)).toBe(true);
    await turns.refollow(T0 + 1);
    queues.feedFailed = false; // a new watch
    await turns.refollow(T0 + TURN_REFOLLOW_MS);
    expect(turns.coordinated).toBe(false);
    await turns.refollow(T0 + 1 + TURN_REFOLLOW_MS);
    expect(turns.coordinated).toBe(true);
  });
});

describe('a drain that waits for a PDB turn', () => {
  it('is not woken by the PDB while another drain holds its turn, and is from the deadline on', async () => {
    const queues = new MemoryQueues();
    const web = { ...PDB, namespace: 'default', selector: { matchLabels: { app: 'web' } } };
    const clock = { now: (): number => T0 };
    const s = drainSetup(
      (virtual) => {
        clock.now = virtual.now;
        return new WatchedCluster(virtual, [pod('web-1', { labels: { app: 'web' }, ready: true })], 1_000);
      },
      { deadline: T0 + 3_000, onDeadline: 'continue', turns: (holder) => queues.port(holder, clock) },
    );
    s.cluster.pdbs = [web];
    await queues.port('node-b', clock).take('default/web');
    const answers: [number, boolean | undefined][] = [];
    for (const at of [1_000, 2_900]) {
      void s.clock.sleep(at).then(() => answers.push([at, s.cluster.wakesForPdb?.(web)]));
    }
    // at the deadline it asks without a turn: from then on every PDB change wakes it
    s.cluster.evictor = async () => {
      answers.push([s.clock.now() - T0, s.cluster.wakesForPdb?.(web)]);
      return { kind: 'evicted' };
    };

    const report = await s.run();

    expect(answers).toEqual([
      [1_000, false],
      [2_900, false],
      [3_000, true],
    ]);
    expect(report.outcome).toBe('deadline-continued');
  });
});
