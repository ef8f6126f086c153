/**
 * The drainer's Kubernetes RBAC, applied by the stack (`applyRbac`): a custom resource whose function
 * (lambda/rbac/handler.ts) applies infra/k8s/*.yaml on deploy and update and removes them on destroy.
 * Its role reaches the cluster only through an EKS access entry with the cluster admin access policy
 * that the function itself creates at the start of each request and deletes at its end; the IAM policy
 * allows exactly that entry and that policy for that role, nothing wider.
 */
import { readFileSync } from 'node:fs';
import { Aws, CustomResource, Stack, Validations } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { loadAll } from 'js-yaml';
import { CLUSTER_ADMIN_ACCESS_POLICY, type DeadlinePolicy, stackAppliedFiles } from '../lambda/contract.js';
import type { Manifest } from '../lambda/rbac/manifests.js';
import { bundledFunction, fromRepoRoot } from './functions.js';
import { NAG_PSEUDO_PARAMETERS } from './hooks.js';
import { nagSpelling } from './nag.js';

/** The objects of the files the stack applies for this deadline policy, in the files' order. */
export function drainerManifests(policy: DeadlinePolicy): Manifest[] {
  return stackAppliedFiles(policy).flatMap(
    (file) => loadAll(readFileSync(fromRepoRoot(file), 'utf8')).filter(Boolean) as Manifest[],
  );
}

export interface ClusterRbacProps {
  readonly clusterName: string;
  /** Decides whether `pods delete` is applied (infra/k8s/rbac-delete-pods.yaml). */
  readonly onDrainTimeout: DeadlinePolicy;
  readonly deadLetterQueue: sqs.IQueue;
  /** The drainer function's placement: a private API endpoint is reachable from there. */
  readonly vpc?: ec2.IVpc;
  readonly vpcSubnets?: ec2.SubnetSelection;
  readonly securityGroups?: ec2.ISecurityGroup[];
}

export class ClusterRbac extends Construct {
  readonly role: iam.Role;
  readonly function: lambda.Function;
  readonly resource: CustomResource;

  constructor(scope: Construct, id: string, props: ClusterRbacProps) {
    super(scope, id);
    const { clusterName } = props;
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `eks-node-drainer RBAC applier for EKS cluster ${clusterName} (cluster access only while it applies)`,
    });
    if (props.vpc) {
      this.role.addManagedPolicy(
        iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaVPCAccessExecutionRole'),
      );
    }
    const policyArn = `arn:${Aws.PARTITION}:eks::aws:cluster-access-policy/${CLUSTER_ADMIN_ACCESS_POLICY}`;
    this.grant(clusterName, policyArn);
    this.function = bundledFunction(this, 'Function', {
      entry: 'lambda/rbac/handler.ts',
      description: `Applies eks-node-drainer's RBAC to EKS cluster ${clusterName}`,
      memorySize: 256,
      // one request at a time: two would share (and one delete) the same access entry
      reservedConcurrentExecutions: 1,
      role: this.role,
      deadLetterQueue: props.deadLetterQueue,
      environment: { CLUSTER_NAME: clusterName, LOG_LEVEL: 'info' },
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets,
      securityGroups: props.securityGroups,
    });
    // the objects are properties: a change to a file updates the resource, which applies it
    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: this.function.functionArn,
      resourceType: 'Custom::EksNodeDrainerRbac',
      properties: {
        PrincipalArn: this.role.roleArn,
        PolicyArn: policyArn,
        // one JSON string: CloudFormation would turn the objects' numbers into strings
        Manifests: JSON.stringify(drainerManifests(props.onDrainTimeout)),
      },
    });
    // the role's policy stays until the Delete request has removed the objects
    this.resource.node.addDependency(this.role);
    this.acknowledgeNagFindings(clusterName, props.vpc !== undefined);
  }

  private grant(clusterName: string, policyArn: string): void {
    const stack = Stack.of(this);
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['eks:DescribeCluster'],
        resources: [stack.formatArn({ service: 'eks', resource: 'cluster', resourceName: clusterName })],
      }),
    );
    // its own entry only: the principal is this role
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['eks:CreateAccessEntry'],
        resources: [stack.formatArn({ service: 'eks', resource: 'cluster', resourceName: clusterName })],
        conditions: { StringEquals: { 'eks:principalArn': this.role.roleArn } },
      }),
    );
    const ownEntry = this.accessEntryArn(clusterName);
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['eks:AssociateAccessPolicy'],
        resources: [ownEntry],
        conditions: { StringEquals: { 'eks:policyArn': policyArn } },
      }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['eks:DeleteAccessEntry'], resources: [ownEntry] }),
    );
  }

  /** The role's access entry on the cluster; its ARN ends in a UUID EKS gives it. */
  private accessEntryArn(
    clusterName: string,
    pseudo?: typeof NAG_PSEUDO_PARAMETERS,
    roleName = this.role.roleName,
  ): string {
    if (pseudo) {
      return `arn:${pseudo.partition}:eks:${pseudo.region}:${pseudo.account}:access-entry/${clusterName}/role/${pseudo.account}/${roleName}/*`;
    }
    return Stack.of(this).formatArn({
      service: 'eks',
      resource: 'access-entry',
      resourceName: `${clusterName}/role/${Aws.ACCOUNT_ID}/${roleName}/*`,
    });
  }

  private acknowledgeNagFindings(clusterName: string, inVpc: boolean): void {
    const policy = this.role.node.findChild('DefaultPolicy');
    // as cdk-nag spells them: a token cluster name (an imported cluster) and the role's name
    const entry = this.accessEntryArn(
      nagSpelling(this, clusterName),
      NAG_PSEUDO_PARAMETERS,
      nagSpelling(this, this.role.roleName),
    );
    Validations.of(policy).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${entry}]`,
      reason:
        "The access entry's ARN ends in a UUID EKS assigns at creation; the statement is pinned to this role's own entry on this cluster.",
    });
    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'nodejs22.x is the runtime the project targets and tests (ARCHITECTURE.md); moving on is a deliberate change.',
    });
    if (inVpc) {
      Validations.of(this.role).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
        reason: 'Lambda needs ENI permissions in a VPC; the AWS-managed policy grants exactly those.',
      });
    }
  }
}
