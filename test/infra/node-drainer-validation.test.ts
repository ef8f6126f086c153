import { Duration, Stack } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { NodeDrainer, type NodeDrainerProps } from '../../infra/node-drainer.js';
import { defaultHeartbeatTimeout, nodesDrainableAtOnce } from '../../infra/settings.js';
import { testApp } from './support.js';

function construct(props: Partial<NodeDrainerProps>) {
  const stack = new Stack(testApp(), 'Test');
  return () =>
    new NodeDrainer(stack, 'Drainer', { clusterName: 'demo', autoScalingGroupNames: ['asg-a'], ...props });
}

describe('NodeDrainer validation', () => {
  it('accepts the defaults', () => {
    expect(construct({})).not.toThrow();
  });

  it('rejects an empty list of Auto Scaling Groups', () => {
    expect(construct({ autoScalingGroupNames: [] })).toThrow(
      'autoScalingGroupNames must name at least one Auto Scaling Group (or give autoScalingGroups, nodegroupNames, nodegroups, or discover: true), got []',
    );
  });

  it('rejects discovery together with named groups or node groups', () => {
    expect(construct({ discover: true })).toThrow(
      'discover serves every Auto Scaling Group of the cluster: leave autoScalingGroupNames and nodegroupNames out, got autoScalingGroupNames ["asg-a"], nodegroupNames []',
    );
    expect(construct({ autoScalingGroupNames: [], nodegroupNames: ['ng-a'], discover: true })).toThrow(
      'nodegroupNames ["ng-a"]',
    );
  });

  it('accepts node groups alone, and discovery alone', () => {
    expect(construct({ autoScalingGroupNames: undefined, nodegroupNames: ['ng-a'] })).not.toThrow();
    expect(construct({ autoScalingGroupNames: undefined, discover: true })).not.toThrow();
  });

  it('rejects a node group named twice', () => {
    expect(construct({ nodegroupNames: ['ng-a', 'ng-a'] })).toThrow(
      'nodegroupNames must not repeat a name, got ["ng-a","ng-a"]',
    );
  });

  it('rejects an Auto Scaling Group named twice', () => {
    expect(construct({ autoScalingGroupNames: ['asg-a', 'asg-a'] })).toThrow(
      'autoScalingGroupNames must not repeat a name, got ["asg-a","asg-a"]',
    );
  });

  it('rejects a heartbeat timeout shorter than the hook allows', () => {
    expect(construct({ heartbeatTimeout: Duration.seconds(20) })).toThrow(
      'heartbeatTimeout must be between 30 and 7200 s (the range of the lifecycle hook), got 20 s',
    );
  });

  it('rejects a heartbeat timeout longer than the hook allows', () => {
    expect(construct({ heartbeatTimeout: Duration.hours(3) })).toThrow(
      'heartbeatTimeout must be between 30 and 7200 s (the range of the lifecycle hook), got 10800 s',
    );
  });

  it('rejects a heartbeat interval not shorter than the heartbeat timeout', () => {
    expect(
      construct({ heartbeatTimeout: Duration.minutes(2), heartbeatInterval: Duration.minutes(2) }),
    ).toThrow(
      'heartbeatInterval must be shorter than heartbeatTimeout, or the hook times out between two heartbeats; ' +
        'got heartbeatInterval 120 s, heartbeatTimeout 120 s',
    );
  });

  it('rejects a heartbeat interval outside the range the handler accepts', () => {
    expect(construct({ heartbeatInterval: Duration.seconds(5) })).toThrow(
      'heartbeatInterval must be between 10 and 3600 s (the range of the handler), got 5 s',
    );
  });

  it('rejects a drain timeout too short to drain anything', () => {
    expect(construct({ drainTimeout: Duration.seconds(10) })).toThrow(
      'drainTimeout must be at least 30 s, got 10 s',
    );
  });

  it('rejects a drain timeout beyond 100 heartbeat timeouts, which the hook cuts short', () => {
    expect(
      construct({
        heartbeatTimeout: Duration.minutes(1),
        heartbeatInterval: Duration.seconds(30),
        drainTimeout: Duration.hours(2),
      }),
    ).toThrow(
      'drainTimeout must be at most 6000 s, the longest a lifecycle action lasts ' +
        '(min(100 × heartbeatTimeout 60 s, 48 h)); got 7200 s',
    );
  });

  it('rejects a drain timeout beyond 48 hours, the longest a lifecycle action lasts', () => {
    expect(construct({ heartbeatTimeout: Duration.hours(1), drainTimeout: Duration.hours(49) })).toThrow(
      'drainTimeout must be at most 172800 s, the longest a lifecycle action lasts ' +
        '(min(100 × heartbeatTimeout 3600 s, 48 h)); got 176400 s',
    );
  });

  it('accepts a drain timeout of exactly what the hook allows', () => {
    expect(
      construct({
        heartbeatTimeout: Duration.minutes(1),
        drainTimeout: Duration.minutes(100),
        heartbeatInterval: Duration.seconds(30),
      }),
    ).not.toThrow();
  });
});

describe('mass terminations', () => {
  it('derives the hook heartbeat timeout from the drain timeout, within the hook limits', () => {
    expect(defaultHeartbeatTimeout(Duration.minutes(15)).toSeconds()).toBe(1_800);
    expect(defaultHeartbeatTimeout(Duration.minutes(1)).toSeconds()).toBe(300);
    expect(defaultHeartbeatTimeout(Duration.hours(3)).toSeconds()).toBe(7_200);
  });

  it('counts the nodes that may terminate at once before a queued drain finds its action expired', () => {
    // 100 drains at once; a second and a third wave start within the 30-minute heartbeat timeout
    expect(nodesDrainableAtOnce(100, Duration.minutes(30), Duration.minutes(15))).toBe(300);
    expect(nodesDrainableAtOnce(10, Duration.minutes(5), Duration.minutes(15))).toBe(10);
  });
});
