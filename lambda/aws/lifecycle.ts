import {
  type AutoScalingClient,
  CompleteLifecycleActionCommand,
  DescribeAutoScalingInstancesCommand,
  RecordLifecycleActionHeartbeatCommand,
} from '@aws-sdk/client-auto-scaling';
import type { AutoScalingInstance } from '../job/notice.js';
import type { LifecyclePort, LifecycleResult } from '../job/ports.js';

/** Which lifecycle action: by token when one is known, else by instance (within group and hook). */
export interface ActionAddress {
  readonly autoScalingGroupName: string;
  readonly hookName: string;
  readonly instanceId: string;
  readonly token?: string;
}

/** The lifecycle action of one event, on the AutoScaling API. */
export class AutoScalingLifecycle implements LifecyclePort {
  constructor(
    private readonly client: AutoScalingClient,
    private readonly action: ActionAddress,
  ) {}

  async heartbeat(): Promise<'recorded' | 'expired'> {
    try {
      await this.client.send(new RecordLifecycleActionHeartbeatCommand(this.target()));
      return 'recorded';
    } catch (error) {
      if (isNoActiveAction(error)) return 'expired';
      throw error;
    }
  }

  async state(): Promise<string | undefined> {
    const out = await this.client.send(
      new DescribeAutoScalingInstancesCommand({ InstanceIds: [this.action.instanceId] }),
    );
    return out.AutoScalingInstances?.[0]?.LifecycleState;
  }

  async complete(result: LifecycleResult): Promise<'completed' | 'already-completed'> {
    try {
      await this.client.send(
        new CompleteLifecycleActionCommand({ ...this.target(), LifecycleActionResult: result }),
      );
      return 'completed';
    } catch (error) {
      if (isNoActiveAction(error)) return 'already-completed';
      throw error;
    }
  }

  private target() {
    return {
      AutoScalingGroupName: this.action.autoScalingGroupName,
      LifecycleHookName: this.action.hookName,
      ...(this.action.token ? { LifecycleActionToken: this.action.token } : {}),
      InstanceId: this.action.instanceId,
    };
  }
}

/** The instance's group and lifecycle state; undefined when it is in no Auto Scaling group. */
export async function describeAutoScalingInstance(
  client: AutoScalingClient,
  instanceId: string,
): Promise<AutoScalingInstance | undefined> {
  const out = await client.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [instanceId] }));
  const instance = out.AutoScalingInstances?.[0];
  if (!instance?.AutoScalingGroupName) return undefined;
  return { group: instance.AutoScalingGroupName, state: instance.LifecycleState ?? 'unknown' };
}

/** AWS answers ValidationError "No active Lifecycle Action found …" once the action is completed or expired. */
export function isNoActiveAction(error: unknown): boolean {
  return (
    error instanceof Error &&
    error.name === 'ValidationError' &&
    /no active lifecycle action/i.test(error.message)
  );
}
