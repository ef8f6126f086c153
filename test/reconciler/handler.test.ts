/**
 * The discovery reconciler (lambda/reconciler/handler.ts), its real entry with the real AWS SDK against
 * the local AutoScaling endpoint, and CloudFormation's custom resource answers on a local "S3" URL.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ReconcilerSummary } from '../../lambda/reconciler/handler.js';
import { LocalAwsEndpoint } from '../../scripts/harness/aws-endpoint.js';
import { LocalCustomResourceResponses } from '../../scripts/harness/cfn-responses.js';

const aws = new LocalAwsEndpoint();
const cfn = new LocalCustomResourceResponses();
const HOOK = 'eks-node-drainer';
const MARKER = 'eks-node-drainer/prod';
const TERMINATING = 'autoscaling:EC2_INSTANCE_TERMINATING';

beforeAll(async () => {
  await aws.start();
  await cfn.start();
});
afterAll(async () => {
  await aws.stop();
  await cfn.stop();
});
beforeEach(() => {
  aws.autoScalingGroups.clear();
  aws.calls.splice(0);
  cfn.responses.splice(0);
  const groups = aws.autoScalingGroups.groups;
  groups.set('eks-ng-a-1a2b', { tags: { 'eks:cluster-name': 'prod', 'eks:nodegroup-name': 'ng-a' } });
  groups.set('self-managed', { tags: { 'kubernetes.io/cluster/prod': 'shared' } });
  groups.set('staging-ng', { tags: { 'eks:cluster-name': 'staging' } });
  groups.set('untagged', { tags: {} });
});
afterEach(() => {
  vi.unstubAllEnvs();
});

type Handler = (event: unknown) => Promise<ReconcilerSummary>;

/** A fresh container of the reconciler with the stack's environment. */
async function loadReconciler(env: Record<string, string> = {}): Promise<Handler> {
  vi.resetModules();
  const all = {
    ...aws.env(),
    CLUSTER_NAME: 'prod',
    HOOK_NAME: HOOK,
    HOOK_HEARTBEAT_TIMEOUT_SECONDS: '1800',
    HOOK_DEFAULT_RESULT: 'CONTINUE',
    LOG_LEVEL: 'error',
    ...env,
  };
  for (const [key, value] of Object.entries(all)) vi.stubEnv(key, value);
  return (await import('../../lambda/reconciler/handler.js')).handler;
}

const SCHEDULED = { source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} };

function cloudTrail(source: string, eventName: string, requestParameters: Record<string, unknown>) {
  return {
    version: '0',
    id: randomUUID(),
    source,
    'detail-type': 'AWS API Call via CloudTrail',
    account: '000000000000',
    region: 'us-east-1',
    time: new Date().toISOString(),
    resources: [],
    detail: {
      eventVersion: '1.09',
      eventSource: `${source.slice(4)}.amazonaws.com`,
      eventName,
      requestParameters,
      // fields AWS adds later are ignored
      responseElements: null,
      additionalEventData: { new: true },
    },
  };
}

function customResource(
  requestType: 'Create' | 'Update' | 'Delete',
  props: Record<string, unknown> = { HookName: HOOK },
  old?: Record<string, unknown>,
) {
  const requestId = randomUUID();
  return {
    RequestType: requestType,
    ServiceToken: 'arn:aws:lambda:us-east-1:000000000000:function:reconciler',
    ResponseURL: cfn.responseUrl(requestId),
    StackId: 'arn:aws:cloudformation:us-east-1:000000000000:stack/EksNodeDrainer-prod/guid',
    RequestId: requestId,
    LogicalResourceId: 'Hooks',
    ResourceType: 'Custom::EksNodeDrainerHooks',
    ...(requestType === 'Create' ? {} : { PhysicalResourceId: 'eks-node-drainer-hooks-prod' }),
    ResourceProperties: { ServiceToken: 'arn', ...props },
    ...(old ? { OldResourceProperties: old } : {}),
  };
}

const hooksOf = (group: string) => aws.autoScalingGroups.hooks.get(group) ?? [];
const tagsOf = (group: string) => aws.autoScalingGroups.groups.get(group)?.tags ?? {};
const calls = (action: string) => aws.callsOf('autoscaling', action);
const groupsOf = (action: string) =>
  calls(action).map((c) => c.params.AutoScalingGroupName ?? c.params['Tags.member.1.ResourceId']);

describe('reconciler', () => {
  it("puts the hook once on every group of the cluster, recording it with a tag, and no other group's", async () => {
    const handler = await loadReconciler();

    const summary = await handler(SCHEDULED);

    expect(summary.reconciled?.put).toEqual(['eks-ng-a-1a2b', 'self-managed']);
    for (const group of ['eks-ng-a-1a2b', 'self-managed']) {
      expect(hooksOf(group)).toEqual([
        { name: HOOK, transition: TERMINATING, heartbeatTimeout: 1800, defaultResult: 'CONTINUE' },
      ]);
      expect(tagsOf(group)[MARKER]).toBe(HOOK);
    }
    // the record is written before the hook
    const order = aws.calls
      .filter(
        (c) =>
          c.params.AutoScalingGroupName === 'self-managed' ||
          c.params['Tags.member.1.ResourceId'] === 'self-managed',
      )
      .map((c) => c.action);
    expect(order.indexOf('CreateOrUpdateTags')).toBeLessThan(order.indexOf('PutLifecycleHook'));
    // foreign groups: another cluster's, an untagged one
    for (const group of ['staging-ng', 'untagged']) {
      expect(hooksOf(group)).toEqual([]);
      expect(tagsOf(group)[MARKER]).toBeUndefined();
    }
    expect([...groupsOf('PutLifecycleHook'), ...groupsOf('CreateOrUpdateTags')].sort()).toEqual([
      'eks-ng-a-1a2b',
      'eks-ng-a-1a2b',
      'self-managed',
      'self-managed',
    ]);
    expect(calls('DescribeAutoScalingGroups').map((c) => c.params['Filters.member.1.Name'])).toEqual([
      'tag:eks:cluster-name',
      'tag:kubernetes.io/cluster/prod',
    ]);
  });

  it('is idempotent: a second run changes nothing', async () => {
    const handler = await loadReconciler();
    await handler(SCHEDULED);
    aws.calls.splice(0);

    const summary = await handler(SCHEDULED);

    expect(summary.reconciled).toMatchObject({
      put: [],
      updated: [],
      unchanged: ['eks-ng-a-1a2b', 'self-managed'],
    });
    expect(calls('PutLifecycleHook')).toEqual([]);
    expect(calls('CreateOrUpdateTags')).toEqual([]);
  });

  it('puts the hook on a group created later, when CloudTrail reports CreateAutoScalingGroup', async () => {
    const handler = await loadReconciler();
    await handler(SCHEDULED);
    aws.autoScalingGroups.groups.set('eks-ng-b-3c4d', { tags: { 'eks:cluster-name': 'prod' } });
    aws.calls.splice(0);

    const summary = await handler(
      cloudTrail('aws.autoscaling', 'CreateAutoScalingGroup', { autoScalingGroupName: 'eks-ng-b-3c4d' }),
    );

    expect(summary.reconciled?.put).toEqual(['eks-ng-b-3c4d']);
    expect(groupsOf('PutLifecycleHook')).toEqual(['eks-ng-b-3c4d']);
  });

  it('updates its own hook to the current settings, and no hook it did not put', async () => {
    aws.autoScalingGroups.hooks.set('self-managed', [
      { name: HOOK, transition: TERMINATING, heartbeatTimeout: 300, defaultResult: 'ABANDON' },
    ]);
    const handler = await loadReconciler();
    await handler(SCHEDULED);
    const next = await loadReconciler({ HOOK_HEARTBEAT_TIMEOUT_SECONDS: '3600' });
    aws.calls.splice(0);

    const summary = await next(SCHEDULED);

    expect(summary.reconciled).toMatchObject({ updated: ['eks-ng-a-1a2b'], notOurs: ['self-managed'] });
    expect(hooksOf('eks-ng-a-1a2b')[0]?.heartbeatTimeout).toBe(3600);
    // someone else's hook of the same name: settings kept, no record written
    expect(hooksOf('self-managed')).toEqual([
      { name: HOOK, transition: TERMINATING, heartbeatTimeout: 300, defaultResult: 'ABANDON' },
    ]);
    expect(tagsOf('self-managed')[MARKER]).toBeUndefined();
  });

  it('retries a throttled API', async () => {
    const handler = await loadReconciler();
    const throttled = { status: 400, code: 'Throttling', message: 'Rate exceeded' };
    aws.failNext('autoscaling', 'PutLifecycleHook', throttled, 2);
    aws.failNext('autoscaling', 'DescribeAutoScalingGroups', throttled, 1);

    const summary = await handler(SCHEDULED);

    expect(summary.reconciled?.put).toEqual(['eks-ng-a-1a2b', 'self-managed']);
    expect(summary.reconciled?.failed).toEqual([]);
    expect(calls('PutLifecycleHook')).toHaveLength(4);
    expect(hooksOf('eks-ng-a-1a2b')).toHaveLength(1);
  });

  it('fails the invocation naming the group when a group cannot get its hook, after doing the others', async () => {
    const handler = await loadReconciler();
    aws.failNext('autoscaling', 'PutLifecycleHook', {
      status: 403,
      code: 'AccessDenied',
      message: 'not authorized to perform autoscaling:PutLifecycleHook',
    });

    await expect(handler(SCHEDULED)).rejects.toThrow(
      /hooks not reconciled on 1 group\(s\): eks-ng-a-1a2b: not authorized/,
    );
    expect(hooksOf('self-managed')).toHaveLength(1);
  });

  it('fails the invocation with one error line when the groups cannot be listed', async () => {
    const handler = await loadReconciler({ LOG_LEVEL: 'info' });
    aws.failNext('autoscaling', 'DescribeAutoScalingGroups', {
      status: 403,
      code: 'AccessDenied',
      message: 'not authorized to perform autoscaling:DescribeAutoScalingGroups',
    });
    const lines: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });

    const failure = await handler(SCHEDULED).catch((error: Error) => error);
    spy.mockRestore();

    expect(failure).toBeInstanceOf(Error);
    expect(lines.map((line) => JSON.parse(line))).toEqual([
      expect.objectContaining({
        level: 'error',
        message: 'reconcile failed',
        trigger: 'schedule',
        error: expect.stringContaining('not authorized'),
      }),
    ]);
    expect(calls('PutLifecycleHook')).toEqual([]);
  });

  it('ignores events that are not its triggers, calling nothing', async () => {
    const handler = await loadReconciler();

    for (const event of [
      null,
      { source: 'aws.ec2', 'detail-type': 'EC2 Instance State-change Notification' },
      cloudTrail('aws.autoscaling', 'DeleteAutoScalingGroup', { autoScalingGroupName: 'x' }),
      cloudTrail('aws.eks', 'CreateNodegroup', { name: 'staging', nodegroupName: 'ng-c' }),
      { RequestType: 'Create', ResourceProperties: {} },
    ]) {
      expect((await handler(event)).trigger).toBe('ignored');
    }
    expect(aws.calls).toEqual([]);
  });

  it('puts the hook on a new node group of its cluster once its Auto Scaling group exists', async () => {
    const handler = await loadReconciler();
    aws.autoScalingGroups.groups.set('eks-ng-c-5e6f', {
      tags: { 'eks:cluster-name': 'prod', 'eks:nodegroup-name': 'ng-c' },
    });

    const summary = await handler(
      cloudTrail('aws.eks', 'CreateNodegroup', { name: 'prod', nodegroupName: 'ng-c' }),
    );

    expect(summary.reconciled?.put).toEqual(['eks-ng-a-1a2b', 'eks-ng-c-5e6f', 'self-managed']);
  });
});

describe('reconciler as the custom resource of the stack', () => {
  it('answers SUCCESS to Create after putting the hooks, with a stable physical id and no content type', async () => {
    const handler = await loadReconciler();
    const event = customResource('Create');

    await handler(event);

    expect(hooksOf('eks-ng-a-1a2b')).toHaveLength(1);
    expect(cfn.responses).toEqual([
      {
        path: `/cloudformation-custom-resource-response/${event.RequestId}`,
        contentType: '',
        body: {
          Status: 'SUCCESS',
          Reason: 'hooks reconciled',
          PhysicalResourceId: 'eks-node-drainer-hooks-prod',
          StackId: event.StackId,
          RequestId: event.RequestId,
          LogicalResourceId: 'Hooks',
        },
      },
    ]);
  });

  it('removes on Delete only the hooks it put, and their records', async () => {
    aws.autoScalingGroups.hooks.set('self-managed', [
      { name: HOOK, transition: TERMINATING, heartbeatTimeout: 300, defaultResult: 'ABANDON' },
    ]);
    aws.autoScalingGroups.hooks.set('staging-ng', [
      { name: HOOK, transition: TERMINATING, heartbeatTimeout: 300, defaultResult: 'CONTINUE' },
    ]);
    const handler = await loadReconciler();
    await handler(customResource('Create'));
    aws.calls.splice(0);

    const summary = await handler(customResource('Delete'));

    expect(summary.removed?.removed).toEqual(['eks-ng-a-1a2b']);
    expect(hooksOf('eks-ng-a-1a2b')).toEqual([]);
    expect(tagsOf('eks-ng-a-1a2b')[MARKER]).toBeUndefined();
    expect(hooksOf('self-managed')).toHaveLength(1);
    expect(hooksOf('staging-ng')).toHaveLength(1);
    expect(groupsOf('DeleteLifecycleHook')).toEqual(['eks-ng-a-1a2b']);
    expect(cfn.responses.at(-1)?.body.Status).toBe('SUCCESS');
  });

  it('on Delete, drops the record of a hook someone already removed', async () => {
    const handler = await loadReconciler();
    await handler(customResource('Create'));
    aws.autoScalingGroups.hooks.set('self-managed', []);

    const summary = await handler(customResource('Delete'));

    expect(summary.removed?.removed).toEqual(['eks-ng-a-1a2b', 'self-managed']);
    expect(tagsOf('self-managed')[MARKER]).toBeUndefined();
    expect(cfn.responses.at(-1)?.body.Status).toBe('SUCCESS');
  });

  it('on Update with a new hook name, removes its hooks of the old name and puts the new', async () => {
    const handler = await loadReconciler({ HOOK_NAME: 'old-drainer' });
    await handler(customResource('Create', { HookName: 'old-drainer' }));
    const renamed = await loadReconciler();

    await renamed(customResource('Update', { HookName: HOOK }, { HookName: 'old-drainer' }));

    expect(hooksOf('eks-ng-a-1a2b').map((h) => h.name)).toEqual([HOOK]);
    expect(tagsOf('eks-ng-a-1a2b')[MARKER]).toBe(HOOK);
    expect(cfn.responses.at(-1)?.body.Status).toBe('SUCCESS');
  });

  it('answers FAILED with the reason when a hook cannot be put', async () => {
    const handler = await loadReconciler();
    aws.failNext('autoscaling', 'DescribeAutoScalingGroups', {
      status: 403,
      code: 'AccessDenied',
      message: 'not authorized to perform autoscaling:DescribeAutoScalingGroups',
    });

    await handler(customResource('Create'));

    expect(cfn.responses).toEqual([
      expect.objectContaining({
        body: expect.objectContaining({
          Status: 'FAILED',
          Reason: expect.stringContaining('not authorized to perform autoscaling:DescribeAutoScalingGroups'),
        }),
      }),
    ]);
  });

  it('fails the invocation (Lambda retries it) when CloudFormation refuses the answer', async () => {
    const handler = await loadReconciler();
    cfn.refuseNext();

    await expect(handler(customResource('Create'))).rejects.toThrow(/HTTP 403/);
  });
});
