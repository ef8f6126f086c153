/** describeInstanceFacts through the real AWS SDK against the local EC2 endpoint (its states and tags). */
import { EC2Client } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { describeInstanceFacts } from '../../lambda/aws/instance-state.js';
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
  aws.instanceStates.clear();
  aws.instanceTags.clear();
});

describe('describeInstanceFacts', () => {
  it('answers the state, the group from the aws:autoscaling:groupName tag, and the private DNS name', async () => {
    aws.instances.set(INSTANCE, 'ip-10-0-1-23.ec2.internal');
    aws.instanceStates.set(INSTANCE, 'stopping');
    aws.instanceTags.set(INSTANCE, { Name: 'node', 'aws:autoscaling:groupName': 'web-asg' });

    expect(await describeInstanceFacts(client, INSTANCE)).toEqual({
      state: 'stopping',
      group: 'web-asg',
      privateDnsName: 'ip-10-0-1-23.ec2.internal',
    });
  });

  it('answers no group for an instance without the tag (in no Auto Scaling group)', async () => {
    aws.instances.set(INSTANCE, 'ip-10-0-1-23.ec2.internal');
    aws.instanceStates.set(INSTANCE, 'terminated');

    expect(await describeInstanceFacts(client, INSTANCE)).toEqual({
      state: 'terminated',
      privateDnsName: 'ip-10-0-1-23.ec2.internal',
    });
  });

  it('answers undefined for an instance EC2 no longer knows', async () => {
    expect(await describeInstanceFacts(client, INSTANCE)).toBeUndefined();
  });
});
