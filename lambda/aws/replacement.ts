/**
 * The planned replacement of an instance with a scheduled event: TerminateInstanceInAutoScalingGroup
 * keeping the desired capacity, so the group launches a replacement (before or after terminating,
 * as its instance maintenance policy says) and the termination hook drains the node.
 */
import {
  type AutoScalingClient,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import type { ReplacementPort } from '../job/scheduled.js';

export class AutoScalingReplacement implements ReplacementPort {
  constructor(private readonly client: AutoScalingClient) {}

  async replace(instanceId: string): Promise<'requested' | 'refused'> {
    try {
      await this.client.send(
        new TerminateInstanceInAutoScalingGroupCommand({
          InstanceId: instanceId,
          ShouldDecrementDesiredCapacity: false,
        }),
      );
      return 'requested';
    } catch (error) {
      // AWS's answer for an instance in no group, or one already terminating: nothing left to ask
      if (error instanceof Error && error.name === 'ValidationError') return 'refused';
      throw error;
    }
  }
}
