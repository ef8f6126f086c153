import { describe, expect, it } from 'vitest';
import { parseReconcilerEvent } from '../../lambda/reconciler/event.js';

const trail = (source: string, eventName: string, requestParameters: unknown) => ({
  source,
  'detail-type': 'AWS API Call via CloudTrail',
  detail: { eventName, requestParameters, userIdentity: { type: 'AssumedRole' }, laterField: 1 },
});

const request = {
  RequestType: 'Create',
  ResponseURL: 'https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x?X-Amz-Signature=s',
  StackId: 'arn:aws:cloudformation:us-east-1:1:stack/s/g',
  RequestId: 'r-1',
  LogicalResourceId: 'Hooks',
  ResourceProperties: { ServiceToken: 'arn', HookName: 'eks-node-drainer' },
};

describe('parseReconcilerEvent', () => {
  it.each([
    [{ source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} }, { kind: 'schedule' }],
    [
      trail('aws.autoscaling', 'CreateAutoScalingGroup', { autoScalingGroupName: 'asg' }),
      { kind: 'group-created', autoScalingGroupName: 'asg' },
    ],
    [trail('aws.autoscaling', 'CreateAutoScalingGroup', null), { kind: 'group-created' }],
    [
      trail('aws.eks', 'CreateNodegroup', { name: 'prod', nodegroupName: 'ng' }),
      { kind: 'nodegroup-created', clusterName: 'prod', nodegroupName: 'ng' },
    ],
    [
      trail('aws.eks', 'CreateNodegroup', { clusterName: 'prod', nodegroupName: 'ng' }),
      { kind: 'nodegroup-created', clusterName: 'prod', nodegroupName: 'ng' },
    ],
  ])('reads %j', (event, expected) => {
    expect(parseReconcilerEvent(event)).toEqual(expected);
  });

  it('reads a custom resource request, with the old hook name of an update', () => {
    expect(
      parseReconcilerEvent({
        ...request,
        RequestType: 'Update',
        PhysicalResourceId: 'p-1',
        OldResourceProperties: { HookName: 'old' },
      }),
    ).toEqual({
      kind: 'custom-resource',
      requestType: 'Update',
      responseUrl: request.ResponseURL,
      stackId: request.StackId,
      requestId: 'r-1',
      logicalResourceId: 'Hooks',
      physicalResourceId: 'p-1',
      hookName: 'eks-node-drainer',
      oldHookName: 'old',
    });
  });

  it.each([
    [null, 'not a JSON object'],
    [[], 'not a JSON object'],
    [
      { source: 'aws.ec2', 'detail-type': 'EC2 Spot Instance Interruption Warning' },
      'not a reconciler trigger',
    ],
    [trail('aws.autoscaling', 'DeleteAutoScalingGroup', {}), 'not a reconciler trigger'],
    [trail('aws.eks', 'CreateAutoScalingGroup', {}), 'not a reconciler trigger'],
    [{ ...request, RequestType: 'Replace' }, 'request type "Replace"'],
    [{ ...request, ResponseURL: 'not a url' }, 'without a ResponseURL'],
    [{ ...request, StackId: undefined }, 'without StackId'],
  ])('ignores %j with its reason', (event, reason) => {
    const parsed = parseReconcilerEvent(event);
    expect(parsed.kind).toBe('ignored');
    expect(parsed).toMatchObject({ reason: expect.stringContaining(reason) });
  });
});
