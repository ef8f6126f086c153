import { type Cluster, DescribeClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { describeCluster, eksToken, stsHost, TOKEN_REUSE_MS, TokenSource } from '../../lambda/aws/eks.js';
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

  it('names the regional STS host in the token whatever the region', async () => {
    const token = await sign('prod', new Date(), 'cn-north-1');

    const url = new URL(Buffer.from(token.slice('k8s-aws-v1.'.length), 'base64url').toString());
    expect(`${url.origin}${url.pathname}`).toBe('https://sts.cn-north-1.amazonaws.com.cn/');
    expect(url.searchParams.get('X-Amz-Credential')).toMatch(/\/cn-north-1\/sts\/aws4_request$/);
  });

  it('signs only GetCallerIdentity, with the signature in the query and no padding in the token', async () => {
    const token = await sign('prod', new Date('2026-11-21T10:00:00Z'));

    expect(token).not.toContain('=');
    const url = new URL(Buffer.from(token.slice('k8s-aws-v1.'.length), 'base64url').toString());
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      Action: 'GetCallerIdentity',
      Version: '2011-06-15',
      'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
      'X-Amz-Date': '20261121T100000Z',
      'X-Amz-Credential': 'AKIDLOCALTEST0000000/20261121/eu-west-1/sts/aws4_request',
    });
    expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    // the query is a plain query string: every value percent-encoded once
    expect(token).toBe(await sign('prod', new Date('2026-11-21T10:00:00Z')));
    expect(url.search).toContain(
      'X-Amz-Credential=AKIDLOCALTEST0000000%2F20261121%2Feu-west-1%2Fsts%2Faws4_request',
    );
  });

  it.each([
    ['us-east-1', 'sts.us-east-1.amazonaws.com'],
    ['eu-west-1', 'sts.eu-west-1.amazonaws.com'],
    ['cn-north-1', 'sts.cn-north-1.amazonaws.com.cn'],
    ['us-iso-east-1', 'sts.us-iso-east-1.c2s.ic.gov'],
    ['us-isob-east-1', 'sts.us-isob-east-1.sc2s.sgov.gov'],
  ])('uses the partition STS host for %s', (region, host) => {
    expect(stsHost(region)).toBe(host);
  });
});

describe('describeCluster', () => {
  const eks = mockClient(EKSClient);
  afterEach(() => eks.reset());
  const client = () => new EKSClient({ region: 'eu-west-1' });

  it('answers the endpoint and the base64 CA of the named cluster', async () => {
    eks.on(DescribeClusterCommand).resolves({
      cluster: { name: 'prod', endpoint: 'https://abc.eks.example', certificateAuthority: { data: 'Q0E=' } },
    });

    const endpoint = await describeCluster(client(), 'prod');

    expect(endpoint).toEqual({ endpoint: 'https://abc.eks.example', certificateAuthority: 'Q0E=' });
    expect(eks.commandCalls(DescribeClusterCommand).map((c) => c.args[0].input)).toEqual([{ name: 'prod' }]);
  });

  it.each<[string, Cluster, string]>([
    ['no endpoint', { status: 'CREATING', certificateAuthority: { data: 'Q0E=' } }, 'CREATING'],
    ['no certificate authority', { status: 'ACTIVE', endpoint: 'https://abc.eks.example' }, 'ACTIVE'],
    [
      'an empty certificate authority',
      { status: 'UPDATING', endpoint: 'https://x', certificateAuthority: {} },
      'UPDATING',
    ],
  ])('fails naming the cluster and its status when it has %s', async (_case, cluster, status) => {
    eks.on(DescribeClusterCommand).resolves({ cluster: { name: 'prod', ...cluster } });

    await expect(describeCluster(client(), 'prod')).rejects.toThrow(
      `cluster prod has no endpoint or certificate authority yet (status ${status})`,
    );
  });

  it('fails when the answer holds no cluster', async () => {
    eks.on(DescribeClusterCommand).resolves({});

    await expect(describeCluster(client(), 'prod')).rejects.toThrow(
      'cluster prod has no endpoint or certificate authority yet (status undefined)',
    );
  });
});

describe('TokenSource', () => {
  it('reuses a token for exactly 10 minutes', () => {
    expect(TOKEN_REUSE_MS).toBe(600_000);
  });

  it('counts the 10 minutes from the signing time, not from the epoch', async () => {
    let now = 1_000_000;
    let n = 0;
    const tokens = new TokenSource(
      async () => `t${++n}`,
      () => now,
    );

    const first = await tokens.token();
    now += TOKEN_REUSE_MS - 1;
    const reused = await tokens.token();
    now += 1;
    const renewed = await tokens.token();

    expect([first, reused, renewed]).toEqual(['t1', 't1', 't2']);
  });

  it('signs with the current time', async () => {
    const dates: number[] = [];
    const tokens = new TokenSource(
      async (date) => {
        dates.push(date.getTime());
        return 't';
      },
      () => 1_234_567,
    );

    await tokens.token();

    expect(dates).toEqual([1_234_567]);
  });

  it('signs anew after a signing failure instead of keeping the failure', async () => {
    let n = 0;
    const tokens = new TokenSource(
      async () => {
        n++;
        if (n === 1) throw new Error('no credentials yet');
        return `t${n}`;
      },
      () => 0,
    );

    await expect(tokens.token()).rejects.toThrow('no credentials yet');
    expect(await tokens.token()).toBe('t2');
  });

  it('signs the token after a refusal at least one whole second later, so that it differs', async () => {
    let now = 5_300;
    const dates: number[] = [];
    const tokens = new TokenSource(
      async (date) => {
        dates.push(date.getTime());
        return `t${dates.length}`;
      },
      () => now,
    );

    await tokens.token();
    tokens.invalidate();
    now = 5_400; // still within the refused token's second
    const second = await tokens.token();
    now = 6_500; // the re-signed token is reused from its own signing time
    const reused = await tokens.token();
    tokens.invalidate();
    now = 9_000; // later than a second after the refused one: the current time
    await tokens.token();

    expect(dates).toEqual([5_300, 6_000, 9_000]);
    expect([second, reused]).toEqual(['t2', 't2']);
  });

  it('does nothing when invalidated before any token was signed', async () => {
    const dates: number[] = [];
    const tokens = new TokenSource(
      async (date) => {
        dates.push(date.getTime());
        return 't';
      },
      () => 1_000,
    );

    tokens.invalidate();
    await tokens.token();

    expect(dates).toEqual([1_000]);
  });

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
