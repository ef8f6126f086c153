import { CfnOutput, Fn, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { rbacApplyCommand } from '../lambda/contract.js';
import type { DrainerSettings, NetworkSettings, NotificationSettings } from './context.js';
import { KUBERNETES_GROUP, NodeDrainer, type NodeDrainerProps } from './node-drainer.js';

export { RBAC_APPLY_COMMAND, rbacApplyCommand } from '../lambda/contract.js';

export interface NodeDrainerStackProps extends StackProps {
  readonly settings: DrainerSettings;
}

/** One cluster's drainer. Environment-agnostic: synthesizes offline, deploys to the CLI's account/region. */
export class NodeDrainerStack extends Stack {
  readonly drainer: NodeDrainer;

  constructor(scope: Construct, id: string, props: NodeDrainerStackProps) {
    const { settings, ...stackProps } = props;
    super(scope, id, {
      description: `eks-node-drainer: drains EKS cluster ${settings.clusterName}'s nodes before termination`,
      ...stackProps,
    });
    const { network, notifications, alarmTopicArn, ...drainerProps } = settings;
    this.drainer = new NodeDrainer(this, 'NodeDrainer', {
      ...drainerProps,
      ...this.placement(network),
      ...this.notifications(notifications),
      ...(alarmTopicArn && { alarmTopic: sns.Topic.fromTopicArn(this, 'AlarmTopic', alarmTopicArn) }),
    });

    const { function: fn, role, deadLetterQueue } = this.drainer;
    new CfnOutput(this, 'FunctionName', { value: fn.functionName });
    new CfnOutput(this, 'FunctionArn', { value: fn.functionArn });
    new CfnOutput(this, 'DashboardName', { value: this.drainer.dashboard.dashboardName });
    new CfnOutput(this, 'DeadLetterQueueUrl', {
      value: deadLetterQueue.queueUrl,
      description: 'Events of drains that failed for good; the DeadLetterAlarm fires when it is not empty',
    });
    new CfnOutput(this, 'AccessRoleArn', {
      value: role.roleArn,
      description: `Principal of the EKS access entry, Kubernetes group ${KUBERNETES_GROUP}`,
    });
    const policy = this.drainer.onDrainTimeout;
    new CfnOutput(this, 'RbacApplyCommand', {
      value: rbacApplyCommand(policy),
      description:
        `${this.drainer.rbac ? 'Applied by this stack (applyRbac); by hand only without it' : 'Run once per cluster'}: ` +
        `binds group ${KUBERNETES_GROUP} to the least-privilege RBAC that ON_DRAIN_TIMEOUT=${policy} ` +
        `needs (${policy === 'delete' ? 'with pods delete, for pods a PDB still blocks at the deadline' : 'no pods delete'})`,
    });
    if (this.drainer.notificationTopic) {
      new CfnOutput(this, 'NotificationTopicArn', {
        value: this.drainer.notificationTopic.topicArn,
        description:
          'Drain notifications (one message per drain that did not end drained): subscribe email, Amazon Q Developer in chat applications or a queue',
      });
    }
    new CfnOutput(this, 'AwsAuthMapRolesEntry', {
      value: `- {rolearn: ${role.roleArn}, username: ${KUBERNETES_GROUP}, groups: [${KUBERNETES_GROUP}]}`,
      description:
        'Only for clusters not in API authentication mode (deploy with -c createAccessEntry=false): ' +
        'add this entry to mapRoles in ConfigMap kube-system/aws-auth',
    });
  }

  /** An existing topic by ARN (no lookup), or a topic the construct makes. */
  private notifications(settings?: NotificationSettings): Pick<NodeDrainerProps, 'notifications'> {
    if (!settings) return {};
    const { topicArn, ...rest } = settings;
    return {
      notifications: {
        ...rest,
        ...(topicArn ? { topic: sns.Topic.fromTopicArn(this, 'NotificationTopic', topicArn) } : {}),
      },
    };
  }

  /** Existing network resources by id: no lookups, so synth needs no AWS credentials. */
  private placement(
    network?: NetworkSettings,
  ): Pick<NodeDrainerProps, 'vpc' | 'vpcSubnets' | 'securityGroups'> {
    if (!network) return {};
    const { vpcId, subnetIds, securityGroupIds } = network;
    const subnets = subnetIds.map((id) => {
      const subnet = ec2.Subnet.fromSubnetId(this, `Subnet-${id}`, id);
      Validations.of(subnet).acknowledge({
        id: '@aws-cdk/aws-ec2:noSubnetRouteTableId',
        reason:
          'The function only places its network interfaces in the subnet; nothing reads its route table.',
      });
      return subnet;
    });
    const vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', { vpcId, availabilityZones: Fn.getAzs() });
    Validations.of(vpc).acknowledge({
      id: '@aws-cdk/aws-ec2:vpcAttributeIsListTokenavailabilityZones',
      reason: "The function's subnets are given explicitly; the VPC's zone and subnet lists are never read.",
    });
    return {
      vpc,
      vpcSubnets: { subnets },
      ...(securityGroupIds.length > 0 && {
        securityGroups: securityGroupIds.map((id) =>
          ec2.SecurityGroup.fromSecurityGroupId(this, `SecurityGroup-${id}`, id),
        ),
      }),
    };
  }
}
