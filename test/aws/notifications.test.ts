/**
 * SnsNotifications through the real AWS SDK against the local SNS endpoint: what one Publish carries
 * (subject, MessageStructure json, attributes), SNS's errors passed on, and the abort signal honoured.
 */
import { createServer, type Server } from 'node:http';
import { NotFoundException, SNSClient } from '@aws-sdk/client-sns';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SnsNotifications } from '../../lambda/aws/notifications.js';
import { drainNotification } from '../../lambda/notify/message.js';
import { LocalAwsEndpoint, TEST_CREDENTIALS, TEST_REGION } from '../../scripts/harness/aws-endpoint.js';
import { LocalSns } from '../../scripts/harness/sns.js';

const TOPIC = 'arn:aws:sns:us-east-1:000000000000:drains';
const aws = new LocalAwsEndpoint();
const clients: SNSClient[] = [];

function client(endpoint = aws.url): SNSClient {
  const made = new SNSClient({
    region: TEST_REGION,
    endpoint,
    credentials: TEST_CREDENTIALS,
    maxAttempts: 1,
  });
  clients.push(made);
  return made;
}

const notification = drainNotification({
  cluster: 'prod',
  end: 'problem',
  outcome: 'deadline-deleted',
  trigger: 'termination',
  instanceId: 'i-0123456789abcdef0',
  node: 'ip-10-0-1-23.ec2.internal',
  autoScalingGroup: 'prod-ng-a',
  lifecycleResult: 'CONTINUE',
  completed: [],
  attempt: 1,
  endedAt: Date.parse('2026-11-21T10:15:00.000Z'),
});

beforeAll(async () => {
  await aws.start();
});
afterAll(async () => {
  for (const made of clients) made.destroy();
  await aws.stop();
});
beforeEach(() => {
  aws.sns.topics.clear();
  aws.sns.topics.add(TOPIC);
  aws.sns.published.splice(0);
});

describe('SnsNotifications', () => {
  it('publishes the notification to the topic as SNS receives it, and answers the message id', async () => {
    const id = await new SnsNotifications(client(), TOPIC).publish(notification, AbortSignal.timeout(5_000));

    expect(aws.sns.published).toHaveLength(1);
    const [published] = aws.sns.published;
    if (!published) throw new Error('nothing published');
    expect(id).toBe(published.messageId);
    expect(published).toMatchObject({
      topicArn: TOPIC,
      subject: '[prod] drain deadline-deleted: ip-10-0-1-23.ec2.internal',
      messageStructure: 'json',
      attributes: notification.attributes,
    });
    expect(LocalSns.deliveredTo(published, 'email')).toContain('ended deadline-deleted');
    expect(JSON.parse(LocalSns.deliveredTo(published, 'sqs'))).toMatchObject({ outcome: 'deadline-deleted' });
    expect(JSON.parse(LocalSns.deliveredTo(published, 'https'))).toMatchObject({ source: 'custom' });
  });

  it('passes on SNS’s NotFound for a topic that does not exist', async () => {
    const publishing = new SnsNotifications(client(), `${TOPIC}-gone`).publish(
      notification,
      AbortSignal.timeout(5_000),
    );

    await expect(publishing).rejects.toBeInstanceOf(NotFoundException);
  });

  describe('against an endpoint that never answers', () => {
    let silent: Server;
    let url = '';
    beforeAll(async () => {
      silent = createServer(() => {});
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const address = silent.address();
      url = typeof address === 'object' && address ? `http://127.0.0.1:${address.port}` : '';
    });
    afterAll(async () => {
      silent.closeAllConnections();
      await new Promise((resolve) => silent.close(resolve));
    });

    it('gives up when its signal aborts', async () => {
      const publishing = new SnsNotifications(client(url), TOPIC).publish(
        notification,
        AbortSignal.timeout(200),
      );

      await expect(publishing).rejects.toThrow(/abort/i);
    });
  });
});
