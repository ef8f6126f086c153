/**
 * The tickets and heartbeats index of the tickets' watch (lambda/kube/turns-index.ts): per PDB the
 * same array until one of its tickets changes, the same heartbeats until one changes, also across a
 * relist. Through the real server's watch: test/e2e/turns.test.ts (KubeTurns feed).
 */
import { describe, expect, it } from 'vitest';
import type { Ticket } from '../../lambda/drain/turn-queue.js';
import { TurnsIndex } from '../../lambda/kube/turns-index.js';

const ticket = (pdb: string, holder: string, created: string): Ticket => ({
  pdb,
  holder,
  queuedAt: 0,
  created,
});
const beat = (holder: string, version: string) => ({ beat: holder, version });

describe('TurnsIndex', () => {
  const [a, b, c] = [ticket('shop/web', 'a', '1'), ticket('shop/web', 'b', '2'), ticket('shop/db', 'a', '3')];

  it('replaces only the array of the PDB whose ticket changed, and the heartbeats only for a heartbeat', () => {
    const index = new TurnsIndex();
    index.listed([a, c, beat('a', '5')]);
    const [web, db, beats] = [index.tickets('shop/web'), index.tickets('shop/db'), index.heartbeats()];
    expect(web).toEqual([a]);
    expect(beats).toEqual(new Map([['a', '5']]));

    index.applied(undefined, b);
    expect(index.tickets('shop/web')).toEqual([a, b]);
    expect(index.tickets('shop/db')).toBe(db);
    expect(index.heartbeats()).toBe(beats);

    const withB = index.tickets('shop/web');
    index.applied(beat('a', '5'), beat('a', '6'));
    expect(index.heartbeats()).toEqual(new Map([['a', '6']]));
    expect(index.tickets('shop/web')).toBe(withB);

    index.applied(a, undefined);
    index.applied(c, undefined);
    expect(index.tickets('shop/web')).toEqual([b]);
    expect(index.tickets('shop/db')).toEqual([]);
    index.applied(undefined, beat('b', '7'));
    index.applied(beat('a', '6'), undefined);
    expect(index.heartbeats()).toEqual(new Map([['b', '7']]));
  });

  it('keeps the arrays and heartbeats a relist finds unchanged', () => {
    const index = new TurnsIndex();
    index.listed([a, b, c, beat('a', '5')]);
    const [web, db, beats] = [index.tickets('shop/web'), index.tickets('shop/db'), index.heartbeats()];

    index.listed([a, b, ticket('shop/db', 'b', '9'), beat('a', '5'), undefined]);

    expect(index.tickets('shop/web')).toBe(web);
    expect(index.tickets('shop/db')).not.toBe(db);
    expect(index.tickets('shop/db').map((t) => t.holder)).toEqual(['b']);
    expect(index.heartbeats()).toBe(beats);
    index.listed([a]);
    expect(index.heartbeats()).toEqual(new Map());
  });
});
