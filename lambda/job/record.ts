/**
 * One node, one drain: the node's job record. Whatever asks for a node to be drained (a termination
 * lifecycle action, a Spot warning, a rebalance recommendation, a duplicate, a continuation) writes
 * its request into the record on the node. The invocation holding the record's lease drains; one
 * that finds the lease held joins: its request waits in the record until the holder adopts it
 * (heartbeats its lifecycle action, takes up its limits), and the holder completes every request's
 * action once the node is empty. The record lives in the API server, so a restart, a retry or a
 * continuation lands in the same job (Karpenter's termination controller keeps its state the same
 * way). Pure decisions here; the store (lambda/kube/job-store.ts) writes them with optimistic
 * concurrency, and lambda/job/job.ts runs them.
 */
import type { DeadlinePolicy } from '../contract.js';

/** A lifecycle action to complete when the node's drain ends (addressed by token when known). */
export interface ActionRef {
  readonly group: string;
  readonly hook: string;
  readonly instanceId: string;
  readonly token?: string;
}

/**
 * What kind of notice asked: a `termination` (lifecycle action, or a forced manual drain) and a
 * `spot` interruption are certain to take the instance; a `rebalance` recommendation is not.
 */
export type RequestKind = 'termination' | 'spot' | 'rebalance';

export interface JobRequest {
  /** One per notice: a duplicate delivery has the same id and changes nothing. */
  readonly id: string;
  readonly kind: RequestKind;
  /** The instance behind the node. */
  readonly instanceId: string;
  /** When the notice began (epoch ms, clamped to the last 48 h). */
  readonly startedAt: number;
  /** When its drain ends (epoch ms), and what is done with the pods still blocked then. */
  readonly deadline: number;
  readonly policy: DeadlinePolicy;
  /** The instance goes at this time whatever happens (a Spot interruption). */
  readonly hardEnd?: number;
  /** Completed when the node is empty, with the result the drain's outcome calls for. */
  readonly action?: ActionRef;
  /** A Spot instance's group: a termination action of the drainer's hook waiting there is completed too. */
  readonly group?: string;
  /** The instance comes back (warm pool, Spot stop or hibernate): the node is marked for its return. */
  readonly comesBack?: boolean;
  /** The holder took it over: it heartbeats its action and follows its limits. */
  readonly adopted?: boolean;
}

/** How the node was when its job began: what a return from the warm pool undoes, and only that. */
export interface NodeBefore {
  readonly unschedulable: boolean;
  readonly excludedFromLoadBalancers: boolean;
}

export interface JobRecord {
  /** The drain's chain: its first invocation's id, carried by its continuations. */
  readonly chain: string;
  /** The invocation that holds the lease now. */
  readonly holder: string;
  /** Epoch ms: after this, anyone may take the job over (the holder died, or its continuation got lost). */
  readonly until: number;
  /** The holder paused and handed over: the next invocation of its chain takes over at once. */
  readonly handedOver?: true;
  readonly before: NodeBefore;
  readonly requests: readonly JobRequest[];
}

/** A lease lives this long without renewal; renewed every RENEW_MS while the holder drains. */
export const LEASE_MS = 60_000;
export const RENEW_MS = 15_000;
/** A paused holder keeps the lease this long for its continuation (async invocations may queue). */
export const HANDOVER_MS = 5 * 60_000;
/** No notice lives longer: a lifecycle action's longest life. A request older than this is dropped. */
export const REQUEST_MAX_AGE_MS = 48 * 3_600_000;
/** Requests a record keeps at most (notices for one node are a handful; a flood must not grow it). */
export const MAX_REQUESTS = 32;

/** What the drain is held to: the job's start, its deadline and policy, its hard end. */
export interface JobLimits {
  readonly startedAt: number;
  readonly deadline: number;
  readonly policy: DeadlinePolicy;
  readonly hardEnd?: number;
}

/**
 * The job's limits from its requests. A notice that is certain to take the instance (termination,
 * Spot) only ever tightens them: the earliest deadline and hard end win, never loosened by a later
 * one (Karpenter's rule). A rebalance recommendation's own deadline (policy `continue`) bounds only
 * a job that has no certain notice: when a termination joins it, the termination's terms replace it.
 */
export function jobLimits(requests: readonly JobRequest[]): JobLimits {
  const certain = requests.filter((r) => r.kind !== 'rebalance');
  const deciding = certain.length > 0 ? certain : requests;
  const first = deciding.reduce((a, b) => (b.deadline < a.deadline ? b : a));
  const hardEnds = requests.flatMap((r) => (r.hardEnd === undefined ? [] : [r.hardEnd]));
  return {
    startedAt: Math.min(...requests.map((r) => r.startedAt)),
    deadline: first.deadline,
    policy: first.policy,
    ...(hardEnds.length > 0 ? { hardEnd: Math.min(...hardEnds) } : {}),
  };
}

export interface Me {
  /** This invocation. */
  readonly holder: string;
  /** Its drain's chain (itself, or the first invocation a continuation carries). */
  readonly chain: string;
  readonly request: JobRequest;
  readonly now: number;
}

export type Opening =
  /** This invocation holds the lease: `record` is what it writes. */
  | { readonly role: 'holder'; readonly record: JobRecord; readonly tookOver?: string }
  /** Another invocation holds it: `record` (with this request added) is what to write, if anything. */
  | { readonly role: 'joined'; readonly record?: JobRecord; readonly holder: string };

/**
 * What an invocation does with the node's record: take the lease (none, expired, handed over to its
 * chain, or its own), or join the live holder's job.
 */
export function open(current: JobRecord | undefined, before: NodeBefore, me: Me): Opening {
  const live = current !== undefined && current.until > me.now;
  const mine =
    current !== undefined &&
    current.chain === me.chain &&
    (current.holder === me.holder || current.handedOver === true);
  if (current && live && !mine) {
    const known = current.requests.some((r) => r.id === me.request.id);
    return {
      role: 'joined',
      holder: current.holder,
      ...(known
        ? {}
        : {
            record: {
              ...current,
              requests: capped([...current.requests, { ...me.request, adopted: false }]),
            },
          }),
    };
  }
  // take the lease: what an earlier holder left (expired) is this job's to finish
  const inherited = (current?.requests ?? []).filter(
    (r) => r.id !== me.request.id && me.now - r.startedAt < REQUEST_MAX_AGE_MS,
  );
  return {
    role: 'holder',
    record: {
      chain: me.chain,
      holder: me.holder,
      until: me.now + LEASE_MS,
      before: current?.before ?? before,
      requests: capped([...inherited, { ...me.request, adopted: true }]),
    },
    ...(current && current.holder !== me.holder && current.chain !== me.chain
      ? { tookOver: current.holder }
      : {}),
  };
}

export type Renewal =
  | { readonly kind: 'renewed'; readonly record: JobRecord; readonly adopted: readonly JobRequest[] }
  /** Another invocation took the job over (this one's lease had expired). */
  | { readonly kind: 'lost'; readonly holder: string };

/**
 * The holder renews its lease and adopts the requests that joined since. A record that vanished
 * (someone removed the annotation) is written again from what the holder knows.
 */
export function renew(
  current: JobRecord | undefined,
  known: JobRecord,
  now: number,
  leaseMs = LEASE_MS,
): Renewal {
  const base = current ?? known;
  if (base.holder !== known.holder) return { kind: 'lost', holder: base.holder };
  const adopted = base.requests.filter((r) => !r.adopted);
  const { handedOver: _, ...rest } = base;
  return {
    kind: 'renewed',
    record: {
      ...rest,
      until: now + leaseMs,
      requests: base.requests.map((r) => (r.adopted ? r : { ...r, adopted: true })),
    },
    adopted,
  };
}

/** The holder pauses: the lease is kept for the next invocation of its chain. */
export function handOver(record: JobRecord, now: number): JobRecord {
  return { ...record, until: now + HANDOVER_MS, handedOver: true };
}

/** Something failed that the holder cannot handle: whoever comes next takes the job (and its requests) over. */
export function letGo(record: JobRecord, now: number): JobRecord {
  const { handedOver: _, ...rest } = record;
  return { ...rest, until: now };
}

export type Finish =
  /** Every request is answered: remove the record. */
  | { readonly kind: 'release' }
  /** Requests joined since the holder last looked: answer them first. */
  | { readonly kind: 'more'; readonly requests: readonly JobRequest[] }
  | { readonly kind: 'lost'; readonly holder: string };

/** At the end of the drain: the record goes only once every request in it has been answered. */
export function finish(
  current: JobRecord | undefined,
  holder: string,
  answered: ReadonlySet<string>,
): Finish {
  if (!current) return { kind: 'release' };
  if (current.holder !== holder) return { kind: 'lost', holder: current.holder };
  const open = current.requests.filter((r) => !answered.has(r.id));
  return open.length > 0 ? { kind: 'more', requests: open } : { kind: 'release' };
}

export type JoinState =
  /** The holder took this request over: it completes its action. */
  | 'adopted'
  /** The record is gone: its holder answered every request in it, this one included. */
  | 'released'
  /** The holder's lease ran out: take the job over. */
  | 'expired'
  | 'waiting';

export function joinState(current: JobRecord | undefined, requestId: string, now: number): JoinState {
  if (!current) return 'released';
  if (current.until <= now) return 'expired';
  const request = current.requests.find((r) => r.id === requestId);
  // not in the record: the job that had it ended and a new one began meanwhile
  if (!request) return 'released';
  return request.adopted ? 'adopted' : 'waiting';
}

/** Keeps the newest requests when a record would grow past MAX_REQUESTS. */
function capped(requests: readonly JobRequest[]): JobRequest[] {
  return requests.slice(-MAX_REQUESTS);
}
