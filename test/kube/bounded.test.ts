import { createServer, type Server, type Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { KubeCluster } from '../../lambda/kube/cluster.js';

/** A TCP server that accepts connections and never says a word: no TLS handshake, no answer. */
async function silentServer(): Promise<{ server: Server; port: number; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const server = createServer((socket) => void sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { server, port: address.port, sockets };
}

function kubeConfig(port: number): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `https://127.0.0.1:${port}`, skipTLSVerify: false }],
    users: [{ name: 'u', token: 'not-used' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

let silent: Awaited<ReturnType<typeof silentServer>> | undefined;
afterEach(async () => {
  for (const socket of silent?.sockets ?? []) socket.destroy();
  await new Promise((resolve) => silent?.server.close(resolve));
  silent = undefined;
});

describe('KubeCluster request bounds', () => {
  it('fails a request whose TLS handshake never completes after the connect timeout', async () => {
    silent = await silentServer();
    const cluster = new KubeCluster(kubeConfig(silent.port), undefined, {
      connectMs: 300,
      requestMs: 10_000,
    });
    const started = Date.now();

    await expect(cluster.listPods('node-a')).rejects.toThrow(/connect timeout/);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('fails a request that gets no answer after the request timeout', async () => {
    silent = await silentServer();
    // the connect timeout is out of the way: only the whole-request bound can end this
    const cluster = new KubeCluster(kubeConfig(silent.port), undefined, {
      connectMs: 60_000,
      requestMs: 400,
    });
    const started = Date.now();

    await expect(cluster.cordon('node-a')).rejects.toThrow(/timed out/);
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});
