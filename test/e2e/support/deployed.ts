/**
 * A drainer "deployed" to the local AWS endpoint from the real CDK template (synthesized offline, as
 * test/infra does): the stack and its resources in CloudFormation, the rule's real event pattern in
 * EventBridge, the hooks on the Auto Scaling groups, the function's real environment, its alarms and
 * dead-letter queue; a synchronous invoke of the function runs the real lambda/handler.ts in this
 * process with that environment.
 */
import { stackName } from '../../../lambda/contract.js';
import type { LocalAwsEndpoint } from '../../../scripts/harness/aws-endpoint.js';
import type { StackResourceState } from '../../../scripts/harness/stack-services.js';
import { synthesize } from '../../infra/support.js';
import { E2E_CLUSTER_NAME } from '../global-setup.js';
import { captureLogs, context, loadHandler } from './lambda.js';

export const FUNCTION_NAME = 'EksNodeDrainer-drainer-e2e-Function';
export const RULE_NAME = 'EksNodeDrainer-drainer-e2e-LifecycleRule';

interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
}

export interface Deployed {
  readonly stack: string;
  readonly queueUrl: string;
  readonly environment: Record<string, string>;
}

/** Synthesizes the stack for these groups and mirrors it into the endpoint (the groups must exist there). */
export function deployDrainer(aws: LocalAwsEndpoint, groups: readonly string[]): Deployed {
  const { template } = synthesize({ clusterName: E2E_CLUSTER_NAME, autoScalingGroupNames: [...groups] });
  const resources = (template.toJSON() as { Resources: Record<string, CfnResource> }).Resources;
  const queueUrl = `${aws.url}/000000000000/dead-letters`;
  const name = stackName(E2E_CLUSTER_NAME);
  const summaries: StackResourceState[] = [];
  let environment: Record<string, string> = {};
  for (const [logicalId, resource] of Object.entries(resources)) {
    const props = resource.Properties ?? {};
    let physicalId = logicalId;
    if (resource.Type === 'AWS::Lambda::Function') {
      physicalId = FUNCTION_NAME;
      environment = (props.Environment as { Variables: Record<string, string> }).Variables;
    } else if (resource.Type === 'AWS::SQS::Queue') {
      physicalId = queueUrl;
      aws.sqs.queues.set(queueUrl, []);
    } else if (resource.Type === 'AWS::Events::Rule') {
      // the drainer's lifecycle rule by the name the tests know; the stack's other rules by logical id
      physicalId = logicalId.includes('LifecycleRule') ? RULE_NAME : logicalId;
      aws.eventBridge.rules.set(physicalId, {
        eventPattern: JSON.stringify(props.EventPattern),
        state: props.State === 'DISABLED' ? 'DISABLED' : 'ENABLED',
      });
    } else if (resource.Type === 'AWS::CloudWatch::Alarm') {
      aws.cloudWatch.alarms.set(logicalId, {
        state: 'OK',
        ...(typeof props.AlarmDescription === 'string' ? { description: props.AlarmDescription } : {}),
        actions: Array.isArray(props.AlarmActions) ? props.AlarmActions.map(String) : [],
      });
    } else if (resource.Type === 'AWS::AutoScaling::LifecycleHook') {
      const group = String(props.AutoScalingGroupName);
      physicalId = String(props.LifecycleHookName);
      // as CloudFormation does: a property the template leaves out gets AWS's default
      aws.autoScalingGroups.putHook(group, {
        name: physicalId,
        transition: String(props.LifecycleTransition),
        ...(props.HeartbeatTimeout === undefined ? {} : { heartbeatTimeout: Number(props.HeartbeatTimeout) }),
        ...(props.DefaultResult === 'CONTINUE' || props.DefaultResult === 'ABANDON'
          ? { defaultResult: props.DefaultResult }
          : {}),
      });
    }
    summaries.push({ logicalId, type: resource.Type, physicalId });
  }
  aws.cloudFormation.stacks.set(name, {
    status: 'CREATE_COMPLETE',
    outputs: { FunctionName: FUNCTION_NAME, DeadLetterQueueUrl: queueUrl },
    resources: summaries,
  });
  setFunctionEnvironment(aws, environment);
  return { stack: name, queueUrl, environment };
}

/**
 * The deployed function's environment: what GetFunctionConfiguration answers, and what each
 * synchronous invoke's fresh handler (a new container) starts with.
 */
export function setFunctionEnvironment(aws: LocalAwsEndpoint, environment: Record<string, string>): void {
  aws.functionEnvironments.set(FUNCTION_NAME, environment);
  aws.functions.set(FUNCTION_NAME, async (payload) => {
    const handler = await loadHandler(aws, environment);
    const { result, lines } = await captureLogs(() => handler(payload, context()));
    return { result, logs: lines.map((l) => JSON.stringify(l)).join('\n') };
  });
}

/** Forgets every stack, group, queue, alarm, rule and function of the endpoint. */
export function undeploy(aws: LocalAwsEndpoint): void {
  aws.cloudFormation.stacks.clear();
  aws.autoScalingGroups.clear();
  aws.sqs.queues.clear();
  aws.cloudWatch.alarms.clear();
  aws.eventBridge.rules.clear();
  aws.functions.clear();
  aws.functionEnvironments.clear();
}
