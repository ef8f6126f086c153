/**
 * EKS managed node groups, resolved at deploy time to their Auto Scaling Groups with
 * eks:DescribeNodegroup (an AwsCustomResource per node group, on create and on every update).
 */
import { CfnResource, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as cr from 'aws-cdk-lib/custom-resources';
import type { Construct } from 'constructs';
import type { HookedGroup } from './hooks.js';

/** Where DescribeNodegroup names the node group's (only) Auto Scaling Group. */
export const NODEGROUP_ASG_PATH = 'nodegroup.resources.autoScalingGroups.0.name';

/** Each node group's Auto Scaling Group name (a token resolved at deploy time). */
export function resolveNodegroups(
  scope: Construct,
  clusterName: string,
  nodegroupNames: readonly string[],
): HookedGroup[] {
  return nodegroupNames.map((nodegroupName) => {
    const call: cr.AwsSdkCall = {
      service: 'EKS',
      action: 'describeNodegroup',
      parameters: { clusterName, nodegroupName },
      physicalResourceId: cr.PhysicalResourceId.of(`${clusterName}/${nodegroupName}`),
      outputPaths: [NODEGROUP_ASG_PATH],
    };
    const resolver = new cr.AwsCustomResource(scope, `Nodegroup-${nodegroupName}`, {
      onUpdate: call,
      policy: cr.AwsCustomResourcePolicy.fromStatements([
        new iam.PolicyStatement({
          actions: ['eks:DescribeNodegroup'],
          // the node group's ARN ends in a UUID unknown before it exists
          resources: [
            Stack.of(scope).formatArn({
              service: 'eks',
              resource: 'nodegroup',
              resourceName: `${clusterName}/${nodegroupName}/*`,
            }),
          ],
        }),
      ]),
      installLatestAwsSdk: false,
    });
    Validations.of(resolver).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:eks:<AWS::Region>:<AWS::AccountId>:nodegroup/${clusterName}/${nodegroupName}/*]`,
      reason: `The ARN of node group ${nodegroupName} ends in a UUID unknown before deployment; the statement is pinned to the node group by name.`,
    });
    const resource = resolver.node.findAll().find((c): c is CfnResource => c instanceof CfnResource);
    const logicalId = resource && Stack.of(scope).resolve(resource.logicalId);
    return {
      id: `nodegroup-${nodegroupName}`,
      name: resolver.getResponseField(NODEGROUP_ASG_PATH),
      nagName: `<${logicalId}.${NODEGROUP_ASG_PATH}>`,
    };
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
