/**
 * CloudFormation custom resource requests, as the stack's functions receive them directly (no
 * provider framework): the fields every request carries, and the answer CloudFormation waits for on
 * the presigned ResponseURL. A request that cannot be answered is ignored with its reason.
 */

export type CustomResourceRequestType = 'Create' | 'Update' | 'Delete';

export interface CustomResourceRequest {
  readonly requestType: CustomResourceRequestType;
  readonly responseUrl: string;
  readonly stackId: string;
  readonly requestId: string;
  readonly logicalResourceId: string;
  readonly physicalResourceId?: string;
  readonly properties: Readonly<Record<string, unknown>>;
  /** Update only: the properties before. */
  readonly oldProperties: Readonly<Record<string, unknown>>;
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const text = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined;

export const isCustomResourceRequest = (event: unknown): boolean => isObject(event) && 'RequestType' in event;

export function parseCustomResourceRequest(
  event: Json,
): CustomResourceRequest | { readonly ignored: string } {
  const requestType = event.RequestType;
  const responseUrl = text(event.ResponseURL);
  const stackId = text(event.StackId);
  const requestId = text(event.RequestId);
  const logicalResourceId = text(event.LogicalResourceId);
  if (requestType !== 'Create' && requestType !== 'Update' && requestType !== 'Delete') {
    return { ignored: `custom resource request type ${JSON.stringify(requestType)}` };
  }
  if (!responseUrl || !URL.canParse(responseUrl)) {
    return { ignored: 'custom resource request without a ResponseURL' };
  }
  if (!stackId || !requestId || !logicalResourceId) {
    return { ignored: 'custom resource request without StackId, RequestId or LogicalResourceId' };
  }
  const physicalResourceId = text(event.PhysicalResourceId);
  return {
    requestType,
    responseUrl,
    stackId,
    requestId,
    logicalResourceId,
    ...(physicalResourceId && { physicalResourceId }),
    properties: isObject(event.ResourceProperties) ? event.ResourceProperties : {},
    oldProperties: isObject(event.OldResourceProperties) ? event.OldResourceProperties : {},
  };
}

/**
 * Answers CloudFormation: SUCCESS, or FAILED with the reason (CloudFormation shows it in the stack's
 * events). Unanswered, the stack would wait an hour.
 */
export async function respondToCloudFormation(
  request: Pick<
    CustomResourceRequest,
    'responseUrl' | 'stackId' | 'requestId' | 'logicalResourceId' | 'physicalResourceId'
  >,
  answer: { readonly failure?: string; readonly success: string; readonly physicalResourceId: string },
): Promise<void> {
  const body = JSON.stringify({
    Status: answer.failure === undefined ? 'SUCCESS' : 'FAILED',
    // CloudFormation shows at most 4 KB of it
    Reason: answer.failure === undefined ? answer.success : answer.failure.slice(0, 3_000),
    PhysicalResourceId: request.physicalResourceId ?? answer.physicalResourceId,
    StackId: request.stackId,
    RequestId: request.requestId,
    LogicalResourceId: request.logicalResourceId,
  });
  // a presigned S3 URL: no content type, or the signature does not match
  const response = await fetch(request.responseUrl, {
    method: 'PUT',
    headers: { 'content-type': '' },
    body,
    signal: AbortSignal.timeout(10_000),
  });
  if (!response.ok) throw new Error(`custom resource response refused: HTTP ${response.status}`);
}
