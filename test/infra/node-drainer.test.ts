import { Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { NodeDrainer } from '../../infra/node-drainer.js';
import { DEMO, drainerIds, NETWORK, synthesize, testApp } from './support.js';

describe('NodeDrainer', () => {
  const byDefault = synthesize().template;

  describe('the function', () => {
    it('runs the ESM handler on nodejs22.x arm64 for 15 minutes with 512 MB and reserved concurrency', () => {
      expect(drainerIds(byDefault, 'AWS::Lambda::Function')).toHaveLength(1);
      byDefault.hasResourceProperties('AWS::Lambda::Function', {
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        Timeout: 900,
        MemorySize: 512,
        ReservedConcurrentExecutions: 100,
      });
    });

    it('gets exactly the contract environment, from the props', () => {
      const { template } = synthesize({ clusterName: 'prod-eu', dryRun: true, onDrainTimeout: 'abandon' });

      template.hasResourceProperties('AWS::Lambda::Function', {
        Environment: {
          Variables: Match.objectEquals({
            CLUSTER_NAME: 'prod-eu',
            AUTO_SCALING_GROUP_NAMES: 'asg-a,asg-b',
            DRAIN_TIMEOUT_SECONDS: '900',
            ON_DRAIN_TIMEOUT: 'abandon',
            DRY_RUN: 'true',
            HEARTBEAT_INTERVAL_SECONDS: '60',
            EXCLUDE_FROM_LOAD_BALANCERS: 'true',
            WAIT_FOR_LOAD_BALANCERS: 'true',
            WAIT_FOR_VOLUME_DETACH: 'true',
            LOG_LEVEL: 'info',
            METRICS_NAMESPACE: 'EksNodeDrainer',
            ON_REBALANCE_RECOMMENDATION: 'cordon',
            LIFECYCLE_HOOK_NAME: 'eks-node-drainer',
            ON_NODE_LOST: 'release',
            ON_SCHEDULED_EVENT: 'replace',
            SCHEDULED_EVENT_LEAD_SECONDS: '3600',
            NODE_OPTIONS: '--enable-source-maps',
          }),
        },
      });
    });

    it('takes the load balancer and volume settings from the props, and grants no ELBv2 read without the wait', () => {
      const { template } = synthesize({
        excludeFromLoadBalancers: false,
        waitForLoadBalancers: false,
        waitForVolumeDetach: false,
      });

      template.hasResourceProperties('AWS::Lambda::Function', {
        Environment: {
          Variables: Match.objectLike({
            EXCLUDE_FROM_LOAD_BALANCERS: 'false',
            WAIT_FOR_LOAD_BALANCERS: 'false',
            WAIT_FOR_VOLUME_DETACH: 'false',
          }),
        },
      });
      expect(JSON.stringify(template.findResources('AWS::IAM::Policy'))).not.toContain(
        'elasticloadbalancing',
      );
    });

    it('warns when the drain timeout leaves no room for the deregistration delay', () => {
      const stack = new Stack(testApp(), 'Warn');
      new NodeDrainer(stack, 'Drainer', { ...DEMO, drainTimeout: Duration.minutes(5) });

      const warnings = Annotations.fromStack(stack).findWarning(
        '*',
        Match.stringLikeRegexp('deregistration delay'),
      );
      expect(warnings).toHaveLength(1);
      expect(JSON.stringify(warnings[0]?.entry.data)).toContain('at least 360 s');
    });

    it('logs to its own log group kept for one month', () => {
      const [logGroupId] = Object.keys(byDefault.findResources('AWS::Logs::LogGroup'));
      byDefault.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
      byDefault.hasResourceProperties('AWS::Lambda::Function', {
        LoggingConfig: { LogGroup: { Ref: logGroupId } },
      });
    });

    it('retries a failed async invocation twice within an hour, then sends the event to the encrypted DLQ', () => {
      byDefault.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
        Qualifier: '$LATEST',
        MaximumRetryAttempts: 2,
        MaximumEventAgeInSeconds: 3600,
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [dlqId(byDefault), 'Arn'] } } },
      });
    });
  });

  describe('the dead-letter queue', () => {
    it('is encrypted, refuses plain HTTP and keeps messages for 14 days', () => {
      byDefault.hasResourceProperties('AWS::SQS::Queue', {
        SqsManagedSseEnabled: true,
        MessageRetentionPeriod: 14 * 24 * 3600,
      });
      byDefault.hasResourceProperties('AWS::SQS::QueuePolicy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ]),
        },
      });
    });
  });

  describe('the lifecycle hooks', () => {
    it('puts one termination hook on each Auto Scaling Group, timing out after twice the drain timeout to CONTINUE', () => {
      const { template } = synthesize({
        autoScalingGroupNames: ['asg-a', 'asg-b', 'asg-c'],
      });

      const hooks = Object.values(template.findResources('AWS::AutoScaling::LifecycleHook'));
      expect(hooks.map((hook) => hook.Properties.AutoScalingGroupName)).toEqual(['asg-a', 'asg-b', 'asg-c']);
      for (const hook of hooks) {
        expect(hook.Properties).toEqual({
          AutoScalingGroupName: expect.any(String),
          LifecycleHookName: 'eks-node-drainer',
          LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
          // 2 × the 15-minute drain: a queued event still finds its action alive (docs/decisions.md, mass terminations)
          HeartbeatTimeout: 1_800,
          DefaultResult: 'CONTINUE',
        });
      }
    });

    it('takes the heartbeat timeout and the default result from the props', () => {
      const stack = new Stack(testApp(), 'Test');
      new NodeDrainer(stack, 'Drainer', {
        ...DEMO,
        heartbeatTimeout: Duration.minutes(10),
        defaultResult: 'ABANDON',
      });

      Template.fromStack(stack).allResourcesProperties('AWS::AutoScaling::LifecycleHook', {
        HeartbeatTimeout: 600,
        DefaultResult: 'ABANDON',
      });
    });

    it('names the hook as told, and the rule matches that name', () => {
      const stack = new Stack(testApp(), 'Test');
      new NodeDrainer(stack, 'Drainer', { ...DEMO, lifecycleHookName: 'drain-first' });

      const template = Template.fromStack(stack);
      template.allResourcesProperties('AWS::AutoScaling::LifecycleHook', {
        LifecycleHookName: 'drain-first',
      });
      template.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: { detail: { LifecycleHookName: ['drain-first'] } },
      });
    });

    it('exists only once the function, the rule, the continuation policy and the access entry do', () => {
      const ids = (type: string) => Object.keys(byDefault.findResources(type));
      const [rule] = ids('AWS::Events::Rule');
      const [accessEntry] = ids('AWS::EKS::AccessEntry');
      const continuationPolicy = ids('AWS::IAM::Policy').find((id) => id.includes('ContinuationPolicy'));
      for (const hook of Object.values(byDefault.findResources('AWS::AutoScaling::LifecycleHook'))) {
        expect(hook.DependsOn).toEqual(
          expect.arrayContaining([functionId(byDefault), rule, accessEntry, continuationPolicy]),
        );
      }
    });
  });

  describe('the EventBridge rule', () => {
    it('matches exactly the termination lifecycle actions of the named groups and hook', () => {
      byDefault.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: {
          source: ['aws.autoscaling'],
          'detail-type': ['EC2 Instance-terminate Lifecycle Action'],
          detail: { AutoScalingGroupName: ['asg-a', 'asg-b'], LifecycleHookName: ['eks-node-drainer'] },
        },
      });
    });

    it('targets the function with bounded retries and the DLQ for undeliverable events', () => {
      byDefault.hasResourceProperties('AWS::Events::Rule', {
        Targets: [
          {
            Arn: { 'Fn::GetAtt': [functionId(byDefault), 'Arn'] },
            Id: Match.anyValue(),
            RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 },
            DeadLetterConfig: { Arn: { 'Fn::GetAtt': [dlqId(byDefault), 'Arn'] } },
          },
        ],
      });
    });
  });

  describe('the alarms', () => {
    it('fires when the dead-letter queue holds a message', () => {
      byDefault.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlqId(byDefault), 'QueueName'] } }],
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: 0,
      });
    });

    it('fires when the function reports an error', () => {
      byDefault.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/Lambda',
        MetricName: 'Errors',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: functionId(byDefault) } }],
        Statistic: 'Sum',
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: 0,
      });
    });
  });

  describe('observability', () => {
    it('alarms when a drain reaches its deadline, from the EMF metric of the cluster', () => {
      byDefault.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'EksNodeDrainer',
        MetricName: 'DeadlineReached',
        Dimensions: [{ Name: 'Cluster', Value: 'demo' }],
        Statistic: 'Sum',
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: 0,
        TreatMissingData: 'notBreaching',
      });
    });

    it.each([
      ['ActionExpired', 0],
      ['AlreadyCompleted', 0],
      ['HeartbeatFailures', 2],
    ])('alarms on %s (a node may leave without a finished drain)', (metric, threshold) => {
      byDefault.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'EksNodeDrainer',
        MetricName: metric,
        Dimensions: [{ Name: 'Cluster', Value: 'demo' }],
        Statistic: 'Sum',
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: threshold,
        TreatMissingData: 'notBreaching',
      });
    });

    it('puts the drain metrics and the function health on one dashboard', () => {
      const dashboards = byDefault.findResources('AWS::CloudWatch::Dashboard');
      expect(Object.keys(dashboards)).toHaveLength(1);
      const body = JSON.stringify(Object.values(dashboards)[0]?.Properties.DashboardBody);
      for (const metric of [
        'DrainDuration',
        'PodsEvicted',
        'EvictionsRefused',
        'DeadlineReached',
        'NodeNotFound',
        'Continuations',
        'ApiErrors',
        'Throttles',
        'ApproximateNumberOfMessagesVisible',
      ]) {
        expect(body).toContain(metric);
      }
      expect(body).not.toMatch(/"(Pod|Node)"/);
    });

    it('uses the configured metrics namespace for the function, the alarm and the dashboard', () => {
      const { template } = synthesize({ metricsNamespace: 'Platform/Drainer' });
      template.hasResourceProperties('AWS::Lambda::Function', {
        Environment: { Variables: Match.objectLike({ METRICS_NAMESPACE: 'Platform/Drainer' }) },
      });
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'Platform/Drainer',
        MetricName: 'DeadlineReached',
      });
    });
  });

  describe('cluster access', () => {
    it('maps the function role to Kubernetes group eks-node-drainer with a STANDARD access entry', () => {
      byDefault.resourceCountIs('AWS::EKS::AccessEntry', 1);
      byDefault.hasResourceProperties('AWS::EKS::AccessEntry', {
        ClusterName: 'demo',
        PrincipalArn: { 'Fn::GetAtt': [roleId(byDefault), 'Arn'] },
        Type: 'STANDARD',
        KubernetesGroups: ['eks-node-drainer'],
      });
    });

    it('leaves the access entry out for clusters that use the aws-auth ConfigMap', () => {
      const { template } = synthesize({ createAccessEntry: false });

      template.resourceCountIs('AWS::EKS::AccessEntry', 0);
    });
  });

  describe('VPC placement', () => {
    it('runs the function in the given subnets and security groups', () => {
      const { template } = synthesize({
        network: NETWORK,
      });

      template.hasResourceProperties('AWS::Lambda::Function', {
        VpcConfig: { SubnetIds: NETWORK.subnetIds, SecurityGroupIds: NETWORK.securityGroupIds },
      });
    });

    it('is off by default', () => {
      byDefault.hasResourceProperties('AWS::Lambda::Function', { VpcConfig: Match.absent() });
    });
  });

  describe('the outputs', () => {
    it('name the function, its ARN, the DLQ URL, the access-entry principal and the RBAC command', () => {
      expect(byDefault.toJSON().Outputs).toMatchObject({
        FunctionName: { Value: { Ref: functionId(byDefault) } },
        FunctionArn: { Value: { 'Fn::GetAtt': [functionId(byDefault), 'Arn'] } },
        DeadLetterQueueUrl: { Value: { Ref: dlqId(byDefault) } },
        AccessRoleArn: { Value: { 'Fn::GetAtt': [roleId(byDefault), 'Arn'] } },
        RbacApplyCommand: {
          Value: 'kubectl apply -f infra/k8s/rbac.yaml -f infra/k8s/rbac-delete-pods.yaml',
        },
      });
    });

    it.each([
      ['delete', 'kubectl apply -f infra/k8s/rbac.yaml -f infra/k8s/rbac-delete-pods.yaml'],
      ['continue', 'kubectl apply -f infra/k8s/rbac.yaml'],
      ['abandon', 'kubectl apply -f infra/k8s/rbac.yaml'],
    ] as const)(
      'give the RBAC command of onDrainTimeout %s: pods delete only for delete',
      (policy, command) => {
        const { stack, template } = synthesize({ onDrainTimeout: policy });

        template.hasOutput('RbacApplyCommand', {
          Value: command,
          Description: Match.stringLikeRegexp(`ON_DRAIN_TIMEOUT=${policy} `),
        });
        template.hasResourceProperties('AWS::Lambda::Function', {
          Environment: { Variables: Match.objectLike({ ON_DRAIN_TIMEOUT: policy }) },
        });
        expect(stack.drainer.onDrainTimeout).toBe(policy);
      },
    );

    it('give the aws-auth mapRoles entry for the function role', () => {
      byDefault.hasOutput('AwsAuthMapRolesEntry', {
        Value: {
          'Fn::Join': [
            '',
            [
              '- {rolearn: ',
              { 'Fn::GetAtt': [roleId(byDefault), 'Arn'] },
              ', username: eks-node-drainer, groups: [eks-node-drainer]}',
            ],
          ],
        },
      });
    });
  });
});

const onlyId = (template: Template, type: string): string => {
  const ids = drainerIds(template, type);
  expect(ids).toHaveLength(1);
  return ids[0] as string;
};
const functionId = (template: Template) => onlyId(template, 'AWS::Lambda::Function');
const dlqId = (template: Template) => onlyId(template, 'AWS::SQS::Queue');
const roleId = (template: Template) => onlyId(template, 'AWS::IAM::Role');
