/** The stack with `discover: true` (the reconciler) and with `nodegroupNames` (resolved at deploy time). */

import { Match, type Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { actionsOf, type Statement, synthesize } from './support.js';

const findings = (settings: Parameters<typeof synthesize>[0]) =>
  new AwsSolutionsChecks().validateScope(synthesize(settings).app).violations.map((v) => v.ruleName);

const idOf = (template: Template, type: string, pattern: RegExp): string => {
  const ids = Object.keys(template.findResources(type)).filter((id) => pattern.test(id));
  expect(ids).toHaveLength(1);
  return ids[0] as string;
};

const ANY_GROUP = {
  'Fn::Join': [
    '',
    [
      'arn:',
      { Ref: 'AWS::Partition' },
      ':autoscaling:',
      { Ref: 'AWS::Region' },
      ':',
      { Ref: 'AWS::AccountId' },
      ':autoScalingGroup:*:autoScalingGroupName/*',
    ],
  ],
};
const CLUSTER_TAGS = [
  { StringEquals: { 'autoscaling:ResourceTag/eks:cluster-name': 'demo' } },
  { StringEquals: { 'autoscaling:ResourceTag/kubernetes.io/cluster/demo': ['owned', 'shared'] } },
];

type Conditioned = Statement & { Condition?: Record<string, unknown> };

function policyStatements(template: Template, rolePattern: RegExp): Conditioned[] {
  const roleId = idOf(template, 'AWS::IAM::Role', rolePattern);
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => JSON.stringify(p.Properties.Roles).includes(roleId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement);
}

describe('NodeDrainer with discover: true', () => {
  const { template } = synthesize({ autoScalingGroupNames: undefined, discover: true });
  const reconcilerId = idOf(template, 'AWS::Lambda::Function', /Discovery/);
  const drainerId = idOf(template, 'AWS::Lambda::Function', /^NodeDrainerFunction/);

  it('puts no hook itself: the reconciler does, at deploy', () => {
    template.resourceCountIs('AWS::AutoScaling::LifecycleHook', 0);
    template.hasResourceProperties('Custom::EksNodeDrainerHooks', {
      ServiceToken: { 'Fn::GetAtt': [reconcilerId, 'Arn'] },
      ClusterName: 'demo',
      HookName: 'eks-node-drainer',
      HeartbeatTimeout: 1800,
      DefaultResult: 'CONTINUE',
    });
  });

  it('puts the hooks only once the drain path exists, so that removal takes them off first', () => {
    const hooks = Object.values(template.findResources('Custom::EksNodeDrainerHooks'))[0];
    const ruleId = idOf(template, 'AWS::Events::Rule', /LifecycleRule/);
    const accessEntryId = idOf(template, 'AWS::EKS::AccessEntry', /./);

    expect(hooks?.DependsOn).toEqual(expect.arrayContaining([drainerId, ruleId, accessEntryId]));
  });

  it('matches the lifecycle actions of any group by hook name; the handler checks the tags', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.autoscaling'],
        'detail-type': ['EC2 Instance-terminate Lifecycle Action'],
        detail: Match.objectEquals({ LifecycleHookName: ['eks-node-drainer'] }),
      },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Environment: {
        Variables: Match.objectLike({
          DISCOVER_AUTO_SCALING_GROUPS: 'true',
          AUTO_SCALING_GROUP_NAMES: Match.absent(),
        }),
      },
    });
  });

  it("lets the drainer answer lifecycle actions only of groups tagged for its cluster, and read groups' tags", () => {
    const statements = policyStatements(template, /^NodeDrainerRole/);
    const lifecycle = statements.filter((s) => actionsOf(s).includes('autoscaling:CompleteLifecycleAction'));

    expect(lifecycle.map((s) => [s.Resource, s.Condition])).toEqual(CLUSTER_TAGS.map((c) => [ANY_GROUP, c]));
    for (const s of lifecycle) {
      // and the planned replacement of an instance with a scheduled event (ON_SCHEDULED_EVENT=replace)
      expect(actionsOf(s).sort()).toEqual([
        'autoscaling:CompleteLifecycleAction',
        'autoscaling:RecordLifecycleActionHeartbeat',
        'autoscaling:TerminateInstanceInAutoScalingGroup',
      ]);
    }
    const star = statements.filter((s) => s.Resource === '*');
    expect(star).toHaveLength(1);
    expect(actionsOf(star[0] as Statement)).toContain('autoscaling:DescribeAutoScalingGroups');
  });

  describe('the reconciler', () => {
    it('runs its own bundled entry, one pass at a time, with the hook of the named-group path', () => {
      template.hasResourceProperties('AWS::Lambda::Function', {
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        Timeout: 900,
        ReservedConcurrentExecutions: 1,
        Environment: {
          Variables: Match.objectEquals({
            CLUSTER_NAME: 'demo',
            HOOK_NAME: 'eks-node-drainer',
            HOOK_HEARTBEAT_TIMEOUT_SECONDS: '1800',
            HOOK_DEFAULT_RESULT: 'CONTINUE',
            LOG_LEVEL: 'info',
            NODE_OPTIONS: '--enable-source-maps',
          }),
        },
      });
    });

    it('may put hooks and its record tag only on groups tagged for the cluster, and delete only what its record names', () => {
      const statements = policyStatements(template, /DiscoveryRole/);
      const byAction = (action: string) => statements.filter((s) => actionsOf(s).includes(action));
      const marker = { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['eks-node-drainer/demo'] } };
      const record = {
        StringEquals: { 'autoscaling:ResourceTag/eks-node-drainer/demo': 'eks-node-drainer' },
      };

      expect(statements.flatMap(actionsOf).sort()).toEqual([
        'autoscaling:CreateOrUpdateTags',
        'autoscaling:CreateOrUpdateTags',
        'autoscaling:DeleteLifecycleHook',
        'autoscaling:DeleteTags',
        'autoscaling:DescribeAutoScalingGroups',
        'autoscaling:DescribeLifecycleHooks',
        'autoscaling:PutLifecycleHook',
        'autoscaling:PutLifecycleHook',
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        'sqs:GetQueueAttributes',
        'sqs:GetQueueUrl',
        'sqs:SendMessage',
      ]);
      expect(byAction('autoscaling:PutLifecycleHook').map((s) => [s.Resource, s.Condition])).toEqual(
        CLUSTER_TAGS.map((c) => [ANY_GROUP, c]),
      );
      expect(byAction('autoscaling:CreateOrUpdateTags').map((s) => s.Condition)).toEqual(
        CLUSTER_TAGS.map((c) => ({ ...c, ...marker })),
      );
      expect(byAction('autoscaling:DeleteLifecycleHook').map((s) => s.Condition)).toEqual([record]);
      expect(byAction('autoscaling:DeleteTags').map((s) => s.Condition)).toEqual([{ ...record, ...marker }]);
      // every write is conditioned; only the describe calls are on '*'
      for (const s of statements.filter((s) => actionsOf(s).some((a) => /Put|Delete|Create/.test(a)))) {
        if (actionsOf(s)[0]?.startsWith('autoscaling:')) expect(s.Condition).toBeDefined();
      }
      expect(byAction('autoscaling:DescribeAutoScalingGroups').map((s) => s.Resource)).toEqual(['*']);
    });

    it('runs every 15 minutes and on CloudTrail CreateAutoScalingGroup and CreateNodegroup, removed before the hooks', () => {
      const hooksId = idOf(template, 'Custom::EksNodeDrainerHooks', /./);
      const rules = template.findResources('AWS::Events::Rule', {
        Properties: { Targets: [{ Arn: { 'Fn::GetAtt': [reconcilerId, 'Arn'] } }] },
      });

      expect(
        Object.values(rules).map((r) => r.Properties.ScheduleExpression ?? r.Properties.EventPattern),
      ).toEqual([
        'rate(15 minutes)',
        {
          source: ['aws.autoscaling', 'aws.eks'],
          'detail-type': ['AWS API Call via CloudTrail'],
          detail: {
            eventSource: ['autoscaling.amazonaws.com', 'eks.amazonaws.com'],
            eventName: ['CreateAutoScalingGroup', 'CreateNodegroup'],
          },
        },
      ]);
      for (const rule of Object.values(rules)) {
        expect(rule.DependsOn).toContain(hooksId);
        expect(rule.Properties.Targets[0].RetryPolicy).toEqual({
          MaximumRetryAttempts: 2,
          MaximumEventAgeInSeconds: 3600,
        });
      }
    });

    it('alarms when a pass fails', () => {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/Lambda',
        MetricName: 'Errors',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: reconcilerId } }],
        Threshold: 0,
      });
    });
  });

  it('passes the cdk-nag AwsSolutions checks', () => {
    expect(findings({ autoScalingGroupNames: undefined, discover: true })).toEqual([]);
  });
});

describe('NodeDrainer with nodegroupNames', () => {
  const { template } = synthesize({ autoScalingGroupNames: ['asg-a'], nodegroupNames: ['ng-a'] });
  const resolverId = idOf(template, 'Custom::AWS', /Nodegroupnga/);
  const groupName = { 'Fn::GetAtt': [resolverId, 'nodegroup.resources.autoScalingGroups.0.name'] };

  it("resolves each node group's Auto Scaling Group at deploy time with eks:DescribeNodegroup", () => {
    const resolver = Object.values(template.findResources('Custom::AWS'))[0];
    const create = JSON.parse(resolver?.Properties.Create ?? '{}');

    expect(create).toMatchObject({
      service: 'EKS',
      action: 'describeNodegroup',
      parameters: { clusterName: 'demo', nodegroupName: 'ng-a' },
      outputPaths: ['nodegroup.resources.autoScalingGroups.0.name'],
    });
    expect(resolver?.Properties.Update).toEqual(resolver?.Properties.Create);
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [
          {
            Action: 'eks:DescribeNodegroup',
            Effect: 'Allow',
            Resource: {
              'Fn::Join': [
                '',
                [
                  'arn:',
                  { Ref: 'AWS::Partition' },
                  ':eks:',
                  { Ref: 'AWS::Region' },
                  ':',
                  { Ref: 'AWS::AccountId' },
                  ':nodegroup/demo/ng-a/*',
                ],
              ],
            },
          },
        ],
      },
    });
  });

  it('gives that group the same hook as a named group, and serves both', () => {
    const hooks = Object.values(template.findResources('AWS::AutoScaling::LifecycleHook')).map(
      (h) => h.Properties,
    );

    expect(hooks).toEqual([
      expect.objectContaining({ AutoScalingGroupName: 'asg-a' }),
      { ...hooks[0], AutoScalingGroupName: groupName },
    ]);
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { detail: { AutoScalingGroupName: ['asg-a', groupName] } },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          AUTO_SCALING_GROUP_NAMES: { 'Fn::Join': ['', ['asg-a,', groupName]] },
        }),
      },
    });
  });

  it('passes the cdk-nag AwsSolutions checks', () => {
    expect(findings({ autoScalingGroupNames: undefined, nodegroupNames: ['ng-a', 'ng-b'] })).toEqual([]);
  });
});
