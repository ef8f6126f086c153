/**
 * The tickets and heartbeats index of the drains' leases watch (lambda/kube/turns-index.ts): per PDB
 * the same array until one of its tickets is added, dropped or moved, also across a relist; the
 * heartbeats follow every lease version. The leases as read: lambda/kube/turns-lease.ts. Through the
 * real server's watch: test/e2e/turns.test.ts (KubeTurns feed).
 */
import { describe, expect, it } from 'vitest';
import { TurnsIndex } from '../../lambda/kube/turns-index.js';
import {
  type DrainLease,
  type LeaseObject,
  TICKETS_ANNOTATION,
  TURNS_LABEL,
  toDrainLease,
} from '../../lambda/kube/turns-lease.js';

/** A drain's lease at `version`, its tickets PDB → place (`''`: this version's). */
const lease = (holder: string, version: string, places: Record<string, string>): DrainLease => {
  const read = toDrainLease({
    metadata: {
      resourceVersion: version,
      labels: { [TURNS_LABEL]: 'drain' },
      annotations: { [TICKETS_ANNOTATION]: JSON.stringify(places) },
    },
    spec: { holderIdentity: holder, acquireTime: '2026-12-07T10:00:00.000000Z' },
  } as LeaseObject);
  if (!read) throw new Error('not a drain lease');
  return read;
};

describe('toDrainLease', () => {
  it("reads each ticket's place, a ticket without one at the lease's version, and nothing of other leases", () => {
    const read = lease('a', '9', { 'shop/web': '5', 'shop/db': '' });

    expect([...read.tickets.values()]).toEqual([
      { pdb: 'shop/web', holder: 'a', queuedAt: Date.parse('2026-12-07T10:00:00Z'), created: '5' },
      { pdb: 'shop/db', holder: 'a', queuedAt: Date.parse('2026-12-07T10:00:00Z'), created: '9' },
    ]);
    expect(read.version).toBe('9');
    const old = {
      metadata: { resourceVersion: '3', labels: { [TURNS_LABEL]: 'ticket' } },
      spec: { holderIdentity: 'a' },
    };
    expect(toDrainLease(old)).toBeUndefined();
    const unreadable = {
      metadata: {
        resourceVersion: '3',
        labels: { [TURNS_LABEL]: 'drain' },
        annotations: { [TICKETS_ANNOTATION]: '{' },
      },
      spec: { holderIdentity: 'a' },
    };
    expect(toDrainLease(unreadable)?.tickets.size).toBe(0);
  });
});

describe('TurnsIndex', () => {
  it("replaces only the arrays of the PDBs whose tickets changed, the heartbeats at every lease's change", () => {
    const index = new TurnsIndex();
    const a1 = lease('a', '3', { 'shop/web': '', 'shop/db': '' });
    index.listed([a1, undefined]);
    const [web, db, beats] = [index.tickets('shop/web'), index.tickets('shop/db'), index.heartbeats()];
    expect(web.map((t) => [t.holder, t.created])).toEqual([['a', '3']]);
    expect(beats).toEqual(new Map([['a', '3']]));

    const b1 = lease('b', '4', { 'shop/web': '' });
    expect(index.applied(undefined, b1)).toEqual([]);
    expect(index.tickets('shop/web').map((t) => t.holder)).toEqual(['a', 'b']);
    expect(index.tickets('shop/db')).toBe(db);
    expect(index.heartbeats()).toEqual(
      new Map([
        ['a', '3'],
        ['b', '4'],
      ]),
    );

    // a's next write: its places written out and a renewal; the same tickets
    const withB = index.tickets('shop/web');
    const a2 = lease('a', '6', { 'shop/web': '3', 'shop/db': '3' });
    expect(index.applied(a1, a2)).toEqual([]);
    expect([index.tickets('shop/web'), index.tickets('shop/db')]).toEqual([withB, db]);
    expect(index.tickets('shop/web')).toBe(withB);
    expect(index.heartbeats().get('a')).toBe('6');

    // a gives db back, then b its lease's last ticket (deleted)
    const a3 = lease('a', '7', { 'shop/web': '3' });
    expect(index.applied(a2, a3)).toEqual(['shop/db']);
    expect(index.tickets('shop/db')).toEqual([]);
    expect(index.tickets('shop/web')).toBe(withB);
    expect(index.applied(b1, undefined)).toEqual(['shop/web']);
    expect(index.tickets('shop/web').map((t) => t.holder)).toEqual(['a']);
    expect(index.heartbeats()).toEqual(new Map([['a', '7']]));

    // queued again (its lease deleted by hand and written anew): a new place
    const a4 = lease('a', '12', { 'shop/web': '' });
    index.applied(a3, a4);
    expect(index.tickets('shop/web').map((t) => t.created)).toEqual(['12']);
  });

  it('keeps the arrays and heartbeats a relist finds unchanged', () => {
    const index = new TurnsIndex();
    index.listed([lease('a', '3', { 'shop/web': '', 'shop/db': '' }), lease('b', '4', { 'shop/web': '' })]);
    const [web, db, beats] = [index.tickets('shop/web'), index.tickets('shop/db'), index.heartbeats()];

    index.listed([lease('b', '4', { 'shop/web': '' }), lease('a', '3', { 'shop/web': '3', 'shop/db': '3' })]);
    expect([index.tickets('shop/web'), index.tickets('shop/db'), index.heartbeats()]).toEqual([
      web,
      db,
      beats,
    ]);
    expect(index.tickets('shop/web')).toBe(web);
    expect(index.heartbeats()).toBe(beats);

    index.listed([lease('a', '9', { 'shop/web': '3' })]);
    expect(index.tickets('shop/web')).not.toBe(web);
    expect(index.tickets('shop/web').map((t) => t.holder)).toEqual(['a']);
    expect(index.tickets('shop/db')).toEqual([]);
    expect(index.heartbeats()).toEqual(new Map([['a', '9']]));
  });
});
