import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { NodeDrainer } from '../../infra/node-drainer.js';
import { DEMO, drainerIds, identityStatements, synthesize, testApp } from './support.js';

const only = (template: Template, type: string): string => {
  const ids = drainerIds(template, type);
  expect(ids).toHaveLength(1);
  return ids[0] ?? '';
};

const rules = (template: Template) => template.findResources('AWS::Events::Rule');
const ruleWith = (template: Template, detailType: string) =>
  Object.entries(rules(template)).find(([, rule]) =>
    rule.Properties.EventPattern?.['detail-type'].includes(detailType),
  );

describe('NodeDrainer: EC2 notices and warm pools', () => {
  const { template } = synthesize();

  it('takes Spot interruption warnings and rebalance recommendations of the account (they name no group)', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectEquals({
        source: ['aws.ec2'],
        'detail-type': ['EC2 Spot Instance Interruption Warning', 'EC2 Instance Rebalance Recommendation'],
      }),
    });
  });

  it("takes the named groups' successful launches from the warm pool", () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectEquals({
        source: ['aws.autoscaling'],
        'detail-type': ['EC2 Instance Launch Successful'],
        detail: {
          AutoScalingGroupName: ['asg-a', 'asg-b'],
          Origin: ['WarmPool'],
          Destination: ['AutoScalingGroup'],
        },
      }),
    });
  });

  it('targets the function from every rule with the same bounded retries and dead-letter queue', () => {
    const functionId = only(template, 'AWS::Lambda::Function');
    const queueId = only(template, 'AWS::SQS::Queue');
    // lifecycle, EC2 notices, warm-pool returns, instance state changes, scheduled events and the schedule of their replacements
    expect(Object.keys(rules(template))).toHaveLength(6);
    for (const rule of Object.values(rules(template))) {
      const { Input, ...target } = rule.Properties.Targets[0];
      expect(Input === undefined || typeof Input === 'string').toBe(true);
      expect([target, ...rule.Properties.Targets.slice(1)]).toEqual([
        {
          Arn: { 'Fn::GetAtt': [functionId, 'Arn'] },
          Id: expect.any(String),
          RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [queueId, 'Arn'] } },
        },
      ]);
    }
  });

  it('gives the function the rebalance action and the hook name, and grants the completion on the named groups only', () => {
    const { template: cordon } = synthesize({ onRebalanceRecommendation: 'drain' });
    cordon.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          ON_REBALANCE_RECOMMENDATION: 'drain',
          LIFECYCLE_HOOK_NAME: 'eks-node-drainer',
        }),
      },
    });
    const completions = identityStatements(template).filter((s) =>
      [s.Action].flat().includes('autoscaling:CompleteLifecycleAction'),
    );
    expect(completions).toHaveLength(1);
    expect(JSON.stringify(completions[0]?.Resource)).toContain('autoScalingGroupName/asg-a');
    expect(completions[0]?.Resource).toHaveLength(2);
  });

  it("takes the account's instance state changes of a lost instance, and running to undo (they name no group)", () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectEquals({
        source: ['aws.ec2'],
        'detail-type': ['EC2 Instance State-change Notification'],
        detail: { state: ['shutting-down', 'stopping', 'terminated', 'running'] },
      }),
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ ON_NODE_LOST: 'release' }) },
    });
  });

  it('with onNodeLost ignore: no state-change rule, and the function told so', () => {
    const { template: ignoring } = synthesize({ onNodeLost: 'ignore' });
    expect(ruleWith(ignoring, 'EC2 Instance State-change Notification')).toBeUndefined();
    ignoring.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ ON_NODE_LOST: 'ignore' }) },
    });
  });

  it('puts no launch hook by default', () => {
    template.resourcePropertiesCountIs(
      'AWS::AutoScaling::LifecycleHook',
      { LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING' },
      0,
    );
    expect(ruleWith(template, 'EC2 Instance-launch Lifecycle Action')).toBeUndefined();
  });

  it('with warmPoolLaunchHook: a launch hook on each group, continued after 5 minutes, its rule, created after the drain path', () => {
    const stack = new Stack(testApp(), 'Test');
    new NodeDrainer(stack, 'Drainer', { ...DEMO, lifecycleHookName: 'drain', warmPoolLaunchHook: true });
    const hooked = Template.fromStack(stack);

    const launchHooks = Object.values(hooked.findResources('AWS::AutoScaling::LifecycleHook')).filter(
      (hook) => hook.Properties.LifecycleTransition === 'autoscaling:EC2_INSTANCE_LAUNCHING',
    );
    expect(launchHooks.map((hook) => hook.Properties)).toEqual(
      ['asg-a', 'asg-b'].map((group) => ({
        AutoScalingGroupName: group,
        LifecycleHookName: 'drain-launch',
        LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
        HeartbeatTimeout: 300,
        DefaultResult: 'CONTINUE',
      })),
    );
    const [launchRuleId, launchRule] = ruleWith(hooked, 'EC2 Instance-launch Lifecycle Action') ?? [];
    expect(launchRule?.Properties.EventPattern).toEqual({
      source: ['aws.autoscaling'],
      'detail-type': ['EC2 Instance-launch Lifecycle Action'],
      detail: { AutoScalingGroupName: ['asg-a', 'asg-b'], LifecycleHookName: ['drain-launch'] },
    });
    const functionId = only(hooked, 'AWS::Lambda::Function');
    for (const hook of launchHooks)
      expect(hook.DependsOn).toEqual(expect.arrayContaining([functionId, launchRuleId]));
  });
});
