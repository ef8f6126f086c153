/**
 * A local stand-in for the few AWS API actions the drainer uses, speaking their real wire protocols
 * so the real AWS SDK can talk to it through AWS_ENDPOINT_URL_<SERVICE>:
 * AutoScaling (Query, XML), EC2 (EC2 Query, XML), EKS (REST-JSON), Lambda (REST-JSON).
 * The service is read from the SigV4 credential scope of each request.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export interface LifecycleActionState {
  readonly token: string;
  readonly autoScalingGroupName: string;
  readonly hookName: string;
  readonly instanceId: string;
  result?: string;
  heartbeats: number;
}

export interface RecordedCall {
  readonly service: string;
  readonly action: string;
  readonly params: Readonly<Record<string, string>>;
  readonly body?: unknown;
  readonly at: number;
}

export interface InjectedFault {
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

/** Throw-away credentials the local endpoint and the token webhook agree on. */
export const TEST_CREDENTIALS = {
  accessKeyId: 'AKIDLOCALTEST0000000',
  secretAccessKey: 'local-test-secret-key-not-a-real-one-000',
} as const;
export const TEST_REGION = 'us-east-1';

const ASG_NS = 'http://autoscaling.amazonaws.com/doc/2011-01-01/';
const EC2_NS = 'http://ec2.amazonaws.com/doc/2016-11-15/';

export class LocalAwsEndpoint {
  readonly calls: RecordedCall[] = [];
  /** instance id → private DNS name (the usual node name). */
  readonly instances = new Map<string, string>();
  /** cluster name → what DescribeCluster answers. */
  readonly clusters = new Map<string, { endpoint: string; certificateAuthority: string }>();
  /** lifecycle action token → state; completing an unknown or completed token is a ValidationError. */
  readonly lifecycleActions = new Map<string, LifecycleActionState>();
  /** What `Event` invocations of a function were sent (parsed JSON payloads). */
  readonly invocations: { functionName: string; payload: unknown }[] = [];
  private readonly faults = new Map<string, InjectedFault[]>();
  private server?: Server;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      void this.route(req, res).catch((error: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(String(error));
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('no address');
    this.url = `http://127.0.0.1:${address.port}`;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise((resolve) => this.server?.close(resolve));
  }

  /** The env that points the AWS SDK here, with throw-away credentials. */
  env(): Record<string, string> {
    return {
      AWS_REGION: TEST_REGION,
      AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_AUTO_SCALING: this.url,
      AWS_ENDPOINT_URL_EC2: this.url,
      AWS_ENDPOINT_URL_EKS: this.url,
      AWS_ENDPOINT_URL_LAMBDA: this.url,
    };
  }

  addLifecycleAction(state: Omit<LifecycleActionState, 'heartbeats'>): LifecycleActionState {
    const action = { ...state, heartbeats: 0 };
    this.lifecycleActions.set(state.token, action);
    return action;
  }

  /** The next `count` calls of service:action fail with this AWS error. */
  failNext(service: string, action: string, fault: InjectedFault, count = 1): void {
    this.faults.set(
      `${service}:${action}`,
      Array.from({ length: count }, () => fault),
    );
  }

  callsOf(service: string, action: string): RecordedCall[] {
    return this.calls.filter((c) => c.service === service && c.action === action);
  }

  // ---- routing ------------------------------------------------------------------------------

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const service =
      /Credential=[^/]+\/\d+\/[^/]+\/([^/]+)\//.exec(req.headers.authorization ?? '')?.[1] ?? 'unknown';
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (service === 'autoscaling' || service === 'ec2') {
      const params = Object.fromEntries(new URLSearchParams(body));
      const action = params.Action ?? '';
      this.calls.push({ service, action, params, at: Date.now() });
      const fault = this.takeFault(service, action);
      if (fault) (service === 'ec2' ? ec2Error : queryError)(res, fault);
      else if (service === 'ec2') this.ec2(action, params, res);
      else this.autoScaling(action, params, res);
      return;
    }
    if (service === 'eks') {
      const name = decodeURIComponent(/^\/clusters\/([^/]+)$/.exec(url.pathname)?.[1] ?? '');
      this.calls.push({ service, action: 'DescribeCluster', params: { name }, at: Date.now() });
      const fault = this.takeFault(service, 'DescribeCluster');
      if (fault) jsonError(res, fault);
      else this.describeCluster(name, res);
      return;
    }
    if (service === 'lambda') {
      const functionName = decodeURIComponent(
        /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(url.pathname)?.[1] ?? '',
      );
      const payload = body ? (JSON.parse(body) as unknown) : undefined;
      this.calls.push({
        service,
        action: 'Invoke',
        params: { functionName, type: String(req.headers['x-amz-invocation-type']) },
        body: payload,
        at: Date.now(),
      });
      const fault = this.takeFault(service, 'Invoke');
      if (fault) {
        jsonError(res, fault);
        return;
      }
      this.invocations.push({ functionName, payload });
      res.writeHead(202, { 'x-amzn-requestid': randomUUID() }).end();
      return;
    }
    jsonError(res, { status: 400, code: 'UnknownService', message: `no handler for service ${service}` });
  }

  private takeFault(service: string, action: string): InjectedFault | undefined {
    return this.faults.get(`${service}:${action}`)?.shift();
  }

  private autoScaling(action: string, params: Record<string, string>, res: ServerResponse): void {
    if (action !== 'CompleteLifecycleAction' && action !== 'RecordLifecycleActionHeartbeat') {
      queryError(res, { status: 400, code: 'InvalidAction', message: `unsupported action ${action}` });
      return;
    }
    const token = params.LifecycleActionToken ?? '';
    const state = this.lifecycleActions.get(token);
    const matches =
      state !== undefined &&
      state.result === undefined &&
      state.autoScalingGroupName === params.AutoScalingGroupName &&
      state.hookName === params.LifecycleHookName &&
      (params.InstanceId === undefined || state.instanceId === params.InstanceId);
    if (!matches) {
      queryError(res, {
        status: 400,
        code: 'ValidationError',
        message: `No active Lifecycle Action found with token ${token}`,
      });
      return;
    }
    if (action === 'CompleteLifecycleAction') state.result = params.LifecycleActionResult ?? '';
    else state.heartbeats++;
    xml(
      res,
      200,
      `<${action}Response xmlns="${ASG_NS}"><${action}Result/><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${action}Response>`,
    );
  }

  private ec2(action: string, params: Record<string, string>, res: ServerResponse): void {
    if (action !== 'DescribeInstances') {
      ec2Error(res, { status: 400, code: 'InvalidAction', message: `unsupported action ${action}` });
      return;
    }
    const ids = Object.entries(params)
      .filter(([k]) => k.startsWith('InstanceId.'))
      .map(([, v]) => v);
    const unknown = ids.find((id) => !this.instances.has(id));
    if (unknown) {
      ec2Error(res, {
        status: 400,
        code: 'InvalidInstanceID.NotFound',
        message: `The instance ID '${unknown}' does not exist`,
      });
      return;
    }
    const items = ids
      .map(
        (id) =>
          `<item><instanceId>${id}</instanceId><privateDnsName>${this.instances.get(id)}</privateDnsName><instanceState><code>32</code><name>shutting-down</name></instanceState></item>`,
      )
      .join('');
    xml(
      res,
      200,
      `<DescribeInstancesResponse xmlns="${EC2_NS}"><requestId>${randomUUID()}</requestId><reservationSet><item><reservationId>r-0local</reservationId><instancesSet>${items}</instancesSet></item></reservationSet></DescribeInstancesResponse>`,
    );
  }

  private describeCluster(name: string, res: ServerResponse): void {
    const cluster = this.clusters.get(name);
    if (!cluster) {
      jsonError(res, {
        status: 404,
        code: 'ResourceNotFoundException',
        message: `No cluster found for name: ${name}.`,
      });
      return;
    }
    json(res, 200, {
      cluster: {
        name,
        arn: `arn:aws:eks:us-east-1:000000000000:cluster/${name}`,
        status: 'ACTIVE',
        endpoint: cluster.endpoint,
        certificateAuthority: { data: cluster.certificateAuthority },
      },
    });
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function xml(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/xml' }).end(`<?xml version="1.0" encoding="UTF-8"?>${body}`);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function queryError(res: ServerResponse, fault: InjectedFault): void {
  const type = fault.status >= 500 ? 'Receiver' : 'Sender';
  xml(
    res,
    fault.status,
    `<ErrorResponse xmlns="${ASG_NS}"><Error><Type>${type}</Type><Code>${fault.code}</Code><Message>${escapeXml(fault.message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
  );
}

function ec2Error(res: ServerResponse, fault: InjectedFault): void {
  xml(
    res,
    fault.status,
    `<Response><Errors><Error><Code>${fault.code}</Code><Message>${escapeXml(fault.message)}</Message></Error></Errors><RequestID>${randomUUID()}</RequestID></Response>`,
  );
}

function jsonError(res: ServerResponse, fault: InjectedFault): void {
  res
    .writeHead(fault.status, { 'content-type': 'application/json', 'x-amzn-errortype': fault.code })
    .end(JSON.stringify({ message: fault.message }));
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
