/** What a node's job talks to besides the cluster (drain/ports.ts): AWS and the job's own record. */
import type { Continuation } from './continuation.js';
import type { JobRecord, NodeBefore } from './record.js';
import type { WarmPoolMark } from './warm-pool.js';

export type { Clock, ClusterPort, Logger } from '../drain/ports.js';

export type LifecycleResult = 'CONTINUE' | 'ABANDON';

/** The Auto Scaling lifecycle action the drain answers for. */
export interface LifecyclePort {
  /** 'expired' when AWS says no such action is active: the instance is already going. */
  heartbeat(): Promise<'recorded' | 'expired'>;
  /** The instance's Auto Scaling lifecycle state (e.g. `Terminating:Wait`), undefined if unknown. */
  state(): Promise<string | undefined>;
  /** 'already-completed' when AWS says no such action is active (completed before, or expired). */
  complete(result: LifecycleResult): Promise<'completed' | 'already-completed'>;
}

export interface InstancePort {
  /** The EC2 instance's private DNS name (the usual node name), undefined if unknown. */
  privateDnsName(instanceId: string): Promise<string | undefined>;
  /**
   * All private IPv4 addresses of the instance's network interfaces (on EKS its pods' IPs too), for
   * matching IP-mode load balancer targets; [] if the instance is unknown.
   */
  privateIps?(instanceId: string): Promise<string[]>;
  /**
   * Whether EC2 marked the instance for a Spot interruption (its Spot request's status); throws
   * when EC2 cannot be asked.
   */
  spotInterruption?(instanceId: string): Promise<SpotInterruption>;
}

export type SpotInterruption =
  | { readonly kind: 'not-spot' }
  /** A Spot instance whose request status says it is (being) interrupted, or not. */
  | { readonly kind: 'marked' | 'not-marked'; readonly code: string };

/** Hands the rest of the drain to a new invocation, carrying what the next one needs. */
export interface ContinuationPort {
  continueLater(continuation: Continuation): Promise<void>;
}

/** A load balancer target that still routes to the instance (ELBv2 target health state ≠ unused). */
export interface TargetRegistration {
  readonly targetGroupArn: string;
  /** The instance id (instance mode) or the IP (ip mode). */
  readonly id: string;
  readonly port?: number;
  /** ELBv2 TargetHealth.State: initial, healthy, unhealthy, unhealthy.draining, draining, unavailable. */
  readonly state: string;
}

export interface LoadBalancerPort {
  /** Targets of the cluster's target groups that are this instance or one of its IPs, in a state other than unused. */
  registrations(target: {
    readonly instanceId: string;
    readonly privateIps: readonly string[];
  }): Promise<TargetRegistration[]>;
}

/**
 * Which Auto Scaling groups this drainer serves: the stack's allow-list (`AUTO_SCALING_GROUP_NAMES`)
 * or, with discovery, the groups tagged for its cluster. An event for any other group is foreign.
 */
export interface GroupsPort {
  serves(autoScalingGroupName: string): Promise<boolean>;
}

/** The node as the job record's store reads it. */
export interface NodeState {
  /** The node's resourceVersion: a write succeeds only while the node is still at it. */
  readonly version: string;
  /** The node's job record; undefined: none, or unreadable (treated as none). */
  readonly record?: JobRecord;
  /** How the node is now (what a new job records as how it was before). */
  readonly now: NodeBefore;
}

/**
 * The node's job record, kept on the node itself (an annotation), written with optimistic
 * concurrency: of two writers that read the same version, one gets `conflict` and reads again.
 */
export interface JobStorePort {
  /** Throws when the node cannot be read (a 404 included: the caller has just found the node). */
  read(node: string): Promise<NodeState>;
  /**
   * Writes `record` (null: removes it) if the node is still at `version`. `mark`, with a removal:
   * the warm-pool mark the node carries from then on (its instance comes back).
   */
  write(
    node: string,
    version: string,
    record: JobRecord | null,
    mark?: WarmPoolMark,
  ): Promise<'written' | 'conflict'>;
}
