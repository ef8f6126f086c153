import type { NodeTarget, PdbInfo, PodRef, PodSnapshot } from './model.js';

/** How the API server answered one eviction request, in the drain's terms. */
export type EvictionResult =
  | { readonly kind: 'evicted' }
  /** 404, or the UID precondition failed: the pod we meant no longer exists. */
  | { readonly kind: 'gone' }
  /** 429: a PDB refuses (or is not processed yet). */
  | {
      readonly kind: 'pdb-blocked';
      readonly message: string;
      readonly pdbName?: string;
      readonly retryAfterMs?: number;
    }
  /** 500 "more than one PodDisruptionBudget": a misconfiguration only a person can fix. */
  | { readonly kind: 'multiple-pdbs'; readonly message: string }
  /** Anything else: retried with backoff until the deadline. */
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
  /** Marks the node unschedulable; idempotent. */
  cordon(nodeName: string): Promise<void>;
  listPods(nodeName: string): Promise<PodSnapshot[]>;
  evict(pod: PodRef, options: { readonly dryRun: boolean }): Promise<EvictionResult>;
  /** Graceful delete (the pod's own grace period) with a UID precondition, bypassing PDBs. */
  deletePod(pod: PodRef): Promise<'deleted' | 'gone'>;
  listPdbs(namespace: string): Promise<PdbInfo[]>;
  /** Best effort: a failure is logged, never fails the drain. */
  recordEvent(subject: EventSubject, event: ClusterEvent): Promise<void>;
}

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
  /** In [0, 1): jitter source, injectable for tests. */
  random(): number;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms))),
  random: Math.random,
};

export interface Logger {
  debug(message: string, data?: Record<string, unknown>): void;
  info(message: string, data?: Record<string, unknown>): void;
  warn(message: string, data?: Record<string, unknown>): void;
  error(message: string, data?: Record<string, unknown>): void;
}

export type LifecycleResult = 'CONTINUE' | 'ABANDON';

/** The Auto Scaling lifecycle action the drain answers for. */
export interface LifecyclePort {
  heartbeat(): Promise<void>;
  /** 'already-completed' when AWS says no such action is active (completed before, or expired). */
  complete(result: LifecycleResult): Promise<'completed' | 'already-completed'>;
}

export interface InstancePort {
  /** The EC2 instance's private DNS name (the usual node name), undefined if unknown. */
  privateDnsName(instanceId: string): Promise<string | undefined>;
}

/** Hands the rest of the drain to a new invocation, carrying the drain's start and attempt count. */
export interface ContinuationPort {
  continueLater(continuation: { readonly startedAt: number; readonly attempt: number }): Promise<void>;
}
