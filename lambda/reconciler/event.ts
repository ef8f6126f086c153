/**
 * What invokes the reconciler: the stack's custom resource (CloudFormation), its schedule, and the
 * CloudTrail events that create Auto Scaling groups or EKS node groups (through EventBridge).
 * Anything else is ignored, with its reason.
 */

import {
  type CustomResourceRequestType,
  isCustomResourceRequest,
  parseCustomResourceRequest,
} from '../custom-resource.js';

export type CustomResourceRequest = CustomResourceRequestType;

export type ReconcilerEvent =
  | {
      readonly kind: 'custom-resource';
      readonly requestType: CustomResourceRequest;
      readonly responseUrl: string;
      readonly stackId: string;
      readonly requestId: string;
      readonly logicalResourceId: string;
      readonly physicalResourceId?: string;
      /** The hook name of the resource's properties (Delete removes that one). */
      readonly hookName?: string;
      /** Update: the hook name before; when it differs, its hooks are removed. */
      readonly oldHookName?: string;
    }
  | { readonly kind: 'schedule' }
  | { readonly kind: 'group-created'; readonly autoScalingGroupName?: string }
  | { readonly kind: 'nodegroup-created'; readonly clusterName?: string; readonly nodegroupName?: string }
  | { readonly kind: 'ignored'; readonly reason: string };

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const text = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined;

export function parseReconcilerEvent(event: unknown): ReconcilerEvent {
  if (!isObject(event)) return { kind: 'ignored', reason: 'not a JSON object' };
  if (isCustomResourceRequest(event)) return customResource(event);
  const source = event.source;
  const detailType = event['detail-type'];
  if (source === 'aws.events' && detailType === 'Scheduled Event') return { kind: 'schedule' };
  if (detailType === 'AWS API Call via CloudTrail' && isObject(event.detail)) {
    const detail = event.detail;
    const request = isObject(detail.requestParameters) ? detail.requestParameters : {};
    if (source === 'aws.autoscaling' && detail.eventName === 'CreateAutoScalingGroup') {
      const name = text(request.autoScalingGroupName);
      return { kind: 'group-created', ...(name && { autoScalingGroupName: name }) };
    }
    if (source === 'aws.eks' && detail.eventName === 'CreateNodegroup') {
      // the cluster is a path parameter: `name` in CloudTrail's record (`clusterName` in the SDK)
      const clusterName = text(request.name) ?? text(request.clusterName);
      const nodegroupName = text(request.nodegroupName);
      return {
        kind: 'nodegroup-created',
        ...(clusterName && { clusterName }),
        ...(nodegroupName && { nodegroupName }),
      };
    }
  }
  return {
    kind: 'ignored',
    reason: `not a reconciler trigger: source ${JSON.stringify(source ?? null)}, detail-type ${JSON.stringify(detailType ?? null)}`,
  };
}

function customResource(event: Json): ReconcilerEvent {
  const request = parseCustomResourceRequest(event);
  if ('ignored' in request) return { kind: 'ignored', reason: request.ignored };
  const { requestType, responseUrl, stackId, requestId, logicalResourceId, physicalResourceId } = request;
  const hookName = text(request.properties.HookName);
  const oldHookName = text(request.oldProperties.HookName);
  return {
    kind: 'custom-resource',
    requestType,
    responseUrl,
    stackId,
    requestId,
    logicalResourceId,
    ...(physicalResourceId && { physicalResourceId }),
    ...(hookName && { hookName }),
    ...(oldHookName && { oldHookName }),
  };
}
