/**
 * The queues of drains that share a PDB (lambda/drain/turns.ts), as Lease objects in the drainer's own
 * namespace: one per drain (its node), listing the PDBs it queued for, each with its place (the
 * format: turns-lease.ts). A drain is the only writer of its lease, one write at a time: the tickets
 * it takes and gives back within one pass go in one write (a drain that starts with pods under 20
 * PDBs queues for all 20 with one create, where one Lease per PDB took 20), and every write shows it
 * alive. A continuation finds its node's lease there and keeps its places. Every drain watches the
 * namespace's drain leases.
 */
import { DRAINER_NAMESPACE } from '../contract.js';
import { newest } from '../drain/fresh.js';
import type { TicketFeed, TurnsPort } from '../drain/turns.js';
import { accessError, isStatus } from './api-error.js';
import { DEFAULT_REQUEST_TIMEOUTS } from './bounded.js';
import { type KubeConfigLike, KubeHttp } from './http.js';
import { ListWatch, type ListWatchOptions } from './list-watch.js';
import { TurnsIndex } from './turns-index.js';
import {
  DRAIN_LEASE,
  type DrainLease,
  drainLeaseName,
  type LeaseObject,
  placesOf,
  TICKETS_ANNOTATION,
  TURNS_LABEL,
  toDrainLease,
} from './turns-lease.js';

/** What the Lease says of its holder's lease (informational: observers judge by the changes they see). */
const LEASE_DURATION_SECONDS = 6;

const LEASES = `/apis/coordination.k8s.io/v1/namespaces/${DRAINER_NAMESPACE}/leases`;

/** MicroTime as the API server writes it: RFC 3339 with six fractional digits. */
const microTime = (ms: number): string => new Date(ms).toISOString().replace(/Z$/, '000Z');

export class KubeTurns implements TurnsPort {
  private readonly http: KubeHttp;
  private readonly path: string;
  /** The tickets the drain wants in its lease: PDB → place ('' until the write that adds it is answered). */
  private readonly wanted = new Map<string, string>();
  /** Whether its lease is there, as far as this drain's writes tell (undefined: not known yet). */
  private exists?: boolean;
  /** The write every change waits for: the one not begun yet (changes made meanwhile join it). */
  private next?: Promise<void>;
  /** The write before it (writes go one at a time: each carries the places the one before learnt). */
  private last: Promise<unknown> = Promise.resolve();
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
    this.path = `${LEASES}/${drainLeaseName(holder)}`;
  }

  /** Lists and watches every drain's lease of the namespace; rejects if it cannot (then no turns are taken). */
  async follow(onChange: () => void, wakesOnRelease?: (pdb: string) => boolean): Promise<TicketFeed> {
    let failed = false;
    // per PDB: the newest release of another drain's ticket (the resourceVersion of the write that dropped it)
    const released = new Map<string, string>();
    let deletedAt: string | undefined;
    let wakes = false;
    const index = new TurnsIndex();
    // the drain is woken by a change of its own tickets, and by a release it says may give it a
    // turn: another drain queueing or beating changes nothing it must act on at once (its passes
    // every 500 ms still see it, and a head's lease is judged by time)
    const onApplied = (previous: DrainLease | undefined, next: DrainLease | undefined): void => {
      const dropped = index.applied(previous, next);
      const holder = (next ?? previous)?.holder;
      const at = next?.version ?? deletedAt;
      if (holder === this.holder) {
        wakes =
          dropped.length > 0 || [...(next?.tickets.keys() ?? [])].some((p) => !previous?.tickets.has(p));
        return;
      }
      wakes = false;
      for (const pdb of dropped) {
        if (at) released.set(pdb, newest(released.get(pdb), at) ?? at);
        if (wakesOnRelease?.(pdb) ?? true) wakes = true;
      }
    };
    const watch = new ListWatch<DrainLease | undefined>(
      this.http,
      { path: LEASES, query: { labelSelector: `${TURNS_LABEL}=${DRAIN_LEASE}` }, convert: toDrainLease },
      {
        ...this.watchOptions,
        onChange,
        wakesFor: () => wakes,
        // the deleted object's resourceVersion is the deletion's: its tickets' release
        onDeleted: (raw) => (deletedAt = raw.metadata?.resourceVersion),
        onApplied,
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

  /** Queues for the PDB (with the next write); a ticket already there (a continuation's) keeps its place. */
  take(pdb: string): Promise<void> {
    if (!this.wanted.has(pdb)) this.wanted.set(pdb, '');
    return this.write().catch((error: unknown) => {
      // not queued: the drain takes it again if it still needs it (the next write drops it)
      this.wanted.delete(pdb);
      throw error;
    });
  }

  /** Gives the ticket back with the next write (the lease is deleted with its last ticket). */
  release(pdb: string): Promise<void> {
    return this.wanted.delete(pdb) ? this.write() : Promise.resolve();
  }

  /** Shows the drain alive: renews its lease (nothing to renew without tickets). */
  heartbeat(): Promise<void> {
    return this.wanted.size > 0 ? this.write() : Promise.resolve();
  }

  /** The drain ends: its lease (an earlier invocation's too) is deleted once it holds no ticket. */
  endHeartbeat(): Promise<void> {
    return this.wanted.size === 0 ? this.write() : Promise.resolve();
  }

  /** The next write, begun once the one before is answered; every change until then joins it. */
  private write(): Promise<void> {
    if (!this.next) {
      const next = this.last.then(() => {
        this.next = undefined;
        return this.flush();
      });
      this.next = next;
      this.last = next.catch(() => {});
    }
    return this.next;
  }

  /** Writes the lease as wanted now: deleted without tickets, else created or patched. */
  private async flush(): Promise<void> {
    try {
      if (this.wanted.size === 0) {
        if (this.exists === false) return;
        await this.http.send('DELETE', this.path).catch((error: unknown) => {
          if (!isStatus(error, 404)) throw error;
        });
        this.exists = false;
        return;
      }
      if (this.exists !== true && (await this.create())) return;
      try {
        await this.send('PATCH', this.path, this.patch());
      } catch (error) {
        if (!isStatus(error, 404)) throw error;
        // deleted by someone: queued again, at the back
        for (const pdb of this.wanted.keys()) this.wanted.set(pdb, '');
        if (!(await this.create())) await this.send('PATCH', this.path, this.patch());
      }
    } catch (error) {
      throw accessError(error);
    }
  }

  /**
   * Creates the lease; false when it is there already (an earlier invocation's, or a create whose
   * answer was lost): its places are kept for the tickets wanted again, and the caller patches it.
   */
  private async create(): Promise<boolean> {
    const now = microTime(this.now());
    const body = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name: drainLeaseName(this.holder),
        namespace: DRAINER_NAMESPACE,
        labels: { [TURNS_LABEL]: DRAIN_LEASE },
        annotations: { [TICKETS_ANNOTATION]: this.ticketsJson() },
      },
      spec: {
        holderIdentity: this.holder,
        acquireTime: now,
        renewTime: now,
        leaseDurationSeconds: LEASE_DURATION_SECONDS,
      },
    };
    try {
      await this.send('POST', LEASES, { body });
      return true;
    } catch (error) {
      if (!isStatus(error, 409)) throw error;
    }
    const found = await this.http.getJson<LeaseObject>(this.path);
    const version = found.metadata?.resourceVersion ?? '';
    for (const [pdb, place] of placesOf(found)) {
      if (this.wanted.get(pdb) === '') this.wanted.set(pdb, place || version);
    }
    this.exists = true;
    return false;
  }

  /** Its tickets as wanted now, and a renewal. */
  private patch() {
    return {
      body: {
        metadata: { annotations: { [TICKETS_ANNOTATION]: this.ticketsJson() } },
        spec: { renewTime: microTime(this.now()) },
      },
      contentType: 'application/merge-patch+json',
    };
  }

  /**
   * One write of the lease. Once answered, the tickets it added without a place have the answer's
   * version as theirs (a ticket taken while it was on its way waits for the next write).
   */
  private async send(method: string, path: string, options: { body: unknown; contentType?: string }) {
    const sent = [...this.wanted].filter(([, place]) => place === '').map(([pdb]) => pdb);
    const answer = await this.http.send<LeaseObject | undefined>(method, path, options);
    this.exists = true;
    const version = answer?.metadata?.resourceVersion;
    if (!version) return;
    for (const pdb of sent) if (this.wanted.get(pdb) === '') this.wanted.set(pdb, version);
  }

  private ticketsJson(): string {
    return JSON.stringify(Object.fromEntries(this.wanted));
  }
}
