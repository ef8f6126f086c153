/**
 * The local SQS stand-in honours the visibility timeout as SQS does, checked through the real AWS
 * SDK: a received message is in flight (invisible to the next ReceiveMessage, counted as
 * ApproximateNumberOfMessagesNotVisible) for the VisibilityTimeout sent, else the queue's default
 * (30 s); VisibilityTimeout 0 leaves it visible. Date is frozen and moved by hand.
 */
import {
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  type ReceiveMessageCommandInput,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { readQueue } from '../../scripts/doctor/aws.js';
import { LocalAwsEndpoint, TEST_CREDENTIALS, TEST_REGION } from '../../scripts/harness/aws-endpoint.js';

const T0 = Date.parse('2026-11-21T10:00:00.000Z');
const aws = new LocalAwsEndpoint();
let sqs: SQSClient;
let url: string;

beforeAll(async () => {
  await aws.start();
  url = `${aws.url}/000000000000/dead-letters`;
  sqs = new SQSClient({
    region: TEST_REGION,
    endpoint: aws.env().AWS_ENDPOINT_URL_SQS,
    credentials: TEST_CREDENTIALS,
    maxAttempts: 1,
  });
});
afterAll(async () => {
  sqs.destroy();
  await aws.stop();
});
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(T0);
  aws.sqs.queues.clear();
  aws.sqs.visibilityTimeouts.clear();
  aws.sqs.queues.set(url, [
    { body: 'first', sentAt: T0 - 120_000 },
    { body: 'second', sentAt: T0 - 60_000 },
  ]);
});
afterEach(() => {
  vi.useRealTimers();
});

function advance(seconds: number): void {
  vi.setSystemTime(Date.now() + seconds * 1000);
}

async function receive(input: Partial<ReceiveMessageCommandInput> = {}): Promise<Message[]> {
  const out = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: url,
      MessageSystemAttributeNames: ['SentTimestamp', 'ApproximateReceiveCount'],
      ...input,
    }),
  );
  return out.Messages ?? [];
}

const bodies = (messages: Message[]) => messages.map((m) => m.Body);

async function counts(): Promise<{ visible?: string; inFlight?: string }> {
  const out = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return {
    visible: out.Attributes?.ApproximateNumberOfMessages,
    inFlight: out.Attributes?.ApproximateNumberOfMessagesNotVisible,
  };
}

describe('local SQS: ReceiveMessage and the visibility timeout', () => {
  it('hides a received message for the VisibilityTimeout sent, counts it as not visible, then shows it again', async () => {
    const first = await receive({ VisibilityTimeout: 20 });
    const countsAfterFirst = await counts();
    const second = await receive({ MaxNumberOfMessages: 10, VisibilityTimeout: 20 });
    const none = await receive({ MaxNumberOfMessages: 10, VisibilityTimeout: 20 });
    const countsInFlight = await counts();
    advance(19.999);
    const stillNone = await receive({ MaxNumberOfMessages: 10 });
    advance(0.001);
    const again = await receive({ MaxNumberOfMessages: 10, VisibilityTimeout: 0 });

    expect(bodies(first)).toEqual(['first']);
    expect(countsAfterFirst).toEqual({ visible: '1', inFlight: '1' });
    expect(bodies(second)).toEqual(['second']);
    expect(none).toEqual([]);
    expect(countsInFlight).toEqual({ visible: '0', inFlight: '2' });
    expect(stillNone).toEqual([]);
    expect(bodies(again)).toEqual(['first', 'second']);
    expect(again.map((m) => m.Attributes?.ApproximateReceiveCount)).toEqual(['2', '2']);
    expect(again[0]?.MessageId).toBe(first[0]?.MessageId); // the same message, received twice
    expect(aws.sqs.queues.get(url)).toHaveLength(2); // nothing is deleted
  });

  it("hides a message for the queue's default visibility timeout when none is sent: 30 s unless set", async () => {
    const hidden = await receive({ MaxNumberOfMessages: 10 });
    advance(29.999);
    const before = await receive({ MaxNumberOfMessages: 10 });
    advance(0.001);
    const after = await receive({ MaxNumberOfMessages: 1 });
    aws.sqs.visibilityTimeouts.set(url, 5);
    advance(30);
    const withQueueDefault = await receive({ MaxNumberOfMessages: 10 });
    advance(5);
    const backAfter5s = await receive({ MaxNumberOfMessages: 10, VisibilityTimeout: 0 });

    expect(bodies(hidden)).toEqual(['first', 'second']);
    expect(before).toEqual([]);
    expect(bodies(after)).toEqual(['first']);
    expect(bodies(withQueueDefault)).toEqual(['first', 'second']);
    expect(bodies(backAfter5s)).toEqual(['first', 'second']);
  });

  it('leaves a message visible to the next receive and in ApproximateNumberOfMessages with VisibilityTimeout 0', async () => {
    const peek = await receive({ MaxNumberOfMessages: 10, VisibilityTimeout: 0 });
    const again = await receive({ MaxNumberOfMessages: 10, VisibilityTimeout: 0 });

    expect(bodies(peek)).toEqual(['first', 'second']);
    expect(bodies(again)).toEqual(['first', 'second']);
    expect(await counts()).toEqual({ visible: '2', inFlight: '0' });
  });

  it('does not return or count as visible a message a test put in flight, until its time is up', async () => {
    const [first] = aws.sqs.queues.get(url) ?? [];
    if (first) first.invisibleUntil = T0 + 10_000;

    const received = await receive({ MaxNumberOfMessages: 10, VisibilityTimeout: 0 });
    const during = await counts();
    advance(10);

    expect(bodies(received)).toEqual(['second']);
    expect(during).toEqual({ visible: '1', inFlight: '1' });
    expect(await counts()).toEqual({ visible: '2', inFlight: '0' });
  });

  it('answers only the attributes asked for', async () => {
    const [plain] = await receive({ MessageSystemAttributeNames: [], VisibilityTimeout: 0 });
    const [all] = await receive({ MessageSystemAttributeNames: ['All'], VisibilityTimeout: 0 });
    const one = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages'] }),
    );

    expect(plain?.Attributes ?? {}).toEqual({});
    expect(all?.Attributes).toEqual({ SentTimestamp: String(T0 - 120_000), ApproximateReceiveCount: '2' });
    expect(one.Attributes).toEqual({ ApproximateNumberOfMessages: '2' });
  });

  it('refuses a VisibilityTimeout outside 0–43200 and more than 10 messages, as SQS does', async () => {
    await expect(receive({ VisibilityTimeout: 43_201 })).rejects.toMatchObject({
      message: expect.stringContaining('parameter VisibilityTimeout is invalid'),
      $metadata: { httpStatusCode: 400 },
    });
    await expect(receive({ MaxNumberOfMessages: 11 })).rejects.toMatchObject({
      message: expect.stringContaining('parameter MaxNumberOfMessages is invalid'),
      $metadata: { httpStatusCode: 400 },
    });
    expect(await counts()).toEqual({ visible: '2', inFlight: '0' });
  });

  it("the doctor's read of the dead-letter queue is a peek: a second read sees the same events", async () => {
    const first = await readQueue(sqs, url);
    const second = await readQueue(sqs, url);

    expect(first).toEqual({ count: 2, oldest: { sentAt: T0 - 120_000, body: 'first' } });
    expect(second).toEqual(first);
    expect(await counts()).toEqual({ visible: '2', inFlight: '0' });
  });
});
