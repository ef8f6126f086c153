/**
 * At the deadline the policy acts on the server's answer, not on the watched PDB status: a drain that
 * takes turns sends no eviction while the status allows nothing (no first word), so at the deadline
 * it must ask each held pod once and wait for that answer before it ends (`continue`/`abandon`) or
 * deletes (`delete`), and record the deadline's blocked pods only then.
 */
import { describe, expect, it } from 'vitest';
import type { PdbInfo } from '../../lambda/drain/model.js';
import { NO_HEARTBEATS, type Ticket } from '../../lambda/drain/turn-queue.js';
import type { TurnsPort } from '../../lambda/drain/turns.js';
import { drainSetup, pod, WatchedCluster } from '../support/fakes.js';

/** Two PDBs whose status allows no disruption, each over one pod. */
const stuck = (name: string): PdbInfo => ({
  namespace: 'default',
  name,
  selector: { matchLabels: { app: name } },
  disruptionsAllowed: 0,
  currentHealthy: 1,
  desiredHealthy: 1,
});

/** Queues that hold only this drain's tickets: it always holds the turn it queued for. */
function aloneInTheQueues(): TurnsPort {
  const tickets = new Map<string, Ticket>();
  return {
    follow: async () => ({
      tickets: (pdb) => [...tickets.values()].filter((t) => t.pdb === pdb),
      heartbeats: () => NO_HEARTBEATS,
      releasedAt: () => undefined,
      failed: () => false,
      close: () => {},
    }),
    take: async (pdb) => {
      tickets.set(pdb, { pdb, holder: 'node-a', queuedAt: 0, created: '1' });
    },
    heartbeat: async () => {},
    endHeartbeat: async () => {},
    release: async (pdb) => {
      tickets.delete(pdb);
    },
  };
}

const T0 = 1_700_000_000_000;

function setup(onDeadline: 'continue' | 'delete') {
  const pods = [
    pod('web-1', { labels: { app: 'web' }, ready: true }),
    pod('db-1', { labels: { app: 'db' }, ready: true }),
  ];
  const s = drainSetup((clock) => new WatchedCluster(clock, pods, 1_000), {
    startedAt: T0,
    deadline: T0 + 3_000,
    onDeadline,
    minEvictionWindowMs: 1_000,
    turns: () => aloneInTheQueues(),
  });
  s.cluster.pdbs = [stuck('web'), stuck('db')];
  const asked: string[] = [];
  // the PDB refuses every eviction; db's refusal takes 2 s to come back
  s.cluster.evictor = async (ref) => {
    asked.push(`${ref.name}@${s.clock.now() - T0}`);
    if (ref.name === 'db-1') await s.clock.sleep(2_000);
    return { kind: 'pdb-blocked', message: `The disruption budget ${ref.name} needs 1`, pdbName: ref.name };
  };
  return { ...s, asked };
}

describe('the deadline of a drain that takes turns', () => {
  const pairs = (blocked: readonly { pod: string; reason: string }[] | undefined) =>
    (blocked ?? []).map((b) => [b.pod, b.reason]).sort();

  it('asks each held pod once, at the deadline, and ends continue only once both answered', async () => {
    const { run, asked } = setup('continue');

    const report = await run();

    // nothing asked before the deadline (the status allows nothing, no first word while coordinated)
    expect([...asked].sort()).toEqual(['db-1@3000', 'web-1@3000']);
    expect(report.outcome).toBe('deadline-continued');
    // db's refusal came back 2 s after the deadline: the drain waited for it
    expect(report.durationMs).toBe(5_000);
    expect(pairs(report.blocked)).toEqual([
      ['default/db-1', 'pdb'],
      ['default/web-1', 'pdb'],
    ]);
  });

  it('records the blocked pods before it deletes any: one refused early is reported, not lost', async () => {
    const { run, logs } = setup('delete');

    const report = await run();

    expect(report.outcome).toBe('deadline-deleted');
    expect([...report.deleted].sort()).toEqual(['default/db-1', 'default/web-1']);
    const reached = logs.find((l) => l.message === 'drain deadline reached');
    expect(pairs(reached?.data?.blocked as { pod: string; reason: string }[] | undefined)).toEqual([
      ['default/db-1', 'pdb'],
      ['default/web-1', 'pdb'],
    ]);
  });
});
