/**
 * Auto Scaling groups, their tags and lifecycle hooks, as the local AWS endpoint answers them:
 * DescribeAutoScalingGroups (names, tag filters, pagination), DescribeLifecycleHooks,
 * PutLifecycleHook, DeleteLifecycleHook, CreateOrUpdateTags and DeleteTags. The answers are the inner `…Result` XML; the endpoint
 * wraps them. A group is known when it is in `groups` or has hooks in `hooks`.
 * A test registers a hook with `putHook` (AWS's defaults: HeartbeatTimeout 3600 s, DefaultResult
 * ABANDON), the one place besides PutLifecycleHook that builds hook state; setting `hooks` directly
 * must name every field.
 */

import type { InjectedFault } from './aws-endpoint.js';
import { escapeXml } from './loopback-server.js';

/** A lifecycle hook as DescribeLifecycleHooks answers it. */
export interface LifecycleHookState {
  readonly name: string;
  /** e.g. `autoscaling:EC2_INSTANCE_TERMINATING`. */
  readonly transition: string;
  /** Seconds; a lifecycle action of this hook expires after this long without a heartbeat. */
  readonly heartbeatTimeout: number;
  /** What AWS applies when an action of this hook expires. */
  readonly defaultResult: 'CONTINUE' | 'ABANDON';
}

/** A hook as a test registers it: what it leaves out takes AWS's default (3600 s, ABANDON). */
export type NewLifecycleHook = Pick<LifecycleHookState, 'name' | 'transition'> &
  Partial<Pick<LifecycleHookState, 'heartbeatTimeout' | 'defaultResult'>>;

/** AWS's defaults for a lifecycle hook created without HeartbeatTimeout or DefaultResult. */
export const HOOK_DEFAULTS = { heartbeatTimeout: 3600, defaultResult: 'ABANDON' } as const;

/** AWS's global timeout of a hook's actions: min(100 × heartbeat timeout, 48 h), in seconds. */
export function hookGlobalTimeout(heartbeatTimeout: number): number {
  return Math.min(100 * heartbeatTimeout, 172_800);
}

/** An Auto Scaling group as DescribeAutoScalingGroups answers it. */
export interface AutoScalingGroupState {
  readonly tags: Readonly<Record<string, string>>;
  /** Its instances' ids (InService). */
  readonly instanceIds?: readonly string[];
}

type Answer = { readonly result: string } | { readonly fault: InjectedFault };

export class LocalAutoScalingGroups {
  /** group name → its tags and instances. */
  readonly groups = new Map<string, AutoScalingGroupState>();
  /** group name → its lifecycle hooks. */
  readonly hooks = new Map<string, LifecycleHookState[]>();

  clear(): void {
    this.groups.clear();
    this.hooks.clear();
  }

  /**
   * Creates or replaces the group's hook of that name (the group becomes known), as PutLifecycleHook
   * creates one: HeartbeatTimeout 3600 s and DefaultResult ABANDON unless given.
   */
  putHook(group: string, hook: NewLifecycleHook): LifecycleHookState {
    const state: LifecycleHookState = {
      name: hook.name,
      transition: hook.transition,
      heartbeatTimeout: hook.heartbeatTimeout ?? HOOK_DEFAULTS.heartbeatTimeout,
      defaultResult: hook.defaultResult ?? HOOK_DEFAULTS.defaultResult,
    };
    const existing = this.hooks.get(group) ?? [];
    this.hooks.set(group, [...existing.filter((h) => h.name !== hook.name), state]);
    return state;
  }

  /** The group's hook of that name; undefined: none registered. */
  hook(group: string, name: string): LifecycleHookState | undefined {
    return this.hooks.get(group)?.find((h) => h.name === name);
  }

  /** The inner result of an AutoScaling group or hook action; undefined: not one of them. */
  answer(action: string, params: Readonly<Record<string, string>>): Answer | undefined {
    switch (action) {
      case 'DescribeAutoScalingGroups':
        return this.describeGroups(params);
      case 'DescribeLifecycleHooks':
        return this.describeHooks(params);
      case 'PutLifecycleHook':
        return this.putLifecycleHook(params);
      case 'DeleteLifecycleHook':
        return this.deleteHook(params);
      case 'CreateOrUpdateTags':
        return this.retag(params, (tags, tag) => ({ ...tags, [tag.key]: tag.value }));
      case 'DeleteTags':
        return this.retag(params, (tags, tag) =>
          Object.fromEntries(Object.entries(tags).filter(([k]) => k !== tag.key)),
        );
      default:
        return undefined;
    }
  }

  private known(name: string): boolean {
    return this.groups.has(name) || this.hooks.has(name);
  }

  private describeGroups(params: Readonly<Record<string, string>>): Answer {
    const names = members(params, 'AutoScalingGroupNames.member.');
    const filters = filtersOf(params);
    const all = [...new Set([...this.groups.keys(), ...this.hooks.keys()])].sort();
    const matching = all.filter(
      (name) =>
        (names.length === 0 || names.includes(name)) &&
        filters.every((f) => matches(this.groups.get(name)?.tags ?? {}, f)),
    );
    const pageSize = Math.min(100, Number(params.MaxRecords ?? 50));
    const start = Number(params.NextToken ?? 0);
    const page = matching.slice(start, start + pageSize);
    const next = start + pageSize < matching.length ? `<NextToken>${start + pageSize}</NextToken>` : '';
    const items = page.map((name) => this.groupXml(name)).join('');
    return { result: `<AutoScalingGroups>${items}</AutoScalingGroups>${next}` };
  }

  private groupXml(name: string): string {
    const group = this.groups.get(name) ?? { tags: {} };
    const tags = Object.entries(group.tags)
      .map(
        ([key, value]) =>
          `<member><ResourceId>${escapeXml(name)}</ResourceId><ResourceType>auto-scaling-group</ResourceType><Key>${escapeXml(key)}</Key><Value>${escapeXml(value)}</Value><PropagateAtLaunch>true</PropagateAtLaunch></member>`,
      )
      .join('');
    const instances = (group.instanceIds ?? [])
      .map(
        (id) =>
          `<member><InstanceId>${escapeXml(id)}</InstanceId><AvailabilityZone>us-east-1a</AvailabilityZone><LifecycleState>InService</LifecycleState><HealthStatus>Healthy</HealthStatus><ProtectedFromScaleIn>false</ProtectedFromScaleIn></member>`,
      )
      .join('');
    const size = group.instanceIds?.length ?? 0;
    return `<member><AutoScalingGroupName>${escapeXml(name)}</AutoScalingGroupName><AutoScalingGroupARN>arn:aws:autoscaling:us-east-1:000000000000:autoScalingGroup:00000000-0000-0000-0000-000000000000:autoScalingGroupName/${escapeXml(name)}</AutoScalingGroupARN><MinSize>0</MinSize><MaxSize>${Math.max(10, size)}</MaxSize><DesiredCapacity>${size}</DesiredCapacity><DefaultCooldown>300</DefaultCooldown><AvailabilityZones><member>us-east-1a</member></AvailabilityZones><HealthCheckType>EC2</HealthCheckType><CreatedTime>2026-01-01T00:00:00Z</CreatedTime><Instances>${instances}</Instances><Tags>${tags}</Tags></member>`;
  }

  private describeHooks(params: Readonly<Record<string, string>>): Answer {
    const group = params.AutoScalingGroupName ?? '';
    if (!this.known(group)) return notFound(group);
    const wanted = members(params, 'LifecycleHookNames.member.');
    const items = (this.hooks.get(group) ?? [])
      .filter((hook) => wanted.length === 0 || wanted.includes(hook.name))
      .map(
        (hook) =>
          `<member><LifecycleHookName>${escapeXml(hook.name)}</LifecycleHookName><AutoScalingGroupName>${escapeXml(group)}</AutoScalingGroupName><LifecycleTransition>${escapeXml(hook.transition)}</LifecycleTransition><HeartbeatTimeout>${hook.heartbeatTimeout}</HeartbeatTimeout><GlobalTimeout>${hookGlobalTimeout(hook.heartbeatTimeout)}</GlobalTimeout><DefaultResult>${hook.defaultResult}</DefaultResult></member>`,
      )
      .join('');
    return { result: `<LifecycleHooks>${items}</LifecycleHooks>` };
  }

  /**
   * Creates or updates the hook, as AWS does: a parameter left out keeps the existing hook's value,
   * or takes AWS's default on creation (3600 s, ABANDON); a DefaultResult other than CONTINUE or
   * ABANDON is a ValidationError.
   */
  private putLifecycleHook(params: Readonly<Record<string, string>>): Answer {
    const group = params.AutoScalingGroupName ?? '';
    if (!this.known(group)) return notFound(group);
    const name = params.LifecycleHookName ?? '';
    const previous = this.hook(group, name);
    const transition = params.LifecycleTransition ?? previous?.transition;
    if (!transition) return validation(`LifecycleTransition is required to create lifecycle hook ${name}`);
    const defaultResult = params.DefaultResult ?? previous?.defaultResult;
    if (defaultResult !== undefined && defaultResult !== 'CONTINUE' && defaultResult !== 'ABANDON') {
      return validation(
        `1 validation error detected: Value '${defaultResult}' at 'defaultResult' failed to satisfy constraint: Member must satisfy enum value set: [CONTINUE, ABANDON]`,
      );
    }
    const heartbeat = params.HeartbeatTimeout ?? previous?.heartbeatTimeout;
    this.putHook(group, {
      name,
      transition,
      ...(heartbeat === undefined ? {} : { heartbeatTimeout: Number(heartbeat) }),
      ...(defaultResult === undefined ? {} : { defaultResult }),
    });
    return { result: '' };
  }

  /** CreateOrUpdateTags / DeleteTags: every tag names its group (ResourceType auto-scaling-group). */
  private retag(
    params: Readonly<Record<string, string>>,
    change: (tags: Readonly<Record<string, string>>, tag: TagParam) => Record<string, string>,
  ): Answer {
    const tags = tagsParam(params);
    const unknown = tags.find((tag) => !this.known(tag.group));
    if (unknown) return notFound(unknown.group);
    for (const tag of tags) {
      const group = this.groups.get(tag.group) ?? { tags: {} };
      this.groups.set(tag.group, { ...group, tags: change(group.tags, tag) });
    }
    return { result: '' };
  }

  private deleteHook(params: Readonly<Record<string, string>>): Answer {
    const group = params.AutoScalingGroupName ?? '';
    if (!this.known(group)) return notFound(group);
    const name = params.LifecycleHookName ?? '';
    const existing = this.hooks.get(group) ?? [];
    if (!existing.some((hook) => hook.name === name))
      return validation(`No Lifecycle Hook found with name ${name} for group ${group}`);
    this.hooks.set(
      group,
      existing.filter((hook) => hook.name !== name),
    );
    return { result: '' };
  }
}

interface TagParam {
  readonly group: string;
  readonly key: string;
  readonly value: string;
}

function tagsParam(params: Readonly<Record<string, string>>): TagParam[] {
  const tags: TagParam[] = [];
  for (let n = 1; params[`Tags.member.${n}.Key`] !== undefined; n++) {
    tags.push({
      group: params[`Tags.member.${n}.ResourceId`] ?? '',
      key: params[`Tags.member.${n}.Key`] ?? '',
      value: params[`Tags.member.${n}.Value`] ?? '',
    });
  }
  return tags;
}

interface Filter {
  readonly name: string;
  readonly values: readonly string[];
}

function members(params: Readonly<Record<string, string>>, prefix: string): string[] {
  return Object.entries(params)
    .filter(([key]) => key.startsWith(prefix))
    .sort(([a], [b]) => Number(a.slice(prefix.length)) - Number(b.slice(prefix.length)))
    .map(([, value]) => value);
}

function filtersOf(params: Readonly<Record<string, string>>): Filter[] {
  const filters: Filter[] = [];
  for (let n = 1; params[`Filters.member.${n}.Name`] !== undefined; n++) {
    filters.push({
      name: params[`Filters.member.${n}.Name`] ?? '',
      values: members(params, `Filters.member.${n}.Values.member.`),
    });
  }
  return filters;
}

/** AWS's filters: `tag-key`, `tag-value`, `tag:<key>`; values are ORed, filters ANDed. */
function matches(tags: Readonly<Record<string, string>>, filter: Filter): boolean {
  if (filter.name === 'tag-key') return filter.values.some((key) => key in tags);
  if (filter.name === 'tag-value') return filter.values.some((v) => Object.values(tags).includes(v));
  if (filter.name.startsWith('tag:')) {
    const value = tags[filter.name.slice(4)];
    return value !== undefined && filter.values.includes(value);
  }
  return false;
}

function notFound(group: string): Answer {
  return validation(`AutoScalingGroup name not found - AutoScalingGroup ${group} not found`);
}

function validation(message: string): Answer {
  return { fault: { status: 400, code: 'ValidationError', message } };
}
