import {
  DescribeInstancesCommand,
  DescribeSpotInstanceRequestsCommand,
  type EC2Client,
  type Instance,
} from '@aws-sdk/client-ec2';
import type { InstancePort, SpotInterruption } from '../job/ports.js';

/**
 * Spot request status codes that say EC2 interrupts (or has interrupted) the instance: `marked-for-*`
 * from the two-minute warning on, then how it went. A stop, termination or hibernation by the user is
 * not an interruption.
 */
const INTERRUPTED =
  /^(marked-for-(stop|termination|hibernation)|instance-(stopped|terminated|hibernated)-(by-price|no-capacity|capacity-oversubscribed|launch-group-constraint))$/;

/**
 * EC2 facts about the terminating instance. One DescribeInstances call per instance id serves both
 * the node name and the IPs for the adapter's life (one invocation); a failed call is not kept, so
 * the next question asks again.
 */
export class Ec2Instances implements InstancePort {
  private readonly described = new Map<string, Promise<Instance | undefined>>();

  constructor(private readonly client: EC2Client) {}

  async privateDnsName(instanceId: string): Promise<string | undefined> {
    const name = (await this.describe(instanceId))?.PrivateDnsName;
    return name ? name : undefined;
  }

  /**
   * Every private IPv4 address of every network interface (the VPC CNI's pod IPs are secondary
   * addresses there) and the instance's own PrivateIpAddress, without duplicates; with VPC CNI prefix
   * delegation also every address of the interfaces' delegated IPv4 prefixes (/28, where the pod IPs
   * come from). [] for an unknown instance.
   */
  async privateIps(instanceId: string): Promise<string[]> {
    const instance = await this.describe(instanceId);
    if (!instance) return [];
    const ips = new Set<string>();
    if (instance.PrivateIpAddress) ips.add(instance.PrivateIpAddress);
    for (const eni of instance.NetworkInterfaces ?? []) {
      if (eni.PrivateIpAddress) ips.add(eni.PrivateIpAddress);
      for (const address of eni.PrivateIpAddresses ?? []) {
        if (address.PrivateIpAddress) ips.add(address.PrivateIpAddress);
      }
      for (const prefix of eni.Ipv4Prefixes ?? []) {
        for (const ip of ipv4PrefixAddresses(prefix.Ipv4Prefix ?? '')) ips.add(ip);
      }
    }
    return [...ips];
  }

  /** Whether EC2 marked the instance for a Spot interruption (its Spot request's status). */
  async spotInterruption(instanceId: string): Promise<SpotInterruption> {
    const instance = await this.describe(instanceId);
    const requestId = instance?.SpotInstanceRequestId;
    if (instance?.InstanceLifecycle !== 'spot' || !requestId) return { kind: 'not-spot' };
    const out = await this.client.send(
      new DescribeSpotInstanceRequestsCommand({ SpotInstanceRequestIds: [requestId] }),
    );
    const code = out.SpotInstanceRequests?.[0]?.Status?.Code ?? 'unknown';
    return INTERRUPTED.test(code) ? { kind: 'marked', code } : { kind: 'not-marked', code };
  }

  private describe(instanceId: string): Promise<Instance | undefined> {
    const known = this.described.get(instanceId);
    if (known) return known;
    const described = this.client.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] })).then(
      (out) => out.Reservations?.[0]?.Instances?.[0],
      (error: unknown) => {
        // terminated long ago, or never existed: the node can still be found by its providerID
        if (error instanceof Error && error.name.startsWith('InvalidInstanceID')) return undefined;
        throw error;
      },
    );
    this.described.set(instanceId, described);
    described.catch(() => this.described.delete(instanceId));
    return described;
  }
}

/** The addresses of an IPv4 CIDR of /24 or longer (a delegated prefix is a /28); [] for anything else. */
export function ipv4PrefixAddresses(cidr: string): string[] {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  if (!match) return [];
  const octets = match.slice(1, 5).map(Number);
  const length = Number(match[5]);
  if (octets.some((o) => o > 255) || length < 24 || length > 32) return [];
  const [a, b, c, d = 0] = octets;
  const size = 2 ** (32 - length);
  const first = d - (d % size);
  return Array.from({ length: size }, (_, i) => `${a}.${b}.${c}.${first + i}`);
}
