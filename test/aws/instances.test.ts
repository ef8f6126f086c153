import { DescribeInstancesCommand, EC2Client, EC2ServiceException } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { Ec2Instances, ipv4PrefixAddresses } from '../../lambda/aws/instances.js';

const ec2 = mockClient(EC2Client);
afterEach(() => ec2.reset());

const INSTANCE = 'i-0123456789abcdef0';
const instances = () => new Ec2Instances(new EC2Client({ region: 'us-east-1' }));

function ec2Error(name: string, message: string): EC2ServiceException {
  return new EC2ServiceException({ name, message, $fault: 'client', $metadata: { httpStatusCode: 400 } });
}

describe('Ec2Instances.privateDnsName', () => {
  it('asks for the one instance and answers its private DNS name', async () => {
    ec2.on(DescribeInstancesCommand).resolves({
      Reservations: [{ Instances: [{ InstanceId: INSTANCE, PrivateDnsName: 'ip-10-0-1-23.ec2.internal' }] }],
    });

    const name = await instances().privateDnsName(INSTANCE);

    expect(name).toBe('ip-10-0-1-23.ec2.internal');
    expect(ec2.commandCalls(DescribeInstancesCommand).map((c) => c.args[0].input)).toEqual([
      { InstanceIds: [INSTANCE] },
    ]);
  });

  it.each([
    ['an empty name (a terminated instance)', { Reservations: [{ Instances: [{ PrivateDnsName: '' }] }] }],
    ['no name', { Reservations: [{ Instances: [{ InstanceId: INSTANCE }] }] }],
    ['no instance', { Reservations: [{ Instances: [] }] }],
    ['a reservation without instances', { Reservations: [{}] }],
    ['no reservation', { Reservations: [] }],
    ['an empty answer', {}],
  ])('answers undefined for %s', async (_case, answer) => {
    ec2.on(DescribeInstancesCommand).resolves(answer);

    expect(await instances().privateDnsName(INSTANCE)).toBeUndefined();
  });

  it.each(['InvalidInstanceID.NotFound', 'InvalidInstanceID.Malformed'])(
    'answers undefined when EC2 says %s: the node is then found by providerID',
    async (code) => {
      ec2
        .on(DescribeInstancesCommand)
        .rejects(ec2Error(code, `The instance ID '${INSTANCE}' does not exist`));

      expect(await instances().privateDnsName(INSTANCE)).toBeUndefined();
    },
  );

  it('fails with any other EC2 error', async () => {
    const denied = ec2Error('UnauthorizedOperation', 'You are not authorized to perform this operation.');
    ec2.on(DescribeInstancesCommand).rejects(denied);

    await expect(instances().privateDnsName(INSTANCE)).rejects.toBe(denied);
  });

  it('fails with a rejection that is not an Error, whatever it is named', async () => {
    const odd = { name: 'InvalidInstanceID.NotFound' };
    ec2.on(DescribeInstancesCommand).callsFake(() => Promise.reject(odd));

    await expect(instances().privateDnsName(INSTANCE)).rejects.toBe(odd);
  });
});

describe('Ec2Instances.privateIps', () => {
  it("lists the instance's own address when it has no network interfaces listed", async () => {
    ec2.on(DescribeInstancesCommand).resolves({
      Reservations: [{ Instances: [{ InstanceId: INSTANCE, PrivateIpAddress: '10.0.1.23' }] }],
    });

    expect(await instances().privateIps(INSTANCE)).toEqual(['10.0.1.23']);
  });

  it("lists an interface's primary address even without its address list", async () => {
    ec2.on(DescribeInstancesCommand).resolves({
      Reservations: [{ Instances: [{ NetworkInterfaces: [{ PrivateIpAddress: '10.0.2.40' }] }] }],
    });

    expect(await instances().privateIps(INSTANCE)).toEqual(['10.0.2.40']);
  });

  it('lists only addresses that are there, never undefined', async () => {
    ec2.on(DescribeInstancesCommand).resolves({
      Reservations: [
        {
          Instances: [
            {
              NetworkInterfaces: [
                { PrivateIpAddresses: [{ PrivateIpAddress: '10.0.1.57' }, { Primary: false }] },
                { Ipv4Prefixes: [{}] },
              ],
            },
          ],
        },
      ],
    });

    expect(await instances().privateIps(INSTANCE)).toEqual(['10.0.1.57']);
  });

  it('answers no IPs for an instance EC2 does not know', async () => {
    ec2.on(DescribeInstancesCommand).rejects(ec2Error('InvalidInstanceID.NotFound', 'does not exist'));

    expect(await instances().privateIps(INSTANCE)).toEqual([]);
  });
});

describe('ipv4PrefixAddresses', () => {
  it.each([
    ['10.10.30.16/28', 16, '10.10.30.16', '10.10.30.31'],
    ['10.0.255.240/28', 16, '10.0.255.240', '10.0.255.255'],
    ['172.16.5.0/24', 256, '172.16.5.0', '172.16.5.255'],
  ])('expands %s', (cidr, count, first, last) => {
    const ips = ipv4PrefixAddresses(cidr);

    expect([ips.length, ips[0], ips.at(-1)]).toEqual([count, first, last]);
  });

  it.each(['10.0.2.0/23', 'x10.0.3.16/28', '10.0.3.16/28x', '10.0.256.0/28', ''])('ignores %j', (cidr) => {
    expect(ipv4PrefixAddresses(cidr)).toEqual([]);
  });
});
