/**
 * The EKS authenticator's part, for the local kube-apiserver (--authentication-token-webhook-config-file):
 * answers TokenReviews for "k8s-aws-v1." tokens by checking the presigned STS GetCallerIdentity URL
 * inside, as STS would: host, action, expiry, the signed x-k8s-aws-id header, and the SigV4 signature
 * recomputed here (independently of the drainer's signing code) with the known test credentials.
 */
import { createHash, createHmac } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LoopbackHttpServer, readBody } from './loopback-server.js';

export interface WebhookOptions {
  readonly clusterName: string;
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Kubernetes groups of the authenticated identity. */
  readonly groups: readonly string[];
  /**
   * Principals authenticated as EKS access entries map them (POST /access {principalArn, groups}):
   * refused while they have no entry, with the groups their entry's policies give otherwise.
   */
  readonly accessEntryPrincipals?: readonly {
    readonly accessKeyId: string;
    readonly secretAccessKey: string;
    readonly principalArn: string;
  }[];
}

interface Identity {
  readonly secretAccessKey: string;
  readonly username: string;
  /** undefined: no access entry (refused). */
  readonly groups: () => readonly string[] | undefined;
}

const PREFIX = 'k8s-aws-v1.';
const TOKEN_LIFETIME_MS = 15 * 60_000;

/** One TokenReview's verdict. */
export interface ReviewRecord {
  readonly authenticated: boolean;
  /** Why it was refused. */
  readonly reason?: string;
  /** sha256 of the token (first 16 hex digits): tells tokens apart without revealing them. */
  readonly token: string;
}

export class EksTokenWebhook extends LoopbackHttpServer {
  /** Every review's verdict, in order. */
  readonly reviews: ReviewRecord[] = [];
  private rejections = 0;
  /** How many of the next distinct tokens to refuse for good. */
  private tokenRejections = 0;
  /** Token values refused by value: refused again whenever they come back. */
  private readonly refusedTokens = new Set<string>();

  /** principal ARN → the groups of its access entry. */
  private readonly access = new Map<string, readonly string[]>();
  private readonly identities = new Map<string, Identity>();

  constructor(private readonly options: WebhookOptions) {
    super();
    this.identities.set(options.accessKeyId, {
      secretAccessKey: options.secretAccessKey,
      username: 'arn:aws:sts::000000000000:assumed-role/eks-node-drainer/local',
      groups: () => options.groups,
    });
    for (const { accessKeyId, secretAccessKey, principalArn } of options.accessEntryPrincipals ?? []) {
      this.identities.set(accessKeyId, {
        secretAccessKey,
        username: principalArn,
        groups: () => this.access.get(principalArn),
      });
    }
  }

  /** What a principal's access entry gives it: its groups, or undefined for no entry. */
  setAccess(principalArn: string, groups: readonly string[] | undefined): void {
    if (groups) this.access.set(principalArn, groups);
    else this.access.delete(principalArn);
  }

  protected handle(req: IncomingMessage, res: ServerResponse): void {
    // control plane for tests in other processes: POST /reject?count=N, POST /reject-token?count=N,
    // GET /reviews
    if (req.url?.startsWith('/reject-token')) {
      this.rejectTokens(Number(new URL(req.url, 'http://x').searchParams.get('count') ?? 1));
      res.writeHead(204).end();
      return;
    }
    if (req.url?.startsWith('/reject')) {
      this.rejectNext(Number(new URL(req.url, 'http://x').searchParams.get('count') ?? 1));
      res.writeHead(204).end();
      return;
    }
    if (req.url === '/access' && req.method === 'POST') {
      void readJson(req).then((body) => {
        const { principalArn, groups } = body as { principalArn?: string; groups?: string[] | null };
        this.setAccess(String(principalArn), groups ?? undefined);
        res.writeHead(204).end();
      });
      return;
    }
    if (req.url === '/reviews') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(this.reviews));
      return;
    }
    void readJson(req).then((review) => {
      const token = (review as { spec?: { token?: string } }).spec?.token ?? '';
      const verdict = this.review(token);
      const identity = typeof verdict === 'object' ? verdict : undefined;
      const reason = typeof verdict === 'string' ? verdict : undefined;
      const fingerprint = tokenFingerprint(token);
      this.reviews.push(
        reason
          ? { authenticated: false, reason, token: fingerprint }
          : { authenticated: true, token: fingerprint },
      );
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          apiVersion: (review as { apiVersion?: string }).apiVersion ?? 'authentication.k8s.io/v1beta1',
          kind: 'TokenReview',
          status: reason
            ? { authenticated: false, error: reason }
            : {
                authenticated: true,
                user: {
                  username: identity?.username,
                  uid: `aws-iam-authenticator:000000000000:${identity?.accessKeyId}`,
                  groups: [...(identity?.groups ?? [])],
                },
              },
        }),
      );
    });
  }

  /** The next `count` tokens are refused whatever they hold (the apiserver then answers 401). */
  rejectNext(count = 1): void {
    this.rejections = count;
  }

  /**
   * The next `count` distinct token values are refused, and so is each of them whenever it comes
   * back: a client that retries with the very token that was refused keeps getting 401.
   */
  rejectTokens(count = 1): void {
    this.tokenRejections = count;
  }

  /** Why the token is refused, or who it authenticates. */
  private review(
    token: string,
  ):
    | string
    | { readonly accessKeyId: string; readonly username: string; readonly groups: readonly string[] } {
    if (this.refusedTokens.has(token)) return 'token refused by test, again';
    if (this.tokenRejections > 0) {
      this.tokenRejections--;
      this.refusedTokens.add(token);
      return 'token refused by test';
    }
    if (this.rejections > 0) {
      this.rejections--;
      return 'rejected by test';
    }
    const reason = this.verify(token);
    if (reason) return reason;
    const accessKeyId = credentialOf(token) ?? '';
    const identity = this.identities.get(accessKeyId);
    const groups = identity?.groups();
    if (!identity || !groups) return `no access entry for ${identity?.username ?? accessKeyId}`;
    return { accessKeyId, username: identity.username, groups };
  }

  /** undefined when the token is good, else why not. */
  verify(token: string, now = Date.now()): string | undefined {
    if (!token.startsWith(PREFIX)) return 'not an EKS token';
    let url: URL;
    try {
      url = new URL(Buffer.from(token.slice(PREFIX.length), 'base64url').toString('utf8'));
    } catch {
      return 'token does not hold a URL';
    }
    const { region, clusterName } = this.options;
    const accessKeyId = credentialOf(token) ?? '';
    const identity = this.identities.get(accessKeyId);
    if (!identity) return 'unknown credential or scope';
    const q = url.searchParams;
    const host = `sts.${region}.amazonaws.com`;
    if (url.protocol !== 'https:' || url.host !== host || url.pathname !== '/')
      return `wrong STS URL ${url.origin}${url.pathname}`;
    if (q.get('Action') !== 'GetCallerIdentity' || q.get('Version') !== '2011-06-15')
      return 'not GetCallerIdentity';
    if (q.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256') return 'not SigV4';
    const signedHeaders = (q.get('X-Amz-SignedHeaders') ?? '').split(';');
    if (!signedHeaders.includes('x-k8s-aws-id') || !signedHeaders.includes('host'))
      return 'x-k8s-aws-id not signed';
    const amzDate = q.get('X-Amz-Date') ?? '';
    const signedAt = Date.parse(
      amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'),
    );
    if (!Number.isFinite(signedAt)) return 'no X-Amz-Date';
    if (now - signedAt > TOKEN_LIFETIME_MS) return 'token expired';
    if (signedAt - now > 5 * 60_000) return 'token from the future';
    const expires = Number(q.get('X-Amz-Expires'));
    if (!(expires > 0 && expires <= 60)) return `X-Amz-Expires must be 1-60, got ${q.get('X-Amz-Expires')}`;
    const scope = `${amzDate.slice(0, 8)}/${region}/sts/aws4_request`;
    if (q.get('X-Amz-Credential') !== `${accessKeyId}/${scope}`) return 'unknown credential or scope';

    const headers: Record<string, string> = { host, 'x-k8s-aws-id': clusterName };
    const canonicalQuery = [...q.entries()]
      .filter(([k]) => k !== 'X-Amz-Signature')
      .map(([k, v]) => [rfc3986(k), rfc3986(v)])
      .sort(([a = ''], [b = '']) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${k}=${v}`)
      .join('&');
    const canonicalRequest = [
      'GET',
      '/',
      canonicalQuery,
      ...signedHeaders.map((h) => `${h}:${headers[h] ?? ''}`),
      '',
      signedHeaders.join(';'),
      sha256(''),
    ].join('\n');
    const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
    let key: Buffer = Buffer.from(`AWS4${identity.secretAccessKey}`);
    for (const part of [amzDate.slice(0, 8), region, 'sts', 'aws4_request']) key = hmac(key, part);
    const expected = hmac(key, stringToSign).toString('hex');
    return q.get('X-Amz-Signature') === expected
      ? undefined
      : 'signature mismatch (wrong cluster name or key)';
  }
}

/** The access key id a token was signed with (its X-Amz-Credential), if it holds a URL. */
function credentialOf(token: string): string | undefined {
  try {
    const url = new URL(Buffer.from(token.slice(PREFIX.length), 'base64url').toString('utf8'));
    return url.searchParams.get('X-Amz-Credential')?.split('/')[0];
  } catch {
    return undefined;
  }
}

/** sha256 of a token, first 16 hex digits. */
export function tokenFingerprint(token: string): string {
  return sha256(token).slice(0, 16);
}

function rfc3986(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function hmac(key: Buffer, text: string): Buffer {
  return createHmac('sha256', key).update(text).digest();
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  try {
    return JSON.parse(await readBody(req));
  } catch {
    return {};
  }
}
