/**
 * The local SNS stand-in speaks SNS's Query protocol as @aws-sdk/client-sns does, checked through
 * the real SDK: a publish is kept with its subject, structure and attributes; an unknown topic is
 * NotFound, a bad subject or message InvalidParameter, as SNS answers them.
 */
import {
  InvalidParameterException,
  NotFoundException,
  PublishCommand,
  type PublishCommandInput,
  SNSClient,
} from '@aws-sdk/client-sns';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LocalAwsEndpoint, TEST_CREDENTIALS, TEST_REGION } from '../../scripts/harness/aws-endpoint.js';
import { LocalSns } from '../../scripts/harness/sns.js';

const TOPIC = 'arn:aws:sns:us-east-1:000000000000:drains';
const aws = new LocalAwsEndpoint();
let sns: SNSClient;

beforeAll(async () => {
  await aws.start();
  sns = new SNSClient({
    region: TEST_REGION,
    endpoint: aws.env().AWS_ENDPOINT_URL_SNS,
    credentials: TEST_CREDENTIALS,
    maxAttempts: 1,
  });
});
afterAll(async () => {
  sns.destroy();
  await aws.stop();
});
beforeEach(() => {
  aws.sns.topics.clear();
  aws.sns.topics.add(TOPIC);
  aws.sns.published.splice(0);
});

const publish = (input: Partial<PublishCommandInput>) =>
  sns.send(new PublishCommand({ TopicArn: TOPIC, Message: 'hello', ...input }));

describe('local SNS Publish', () => {
  it('keeps the message with its subject, structure and attributes, and answers its id', async () => {
    const out = await publish({
      Subject: '[prod] drain deadline-deleted: ip-10-0-1-23.ec2.internal',
      Message: JSON.stringify({ default: 'for chat', email: 'for people' }),
      MessageStructure: 'json',
      MessageAttributes: {
        outcome: { DataType: 'String', StringValue: 'deadline-deleted' },
        cluster: { DataType: 'String', StringValue: 'prod' },
      },
    });

    expect(aws.sns.published).toHaveLength(1);
    const [message] = aws.sns.published;
    expect(out.MessageId).toBe(message?.messageId);
    expect(message).toMatchObject({
      topicArn: TOPIC,
      subject: '[prod] drain deadline-deleted: ip-10-0-1-23.ec2.internal',
      messageStructure: 'json',
      attributes: { outcome: 'deadline-deleted', cluster: 'prod' },
    });
    expect(aws.callsOf('sns', 'Publish')).toHaveLength(1);
  });

  it('delivers each protocol its own string of a json structure, and the default to the others', async () => {
    await publish({ Message: JSON.stringify({ default: 'd', email: 'e' }), MessageStructure: 'json' });
    const [message] = aws.sns.published;
    if (!message) throw new Error('nothing published');

    expect(LocalSns.deliveredTo(message, 'email')).toBe('e');
    expect(LocalSns.deliveredTo(message, 'https')).toBe('d');
  });

  it('takes a subject of exactly 100 printable characters', async () => {
    await publish({ Subject: 'x'.repeat(100) });

    expect(aws.sns.published).toHaveLength(1);
  });

  it('fails with NotFound for a topic that does not exist', async () => {
    const failure = publish({ TopicArn: `${TOPIC}-gone` });

    await expect(failure).rejects.toBeInstanceOf(NotFoundException);
    await expect(failure).rejects.toThrow('Topic does not exist');
    expect(aws.sns.published).toEqual([]);
  });

  it.each([
    ['a subject over 100 characters', { Subject: 'x'.repeat(101) }, 'Invalid parameter: Subject'],
    ['a subject with a line break', { Subject: 'two\nlines' }, 'Invalid parameter: Subject'],
    ['a subject that is not ASCII', { Subject: 'drain … ended' }, 'Invalid parameter: Subject'],
    ['an empty message', { Message: '' }, 'Invalid parameter: Empty message'],
    [
      'a json structure without a default entry',
      { Message: JSON.stringify({ email: 'e' }), MessageStructure: 'json' },
      'Invalid parameter: Message Structure - No default entry in JSON message body',
    ],
    [
      'a json structure that is not JSON',
      { Message: 'not json', MessageStructure: 'json' },
      'Invalid parameter: Message Structure - JSON message body failed to parse',
    ],
    [
      'an attribute without a value',
      { MessageAttributes: { node: { DataType: 'String', StringValue: '' } } },
      "The message attribute 'node' must contain non-empty message attribute value",
    ],
    [
      'more than 10 attributes',
      {
        MessageAttributes: Object.fromEntries(
          Array.from({ length: 11 }, (_, i) => [`a${i}`, { DataType: 'String', StringValue: 'v' }]),
        ),
      },
      'Number of message attributes [11] exceeds the allowed maximum [10]',
    ],
    ['a message over 256 KiB', { Message: 'x'.repeat(262_145) }, 'Invalid parameter: Message too long'],
  ])('fails with InvalidParameter for %s', async (_, input, message) => {
    const failure = publish(input as Partial<PublishCommandInput>);

    await expect(failure).rejects.toBeInstanceOf(InvalidParameterException);
    await expect(failure).rejects.toThrow(message);
    expect(aws.sns.published).toEqual([]);
  });

  it('fails with an injected fault, once', async () => {
    aws.failNext('sns', 'Publish', { status: 500, code: 'InternalError', message: 'try again' });

    await expect(publish({})).rejects.toThrow('try again');
    await publish({});
    expect(aws.sns.published).toHaveLength(1);
  });
});
