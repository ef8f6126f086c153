/**
 * What the drainer serves, from the props: the cluster (`cluster` or `clusterName`), and the groups
 * given by name or as constructs. A construct's name may be a token (a group created in the same
 * app): construct ids then come from the construct's path, and cdk-nag ids from its reference.
 */
import { Names, Token } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import type { HookedGroup } from './hooks.js';
import { nagSpelling } from './nag.js';
import type { NodeDrainerProps } from './props.js';

/** The cluster's name: `clusterName`, or `cluster.clusterName`; exactly one of the two. */
export function clusterNameOf(props: NodeDrainerProps): string {
  const { cluster, clusterName } = props;
  if (cluster !== undefined && clusterName !== undefined) {
    throw new Error(
      `give either cluster or clusterName, not both: got clusterName ${JSON.stringify(clusterName)} and cluster ${describe(cluster, cluster.clusterName)}`,
    );
  }
  const name = cluster?.clusterName ?? clusterName;
  if (name === undefined || (!Token.isUnresolved(name) && name.trim() === '')) {
    throw new Error(
      `clusterName (or cluster) must name the EKS cluster whose nodes are drained, got ${JSON.stringify(name ?? null)}`,
    );
  }
  return name;
}

/** A group to serve, named or given as a construct, with how a message shows it. */
export interface GroupTarget {
  readonly name: string;
  /** The name when it is known at synth, else the construct's path. */
  readonly shown: string;
  /** A construct id for what the drainer creates per group (literal names keep their ids). */
  readonly id: string;
  readonly construct?: IConstruct;
}

/** `autoScalingGroupNames`, then `autoScalingGroups`. */
export function autoScalingGroupTargets(props: NodeDrainerProps): GroupTarget[] {
  return [
    ...(props.autoScalingGroupNames ?? []).map(named),
    ...(props.autoScalingGroups ?? []).map((group) => fromConstruct(group, group.autoScalingGroupName)),
  ];
}

/** `nodegroupNames`, then `nodegroups`. */
export function nodegroupTargets(props: NodeDrainerProps): GroupTarget[] {
  return [
    ...(props.nodegroupNames ?? []).map(named),
    ...(props.nodegroups ?? []).map((nodegroup) => fromConstruct(nodegroup, nodegroup.nodegroupName)),
  ];
}

/** The groups to hook, as the hooks and rules take them (a token name carries its cdk-nag spelling). */
export function hookedGroups(scope: IConstruct, targets: readonly GroupTarget[]): HookedGroup[] {
  return targets.map(({ id, name }) =>
    Token.isUnresolved(name) ? { id, name, nagName: nagSpelling(scope, name) } : { id, name },
  );
}

const named = (name: string): GroupTarget => ({ name, shown: name, id: name });

function fromConstruct(construct: IConstruct, name: string): GroupTarget {
  if (!Token.isUnresolved(name)) return { name, shown: name, id: name, construct };
  return { name, shown: describe(construct, name), id: Names.uniqueId(construct), construct };
}

function describe(construct: IConstruct, name: string): string {
  return Token.isUnresolved(name) ? `<${construct.node.path}>` : JSON.stringify(name);
}
