import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ClusterPort } from '../../lambda/drain/ports.js';
import { KubeCluster } from '../../lambda/kube/cluster.js';
import { eksKubeConfig, lazyCluster } from '../../lambda/kube/eks-cluster.js';

interface Pki {
  /** PEM of the CA that signed the server's certificate. */
  readonly ca: string;
  /** PEM of a CA that signed nothing here. */
  readonly otherCa: string;
  readonly serverKey: string;
  readonly serverCert: string;
}

/** A CA, a 127.0.0.1 server certificate it signed, and an unrelated CA (EC keys: fast). */
function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'eks-cluster-test-'));
  const file = (name: string): string => join(dir, name);
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  try {
    openssl(
      'req',
      '-x509',
      ...ec,
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '1',
      '-subj',
      '/CN=test-ca',
    );
    openssl(
      'req',
      '-x509',
      ...ec,
      '-keyout',
      'other.key',
      '-out',
      'other.crt',
      '-days',
      '1',
      '-subj',
      '/CN=other',
    );
    openssl('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=kube-apiserver');
    writeFileSync(file('server.ext'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
    openssl(
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'server.crt',
      '-days',
      '1',
      '-extfile',
      'server.ext',
    );
    const read = (name: string): string => readFileSync(file(name), 'utf8');
    return {
      ca: read('ca.crt'),
      otherCa: read('other.crt'),
      serverKey: read('server.key'),
      serverCert: read('server.crt'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const base64 = (pem: string): string => Buffer.from(pem).toString('base64');

describe('eksKubeConfig', () => {
  let pki: Pki;
  let server: Server;
  let endpoint: string;
  const authorizations: (string | undefined)[] = [];

  beforeAll(async () => {
    pki = makePki();
    server = createServer({ key: pki.serverKey, cert: pki.serverCert }, (req, res) => {
      authorizations.push(req.headers.authorization);
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'ip-10-0-0-1' } }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    endpoint = `https://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('names the endpoint, sets the cluster CA and a fresh bearer token on each request', async () => {
    let n = 0;
    const kc = eksKubeConfig(
      { endpoint: 'https://abc.eks.example', certificateAuthority: 'Q0E=' },
      async () => `t${++n}`,
    );
    const first: RequestOptions = {};
    const second: RequestOptions = {};
    await kc.applyToHTTPSOptions(first);
    await kc.applyToHTTPSOptions(second);

    expect(kc.getCurrentCluster()).toEqual({ server: 'https://abc.eks.example' });
    expect(first.ca).toEqual(Buffer.from('CA'));
    expect(first.headers).toEqual({ Authorization: 'Bearer t1' });
    expect(second.headers).toEqual({ Authorization: 'Bearer t2' });
  });

  it('talks to a server whose certificate the cluster CA signed, with the bearer token of each request', async () => {
    let n = 0;
    const cluster = new KubeCluster(
      eksKubeConfig({ endpoint, certificateAuthority: base64(pki.ca) }, async () => `token-${++n}`),
    );
    authorizations.length = 0;

    const first = await cluster.findNode({ nodeName: 'ip-10-0-0-1' });
    const second = await cluster.findNode({ nodeName: 'ip-10-0-0-1' });

    expect([first, second]).toEqual(['ip-10-0-0-1', 'ip-10-0-0-1']);
    expect(authorizations).toEqual(['Bearer token-1', 'Bearer token-2']);
  });

  it('fails on a server certificate another CA signed, before sending the token', async () => {
    const cluster = new KubeCluster(
      eksKubeConfig({ endpoint, certificateAuthority: base64(pki.otherCa) }, async () => 'secret-token'),
    );
    authorizations.length = 0;

    await expect(cluster.findNode({ nodeName: 'ip-10-0-0-1' })).rejects.toThrow(/certificate/i);
    expect(authorizations).toEqual([]);
  });

  it('keeps verifying TLS when the environment says NODE_TLS_REJECT_UNAUTHORIZED=0', async () => {
    vi.stubEnv('NODE_TLS_REJECT_UNAUTHORIZED', '0');
    try {
      const cluster = new KubeCluster(
        eksKubeConfig({ endpoint, certificateAuthority: base64(pki.otherCa) }, async () => 'secret-token'),
      );
      authorizations.length = 0;

      await expect(cluster.findNode({ nodeName: 'ip-10-0-0-1' })).rejects.toThrow(/certificate/i);
      expect(authorizations).toEqual([]);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});

describe('lazyCluster', () => {
  /** A ClusterPort whose every call says its name. */
  function recording(calls: string[], full = true): ClusterPort {
    const said = <T>(call: string, value: T): T => {
      calls.push(call);
      return value;
    };
    const port: ClusterPort = {
      findNode: async (t) => said(`findNode ${t.nodeName}`, 'n'),
      cordon: async (n, o) => said(`cordon ${n} ${o?.excludeFromLoadBalancers}`, undefined),
      listVolumeAttachments: async (n) => said(`listVolumeAttachments ${n}`, ['va']),
      listPods: async (n, o) => said(`listPods ${n} ${o?.notOlderThan}`, { pods: [] }),
      evict: async (p, o) => said(`evict ${p.name} ${o.dryRun}`, { kind: 'evicted' as const }),
      deletePod: async (p, o) => said(`deletePod ${p.name} ${o?.gracePeriodSeconds}`, 'deleted' as const),
      listPdbs: async (ns) => said(`listPdbs ${ns}`, []),
      recordEvent: async (s, e) => said(`recordEvent ${s.name} ${e.reason}`, undefined),
    };
    if (!full) return port;
    port.readPdb = async (ns, name) => said(`readPdb ${ns} ${name}`, undefined);
    port.followNode = async (n) =>
      said(`followNode ${n}`, {
        pods: () => [],
        podsVersion: () => undefined,
        pdbs: () => [],
        pdbsVersion: () => undefined,
        failed: () => false,
        close: () => {},
      });
    return port;
  }

  it('connects on the first call only, and passes every call on as it is', async () => {
    const calls: string[] = [];
    let connects = 0;
    const cluster = lazyCluster(async () => {
      connects++;
      return recording(calls);
    });
    const pod = { namespace: 'ns', name: 'p', uid: 'u' };
    expect(connects).toBe(0);

    expect(await cluster.findNode({ nodeName: 'n1' })).toBe('n');
    await cluster.cordon('n1', { excludeFromLoadBalancers: true });
    expect(await cluster.listVolumeAttachments('n1')).toEqual(['va']);
    expect(await cluster.listPods('n1', { notOlderThan: '7' })).toEqual({ pods: [] });
    expect(await cluster.evict(pod, { dryRun: true })).toEqual({ kind: 'evicted' });
    expect(await cluster.deletePod(pod, { gracePeriodSeconds: 3 })).toBe('deleted');
    expect(await cluster.listPdbs('ns')).toEqual([]);
    await cluster.recordEvent({ kind: 'Node', name: 'n1' }, { reason: 'R', message: 'm', type: 'Normal' });
    expect((await cluster.followNode?.('n1', () => {}))?.failed()).toBe(false);
    expect(await cluster.readPdb?.('ns', 'web')).toBeUndefined();

    expect(connects).toBe(1);
    expect(calls).toEqual([
      'findNode n1',
      'cordon n1 true',
      'listVolumeAttachments n1',
      'listPods n1 7',
      'evict p true',
      'deletePod p 3',
      'listPdbs ns',
      'recordEvent n1 R',
      'followNode n1',
      'readPdb ns web',
    ]);
  });

  it('connects again on the next call after a connection that failed', async () => {
    let connects = 0;
    const cluster = lazyCluster(async () => {
      if (++connects === 1) throw new Error('DescribeCluster: throttled');
      return recording([]);
    });

    await expect(cluster.findNode({ nodeName: 'n1' })).rejects.toThrow('DescribeCluster: throttled');
    expect(await cluster.findNode({ nodeName: 'n1' })).toBe('n');
    expect(await cluster.findNode({ nodeName: 'n1' })).toBe('n');

    expect(connects).toBe(2);
  });

  it('fails to follow a node or read one PDB with a client that cannot (the drain then lists, or waits)', async () => {
    const cluster = lazyCluster(async () => recording([], false));
    await expect(cluster.followNode?.('n1', () => {})).rejects.toThrow('this cluster client cannot watch');
    await expect(cluster.readPdb?.('ns', 'web')).rejects.toThrow('this cluster client cannot read one PDB');
  });
});
