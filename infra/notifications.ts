/**
 * The drain notifications: the topic (given, or made here: encrypted, TLS only), the function's
 * right to publish to it and nothing else, its environment, email subscriptions, and an alarm for
 * notifications that could not be published.
 */
import { Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import {
  DEFAULT_NOTIFY_ON,
  NOTIFICATION_TOPIC_ARN_ENV,
  NOTIFICATIONS_FAILED_METRIC,
  NOTIFY_ON_ENV,
  type NotifyOn,
} from '../lambda/contract.js';
import type { DrainMetric } from './observability.js';

export interface NotificationsProps {
  /**
   * The topic told about drains: a standard topic (FIFO topics take neither email nor chat
   * subscriptions). When it is encrypted with a customer managed key, pass a topic that knows its key
   * (`Topic.fromTopicAttributes({ topicArn, keyArn })`) and the function may use the key to publish.
   * @default - a new topic, encrypted with the AWS managed key for SNS, refusing requests without TLS
   */
  readonly topic?: sns.ITopic;

  /**
   * Which drains are told: `problems` (every drain that did not end `drained`: deadline reached, action
   * expired, node not found, …) or `all` (a clean drain too).
   * @default 'problems'
   */
  readonly notifyOn?: NotifyOn;

  /**
   * Email addresses subscribed to the topic; each confirms with the link AWS mails to it.
   * @default - none (subscribe chat, email or queues yourself)
   */
  readonly emailAddresses?: readonly string[];
}

export interface NotificationsParts {
  readonly function: lambda.Function;
  readonly role: iam.IRole;
  readonly metric: DrainMetric;
}

/** The topic, the grant, the environment, the subscriptions and the alarm of the drain notifications. */
export class DrainNotifications extends Construct {
  readonly topic: sns.ITopic;
  /** NotificationsFailed > 0: a drain's notification could not be published (the drain itself went on). */
  readonly alarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: NotificationsProps, parts: NotificationsParts) {
    super(scope, id);
    if (props.topic?.fifo) {
      throw new Error(
        `notifications.topic must be a standard SNS topic (FIFO topics take neither email nor chat subscriptions), got ${props.topic.topicArn}`,
      );
    }
    const emails = props.emailAddresses ?? [];
    const bad = emails.find(
      (email) => !Token.isUnresolved(email) && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email),
    );
    if (bad !== undefined) {
      throw new Error(`notifications.emailAddresses must be email addresses, got ${JSON.stringify(bad)}`);
    }
    this.topic =
      props.topic ??
      new sns.Topic(this, 'Topic', {
        displayName: 'eks-node-drainer',
        enforceSSL: true,
        // the AWS managed key: SNS encrypts at rest, and a publisher of the account needs no key grant
        masterKey: kms.Alias.fromAliasName(this, 'AwsManagedKey', 'alias/aws/sns'),
      });
    for (const email of emails) this.topic.addSubscription(new subscriptions.EmailSubscription(email));

    parts.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [this.topic.topicArn] }),
    );
    // a customer managed key of the user's topic: SNS encrypts with a data key made on the
    // publisher's behalf (the AWS managed key of a topic made here lets every principal of the account)
    props.topic?.masterKey?.grant(parts.role, 'kms:Decrypt', 'kms:GenerateDataKey*');
    parts.function.addEnvironment(NOTIFICATION_TOPIC_ARN_ENV, this.topic.topicArn);
    parts.function.addEnvironment(NOTIFY_ON_ENV, props.notifyOn ?? DEFAULT_NOTIFY_ON);

    this.alarm = new cloudwatch.Alarm(this, 'FailedAlarm', {
      alarmDescription:
        'A drain notification could not be published (the drain itself went on; see "drain notification failed" in the drainer log)',
      metric: parts.metric(NOTIFICATIONS_FAILED_METRIC),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }
}
