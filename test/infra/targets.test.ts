/**
 * The cluster and its groups given as constructs (`cluster`, `autoScalingGroups`, `nodegroups`), the
 * way a consumer's app passes them: a group of the same app has a token for a name.
 */
import { Fn, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as eks from 'aws-cdk-lib/aws-eks';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { NodeDrainer, type NodeDrainerProps } from '../../infra/node-drainer.js';
import { testApp } from './support.js';

function appStack() {
  const stack = new Stack(testApp(), 'Test');
  const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', {
    vpcId: 'vpc-0a1b2c3d4e5f60718',
    availabilityZones: ['eu-west-1a'],
    privateSubnetIds: ['subnet-0a1b2c3d4e5f60718'],
    privateSubnetRouteTableIds: ['rtb-0a1b2c3d4e5f60718'],
  });
  const nodes = new autoscaling.AutoScalingGroup(stack, 'Nodes', {
    vpc,
    instanceType: new ec2.InstanceType('m7g.large'),
    machineImage: ec2.MachineImage.latestAmazonLinux2023({ cpuType: ec2.AmazonLinuxCpuType.ARM_64 }),
  });
  return {
    stack,
    nodes,
    nodesRef: { Ref: stack.getLogicalId(nodes.node.defaultChild as autoscaling.CfnAutoScalingGroup) },
  };
}

const drainerFindings = (stack: Stack) =>
  new AwsSolutionsChecks()
    .validateScope(stack)
    .violations.map((v) => ({ rule: v.ruleName, at: v.violatingResources.map((r) => r.constructPath) }))
    .filter(({ at }) => at.some((path) => path?.startsWith('Test/Drainer')));

describe('NodeDrainer with an Auto Scaling Group of the app', () => {
  const { stack, nodesRef } = (() => {
    const built = appStack();
    new NodeDrainer(built.stack, 'Drainer', {
      cluster: eks.Cluster.fromClusterAttributes(built.stack, 'Cluster', { clusterName: 'demo' }),
      autoScalingGroupNames: ['asg-a'],
      autoScalingGroups: [built.nodes],
    });
    return built;
  })();
  const template = Template.fromStack(stack);

  it('hooks the group by its reference, beside the named one', () => {
    const hooks = Object.values(template.findResources('AWS::AutoScaling::LifecycleHook'));
    expect(hooks.map((h) => h.Properties.AutoScalingGroupName)).toEqual(['asg-a', nodesRef]);
  });

  it('serves the group: the rule, the allow-list and the lifecycle calls name it', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { detail: { AutoScalingGroupName: ['asg-a', nodesRef] } },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          CLUSTER_NAME: 'demo',
          AUTO_SCALING_GROUP_NAMES: { 'Fn::Join': ['', ['asg-a,', nodesRef]] },
        }),
      },
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: Match.arrayWith([
              'autoscaling:CompleteLifecycleAction',
              'autoscaling:RecordLifecycleActionHeartbeat',
            ]),
            Resource: Match.arrayWith([
              Match.objectLike({
                'Fn::Join': ['', Match.arrayWith([':autoScalingGroup:*:autoScalingGroupName/', nodesRef])],
              }),
            ]),
          }),
        ]),
      },
    });
  });

  it("passes the cdk-nag AwsSolutions checks for the drainer's resources", () => {
    expect(drainerFindings(stack)).toEqual([]);
  });
});

describe('NodeDrainer with node groups as constructs', () => {
  const synth = (props: (stack: Stack) => Partial<NodeDrainerProps>) => {
    const stack = new Stack(testApp(), 'Test');
    new NodeDrainer(stack, 'Drainer', { clusterName: 'demo', ...props(stack) });
    return { stack, template: Template.fromStack(stack).toJSON() };
  };

  it('resolves an imported node group as it resolves the same name (same resources, same logical ids)', () => {
    const byConstruct = synth((stack) => ({
      nodegroups: [eks.Nodegroup.fromNodegroupName(stack, 'Ng', 'ng-a')],
    }));
    const byName = synth(() => ({ nodegroupNames: ['ng-a'] }));
    expect(byConstruct.template).toEqual(byName.template);
    expect(drainerFindings(byConstruct.stack)).toEqual([]);
  });

  it('resolves a node group and a cluster whose names are tokens, cdk-nag clean', () => {
    const { stack, template } = synth((s) => ({
      clusterName: undefined,
      cluster: eks.Cluster.fromClusterAttributes(s, 'Cluster', {
        clusterName: Fn.importValue('cluster-name'),
      }),
      nodegroups: [eks.Nodegroup.fromNodegroupName(s, 'Ng', Fn.importValue('nodegroup-name'))],
    }));
    const resolvers = Object.values(
      template.Resources as Record<string, { Type: string; Properties: { Create?: unknown } }>,
    ).filter((r) => r.Type === 'Custom::AWS');
    expect(resolvers).toHaveLength(1);
    expect(JSON.stringify(resolvers[0]?.Properties)).toContain('nodegroup-name');
    expect(drainerFindings(stack)).toEqual([]);
  });
});

describe('NodeDrainer validation of the cluster and groups given as constructs', () => {
  const construct = (props: (stack: Stack) => Partial<NodeDrainerProps>) => () => {
    const stack = new Stack(testApp(), 'Test');
    new NodeDrainer(stack, 'Drainer', { autoScalingGroupNames: ['asg-a'], ...props(stack) });
  };
  const imported = (stack: Stack, clusterName: string) =>
    eks.Cluster.fromClusterAttributes(stack, 'Cluster', { clusterName });

  it('fails when both cluster and clusterName are given', () => {
    expect(construct((stack) => ({ clusterName: 'demo', cluster: imported(stack, 'other') }))).toThrow(
      'give either cluster or clusterName, not both: got clusterName "demo" and cluster "other"',
    );
  });

  it('fails when neither cluster nor clusterName is given', () => {
    expect(construct(() => ({}))).toThrow(
      'clusterName (or cluster) must name the EKS cluster whose nodes are drained, got null',
    );
    expect(construct(() => ({ clusterName: ' ' }))).toThrow('got " "');
  });

  it('fails for discovery with a cluster whose name is a token, showing the cluster', () => {
    expect(
      construct((stack) => ({
        autoScalingGroupNames: undefined,
        discover: true,
        cluster: imported(stack, Fn.importValue('cluster-name')),
      })),
    ).toThrow(
      "discover needs the cluster's name at synth (its IAM conditions and tags are keyed by it): give clusterName, got cluster <Test/Cluster> whose name is a token",
    );
  });

  it('fails when a group is given twice, showing it by its path', () => {
    expect(
      construct((stack) => {
        const group = autoscaling.AutoScalingGroup.fromAutoScalingGroupName(
          stack,
          'Group',
          Fn.importValue('asg'),
        );
        return { clusterName: 'demo', autoScalingGroups: [group, group] };
      }),
    ).toThrow(
      'autoScalingGroupNames and autoScalingGroups must not repeat a name, got ["asg-a","<Test/Group>","<Test/Group>"]',
    );
    expect(
      construct((stack) => ({
        clusterName: 'demo',
        autoScalingGroups: [autoscaling.AutoScalingGroup.fromAutoScalingGroupName(stack, 'Group', 'asg-a')],
      })),
    ).toThrow('autoScalingGroupNames and autoScalingGroups must not repeat a name, got ["asg-a","asg-a"]');
  });

  it('fails for discovery beside groups given as constructs', () => {
    expect(
      construct((stack) => ({
        clusterName: 'demo',
        autoScalingGroupNames: undefined,
        discover: true,
        nodegroups: [eks.Nodegroup.fromNodegroupName(stack, 'Ng', 'ng-a')],
      })),
    ).toThrow(
      'leave autoScalingGroupNames and nodegroupNames out, got autoScalingGroupNames [], nodegroupNames ["ng-a"]',
    );
  });
});
