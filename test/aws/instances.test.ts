import { DescribeInstancesCommand, EC2Client, EC2ServiceException } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { Ec2Instances } from '../../lambda/aws/instances.js';

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
