/**
 * A local stand-in for the few AWS API actions the drainer uses, speaking their real wire protocols
 * so the real AWS SDK can talk to it through AWS_ENDPOINT_URL_<SERVICE>:
 * AutoScaling (Query, XML), EC2 (EC2 Query, XML), EKS (REST-JSON), Lambda (REST-JSON), Elastic Load
 * Balancing v2 (Query, XML; its model and actions are in ./elbv2.ts), SNS Publish (Query, XML; ./sns.ts).
 * The service is read from the SigV4 credential scope of each request.
 * Lambda: `Event` invocations are recorded and answered 202; synchronous (`RequestResponse`)
 * invocations run a function registered in `functions`, in this process.
 */

import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { hookGlobalTimeout, LocalAutoScalingGroups } from './autoscaling-groups.js';
import { EksAccessEntries } from './eks-access.js';
import { ELBV2_NS, LocalElbv2 } from './elbv2.js';
import { escapeXml, LoopbackHttpServer, readBody } from './loopback-server.js';
import { LocalSns, SNS_NS } from './sns.js';
import {
  CLOUDFORMATION_NS,
  type JsonAnswer,
  LocalCloudFormation,
  LocalCloudWatch,
  LocalEventBridge,
  LocalSqs,
} from './stack-services.js';

export type { AutoScalingGroupState, LifecycleHookState, NewLifecycleHook } from './autoscaling-groups.js';

/**
 * A lifecycle action as AutoScaling keeps it. It is active until completed (`result`) or expired
 * (`expiredAt`); after either, heartbeats and completions get AWS's ValidationError.
 */
export interface LifecycleActionState {
  readonly token: string;
  readonly autoScalingGroupName: string;
  readonly hookName: string;
  readonly instanceId: string;
  /** What CompleteLifecycleAction sent (`CONTINUE`, `ABANDON`); undefined until completed. */
  result?: string;
  /** Accepted RecordLifecycleActionHeartbeat calls. */
  heartbeats: number;
  /**
   * Seconds (fractions allowed) without a heartbeat after which the action expires, as the hook's
   * HeartbeatTimeout. `addLifecycleAction` without one takes the HeartbeatTimeout of the hook of that
   * name registered on that group at that moment (`lifecycleHooks`); undefined (no hook registered
   * and none given): it never expires.
   */
  readonly heartbeatTimeoutSeconds?: number;
  /**
   * Cap on the whole wait, heartbeats or not; default, as AWS: min(100 × heartbeat timeout, 172800),
   * of the heartbeat timeout given or taken from the hook.
   */
  readonly globalTimeoutSeconds?: number;
  /** The result AWS applies on expiry; default: the registered hook's (`lifecycleHooks`), else ABANDON. */
  readonly defaultResult?: 'CONTINUE' | 'ABANDON';
  /** Date.now() when the action was added and of its last accepted heartbeat. */
  readonly startedAt: number;
  lastHeartbeatAt: number;
  /** Date.now() at which the timeout passed (not when it was noticed); undefined: not expired. */
  expiredAt?: number;
  /** The default result applied on expiry; set together with `expiredAt`. `result` stays undefined. */
  expiredWith?: 'CONTINUE' | 'ABANDON';
}

/**
 * What a test gives to add a lifecycle action; the rest of the state starts empty, and the timeouts
 * left out come from the registered hook (see `LifecycleActionState.heartbeatTimeoutSeconds`).
 */
export type NewLifecycleAction = Pick<
  LifecycleActionState,
  'token' | 'autoScalingGroupName' | 'hookName' | 'instanceId'
> &
  Partial<
    Pick<
      LifecycleActionState,
      'result' | 'heartbeatTimeoutSeconds' | 'globalTimeoutSeconds' | 'defaultResult'
    >
  >;

export interface RecordedCall {
  readonly service: string;
  readonly action: string;
  readonly params: Readonly<Record<string, string>>;
  readonly body?: unknown;
  readonly at: number;
}

/** What DescribeAutoScalingInstances answers for an instance. */
export interface AutoScalingInstanceState {
  readonly asg: string;
  /** e.g. `InService`, `Terminating:Wait`. */
  readonly lifecycleState: string;
}

/**
 * A function run by a synchronous invocation: gets the parsed JSON payload, returns the JSON result
 * and the log text that `LogType: Tail` returns (the last 4 KB, as Lambda does). A throw is answered
 * as an unhandled function error.
 */
export type LocalFunction = (payload: unknown) => Promise<{ result: unknown; logs: string }>;

/** One network interface of an instance, as DescribeInstances answers it. */
export interface NetworkInterfaceState {
  /** Its private IPv4 addresses, the primary first (on EKS the VPC CNI's pod IPs are secondaries). */
  readonly privateIps: readonly string[];
  /** Delegated IPv4 prefixes (VPC CNI prefix mode), e.g. `10.0.1.16/28`. */
  readonly ipv4Prefixes?: readonly string[];
}

export interface InjectedFault {
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

/** A Spot Instance's request as DescribeSpotInstanceRequests answers it (see `spotInstances`). */
export interface SpotInstanceState {
  /** e.g. `sir-0123abcd`. */
  readonly requestId: string;
  /** The request's status code: `fulfilled`, `marked-for-termination`, `marked-for-stop`, `marked-for-hibernation`, … */
  readonly statusCode: string;
  /** The request's state; default as AWS pairs it: `closed` for `marked-for-termination`, else `active`. */
  readonly state?: string;
}

/** Throw-away credentials the local endpoint and the token webhook agree on. */
export const TEST_CREDENTIALS = {
  accessKeyId: 'AKIDLOCALTEST0000000',
  secretAccessKey: 'local-test-secret-key-not-a-real-one-000',
} as const;
export const TEST_REGION = 'us-east-1';
/** The RBAC applier's role: the token webhook authenticates it only through its EKS access entry. */
export const APPLIER_CREDENTIALS = {
  accessKeyId: 'AKIDLOCALAPPLIER0000',
  secretAccessKey: 'local-applier-secret-not-a-real-one-000',
  principalArn: 'arn:aws:iam::000000000000:role/eks-node-drainer-rbac-applier',
} as const;

/** EC2's instance state codes. */
const INSTANCE_STATE_CODES: Readonly<Record<string, number>> = {
  pending: 0,
  running: 16,
  'shutting-down': 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
};

const ASG_NS = 'http://autoscaling.amazonaws.com/doc/2011-01-01/';
const EC2_NS = 'http://ec2.amazonaws.com/doc/2016-11-15/';

export class LocalAwsEndpoint extends LoopbackHttpServer {
  readonly calls: RecordedCall[] = [];
  /** instance id → private DNS name (the usual node name). */
  readonly instances = new Map<string, string>();
  /**
   * instance id → its network interfaces (DescribeInstances NetworkInterfaces; the instance's
   * PrivateIpAddress is the first interface's first IP). An instance is known to EC2 when it is in
   * `instances` or here.
   */
  readonly networkInterfaces = new Map<string, NetworkInterfaceState[]>();
  /**
   * instance id → its Spot request, for the instances a test declares as Spot: DescribeInstances
   * answers them with `instanceLifecycle` spot and their `spotInstanceRequestId` (the others have no
   * instanceLifecycle, as on-demand instances), DescribeSpotInstanceRequests answers their requests.
   * Declaring an instance here does not make it known to DescribeInstances: put it in `instances` too.
   */
  readonly spotInstances = new Map<string, SpotInstanceState>();
  /** instance id → its EC2 state (DescribeInstances instanceState); default `shutting-down`. */
  readonly instanceStates = new Map<string, string>();
  /** instance id → its tags (DescribeInstances tagSet), e.g. `aws:autoscaling:groupName`. */
  readonly instanceTags = new Map<string, Readonly<Record<string, string>>>();
  /** Elastic Load Balancing v2: target groups, their tags and targets (service `elasticloadbalancing`). */
  readonly elbv2 = new LocalElbv2();
  /** cluster name → what DescribeCluster answers. */
  readonly clusters = new Map<string, { endpoint: string; certificateAuthority: string }>();
  /** EKS access entries of the clusters above; `onAccessChange` hears of each change. */
  readonly accessEntries = new EksAccessEntries(
    (name) => this.clusters.has(name),
    (cluster, entry) => this.onAccessChange(cluster, entry),
  );
  /** Set by a test to follow access entries (e.g. tell the token webhook). */
  onAccessChange: ConstructorParameters<typeof EksAccessEntries>[1] & {} = async () => {};
  /**
   * lifecycle action token → state; a heartbeat or completion of an unknown, completed or expired
   * action is a ValidationError. Expiry is evaluated lazily (at each AutoScaling call and in
   * `actionState`), so read through `actionState` to see it without a call.
   */
  readonly lifecycleActions = new Map<string, LifecycleActionState>();
  /** What `Event` invocations of a function were sent (parsed JSON payloads). */
  readonly invocations: { functionName: string; payload: unknown }[] = [];
  /** instance id → its Auto Scaling group and lifecycle state (DescribeAutoScalingInstances). */
  readonly autoScalingInstances = new Map<string, AutoScalingInstanceState>();
  /** Auto Scaling groups: tags, instances, hooks (Describe/Put/DeleteLifecycleHook, DescribeAutoScalingGroups). */
  readonly autoScalingGroups = new LocalAutoScalingGroups();
  /**
   * Auto Scaling group name → its lifecycle hooks (the same map as `autoScalingGroups.hooks`);
   * `autoScalingGroups.putHook` registers one with AWS's defaults (3600 s, ABANDON).
   */
  readonly lifecycleHooks = this.autoScalingGroups.hooks;
  /** function name → what a synchronous invocation runs; an unknown name is a 404. */
  readonly functions = new Map<string, LocalFunction>();
  /** function name → its environment, as GetFunctionConfiguration answers it (an unknown name is a 404). */
  readonly functionEnvironments = new Map<string, Record<string, string>>();
  /** What `npm run doctor` reads (./stack-services.ts): stacks, the dead-letter queue, alarms, rules. */
  readonly cloudFormation = new LocalCloudFormation();
  readonly sqs = new LocalSqs();
  readonly cloudWatch = new LocalCloudWatch();
  readonly eventBridge = new LocalEventBridge();
  /** SNS topics (by ARN) and every message published to them. */
  readonly sns = new LocalSns();
  private readonly faults = new Map<string, InjectedFault[]>();
  /** instance id → the Spot status code last answered and since when (its status `updateTime`). */
  private readonly spotStatusSince = new Map<string, { code: string; at: number }>();

  protected handle(req: IncomingMessage, res: ServerResponse): void {
    void this.route(req, res).catch((error: unknown) => {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(String(error));
    });
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
      AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2: this.url,
      AWS_ENDPOINT_URL_CLOUDFORMATION: this.url,
      AWS_ENDPOINT_URL_SQS: this.url,
      AWS_ENDPOINT_URL_CLOUDWATCH: this.url,
      AWS_ENDPOINT_URL_EVENTBRIDGE: this.url,
      AWS_ENDPOINT_URL_SNS: this.url,
    };
  }

  /**
   * Adds an active lifecycle action, started now. Without `heartbeatTimeoutSeconds` it takes the
   * HeartbeatTimeout of the hook `hookName` registered on `autoScalingGroupName` now (and, without
   * `globalTimeoutSeconds`, that hook's global timeout, min(100 × HeartbeatTimeout, 172800 s)), as
   * AWS starts an action with its hook's timeouts; with no such hook it never expires. A hook
   * registered or changed later does not change the action's timeouts. The default result on
   * expiry is the action's `defaultResult`, else the hook's at that moment, else ABANDON.
   */
  addLifecycleAction(state: NewLifecycleAction): LifecycleActionState {
    const now = Date.now();
    const hook = this.autoScalingGroups.hook(state.autoScalingGroupName, state.hookName);
    const fromHook =
      state.heartbeatTimeoutSeconds === undefined && hook
        ? {
            heartbeatTimeoutSeconds: hook.heartbeatTimeout,
            globalTimeoutSeconds: state.globalTimeoutSeconds ?? hookGlobalTimeout(hook.heartbeatTimeout),
          }
        : {};
    const action: LifecycleActionState = {
      ...state,
      ...fromHook,
      heartbeats: 0,
      startedAt: now,
      lastHeartbeatAt: now,
    };
    this.lifecycleActions.set(state.token, action);
    return action;
  }

  /** The action's state with expiry brought up to date. */
  actionState(token: string): LifecycleActionState | undefined {
    this.expireDue();
    return this.lifecycleActions.get(token);
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

  /** All private IPv4 addresses of the instance's network interfaces (not the delegated prefixes). */
  privateIpsOf(instanceId: string): string[] {
    return (this.networkInterfaces.get(instanceId) ?? []).flatMap((eni) => eni.privateIps);
  }

  // ---- routing ------------------------------------------------------------------------------

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const service =
      /Credential=[^/]+\/\d+\/[^/]+\/([^/]+)\//.exec(req.headers.authorization ?? '')?.[1] ?? 'unknown';
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (service === 'autoscaling' || service === 'ec2' || service === 'elasticloadbalancing') {
      const params = Object.fromEntries(new URLSearchParams(body));
      const action = params.Action ?? '';
      this.calls.push({ service, action, params, at: Date.now() });
      const fault = this.takeFault(service, action);
      if (service === 'elasticloadbalancing') {
        const answer = fault ? { fault } : this.elbv2.answer(action, params);
        if ('fault' in answer) queryError(res, answer.fault, ELBV2_NS);
        else queryResult(res, action, answer.result, ELBV2_NS);
      } else if (fault) (service === 'ec2' ? ec2Error : queryError)(res, fault);
      else if (service === 'ec2') this.ec2(action, params, res);
      else this.autoScaling(action, params, res);
      return;
    }
    if (service === 'cloudformation' || service === 'sns') {
      const params = Object.fromEntries(new URLSearchParams(body));
      const action = params.Action ?? '';
      this.calls.push({ service, action, params, at: Date.now() });
      const fault = this.takeFault(service, action);
      const answer = fault
        ? { fault }
        : this[service === 'sns' ? 'sns' : 'cloudFormation'].answer(action, params);
      const ns = service === 'sns' ? SNS_NS : CLOUDFORMATION_NS;
      if ('fault' in answer) queryError(res, answer.fault, ns);
      else queryResult(res, action, answer.result, ns);
      return;
    }
    const jsonService = JSON_SERVICES[service];
    if (jsonService) {
      const action = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
      const input = (body ? JSON.parse(body) : {}) as Record<string, unknown>;
      this.calls.push({ service, action, params: {}, body: input, at: Date.now() });
      const fault = this.takeFault(service, action);
      const answer: JsonAnswer = fault ? { fault } : this[jsonService].answer(action, input);
      if ('fault' in answer) jsonError(res, answer.fault);
      else json(res, 200, answer.result);
      return;
    }
    const accessAction =
      service === 'eks' ? EksAccessEntries.action(req.method ?? 'GET', url.pathname) : undefined;
    if (accessAction) {
      const input = (body ? JSON.parse(body) : {}) as Record<string, unknown>;
      this.calls.push({ service, action: accessAction, params: {}, body: input, at: Date.now() });
      const fault = this.takeFault(service, accessAction);
      const answer = fault ? { fault } : await this.accessEntries.answer(accessAction, url.pathname, input);
      if ('fault' in answer) jsonError(res, answer.fault);
      else json(res, 200, answer.result);
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
    if (service === 'lambda' && req.method === 'GET') {
      this.functionConfiguration(url.pathname, res);
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
      const type = req.headers['x-amz-invocation-type'];
      if (type === undefined || type === 'RequestResponse') {
        await this.invokeSync(functionName, payload, req.headers['x-amz-log-type'] === 'Tail', res);
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
    if (action === 'DescribeAutoScalingInstances') {
      this.describeAutoScalingInstances(params, res);
      return;
    }
    if (action === 'TerminateInstanceInAutoScalingGroup') {
      const answer = this.terminateInstance(params);
      if ('fault' in answer) queryError(res, answer.fault);
      else queryResult(res, action, answer.result);
      return;
    }
    const group = this.autoScalingGroups.answer(action, params);
    if (group) {
      if ('fault' in group) queryError(res, group.fault);
      else queryResult(res, action, group.result);
      return;
    }
    if (action !== 'CompleteLifecycleAction' && action !== 'RecordLifecycleActionHeartbeat') {
      queryError(res, { status: 400, code: 'InvalidAction', message: `unsupported action ${action}` });
      return;
    }
    this.expireDue();
    if (action === 'CompleteLifecycleAction') {
      // AWS validates the input before it looks for the action: the action stays active
      const refused = lifecycleActionResultError(params.LifecycleActionResult);
      if (refused) {
        queryError(res, refused);
        return;
      }
    }
    const token = params.LifecycleActionToken;
    const instanceId = params.InstanceId;
    if (token === undefined && instanceId === undefined) {
      queryError(res, {
        status: 400,
        code: 'ValidationError',
        message: 'Either LifecycleActionToken or InstanceId must be specified',
      });
      return;
    }
    // AWS finds the action by token when one is given, else by instance (within group and hook)
    const state = [...this.lifecycleActions.values()].find(
      (a) =>
        isActive(a) &&
        a.autoScalingGroupName === params.AutoScalingGroupName &&
        a.hookName === params.LifecycleHookName &&
        (token === undefined || a.token === token) &&
        (instanceId === undefined || a.instanceId === instanceId),
    );
    if (!state) {
      queryError(res, {
        status: 400,
        code: 'ValidationError',
        message:
          token === undefined
            ? `No active Lifecycle Action found with instance ID ${instanceId}`
            : `No active Lifecycle Action found with token ${token}`,
      });
      return;
    }
    if (action === 'CompleteLifecycleAction') state.result = params.LifecycleActionResult ?? '';
    else {
      state.heartbeats++;
      state.lastHeartbeatAt = Date.now();
    }
    xml(
      res,
      200,
      `<${action}Response xmlns="${ASG_NS}"><${action}Result/><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${action}Response>`,
    );
  }

  /**
   * An explicit `autoScalingInstances` entry wins; else an instance with a lifecycle action is
   * `Terminating:Wait` while the action is active and `Terminating:Proceed` once it is completed or
   * expired. Unknown instances are left out of the answer, as AWS does (no error).
   */
  private describeAutoScalingInstances(params: Record<string, string>, res: ServerResponse): void {
    this.expireDue();
    const ids = Object.entries(params)
      .filter(([k]) => k.startsWith('InstanceIds.member.'))
      .map(([, v]) => v);
    const members = ids
      .flatMap((id) => {
        const state = this.autoScalingInstances.get(id) ?? this.terminatingState(id);
        if (!state) return [];
        return [
          `<member><InstanceId>${escapeXml(id)}</InstanceId><AutoScalingGroupName>${escapeXml(state.asg)}</AutoScalingGroupName><AvailabilityZone>${TEST_REGION}a</AvailabilityZone><LifecycleState>${escapeXml(state.lifecycleState)}</LifecycleState><HealthStatus>HEALTHY</HealthStatus><ProtectedFromScaleIn>false</ProtectedFromScaleIn><InstanceType>m5.large</InstanceType></member>`,
        ];
      })
      .join('');
    queryResult(
      res,
      'DescribeAutoScalingInstances',
      `<AutoScalingInstances>${members}</AutoScalingInstances>`,
    );
  }

  /**
   * TerminateInstanceInAutoScalingGroup: an instance InService (or Standby) in a group starts
   * terminating, with an Activity as AWS answers. With a termination hook on its group it waits in
   * Terminating:Wait (a lifecycle action of the first such hook, found in `lifecycleActions`), else it
   * is Terminating. An unknown instance, or one not in service, is AWS's ValidationError; so is a
   * call without ShouldDecrementDesiredCapacity (required). The replacement launch is not modelled.
   */
  private terminateInstance(params: Record<string, string>): { result: string } | { fault: InjectedFault } {
    this.expireDue();
    const instanceId = params.InstanceId ?? '';
    const decrement = params.ShouldDecrementDesiredCapacity;
    if (decrement !== 'true' && decrement !== 'false') {
      return validation(
        "1 validation error detected: Value null at 'shouldDecrementDesiredCapacity' failed to satisfy constraint: Member must not be null",
      );
    }
    const state = this.autoScalingInstances.get(instanceId) ?? this.terminatingState(instanceId);
    if (!state)
      return validation(`Instance Id not found - No managed instance found for instance ID: ${instanceId}`);
    if (state.lifecycleState !== 'InService' && state.lifecycleState !== 'Standby') {
      return validation(
        `The instance ${instanceId} is not in InService or Standby: it is ${state.lifecycleState}`,
      );
    }
    const hook = this.lifecycleHooks.get(state.asg)?.find((h) => h.transition === TERMINATING_TRANSITION);
    this.autoScalingInstances.delete(instanceId);
    if (hook) {
      this.addLifecycleAction({
        token: randomUUID(),
        autoScalingGroupName: state.asg,
        hookName: hook.name,
        instanceId,
      });
    } else this.autoScalingInstances.set(instanceId, { asg: state.asg, lifecycleState: 'Terminating' });
    const now = new Date().toISOString();
    return {
      result: `<Activity><ActivityId>${randomUUID()}</ActivityId><AutoScalingGroupName>${escapeXml(state.asg)}</AutoScalingGroupName><Description>Terminating EC2 instance: ${escapeXml(instanceId)}</Description><Cause>At ${now} instance ${escapeXml(instanceId)} was taken out of service in response to a user request${decrement === 'true' ? ', shrinking the capacity from 1 to 0' : ''}.</Cause><StartTime>${now}</StartTime><StatusCode>InProgress</StatusCode><Progress>0</Progress><Details>{"Subnet ID":"subnet-00000000","Availability Zone":"${TEST_REGION}a"}</Details></Activity>`,
    };
  }

  private terminatingState(instanceId: string): AutoScalingInstanceState | undefined {
    const actions = [...this.lifecycleActions.values()].filter((a) => a.instanceId === instanceId);
    const active = actions.find(isActive);
    if (active) return { asg: active.autoScalingGroupName, lifecycleState: 'Terminating:Wait' };
    const last = actions.at(-1);
    return last && { asg: last.autoScalingGroupName, lifecycleState: 'Terminating:Proceed' };
  }

  /** Marks the actions whose heartbeat or global timeout has passed as expired, as AWS would have. */
  private expireDue(now = Date.now()): void {
    for (const action of this.lifecycleActions.values()) {
      if (!isActive(action) || action.heartbeatTimeoutSeconds === undefined) continue;
      const heartbeat = action.heartbeatTimeoutSeconds;
      const global = action.globalTimeoutSeconds ?? hookGlobalTimeout(heartbeat);
      const deadline = Math.min(action.lastHeartbeatAt + heartbeat * 1000, action.startedAt + global * 1000);
      if (now < deadline) continue;
      action.expiredAt = deadline;
      action.expiredWith =
        action.defaultResult ??
        this.autoScalingGroups.hook(action.autoScalingGroupName, action.hookName)?.defaultResult ??
        'ABANDON';
    }
  }

  private ec2(action: string, params: Record<string, string>, res: ServerResponse): void {
    if (action === 'DescribeSpotInstanceRequests') {
      this.describeSpotInstanceRequests(params, res);
      return;
    }
    if (action !== 'DescribeInstances') {
      ec2Error(res, { status: 400, code: 'InvalidAction', message: `unsupported action ${action}` });
      return;
    }
    const ids = Object.entries(params)
      .filter(([k]) => k.startsWith('InstanceId.'))
      .map(([, v]) => v);
    const unknown = ids.find((id) => !this.instances.has(id) && !this.networkInterfaces.has(id));
    if (unknown) {
      ec2Error(res, {
        status: 400,
        code: 'InvalidInstanceID.NotFound',
        message: `The instance ID '${unknown}' does not exist`,
      });
      return;
    }
    const items = ids.map((id) => this.ec2Instance(id)).join('');
    xml(
      res,
      200,
      `<DescribeInstancesResponse xmlns="${EC2_NS}"><requestId>${randomUUID()}</requestId><reservationSet><item><reservationId>r-0local</reservationId><instancesSet>${items}</instancesSet></item></reservationSet></DescribeInstancesResponse>`,
    );
  }

  private ec2Instance(id: string): string {
    const enis = this.networkInterfaces.get(id) ?? [];
    const primary = enis[0]?.privateIps[0];
    const interfaces = enis
      .map((eni, n) => {
        const ips = eni.privateIps
          .map(
            (ip, i) => `<item><privateIpAddress>${ip}</privateIpAddress><primary>${i === 0}</primary></item>`,
          )
          .join('');
        const prefixes = (eni.ipv4Prefixes ?? [])
          .map((prefix) => `<item><ipv4Prefix>${prefix}</ipv4Prefix></item>`)
          .join('');
        return `<item><networkInterfaceId>eni-0local${String(n).padStart(8, '0')}</networkInterfaceId>${eni.privateIps[0] ? `<privateIpAddress>${eni.privateIps[0]}</privateIpAddress>` : ''}<privateIpAddressesSet>${ips}</privateIpAddressesSet><ipv4PrefixSet>${prefixes}</ipv4PrefixSet><attachment><deviceIndex>${n}</deviceIndex></attachment></item>`;
      })
      .join('');
    const spot = this.spotInstances.get(id);
    // an on-demand instance has no instanceLifecycle element
    const lifecycle = spot
      ? `<instanceLifecycle>spot</instanceLifecycle><spotInstanceRequestId>${escapeXml(spot.requestId)}</spotInstanceRequestId>`
      : '';
    const state = this.instanceStates.get(id) ?? 'shutting-down';
    const tags = Object.entries(this.instanceTags.get(id) ?? {})
      .map(([key, value]) => `<item><key>${escapeXml(key)}</key><value>${escapeXml(value)}</value></item>`)
      .join('');
    return `<item><instanceId>${id}</instanceId><privateDnsName>${escapeXml(this.instances.get(id) ?? '')}</privateDnsName>${primary ? `<privateIpAddress>${primary}</privateIpAddress>` : ''}<instanceState><code>${INSTANCE_STATE_CODES[state] ?? 0}</code><name>${escapeXml(state)}</name></instanceState>${lifecycle}<networkInterfaceSet>${interfaces}</networkInterfaceSet><tagSet>${tags}</tagSet></item>`;
  }

  /**
   * DescribeSpotInstanceRequests by `SpotInstanceRequestId.N`, or every request of `spotInstances`
   * without ids. An unknown id is AWS's InvalidSpotInstanceRequestID.NotFound. Filters are not
   * modelled: a request with `Filter.N` is refused (InvalidParameterValue) rather than answered
   * unfiltered. The status `updateTime` is when the endpoint first answered the current code.
   */
  private describeSpotInstanceRequests(params: Record<string, string>, res: ServerResponse): void {
    if (Object.keys(params).some((k) => k.startsWith('Filter.'))) {
      ec2Error(res, {
        status: 400,
        code: 'InvalidParameterValue',
        message:
          'the local endpoint answers DescribeSpotInstanceRequests by SpotInstanceRequestId only, without filters',
      });
      return;
    }
    const ids = Object.entries(params)
      .filter(([k]) => /^SpotInstanceRequestId\.\d+$/.test(k))
      .sort(([a], [b]) => Number(a.split('.')[1]) - Number(b.split('.')[1]))
      .map(([, v]) => v);
    const byRequest = new Map(
      [...this.spotInstances].map(([instanceId, spot]) => [spot.requestId, { instanceId, spot }]),
    );
    const unknown = ids.find((id) => !byRequest.has(id));
    if (unknown !== undefined) {
      ec2Error(res, {
        status: 400,
        code: 'InvalidSpotInstanceRequestID.NotFound',
        message: `The spot instance request ID '${unknown}' does not exist`,
      });
      return;
    }
    const wanted = ids.length > 0 ? ids : [...byRequest.keys()];
    const items = wanted
      .flatMap((requestId) => {
        const found = byRequest.get(requestId);
        return found ? [{ requestId, ...found }] : [];
      })
      .map(({ requestId, instanceId, spot }) => {
        const updated = new Date(this.spotStatusTime(instanceId, spot.statusCode)).toISOString();
        return `<item><spotInstanceRequestId>${escapeXml(requestId)}</spotInstanceRequestId><spotPrice>0.100000</spotPrice><type>one-time</type><state>${escapeXml(spot.state ?? spotRequestState(spot.statusCode))}</state><status><code>${escapeXml(spot.statusCode)}</code><updateTime>${updated}</updateTime><message>${escapeXml(spotStatusMessage(spot.statusCode))}</message></status><instanceId>${escapeXml(instanceId)}</instanceId><createTime>2026-01-01T00:00:00.000Z</createTime><productDescription>Linux/UNIX</productDescription><launchedAvailabilityZone>${TEST_REGION}a</launchedAvailabilityZone><instanceInterruptionBehavior>terminate</instanceInterruptionBehavior></item>`;
      })
      .join('');
    xml(
      res,
      200,
      `<DescribeSpotInstanceRequestsResponse xmlns="${EC2_NS}"><requestId>${randomUUID()}</requestId><spotInstanceRequestSet>${items}</spotInstanceRequestSet></DescribeSpotInstanceRequestsResponse>`,
    );
  }

  /** When the instance's Spot status took this code, as far as the endpoint has seen (epoch ms). */
  private spotStatusTime(instanceId: string, code: string): number {
    const seen = this.spotStatusSince.get(instanceId);
    if (seen?.code === code) return seen.at;
    const at = Date.now();
    this.spotStatusSince.set(instanceId, { code, at });
    return at;
  }

  /** Lambda's synchronous invoke: 200 with the result, or with X-Amz-Function-Error when it throws. */
  private async invokeSync(
    nameOrArn: string,
    payload: unknown,
    tail: boolean,
    res: ServerResponse,
  ): Promise<void> {
    // a function ARN (optionally qualified) or a bare name
    const name = /^arn:[^:]+:lambda:[^:]*:[^:]*:function:([^:]+)/.exec(nameOrArn)?.[1] ?? nameOrArn;
    const fn = this.functions.get(name);
    const requestId = randomUUID();
    if (!fn) {
      jsonError(res, {
        status: 404,
        code: 'ResourceNotFoundException',
        message: `Function not found: arn:aws:lambda:${TEST_REGION}:000000000000:function:${name}`,
      });
      return;
    }
    let answer: { body: unknown; logs: string; error?: true };
    try {
      const { result, logs } = await fn(payload);
      answer = { body: result, logs };
    } catch (error) {
      const body = {
        errorType: error instanceof Error ? error.name : 'Error',
        errorMessage: error instanceof Error ? error.message : String(error),
        trace: error instanceof Error ? (error.stack ?? '').split('\n') : [],
      };
      answer = { body, logs: `ERROR\tInvoke Error \t${JSON.stringify(body)}\n`, error: true };
    }
    const own = answer.logs === '' || answer.logs.endsWith('\n') ? answer.logs : `${answer.logs}\n`;
    const logs = `START RequestId: ${requestId} Version: $LATEST\n${own}END RequestId: ${requestId}\nREPORT RequestId: ${requestId}\n`;
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-amzn-requestid': requestId,
      'x-amz-executed-version': '$LATEST',
      ...(answer.error ? { 'x-amz-function-error': 'Unhandled' } : {}),
      // Lambda returns the last 4 KB of the log
      ...(tail ? { 'x-amz-log-result': Buffer.from(logs).subarray(-4096).toString('base64') } : {}),
    };
    res.writeHead(200, headers).end(JSON.stringify(answer.body ?? null));
  }

  /** GetFunctionConfiguration: GET /2015-03-31/functions/{name}/configuration. */
  private functionConfiguration(path: string, res: ServerResponse): void {
    const nameOrArn = decodeURIComponent(
      /^\/2015-03-31\/functions\/([^/]+)\/configuration$/.exec(path)?.[1] ?? '',
    );
    const name = /^arn:[^:]+:lambda:[^:]*:[^:]*:function:([^:]+)/.exec(nameOrArn)?.[1] ?? nameOrArn;
    this.calls.push({
      service: 'lambda',
      action: 'GetFunctionConfiguration',
      params: { name },
      at: Date.now(),
    });
    const fault = this.takeFault('lambda', 'GetFunctionConfiguration');
    const variables = this.functionEnvironments.get(name);
    if (fault || !variables) {
      jsonError(
        res,
        fault ?? { status: 404, code: 'ResourceNotFoundException', message: `Function not found: ${name}` },
      );
      return;
    }
    json(res, 200, {
      FunctionName: name,
      FunctionArn: `arn:aws:lambda:${TEST_REGION}:000000000000:function:${name}`,
      Runtime: 'nodejs22.x',
      State: 'Active',
      LastUpdateStatus: 'Successful',
      Environment: { Variables: variables },
    });
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

/** The JSON-protocol services, by SigV4 signing name (CloudWatch signs as `monitoring`). */
const JSON_SERVICES: Record<string, 'sqs' | 'cloudWatch' | 'eventBridge' | undefined> = {
  sqs: 'sqs',
  monitoring: 'cloudWatch',
  events: 'eventBridge',
};

/**
 * AWS's ValidationError for a LifecycleActionResult other than exactly CONTINUE or ABANDON
 * (the standard "1 validation error detected" shape of AWS's input validation); undefined: valid.
 */
function lifecycleActionResultError(result: string | undefined): InjectedFault | undefined {
  if (result === 'CONTINUE' || result === 'ABANDON') return undefined;
  const value = result === undefined ? 'null' : `'${result}'`;
  const constraint =
    result === undefined
      ? 'Member must not be null'
      : 'Member must satisfy enum value set: [CONTINUE, ABANDON]';
  return {
    status: 400,
    code: 'ValidationError',
    message: `1 validation error detected: Value ${value} at 'lifecycleActionResult' failed to satisfy constraint: ${constraint}`,
  };
}

/**
 * The request state AWS pairs with a running instance's Spot status code (EC2 User Guide, Spot
 * request status): `closed` for `marked-for-termination`; `active` for `fulfilled`, `marked-for-stop`,
 * `marked-for-hibernation` (and any other code: give `state` for those).
 */
function spotRequestState(code: string): string {
  return code === 'marked-for-termination' ? 'closed' : 'active';
}

/** Status messages as the EC2 User Guide describes the codes (Spot request status codes). */
const SPOT_STATUS_MESSAGES: Readonly<Record<string, string>> = {
  fulfilled: 'Your spot request is fulfilled.',
  'marked-for-termination': 'The Spot Instance is marked for termination.',
  'marked-for-stop': 'The Spot Instance is marked for stopping.',
  'marked-for-hibernation': 'The Spot Instance is marked for hibernation.',
};

function spotStatusMessage(code: string): string {
  return SPOT_STATUS_MESSAGES[code] ?? `Spot request status ${code}.`;
}

function isActive(action: LifecycleActionState): boolean {
  return action.result === undefined && action.expiredAt === undefined;
}

const TERMINATING_TRANSITION = 'autoscaling:EC2_INSTANCE_TERMINATING';

function validation(message: string): { fault: InjectedFault } {
  return { fault: { status: 400, code: 'ValidationError', message } };
}

function xml(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/xml' }).end(`<?xml version="1.0" encoding="UTF-8"?>${body}`);
}

/** A successful Query answer: `<XResponse><XResult>…</XResult><ResponseMetadata/>`. */
function queryResult(res: ServerResponse, action: string, result: string, ns = ASG_NS): void {
  xml(
    res,
    200,
    `<${action}Response xmlns="${ns}"><${action}Result>${result}</${action}Result><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${action}Response>`,
  );
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function queryError(res: ServerResponse, fault: InjectedFault, ns = ASG_NS): void {
  const type = fault.status >= 500 ? 'Receiver' : 'Sender';
  xml(
    res,
    fault.status,
    `<ErrorResponse xmlns="${ns}"><Error><Type>${type}</Type><Code>${fault.code}</Code><Message>${escapeXml(fault.message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
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
