/**
 * The function's own view of its access (the check mode): from inside the function, with its role and
 * its network path, can it reach the cluster, is its token accepted, may it do what a drain does?
 * Read-only: no lifecycle call, no write to the cluster or to AWS. Pure logic against a narrow port.
 */
import {
  DEFAULT_DEADLINE_POLICY,
  type DeadlinePolicy,
  type NodeLostAction,
  rbacApplyCommand,
} from '../contract.js';
import type { Clock } from '../drain/ports.js';
import { lostNodesLine } from './lost-nodes.js';
import { drainerRules, type Permission, permissionsOf, resourceName } from './permissions.js';
import { type CheckLine, type FunctionCheckReport, line } from './report.js';

/** Who the API server says the function is. */
export interface Identity {
  /** How it was asked: SelfSubjectReview (1.28+) tells the user; SelfSubjectRulesReview only proves the token. */
  readonly via: 'SelfSubjectReview' | 'SelfSubjectRulesReview';
  readonly username?: string;
  readonly groups?: readonly string[];
}

/** The Kubernetes calls the check makes; every one of them is a read or a review (nothing is stored). */
export interface ClusterCheckPort {
  /** GET /version: reachability; resolves to the server's gitVersion. */
  version(): Promise<string>;
  whoAmI(): Promise<Identity>;
  /** One SelfSubjectAccessReview. */
  canI(permission: Permission): Promise<{ readonly allowed: boolean; readonly reason?: string }>;
  /** policy/v1 or policy/v1beta1, by discovery, as the drain picks it. */
  evictionVersion(): Promise<'v1' | 'v1beta1'>;
}

export interface CheckDeps<E extends { readonly endpoint: string }> {
  /** EKS DescribeCluster: resolves to the endpoint (and whatever else connecting needs). */
  describeCluster(): Promise<E>;
  /** The cluster client for that endpoint, authenticating as the drain does. */
  connect(endpoint: E): ClusterCheckPort | Promise<ClusterCheckPort>;
  readonly clock: Clock;
  readonly kubernetesGroup: string;
  /**
   * The function's `ON_DRAIN_TIMEOUT`: which permissions to review (only `delete` needs pods delete)
   * and which RBAC files the fix applies. Default `delete`, the config's default.
   */
  readonly onDrainTimeout?: DeadlinePolicy;
  /** The function's `ON_NODE_LOST`: before 1.28, `release` needs pods delete (a warning without). */
  readonly onNodeLost?: NodeLostAction;
}

/** Above this, the API server answers slowly enough to matter for a drain's many requests. */
export const SLOW_API_MS = 1_000;

const accessEntryFix = (cluster: string, group: string): string =>
  `aws eks create-access-entry --cluster-name ${cluster} --principal-arn <AccessRoleArn output> ` +
  `--kubernetes-groups ${group} (CONFIG_MAP clusters: add the AwsAuthMapRolesEntry output to aws-auth)`;
const NETWORK_FIX =
  'a private endpoint needs the function in the VPC: npx cdk deploy … -c vpcId=<vpc> -c subnetIds=<subnets>; ' +
  "the cluster security group must admit the function's security group on 443";

export async function runFunctionCheck<E extends { readonly endpoint: string }>(
  cluster: string,
  deps: CheckDeps<E>,
): Promise<FunctionCheckReport> {
  const policy = deps.onDrainTimeout ?? DEFAULT_DEADLINE_POLICY;
  const checks: CheckLine[] = [];
  const report = (): FunctionCheckReport => ({ cluster, checks });
  const skipRest = (why: string) => {
    const rest = [
      ...['api-server', 'identity', 'eviction-api'].map((id) => ({ id, optional: false })),
      ...permissionIds(policy),
      { id: 'lost-nodes', optional: true },
    ];
    for (const { id, optional } of rest) {
      if (!checks.some((c) => c.id === `function.${id}`)) {
        // what the drain can do without is no failure unchecked either
        checks.push(line(`function.${id}`, optional ? 'warn' : 'fail', `not checked: ${why}`));
      }
    }
  };

  let endpoint: E;
  try {
    endpoint = await deps.describeCluster();
    checks.push(
      line('function.describe-cluster', 'pass', `EKS DescribeCluster ${cluster}: ${endpoint.endpoint}`),
    );
  } catch (error) {
    checks.push(
      line('function.describe-cluster', 'fail', `EKS DescribeCluster ${cluster} failed: ${message(error)}`, {
        fix: "the function's role needs eks:DescribeCluster on the cluster, and CLUSTER_NAME must name it: redeploy the stack",
      }),
    );
    skipRest('no cluster endpoint');
    return report();
  }

  const kube = await deps.connect(endpoint);
  const started = deps.clock.now();
  let gitVersion: string;
  try {
    const version = await kube.version();
    gitVersion = version;
    const ms = Math.round(deps.clock.now() - started);
    checks.push(
      ms > SLOW_API_MS
        ? line(
            'function.api-server',
            'warn',
            `API server ${version} reached, but slowly: ${ms} ms for /version`,
          )
        : line('function.api-server', 'pass', `API server ${version} reached in ${ms} ms`),
    );
  } catch (error) {
    checks.push(
      line('function.api-server', 'fail', `API server unreachable from the function: ${message(error)}`, {
        fix: NETWORK_FIX,
      }),
    );
    skipRest('API server unreachable');
    return report();
  }

  try {
    checks.push(identityLine(await kube.whoAmI(), deps.kubernetesGroup, cluster));
  } catch (error) {
    checks.push(
      line('function.identity', 'fail', `token refused: ${message(error)}`, {
        fix: accessEntryFix(cluster, deps.kubernetesGroup),
      }),
    );
    skipRest('token refused');
    return report();
  }

  try {
    const version = await kube.evictionVersion();
    checks.push(line('function.eviction-api', 'pass', `Eviction API served as policy/${version}`));
  } catch (error) {
    checks.push(line('function.eviction-api', 'fail', `Eviction API discovery failed: ${message(error)}`));
  }

  checks.push(...(await permissionLines(kube, policy)));
  checks.push(await lostNodesLine(kube, gitVersion, deps.onNodeLost ?? 'release'));
  return report();
}

function identityLine(identity: Identity, group: string, cluster: string): CheckLine {
  if (identity.via === 'SelfSubjectRulesReview') {
    return line(
      'function.identity',
      'pass',
      'token accepted (SelfSubjectRulesReview; this server has no SelfSubjectReview to name the user)',
    );
  }
  const who = `${identity.username ?? '?'} (groups ${(identity.groups ?? []).join(', ') || 'none'})`;
  if (!(identity.groups ?? []).includes(group)) {
    return line('function.identity', 'fail', `token accepted as ${who}, but not in group ${group}`, {
      fix: accessEntryFix(cluster, group),
    });
  }
  return line('function.identity', 'pass', `token accepted as ${who}`);
}

/** Each permission line's id, and whether the drain can do without it (an `optional` rule's). */
function permissionIds(policy: DeadlinePolicy): { id: string; optional: boolean }[] {
  // pods is in both files' rules: skipRest adds each id once
  return drainerRules(policy).flatMap((rule) =>
    rule.resources.map((r) => ({ id: `permissions.${r}`, optional: rule.optional !== undefined })),
  );
}

/**
 * One line per resource of the rules the policy needs (rbac.yaml, and rbac-delete-pods.yaml for
 * `delete`), from one SelfSubjectAccessReview per verb (in the rule's namespace for a Role's rule); a
 * missing verb's fix applies the policy's files. Missing only verbs of an `optional` rule (the drain
 * works without them, in a lesser way) is a warning that says what is lost, not a failure.
 */
async function permissionLines(kube: ClusterCheckPort, policy: DeadlinePolicy): Promise<CheckLine[]> {
  const asked = drainerRules(policy).flatMap((rule) =>
    permissionsOf([rule]).map((p) => ({ p, optional: rule.optional })),
  );
  const answers = await Promise.all(
    asked.map(async ({ p, optional }) => {
      try {
        return { p, optional, ...(await kube.canI(p)) };
      } catch (error) {
        return { p, optional, allowed: false, reason: `review failed: ${message(error)}` };
      }
    }),
  );
  const byResource = new Map<string, typeof answers>();
  for (const answer of answers) {
    const key = answer.p.subresource ? `${answer.p.resource}/${answer.p.subresource}` : answer.p.resource;
    byResource.set(key, [...(byResource.get(key) ?? []), answer]);
  }
  return [...byResource].map(([resource, list]) => {
    const first = list[0] as (typeof answers)[number];
    const name = resourceName(first.p) + (first.p.namespace ? ` in ${first.p.namespace}` : '');
    const missing = list.filter((a) => !a.allowed);
    if (missing.length === 0) {
      return line(
        `function.permissions.${resource}`,
        'pass',
        `may ${list.map((a) => a.p.verb).join(', ')} ${name}`,
      );
    }
    const lost = missing.every((a) => a.optional !== undefined) ? missing[0]?.optional : undefined;
    return line(
      `function.permissions.${resource}`,
      lost ? 'warn' : 'fail',
      `may not ${missing.map((a) => a.p.verb).join(', ')} ${name}${lost ? `: ${lost}` : ''}`,
      {
        details: missing.flatMap((a) => (a.reason ? [`${a.p.verb}: ${a.reason}`] : [])),
        fix: rbacApplyCommand(policy),
      },
    );
  });
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
