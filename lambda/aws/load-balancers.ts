import {
  DescribeTagsCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  type DescribeTargetHealthCommandOutput,
  type ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type { LoadBalancerPort, TargetRegistration } from '../job/ports.js';

/** DescribeTargetGroups' largest page. */
export const TARGET_GROUP_PAGE_SIZE = 400;
/** DescribeTags takes at most this many ARNs. */
export const TAGS_PER_CALL = 20;
/** The AWS Load Balancer Controller's tag: value = cluster name. */
export const LBC_CLUSTER_TAG = 'elbv2.k8s.aws/cluster';
/** The in-tree service controller's tag key prefix: `kubernetes.io/cluster/<cluster>`, any value. */
export const LEGACY_CLUSTER_TAG_PREFIX = 'kubernetes.io/cluster/';

export interface Elbv2RegistrationsOptions {
  /**
   * ELBv2 requests in flight at once (DescribeTags batches, DescribeTargetHealth calls); the Describe
   * actions share a modest request rate per account and region.
   * @default 4
   */
  readonly concurrency?: number;
}

/**
 * The ELBv2 targets that still route to an instance, in the cluster's target groups only.
 *
 * The cluster's target groups are the ones tagged by the AWS Load Balancer Controller
 * (`elbv2.k8s.aws/cluster=<cluster>`) or by the in-tree service controller
 * (`kubernetes.io/cluster/<cluster>`, any value). They are found once per adapter (one invocation):
 * DescribeTargetGroups page by page (PageSize 400), DescribeTags for 20 ARNs at a time; only
 * `instance` and `ip` groups are kept. Every `registrations` call then makes one DescribeTargetHealth
 * call per kept group. A group deleted meanwhile (TargetGroupNotFound) is dropped; any other error
 * (Throttling, AccessDenied, …) is thrown, and a failed discovery is not kept.
 */
export class Elbv2Registrations implements LoadBalancerPort {
  private readonly concurrency: number;
  private groups?: string[];
  private discovering?: Promise<string[]>;

  constructor(
    private readonly client: ElasticLoadBalancingV2Client,
    private readonly clusterName: string,
    options: Elbv2RegistrationsOptions = {},
  ) {
    const concurrency = options.concurrency ?? 4;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new Error(`concurrency must be a whole number of at least 1, got ${concurrency}`);
    }
    if (clusterName === '') throw new Error('clusterName must not be empty');
    this.concurrency = concurrency;
  }

  async registrations(target: {
    readonly instanceId: string;
    readonly privateIps: readonly string[];
  }): Promise<TargetRegistration[]> {
    const ids = new Set([target.instanceId, ...target.privateIps]);
    const groups = await this.clusterTargetGroups();
    const found = await mapLimit(groups, this.concurrency, (arn) => this.targetsIn(arn, ids));
    return found.flat();
  }

  /** ARNs of the cluster's instance- and ip-mode target groups (discovered on the first call, then kept). */
  async clusterTargetGroups(): Promise<readonly string[]> {
    if (this.groups) return this.groups;
    this.discovering ??= this.discover().then(
      (groups) => {
        this.groups = groups;
        return groups;
      },
      (error: unknown) => {
        this.discovering = undefined;
        throw error;
      },
    );
    return this.discovering;
  }

  private async discover(): Promise<string[]> {
    const found: string[] = [];
    let marker: string | undefined;
    do {
      const page = await this.client.send(
        new DescribeTargetGroupsCommand({
          PageSize: TARGET_GROUP_PAGE_SIZE,
          ...(marker ? { Marker: marker } : {}),
        }),
      );
      const arns = (page.TargetGroups ?? [])
        .filter((g) => g.TargetType === undefined || g.TargetType === 'instance' || g.TargetType === 'ip')
        .flatMap((g) => (g.TargetGroupArn ? [g.TargetGroupArn] : []));
      const batches = chunk(arns, TAGS_PER_CALL);
      const tagged = await mapLimit(batches, this.concurrency, (batch) => this.ofCluster(batch));
      found.push(...tagged.flat());
      marker = page.NextMarker || undefined;
    } while (marker);
    return found;
  }

  /**
   * The ARNs of `batch` tagged for this cluster. A batch naming a group deleted since the listing is
   * refused whole (TargetGroupNotFound): it is split in halves until the missing group stands alone.
   */
  private async ofCluster(batch: readonly string[]): Promise<string[]> {
    try {
      const out = await this.client.send(new DescribeTagsCommand({ ResourceArns: [...batch] }));
      return (out.TagDescriptions ?? [])
        .filter((d) => (d.Tags ?? []).some((t) => this.isClusterTag(t.Key, t.Value)))
        .flatMap((d) => (d.ResourceArn ? [d.ResourceArn] : []));
    } catch (error) {
      if (!isTargetGroupNotFound(error)) throw error;
      if (batch.length === 1) return [];
      const half = Math.ceil(batch.length / 2);
      return [...(await this.ofCluster(batch.slice(0, half))), ...(await this.ofCluster(batch.slice(half)))];
    }
  }

  private isClusterTag(key: string | undefined, value: string | undefined): boolean {
    return (
      (key === LBC_CLUSTER_TAG && value === this.clusterName) ||
      key === `${LEGACY_CLUSTER_TAG_PREFIX}${this.clusterName}`
    );
  }

  private async targetsIn(targetGroupArn: string, ids: ReadonlySet<string>): Promise<TargetRegistration[]> {
    let out: DescribeTargetHealthCommandOutput;
    try {
      out = await this.client.send(new DescribeTargetHealthCommand({ TargetGroupArn: targetGroupArn }));
    } catch (error) {
      if (!isTargetGroupNotFound(error)) throw error;
      this.groups = this.groups?.filter((arn) => arn !== targetGroupArn);
      return [];
    }
    return (out.TargetHealthDescriptions ?? []).flatMap((d) => {
      const id = d.Target?.Id;
      // a description without a state is kept as still routing: waiting longer is the safe side
      const state = d.TargetHealth?.State ?? 'unknown';
      if (id === undefined || !ids.has(id) || state === 'unused') return [];
      const port = d.Target?.Port;
      return [{ targetGroupArn, id, ...(port === undefined ? {} : { port }), state }];
    });
  }
}

/** TargetGroupNotFound on the wire; the SDK names it TargetGroupNotFoundException. */
export function isTargetGroupNotFound(error: unknown): boolean {
  return (
    error instanceof Error &&
    (error.name === 'TargetGroupNotFoundException' || error.name === 'TargetGroupNotFound')
  );
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

/**
 * `fn` over `items` with at most `limit` running at once; results in input order. The first failure
 * rejects, and no further item is started after it.
 */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (next < items.length && !failed) {
      const index = next++;
      try {
        results[index] = await fn(items[index] as T);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
