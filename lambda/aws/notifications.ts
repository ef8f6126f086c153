import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { Notification } from '../notify/message.js';
import type { NotificationPort } from '../notify/notify.js';

/** A drain's notification on an SNS topic: one Publish, one string per protocol (MessageStructure json). */
export class SnsNotifications implements NotificationPort {
  constructor(
    private readonly client: SNSClient,
    private readonly topicArn: string,
  ) {}

  async publish(notification: Notification, signal: AbortSignal): Promise<string | undefined> {
    const out = await this.client.send(
      new PublishCommand({
        TopicArn: this.topicArn,
        Subject: notification.subject,
        Message: notification.message,
        MessageStructure: 'json',
        MessageAttributes: Object.fromEntries(
          Object.entries(notification.attributes).map(([name, value]) => [
            name,
            { DataType: 'String', StringValue: value },
          ]),
        ),
      }),
      { abortSignal: signal },
    );
    return out.MessageId;
  }
}
