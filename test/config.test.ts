import { describe, expect, it } from 'vitest';
import { DEFAULTS, loadConfig, loadReconcilerConfig } from '../lambda/config.js';
import { ConfigError } from '../lambda/errors.js';

describe('loadConfig', () => {
  it('applies the documented defaults with only CLUSTER_NAME set, and freezes the result', () => {
    const config = loadConfig({ CLUSTER_NAME: 'prod' });

    // literal values, as README's configuration table documents them: changing a default in
    // lambda/config.ts must break this test, not silently follow it
    expect(config).toEqual({
      clusterName: 'prod',
      drainTimeoutSeconds: 900,
      onDrainTimeout: 'delete',
      dryRun: false,
      heartbeatIntervalSeconds: 60,
      logLevel: 'info',
      maxConcurrentEvictions: 32,
      minEvictionWindowSeconds: 60,
      excludeFromLoadBalancers: true,
      waitForLoadBalancers: true,
      waitForVolumeDetach: true,
      metricsNamespace: 'EksNodeDrainer',
      discoverAutoScalingGroups: false,
      onRebalanceRecommendation: 'cordon',
      lifecycleHookName: 'eks-node-drainer',
      onNodeLost: 'release',
      onScheduledEvent: 'replace',
      scheduledEventLeadSeconds: 3600,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('exports the same documented defaults', () => {
    expect(DEFAULTS).toEqual({
      drainTimeoutSeconds: 900,
      onDrainTimeout: 'delete',
      dryRun: false,
      heartbeatIntervalSeconds: 60,
      logLevel: 'info',
      maxConcurrentEvictions: 32,
      minEvictionWindowSeconds: 60,
      excludeFromLoadBalancers: true,
      waitForLoadBalancers: true,
      waitForVolumeDetach: true,
      metricsNamespace: 'EksNodeDrainer',
      discoverAutoScalingGroups: false,
      onRebalanceRecommendation: 'cordon',
      lifecycleHookName: 'eks-node-drainer',
      onNodeLost: 'release',
      onScheduledEvent: 'replace',
      scheduledEventLeadSeconds: 3600,
    });
  });

  it('treats empty and blank values as unset', () => {
    const config = loadConfig({
      CLUSTER_NAME: 'prod',
      DRAIN_TIMEOUT_SECONDS: '',
      ON_DRAIN_TIMEOUT: '  ',
      DRY_RUN: '',
      HEARTBEAT_INTERVAL_SECONDS: ' ',
      LOG_LEVEL: '',
      MAX_CONCURRENT_EVICTIONS: '   ',
      MIN_EVICTION_WINDOW_SECONDS: '',
      EXCLUDE_FROM_LOAD_BALANCERS: '',
      WAIT_FOR_LOAD_BALANCERS: ' ',
      WAIT_FOR_VOLUME_DETACH: '',
      METRICS_NAMESPACE: '  ',
      ON_REBALANCE_RECOMMENDATION: ' ',
      LIFECYCLE_HOOK_NAME: '',
    });

    expect(config).toMatchObject({
      drainTimeoutSeconds: 900,
      onDrainTimeout: 'delete',
      dryRun: false,
      heartbeatIntervalSeconds: 60,
      logLevel: 'info',
      maxConcurrentEvictions: 32,
      minEvictionWindowSeconds: 60,
      excludeFromLoadBalancers: true,
      waitForLoadBalancers: true,
      waitForVolumeDetach: true,
      metricsNamespace: 'EksNodeDrainer',
      onRebalanceRecommendation: 'cordon',
      lifecycleHookName: 'eks-node-drainer',
      onNodeLost: 'release',
      onScheduledEvent: 'replace',
      scheduledEventLeadSeconds: 3600,
    });
  });

  it('reads every variable', () => {
    expect(
      loadConfig({
        CLUSTER_NAME: 'prod',
        DRAIN_TIMEOUT_SECONDS: '3600',
        ON_DRAIN_TIMEOUT: 'ABANDON',
        DRY_RUN: 'true',
        HEARTBEAT_INTERVAL_SECONDS: '30',
        LOG_LEVEL: 'debug',
        MAX_CONCURRENT_EVICTIONS: '8',
        MIN_EVICTION_WINDOW_SECONDS: '5',
        EXCLUDE_FROM_LOAD_BALANCERS: 'false',
        WAIT_FOR_LOAD_BALANCERS: 'false',
        WAIT_FOR_VOLUME_DETACH: 'false',
        METRICS_NAMESPACE: 'Platform/Drainer',
        AUTO_SCALING_GROUP_NAMES: 'asg-a, asg-b',
        ON_REBALANCE_RECOMMENDATION: 'drain',
        LIFECYCLE_HOOK_NAME: 'team/drain-hook',
        ON_NODE_LOST: 'ignore',
        ON_SCHEDULED_EVENT: 'cordon',
        SCHEDULED_EVENT_LEAD_SECONDS: '7200',
      }),
    ).toEqual({
      clusterName: 'prod',
      drainTimeoutSeconds: 3600,
      onDrainTimeout: 'abandon',
      dryRun: true,
      heartbeatIntervalSeconds: 30,
      logLevel: 'debug',
      maxConcurrentEvictions: 8,
      minEvictionWindowSeconds: 5,
      excludeFromLoadBalancers: false,
      waitForLoadBalancers: false,
      waitForVolumeDetach: false,
      metricsNamespace: 'Platform/Drainer',
      autoScalingGroupNames: ['asg-a', 'asg-b'],
      discoverAutoScalingGroups: false,
      onRebalanceRecommendation: 'drain',
      lifecycleHookName: 'team/drain-hook',
      onNodeLost: 'ignore',
      onScheduledEvent: 'cordon',
      scheduledEventLeadSeconds: 7200,
    });
  });

  describe('the Auto Scaling groups served', () => {
    it('has no allow-list when AUTO_SCALING_GROUP_NAMES is unset or blank', () => {
      expect(loadConfig({ CLUSTER_NAME: 'prod' }).autoScalingGroupNames).toBeUndefined();
      expect(
        loadConfig({ CLUSTER_NAME: 'prod', AUTO_SCALING_GROUP_NAMES: '  ' }).autoScalingGroupNames,
      ).toBeUndefined();
    });

    it('reads the allow-list once per name, frozen', () => {
      const { autoScalingGroupNames } = loadConfig({
        CLUSTER_NAME: 'prod',
        AUTO_SCALING_GROUP_NAMES: 'eks-ng-a-1a2b,asg-b,eks-ng-a-1a2b',
      });

      expect(autoScalingGroupNames).toEqual(['eks-ng-a-1a2b', 'asg-b']);
      expect(Object.isFrozen(autoScalingGroupNames)).toBe(true);
    });

    it('reads DISCOVER_AUTO_SCALING_GROUPS', () => {
      expect(
        loadConfig({ CLUSTER_NAME: 'prod', DISCOVER_AUTO_SCALING_GROUPS: 'TRUE' }).discoverAutoScalingGroups,
      ).toBe(true);
    });
  });

  it('trims surrounding whitespace and ignores the case of keyword values', () => {
    const config = loadConfig({
      CLUSTER_NAME: '  prod  ',
      DRAIN_TIMEOUT_SECONDS: ' 120 ',
      ON_DRAIN_TIMEOUT: ' Continue ',
      DRY_RUN: ' TRUE ',
      HEARTBEAT_INTERVAL_SECONDS: ' 15 ',
      LOG_LEVEL: ' WARN ',
      MAX_CONCURRENT_EVICTIONS: ' 4 ',
      MIN_EVICTION_WINDOW_SECONDS: ' 90 ',
      EXCLUDE_FROM_LOAD_BALANCERS: ' FALSE ',
      WAIT_FOR_LOAD_BALANCERS: ' True ',
      WAIT_FOR_VOLUME_DETACH: 'False',
      METRICS_NAMESPACE: ' Team.Drainer ',
      ON_REBALANCE_RECOMMENDATION: ' IGNORE ',
      LIFECYCLE_HOOK_NAME: ' my-hook ',
      ON_NODE_LOST: ' Release ',
      ON_SCHEDULED_EVENT: ' Ignore ',
      SCHEDULED_EVENT_LEAD_SECONDS: ' 60 ',
    });

    expect(config).toEqual({
      clusterName: 'prod',
      drainTimeoutSeconds: 120,
      onDrainTimeout: 'continue',
      dryRun: true,
      heartbeatIntervalSeconds: 15,
      logLevel: 'warn',
      maxConcurrentEvictions: 4,
      minEvictionWindowSeconds: 90,
      excludeFromLoadBalancers: false,
      waitForLoadBalancers: true,
      waitForVolumeDetach: false,
      metricsNamespace: 'Team.Drainer',
      discoverAutoScalingGroups: false,
      onRebalanceRecommendation: 'ignore',
      lifecycleHookName: 'my-hook',
      onNodeLost: 'release',
      onScheduledEvent: 'ignore',
      scheduledEventLeadSeconds: 60,
    });
  });

  it.each([
    [
      'ON_SCHEDULED_EVENT',
      'terminate',
      'ON_SCHEDULED_EVENT must be one of replace, cordon, ignore, got "terminate"',
    ],
    [
      'SCHEDULED_EVENT_LEAD_SECONDS',
      '59',
      'SCHEDULED_EVENT_LEAD_SECONDS must be a whole number between 60 and 1209600, got "59"',
    ],
    ['SCHEDULED_EVENT_LEAD_SECONDS', '1209601', 'between 60 and 1209600, got "1209601"'],
  ])('refuses %s=%s, showing the value', (name, value, message) => {
    expect(() => loadConfig({ CLUSTER_NAME: 'prod', [name]: value })).toThrow(message);
  });

  it.each([
    ['delete', 'delete'],
    ['continue', 'continue'],
    ['abandon', 'abandon'],
  ])('accepts ON_DRAIN_TIMEOUT=%s', (value, policy) => {
    expect(loadConfig({ CLUSTER_NAME: 'prod', ON_DRAIN_TIMEOUT: value }).onDrainTimeout).toBe(policy);
  });

  it.each(['cordon', 'drain', 'ignore'])('accepts ON_REBALANCE_RECOMMENDATION=%s', (value) => {
    expect(
      loadConfig({ CLUSTER_NAME: 'prod', ON_REBALANCE_RECOMMENDATION: value }).onRebalanceRecommendation,
    ).toBe(value);
  });

  it('releases lost nodes by default, and accepts ON_NODE_LOST=ignore', () => {
    expect(loadConfig({ CLUSTER_NAME: 'prod' }).onNodeLost).toBe('release');
    expect(loadConfig({ CLUSTER_NAME: 'prod', ON_NODE_LOST: 'IGNORE' }).onNodeLost).toBe('ignore');
  });

  it('fails for ON_NODE_LOST=delete', () => {
    expect(() => loadConfig({ CLUSTER_NAME: 'prod', ON_NODE_LOST: 'delete' })).toThrow(
      'ON_NODE_LOST must be one of release, ignore, got "delete"',
    );
  });

  it.each(['evict', 'cordon,drain', 'true'])('fails for ON_REBALANCE_RECOMMENDATION=%s', (value) => {
    expect(() => loadConfig({ CLUSTER_NAME: 'prod', ON_REBALANCE_RECOMMENDATION: value })).toThrow(
      `ON_REBALANCE_RECOMMENDATION must be one of cordon, drain, ignore, got "${value}"`,
    );
  });

  it.each(['hook name', 'x'.repeat(256), 'hook:1'])('fails for LIFECYCLE_HOOK_NAME=%j', (value) => {
    expect(() => loadConfig({ CLUSTER_NAME: 'prod', LIFECYCLE_HOOK_NAME: value })).toThrow(
      `LIFECYCLE_HOOK_NAME must be a lifecycle hook name, got ${JSON.stringify(value)}`,
    );
  });

  it.each(['debug', 'info', 'warn', 'error'])('accepts LOG_LEVEL=%s', (level) => {
    expect(loadConfig({ CLUSTER_NAME: 'prod', LOG_LEVEL: level }).logLevel).toBe(level);
  });

  it('reads DRY_RUN=false as false', () => {
    expect(loadConfig({ CLUSTER_NAME: 'prod', DRY_RUN: 'false' }).dryRun).toBe(false);
  });

  it.each([
    ['DRAIN_TIMEOUT_SECONDS', 'drainTimeoutSeconds', 30, 172_800],
    ['HEARTBEAT_INTERVAL_SECONDS', 'heartbeatIntervalSeconds', 1, 3_600],
    ['MAX_CONCURRENT_EVICTIONS', 'maxConcurrentEvictions', 1, 500],
    ['MIN_EVICTION_WINDOW_SECONDS', 'minEvictionWindowSeconds', 1, 3_600],
  ] as const)('accepts %s at both ends of its range', (variable, key, min, max) => {
    expect(loadConfig({ CLUSTER_NAME: 'prod', [variable]: String(min) })[key]).toBe(min);
    expect(loadConfig({ CLUSTER_NAME: 'prod', [variable]: String(max) })[key]).toBe(max);
  });

  it.each([
    ['DRAIN_TIMEOUT_SECONDS', 30, 172_800],
    ['HEARTBEAT_INTERVAL_SECONDS', 1, 3_600],
    ['MAX_CONCURRENT_EVICTIONS', 1, 500],
    ['MIN_EVICTION_WINDOW_SECONDS', 1, 3_600],
  ] as const)('fails for %s just outside its range', (variable, min, max) => {
    for (const value of [String(min - 1), String(max + 1)]) {
      expect(() => loadConfig({ CLUSTER_NAME: 'prod', [variable]: value })).toThrow(
        `${variable} must be a whole number between ${min} and ${max}, got "${value}"`,
      );
    }
  });

  it.each(['abc', '60.5', '1e2x', 'Infinity'])(
    'fails for a DRAIN_TIMEOUT_SECONDS that is not whole: %s',
    (value) => {
      expect(() => loadConfig({ CLUSTER_NAME: 'prod', DRAIN_TIMEOUT_SECONDS: value })).toThrow(ConfigError);
    },
  );

  it.each([
    ['a', 'one character'],
    ['0prod', 'a leading digit'],
    ['prod_cluster-2', 'underscores and hyphens'],
    [`p${'x'.repeat(99)}`, '100 characters'],
  ])('accepts the cluster name %s (%s)', (name) => {
    expect(loadConfig({ CLUSTER_NAME: name }).clusterName).toBe(name);
  });

  it.each([
    [`p${'x'.repeat(100)}`, '101 characters'],
    ['-prod', 'a leading hyphen'],
    ['_prod', 'a leading underscore'],
    ['prod.cluster', 'a dot'],
    ['prod\nx', 'a line break'],
  ])('fails for the cluster name %j (%s)', (name) => {
    expect(() => loadConfig({ CLUSTER_NAME: name })).toThrow(
      `CLUSTER_NAME must be an EKS cluster name, got ${JSON.stringify(name)}`,
    );
  });

  it.each([
    ['Platform/Drainer'],
    ['a.b_c-d#e:f/g'],
    ['x'.repeat(255)],
    ['AWSish'],
    ['aws/lowercase-is-not-reserved'],
  ])('accepts the metrics namespace %s', (namespace) => {
    expect(loadConfig({ CLUSTER_NAME: 'prod', METRICS_NAMESPACE: namespace }).metricsNamespace).toBe(
      namespace,
    );
  });

  it.each([
    ['x'.repeat(256), 'too long'],
    ['AWS/Lambda', 'the reserved AWS/ prefix'],
    ['Platform Drainer', 'a space'],
    ['Drainer!', 'a character CloudWatch refuses'],
  ])('fails for the metrics namespace %j (%s)', (namespace) => {
    expect(() => loadConfig({ CLUSTER_NAME: 'prod', METRICS_NAMESPACE: namespace })).toThrow(
      `METRICS_NAMESPACE must be a CloudWatch namespace (not AWS/…), got ${JSON.stringify(namespace)}`,
    );
  });

  it.each([
    [{ CLUSTER_NAME: undefined }, 'CLUSTER_NAME is required (the EKS cluster to drain nodes of)'],
    [{ CLUSTER_NAME: '  ' }, 'CLUSTER_NAME is required (the EKS cluster to drain nodes of)'],
    [{ CLUSTER_NAME: 'bad name!' }, 'CLUSTER_NAME must be an EKS cluster name, got "bad name!"'],
    [
      { DRAIN_TIMEOUT_SECONDS: '5' },
      'DRAIN_TIMEOUT_SECONDS must be a whole number between 30 and 172800, got "5"',
    ],
    [
      { DRAIN_TIMEOUT_SECONDS: ' 1.5e3x ' },
      'DRAIN_TIMEOUT_SECONDS must be a whole number between 30 and 172800, got "1.5e3x"',
    ],
    [
      { HEARTBEAT_INTERVAL_SECONDS: '0' },
      'HEARTBEAT_INTERVAL_SECONDS must be a whole number between 1 and 3600, got "0"',
    ],
    [
      { ON_DRAIN_TIMEOUT: ' Evict ' },
      'ON_DRAIN_TIMEOUT must be one of delete, continue, abandon, got " Evict "',
    ],
    [{ DRY_RUN: 'yes' }, 'DRY_RUN must be one of true, false, got "yes"'],
    [
      { EXCLUDE_FROM_LOAD_BALANCERS: 'no' },
      'EXCLUDE_FROM_LOAD_BALANCERS must be one of true, false, got "no"',
    ],
    [{ WAIT_FOR_LOAD_BALANCERS: '0' }, 'WAIT_FOR_LOAD_BALANCERS must be one of true, false, got "0"'],
    [{ WAIT_FOR_VOLUME_DETACH: 'off' }, 'WAIT_FOR_VOLUME_DETACH must be one of true, false, got "off"'],
    [{ LOG_LEVEL: 'verbose' }, 'LOG_LEVEL must be one of debug, info, warn, error, got "verbose"'],
    [
      { MAX_CONCURRENT_EVICTIONS: '0' },
      'MAX_CONCURRENT_EVICTIONS must be a whole number between 1 and 500, got "0"',
    ],
    [
      { AUTO_SCALING_GROUP_NAMES: 'asg-a,,asg-b' },
      'AUTO_SCALING_GROUP_NAMES must be comma-separated Auto Scaling group names, got "asg-a,,asg-b"',
    ],
    [
      { AUTO_SCALING_GROUP_NAMES: 'x'.repeat(256) },
      'AUTO_SCALING_GROUP_NAMES must be comma-separated Auto Scaling group names',
    ],
    [
      { DISCOVER_AUTO_SCALING_GROUPS: 'true', AUTO_SCALING_GROUP_NAMES: 'asg-a' },
      'AUTO_SCALING_GROUP_NAMES and DISCOVER_AUTO_SCALING_GROUPS=true exclude each other',
    ],
    [
      { DISCOVER_AUTO_SCALING_GROUPS: 'yes' },
      'DISCOVER_AUTO_SCALING_GROUPS must be one of true, false, got "yes"',
    ],
    [
      { METRICS_NAMESPACE: 'AWS/Lambda' },
      'METRICS_NAMESPACE must be a CloudWatch namespace (not AWS/…), got "AWS/Lambda"',
    ],
  ])('fails for %j with a ConfigError naming the variable and the value', (env, message) => {
    const load = () => loadConfig({ CLUSTER_NAME: 'prod', ...env });

    expect(load).toThrow(ConfigError);
    expect(load).toThrow(message);
  });
});

describe('loadReconcilerConfig', () => {
  const env = {
    CLUSTER_NAME: 'prod',
    HOOK_NAME: 'eks-node-drainer',
    HOOK_HEARTBEAT_TIMEOUT_SECONDS: '1800',
    HOOK_DEFAULT_RESULT: 'CONTINUE',
  };

  it('reads the hook the stack sets', () => {
    expect(loadReconcilerConfig(env)).toEqual({
      clusterName: 'prod',
      hookName: 'eks-node-drainer',
      heartbeatTimeoutSeconds: 1800,
      defaultResult: 'CONTINUE',
      logLevel: 'info',
    });
    expect(loadReconcilerConfig({ ...env, HOOK_DEFAULT_RESULT: 'abandon' }).defaultResult).toBe('ABANDON');
  });

  it.each([
    [{ CLUSTER_NAME: '' }, 'CLUSTER_NAME is required'],
    [{ HOOK_NAME: 'bad name' }, 'HOOK_NAME must be a lifecycle hook name, got "bad name"'],
    [{ HOOK_NAME: undefined }, 'HOOK_NAME must be a lifecycle hook name, got ""'],
    [{ HOOK_HEARTBEAT_TIMEOUT_SECONDS: '' }, 'HOOK_HEARTBEAT_TIMEOUT_SECONDS is required'],
    [
      { HOOK_HEARTBEAT_TIMEOUT_SECONDS: '29' },
      'HOOK_HEARTBEAT_TIMEOUT_SECONDS must be a whole number between 30 and 7200, got "29"',
    ],
    [{ HOOK_DEFAULT_RESULT: 'retry' }, 'HOOK_DEFAULT_RESULT must be one of continue, abandon, got "retry"'],
  ])('fails for %j naming the variable', (bad, message) => {
    expect(() => loadReconcilerConfig({ ...env, ...bad })).toThrow(message);
  });
});

describe('loadConfig, notifications', () => {
  const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:drains';

  it('has no notifications without NOTIFICATION_TOPIC_ARN', () => {
    expect(loadConfig({ CLUSTER_NAME: 'prod', NOTIFY_ON: 'all' }).notifications).toBeUndefined();
  });

  it('tells about problems by default, and every drain with NOTIFY_ON=all', () => {
    const base = { CLUSTER_NAME: 'prod', NOTIFICATION_TOPIC_ARN: ` ${TOPIC} ` };

    expect(loadConfig(base).notifications).toEqual({ topicArn: TOPIC, notifyOn: 'problems' });
    expect(loadConfig({ ...base, NOTIFY_ON: ' All ' }).notifications).toEqual({
      topicArn: TOPIC,
      notifyOn: 'all',
    });
  });

  it('accepts a topic in another partition', () => {
    const arn = 'arn:aws-cn:sns:cn-north-1:123456789012:drains';

    expect(loadConfig({ CLUSTER_NAME: 'prod', NOTIFICATION_TOPIC_ARN: arn }).notifications?.topicArn).toBe(
      arn,
    );
  });

  it.each([
    [{ NOTIFY_ON: 'errors' }, 'NOTIFY_ON must be one of problems, all, got "errors"'],
    [
      { NOTIFICATION_TOPIC_ARN: 'drains' },
      'NOTIFICATION_TOPIC_ARN must be the ARN of a standard (not FIFO) SNS topic, got "drains"',
    ],
    [
      { NOTIFICATION_TOPIC_ARN: `${TOPIC}.fifo` },
      `NOTIFICATION_TOPIC_ARN must be the ARN of a standard (not FIFO) SNS topic, got "${TOPIC}.fifo"`,
    ],
    [
      { NOTIFICATION_TOPIC_ARN: 'arn:aws:sqs:eu-west-1:123456789012:drains' },
      'NOTIFICATION_TOPIC_ARN must be the ARN of a standard (not FIFO) SNS topic',
    ],
  ])('fails for %j with a ConfigError naming the variable and the value', (env, message) => {
    const load = () => loadConfig({ CLUSTER_NAME: 'prod', NOTIFICATION_TOPIC_ARN: TOPIC, ...env });

    expect(load).toThrow(ConfigError);
    expect(load).toThrow(message);
  });
});
