/**
 * EC2 scheduled events (AWS Health): the rule that brings the cluster's instances' scheduled changes
 * to the function, the schedule that asks it for the replacements that are due, and the one
 * AutoScaling call a replacement makes (lambda/job/scheduled.ts).
 */
import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import {
  HEALTH_DETAIL_TYPE,
  HEALTH_SOURCE,
  SCHEDULED_EVENT_TYPE_CODES,
  SCHEDULED_REPLACEMENTS_REQUEST,
  SCHEDULED_SWEEP_MINUTES,
  type ScheduledEventAction,
} from '../lambda/contract.js';
import { clusterTagConditions } from './discovery.js';
import { autoScalingGroupArn } from './hooks.js';

export interface HealthRulesProps {
  readonly clusterName: string;
  readonly onScheduledEvent: ScheduledEventAction;
  /** A fresh target for each rule (the drainer function, with the stack's retries and dead-letter queue), sending `input` if given. */
  readonly target: (input?: events.RuleTargetInput) => events.IRuleTarget;
  readonly role: iam.IRole;
  /** The named and node groups' names (tokens); empty with discovery. */
  readonly groupNames: readonly string[];
  readonly discover: boolean;
}

/**
 * Health events name instances, not groups: the rule takes the account's EC2 scheduled changes of
 * the types acted on, and the handler serves only its groups' instances (`foreign-instance`).
 * Nothing with `ignore`; no schedule and no AutoScaling permission with `cordon`.
 */
export function addHealthRules(scope: Construct, props: HealthRulesProps): events.Rule[] {
  if (props.onScheduledEvent === 'ignore') return [];
  const rules = [
    new events.Rule(scope, 'ScheduledEventRule', {
      description: `EC2 scheduled retirements, stops and reboots (AWS Health) for EKS cluster ${props.clusterName}'s nodes`,
      eventPattern: {
        source: [HEALTH_SOURCE],
        detailType: [HEALTH_DETAIL_TYPE],
        detail: {
          service: ['EC2'],
          eventTypeCategory: ['scheduledChange'],
          eventTypeCode: [...SCHEDULED_EVENT_TYPE_CODES],
        },
      },
      targets: [props.target()],
    }),
  ];
  if (props.onScheduledEvent !== 'replace') return rules;
  rules.push(
    new events.Rule(scope, 'ScheduledReplacementsRule', {
      description: `Replaces EKS cluster ${props.clusterName}'s nodes whose scheduled event is within the lead time`,
      schedule: events.Schedule.rate(Duration.minutes(SCHEDULED_SWEEP_MINUTES)),
      targets: [props.target(events.RuleTargetInput.fromObject(SCHEDULED_REPLACEMENTS_REQUEST))],
    }),
  );
  grantReplacement(props);
  return rules;
}

/** TerminateInstanceInAutoScalingGroup on exactly the served groups (with discovery: those tagged for the cluster). */
function grantReplacement({ role, groupNames, discover, clusterName }: HealthRulesProps): void {
  const actions = ['autoscaling:TerminateInstanceInAutoScalingGroup'];
  if (!discover) {
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions, resources: groupNames.map((name) => autoScalingGroupArn(name)) }),
    );
    return;
  }
  for (const conditions of clusterTagConditions(clusterName)) {
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions, resources: [autoScalingGroupArn('*')], conditions }),
    );
  }
}
