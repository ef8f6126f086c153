import { Validations } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { NodeDrainerStack } from '../../infra/node-drainer-stack.js';
import { DEMO, NETWORK, synthesize, testApp } from './support.js';

const findings = (scope: IConstruct) =>
  new AwsSolutionsChecks().validateScope(scope).violations.map((v) => ({
    rule: v.ruleName,
    at: v.violatingResources.map((r) => r.constructPath),
  }));

function acknowledgements(scope: IConstruct) {
  return scope.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({
          id: id.replace(/^annotation::/i, ''),
          reason,
        })),
      ),
  );
}

describe('cdk-nag AwsSolutions checks', () => {
  it('pass for the stack as deployed by default', () => {
    const { app } = synthesize();

    expect(findings(app)).toEqual([]);
  });

  it('pass with the warm-pool launch hook and rebalance drain', () => {
    const { app } = synthesize({ warmPoolLaunchHook: true, onRebalanceRecommendation: 'drain' });

    expect(findings(app)).toEqual([]);
  });

  it('pass in a VPC and without the access entry', () => {
    const { app } = synthesize({ network: { ...NETWORK, securityGroupIds: [] }, createAccessEntry: false });

    expect(findings(app)).toEqual([]);
  });

  it('are acknowledged only for these findings, each with its reason', () => {
    const { app } = synthesize({ network: NETWORK });

    const acknowledged = acknowledgements(app);

    expect(acknowledged.map((a) => a.id).sort()).toEqual([
      '@aws-cdk/aws-ec2:noSubnetRouteTableId',
      '@aws-cdk/aws-ec2:noSubnetRouteTableId',
      '@aws-cdk/aws-ec2:vpcAttributeIsListTokenavailabilityZones',
      // the drainer's and the RBAC applier's
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
      'AwsSolutions-IAM5[Resource::*]',
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:autoscaling:<AWS::Region>:<AWS::AccountId>:autoScalingGroup:*:autoScalingGroupName/asg-a]',
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:autoscaling:<AWS::Region>:<AWS::AccountId>:autoScalingGroup:*:autoScalingGroupName/asg-b]',
      // the applier's own access entry (its ARN ends in a UUID)
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:eks:<AWS::Region>:<AWS::AccountId>:access-entry/demo/role/<AWS::AccountId>/<NodeDrainerRbacRole10EED033>/*]',
      'AwsSolutions-L1',
      'AwsSolutions-L1',
      'AwsSolutions-SQS3',
    ]);
    for (const { reason } of acknowledged) expect(reason.length).toBeGreaterThan(40);
  });

  it('fail synthesis on a finding nobody acknowledged', () => {
    const app = testApp();
    const stack = new NodeDrainerStack(app, 'EksNodeDrainer-demo', { settings: DEMO });
    new sqs.Queue(stack, 'Unencrypted', { encryption: sqs.QueueEncryption.UNENCRYPTED });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));

    expect(() => app.synth()).toThrow(/AwsSolutions-SQS2/);
  });
});

describe('cdk-nag AwsSolutions checks with drain notifications', () => {
  it('pass with a topic the stack makes and email subscriptions, nothing acknowledged for them', () => {
    const { app } = synthesize({ notifications: { emailAddresses: ['ops@example.com'], notifyOn: 'all' } });

    expect(findings(app)).toEqual([]);
    expect(acknowledgements(app).map((a) => a.id)).not.toContainEqual(expect.stringMatching(/SNS/));
  });

  it('pass with a topic given by ARN', () => {
    const { app } = synthesize({ notifications: { topicArn: 'arn:aws:sns:eu-west-1:123456789012:alerts' } });

    expect(findings(app)).toEqual([]);
  });
});
