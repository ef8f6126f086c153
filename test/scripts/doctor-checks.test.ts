import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lambda/config.js';
import type { GroupFacts } from '../../scripts/doctor/aws.js';
import {
  alarmsLine,
  configLine,
  groupLine,
  queueLine,
  ruleMatchLine,
  ruleStateLine,
  stackLine,
} from '../../scripts/doctor/checks.js';

const CONFIG = { drainTimeoutSeconds: 900, heartbeatIntervalSeconds: 60, onDrainTimeout: 'delete' } as const;
const TERMINATING = 'autoscaling:EC2_INSTANCE_TERMINATING';

function group(
  hook: Partial<GroupFacts['hooks'][number]> | undefined,
  extra: Partial<GroupFacts> = {},
): GroupFacts {
  return {
    name: 'ng-a',
    tagged: true,
    named: true,
    exists: true,
    instanceIds: [],
    hooks: hook
      ? [
          {
            name: 'eks-node-drainer',
            transition: TERMINATING,
            heartbeatTimeout: 1800,
            defaultResult: 'CONTINUE',
            ...hook,
          },
        ]
      : [],
    ...extra,
  };
}

const DEPLOY = 'npx cdk deploy -c clusterName=prod -c autoScalingGroupNames=ng-a';

describe('groupLine', () => {
  it('passes a hook that fits the drain timeout', () => {
    expect(groupLine('prod', group({}), 'eks-node-drainer', CONFIG, ['ng-a'])).toMatchObject({
      status: 'pass',
      title:
        'ng-a: hook eks-node-drainer (heartbeat timeout 1800 s, default result CONTINUE) fits the drain timeout 900 s',
    });
  });

  it('fails a group without the termination hook, with the deploy command that adds it', () => {
    const line = groupLine(
      'prod',
      group({ transition: 'autoscaling:EC2_INSTANCE_LAUNCHING' }),
      'eks-node-drainer',
      CONFIG,
      [],
    );

    expect(line).toMatchObject({ status: 'fail', fix: DEPLOY });
    expect(line.title).toBe(
      'ng-a (tagged for the cluster) has no termination hook eks-node-drainer: its instances terminate undrained (scale-in, AZ rebalance)',
    );
  });

  it('fails a named group that does not exist', () => {
    expect(
      groupLine('prod', group(undefined, { exists: false, tagged: false }), 'eks-node-drainer', CONFIG, [
        'ng-a',
      ]),
    ).toMatchObject({
      status: 'fail',
      title: 'Auto Scaling group ng-a (named by the drainer) does not exist',
    });
  });

  it('fails a heartbeat timeout not longer than the heartbeat interval', () => {
    const line = groupLine('prod', group({ heartbeatTimeout: 60 }), 'eks-node-drainer', CONFIG, ['ng-a']);

    expect(line.status).toBe('fail');
    expect(line.fix).toBe(`${DEPLOY} -c heartbeatTimeoutSeconds=1800`);
  });

  it('fails a hook whose action ends before the drain timeout', () => {
    const line = groupLine(
      'prod',
      group({ heartbeatTimeout: 300, globalTimeout: 600 }),
      'eks-node-drainer',
      CONFIG,
      ['ng-a'],
    );

    expect(line).toMatchObject({ status: 'fail' });
    expect(line.title).toContain('the action ends after 600 s, before the drain timeout 900 s');
  });

  it('warns of a default result that differs from the deadline policy', () => {
    expect(
      groupLine('prod', group({ defaultResult: 'ABANDON' }), 'eks-node-drainer', CONFIG, ['ng-a']).status,
    ).toBe('warn');
    expect(
      groupLine(
        'prod',
        group({ defaultResult: 'ABANDON' }),
        'eks-node-drainer',
        { ...CONFIG, onDrainTimeout: 'abandon' },
        ['ng-a'],
      ).status,
    ).toBe('pass');
  });

  it('warns of a heartbeat timeout shorter than the drain timeout', () => {
    const line = groupLine('prod', group({ heartbeatTimeout: 600 }), 'eks-node-drainer', CONFIG, ['ng-a']);

    expect(line).toMatchObject({ status: 'warn', fix: `${DEPLOY} -c heartbeatTimeoutSeconds=1800` });
  });
});

describe('stackLine', () => {
  const stack = (status: string) => ({ name: 's', status, outputs: {}, resources: new Map() });

  it.each([
    ['UPDATE_COMPLETE', 'pass'],
    ['UPDATE_IN_PROGRESS', 'warn'],
    ['ROLLBACK_COMPLETE', 'fail'],
    ['UPDATE_ROLLBACK_FAILED', 'fail'],
  ])('%s is %s', (status, expected) => {
    expect(stackLine('prod', 's', stack(status), 'us-east-1', ['ng-a']).status).toBe(expected);
  });
});

describe('configLine', () => {
  it('fails an environment the function would refuse at cold start, naming the variable', () => {
    const { line } = configLine(
      'prod',
      'fn',
      { CLUSTER_NAME: 'prod', DRAIN_TIMEOUT_SECONDS: '5' },
      loadConfig,
    );

    expect(line).toMatchObject({ status: 'fail' });
    expect(line.title).toBe(
      'function fn: invalid configuration: DRAIN_TIMEOUT_SECONDS must be a whole number between 30 and 172800, got "5"',
    );
  });

  it('fails a function of another cluster, and warns of a dry-run deployment', () => {
    expect(configLine('prod', 'fn', { CLUSTER_NAME: 'dev' }, loadConfig).line.status).toBe('fail');
    expect(configLine('prod', 'fn', { CLUSTER_NAME: 'prod', DRY_RUN: 'true' }, loadConfig).line.status).toBe(
      'warn',
    );
  });
});

describe('queueLine and alarmsLine', () => {
  it('shows how many events wait and how old the oldest is', () => {
    const now = Date.parse('2026-12-01T12:00:00Z');
    const line = queueLine(
      'https://q',
      { count: 3, oldest: { sentAt: now - 3 * 3_600_000, body: 'not json' } },
      now,
    );

    expect(line.title).toBe(
      '3 event(s) in the dead-letter queue, oldest from 2026-12-01T09:00:00.000Z (3 h ago): drains that failed for good',
    );
    expect(line.details).toEqual(['oldest: not json']);
  });

  it('warns of alarms in ALARM, naming them', () => {
    const line = alarmsLine([
      { name: 'A', state: 'OK', notifies: true },
      { name: 'B', state: 'ALARM', description: 'deadline', reason: 'Threshold Crossed', notifies: true },
    ]);

    expect(line).toMatchObject({
      status: 'warn',
      title: '1 of 2 alarm(s) in ALARM: B',
      details: ['B: deadline (Threshold Crossed)'],
    });
  });

  it('says when the alarms notify nobody, with the deploy that gives them a topic', () => {
    const quiet = (notifies: boolean) => ({ name: 'A', state: 'OK', notifies });

    expect(alarmsLine([quiet(false), quiet(false)])).toMatchObject({
      status: 'pass',
      title:
        '2 alarm(s), none in ALARM; none notifies anyone (deploy with -c alarmTopicArn=<a standard SNS topic>)',
    });
    expect(alarmsLine([quiet(true), quiet(false)]).title).toBe(
      '2 alarm(s), none in ALARM; not all notify anyone (deploy with -c alarmTopicArn=<a standard SNS topic>)',
    );
    expect(alarmsLine([quiet(true), quiet(true)]).title).toBe('2 alarm(s), none in ALARM');
  });
});

describe('ruleStateLine and ruleMatchLine', () => {
  it('fails a disabled rule with the command that enables it', () => {
    expect(ruleStateLine({ name: 'r', state: 'DISABLED' })).toMatchObject({
      status: 'fail',
      fix: 'aws events enable-rule --name r',
    });
    expect(ruleStateLine({ name: 'r', state: 'ENABLED' }).status).toBe('pass');
  });

  it('fails a rule that does not match a group, with the deploy that adds the group', () => {
    const line = ruleMatchLine('prod', { name: 'r', state: 'ENABLED' }, 'ng-b', 'eks-node-drainer', false, [
      'ng-a',
    ]);

    expect(line).toMatchObject({
      id: 'rule.matches.ng-b',
      status: 'fail',
      fix: 'npx cdk deploy -c clusterName=prod -c autoScalingGroupNames=ng-a,ng-b',
    });
  });
});
