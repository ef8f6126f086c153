/** The load balancer controller stand-in, with a stub node reader and the endpoint's ELBv2 model (no HTTP). */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { KubeConfig, type V1Node } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { LocalAwsEndpoint } from '../../scripts/harness/aws-endpoint.js';
import {
  EXCLUDE_FROM_LOAD_BALANCERS_LABEL,
  LoadBalancerControllerStandIn,
  type NodeReader,
} from '../../scripts/harness/load-balancer-controller.js';
import { LoopbackHttpServer } from '../../scripts/harness/loopback-server.js';

const INSTANCE = 'i-0123456789abcdef0';
const NODE = 'ip-10-0-1-23.ec2.internal';

/** A node that gains the label at the `labelAt`-th read (never when undefined). */
function nodeReader(labelAt?: number): NodeReader & { reads: number } {
  const reader = {
    reads: 0,
    async readNode({ name }: { name: string }): Promise<V1Node> {
      reader.reads++;
      const labelled = labelAt !== undefined && reader.reads >= labelAt;
      return {
        metadata: { name, labels: labelled ? { [EXCLUDE_FROM_LOAD_BALANCERS_LABEL]: 'true' } : {} },
        spec: { providerID: `aws:///us-east-1a/${INSTANCE}` },
        status: { addresses: [{ type: 'InternalIP', address: '10.0.1.23' }] },
      };
    },
  };
  return reader;
}

function world() {
  const aws = new LocalAwsEndpoint();
  aws.networkInterfaces.set(INSTANCE, [{ privateIps: ['10.0.1.23', '10.0.1.57'] }]);
  const byInstance = aws.elbv2.addTargetGroup({ name: 'web', targets: [{ id: INSTANCE, port: 30080 }] });
  const byIp = aws.elbv2.addTargetGroup({
    name: 'api',
    targetType: 'ip',
    targets: [
      { id: '10.0.1.57', port: 8080 },
      { id: '10.0.2.9', port: 8080 },
    ],
  });
  return { aws, byInstance, byIp };
}

/** Answers GET /api/v1/nodes/<name> with a labelled node, as an API server would. */
class NodeServer extends LoopbackHttpServer {
  readonly paths: string[] = [];
  protected handle(req: IncomingMessage, res: ServerResponse): void {
    this.paths.push(req.url ?? '');
    const name = decodeURIComponent(/^\/api\/v1\/nodes\/([^/?]+)/.exec(req.url ?? '')?.[1] ?? '');
    const node = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name, labels: { [EXCLUDE_FROM_LOAD_BALANCERS_LABEL]: 'true' } },
      spec: { providerID: `aws:///us-east-1a/${INSTANCE}` },
    };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(node));
  }
}

describe('LoadBalancerControllerStandIn', () => {
  it('deregisters the instance and its IPs once the node carries the exclude label', async () => {
    const { aws, byInstance, byIp } = world();
    const nodes = nodeReader(3);
    const controller = new LoadBalancerControllerStandIn({
      nodes,
      aws,
      nodeName: NODE,
      deregistrationDelayMs: 60_000,
      pollIntervalMs: 5,
    }).start();

    expect(await controller.result).toBe('deregistered');
    expect(controller.polls).toBe(3);
    expect(controller.labelSeenAt).toBeTypeOf('number');
    expect(controller.deregistered).toEqual([
      { id: INSTANCE, targets: 1 },
      { id: '10.0.1.23', targets: 0 },
      { id: '10.0.1.57', targets: 1 },
    ]);
    expect(aws.elbv2.targetsOf(byInstance.arn).map((t) => t.state)).toEqual(['draining']);
    expect(aws.elbv2.targetsOf(byIp.arn).map((t) => [t.id, t.state])).toEqual([
      ['10.0.1.57', 'draining'],
      ['10.0.2.9', 'healthy'],
    ]);
  });

  it('keeps polling through failed node reads', async () => {
    const { aws } = world();
    const labelled = nodeReader(1);
    let reads = 0;
    const controller = new LoadBalancerControllerStandIn({
      nodes: {
        readNode: async (param) => {
          if (++reads < 3) throw new Error('HTTP-Code: 404');
          return labelled.readNode(param);
        },
      },
      aws,
      nodeName: NODE,
      instanceId: INSTANCE,
      ips: [],
      deregistrationDelayMs: 0,
      pollIntervalMs: 5,
    }).start();

    expect(await controller.result).toBe('deregistered');
    expect(controller.polls).toBe(3);
    expect(String(controller.lastError)).toContain('404');
    expect(controller.deregistered).toEqual([{ id: INSTANCE, targets: 1 }]);
  });

  it('deregisters nothing when stopped before the label appears', async () => {
    const { aws, byInstance } = world();
    const controller = new LoadBalancerControllerStandIn({
      nodes: nodeReader(),
      aws,
      nodeName: NODE,
      deregistrationDelayMs: 0,
      pollIntervalMs: 5,
    }).start();
    await new Promise((resolve) => setTimeout(resolve, 30));

    await controller.stop();
    const polls = controller.polls;
    await new Promise((resolve) => setTimeout(resolve, 30));

    expect(await controller.result).toBe('stopped');
    expect(controller.polls).toBe(polls);
    expect(controller.labelSeenAt).toBeUndefined();
    expect(aws.elbv2.targetsOf(byInstance.arn).map((t) => t.state)).toEqual(['healthy']);
  });

  it('gives up after its timeout', async () => {
    const { aws } = world();
    const controller = new LoadBalancerControllerStandIn({
      nodes: nodeReader(),
      aws,
      nodeName: NODE,
      deregistrationDelayMs: 0,
      pollIntervalMs: 5,
      timeoutMs: 40,
    }).start();

    expect(await controller.result).toBe('timed-out');
    expect(controller.deregistered).toEqual([]);
  });

  it('reads the node through CoreV1Api with a KubeConfig', async () => {
    const { aws, byInstance } = world();
    const server = await new NodeServer().start();
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      // plain HTTP is allowed only with skipTLSVerify
      clusters: [{ name: 'local', server: server.url, skipTLSVerify: true }],
      users: [{ name: 'admin', token: 'admin-token' }],
      contexts: [{ name: 'local', cluster: 'local', user: 'admin' }],
      currentContext: 'local',
    });
    try {
      const controller = new LoadBalancerControllerStandIn({
        kubeConfig,
        aws,
        nodeName: NODE,
        deregistrationDelayMs: 1_000,
        timeoutMs: 5_000,
      }).start();

      expect(await controller.result).toBe('deregistered');
      expect(controller.lastError).toBeUndefined();
      expect(server.paths).toEqual([`/api/v1/nodes/${NODE}`]);
      expect(aws.elbv2.targetsOf(byInstance.arn).map((t) => t.state)).toEqual(['draining']);
    } finally {
      await server.stop();
    }
  });

  it('needs exactly one of kubeConfig and nodes', () => {
    expect(
      () => new LoadBalancerControllerStandIn({ aws: world().aws, nodeName: NODE, deregistrationDelayMs: 0 }),
    ).toThrow('give exactly one of kubeConfig and nodes');
  });
});
