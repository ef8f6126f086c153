import { describe, expect, it } from 'vitest';
import { DEFAULT_DRAIN_TUNING, type DrainOptions, drainNode } from '../../lambda/drain/drain.js';
import type { PdbInfo } from '../../lambda/drain/model.js';
import {
  ANSWERED_COUNTS_MS,
  HELD_PROBE_MS,
  nextWake,
  probeUnrefused,
  releaseByPdbStatus,
  retryRefusedNow,
  scheduleRetry,
  spentPdb,
  withinPdbBudgets,
} from '../../lambda/drain/pacing.js';
import { PdbCoverage } from '../../lambda/drain/selector.js';
import { newTrack, type Refusal, type Track } from '../../lambda/drain/track.js';
import { ClusterAccessError } from '../../lambda/errors.js';
import { type LogEntry, memoryLogger } from '../../scripts/harness/memory-logger.js';
import { FakeCluster, pod, VirtualClock } from '../support/fakes.js';

const T0 = 1_700_000_000_000;
const BACKOFF = { initialMs: 200, maxMs: 5_000 };
const REFUSED: Refusal = { kind: 'pdb-blocked', message: 'no', pdbName: 'web' };

function track(name: string, extra: Partial<Track> = {}, labels: Record<string, string> = { app: name }) {
  return { ...newTrack(pod(name, { labels }), false, 'pending', T0), ...extra };
}

function pdb(name: string, app: string, disruptionsAllowed: number): PdbInfo {
  return {
    namespace: 'default',
    name,
    selector: { matchLabels: { app } },
    disruptionsAllowed,
    currentHealthy: 3,
    desiredHealthy: 3,
  };
}

describe('scheduleRetry', () => {
  it('retries the first refusal after half to all of the initial backoff', () => {
    const refused = track('a');

    scheduleRetry(refused, REFUSED, BACKOFF, T0, () => 0);

    expect(refused.backoffStep).toBe(1);
    expect(refused.nextAttemptAt).toBe(T0 + 100);
  });

  it('doubles the backoff with every further refusal', () => {
    const refused = track('a', { backoffStep: 2 });

    scheduleRetry(refused, REFUSED, BACKOFF, T0, () => 0);

    expect(refused.backoffStep).toBe(3);
    expect(refused.nextAttemptAt).toBe(T0 + 400);
  });

  it('waits at least as long as the Retry-After of the answer', () => {
    const refused = track('a');

    scheduleRetry(
      refused,
      { kind: 'throttled', message: 'slow down', retryAfterMs: 3_000 },
      BACKOFF,
      T0,
      () => 0,
    );

    expect(refused.nextAttemptAt).toBe(T0 + 3_000);
  });
});

describe('retryRefusedNow', () => {
  it('makes a pending PDB-refused pod due now and restarts its backoff', () => {
    const refused = track('a', { lastRefusal: REFUSED, nextAttemptAt: T0 + 4_000, backoffStep: 3 });

    retryRefusedNow([refused], T0);

    expect(refused.nextAttemptAt).toBe(T0);
    expect(refused.backoffStep).toBe(0);
  });

  it('keeps an earlier due time of a PDB-refused pod', () => {
    const refused = track('a', { lastRefusal: REFUSED, nextAttemptAt: T0 - 1_000 });

    retryRefusedNow([refused], T0);

    expect(refused.nextAttemptAt).toBe(T0 - 1_000);
  });

  it('leaves a pod refused for another reason than a PDB to its backoff', () => {
    const failed = track('a', {
      lastRefusal: { kind: 'failed', message: 'HTTP 500' },
      nextAttemptAt: T0 + 4_000,
      backoffStep: 3,
    });

    retryRefusedNow([failed], T0);

    expect(failed.nextAttemptAt).toBe(T0 + 4_000);
    expect(failed.backoffStep).toBe(3);
  });

  it('leaves a PDB-refused pod alone once it is no longer pending', () => {
    const evicted = track('a', { state: 'evicted', lastRefusal: REFUSED, nextAttemptAt: T0 + 4_000 });

    retryRefusedNow([evicted], T0);

    expect(evicted.nextAttemptAt).toBe(T0 + 4_000);
  });
});

describe('withinPdbBudgets', () => {
  /** A Running, Ready pod of `app` (only such a pod spends a disruption). */
  const ready = (name: string, extra: Partial<Track> = {}, app = 'web') => {
    const t = track(name, extra, { app });
    t.pod = { ...t.pod, ready: true };
    t.offeredAt = undefined;
    return t;
  };
  const web = (allowed: number, extra: Partial<PdbInfo> = {}): PdbInfo => ({
    ...pdb('web', 'web', allowed),
    resourceVersion: '7',
    ...extra,
  });
  const gate = (
    candidates: Track[],
    pdbs: PdbInfo[],
    { tracks = candidates, inFlight = [] as Track[], now = T0 } = {},
  ) =>
    withinPdbBudgets(
      candidates,
      {
        tracks,
        inFlight: (t) => inFlight.includes(t),
        pdbsIn: () => pdbs,
        coverage: new PdbCoverage(),
        random: () => 0.5,
      },
      now,
      BACKOFF,
    );

  it('sends as many ready pods as the PDB allows and holds the rest, asking the server after HELD_PROBE_MS', () => {
    const [a, b, c] = [ready('a'), ready('b'), ready('c')];

    const sent = gate([a, b, c], [web(1)]);

    expect(sent).toEqual([a]);
    for (const held of [b, c]) {
      expect(held.heldByPdb).toBe(true);
      expect(held.offeredAt).toBe(T0);
      expect(held.nextAttemptAt).toBe(T0 + HELD_PROBE_MS);
    }
    expect(a.heldByPdb).toBe(false);
  });

  it('counts our evictions in flight against the disruptions the status allows', () => {
    const [a, b] = [ready('a'), ready('b')];

    expect(gate([b], [web(1)], { tracks: [a, b], inFlight: [a] })).toEqual([]);
    expect(gate([b], [web(2)], { tracks: [a, b], inFlight: [a] })).toEqual([b]);
  });

  it('asks the server once for a pod under a PDB none of our evictions used up (a stuck one)', () => {
    const [first, refused] = [ready('first'), ready('refused', { attempts: 1 })];
    const behindOurs = ready('behind', {}, 'db');
    const ourDb = ready('ours', { state: 'evicted' }, 'db');
    const db = { ...web(0), name: 'db', selector: { matchLabels: { app: 'db' } } };

    const sent = gate([first, refused, behindOurs], [web(0), db], {
      tracks: [first, refused, behindOurs, ourDb],
    });

    expect(sent).toEqual([first]);
    expect(refused.heldByPdb).toBe(true);
    expect(behindOurs.heldByPdb).toBe(true);
  });

  it('does not count twice an eviction the status lists in disruptedPods', () => {
    const [a, b] = [ready('a'), ready('b')];

    // the eviction of a already took the PDB from 1 allowed to 0: b waits
    expect(gate([b], [web(0, { disruptedPods: ['a'] })], { tracks: [a, b], inFlight: [a] })).toEqual([]);
    // the status allows one more beyond a's: b goes
    expect(gate([b], [web(1, { disruptedPods: ['a'] })], { tracks: [a, b], inFlight: [a] })).toEqual([b]);
  });

  it('counts an answered eviction until the PDB status changes after the answer', () => {
    const a = ready('a', { state: 'evicted', spentPdb: { resourceVersion: '7', at: T0 } });
    const b = ready('b');

    expect(gate([b], [web(1)], { tracks: [a, b] })).toEqual([]);
    expect(a.spentPdb).toEqual({ resourceVersion: '7', at: T0 });

    expect(gate([b], [web(1, { resourceVersion: '8' })], { tracks: [a, b] })).toEqual([b]);
    expect(a.spentPdb).toBeUndefined();
  });

  it('counts an answered eviction no longer than ANSWERED_COUNTS_MS while the status does not change after the answer', () => {
    // the answer came after the status that counts it and the next (the pod no longer in
    // disruptedPods): on a quiet PDB no change comes until this drain evicts again
    const a = ready('a', { state: 'evicted', spentPdb: { resourceVersion: '7', at: T0 } });
    const b = ready('b');

    expect(gate([b], [web(1)], { tracks: [a, b], now: T0 + ANSWERED_COUNTS_MS - 1 })).toEqual([]);
    expect(gate([b], [web(1)], { tracks: [a, b], now: T0 + ANSWERED_COUNTS_MS })).toEqual([b]);
    expect(a.spentPdb).toBeUndefined();
  });

  it('never holds a pod the server evicts without a PDB check or refuses regardless', () => {
    // each asked before (attempts 1), so only the PDB's status could hold it
    const notReady = track('not-ready', { attempts: 1 }, { app: 'web' });
    const pending = ready('pending', { attempts: 1 });
    pending.pod = { ...pending.pod, phase: 'Pending' };
    const unguarded = ready('other', { attempts: 1 }, 'other');
    const underOne = ready('under-one', { attempts: 1 });

    expect(gate([notReady, pending, unguarded, underOne], [web(0)])).toEqual([notReady, pending, unguarded]);

    const twice = ready('twice', { attempts: 1 });
    expect(gate([twice], [web(0), { ...web(0), name: 'web-too' }])).toEqual([twice]);
  });

  it('sends a held pod anyway once its next attempt is due: the server has the last word', () => {
    const held = ready('a', { heldByPdb: true, nextAttemptAt: T0, attempts: 1 });
    const notYet = ready('b', { heldByPdb: true, nextAttemptAt: T0 + 1, attempts: 1 });

    expect(gate([held, notYet], [web(0)])).toEqual([held]);
    expect(held.heldByPdb).toBe(false);
    expect(notYet.heldByPdb).toBe(true);
  });

  it('spreads drains racing for one disruption: a pod that lost one waits a random part of its backoff', () => {
    const raced = ready('a', { raced: true, backoffStep: 2, attempts: 2, heldByPdb: true });
    const view = {
      tracks: [raced],
      inFlight: () => false,
      pdbsIn: () => [web(1)],
      coverage: new PdbCoverage(),
      random: () => 0.5,
    };

    // step 2: 400 ms, full jitter: anywhere from 0 to it (0.5 → 200 ms)
    expect(withinPdbBudgets([raced], view, T0, BACKOFF)).toEqual([]);
    expect(raced.nextAttemptAt).toBe(T0 + 200);
    expect(withinPdbBudgets([raced], view, T0 + 199, BACKOFF)).toEqual([]);
    expect(withinPdbBudgets([raced], view, T0 + 200, BACKOFF)).toEqual([raced]);
    expect(raced.jitterUntil).toBeUndefined();
  });

  it('does not send a racing pod whose jitter ran out after the PDB went back to none', () => {
    const raced = ready('a', { raced: true, backoffStep: 1, attempts: 1, lastAttemptAt: T0 });
    const view = (allowed: number) => ({
      tracks: [raced],
      inFlight: () => false,
      pdbsIn: () => [web(allowed)],
      coverage: new PdbCoverage(),
      random: () => 0.5,
    });

    expect(withinPdbBudgets([raced], view(1), T0, BACKOFF)).toEqual([]);
    expect(withinPdbBudgets([raced], view(0), T0 + 500, BACKOFF)).toEqual([]);
    expect(raced.nextAttemptAt).toBe(T0 + HELD_PROBE_MS);
  });

  it('records at the answer the status version an eviction spent, unless the status counts it', () => {
    const a = { ...pod('a', { labels: { app: 'web' } }), ready: true };

    expect(spentPdb(a, [web(0)], new PdbCoverage(), T0)).toEqual({ resourceVersion: '7', at: T0 });
    expect(spentPdb(a, [web(0, { disruptedPods: ['a'] })], new PdbCoverage(), T0)).toBeUndefined();
    expect(spentPdb({ ...a, ready: false }, [web(0)], new PdbCoverage(), T0)).toBeUndefined();
  });
});

describe('probeUnrefused', () => {
  it('makes a held pod no PDB refused yet due at once, and leaves refused ones to their probe', () => {
    const held = track('held', { heldByPdb: true, nextAttemptAt: T0 + HELD_PROBE_MS, jitterUntil: T0 + 9 });
    const refused = track('refused', {
      heldByPdb: true,
      pdbRefused: true,
      nextAttemptAt: T0 + HELD_PROBE_MS,
    });
    const notHeld = track('free', { nextAttemptAt: T0 + 700 });

    probeUnrefused([held, refused, notHeld], T0);

    expect(held.nextAttemptAt).toBe(T0);
    expect(held.jitterUntil).toBeUndefined();
    expect(refused.nextAttemptAt).toBe(T0 + HELD_PROBE_MS);
    expect(notHeld.nextAttemptAt).toBe(T0 + 700);
  });
});

describe('releaseByPdbStatus', () => {
  it('releases as many refused pods as the PDB allows disruptions, and holds the rest', () => {
    const web = { app: 'web' };
    const first = track('w1', { lastAttemptAt: T0 - 100, nextAttemptAt: T0 + 800, backoffStep: 4 }, web);
    const second = track('w2', { lastAttemptAt: T0 - 100, nextAttemptAt: T0 + 800, backoffStep: 4 }, web);

    releaseByPdbStatus([first, second], [pdb('web', 'web', 1)], T0, BACKOFF);

    expect(first).toMatchObject({ nextAttemptAt: T0, backoffStep: 0 });
    expect(second).toMatchObject({ nextAttemptAt: T0 - 100 + 5_000, backoffStep: 4 });
  });

  it('releases two refused pods when the PDB allows two disruptions', () => {
    const web = { app: 'web' };
    const first = track('w1', { nextAttemptAt: T0 + 800 }, web);
    const second = track('w2', { nextAttemptAt: T0 + 800 }, web);

    releaseByPdbStatus([first, second], [pdb('web', 'web', 2)], T0, BACKOFF);

    expect([first.nextAttemptAt, second.nextAttemptAt]).toEqual([T0, T0]);
  });

  it('holds a pod while any one of the PDBs covering it allows nothing', () => {
    const labels = { app: 'web', tier: 'front' };
    const refused = track('w1', { lastAttemptAt: T0, nextAttemptAt: T0 + 800 }, labels);
    const open = pdb('web', 'web', 2);
    const closed: PdbInfo = { ...pdb('front', 'web', 0), selector: { matchLabels: { tier: 'front' } } };

    releaseByPdbStatus([refused], [open, closed], T0, BACKOFF);

    expect(refused.nextAttemptAt).toBe(T0 + 5_000);
  });

  it('spends the budget of every PDB that covers a released pod', () => {
    const labels = { app: 'web', tier: 'front' };
    const first = track('w1', { nextAttemptAt: T0 + 800 }, labels);
    const second = track('w2', { nextAttemptAt: T0 + 800 }, { tier: 'front' });
    const both = [
      pdb('web', 'web', 1),
      { ...pdb('front', 'x', 1), selector: { matchLabels: { tier: 'front' } } },
    ];

    releaseByPdbStatus([first, second], both, T0, BACKOFF);

    expect(first.nextAttemptAt).toBe(T0);
    expect(second.nextAttemptAt).toBe(T0 + 5_000);
  });

  it('holds a pod never attempted for the longest backoff from now', () => {
    const refused = track('w1', { nextAttemptAt: 0 }, { app: 'web' });

    releaseByPdbStatus([refused], [pdb('web', 'web', 0)], T0, BACKOFF);

    expect(refused.nextAttemptAt).toBe(T0 + 5_000);
  });

  it('keeps a later due time of a held pod', () => {
    const refused = track('w1', { lastAttemptAt: T0, nextAttemptAt: T0 + 9_000 }, { app: 'web' });

    releaseByPdbStatus([refused], [pdb('web', 'web', 0)], T0, BACKOFF);

    expect(refused.nextAttemptAt).toBe(T0 + 9_000);
  });

  it('leaves a pod no listed PDB covers to its backoff', () => {
    const refused = track(
      'w1',
      { lastAttemptAt: T0, nextAttemptAt: T0 + 800, backoffStep: 2 },
      { app: 'db' },
    );

    releaseByPdbStatus([refused], [pdb('web', 'web', 5)], T0, BACKOFF);

    expect(refused).toMatchObject({ nextAttemptAt: T0 + 800, backoffStep: 2 });
  });
});

describe('nextWake', () => {
  it('wakes for the earliest due retry within the poll interval', () => {
    const tracks = [track('a', { nextAttemptAt: T0 + 300 }), track('b', { nextAttemptAt: T0 + 200 })];

    expect(nextWake(tracks, T0, 500)).toBe(T0 + 200);
  });

  it('wakes after the poll interval when no retry is due sooner', () => {
    expect(nextWake([track('a', { nextAttemptAt: T0 + 4_000 })], T0, 500)).toBe(T0 + 500);
  });

  it('wakes after the poll interval when nothing is eligible', () => {
    expect(nextWake([], T0, 500)).toBe(T0 + 500);
  });

  it('never wakes sooner than 20 ms from now, even for an overdue retry', () => {
    expect(nextWake([track('a', { nextAttemptAt: T0 - 1_000 })], T0, 500)).toBe(T0 + 20);
  });
});

// ---- the drain's pacing against a fake cluster --------------------------------------------------

function drainSetup(pods = [pod('a')], options: Partial<DrainOptions> = {}, terminationMs = 1_000) {
  const clock = new VirtualClock(T0);
  const cluster = new FakeCluster(clock, pods, terminationMs);
  const logs: LogEntry[] = [];
  const run = () =>
    drainNode(
      cluster,
      {
        ...DEFAULT_DRAIN_TUNING,
        target: { nodeName: 'node-a' },
        startedAt: T0,
        deadline: T0 + 60_000,
        onDeadline: 'continue',
        dryRun: false,
        ...options,
      },
      { clock, log: memoryLogger(logs) },
    );
  return { clock, cluster, logs, run };
}

/** Makes the named calls of `listPods` (1-based) fail, and records when each list was asked for. */
function failLists(cluster: FakeCluster, clock: VirtualClock, failing: number[], error: () => Error) {
  const at: number[] = [];
  const real = cluster.listPods.bind(cluster);
  cluster.listPods = async (node, options) => {
    at.push(clock.t - T0);
    if (failing.includes(at.length)) {
      cluster.requests.push('listPods failed');
      throw error();
    }
    return real(node, options);
  };
  return at;
}

/** Records when each eviction of a pod was requested (ms after T0). */
function evictionTimes(cluster: FakeCluster, clock: VirtualClock): Record<string, number[]> {
  const at: Record<string, number[]> = {};
  const evictor = cluster.evictor;
  cluster.evictor = (ref, call) => {
    at[ref.name] = [...(at[ref.name] ?? []), clock.t - T0];
    return evictor(ref, call);
  };
  return at;
}

const webPdb = (namespace: string, disruptionsAllowed: number): PdbInfo => ({
  ...pdb('web', 'web', disruptionsAllowed),
  namespace,
});

describe('drainNode pacing', () => {
  it('backs off a failing list exponentially and starts over once a list succeeds', async () => {
    const { clock, cluster, run } = drainSetup([pod('a')], {}, 5_000);
    const lists = failLists(cluster, clock, [1, 2, 4], () => new Error('HTTP 503'));

    await run();

    // 150 and 300 ms after the first failures; 150 ms again after the one following a success
    expect(lists.slice(0, 5)).toEqual([0, 150, 450, 950, 1_100]);
  });

  it('starts the list backoff over after the node was found', async () => {
    const { clock, cluster, run } = drainSetup([pod('a')]);
    cluster.failures.findNode = 2;
    const lists = failLists(cluster, clock, [1], () => new Error('HTTP 503'));

    await run();

    expect(lists.slice(0, 2)).toEqual([450, 600]);
  });

  it("waits out the server's Retry-After before listing again", async () => {
    const { clock, cluster, run } = drainSetup();
    const lists = failLists(
      cluster,
      clock,
      [1],
      () => new ClusterAccessError('HTTP 429: throttled', 429, { retryAfterMs: 3_000 }),
    );

    await run();

    expect(lists.slice(0, 2)).toEqual([0, 3_000]);
  });

  it('sends no eviction while the node cannot be listed', async () => {
    const { clock, cluster, run } = drainSetup();
    cluster.evictor = (_, call) =>
      call === 1 ? { kind: 'throttled', message: 'slow down' } : { kind: 'evicted' };
    failLists(cluster, clock, [2, 3, 4], () => new Error('HTTP 503'));

    await run();

    const second = cluster.requests.lastIndexOf('evict a');
    expect(cluster.requests.slice(0, second).filter((r) => r === 'listPods failed')).toHaveLength(3);
    expect(cluster.requests[second - 1]).toBe('listPods');
  });

  it('offers every pod an eviction at once, even one whose PDB allows nothing now', async () => {
    const web = pod('w1', { labels: { app: 'web' } });
    const { clock, cluster, run } = drainSetup([web], { deadline: T0 + 1_000, minEvictionWindowMs: 0 });
    cluster.pdbs = [webPdb('default', 0)];
    cluster.evictor = () => ({ kind: 'pdb-blocked', message: 'no', pdbName: 'web' });
    const evicted = evictionTimes(cluster, clock);

    await run();

    expect(evicted.w1?.[0]).toBe(0);
  });

  it('lists no PDB while no eviction was refused by one', async () => {
    const { cluster, run } = drainSetup([pod('a'), pod('b')]);

    await run();

    expect(cluster.count('listPdbs')).toBe(0);
  });

  it('lists the PDBs of each namespace with refused pods once per round', async () => {
    const pods = [
      pod('w1', { labels: { app: 'web' } }),
      pod('w2', { labels: { app: 'web' } }),
      pod('w3', { namespace: 'prod', uid: 'uid-prod-w3', labels: { app: 'web' } }),
    ];
    const { cluster, run } = drainSetup(pods, { deadline: T0 + 100, minEvictionWindowMs: 0 });
    cluster.evictor = () => ({ kind: 'pdb-blocked', message: 'no', pdbName: 'web' });
    cluster.pdbs = [webPdb('default', 0), webPdb('prod', 0)];

    await run();

    // the round after the refusals: one LIST per namespace
    const firstRound = cluster.requests.filter((r) => r.startsWith('listPdbs')).slice(0, 2);
    expect(firstRound.sort()).toEqual(['listPdbs default', 'listPdbs prod']);
  });

  it('probes a PDB that allows nothing once every longest backoff, in case its status is stale', async () => {
    const { clock, cluster, run } = drainSetup([pod('w1', { labels: { app: 'web' } })], {
      deadline: T0 + 20_000,
      minEvictionWindowMs: 0,
    });
    cluster.pdbs = [webPdb('default', 0)];
    cluster.evictor = () => ({ kind: 'pdb-blocked', message: 'no', pdbName: 'web' });
    const evicted = evictionTimes(cluster, clock);

    await run();

    expect(evicted.w1).toEqual([0, 5_000, 10_000, 15_000]);
  });

  it('goes on by backoff alone when the PDBs cannot be listed', async () => {
    const { cluster, run } = drainSetup([pod('a')]);
    cluster.evictor = (_, call) => (call < 3 ? { kind: 'pdb-blocked', message: 'no' } : { kind: 'evicted' });
    cluster.listPdbs = async () => {
      throw new Error('HTTP 403: poddisruptionbudgets is forbidden');
    };

    const report = await run();

    expect(report.outcome).toBe('drained');
    expect(report.errors).toEqual(['list pdbs in default: HTTP 403: poddisruptionbudgets is forbidden']);
  });

  it('retries a refused pod once when another pod left, then by its backoff again', async () => {
    const { clock, cluster, run } = drainSetup(
      [pod('a'), pod('b')],
      { deadline: T0 + 10_000, minEvictionWindowMs: 0, backoff: { initialMs: 4_000, maxMs: 4_000 } },
      600,
    );
    cluster.evictor = (ref) =>
      ref.name === 'a' ? { kind: 'evicted' } : { kind: 'pdb-blocked', message: 'no' };
    const evicted = evictionTimes(cluster, clock);

    await run();

    // a is seen gone at the 1 s list: b is retried then, and 3 s (3/4 of the 4 s backoff) after each refusal
    expect(evicted.b).toEqual([0, 1_000, 4_000, 7_000]);
  });
});
