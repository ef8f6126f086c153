/**
 * The Elastic Load Balancing v2 part of the local AWS endpoint (scripts/harness/aws-endpoint.ts):
 * target groups with tags and targets, and the three read actions the drainer uses —
 * DescribeTargetGroups (PageSize/Marker pages), DescribeTags (at most 20 ARNs a call) and
 * DescribeTargetHealth — answered in the Query protocol's XML, with AWS's error codes.
 *
 * Deregistration is modelled as AWS does it: `deregister` puts the target in `draining`
 * (reason Target.DeregistrationInProgress) and, once the deregistration delay has passed, the target
 * is gone from DescribeTargetHealth altogether (AWS drops a deregistered target; only a health query
 * that names it explicitly answers `unused`/Target.NotRegistered). Time is read lazily from
 * Date.now() at each read, like the lifecycle action expiry: no timers, so a frozen Date (vitest fake
 * Date) controls it.
 */
import { randomBytes } from 'node:crypto';
import type { InjectedFault } from './aws-endpoint.js';
import { escapeXml } from './loopback-server.js';

export const ELBV2_NS = 'http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/';
/** AWS's limit on DescribeTargetGroups PageSize. */
export const MAX_TARGET_GROUP_PAGE_SIZE = 400;
/** AWS's limit on DescribeTags ResourceArns. */
export const MAX_TAGGED_RESOURCES = 20;

/** ELBv2 TargetHealth.State values. */
export type TargetHealthState =
  | 'initial'
  | 'healthy'
  | 'unhealthy'
  | 'unhealthy.draining'
  | 'draining'
  | 'unavailable'
  | 'unused';

export interface TargetState {
  /** The instance id (instance mode) or the IP (ip mode). */
  readonly id: string;
  readonly port?: number;
  state: TargetHealthState;
  /** TargetHealth.Reason; default: AWS's usual reason for the state (none for healthy). */
  reason?: string;
  /** Date.now() after which a deregistered (draining) target is gone; undefined: not deregistered. */
  goneAt?: number;
}

export interface TargetGroupState {
  readonly arn: string;
  readonly name: string;
  /** Tag key → value, as DescribeTags answers them. */
  readonly tags: Record<string, string>;
  readonly targetType: 'instance' | 'ip';
  /** Registered targets; deregistered ones leave once their delay has passed (read through `targetsOf`). */
  readonly targets: TargetState[];
}

export interface NewTargetGroup {
  readonly name: string;
  readonly tags?: Record<string, string>;
  /** @default 'instance' */
  readonly targetType?: 'instance' | 'ip';
  /** @default [] — each target defaults to state `healthy`. */
  readonly targets?: readonly {
    readonly id: string;
    readonly port?: number;
    readonly state?: TargetHealthState;
    readonly reason?: string;
  }[];
}

/** What an action answered: the inner `<XResult>` XML, or an AWS error. */
export type Elbv2Answer = { readonly result: string } | { readonly fault: InjectedFault };

const DEFAULT_REASON: Partial<Record<TargetHealthState, string>> = {
  initial: 'Elb.RegistrationInProgress',
  unhealthy: 'Target.FailedHealthChecks',
  'unhealthy.draining': 'Target.FailedHealthChecks',
  draining: 'Target.DeregistrationInProgress',
  unavailable: 'Target.HealthCheckDisabled',
  unused: 'Target.NotInUse',
};

export class LocalElbv2 {
  /** target group ARN → target group; Map order is DescribeTargetGroups order. */
  readonly targetGroups = new Map<string, TargetGroupState>();

  /** Adds a target group with a fresh ARN (`…:targetgroup/<name>/<16 hex>`). */
  addTargetGroup(group: NewTargetGroup): TargetGroupState {
    const arn = `arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/${group.name}/${randomBytes(8).toString('hex')}`;
    const state: TargetGroupState = {
      arn,
      name: group.name,
      tags: { ...group.tags },
      targetType: group.targetType ?? 'instance',
      targets: (group.targets ?? []).map((t) => ({ ...t, state: t.state ?? 'healthy' })),
    };
    this.targetGroups.set(arn, state);
    return state;
  }

  /**
   * Deregisters target `id` (every port) from one target group, or from every group with '*': the
   * target turns `draining` now and is gone `deregistrationDelayMs` later. A target already draining
   * keeps its earlier end. Returns how many targets started draining (0: not registered).
   */
  deregister(targetGroupArn: string, id: string, deregistrationDelayMs: number): number {
    const now = Date.now();
    const groups =
      targetGroupArn === '*' ? [...this.targetGroups.values()] : [this.targetGroups.get(targetGroupArn)];
    let count = 0;
    for (const group of groups) {
      if (!group) continue;
      for (const target of this.targetsOf(group.arn, now)) {
        if (target.id !== id || target.goneAt !== undefined) continue;
        target.state = 'draining';
        target.reason = undefined;
        target.goneAt = now + deregistrationDelayMs;
        count++;
      }
    }
    return count;
  }

  /** The group's targets with deregistrations brought up to date (finished ones removed). */
  targetsOf(targetGroupArn: string, now = Date.now()): TargetState[] {
    const group = this.targetGroups.get(targetGroupArn);
    if (!group) return [];
    for (let i = group.targets.length - 1; i >= 0; i--) {
      const goneAt = group.targets[i]?.goneAt;
      if (goneAt !== undefined && now >= goneAt) group.targets.splice(i, 1);
    }
    return group.targets;
  }

  /** Answers one ELBv2 Query action. */
  answer(action: string, params: Readonly<Record<string, string>>): Elbv2Answer {
    switch (action) {
      case 'DescribeTargetGroups':
        return this.describeTargetGroups(params);
      case 'DescribeTags':
        return this.describeTags(params);
      case 'DescribeTargetHealth':
        return this.describeTargetHealth(params);
      default:
        return fault(400, 'InvalidAction', `unsupported action ${action}`);
    }
  }

  private describeTargetGroups(params: Readonly<Record<string, string>>): Elbv2Answer {
    const pageSize = params.PageSize === undefined ? MAX_TARGET_GROUP_PAGE_SIZE : Number(params.PageSize);
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_TARGET_GROUP_PAGE_SIZE) {
      return validation(
        `1 validation error detected: Value '${params.PageSize}' at 'pageSize' failed to satisfy constraint: Member must have value between 1 and ${MAX_TARGET_GROUP_PAGE_SIZE}`,
      );
    }
    if (params.LoadBalancerArn !== undefined) {
      return fault(400, 'InvalidAction', 'LoadBalancerArn is not supported by the local endpoint');
    }
    let groups = [...this.targetGroups.values()];
    const arns = members(params, 'TargetGroupArns');
    const names = members(params, 'Names');
    if (arns.length > 0) {
      if (arns.some((arn) => !this.targetGroups.has(arn))) return notFound();
      groups = arns.flatMap((arn) => this.targetGroups.get(arn) ?? []);
    }
    if (names.length > 0) {
      if (names.some((name) => !groups.some((g) => g.name === name))) return notFound();
      groups = groups.filter((g) => names.includes(g.name));
    }
    const start = params.Marker === undefined ? 0 : decodeMarker(params.Marker);
    if (start === undefined || start > groups.length) return validation('Invalid marker');
    const page = groups.slice(start, start + pageSize);
    const next = start + pageSize < groups.length ? encodeMarker(start + pageSize) : undefined;
    const items = page
      .map(
        (g) =>
          `<member><TargetGroupArn>${escapeXml(g.arn)}</TargetGroupArn><TargetGroupName>${escapeXml(g.name)}</TargetGroupName><Protocol>TCP</Protocol><Port>80</Port><VpcId>vpc-0local</VpcId><HealthCheckProtocol>TCP</HealthCheckProtocol><HealthCheckPort>traffic-port</HealthCheckPort><HealthCheckEnabled>true</HealthCheckEnabled><TargetType>${g.targetType}</TargetType><IpAddressType>ipv4</IpAddressType><LoadBalancerArns/></member>`,
      )
      .join('');
    return {
      result: `<TargetGroups>${items}</TargetGroups>${next ? `<NextMarker>${next}</NextMarker>` : ''}`,
    };
  }

  private describeTags(params: Readonly<Record<string, string>>): Elbv2Answer {
    const arns = members(params, 'ResourceArns');
    if (arns.length === 0) {
      return validation(
        "1 validation error detected: Value null at 'resourceArns' failed to satisfy constraint: Member must not be null",
      );
    }
    if (arns.length > MAX_TAGGED_RESOURCES) {
      return validation(
        `1 validation error detected: Value '[${arns.join(', ')}]' at 'resourceArns' failed to satisfy constraint: Member must have length less than or equal to ${MAX_TAGGED_RESOURCES}`,
      );
    }
    if (arns.some((arn) => !this.targetGroups.has(arn))) return notFound();
    const items = arns
      .map((arn) => {
        const tags = Object.entries(this.targetGroups.get(arn)?.tags ?? {})
          .map(([k, v]) => `<member><Key>${escapeXml(k)}</Key><Value>${escapeXml(v)}</Value></member>`)
          .join('');
        return `<member><ResourceArn>${escapeXml(arn)}</ResourceArn><Tags>${tags}</Tags></member>`;
      })
      .join('');
    return { result: `<TagDescriptions>${items}</TagDescriptions>` };
  }

  /**
   * All registered targets, or only those named in Targets.member.N (a named target that is not
   * registered answers `unused`, Target.NotRegistered, as AWS does).
   */
  private describeTargetHealth(params: Readonly<Record<string, string>>): Elbv2Answer {
    const arn = params.TargetGroupArn;
    if (arn === undefined) {
      return validation(
        "1 validation error detected: Value null at 'targetGroupArn' failed to satisfy constraint: Member must not be null",
      );
    }
    if (!this.targetGroups.has(arn))
      return fault(400, 'TargetGroupNotFound', `Target groups '${arn}' not found`);
    const registered = this.targetsOf(arn);
    const named = namedTargets(params);
    const answered: TargetState[] =
      named.length === 0
        ? registered
        : named.flatMap((n) => {
            const found = registered.filter(
              (t) => t.id === n.id && (n.port === undefined || t.port === n.port),
            );
            return found.length > 0 ? found : [{ ...n, state: 'unused', reason: 'Target.NotRegistered' }];
          });
    const items = answered
      .map((t) => {
        const reason = t.reason ?? DEFAULT_REASON[t.state];
        const port = t.port === undefined ? '' : `<Port>${t.port}</Port>`;
        return `<member><Target><Id>${escapeXml(t.id)}</Id>${port}</Target>${t.port === undefined ? '' : `<HealthCheckPort>${t.port}</HealthCheckPort>`}<TargetHealth><State>${t.state}</State>${reason ? `<Reason>${reason}</Reason>` : ''}</TargetHealth></member>`;
      })
      .join('');
    return { result: `<TargetHealthDescriptions>${items}</TargetHealthDescriptions>` };
  }
}

/** `Name.member.1`, `Name.member.2`, … in order. */
function members(params: Readonly<Record<string, string>>, name: string): string[] {
  const prefix = `${name}.member.`;
  return Object.entries(params)
    .filter(([k]) => k.startsWith(prefix) && /^\d+$/.test(k.slice(prefix.length)))
    .sort(([a], [b]) => Number(a.slice(prefix.length)) - Number(b.slice(prefix.length)))
    .map(([, v]) => v);
}

function namedTargets(params: Readonly<Record<string, string>>): { id: string; port?: number }[] {
  const found: { id: string; port?: number }[] = [];
  for (let n = 1; params[`Targets.member.${n}.Id`] !== undefined; n++) {
    const port = params[`Targets.member.${n}.Port`];
    found.push({ id: params[`Targets.member.${n}.Id`] ?? '', ...(port ? { port: Number(port) } : {}) });
  }
  return found;
}

function encodeMarker(offset: number): string {
  return Buffer.from(`local-marker:${offset}`).toString('base64');
}

function decodeMarker(marker: string): number | undefined {
  const offset = /^local-marker:(\d+)$/.exec(Buffer.from(marker, 'base64').toString())?.[1];
  return offset === undefined ? undefined : Number(offset);
}

function fault(status: number, code: string, message: string): Elbv2Answer {
  return { fault: { status, code, message } };
}

function validation(message: string): Elbv2Answer {
  return fault(400, 'ValidationError', message);
}

function notFound(): Elbv2Answer {
  return fault(400, 'TargetGroupNotFound', 'One or more target groups not found');
}

/** ELBv2's answer to too many requests (the SDK retries it as throttling). */
export const ELBV2_THROTTLING: InjectedFault = { status: 400, code: 'Throttling', message: 'Rate exceeded' };

/** ELBv2's answer when the caller's IAM policy does not allow `action`. */
export function elbv2AccessDenied(action: string): InjectedFault {
  return {
    status: 403,
    code: 'AccessDenied',
    message: `User: arn:aws:sts::000000000000:assumed-role/eks-node-drainer/eks-node-drainer is not authorized to perform: elasticloadbalancing:${action} because no identity-based policy allows the elasticloadbalancing:${action} action`,
  };
}
