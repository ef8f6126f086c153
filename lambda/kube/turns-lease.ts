/**
 * A drain's tickets as one Lease of the drainer's namespace (lambda/kube/turns.ts): the lease of the
 * node's drain lists the PDBs it queued for, each with its place, and every write of it shows the
 * drain alive. `kubectl get lease -n eks-node-drainer -l eks-node-drainer/turns` shows them: holder
 * (the node), queued at, renewed at; the annotation `eks-node-drainer/tickets` the PDBs.
 *
 * A ticket's place is the resourceVersion of the write that added it. The drain learns that version
 * from the write's answer and writes it with its next write; until then the ticket is written with an
 * empty place, which means "this object's resourceVersion": only the newest write can hold such a
 * ticket, because each write of a drain (one at a time) carries the places of the earlier ones. So
 * every reader, watching or listing, finds the same place for every ticket.
 */
import { createHash } from 'node:crypto';
import type { Ticket } from '../drain/turn-queue.js';
import type { RawObject } from './list-watch.js';

/** Label on every lease of the queues: `drain` on a drain's lease (older versions wrote `ticket` and `heartbeat`). */
export const TURNS_LABEL = 'eks-node-drainer/turns';
export const DRAIN_LEASE = 'drain';
/** The drain's tickets: JSON, PDB (`namespace/name`) → its place (a resourceVersion, or '' for this object's). */
export const TICKETS_ANNOTATION = 'eks-node-drainer/tickets';
/** Where a ticket of an older version (one Lease per PDB and node) named its PDB; read by the doctor. */
export const OLD_PDB_ANNOTATION = 'eks-node-drainer/pdb';

const hash = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 16);

/** The object name of the node's drain lease: the same across invocations (a continuation's). */
export function drainLeaseName(holder: string): string {
  return `d-${hash(holder)}`;
}

/** A drain's lease as read: its holder, the version that shows its life, and its tickets by PDB. */
export interface DrainLease {
  readonly holder: string;
  readonly version: string;
  readonly tickets: ReadonlyMap<string, Ticket>;
}

export interface LeaseObject extends RawObject {
  readonly metadata?: RawObject['metadata'] & {
    readonly name?: string;
    readonly annotations?: Record<string, string>;
    readonly labels?: Record<string, string>;
  };
  readonly spec?: {
    readonly holderIdentity?: string;
    readonly acquireTime?: string;
    readonly renewTime?: string;
  };
}

/** The PDBs and places the lease's annotation lists (an unreadable one: none). */
export function placesOf(lease: {
  readonly metadata?: { readonly annotations?: Record<string, string> };
}): Map<string, string> {
  const places = new Map<string, string>();
  try {
    const parsed: unknown = JSON.parse(lease.metadata?.annotations?.[TICKETS_ANNOTATION] ?? '{}');
    if (parsed && typeof parsed === 'object') {
      for (const [pdb, place] of Object.entries(parsed))
        if (typeof place === 'string') places.set(pdb, place);
    }
  } catch {
    // written by hand, say: no tickets
  }
  return places;
}

/** A drain's lease, or undefined for any other lease (an older version's ticket or heartbeat). */
export function toDrainLease(raw: RawObject): DrainLease | undefined {
  const lease = raw as LeaseObject;
  const holder = lease.spec?.holderIdentity;
  const version = lease.metadata?.resourceVersion;
  if (lease.metadata?.labels?.[TURNS_LABEL] !== DRAIN_LEASE || !holder || !version) return undefined;
  const queuedAt = Date.parse(lease.spec?.acquireTime ?? '');
  const tickets = new Map<string, Ticket>();
  for (const [pdb, place] of placesOf(lease)) {
    tickets.set(pdb, {
      pdb,
      holder,
      queuedAt: Number.isFinite(queuedAt) ? queuedAt : 0,
      created: place || version,
    });
  }
  return { holder, version, tickets };
}
