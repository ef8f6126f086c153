import { Duration } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { settingsFromContext, stackName } from '../../infra/context.js';

const parse = (context: Record<string, unknown>) => () => settingsFromContext((key) => context[key]);
const REQUIRED = { clusterName: 'demo', autoScalingGroupNames: 'asg-a,asg-b' };

describe('settingsFromContext', () => {
  it('reads the cluster and its Auto Scaling Groups, trimming whitespace and empty items', () => {
    const settings = parse({ clusterName: ' demo ', autoScalingGroupNames: ' asg-a , asg-b ,, ' })();

    expect(settings.clusterName).toBe('demo');
    expect(settings.autoScalingGroupNames).toEqual(['asg-a', 'asg-b']);
  });

  it('leaves every optional setting to the construct defaults when absent', () => {
    const settings = parse(REQUIRED)();

    expect(settings).toEqual({
      clusterName: 'demo',
      autoScalingGroupNames: ['asg-a', 'asg-b'],
      drainTimeout: undefined,
      heartbeatTimeout: undefined,
      heartbeatInterval: undefined,
      onDrainTimeout: undefined,
      dryRun: undefined,
      createAccessEntry: undefined,
    });
  });

  it('reads managed node groups instead of (or beside) named groups', () => {
    expect(parse({ clusterName: 'demo', nodegroupNames: ' ng-a, ng-b ' })()).toMatchObject({
      nodegroupNames: ['ng-a', 'ng-b'],
    });
    expect(parse({ ...REQUIRED, nodegroupNames: 'ng-a' })()).toMatchObject({
      autoScalingGroupNames: ['asg-a', 'asg-b'],
      nodegroupNames: ['ng-a'],
    });
  });

  it('reads discover=true alone', () => {
    const settings = parse({ clusterName: 'demo', discover: 'true' })();

    expect(settings.discover).toBe(true);
    expect(settings).not.toHaveProperty('autoScalingGroupNames');
  });

  it('fails when discover=true comes with named groups or node groups', () => {
    expect(parse({ ...REQUIRED, discover: 'true' })).toThrow(
      'Context "discover=true" hooks every Auto Scaling Group of the cluster: leave out "autoScalingGroupNames" and "nodegroupNames"',
    );
    expect(parse({ clusterName: 'demo', nodegroupNames: 'ng-a', discover: true })).toThrow(
      /"nodegroupNames":\["ng-a"\]/,
    );
  });

  it('fails showing the value when a node group name is not one', () => {
    expect(parse({ clusterName: 'demo', nodegroupNames: 'ng-a,ng b' })).toThrow(
      'Context "nodegroupNames" must be EKS node group names, got "ng b"',
    );
  });

  it('needs named groups, node groups or discovery (discover=false is none)', () => {
    expect(parse({ clusterName: 'demo', discover: 'false' })).toThrow(
      /^Missing context "autoScalingGroupNames" .*"nodegroupNames" .* or "discover=true"/,
    );
  });

  it('accepts a list of Auto Scaling Groups from cdk.json', () => {
    const settings = parse({ clusterName: 'demo', autoScalingGroupNames: ['asg-a', ' asg-b'] })();

    expect(settings.autoScalingGroupNames).toEqual(['asg-a', 'asg-b']);
  });

  it('fails naming the key and showing the deploy command when clusterName is missing', () => {
    expect(parse({ autoScalingGroupNames: 'asg-a' })).toThrow(
      'Missing context "clusterName" (the EKS cluster whose nodes to drain). ' +
        'Deploy with: npx cdk deploy -c clusterName=<cluster> -c autoScalingGroupNames=<asg-a,asg-b>',
    );
  });

  it('treats a blank clusterName as missing', () => {
    expect(parse({ clusterName: '  ', autoScalingGroupNames: 'asg-a' })).toThrow(
      'Missing context "clusterName"',
    );
  });

  it('fails showing the value when clusterName is not an EKS cluster name', () => {
    expect(parse({ clusterName: 'demo/prod', autoScalingGroupNames: 'asg-a' })).toThrow(
      'Context "clusterName" must be an EKS cluster name, got "demo/prod"',
    );
  });

  it('fails naming the key when autoScalingGroupNames is missing', () => {
    expect(parse({ clusterName: 'demo' })).toThrow(
      /^Missing context "autoScalingGroupNames" .* got null\. Deploy with/,
    );
  });

  it('fails showing the value when autoScalingGroupNames holds only separators and blanks', () => {
    expect(parse({ clusterName: 'demo', autoScalingGroupNames: ' , ' })).toThrow(
      /^Missing context "autoScalingGroupNames" .* got " , "\. Deploy with/,
    );
  });

  it('reads durations in whole seconds', () => {
    const settings = parse({
      ...REQUIRED,
      drainTimeoutSeconds: '1800',
      heartbeatTimeoutSeconds: 600,
      heartbeatIntervalSeconds: ' 90 ',
    })();

    expect(settings.drainTimeout?.toSeconds()).toBe(1800);
    expect(settings.heartbeatTimeout).toEqual(Duration.seconds(600));
    expect(settings.heartbeatInterval?.toSeconds()).toBe(90);
  });

  it('fails showing the value when a duration is not a whole number of seconds', () => {
    expect(parse({ ...REQUIRED, drainTimeoutSeconds: '15m' })).toThrow(
      'Context "drainTimeoutSeconds" must be a whole number of seconds, got "15m"',
    );
  });

  it('reads the deadline policy, dry run and access entry switches', () => {
    const settings = parse({
      ...REQUIRED,
      onDrainTimeout: 'Abandon',
      dryRun: 'true',
      createAccessEntry: false,
    })();

    expect(settings).toMatchObject({ onDrainTimeout: 'abandon', dryRun: true, createAccessEntry: false });
  });

  it('reads the rebalance action and the warm-pool launch hook switch', () => {
    const settings = parse({
      ...REQUIRED,
      onRebalanceRecommendation: ' Drain ',
      warmPoolLaunchHook: 'true',
    })();

    expect(settings).toMatchObject({ onRebalanceRecommendation: 'drain', warmPoolLaunchHook: true });
  });

  it('fails showing the value of an unknown rebalance action', () => {
    expect(parse({ ...REQUIRED, onRebalanceRecommendation: 'evict' })).toThrow(
      'Context "onRebalanceRecommendation" must be one of cordon, drain, ignore, got "evict"',
    );
  });

  it('fails showing the value of an unknown deadline policy', () => {
    expect(parse({ ...REQUIRED, onDrainTimeout: 'kill' })).toThrow(
      'Context "onDrainTimeout" must be one of delete, continue, abandon, got "kill"',
    );
  });

  it('fails showing the value of a switch that is not true or false', () => {
    expect(parse({ ...REQUIRED, dryRun: 'yes' })).toThrow(
      'Context "dryRun" must be true or false, got "yes"',
    );
  });

  it('reads the VPC placement', () => {
    const settings = parse({
      ...REQUIRED,
      vpcId: 'vpc-1',
      subnetIds: 'subnet-1, subnet-2',
      securityGroupIds: 'sg-1',
    })();

    expect(settings.network).toEqual({
      vpcId: 'vpc-1',
      subnetIds: ['subnet-1', 'subnet-2'],
      securityGroupIds: ['sg-1'],
    });
  });

  it('fails when subnets are given without their VPC', () => {
    expect(parse({ ...REQUIRED, subnetIds: 'subnet-1' })).toThrow(
      'Contexts "vpcId" and "subnetIds" go together (the function\'s VPC placement), got vpcId=null subnetIds=["subnet-1"]',
    );
  });
});

describe('stackName', () => {
  it('names the stack after the cluster, replacing characters a stack name cannot hold', () => {
    expect(stackName('prod_eu-1')).toBe('EksNodeDrainer-prod-eu-1');
  });
});

const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:alerts';

describe('settingsFromContext, drain notifications', () => {
  it('are off without any notification context', () => {
    expect(parse(REQUIRED)().notifications).toBeUndefined();
    expect(parse({ ...REQUIRED, notifications: 'false' })().notifications).toBeUndefined();
  });

  it('make a topic with email subscriptions from notificationEmail', () => {
    const settings = parse({ ...REQUIRED, notificationEmail: ' ops@example.com , sre@example.com ' })();

    expect(settings.notifications).toEqual({ emailAddresses: ['ops@example.com', 'sre@example.com'] });
  });

  it('take an existing topic by ARN, and notifyOn', () => {
    const settings = parse({ ...REQUIRED, notificationTopicArn: TOPIC, notifyOn: 'ALL' })();

    expect(settings.notifications).toEqual({ topicArn: TOPIC, notifyOn: 'all' });
  });

  it('make a topic without subscriptions with notifications=true', () => {
    expect(parse({ ...REQUIRED, notifications: true })().notifications).toEqual({});
  });

  it.each([
    [
      { notificationTopicArn: `${TOPIC}.fifo` },
      `Context "notificationTopicArn" must be the ARN of a standard (not FIFO) SNS topic, got "${TOPIC}.fifo"`,
    ],
    [
      { notificationTopicArn: 'alerts' },
      'Context "notificationTopicArn" must be the ARN of a standard (not FIFO) SNS topic, got "alerts"',
    ],
    [
      { notificationEmail: 'ops@example.com,ops' },
      'Context "notificationEmail" must be email addresses, got "ops"',
    ],
    [{ notifyOn: 'errors' }, 'Context "notifyOn" must be one of problems, all, got "errors"'],
    [{ notifications: 'false', notifyOn: 'all' }, 'Context "notifications=false" turns notifications off'],
  ])('fail for %j, naming the key and value', (context, message) => {
    expect(parse({ ...REQUIRED, ...context })).toThrow(message);
  });
});

describe('settingsFromContext, alarm actions', () => {
  it('are off without alarmTopicArn', () => {
    expect(parse(REQUIRED)()).not.toHaveProperty('alarmTopicArn');
  });

  it('take a standard topic by ARN', () => {
    expect(parse({ ...REQUIRED, alarmTopicArn: ` ${TOPIC} ` })().alarmTopicArn).toBe(TOPIC);
  });

  it.each([`${TOPIC}.fifo`, 'alerts'])('fail for %s, naming the key and value', (value) => {
    expect(parse({ ...REQUIRED, alarmTopicArn: value })).toThrow(
      `Context "alarmTopicArn" must be the ARN of a standard (not FIFO) SNS topic, got "${value}"`,
    );
  });
});
