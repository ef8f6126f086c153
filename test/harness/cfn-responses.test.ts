/** The local stand-in for CloudFormation's presigned S3 response URL. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalCustomResourceResponses } from '../../scripts/harness/cfn-responses.js';

const cfn = new LocalCustomResourceResponses();
beforeAll(async () => {
  await cfn.start();
});
afterAll(async () => {
  await cfn.stop();
});

const body = {
  Status: 'SUCCESS',
  PhysicalResourceId: 'p',
  StackId: 's',
  RequestId: 'r-1',
  LogicalResourceId: 'Hooks',
};

describe('LocalCustomResourceResponses', () => {
  it('records a PUT answer with its path and content type, as S3 accepts it', async () => {
    const res = await fetch(cfn.responseUrl('r-1'), {
      method: 'PUT',
      headers: { 'content-type': '' },
      body: JSON.stringify(body),
    });

    expect(res.status).toBe(200);
    expect(cfn.responses.at(-1)).toEqual({
      path: '/cloudformation-custom-resource-response/r-1',
      contentType: '',
      body,
    });
  });

  it('refuses the next answer once with 403, and only PUT', async () => {
    cfn.refuseNext();
    const count = cfn.responses.length;
    const put = () => fetch(cfn.responseUrl('r-2'), { method: 'PUT', body: JSON.stringify(body) });

    expect((await put()).status).toBe(403);
    expect((await put()).status).toBe(200);
    expect((await fetch(cfn.responseUrl('r-3'), { method: 'POST', body: '{}' })).status).toBe(405);
    expect(cfn.responses).toHaveLength(count + 1);
  });
});
