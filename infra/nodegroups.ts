/**
 * EKS managed node groups, resolved at deploy time to their Auto Scaling Groups with
 * eks:DescribeNodegroup (an AwsCustomResource per node group, on create and on every update).
 */
import { Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as cr from 'aws-cdk-lib/custom-resources';
import type { Construct } from 'constructs';
import type { HookedGroup } from './hooks.js';
import { nagSpelling } from './nag.js';
import type { GroupTarget } from './targets.js';

/** Where DescribeNodegroup names the node group's (only) Auto Scaling Group. */
export const NODEGROUP_ASG_PATH = 'nodegroup.resources.autoScalingGroups.0.name';

/** Each node group's Auto Scaling Group name (a token resolved at deploy time). */
export function resolveNodegroups(
  scope: Construct,
  clusterName: string,
  nodegroups: readonly GroupTarget[],
): HookedGroup[] {
  return nodegroups.map(({ id, name: nodegroupName, shown }) => {
    const call: cr.AwsSdkCall = {
      service: 'EKS',
      action: 'describeNodegroup',
      parameters: { clusterName, nodegroupName },
      physicalResourceId: cr.PhysicalResourceId.of(`${clusterName}/${nodegroupName}`),
      outputPaths: [NODEGROUP_ASG_PATH],
    };
    // the node group's ARN ends in a UUID unknown before it exists
    const arn = Stack.of(scope).formatArn({
      service: 'eks',
      resource: 'nodegroup',
      resourceName: `${clusterName}/${nodegroupName}/*`,
    });
    const resolver = new cr.AwsCustomResource(scope, `Nodegroup-${id}`, {
      onUpdate: call,
      policy: cr.AwsCustomResourcePolicy.fromStatements([
        new iam.PolicyStatement({
          actions: ['eks:DescribeNodegroup'],
          resources: [arn],
        }),
      ]),
      installLatestAwsSdk: false,
    });
    Validations.of(resolver).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${nagSpelling(scope, arn)}]`,
      reason: `The ARN of node group ${shown} ends in a UUID unknown before deployment; the statement is pinned to the node group by name.`,
    });
    const name = resolver.getResponseField(NODEGROUP_ASG_PATH);
    return { id: `nodegroup-${id}`, name, nagName: nagSpelling(scope, name) };
  });
}

/** The CDK's one provider function for every AwsCustomResource of the stack: its role's managed policy. */
export function acknowledgeProviderFindings(scope: Construct): void {
  const id = `AWS${cr.AwsCustomResource.PROVIDER_FUNCTION_UUID.replaceAll('-', '')}`;
  const provider = Stack.of(scope).node.tryFindChild(id);
  if (!provider) return;
  Validations.of(provider).acknowledge({
    id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
    reason:
      "The CDK's AwsCustomResource provider (it resolves the managed node groups' Auto Scaling Groups at deploy time) writes its logs with the AWS-managed basic execution policy.",
  });
}
