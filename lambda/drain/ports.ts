import type { NodeTarget, PdbInfo, PodRef, PodSnapshot } from './model.js';

/** How the API server answered one eviction request, in the drain's terms. */
export type EvictionResult =
  | { readonly kind: 'evicted' }
  /** 404: the pod is not there; it counts as gone once the node's pod list agrees. */
  | { readonly kind: 'gone' }
  /** 429 naming a PDB: the budget refuses (or is not processed yet). */
  | {
      readonly kind: 'pdb-blocked';
      readonly message: string;
      readonly pdbName?: string;
      readonly retryAfterMs?: number;
    }
  /** 429 without a PDB: API Priority and Fairness (or another limiter) throttles; not a refusal. */
  | { readonly kind: 'throttled'; readonly message: string; readonly retryAfterMs?: number }
  /** 500 "more than one PodDisruptionBudget": a misconfiguration only a person can fix. */
  | { readonly kind: 'multiple-pdbs'; readonly message: string }
  /** Anything else (a 409 included: the pod leaves only when the list says so): retried with backoff. */
  | {
      readonly kind: 'failed';
      readonly message: string;
      readonly status?: number;
      readonly retryAfterMs?: number;
    };

export interface ClusterEvent {
  readonly reason: string;
  readonly message: string;
  readonly type: 'Normal' | 'Warning';
  /**
   * Aggregation: events with the same series, object and reason are one Kubernetes Event whose
   * count grows (kubectl describe: "x5 over 2m"). Without it, every call records a new Event.
   */
  readonly series?: string;
  /** How many times it happened so far in this series. */
  readonly count?: number;
}

export type EventSubject =
  | { readonly kind: 'Node'; readonly name: string }
  | ({ readonly kind: 'Pod' } & PodRef);

/** The only Kubernetes calls the drain makes. Methods throw on transport/auth failures. */
export interface ClusterPort {
  /** The node's name, or undefined when no node matches. */
  findNode(target: NodeTarget): Promise<string | undefined>;
  /**
   * Marks the node unschedulable; idempotent. With `excludeFromLoadBalancers`, also labels it
   * node.kubernetes.io/exclude-from-external-load-balancers=true, so the load balancer controllers
   * start deregistering it while its pods drain.
   */
  cordon(nodeName: string, options?: { readonly excludeFromLoadBalancers?: boolean }): Promise<void>;
  /** Names of the storage.k8s.io/v1 VolumeAttachments whose spec.nodeName is the node. */
  listVolumeAttachments(nodeName: string): Promise<string[]>;
  /**
   * The node's pods. With `notOlderThan`, the server answers from a state at least that new (list
   * semantics of a resourceVersion; it waits for its cache or fails), so a pod absent from the answer
   * is really gone; without it, from its watch cache as it is.
   */
  listPods(nodeName: string, options?: ReadOptions): Promise<PodList>;
  /** `gracePeriodSeconds` overrides the pod's own (deleteOptions); only a Spot drain sends one, clamped. */
  evict(pod: PodRef, options: EvictOptions): Promise<EvictionResult>;
  /**
   * Graceful delete (the pod's own grace period, or `gracePeriodSeconds`) with a UID precondition,
   * bypassing PDBs.
   */
  deletePod(pod: PodRef, options?: GracePeriod): Promise<'deleted' | 'gone'>;
  listPdbs(namespace: string): Promise<PdbInfo[]>;
  /**
   * Optional: one PDB as the server has it now (a consistent read, not the watch cache); undefined
   * when it is gone.
   */
  readPdb?(namespace: string, name: string): Promise<PdbInfo | undefined>;
  /**
   * Optional: follows the node's pods and the cluster's PDBs with watches, so the drain reads them
   * instead of listing and wakes (`onChange`) the moment one changes; a PDB's status or spec change
   * only when `wakesForPdb` says so (a PDB created or deleted always). Rejects when a watch cannot be
   * established; the drain then lists, as without it.
   */
  followNode?(
    nodeName: string,
    onChange: () => void,
    wakesForPdb?: (pdb: PdbInfo) => boolean,
  ): Promise<NodeFeed>;
  /** Best effort: a failure is logged, never fails the drain. */
  recordEvent(subject: EventSubject, event: ClusterEvent): Promise<void>;
}

/** A Kubernetes resourceVersion: opaque, compared only as the drain's freshness check does (drain/fresh.ts). */
export type ResourceVersion = string;

export interface ReadOptions {
  /** The answer must be at least as new as this (an earlier list's): nothing seen since is missed. */
  readonly notOlderThan?: ResourceVersion;
}

export interface PodList {
  readonly pods: readonly PodSnapshot[];
  /** The list's resourceVersion (undefined: the server sent none). */
  readonly resourceVersion?: ResourceVersion;
}

/** The node's pods and the PDBs as the watches last saw them. */
export interface NodeFeed {
  /** The same array as long as no pod changed. */
  pods(): readonly PodSnapshot[];
  /**
   * The resourceVersion of the state `pods()` shows (its list's, then each event's); the drain does
   * not trust a state older than one it has already seen (a relist answered from an older state).
   */
  podsVersion(): ResourceVersion | undefined;
  /** The same array as long as no PDB changed. */
  pdbs(namespace: string): readonly PdbInfo[];
  /** The resourceVersion of the state `pdbs()` shows (its list's, then each event's or bookmark's). */
  pdbsVersion(): ResourceVersion | undefined;
  /** A watch gave up (reconnects kept failing): the drain lists instead from then on. */
  failed(): boolean;
  close(): void;
}

/** A grace period shorter than the pod's own (a Spot drain's time left); absent: the pod's own applies. */
export interface GracePeriod {
  readonly gracePeriodSeconds?: number;
}

export interface EvictOptions extends GracePeriod {
  readonly dryRun: boolean;
}

export interface Clock {
  now(): number;
  /** Resolves after `ms`, or early (without error) when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** In [0, 1): jitter source, injectable for tests. */
  random(): number;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signal?.addEventListener('abort', done, { once: true });
    }),
  random: Math.random,
};

export interface Logger {
  debug(message: string, data?: Record<string, unknown>): void;
  info(message: string, data?: Record<string, unknown>): void;
  warn(message: string, data?: Record<string, unknown>): void;
  error(message: string, data?: Record<string, unknown>): void;
}
