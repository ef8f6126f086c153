/** The reconciler's HooksApi on the AutoScaling API (AWS SDK v3). */
import {
  type AutoScalingClient,
  CreateOrUpdateTagsCommand,
  DeleteLifecycleHookCommand,
  DeleteTagsCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeLifecycleHooksCommand,
  type Filter,
  PutLifecycleHookCommand,
} from '@aws-sdk/client-auto-scaling';
import { clusterFilterSets, tagsOf } from '../aws/groups.js';
import { HOOK_TRANSITION } from '../contract.js';
import type { GroupView, HookSpec, HooksApi, HookView } from './reconcile.js';

export class AutoScalingHooks implements HooksApi {
  constructor(
    private readonly client: AutoScalingClient,
    private readonly clusterName: string,
  ) {}

  async clusterGroups(): Promise<GroupView[]> {
    const found = new Map<string, GroupView>();
    for (const filters of clusterFilterSets(this.clusterName)) {
      for (const group of await this.describe(filters)) found.set(group.name, group);
    }
    return [...found.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  groupsTagged(key: string, value: string): Promise<GroupView[]> {
    return this.describe([{ Name: `tag:${key}`, Values: [value] }]);
  }

  async hook(group: string, hookName: string): Promise<HookView | undefined> {
    const out = await this.client.send(
      new DescribeLifecycleHooksCommand({ AutoScalingGroupName: group, LifecycleHookNames: [hookName] }),
    );
    const hook = out.LifecycleHooks?.find((h) => h.LifecycleHookName === hookName);
    return (
      hook && {
        transition: hook.LifecycleTransition ?? '',
        heartbeatTimeoutSeconds: hook.HeartbeatTimeout ?? 0,
        defaultResult: hook.DefaultResult ?? '',
      }
    );
  }

  async putHook(group: string, spec: HookSpec): Promise<void> {
    await this.client.send(
      new PutLifecycleHookCommand({
        AutoScalingGroupName: group,
        LifecycleHookName: spec.hookName,
        LifecycleTransition: HOOK_TRANSITION,
        HeartbeatTimeout: spec.heartbeatTimeoutSeconds,
        DefaultResult: spec.defaultResult,
      }),
    );
  }

  async deleteHook(group: string, hookName: string): Promise<'deleted' | 'gone'> {
    try {
      await this.client.send(
        new DeleteLifecycleHookCommand({ AutoScalingGroupName: group, LifecycleHookName: hookName }),
      );
      return 'deleted';
    } catch (error) {
      // "No Lifecycle Hook found …" or "AutoScalingGroup name not found …": nothing left to remove
      if (error instanceof Error && error.name === 'ValidationError' && /\bfound\b/i.test(error.message)) {
        return 'gone';
      }
      throw error;
    }
  }

  async tag(group: string, key: string, value: string): Promise<void> {
    await this.client.send(
      new CreateOrUpdateTagsCommand({
        Tags: [
          {
            ResourceId: group,
            ResourceType: 'auto-scaling-group',
            Key: key,
            Value: value,
            PropagateAtLaunch: false,
          },
        ],
      }),
    );
  }

  async untag(group: string, key: string): Promise<void> {
    await this.client.send(
      new DeleteTagsCommand({ Tags: [{ ResourceId: group, ResourceType: 'auto-scaling-group', Key: key }] }),
    );
  }

  private async describe(filters: Filter[]): Promise<GroupView[]> {
    const groups: GroupView[] = [];
    let NextToken: string | undefined;
    do {
      const out = await this.client.send(
        new DescribeAutoScalingGroupsCommand({ Filters: filters, MaxRecords: 100, NextToken }),
      );
      for (const group of out.AutoScalingGroups ?? []) {
        if (group.AutoScalingGroupName)
          groups.push({ name: group.AutoScalingGroupName, tags: tagsOf(group) });
      }
      NextToken = out.NextToken;
    } while (NextToken);
    return groups;
  }
}
