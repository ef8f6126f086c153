/**
 * The queues of drains that share a PDB (lambda/drain/turns.ts), as Lease objects in the drainer's own
 * namespace: one ticket per PDB and node, created when the drain queues (a continuation finds its
 * node's ticket there and keeps its place) and deleted when done, never written in between (its
 * resourceVersion is its place in the queue); and one heartbeat per node, renewed while the drain
 * holds a turn another drain waits for. Creating or deleting one never conflicts with another
 * drain's; every drain watches the namespace's tickets and heartbeats.
 * `kubectl get lease -n eks-node-drainer -l eks-node-drainer/turns` shows them: holder, queued at,
 * renewed at.
 */
import { createHash } from 'node:crypto';
import { DRAINER_NAMESPACE } from '../contract.js';
import { newest } from '../drain/fresh.js';
import type { Ticket } from '../drain/turn-queue.js';
import type { TicketFeed, TicketWriter } from '../drain/turns.js';
import { accessError, isStatus } from './api-error.js';
import { DEFAULT_REQUEST_TIMEOUTS } from './bounded.js';
import { type KubeConfigLike, KubeHttp } from './http.js';
import { ListWatch, type ListWatchOptions, type RawObject } from './list-watch.js';
import { isTicket, TurnsIndex, type TurnsLease } from './turns-index.js';

/** Label on every ticket (value `ticket`) and heartbeat (`heartbeat`); a ticket's PDB key as an annotation. */
export const TURNS_LABEL = 'eks-node-drainer/turns';
export const TICKET_SELECTOR = `${TURNS_LABEL}=ticket`;
export const PDB_ANNOTATION = 'eks-node-drainer/pdb';
/** What the Lease says of its holder's lease (informational: observers judge by the heartbeat changes they see). */
const LEASE_DURATION_SECONDS = 6;

const LEASES = `/apis/coordination.k8s.io/v1/namespaces/${DRAINER_NAMESPACE}/leases`;

const hash = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 16);

/** The ticket's object name: the same for a PDB and node across invocations (a continuation's). */
export function ticketName(pdb: string, holder: string): string {
  return `t-${hash(pdb)}-${hash(holder)}`;
}

/** The node's heartbeat's object name. */
export function heartbeatName(holder: string): string {
  return `h-${hash(holder)}`;
}

/** MicroTime as the API server writes it: RFC 3339 with six fractional digits. */
const microTime = (ms: number): string => new Date(ms).toISOString().replace(/Z$/, '000Z');

interface LeaseObject extends RawObject {
  readonly metadata?: RawObject['metadata'] & {
    readonly annotations?: Record<string, string>;
    readonly labels?: Record<string, string>;
  };
  readonly spec?: { readonly holderIdentity?: string; readonly acquireTime?: string };
}

export function toTicket(raw: RawObject): Ticket | undefined {
  const lease = raw as LeaseObject;
  const pdb = lease.metadata?.annotations?.[PDB_ANNOTATION];
  const holder = lease.spec?.holderIdentity;
  const queuedAt = Date.parse(lease.spec?.acquireTime ?? '');
  if (lease.metadata?.labels?.[TURNS_LABEL] !== 'ticket') return undefined;
  if (!pdb || !holder || !Number.isFinite(queuedAt)) return undefined;
  const created = lease.metadata?.resourceVersion;
  return { pdb, holder, queuedAt, ...(created ? { created } : {}) };
}

function toTurnsLease(raw: RawObject): TurnsLease {
  const lease = raw as LeaseObject;
  const holder = lease.spec?.holderIdentity;
  const version = lease.metadata?.resourceVersion;
  if (lease.metadata?.labels?.[TURNS_LABEL] === 'heartbeat' && holder && version)
    return { beat: holder, version };
  return toTicket(raw);
}

export class KubeTurns implements TicketWriter {
  private readonly http: KubeHttp;
  /** This drain created (or found) its heartbeat: renewals patch it. */
  private beating = false;
  /** Watch tuning (tests shorten the server's stream timeout). */
  watchOptions: Omit<ListWatchOptions, 'onChange' | 'onFailed'> = {};

  /** @param holder this drain's name in the queues: its node. */
  constructor(
    kubeConfig: KubeConfigLike,
    readonly holder: string,
    private readonly now: () => number = Date.now,
    onUnauthorized?: () => void,
  ) {
    this.http = new KubeHttp(kubeConfig, DEFAULT_REQUEST_TIMEOUTS, onUnauthorized);
  }

  /** Lists and watches every ticket of the namespace; rejects if it cannot (then no turns are taken). */
  async follow(onChange: () => void, wakesOnRelease?: (pdb: string) => boolean): Promise<TicketFeed> {
    let failed = false;
    // per PDB: the newest deletion of another drain's ticket (the deleted object's resourceVersion)
    const released = new Map<string, string>();
    const onDeleted = (raw: RawObject): void => {
      const ticket = toTicket(raw);
      const version = raw.metadata?.resourceVersion;
      if (ticket && version && ticket.holder !== this.holder) {
        released.set(ticket.pdb, newest(released.get(ticket.pdb), version) ?? version);
      }
    };
    // the drain is woken by its own ticket, and by a release it says may give it a turn: another
    // drain queueing or beating changes nothing it must act on at once (its passes every 500 ms
    // still see it, and a head's lease is judged by time)
    const wakesFor = (type: string, lease: TurnsLease): boolean =>
      isTicket(lease) &&
      (lease.holder === this.holder || (type === 'DELETED' && (wakesOnRelease?.(lease.pdb) ?? true)));
    const index = new TurnsIndex();
    const watch = new ListWatch<TurnsLease>(
      this.http,
      { path: LEASES, query: { labelSelector: TURNS_LABEL }, convert: toTurnsLease },
      {
        ...this.watchOptions,
        onChange,
        wakesFor,
        onDeleted,
        onApplied: (previous, next) => index.applied(previous, next),
        onListed: (all) => index.listed(all),
        onFailed: () => (failed = true),
      },
    );
    try {
      await watch.start();
    } catch (error) {
      watch.close();
      throw accessError(error);
    }
    return {
      tickets: (pdb) => index.tickets(pdb),
      heartbeats: () => index.heartbeats(),
      releasedAt: (pdb) => released.get(pdb),
      failed: () => failed,
      close: () => watch.close(),
    };
  }

  async take(pdb: string): Promise<void> {
    const body = this.lease(ticketName(pdb, this.holder), 'ticket', { [PDB_ANNOTATION]: pdb });
    try {
      await this.http.send('POST', LEASES, { body });
    } catch (error) {
      // there already: this node's ticket from an earlier invocation keeps its place
      if (!isStatus(error, 409)) throw accessError(error);
    }
  }

  async release(pdb: string): Promise<void> {
    try {
      await this.http.send('DELETE', `${LEASES}/${ticketName(pdb, this.holder)}`);
    } catch (error) {
      if (!isStatus(error, 404)) throw accessError(error);
    }
  }

  /** Renews the node's heartbeat: a merge patch, or a create the first time (or once it was deleted). */
  async heartbeat(): Promise<void> {
    const renewTime = microTime(this.now());
    const renew = () =>
      this.http.send('PATCH', `${LEASES}/${heartbeatName(this.holder)}`, {
        body: { spec: { renewTime } },
        contentType: 'application/merge-patch+json',
      });
    try {
      if (this.beating) {
        try {
          await renew();
          return;
        } catch (error) {
          if (!isStatus(error, 404)) throw error;
        }
      }
      this.beating = true;
      try {
        await this.http.send('POST', LEASES, { body: this.lease(heartbeatName(this.holder), 'heartbeat') });
      } catch (error) {
        // there already (an earlier invocation's): renew it
        if (!isStatus(error, 409)) throw error;
        await renew();
      }
    } catch (error) {
      throw accessError(error);
    }
  }

  /** A Lease of the queues held by this drain, acquired and renewed now. */
  private lease(name: string, kind: 'ticket' | 'heartbeat', annotations?: Record<string, string>) {
    const now = microTime(this.now());
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name,
        namespace: DRAINER_NAMESPACE,
        labels: { [TURNS_LABEL]: kind },
        ...(annotations ? { annotations } : {}),
      },
      spec: {
        holderIdentity: this.holder,
        acquireTime: now,
        renewTime: now,
        leaseDurationSeconds: LEASE_DURATION_SECONDS,
      },
    };
  }

  async endHeartbeat(): Promise<void> {
    this.beating = false;
    try {
      await this.http.send('DELETE', `${LEASES}/${heartbeatName(this.holder)}`);
    } catch (error) {
      if (!isStatus(error, 404)) throw accessError(error);
    }
  }
}
