import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { actionsOf, drainerIds, identityStatements, NETWORK, regionalArn, synthesize } from './support.js';

const onlyId = (ids: string[]) => {
  expect(ids).toHaveLength(1);
  return ids[0] as string;
};

describe('NodeDrainer IAM', () => {
  const { template } = synthesize();
  const statements = identityStatements(template);
  const resourceOf = (action: string) => statements.find((s) => actionsOf(s).includes(action))?.Resource;
  const functionId = onlyId(drainerIds(template, 'AWS::Lambda::Function'));

  it('grants exactly the actions the drainer uses, and nothing for the EKS token', () => {
    const actions = statements.flatMap(actionsOf).sort();

    expect(actions).toEqual([
      'autoscaling:CompleteLifecycleAction',
      'autoscaling:DescribeAutoScalingInstances',
      'autoscaling:RecordLifecycleActionHeartbeat',
      'autoscaling:TerminateInstanceInAutoScalingGroup',
      'ec2:DescribeInstances',
      'ec2:DescribeSpotInstanceRequests',
      'eks:DescribeCluster',
      'elasticloadbalancing:DescribeTags',
      'elasticloadbalancing:DescribeTargetGroups',
      'elasticloadbalancing:DescribeTargetHealth',
      'lambda:InvokeFunction',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      'sqs:GetQueueAttributes',
      'sqs:GetQueueUrl',
      'sqs:SendMessage',
    ]);
    expect(statements.every((s) => s.Effect === 'Allow')).toBe(true);
  });

  it('scopes the lifecycle actions to the named Auto Scaling Groups', () => {
    const resources = [
      regionalArn('autoscaling', ':autoScalingGroup:*:autoScalingGroupName/asg-a'),
      regionalArn('autoscaling', ':autoScalingGroup:*:autoScalingGroupName/asg-b'),
    ];

    expect(resourceOf('autoscaling:CompleteLifecycleAction')).toEqual(resources);
    expect(resourceOf('autoscaling:RecordLifecycleActionHeartbeat')).toEqual(resources);
  });

  it('scopes DescribeCluster to the cluster', () => {
    expect(resourceOf('eks:DescribeCluster')).toEqual(regionalArn('eks', ':cluster/demo'));
  });

  it('lets the function invoke itself only, from a policy the function does not depend on', () => {
    const [policyId, policy] = Object.entries(template.findResources('AWS::IAM::Policy')).find(([, p]) =>
      JSON.stringify(p).includes('lambda:InvokeFunction'),
    ) ?? ['', {}];

    expect(resourceOf('lambda:InvokeFunction')).toEqual({ 'Fn::GetAtt': [functionId, 'Arn'] });
    expect(policy.Properties.PolicyDocument.Statement).toHaveLength(1);
    expect(template.findResources('AWS::Lambda::Function')[functionId]?.DependsOn).not.toContain(policyId);
  });

  it('writes to its own log group and dead-letter queue only', () => {
    const [logGroupId] = Object.keys(template.findResources('AWS::Logs::LogGroup'));
    const [queueId] = Object.keys(template.findResources('AWS::SQS::Queue'));

    expect(resourceOf('logs:PutLogEvents')).toEqual({ 'Fn::GetAtt': [logGroupId, 'Arn'] });
    expect(resourceOf('sqs:SendMessage')).toEqual({ 'Fn::GetAtt': [queueId, 'Arn'] });
  });

  it('uses no wildcard action, and "*" as a resource only for the describe calls without resource scoping', () => {
    for (const statement of statements) {
      for (const action of actionsOf(statement)) expect(action).not.toContain('*');
      const resources = [statement.Resource].flat();
      if (resources.includes('*')) {
        expect(actionsOf(statement).sort()).toEqual([
          'autoscaling:DescribeAutoScalingInstances',
          'ec2:DescribeInstances',
          'ec2:DescribeSpotInstanceRequests',
          'elasticloadbalancing:DescribeTags',
          'elasticloadbalancing:DescribeTargetGroups',
          'elasticloadbalancing:DescribeTargetHealth',
        ]);
      }
    }
    expect(statements.filter((s) => [s.Resource].flat().includes('*'))).toHaveLength(1);
  });

  it('attaches no managed policy outside a VPC', () => {
    template.allResourcesProperties('AWS::IAM::Role', { ManagedPolicyArns: Match.absent() });
  });

  it('attaches only the AWS-managed VPC access policy in a VPC', () => {
    const inVpc = synthesize({ network: NETWORK }).template;

    inVpc.hasResourceProperties('AWS::IAM::Role', {
      ManagedPolicyArns: [
        {
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              ':iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole',
            ],
          ],
        },
      ],
    });
  });
});
