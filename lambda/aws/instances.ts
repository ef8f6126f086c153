import { DescribeInstancesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import type { InstancePort } from '../drain/ports.js';

export class Ec2Instances implements InstancePort {
  constructor(private readonly client: EC2Client) {}

  async privateDnsName(instanceId: string): Promise<string | undefined> {
    try {
      const out = await this.client.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
      const name = out.Reservations?.[0]?.Instances?.[0]?.PrivateDnsName;
      return name ? name : undefined;
    } catch (error) {
      // terminated long ago, or never existed: the node can still be found by its providerID
      if (error instanceof Error && error.name.startsWith('InvalidInstanceID')) return undefined;
      throw error;
    }
  }
}
