/** Ec2Instances.privateIps (and its one DescribeInstances call) through the real AWS SDK against the local EC2 endpoint. */
import { EC2Client } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Ec2Instances, ipv4PrefixAddresses } from '../../lambda/aws/instances.js';
import { LocalAwsEndpoint, TEST_CREDENTIALS, TEST_REGION } from '../../scripts/harness/aws-endpoint.js';

const INSTANCE = 'i-0123456789abcdef0';
const aws = new LocalAwsEndpoint();
let client: EC2Client;

beforeAll(async () => {
  await aws.start();
  client = new EC2Client({
    region: TEST_REGION,
    endpoint: aws.url,
    credentials: TEST_CREDENTIALS,
    maxAttempts: 1,
  });
});
afterAll(async () => {
  client.destroy();
  await aws.stop();
});
beforeEach(() => {
  aws.instances.clear();
  aws.networkInterfaces.clear();
  aws.calls.splice(0);
});

function describeCalls(): number {
  return aws.callsOf('ec2', 'DescribeInstances').length;
}

describe('Ec2Instances.privateIps', () => {
  it('lists the private IPs of every network interface, the primary first', async () => {
    aws.instances.set(INSTANCE, 'ip-10-0-1-23.ec2.internal');
    aws.networkInterfaces.set(INSTANCE, [
      { privateIps: ['10.0.1.23', '10.0.1.57', '10.0.1.58'] },
      { privateIps: ['10.0.2.40', '10.0.2.41'] },
    ]);

    const ips = await new Ec2Instances(client).privateIps(INSTANCE);

    expect(ips).toEqual(['10.0.1.23', '10.0.1.57', '10.0.1.58', '10.0.2.40', '10.0.2.41']);
  });

  it('answers the node name and the IPs from one DescribeInstances call', async () => {
    aws.instances.set(INSTANCE, 'ip-10-0-1-23.ec2.internal');
    aws.networkInterfaces.set(INSTANCE, [{ privateIps: ['10.0.1.23'] }]);
    const instances = new Ec2Instances(client);

    const [name, ips] = await Promise.all([
      instances.privateDnsName(INSTANCE),
      instances.privateIps(INSTANCE),
    ]);
    const again = await instances.privateIps(INSTANCE);

    expect(name).toBe('ip-10-0-1-23.ec2.internal');
    expect(ips).toEqual(['10.0.1.23']);
    expect(again).toEqual(ips);
    expect(describeCalls()).toBe(1);
  });

  it('includes every address of the delegated /28 prefixes (VPC CNI prefix mode)', async () => {
    aws.networkInterfaces.set(INSTANCE, [{ privateIps: ['10.0.1.23'], ipv4Prefixes: ['10.0.3.16/28'] }]);

    const ips = await new Ec2Instances(client).privateIps(INSTANCE);

    expect(ips).toHaveLength(17);
    expect(ips.slice(0, 3)).toEqual(['10.0.1.23', '10.0.3.16', '10.0.3.17']);
    expect(ips.at(-1)).toBe('10.0.3.31');
  });

  it('answers no name and no IPs for an unknown instance, asking once', async () => {
    const instances = new Ec2Instances(client);

    expect(await instances.privateDnsName(INSTANCE)).toBeUndefined();
    expect(await instances.privateIps(INSTANCE)).toEqual([]);
    expect(describeCalls()).toBe(1);
  });

  it('asks again after a failed call instead of keeping the failure', async () => {
    aws.instances.set(INSTANCE, 'ip-10-0-1-23.ec2.internal');
    aws.networkInterfaces.set(INSTANCE, [{ privateIps: ['10.0.1.23'] }]);
    aws.failNext('ec2', 'DescribeInstances', { status: 503, code: 'Unavailable', message: 'try later' });
    const instances = new Ec2Instances(client);

    await expect(instances.privateIps(INSTANCE)).rejects.toMatchObject({ name: 'Unavailable' });
    expect(await instances.privateIps(INSTANCE)).toEqual(['10.0.1.23']);
    expect(describeCalls()).toBe(2);
  });
});

describe('ipv4PrefixAddresses', () => {
  it.each([
    ['10.0.3.16/28', 16, '10.0.3.16', '10.0.3.31'],
    ['10.0.3.20/28', 16, '10.0.3.16', '10.0.3.31'],
    ['10.0.3.7/32', 1, '10.0.3.7', '10.0.3.7'],
  ])('expands %s', (cidr, count, first, last) => {
    const ips = ipv4PrefixAddresses(cidr);
    expect([ips.length, ips[0], ips.at(-1)]).toEqual([count, first, last]);
  });

  it.each(['10.0.0.0/16', '2600:1f18::/80', '10.0.3.300/28', 'nonsense'])('ignores %s', (cidr) => {
    expect(ipv4PrefixAddresses(cidr)).toEqual([]);
  });
});
