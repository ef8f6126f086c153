/** The drain's view of Kubernetes objects: plain data, mapped from the API by the adapter. */

export interface PodRef {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

export interface PodSnapshot extends PodRef {
  readonly phase: string;
  /** The ownerReference with controller=true, if any. */
  readonly controller?: { readonly kind: string; readonly name: string };
  /** Mirror of a static pod (annotation kubernetes.io/config.mirror). */
  readonly mirror: boolean;
  /** deletionTimestamp is set: its grace period is already running. */
  readonly terminating: boolean;
  readonly priorityClassName?: string;
  readonly usesEmptyDir: boolean;
  readonly labels: Readonly<Record<string, string>>;
  /** spec.terminationGracePeriodSeconds (the API defaults it to 30). */
  readonly gracePeriodSeconds: number;
  /** Its Ready condition is True (absent: not known). Only a ready pod spends a PDB's disruption. */
  readonly ready?: boolean;
  /** status.podIP (a hostNetwork pod's is the node's). */
  readonly ip?: string;
}

export interface LabelSelectorRequirement {
  readonly key: string;
  readonly operator: string;
  readonly values?: readonly string[];
}

export interface LabelSelector {
  readonly matchLabels?: Readonly<Record<string, string>>;
  readonly matchExpressions?: readonly LabelSelectorRequirement[];
}

export interface PdbInfo {
  readonly namespace: string;
  readonly name: string;
  /** metadata.resourceVersion: compared for equality only (a newer status differs). */
  readonly resourceVersion?: string;
  /** undefined: the PDB selects nothing. */
  readonly selector?: LabelSelector;
  readonly disruptionsAllowed: number;
  readonly currentHealthy: number;
  readonly desiredHealthy: number;
  /** status.disruptedPods: pods whose eviction the status already counts (absent: none listed). */
  readonly disruptedPods?: readonly string[];
}

/** What a node to drain is known by: its name, or the EC2 instance behind it. */
export interface NodeTarget {
  readonly nodeName?: string;
  readonly instanceId?: string;
}

export const podKey = (pod: PodRef): string => `${pod.namespace}/${pod.name}`;
