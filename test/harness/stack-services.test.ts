import {
  CloudFormationClient,
  DescribeStacksCommand,
  ListStackResourcesCommand,
} from '@aws-sdk/client-cloudformation';
import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeRuleCommand, EventBridgeClient, TestEventPatternCommand } from '@aws-sdk/client-eventbridge';
import { GetFunctionConfigurationCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lifecycleEvent } from '../../lambda/event.js';
import { LocalAwsEndpoint, TEST_CREDENTIALS, TEST_REGION } from '../../scripts/harness/aws-endpoint.js';

const aws = new LocalAwsEndpoint();
beforeAll(async () => {
  await aws.start();
});
afterAll(async () => {
  await aws.stop();
});

/** The real SDK client, pointed at the endpoint through its own AWS_ENDPOINT_URL_<SERVICE> variable. */
function client<T>(Client: new (config: object) => T, variable: string): T {
  const endpoint = aws.env()[variable];
  if (!endpoint) throw new Error(`env() has no ${variable}`);
  return new Client({ endpoint, region: TEST_REGION, credentials: TEST_CREDENTIALS, maxAttempts: 1 });
}

describe('local AWS endpoint: the services npm run doctor reads, with the real SDK', () => {
  it('CloudFormation: DescribeStacks and every page of ListStackResources; ValidationError for an unknown stack', async () => {
    aws.cloudFormation.stacks.set('EksNodeDrainer-x', {
      status: 'UPDATE_COMPLETE',
      outputs: { FunctionName: 'fn' },
      resources: ['a', 'b', 'c'].map((id) => ({
        logicalId: id,
        type: 'AWS::CloudWatch::Alarm',
        physicalId: `alarm-${id}`,
      })),
    });
    const cf = client(CloudFormationClient, 'AWS_ENDPOINT_URL_CLOUDFORMATION');

    const stack = (await cf.send(new DescribeStacksCommand({ StackName: 'EksNodeDrainer-x' }))).Stacks?.[0];
    const first = await cf.send(new ListStackResourcesCommand({ StackName: 'EksNodeDrainer-x' }));
    const second = await cf.send(
      new ListStackResourcesCommand({ StackName: 'EksNodeDrainer-x', NextToken: first.NextToken }),
    );

    expect(stack).toMatchObject({
      StackStatus: 'UPDATE_COMPLETE',
      Outputs: [{ OutputKey: 'FunctionName', OutputValue: 'fn' }],
    });
    expect(
      [...(first.StackResourceSummaries ?? []), ...(second.StackResourceSummaries ?? [])].map(
        (r) => r.PhysicalResourceId,
      ),
    ).toEqual(['alarm-a', 'alarm-b', 'alarm-c']);
    expect(second.NextToken).toBeUndefined();
    await expect(cf.send(new DescribeStacksCommand({ StackName: 'nope' }))).rejects.toMatchObject({
      name: 'ValidationError',
      message: 'Stack with id nope does not exist',
    });
  });

  it('SQS: GetQueueAttributes and a ReceiveMessage peek that leaves the messages', async () => {
    const url = `${aws.url}/000000000000/dlq`;
    aws.sqs.queues.set(url, [{ body: '{"a":1}', sentAt: 1_700_000_000_000 }]);
    const sqs = client(SQSClient, 'AWS_ENDPOINT_URL_SQS');

    const attributes = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages'] }),
    );
    const peek = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 0,
        MessageSystemAttributeNames: ['SentTimestamp'],
      }),
    );

    expect(attributes.Attributes?.ApproximateNumberOfMessages).toBe('1');
    expect(peek.Messages?.map((m) => [m.Body, m.Attributes?.SentTimestamp])).toEqual([
      ['{"a":1}', '1700000000000'],
    ]);
    expect(aws.sqs.queues.get(url)).toHaveLength(1);
    await expect(sqs.send(new GetQueueAttributesCommand({ QueueUrl: `${url}-x` }))).rejects.toMatchObject({
      name: 'QueueDoesNotExist',
    });
  });

  it('CloudWatch: DescribeAlarms by name', async () => {
    aws.cloudWatch.alarms.set('DeadLetterAlarm', {
      state: 'ALARM',
      reason: 'Threshold Crossed',
      description: 'dlq',
      actions: ['arn:aws:sns:eu-west-1:123456789012:alarms'],
    });
    const cw = client(CloudWatchClient, 'AWS_ENDPOINT_URL_CLOUDWATCH');

    const answer = await cw.send(new DescribeAlarmsCommand({ AlarmNames: ['DeadLetterAlarm', 'Other'] }));

    expect(answer.MetricAlarms).toEqual([
      expect.objectContaining({
        AlarmName: 'DeadLetterAlarm',
        StateValue: 'ALARM',
        StateReason: 'Threshold Crossed',
        AlarmActions: ['arn:aws:sns:eu-west-1:123456789012:alarms'],
      }),
    ]);
  });

  it('EventBridge: DescribeRule, and TestEventPattern with real matching of a lifecycle event', async () => {
    const pattern = JSON.stringify({
      source: ['aws.autoscaling'],
      detail: { AutoScalingGroupName: ['asg-a'] },
    });
    aws.eventBridge.rules.set('rule', { eventPattern: pattern, state: 'DISABLED' });
    const events = client(EventBridgeClient, 'AWS_ENDPOINT_URL_EVENTBRIDGE');
    const event = (asg: string) =>
      JSON.stringify(
        lifecycleEvent({ autoScalingGroupName: asg, hookName: 'h', instanceId: 'i-0123456789abcdef0' }),
      );

    const rule = await events.send(new DescribeRuleCommand({ Name: 'rule' }));
    const a = await events.send(
      new TestEventPatternCommand({ EventPattern: pattern, Event: event('asg-a') }),
    );
    const b = await events.send(
      new TestEventPatternCommand({ EventPattern: pattern, Event: event('asg-b') }),
    );

    expect(rule).toMatchObject({ Name: 'rule', State: 'DISABLED', EventPattern: pattern });
    expect([a.Result, b.Result]).toEqual([true, false]);
    await expect(
      events.send(new TestEventPatternCommand({ EventPattern: pattern, Event: '{"source":"x"}' })),
    ).rejects.toMatchObject({
      name: 'ValidationException',
    });
    await expect(
      events.send(new TestEventPatternCommand({ EventPattern: '{"source":"x"}', Event: event('asg-a') })),
    ).rejects.toMatchObject({ name: 'InvalidEventPatternException' });
    await expect(events.send(new DescribeRuleCommand({ Name: 'none' }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
  });

  it('Lambda: GetFunctionConfiguration answers the environment; 404 for an unknown function', async () => {
    aws.functionEnvironments.set('fn', { CLUSTER_NAME: 'x' });
    const lambda = client(LambdaClient, 'AWS_ENDPOINT_URL_LAMBDA');

    const config = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'fn' }));

    expect(config.Environment?.Variables).toEqual({ CLUSTER_NAME: 'x' });
    await expect(
      lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'other' })),
    ).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
  });
});
