import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { describe, expect, it } from 'vitest';
import { NodeDrainer } from '../../infra/node-drainer.js';
import { actionsOf, DEMO, identityStatements, synthesize, testApp } from './support.js';

const TOPIC_ARN = 'arn:aws:sns:eu-west-1:123456789012:platform-alerts';
const onlyKey = (record: Record<string, unknown>): string => {
  const keys = Object.keys(record);
  expect(keys).toHaveLength(1);
  return keys[0] as string;
};
const variables = (template: Template) =>
  Object.values(template.findResources('AWS::Lambda::Function'))[0]?.Properties.Environment.Variables;
const publishStatements = (template: Template) =>
  identityStatements(template).filter((s) =>
    actionsOf(s).some((a) => a.startsWith('sns:') || a.startsWith('kms:')),
  );

describe('NodeDrainer notifications', () => {
  it('are off by default: no topic, no variable, no grant, no output', () => {
    const { template } = synthesize();

    template.resourceCountIs('AWS::SNS::Topic', 0);
    expect(variables(template)).not.toHaveProperty('NOTIFICATION_TOPIC_ARN');
    expect(variables(template)).not.toHaveProperty('NOTIFY_ON');
    expect(publishStatements(template)).toEqual([]);
    expect(template.findOutputs('NotificationTopicArn')).toEqual({});
  });

  describe('with a topic the stack makes', () => {
    const { template } = synthesize({ notifications: {} });
    const topicId = onlyKey(template.findResources('AWS::SNS::Topic'));

    it('encrypts the topic with the AWS managed key and refuses requests without TLS', () => {
      template.hasResourceProperties('AWS::SNS::Topic', {
        KmsMasterKeyId: {
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              ':kms:',
              { Ref: 'AWS::Region' },
              ':',
              { Ref: 'AWS::AccountId' },
              ':alias/aws/sns',
            ],
          ],
        },
      });
      template.hasResourceProperties('AWS::SNS::TopicPolicy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Action: 'sns:Publish',
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ]),
        },
      });
    });

    it('gives the function the topic and NOTIFY_ON=problems', () => {
      expect(variables(template)).toMatchObject({
        NOTIFICATION_TOPIC_ARN: { Ref: topicId },
        NOTIFY_ON: 'problems',
      });
    });

    it('lets the function publish to that topic only, with no key grant (the AWS managed key needs none)', () => {
      expect(publishStatements(template)).toEqual([
        { Action: 'sns:Publish', Effect: 'Allow', Resource: { Ref: topicId } },
      ]);
    });

    it('outputs the topic ARN and alarms on notifications that failed', () => {
      expect(template.findOutputs('NotificationTopicArn').NotificationTopicArn?.Value).toEqual({
        Ref: topicId,
      });
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'NotificationsFailed',
        Namespace: 'EksNodeDrainer',
        Dimensions: [{ Name: 'Cluster', Value: 'demo' }],
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
      });
    });
  });

  it('subscribes the email addresses and takes notifyOn', () => {
    const { template } = synthesize({
      notifications: { emailAddresses: ['ops@example.com', 'sre@example.com'], notifyOn: 'all' },
    });

    template.resourceCountIs('AWS::SNS::Subscription', 2);
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
    });
    expect(variables(template).NOTIFY_ON).toBe('all');
  });

  it('uses a topic given by ARN: no topic made, the grant and the variable name it', () => {
    const { template } = synthesize({ notifications: { topicArn: TOPIC_ARN } });

    template.resourceCountIs('AWS::SNS::Topic', 0);
    expect(variables(template).NOTIFICATION_TOPIC_ARN).toBe(TOPIC_ARN);
    expect(publishStatements(template)).toEqual([
      { Action: 'sns:Publish', Effect: 'Allow', Resource: TOPIC_ARN },
    ]);
    expect(template.findOutputs('NotificationTopicArn').NotificationTopicArn?.Value).toBe(TOPIC_ARN);
  });

  it('lets the function use the customer managed key of a topic given with its key', () => {
    const stack = new Stack(testApp(), 'Cmk');
    const key = new kms.Key(stack, 'Key');
    const topic = new sns.Topic(stack, 'Alerts', { masterKey: key });
    new NodeDrainer(stack, 'Drainer', { ...DEMO, notifications: { topic } });
    const template = Template.fromStack(stack);
    const keyId = onlyKey(template.findResources('AWS::KMS::Key'));
    const topicId = onlyKey(template.findResources('AWS::SNS::Topic'));

    expect(publishStatements(template)).toEqual([
      { Action: 'sns:Publish', Effect: 'Allow', Resource: { Ref: topicId } },
      {
        Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        Effect: 'Allow',
        Resource: { 'Fn::GetAtt': [keyId, 'Arn'] },
      },
    ]);
  });

  it('fails for a FIFO topic, naming it', () => {
    const stack = new Stack(testApp(), 'Fifo');
    const topic = sns.Topic.fromTopicArn(stack, 'Fifo', `${TOPIC_ARN}.fifo`);

    expect(() => new NodeDrainer(stack, 'Drainer', { ...DEMO, notifications: { topic } })).toThrow(
      `notifications.topic must be a standard SNS topic (FIFO topics take neither email nor chat subscriptions), got ${TOPIC_ARN}.fifo`,
    );
  });

  it('fails for an email address that is not one, naming it', () => {
    const stack = new Stack(testApp(), 'Email');

    expect(
      () =>
        new NodeDrainer(stack, 'Drainer', { ...DEMO, notifications: { emailAddresses: ['ops at example'] } }),
    ).toThrow('notifications.emailAddresses must be email addresses, got "ops at example"');
  });
});

describe('NodeDrainer alarm actions', () => {
  const alarms = (template: Template) => Object.values(template.findResources('AWS::CloudWatch::Alarm'));
  // every kind of alarm: the drainer's, the notifications' and the reconciler's
  const everything = { autoScalingGroupNames: undefined, discover: true, notifications: {} };

  it('notify nobody by default', () => {
    const all = alarms(synthesize(everything).template);

    expect(all.length).toBeGreaterThan(5);
    for (const alarm of all) {
      expect(alarm.Properties).not.toHaveProperty('AlarmActions');
      expect(alarm.Properties).not.toHaveProperty('OKActions');
    }
  });

  it("with alarmTopicArn, every alarm (the notifications' and the reconciler's too) tells the topic when it fires and when it clears", () => {
    const { template } = synthesize({ ...everything, alarmTopicArn: TOPIC_ARN });
    const all = alarms(template);

    expect(all).toHaveLength(alarms(synthesize(everything).template).length);
    for (const alarm of all) {
      expect(alarm.Properties.AlarmActions).toEqual([TOPIC_ARN]);
      expect(alarm.Properties.OKActions).toEqual([TOPIC_ARN]);
    }
    expect(all.map((a) => a.Properties.MetricName)).toEqual(
      expect.arrayContaining(['NotificationsFailed', 'ApproximateNumberOfMessagesVisible', 'Errors']),
    );
  });

  it('fails for a FIFO alarm topic, naming it', () => {
    const stack = new Stack(testApp(), 'FifoAlarms');
    const alarmTopic = sns.Topic.fromTopicArn(stack, 'Fifo', `${TOPIC_ARN}.fifo`);

    expect(() => new NodeDrainer(stack, 'Drainer', { ...DEMO, alarmTopic })).toThrow(
      `alarmTopic must be a standard SNS topic, got the FIFO topic ${TOPIC_ARN}.fifo`,
    );
  });
});
