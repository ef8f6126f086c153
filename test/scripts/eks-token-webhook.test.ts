import { EKSClient } from '@aws-sdk/client-eks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eksToken } from '../../lambda/aws/eks.js';
import { EksTokenWebhook, tokenFingerprint } from '../../scripts/harness/eks-token-webhook.js';

const credentials = { accessKeyId: 'AKIDLOCALTEST0000000', secretAccessKey: 'local-test-secret' };
const sha256 = new EKSClient({ region: 'eu-west-1' }).config.sha256;
const sign = (at: number) =>
  eksToken({ clusterName: 'prod', region: 'eu-west-1', credentials, sha256, signingDate: new Date(at) });

const webhook = new EksTokenWebhook({
  clusterName: 'prod',
  region: 'eu-west-1',
  ...credentials,
  groups: ['g'],
});
beforeAll(async () => {
  await webhook.start();
});
afterAll(async () => {
  await webhook.stop();
});

/** Sends a TokenReview as kube-apiserver does; returns status.authenticated. */
async function review(token: string): Promise<boolean> {
  const res = await fetch(`${webhook.url}/authenticate`, {
    method: 'POST',
    body: JSON.stringify({
      apiVersion: 'authentication.k8s.io/v1beta1',
      kind: 'TokenReview',
      spec: { token },
    }),
  });
  return ((await res.json()) as { status: { authenticated: boolean } }).status.authenticated;
}

describe('EksTokenWebhook /reject-token', () => {
  it('refuses the next distinct token and that same token ever after, but not a newly signed one', async () => {
    const now = Date.now();
    const [refused, other] = [await sign(now), await sign(now + 1_000)];
    const before = webhook.reviews.length;
    await fetch(`${webhook.url}/reject-token?count=1`, { method: 'POST' });

    const verdicts = [
      await review(refused),
      await review(refused),
      await review(other),
      await review(refused),
    ];

    expect(verdicts).toEqual([false, false, true, false]);
    expect(webhook.reviews.slice(before)).toEqual([
      { authenticated: false, reason: 'token refused by test', token: tokenFingerprint(refused) },
      { authenticated: false, reason: 'token refused by test, again', token: tokenFingerprint(refused) },
      { authenticated: true, token: tokenFingerprint(other) },
      { authenticated: false, reason: 'token refused by test, again', token: tokenFingerprint(refused) },
    ]);
  });

  it('refuses by count whatever the token with /reject', async () => {
    const token = await sign(Date.now() + 2_000);
    await fetch(`${webhook.url}/reject?count=1`, { method: 'POST' });

    expect([await review(token), await review(token)]).toEqual([false, true]);
  });
});
