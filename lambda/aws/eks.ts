import { DescribeClusterCommand, type EKSClient } from '@aws-sdk/client-eks';
import { SignatureV4 } from '@smithy/signature-v4';

export interface ClusterEndpoint {
  readonly endpoint: string;
  /** base64 PEM, as DescribeCluster returns it. */
  readonly certificateAuthority: string;
}

export async function describeCluster(client: EKSClient, name: string): Promise<ClusterEndpoint> {
  const { cluster } = await client.send(new DescribeClusterCommand({ name }));
  const endpoint = cluster?.endpoint;
  const certificateAuthority = cluster?.certificateAuthority?.data;
  if (!endpoint || !certificateAuthority) {
    throw new Error(
      `cluster ${name} has no endpoint or certificate authority yet (status ${cluster?.status})`,
    );
  }
  return { endpoint, certificateAuthority };
}

/** The token lives 15 minutes from its signing time; we use it for at most 10. */
export const TOKEN_REUSE_MS = 10 * 60_000;

/** The regional STS host of the region's partition; the token always names it, whatever the SDK endpoint. */
export function stsHost(region: string): string {
  if (region.startsWith('cn-')) return `sts.${region}.amazonaws.com.cn`;
  if (region.startsWith('us-isob-')) return `sts.${region}.sc2s.sgov.gov`;
  if (region.startsWith('us-iso-')) return `sts.${region}.c2s.ic.gov`;
  return `sts.${region}.amazonaws.com`;
}

type Credentials = ConstructorParameters<typeof SignatureV4>[0]['credentials'];
type Sha256 = ConstructorParameters<typeof SignatureV4>[0]['sha256'];

/**
 * EKS bearer token: "k8s-aws-v1." + base64url (no padding) of a presigned STS GetCallerIdentity URL
 * whose signed headers include x-k8s-aws-id: <cluster>.
 */
export async function eksToken(options: {
  readonly clusterName: string;
  readonly region: string;
  readonly credentials: Credentials;
  readonly sha256: Sha256;
  readonly signingDate: Date;
}): Promise<string> {
  const hostname = stsHost(options.region);
  const signer = new SignatureV4({
    credentials: options.credentials,
    region: options.region,
    service: 'sts',
    sha256: options.sha256,
    uriEscapePath: true,
  });
  const signed = await signer.presign(
    {
      method: 'GET',
      protocol: 'https:',
      hostname,
      path: '/',
      query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
      headers: { host: hostname, 'x-k8s-aws-id': options.clusterName },
    },
    { expiresIn: 60, signingDate: options.signingDate },
  );
  const query = Object.entries(signed.query ?? {})
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`)
    .join('&');
  return `k8s-aws-v1.${Buffer.from(`https://${hostname}/?${query}`).toString('base64url')}`;
}

/** Hands out a token, signing a new one when the current one is old or was refused. */
export class TokenSource {
  private current?: { token: Promise<string>; signedAt: number };
  /** SigV4 dates have whole seconds: a token re-signed within the same second would be the same one. */
  private notBefore = 0;

  constructor(
    private readonly sign: (signingDate: Date) => Promise<string>,
    private readonly now: () => number = Date.now,
  ) {}

  token(): Promise<string> {
    const now = this.now();
    if (!this.current || now - this.current.signedAt >= TOKEN_REUSE_MS) {
      const signedAt = Math.max(now, this.notBefore);
      const token = this.sign(new Date(signedAt));
      token.catch(() => this.invalidate());
      this.current = { token, signedAt };
    }
    return this.current.token;
  }

  /** The current token was refused: the next one is signed at least a second later, so it differs. */
  invalidate(): void {
    if (this.current) this.notBefore = Math.floor(this.current.signedAt / 1000) * 1000 + 1000;
    this.current = undefined;
  }
}
