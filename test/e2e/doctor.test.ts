import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AuthorizationV1Api,
  loadAllYaml,
  RbacAuthorizationV1Api,
  type V1ClusterRoleBinding,
  type V1ResourceAttributes,
  type V1RoleBinding,
} from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import type { CheckLine } from '../../lambda/check/report.js';
import { DRAINER_NAMESPACE, RBAC_FILE } from '../../lambda/contract.js';
import { CHECK_REQUEST, lifecycleEvent } from '../../lambda/event.js';
import { KubeTurns } from '../../lambda/kube/turns.js';
import { drainLeaseName } from '../../lambda/kube/turns-lease.js';
import type { DoctorReport } from '../../scripts/doctor/render.js';
import { main } from '../../scripts/doctor.js';
import { LocalAwsEndpoint } from '../../scripts/harness/aws-endpoint.js';
import { kubeConfigFor } from '../../scripts/harness/cluster.js';
import type { Workload } from '../../scripts/harness/workload.js';
import { main as invoke } from '../../scripts/invoke.js';
import { REPO_ROOT } from '../infra/support.js';
import { E2E_CLUSTER_NAME } from './global-setup.js';
import { deployDrainer, FUNCTION_NAME, setFunctionEnvironment, undeploy } from './support/deployed.js';
import { context, loadHandler, registerCluster } from './support/lambda.js';
import { createScenario } from './support/scenario.js';

const aws = new LocalAwsEndpoint();
let world: Workload | undefined;

beforeAll(async () => {
  await aws.start();
});
afterAll(async () => {
  await aws.stop();
});
afterEach(async () => {
  undeploy(aws);
  if (world) {
    await world.dispose();
    world = undefined;
  }
});

const TAGGED = { [`kubernetes.io/cluster/${E2E_CLUSTER_NAME}`]: 'owned' };

/** A node with two replicas behind a PDB that lets one go, in an ASG the drainer is deployed for. */
async function healthyCluster(prefix: string): Promise<{ w: Workload; asg: string }> {
  registerCluster(aws);
  const w = await createScenario(prefix);
  world = w;
  const labels = await w.deployment('web', 2);
  await w.pdb('web', labels, { minAvailable: 1 });
  await w.waitRunning(2);
  await w.waitPdb('web', (s) => s.disruptionsAllowed === 1);
  // the spare node is an instance of the same group
  const spareInstance = `i-${w.instanceId.slice(2, 10)}5a5e0000`;
  await w.core.patchNode({
    name: w.spare,
    body: [{ op: 'add', path: '/spec/providerID', value: `aws:///us-east-1a/${spareInstance}` }],
  });
  const asg = `${w.namespace}-asg`;
  aws.autoScalingGroups.groups.set(asg, { tags: TAGGED, instanceIds: [w.instanceId, spareInstance] });
  deployDrainer(aws, [asg]);
  return { w, asg };
}

/** Runs `npm run doctor` in this process against the local endpoint and the e2e cluster. */
async function doctor(
  args: readonly string[] = [],
  env: Record<string, string | undefined> = {},
): Promise<{ code: number; report: DoctorReport; text: string; err: string[] }> {
  for (const [key, value] of Object.entries({ ...aws.env(), ...env })) vi.stubEnv(key, value);
  const base = ['--cluster', E2E_CLUSTER_NAME, '--kubeconfig', inject('cluster').adminKubeconfig];
  const scoped = world ? ['--namespace', world.namespace] : [];
  const out: string[] = [];
  const err: string[] = [];
  const io = { out: (l: string) => out.push(l), err: (l: string) => err.push(l) };
  const code = await main([...base, ...scoped, ...args, '--json'], io, false);
  const report = JSON.parse(out.join('\n')) as DoctorReport;
  const textOut: string[] = [];
  await main([...base, ...scoped, ...args], { out: (l) => textOut.push(l), err: () => {} }, false);
  return { code, report, text: textOut.join('\n'), err };
}

const checks = (report: DoctorReport): CheckLine[] => report.sections.flatMap((s) => s.checks);
const failed = (report: DoctorReport): CheckLine[] => checks(report).filter((c) => c.status === 'fail');
const check = (report: DoctorReport, id: string): CheckLine | undefined =>
  checks(report).find((c) => c.id === id);

describe('npm run doctor against the local AWS endpoint and the real kube-apiserver', () => {
  it('passes every check for a healthy deployment (exit 0) and prints one line per check', async () => {
    const { asg } = await healthyCluster('doc-ok');

    const { code, report, text } = await doctor();

    expect(failed(report)).toEqual([]);
    expect(checks(report).filter((c) => c.status === 'warn')).toEqual([]);
    expect(code).toBe(0);
    expect(report.ok).toBe(true);
    expect(check(report, `asg.${asg}`)?.title).toContain('hook eks-node-drainer');
    expect(check(report, `rule.matches.${asg}`)?.status).toBe('pass');
    expect(check(report, 'function.identity')?.status).toBe('pass');
    // deployed without alarmTopicArn: the stack's default, said, not warned
    expect(check(report, 'stack.alarms')?.title).toMatch(
      /^\d+ alarm\(s\), none in ALARM; none notifies anyone/,
    );
    expect(check(report, 'function.permissions.pods/eviction')?.title).toBe('may create pods/eviction');
    expect(check(report, 'function.permissions.leases')?.title).toBe(
      'may get, list, watch, create, patch, delete leases.coordination.k8s.io in eks-node-drainer',
    );
    console.log(`\n--- sample: all ✔ (${inject('cluster').serverVersion}) ---\n${text}\n`);
    // the --json schema: sections and check ids are stable
    expect({
      schema: report.schema,
      keys: Object.keys(report).sort(),
      sections: report.sections.map((s) => ({
        id: s.id,
        status: s.status,
        checks: s.checks.map((c) => c.id.replace(asg, '<asg>').replace(/^(audit\.\w+)\..*/, '$1')),
      })),
    }).toMatchSnapshot();
  });

  it('fails with the missing verbs and the kubectl apply fix when the RBAC is not applied', async () => {
    await healthyCluster('doc-rbac');
    const admin = kubeConfigFor(inject('cluster'), 'admin');
    const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
    // the policy is delete (the default): both files' bindings; rbac.yaml's last, so that once the
    // authorizer has seen it go (untilGroupMay), it has seen the other go too
    const bindings = ['infra/k8s/rbac-delete-pods.yaml', 'infra/k8s/rbac.yaml'].map(
      (file) =>
        (loadAllYaml(readFileSync(join(REPO_ROOT, file), 'utf8')) as V1ClusterRoleBinding[]).find(
          (doc) => doc.kind === 'ClusterRoleBinding',
        ) as V1ClusterRoleBinding,
    );
    for (const binding of bindings) {
      await rbac.deleteClusterRoleBinding({ name: binding.metadata?.name as string });
    }
    try {
      await untilGroupMay(false);

      const { code, report, text } = await doctor();

      expect(code).toBe(1);
      // the ClusterRoles' lines fail; the Role's binding (the leases) is still there
      const permissions = checks(report).filter(
        (c) => c.id.startsWith('function.permissions.') && c.id !== 'function.permissions.leases',
      );
      expect(permissions).toHaveLength(6);
      expect(check(report, 'function.permissions.leases')?.status).toBe('pass');
      expect(
        permissions.every(
          (c) =>
            c.status === 'fail' &&
            c.fix === 'kubectl apply -f infra/k8s/rbac.yaml -f infra/k8s/rbac-delete-pods.yaml',
        ),
      ).toBe(true);
      expect(check(report, 'function.permissions.pods/eviction')?.title).toBe('may not create pods/eviction');
      expect(check(report, 'function.permissions.nodes')?.title).toBe('may not get, list, patch nodes');
      expect(check(report, 'function.permissions.pods')?.title).toBe('may not get, list, watch, delete pods');
      expect(text).toContain('✘ may not create pods/eviction');
      console.log(`\n--- sample: RBAC not applied (${inject('cluster').serverVersion}) ---\n${text}\n`);
    } finally {
      // rbac.yaml's last again: allowed to list nodes means both are back
      for (const body of bindings) await rbac.createClusterRoleBinding({ body });
      await untilGroupMay(true);
    }
  });

  it('only warns without the leases grant (exit 0): drains will not take turns; the fix applies the RBAC', async () => {
    await healthyCluster('doc-turns');
    const rbac = kubeConfigFor(inject('cluster'), 'admin').makeApiClient(RbacAuthorizationV1Api);
    const binding = (loadAllYaml(readFileSync(join(REPO_ROOT, RBAC_FILE), 'utf8')) as V1RoleBinding[]).find(
      (doc) => doc.kind === 'RoleBinding',
    ) as V1RoleBinding;
    const name = binding.metadata?.name as string;
    await rbac.deleteNamespacedRoleBinding({ name, namespace: DRAINER_NAMESPACE });
    try {
      await untilGroupMay(false, LEASES_CREATE);

      const { code, report, text } = await doctor();

      expect(code).toBe(0);
      expect(report.ok).toBe(true);
      expect(failed(report)).toEqual([]);
      expect(checks(report).filter((c) => c.status === 'warn')).toEqual([
        {
          id: 'function.permissions.leases',
          status: 'warn',
          title:
            'may not get, list, watch, create, patch, delete leases.coordination.k8s.io in eks-node-drainer: ' +
            'drains that share a PDB will not take turns (each races for its disruptions, uncoordinated)',
          fix: 'kubectl apply -f infra/k8s/rbac.yaml -f infra/k8s/rbac-delete-pods.yaml',
        },
      ]);
      expect(text).toContain('⚠ may not get, list, watch, create, patch, delete leases');
      console.log(`\n--- sample: no leases grant (${inject('cluster').serverVersion}) ---\n${text}\n`);
    } finally {
      await rbac.createNamespacedRoleBinding({ namespace: DRAINER_NAMESPACE, body: binding });
      await untilGroupMay(true, LEASES_CREATE);
    }
  });

  it('warns of ticket leases left by drains that ended (node gone, not renewed for 10 min), with the delete command', async () => {
    const { w } = await healthyCluster('doc-tickets');
    const admin = kubeConfigFor(inject('cluster'), 'admin');
    const ago = (minutes: number) => () => Date.now() - minutes * 60_000;
    const pdb = `${w.namespace}/web`;
    const gone = `${w.namespace}-gone`;
    // as the drainer writes them (lambda/kube/turns.ts), with the holder's clock set back
    const leases = [
      new KubeTurns(admin, gone, ago(20)), // its node is gone: left behind
      new KubeTurns(admin, w.node, ago(20)), // queued long ago, its node still there: may be waiting
      new KubeTurns(admin, `${w.namespace}-just-gone`, ago(2)), // renewed recently
    ];
    // only another namespace's PDB: out of --namespace, as its PDB is
    const elsewhere = new KubeTurns(admin, `${w.namespace}-gone-too`, ago(20));
    try {
      for (const lease of leases) await lease.take(pdb);
      await leases[0]?.take('elsewhere/web');
      await elsewhere.take('elsewhere/web');

      const { code, report } = await doctor();

      expect(code).toBe(0);
      const left = drainLeaseName(gone);
      expect(check(report, 'audit.tickets')).toEqual({
        id: 'audit.tickets',
        status: 'warn',
        title:
          '1 lease(s) of PDB turn tickets in namespace eks-node-drainer left by drains that ended without giving them back (node gone, not renewed for 10 min): other drains pass them over, but they are clutter',
        details: [
          expect.stringMatching(
            new RegExp(
              `^lease ${left}: PDB ${pdb}, elsewhere/web, node ${gone}, last renewed .* \\(20 min ago\\)$`,
            ),
          ),
        ],
        fix: `kubectl -n eks-node-drainer delete lease ${left}`,
      });
      expect(
        checks(report)
          .filter((c) => c.status !== 'pass')
          .map((c) => c.id),
      ).toEqual(['audit.tickets']);
    } finally {
      for (const lease of leases) await lease.release(pdb);
      await leases[0]?.release('elsewhere/web');
      await elsewhere.release('elsewhere/web');
    }
  });

  it('fails for an Auto Scaling group tagged for the cluster without the hook, with the deploy fix', async () => {
    const { w, asg } = await healthyCluster('doc-nohook');
    const orphan = `${w.namespace}-orphan`;
    aws.autoScalingGroups.groups.set(orphan, { tags: { 'eks:cluster-name': E2E_CLUSTER_NAME } });

    const { code, report } = await doctor();

    expect(code).toBe(1);
    expect(check(report, `asg.${orphan}`)).toMatchObject({
      status: 'fail',
      fix: `npx cdk deploy -c clusterName=${E2E_CLUSTER_NAME} -c autoScalingGroupNames=${[asg, orphan].sort().join(',')}`,
    });
    expect(check(report, `asg.${orphan}`)?.title).toContain('has no termination hook eks-node-drainer');
    // the rule names only the deployed group: a real-shaped event of the other one does not match
    expect(check(report, `rule.matches.${orphan}`)?.status).toBe('fail');
    expect(check(report, `asg.${asg}`)?.status).toBe('pass');
  });

  it('fails when the rule pattern does not match a lifecycle event of a covered group', async () => {
    const { asg } = await healthyCluster('doc-rule');
    const rule = [...aws.eventBridge.rules.entries()][0];
    if (!rule) throw new Error('no rule deployed');
    const pattern = JSON.parse(rule[1].eventPattern) as { detail: Record<string, unknown> };
    // a drifted rule: it waits for a hook of another name
    pattern.detail.LifecycleHookName = ['another-hook'];
    aws.eventBridge.rules.set(rule[0], { ...rule[1], eventPattern: JSON.stringify(pattern) });

    const { code, report } = await doctor();

    expect(code).toBe(1);
    expect(check(report, `rule.matches.${asg}`)).toMatchObject({ status: 'fail' });
    expect(check(report, 'rule.enabled')?.status).toBe('pass');
  });

  it('fails for a PDB with maxUnavailable: 0, naming the node it blocks and for how long', async () => {
    const { w } = await healthyCluster('doc-pdb0');
    const labels = await w.deployment('db', 1);
    await w.pdb('db', labels, { maxUnavailable: 0 });
    await w.waitRunning(3);
    await w.waitPdb('db', (s) => s.currentHealthy === 1);

    const { code, report, text } = await doctor();

    expect(code).toBe(1);
    const line = check(report, `audit.pdb.${w.namespace}/db`);
    expect(line).toMatchObject({ status: 'fail' });
    expect(line?.title).toContain('maxUnavailable: 0');
    expect(line?.details?.[0]).toBe(
      `blocks node(s) ${w.node} for up to 900 s, then ON_DRAIN_TIMEOUT=delete deletes the pod past its PDB`,
    );
    expect(line?.fix).toBe(
      `kubectl -n ${w.namespace} patch pdb db --type merge -p '{"spec":{"maxUnavailable":1}}'`,
    );
    console.log(`\n--- sample: a failing run (${inject('cluster').serverVersion}) ---\n${text}\n`);
  });

  it('fails for a pod selected by two PDBs', async () => {
    const { w } = await healthyCluster('doc-2pdb');
    await w.pdb('web-too', { app: 'web' }, { maxUnavailable: 1 });
    await w.waitPdb('web-too', (s) => s.currentHealthy === 2);

    const { code, report } = await doctor();

    expect(code).toBe(1);
    const overlap = failed(report).filter((c) => c.id.startsWith('audit.overlap.'));
    expect(overlap).toHaveLength(1);
    expect(overlap[0]?.title).toBe(
      `2 pod(s) in ${w.namespace} selected by 2 PDBs (web, web-too): the Eviction API refuses them until only one selects them`,
    );
  });

  it('fails for a non-empty dead-letter queue, with how many events and the oldest', async () => {
    const { asg } = await healthyCluster('doc-dlq');
    const { queueUrl } = { queueUrl: [...aws.sqs.queues.keys()][0] as string };
    const sentAt = Date.parse('2026-11-30T10:00:00Z');
    const event = lifecycleEvent({
      autoScalingGroupName: asg,
      hookName: 'eks-node-drainer',
      instanceId: 'i-0abc12345678',
    });
    aws.sqs.queues.set(queueUrl, [
      { body: JSON.stringify({ requestPayload: event }), sentAt },
      { body: '{}', sentAt: sentAt + 60_000 },
    ]);

    const { code, report } = await doctor();

    expect(code).toBe(1);
    const dlq = check(report, 'stack.dead-letter-queue');
    expect(dlq?.status).toBe('fail');
    expect(dlq?.title).toMatch(
      /^2 event\(s\) in the dead-letter queue, oldest from 2026-11-30T10:00:00.000Z/,
    );
    expect(dlq?.details).toEqual([`oldest: instance i-0abc12345678 of ASG ${asg}`]);
    expect(dlq?.fix).toContain(`aws sqs purge-queue --queue-url ${queueUrl}`);
    // a peek: the events are still there, and still visible to a consumer after the doctor's reads
    expect(aws.sqs.visibleMessages(queueUrl)).toHaveLength(2);
  });

  it('fails with the deploy command when no stack exists, and still checks the function given', async () => {
    const { asg } = await healthyCluster('doc-nostack');
    aws.cloudFormation.stacks.clear();

    // the region from the command line only: every call, the function's invoke too, goes there
    const { code, report } = await doctor(['--function', FUNCTION_NAME, '--region', 'us-east-1'], {
      AWS_REGION: undefined,
    });

    expect(code).toBe(1);
    expect(check(report, 'stack.deployed')).toMatchObject({
      status: 'fail',
      title: `no stack EksNodeDrainer-${E2E_CLUSTER_NAME} in us-east-1: the drainer is not deployed for cluster ${E2E_CLUSTER_NAME}`,
      fix: `npx cdk deploy -c clusterName=${E2E_CLUSTER_NAME} -c autoScalingGroupNames=${asg}`,
    });
    expect(check(report, 'function.identity')?.status).toBe('pass');
  });

  it('fails the configuration and the check request of a function whose environment it would refuse', async () => {
    await healthyCluster('doc-env');
    const environment = aws.functionEnvironments.get(FUNCTION_NAME) ?? {};
    // as a deployed function with a hand-edited environment: its cold start fails
    setFunctionEnvironment(aws, { ...environment, DRAIN_TIMEOUT_SECONDS: '5' });

    const { code, report } = await doctor();

    expect(code).toBe(1);
    const message = 'DRAIN_TIMEOUT_SECONDS must be a whole number between 30 and 172800, got "5"';
    expect(check(report, 'stack.function-config')?.title).toBe(
      `function ${FUNCTION_NAME}: invalid configuration: ${message}`,
    );
    expect(check(report, 'function.invoke')).toMatchObject({ status: 'fail' });
    expect(check(report, 'function.invoke')?.title).toContain(message);
  });

  it('warns and skips the audit when the kubeconfig points at another cluster', async () => {
    await healthyCluster('doc-kubeconfig');
    const other = join(mkdtempSync(join(tmpdir(), 'doctor-')), 'kubeconfig');
    writeFileSync(
      other,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1' } }],
        users: [{ name: 'u', user: { token: 'x' } }],
        contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'ctx',
      }),
    );

    const { code, report } = await doctor(['--kubeconfig', other]);

    expect(code).toBe(0);
    const audit = report.sections.find((s) => s.id === 'audit');
    expect(audit?.checks).toEqual([
      expect.objectContaining({
        id: 'audit.kubeconfig',
        status: 'warn',
        title: expect.stringMatching(
          /^not audited: the kubeconfig's cluster https:\/\/127\.0\.0\.1:1 is not drainer-e2e's endpoint/,
        ),
      }),
    ]);
  });

  it('stops with a clear message (no stack trace) for an unknown cluster', async () => {
    registerCluster(aws);

    for (const [key, value] of Object.entries(aws.env())) vi.stubEnv(key, value);
    const out: string[] = [];
    const code = await main(
      ['--cluster', 'no-such-cluster'],
      { out: (l) => out.push(l), err: () => {} },
      false,
    );

    expect(code).toBe(1);
    expect(out.join('\n')).toContain(
      '✘ no EKS cluster no-such-cluster in us-east-1 (check --cluster and --region, or AWS_REGION)',
    );
    expect(out.join('\n')).not.toMatch(/\n\s+at /);
  });
});

describe('the check request through the real handler, as group eks-node-drainer', () => {
  it('answers outcome check with every check passed, and calls no lifecycle action and writes nothing', async () => {
    registerCluster(aws);
    const handler = await loadHandler(aws);
    const before = aws.calls.length;

    const summary = await handler({ ...CHECK_REQUEST }, context());

    expect(summary.outcome).toBe('check');
    expect(summary.lifecycleResult).toBeNull();
    expect(summary.check?.checks.map((c) => [c.id, c.status])).toEqual([
      ['function.describe-cluster', 'pass'],
      ['function.api-server', 'pass'],
      ['function.identity', 'pass'],
      ['function.eviction-api', 'pass'],
      ['function.permissions.nodes', 'pass'],
      ['function.permissions.pods', 'pass'],
      ['function.permissions.pods/eviction', 'pass'],
      ['function.permissions.poddisruptionbudgets', 'pass'],
      ['function.permissions.volumeattachments', 'pass'],
      ['function.permissions.events', 'pass'],
      // the Role grants the leases in eks-node-drainer only: the review asks there
      ['function.permissions.leases', 'pass'],
      // 1.20: pods delete (rbac-delete-pods.yaml is applied); 1.28+: the out-of-service taint
      ['function.lost-nodes', 'pass'],
    ]);
    const version = inject('cluster').version;
    expect(summary.check?.checks[3]?.title).toBe(
      `Eviction API served as policy/${version === '1.20' ? 'v1beta1' : 'v1'}`,
    );
    expect(summary.check?.checks[2]?.title).toEqual(
      version === '1.20'
        ? 'token accepted (SelfSubjectRulesReview; this server has no SelfSubjectReview to name the user)'
        : expect.stringMatching(/^token accepted as .* \(groups .*eks-node-drainer/),
    );
    // no lifecycle call, nothing but DescribeCluster
    expect(aws.calls.slice(before).map((c) => c.action)).toEqual(['DescribeCluster']);
  });

  it('is reachable as npm run invoke -- --check, through the deployed function', async () => {
    registerCluster(aws);
    deployDrainer(aws, ['invoke-check-asg']);
    for (const [key, value] of Object.entries(aws.env())) vi.stubEnv(key, value);
    const out: string[] = [];

    const code = await invoke(['--check', '--function', FUNCTION_NAME], process.env, {
      out: (l) => out.push(l),
      err: () => {},
    });

    expect(code).toBe(0);
    expect(out.join('\n')).toContain('  ✔ may create pods/eviction');
    expect(aws.callsOf('lambda', 'Invoke').at(-1)?.body).toEqual(CHECK_REQUEST);
  });

  it('fails every cluster check, naming the cause, when DescribeCluster fails', async () => {
    registerCluster(aws);
    const handler = await loadHandler(aws);
    aws.failNext('eks', 'DescribeCluster', {
      status: 403,
      code: 'AccessDeniedException',
      message: 'not authorized',
    });

    const summary = await handler({ ...CHECK_REQUEST }, context());

    expect(summary.outcome).toBe('check');
    expect(summary.check?.checks[0]).toMatchObject({ id: 'function.describe-cluster', status: 'fail' });
    expect(summary.check?.checks.slice(1).every((c) => c.title === 'not checked: no cluster endpoint')).toBe(
      true,
    );
    // what the drain can do without (the leases) is a warning unchecked too
    expect(summary.check?.checks.filter((c) => c.status !== 'fail').map((c) => [c.id, c.status])).toEqual([
      ['function.permissions.leases', 'warn'],
      ['function.lost-nodes', 'warn'],
    ]);
  });
});

const LEASES_CREATE: V1ResourceAttributes = {
  group: 'coordination.k8s.io',
  resource: 'leases',
  verb: 'create',
  namespace: DRAINER_NAMESPACE,
};

/** Waits until RBAC lets group eks-node-drainer list nodes, or do `what` (or no longer does). */
async function untilGroupMay(
  allowed: boolean,
  what: V1ResourceAttributes = { verb: 'list', resource: 'nodes' },
): Promise<void> {
  const authz = kubeConfigFor(inject('cluster'), 'admin').makeApiClient(AuthorizationV1Api);
  for (let i = 0; i < 100; i++) {
    const review = await authz.createSubjectAccessReview({
      body: {
        spec: {
          user: 'x',
          groups: ['eks-node-drainer'],
          resourceAttributes: what,
        },
      },
    });
    if ((review.status?.allowed === true) === allowed) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`RBAC did not become ${allowed ? 'allowing' : 'denying'}`);
}
