/**
 * Which Auto Scaling groups the drainer serves (GroupsPort): the stack's allow-list, or with discovery
 * the groups whose tags name the cluster, read with DescribeAutoScalingGroups and cached per container.
 */
import {
  type AutoScalingClient,
  type AutoScalingGroup,
  DescribeAutoScalingGroupsCommand,
  type Filter,
} from '@aws-sdk/client-auto-scaling';
import {
  EKS_CLUSTER_TAG,
  KUBERNETES_CLUSTER_TAG_PREFIX,
  KUBERNETES_CLUSTER_TAG_VALUES,
} from '../contract.js';
import type { Clock, GroupsPort } from '../job/ports.js';

export type Tags = Readonly<Record<string, string>>;

/**
 * A group of the cluster carries `eks:cluster-name=<cluster>` (EKS puts it on a managed node group's
 * group) or `kubernetes.io/cluster/<cluster>` = `owned` | `shared` (self-managed node groups).
 */
export function taggedForCluster(tags: Tags, clusterName: string): boolean {
  const kubernetes = tags[`${KUBERNETES_CLUSTER_TAG_PREFIX}${clusterName}`];
  return (
    tags[EKS_CLUSTER_TAG] === clusterName ||
    (kubernetes !== undefined && (KUBERNETES_CLUSTER_TAG_VALUES as readonly string[]).includes(kubernetes))
  );
}

/** DescribeAutoScalingGroups ANDs its filters: one query per way of tagging a group for the cluster. */
export function clusterFilterSets(clusterName: string): Filter[][] {
  return [
    [{ Name: `tag:${EKS_CLUSTER_TAG}`, Values: [clusterName] }],
    [
      {
        Name: `tag:${KUBERNETES_CLUSTER_TAG_PREFIX}${clusterName}`,
        Values: [...KUBERNETES_CLUSTER_TAG_VALUES],
      },
    ],
  ];
}

export function tagsOf(group: AutoScalingGroup): Tags {
  return Object.fromEntries((group.Tags ?? []).map((tag) => [tag.Key ?? '', tag.Value ?? '']));
}

/** The stack's allow-list (AUTO_SCALING_GROUP_NAMES). */
export class AllowList implements GroupsPort {
  private readonly names: ReadonlySet<string>;
  constructor(names: readonly string[]) {
    this.names = new Set(names);
  }

  async serves(autoScalingGroupName: string): Promise<boolean> {
    return this.names.has(autoScalingGroupName);
  }
}

/** No allow-list and no discovery: a local or manual run, where the caller chose the group. */
export const SERVE_ALL: GroupsPort = { serves: async () => true };

/** How long a group's answer is reused: a tag added to a group counts within a minute. */
export const TAGGED_GROUPS_TTL_MS = 60_000;

/**
 * Discovery: a group is served when its tags name the cluster. Answers (yes and no) are cached per
 * container for `ttlMs`; a group AWS does not know is not served. A failed DescribeAutoScalingGroups
 * (after the SDK's own retries) throws: the caller must not guess whose group it is.
 */
export class TaggedGroups implements GroupsPort {
  private readonly cache = new Map<string, { readonly served: boolean; readonly until: number }>();

  constructor(
    private readonly client: AutoScalingClient,
    private readonly clusterName: string,
    private readonly clock: Clock,
    private readonly ttlMs = TAGGED_GROUPS_TTL_MS,
  ) {}

  async serves(autoScalingGroupName: string): Promise<boolean> {
    const now = this.clock.now();
    const cached = this.cache.get(autoScalingGroupName);
    if (cached && cached.until > now) return cached.served;
    const out = await this.client.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [autoScalingGroupName] }),
    );
    const group = out.AutoScalingGroups?.find((g) => g.AutoScalingGroupName === autoScalingGroupName);
    const served = group !== undefined && taggedForCluster(tagsOf(group), this.clusterName);
    this.cache.set(autoScalingGroupName, { served, until: now + this.ttlMs });
    return served;
  }
}

/** The GroupsPort the configuration calls for. */
export function servedGroups(
  config: {
    readonly clusterName: string;
    readonly discoverAutoScalingGroups: boolean;
    readonly autoScalingGroupNames?: readonly string[];
  },
  client: AutoScalingClient,
  clock: Clock,
): GroupsPort {
  if (config.discoverAutoScalingGroups) return new TaggedGroups(client, config.clusterName, clock);
  if (config.autoScalingGroupNames) return new AllowList(config.autoScalingGroupNames);
  return SERVE_ALL;
}
