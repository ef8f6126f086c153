import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { NodeDrainer, type NodeDrainerProps } from '../../infra/node-drainer.js';
import { SCHEDULED_EVENT_TYPE_CODES, SCHEDULED_REPLACEMENTS_REQUEST } from '../../lambda/contract.js';
import { actionsOf, identityStatements, isRbacId, regionalArn, synthesize, testApp } from './support.js';

const TERMINATE = 'autoscaling:TerminateInstanceInAutoScalingGroup';

const rules = (template: Template) => Object.values(template.findResources('AWS::Events::Rule'));
const healthRule = (template: Template) =>
  rules(template).find((r) => r.Properties.EventPattern?.source?.includes('aws.health'));
const scheduleRule = (template: Template) => rules(template).find((r) => r.Properties.ScheduleExpression);
const terminateStatements = (template: Template) =>
  identityStatements(template).filter((s) => actionsOf(s).includes(TERMINATE));

function construct(props: Partial<NodeDrainerProps>) {
  const stack = new Stack(testApp(), 'Test');
  return () =>
    new NodeDrainer(stack, 'Drainer', { clusterName: 'demo', autoScalingGroupNames: ['asg-a'], ...props });
}

describe('NodeDrainer: EC2 scheduled events (AWS Health)', () => {
  const { template } = synthesize();

  it("takes the account's EC2 scheduled changes of the types acted on, to the function with the stack's retries", () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectEquals({
        source: ['aws.health'],
        'detail-type': ['AWS Health Event'],
        detail: {
          service: ['EC2'],
          eventTypeCategory: ['scheduledChange'],
          eventTypeCode: [...SCHEDULED_EVENT_TYPE_CODES],
        },
      }),
      Targets: [
        Match.objectLike({ RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 } }),
      ],
    });
  });

  it('asks the function every 5 minutes for the replacements that are due, with its own request', () => {
    const schedule = scheduleRule(template);
    expect(schedule?.Properties.ScheduleExpression).toBe('rate(5 minutes)');
    expect(JSON.parse(schedule?.Properties.Targets[0].Input)).toEqual(SCHEDULED_REPLACEMENTS_REQUEST);
  });

  it('lets the function replace instances of exactly the named groups', () => {
    expect(terminateStatements(template).map((s) => s.Resource)).toEqual([
      [
        regionalArn('autoscaling', ':autoScalingGroup:*:autoScalingGroupName/asg-a'),
        regionalArn('autoscaling', ':autoScalingGroup:*:autoScalingGroupName/asg-b'),
      ],
    ]);
  });

  it('with cordon: the Health rule only, no schedule and no replacement permission', () => {
    const { template: cordon } = synthesize({ onScheduledEvent: 'cordon' });
    expect(healthRule(cordon)).toBeDefined();
    expect(scheduleRule(cordon)).toBeUndefined();
    expect(terminateStatements(cordon)).toEqual([]);
    cordon.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ ON_SCHEDULED_EVENT: 'cordon' }) },
    });
  });

  it('with ignore: no rule, no schedule, no replacement permission', () => {
    const { template: ignore } = synthesize({ onScheduledEvent: 'ignore' });
    expect(healthRule(ignore)).toBeUndefined();
    expect(scheduleRule(ignore)).toBeUndefined();
    expect(terminateStatements(ignore)).toEqual([]);
  });

  it('gives the function the lead time, by default an hour or the drain timeout and two sweeps', () => {
    const lead = (props: Parameters<typeof synthesize>[0]) =>
      Template.fromStack(synthesize(props).stack).findResources('AWS::Lambda::Function');
    const seconds = (props: Parameters<typeof synthesize>[0]) =>
      Object.entries(lead(props))
        .filter(([id]) => !isRbacId(id))
        .map(([, f]) => f.Properties.Environment.Variables.SCHEDULED_EVENT_LEAD_SECONDS);
    expect(seconds({})).toEqual(['3600']);
    expect(seconds({ drainTimeout: Duration.hours(2), heartbeatTimeout: Duration.hours(2) })).toEqual([
      '7800',
    ]);
    expect(seconds({ scheduledEventLeadTime: Duration.hours(6) })).toEqual(['21600']);
  });

  it('refuses a lead time shorter than the drain timeout and a sweep, or longer than 14 days', () => {
    expect(construct({ scheduledEventLeadTime: Duration.minutes(19) })).toThrow(
      'scheduledEventLeadTime must be between drainTimeout + the 300 s sweep interval (1200 s) and 14 days (1209600 s), or the node may still be draining when the window starts; got 1140 s',
    );
    expect(construct({ scheduledEventLeadTime: Duration.minutes(20) })).not.toThrow();
    expect(construct({ scheduledEventLeadTime: Duration.days(15) })).toThrow('got 1296000 s');
  });
});
