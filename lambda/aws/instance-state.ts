import { DescribeInstancesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { AUTO_SCALING_GROUP_TAG } from '../contract.js';
import type { Ec2InstanceFacts } from '../job/lost.js';

/**
 * What EC2 says of an instance whose state changed: its state, its group's tag (EC2 describes a
 * terminated instance for about an hour, tags included, after its group forgot it) and its private
 * DNS name. Undefined when EC2 does not know it.
 */
export async function describeInstanceFacts(
  client: EC2Client,
  instanceId: string,
): Promise<Ec2InstanceFacts | undefined> {
  try {
    const out = await client.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    const instance = out.Reservations?.[0]?.Instances?.[0];
    if (!instance) return undefined;
    const group = instance.Tags?.find((tag) => tag.Key === AUTO_SCALING_GROUP_TAG)?.Value;
    return {
      ...(instance.State?.Name ? { state: instance.State.Name } : {}),
      ...(group ? { group } : {}),
      ...(instance.PrivateDnsName ? { privateDnsName: instance.PrivateDnsName } : {}),
    };
  } catch (error) {
    if (error instanceof Error && error.name.startsWith('InvalidInstanceID')) return undefined;
    throw error;
  }
}
