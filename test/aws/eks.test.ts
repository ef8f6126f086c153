import { EKSClient } from '@aws-sdk/client-eks';
import { describe, expect, it } from 'vitest';
import { eksToken, stsHost, TOKEN_REUSE_MS, TokenSource } from '../../lambda/aws/eks.js';
import { EksTokenWebhook } from '../../scripts/harness/eks-token-webhook.js';

const credentials = { accessKeyId: 'AKIDLOCALTEST0000000', secretAccessKey: 'local-test-secret' };
// the SDK's own SHA-256, as the handler uses it
const sha256 = new EKSClient({ region: 'eu-west-1' }).config.sha256;
const verifier = new EksTokenWebhook({
  clusterName: 'prod',
  region: 'eu-west-1',
  ...credentials,
  groups: [],
});
const sign = (clusterName: string, signingDate: Date, region = 'eu-west-1') =>
  eksToken({ clusterName, region, credentials, sha256, signingDate });

describe('eksToken', () => {
  it('presigns GetCallerIdentity on the regional STS host with x-k8s-aws-id signed', async () => {
    const now = new Date();
    const token = await sign('prod', now);

    expect(token).toMatch(/^k8s-aws-v1\.[A-Za-z0-9_-]+$/);
    const url = new URL(Buffer.from(token.slice('k8s-aws-v1.'.length), 'base64url').toString());
    expect(url.host).toBe('sts.eu-west-1.amazonaws.com');
    expect(url.searchParams.get('X-Amz-Expires')).toBe('60');
    expect(url.searchParams.get('X-Amz-SignedHeaders')).toBe('host;x-k8s-aws-id');
    expect(verifier.verify(token, now.getTime())).toBeUndefined();
  });

  it('fails verification when signed for another cluster', async () => {
    expect(verifier.verify(await sign('staging', new Date()))).toMatch(/signature mismatch/);
  });

  it('is refused 15 minutes after signing', async () => {
    const signed = new Date(Date.now() - 15 * 60_000 - 1_000);
    expect(verifier.verify(await sign('prod', signed))).toBe('token expired');
  });

  it.each([
    ['us-east-1', 'sts.us-east-1.amazonaws.com'],
    ['cn-north-1', 'sts.cn-north-1.amazonaws.com.cn'],
    ['us-iso-east-1', 'sts.us-iso-east-1.c2s.ic.gov'],
  ])('uses the partition STS host for %s', (region, host) => {
    expect(stsHost(region)).toBe(host);
  });
});

describe('TokenSource', () => {
  it('reuses a token for 10 minutes, then signs a new one', async () => {
    let now = 0;
    const signed: number[] = [];
    const tokens = new TokenSource(
      async (date) => {
        signed.push(date.getTime());
        return `t${signed.length}`;
      },
      () => now,
    );

    const first = await tokens.token();
    now = TOKEN_REUSE_MS - 1;
    const reused = await tokens.token();
    now = TOKEN_REUSE_MS;
    const renewed = await tokens.token();

    expect([first, reused, renewed]).toEqual(['t1', 't1', 't2']);
  });

  it('signs anew after being invalidated (a 401)', async () => {
    let n = 0;
    const tokens = new TokenSource(
      async () => `t${++n}`,
      () => 0,
    );
    await tokens.token();
    tokens.invalidate();
    expect(await tokens.token()).toBe('t2');
  });
});
