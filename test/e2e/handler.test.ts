import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { DRAINER_KEY, parseEvent } from '../../lambda/event.js';
import { LocalAwsEndpoint } from '../../scripts/harness/aws-endpoint.js';
import { freePorts } from '../../scripts/harness/cluster.js';
import { LocalSns } from '../../scripts/harness/sns.js';
import type { Workload } from '../../scripts/harness/workload.js';
import { mutatedEvent, seededRandom, validEvent, withDetail } from '../support/events.js';
import { E2E_CLUSTER_NAME } from './global-setup.js';
import {
  captureLogs,
  context,
  DelayedProxy,
  FUNCTION_ARN,
  lifecycleAction,
  lifecycleEvent,
  loadHandler,
  registerCluster,
  restoreEnv,
  webhookControl,
} from './support/lambda.js';
import { createScenario } from './support/scenario.js';
import { fillReady, fillStuck } from './support/worlds.js';

const aws = new LocalAwsEndpoint();
let world: Workload | undefined;
/** The drain notifications' topic, on the local SNS endpoint. */
const TOPIC = 'arn:aws:sns:us-east-1:000000000000:drains';
const notifyingTo = (topic = TOPIC) => ({ NOTIFICATION_TOPIC_ARN: topic });

/** The messages published about this instance's drain. */
function notificationsOf(instanceId: string) {
  return aws.sns.published.filter((m) => m.attributes.instanceId === instanceId);
}

beforeAll(async () => {
  await aws.start();
  aws.sns.topics.add(TOPIC);
});
afterAll(async () => {
  await aws.stop();
});
afterEach(async () => {
  registerCluster(aws);
  if (world) {
    expect(world.sim.failures).toEqual([]);
    await world.dispose();
    world = undefined;
  }
});

/** A node with a PDB-guarded deployment and a bare pod, ready to drain. */
async function readyWorld(prefix: string): Promise<Workload> {
  world = await createScenario(prefix);
  return fillReady(world);
}

/** A node whose only pod no PDB lets go. */
async function stuckWorld(prefix: string): Promise<Workload> {
  world = await createScenario(prefix);
  return fillStuck(world);
}

/** A fresh self-signed CA certificate (PEM) that signed nothing the cluster serves. */
function unrelatedCa(): string {
  const dir = mkdtempSync(join(tmpdir(), 'drainer-wrong-ca-'));
  try {
    const [key, cert] = [join(dir, 'ca.key'), join(dir, 'ca.crt')];
    const subject = '/CN=not-the-cluster-ca';
    const curve = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];
    execFileSync(
      'openssl',
      ['req', '-x509', ...curve, '-nodes', '-keyout', key, '-out', cert, '-subj', subject],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    return readFileSync(cert, 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('handler, end to end: lifecycle event → local AWS endpoint → real kube-apiserver', () => {
  it('drains the node with the real EKS token and completes the action once with CONTINUE', async () => {
    registerCluster(aws);
    const handler = await loadHandler(aws, { LOG_LEVEL: 'info', ...notifyingTo() });
    const w = await readyWorld('h-drained');
    const action = lifecycleAction(aws, w);
    const reviewsBefore = ((await webhookControl('/reviews')) as unknown[]).length;

    const { result, lines } = await captureLogs(() => handler(lifecycleEvent(action), context()));

    expect(result.outcome).toBe('drained');
    expect(result.lifecycleResult).toBe('CONTINUE');
    expect(result.report?.evicted).toHaveLength(3);
    const completions = aws.callsOf('autoscaling', 'CompleteLifecycleAction');
    expect(completions.filter((c) => c.params.LifecycleActionToken === action.token)).toHaveLength(1);
    expect(completions.at(-1)?.params).toMatchObject({
      AutoScalingGroupName: action.autoScalingGroupName,
      LifecycleHookName: 'eks-node-drainer',
      InstanceId: action.instanceId,
      LifecycleActionResult: 'CONTINUE',
    });
    expect(action.result).toBe('CONTINUE');
    expect(action.heartbeats).toBeGreaterThanOrEqual(1);
    expect(aws.callsOf('ec2', 'DescribeInstances').at(-1)?.params['InstanceId.1']).toBe(action.instanceId);
    // every Kubernetes request was authenticated by the webhook from a real presigned STS token
    const reviews = ((await webhookControl('/reviews')) as { authenticated: boolean }[]).slice(reviewsBefore);
    expect(reviews.length).toBeGreaterThan(0);
    expect(reviews.every((r) => r.authenticated)).toBe(true);
    const metrics = lines.filter((l) => l._aws !== undefined);
    expect(metrics).toEqual([
      expect.objectContaining({
        Cluster: 'drainer-e2e',
        AutoScalingGroup: action.autoScalingGroupName,
        PodsEvicted: 3,
      }),
    ]);
    const final = lines.filter((l) => l.message === 'invocation finished');
    expect(final).toHaveLength(1);
    expect(final[0]).toMatchObject({
      outcome: 'drained',
      lifecycleResult: 'CONTINUE',
      instanceId: action.instanceId,
      asgName: action.autoScalingGroupName,
      hookName: 'eks-node-drainer',
      node: w.node,
    });
    // a clean drain is no problem: with the default NOTIFY_ON=problems nobody is told
    expect(notificationsOf(action.instanceId)).toEqual([]);
  });

  it('completes CONTINUE promptly when no node belongs to the instance', async () => {
    registerCluster(aws);
    const handler = await loadHandler(aws, notifyingTo());
    world = await createScenario('h-no-node');
    const action = lifecycleAction(aws, world, false);
    await world.core.deleteNode({ name: world.node });

    const started = Date.now();
    const result = await handler(lifecycleEvent(action), context());

    expect(result.outcome).toBe('node-not-found');
    expect(action.result).toBe('CONTINUE');
    expect(Date.now() - started).toBeLessThan(5_000);
    // the instance goes and nothing was drained: told once
    expect(notificationsOf(action.instanceId).map((m) => m.attributes.outcome)).toEqual(['node-not-found']);
  });

  describe.each([
    ['delete', 'deadline-deleted', 'CONTINUE'],
    ['continue', 'deadline-continued', 'CONTINUE'],
    ['abandon', 'deadline-abandoned', 'ABANDON'],
  ] as const)('with ON_DRAIN_TIMEOUT=%s', (policy, outcome, result) => {
    it(`ends ${outcome}, completes ${result} and tells the topic once when a PDB blocks until the deadline`, async () => {
      registerCluster(aws);
      const handler = await loadHandler(aws, {
        ...notifyingTo(),
        ON_DRAIN_TIMEOUT: policy,
        DRAIN_TIMEOUT_SECONDS: '30',
        MIN_EVICTION_WINDOW_SECONDS: '1',
      });
      const w = await stuckWorld(`h-${policy}`);
      const action = lifecycleAction(aws, w);
      // the lifecycle action began 27 s ago: 3 s of the 30 s drain budget are left
      const event = lifecycleEvent(action, new Date(Date.now() - 27_000));

      const summary = await handler(event, context());

      expect(summary.outcome).toBe(outcome);
      expect(summary.report?.blocked[0]).toMatchObject({
        reason: 'pdb',
        pdbs: [{ name: 'db', disruptionsAllowed: 0 }],
      });
      expect(action.result).toBe(result);
      expect(
        aws
          .callsOf('autoscaling', 'CompleteLifecycleAction')
          .filter((c) => c.params.LifecycleActionToken === action.token),
      ).toHaveLength(1);
      expect(await w.podsOn()).toHaveLength(policy === 'delete' ? 0 : 1);
      // one message, sent after the lifecycle action was completed, naming the pod, its PDB, and what was deleted
      const messages = notificationsOf(action.instanceId);
      expect(messages).toHaveLength(1);
      const [message] = messages;
      if (!message) throw new Error('no notification');
      expect(message.at).toBeGreaterThanOrEqual(
        aws.callsOf('autoscaling', 'CompleteLifecycleAction').at(-1)?.at ?? Number.POSITIVE_INFINITY,
      );
      expect(message.attributes).toMatchObject({
        outcome,
        cluster: E2E_CLUSTER_NAME,
        severity: 'problem',
        node: w.node,
      });
      expect(message.subject).toBe(`[${E2E_CLUSTER_NAME}] drain ${outcome}: ${w.node}`);
      const details = JSON.parse(LocalSns.deliveredTo(message, 'sqs'));
      expect(details).toMatchObject({
        lifecycleResult: result,
        autoScalingGroup: action.autoScalingGroupName,
      });
      const pod = summary.report?.blocked[0]?.pod;
      expect(pod).toMatch(new RegExp(`^${w.namespace}/db-`));
      expect(details.pods.blocked).toEqual([
        expect.objectContaining({ pod, reason: 'pdb', pdbs: [{ name: 'db', disruptionsAllowed: 0 }] }),
      ]);
      expect(details.pods.deleted).toEqual(policy === 'delete' ? [pod] : []);
      const email = LocalSns.deliveredTo(message, 'email');
      expect(email).toContain('[pdb; db: 0]');
      expect(email).toContain(`filter instanceId = "${action.instanceId}"`);
    });
  });

  describe('leaves no environment behind', () => {
    it('sets the drainer settings a test asks for while that test runs', async () => {
      await loadHandler(aws, { ON_DRAIN_TIMEOUT: 'abandon', DRAIN_TIMEOUT_SECONDS: '30' });

      expect(process.env.ON_DRAIN_TIMEOUT).toBe('abandon');
      expect(process.env.DRAIN_TIMEOUT_SECONDS).toBe('30');
    });

    it('gives a handler loaded by a later test the default deadline and deadline policy', async () => {
      expect(process.env.ON_DRAIN_TIMEOUT).toBeUndefined();
      expect(process.env.DRAIN_TIMEOUT_SECONDS).toBeUndefined();
      registerCluster(aws);
      // only the eviction window is shortened, so that the test does not wait a minute for it
      const handler = await loadHandler(aws, { MIN_EVICTION_WINDOW_SECONDS: '1' });
      const w = await stuckWorld('h-defaults');
      const action = lifecycleAction(aws, w);
      // 897 s ago: with the default 900 s drain timeout, 3 s are left (with a leaked 30 s, none)
      const event = lifecycleEvent(action, new Date(Date.now() - 897_000));

      const summary = await handler(event, context());

      // the default policy, delete: blocked pods deleted gracefully, then CONTINUE
      expect(summary.outcome).toBe('deadline-deleted');
      expect(action.result).toBe('CONTINUE');
      expect(summary.report?.durationMs).toBeGreaterThanOrEqual(900_000);
      expect(summary.report?.durationMs).toBeLessThan(900_000 + 60_000);
    });

    it('puts back the environment with restoreEnv', async () => {
      const before = { ...process.env };
      await loadHandler(aws, { ON_DRAIN_TIMEOUT: 'continue' });

      restoreEnv();

      expect({ ...process.env }).toEqual(before);
    });
  });

  it('ignores a test notification without calling AWS or the cluster', async () => {
    const handler = await loadHandler(aws);
    const calls = aws.calls.length;

    const summary = await handler(
      {
        source: 'aws.autoscaling',
        'detail-type': 'EC2 Instance-terminate Lifecycle Action',
        detail: { Event: 'autoscaling:TEST_NOTIFICATION', AutoScalingGroupName: 'a' },
      },
      context(),
    );

    expect(summary).toEqual({ outcome: 'ignored', lifecycleResult: null });
    expect(aws.calls.length).toBe(calls);
  });

  it('answers each malformed event with invalid-event and no AWS or cluster call', async () => {
    const handler = await loadHandler(aws);
    const calls = aws.calls.length;
    const broken = [
      null,
      'not json',
      { ...validEvent(), source: 'aws.s3' },
      { ...validEvent(), detail: 'x' },
      withDetail({ LifecycleActionToken: 'not a token' }),
      withDetail({ EC2InstanceId: 'i-nothex' }),
      withDetail({ AutoScalingGroupName: 12 }),
      withDetail({ LifecycleHookName: '' }),
      { ...validEvent(), time: 'soon' },
    ];

    const outcomes = await Promise.all(broken.map((event) => handler(event, context())));

    expect(outcomes.map((o) => o.outcome)).toEqual(broken.map(() => 'invalid-event'));
    expect(aws.calls.length).toBe(calls);
  });

  it('never throws and calls nothing for randomized mutations the schema refuses', async () => {
    const handler = await loadHandler(aws);
    const random = seededRandom(7);
    const calls = aws.calls.length;
    let refused = 0;
    for (let i = 0; i < 200; i++) {
      const { event } = mutatedEvent(random);
      if (parseEvent(event).kind === 'action') continue; // still a valid action: not this test's business
      const summary = await handler(event, context());
      expect(['invalid-event', 'ignored']).toContain(summary.outcome);
      refused++;
    }
    expect(refused).toBeGreaterThan(100);
    expect(aws.calls.length).toBe(calls);
  });

  it('is harmless when the same event arrives twice in a row', async () => {
    registerCluster(aws);
    const handler = await loadHandler(aws);
    const w = await readyWorld('h-dup-seq');
    const action = lifecycleAction(aws, w);
    const event = lifecycleEvent(action);

    const first = await handler(event, context());
    const second = await handler(event, context());

    expect(first.outcome).toBe('drained');
    // its first heartbeat finds no active action: nothing is drained a second time
    expect(second.outcome).toBe('already-completed');
    expect(second.report).toBeUndefined();
    expect(action.result).toBe('CONTINUE');
  });

  it('is harmless when the same event is delivered twice at once', async () => {
    registerCluster(aws);
    const handler = await loadHandler(aws);
    const w = await readyWorld('h-dup-par');
    const health = w.sim.monitor(w.namespace, { app: 'web' });
    const action = lifecycleAction(aws, w);
    const event = lifecycleEvent(action);

    const results = await Promise.all([handler(event, context()), handler(event, context())]);

    // one drain: the other delivery finds the node's job held, joins it and sends no eviction at all
    expect(results.map((r) => r.outcome).sort()).toEqual(['drained', 'joined']);
    const duplicate = results.find((r) => r.outcome === 'joined');
    expect(duplicate?.report).toBeUndefined();
    expect(duplicate?.lifecycleResult).toBeNull();
    expect(action.result).toBe('CONTINUE');
    expect(health.minHealthy).toBeGreaterThanOrEqual(1);
    // nothing but the node's original pods was ever terminated: no replacement was evicted
    const terminated = [...w.sim.terminations.values()];
    expect(terminated).toHaveLength(3);
    expect(terminated.every((t) => t.node === w.node)).toBe(true);
  });

  it('tells a drain once with NOTIFY_ON=all when the same event is delivered twice at once', async () => {
    registerCluster(aws);
    const handler = await loadHandler(aws, { ...notifyingTo(), NOTIFY_ON: 'all' });
    const w = await readyWorld('h-dup-notify');
    const action = lifecycleAction(aws, w);
    const event = lifecycleEvent(action);

    const results = await Promise.all([handler(event, context()), handler(event, context())]);

    expect(results.map((r) => r.outcome).sort()).toEqual(['drained', 'joined']);
    // the holder that ended the job tells; the delivery that joined it does not
    const messages = notificationsOf(action.instanceId);
    expect(messages.map((m) => m.attributes.outcome)).toEqual(['drained']);
    expect(messages[0]?.attributes.severity).toBe('info');
    // a third, late delivery finds the action completed and drains nothing: nothing more is told
    expect((await handler(event, context())).outcome).toBe('already-completed');
    expect(notificationsOf(action.instanceId)).toHaveLength(1);
  });

  it('completes the lifecycle action and warns when the topic cannot be reached', async () => {
    const [closed = 0] = await freePorts(1);
    registerCluster(aws);
    const handler = await loadHandler(aws, {
      ...notifyingTo(),
      // nothing listens there
      AWS_ENDPOINT_URL_SNS: `http://127.0.0.1:${closed}`,
      ON_DRAIN_TIMEOUT: 'continue',
      DRAIN_TIMEOUT_SECONDS: '30',
      MIN_EVICTION_WINDOW_SECONDS: '1',
      LOG_LEVEL: 'warn',
    });
    const w = await stuckWorld('h-notify-down');
    const action = lifecycleAction(aws, w);

    const { result, lines } = await captureLogs(() =>
      handler(lifecycleEvent(action, new Date(Date.now() - 27_000)), context()),
    );

    expect(result.outcome).toBe('deadline-continued');
    expect(action.result).toBe('CONTINUE');
    expect(notificationsOf(action.instanceId)).toEqual([]);
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        message: 'drain notification failed',
        topicArn: TOPIC,
        instanceId: action.instanceId,
        error: expect.stringMatching(/ECONNREFUSED/),
      }),
    );
    expect(lines).toContainEqual(
      expect.objectContaining({ NotificationsFailed: 1, Cluster: E2E_CLUSTER_NAME }),
    );
  });

  it('reports already-completed when the action was completed before', async () => {
    registerCluster(aws);
    const handler = await loadHandler(aws);
    world = await createScenario('h-done');
    const action = lifecycleAction(aws, world);
    action.result = 'CONTINUE';

    const summary = await handler(lifecycleEvent(action), context());

    expect(summary.outcome).toBe('already-completed');
  });

  it('waits out an API server that is down at the start and comes back within the deadline', async () => {
    const [port = 0] = await freePorts(1);
    registerCluster(aws, `https://127.0.0.1:${port}`);
    const handler = await loadHandler(aws);
    const w = await readyWorld('h-down');
    const real = new URL(w.info.server);
    const relay = new DelayedProxy(port, { host: real.hostname, port: Number(real.port) });
    const action = lifecycleAction(aws, w);
    setTimeout(() => void relay.open(), 2_000);

    try {
      const summary = await handler(lifecycleEvent(action), context());

      expect(summary.outcome).toBe('drained');
      expect(summary.report?.errors.join('\n')).toMatch(/unreachable/);
      expect(action.result).toBe('CONTINUE');
    } finally {
      await relay.close();
    }
  });

  it('re-signs its token once after a 401, with a token that differs from the refused one, and goes on', async () => {
    registerCluster(aws);
    // a drain that does not recover from the 401 ends at the deadline, not at the test timeout
    const handler = await loadHandler(aws, { DRAIN_TIMEOUT_SECONDS: '30' });
    const w = await readyWorld('h-401');
    const action = lifecycleAction(aws, w);
    const before = ((await webhookControl('/reviews')) as unknown[]).length;
    // the first token the webhook sees is refused, and refused again whenever it comes back
    await webhookControl('/reject-token?count=1', 'POST');

    const summary = await handler(lifecycleEvent(action), context());

    expect(summary.outcome).toBe('drained');
    expect(summary.report?.errors).toEqual([]);
    const reviews = (
      (await webhookControl('/reviews')) as { authenticated: boolean; reason?: string; token: string }[]
    ).slice(before);
    expect(reviews[0]).toMatchObject({ authenticated: false, reason: 'token refused by test' });
    // exactly one refusal: the retry carried a newly signed token, and every later request a good one
    expect(reviews.slice(1).length).toBeGreaterThan(0);
    expect(reviews.slice(1).every((r) => r.authenticated)).toBe(true);
    expect(reviews[1]?.token).not.toBe(reviews[0]?.token);
  });

  it('continues in a new invocation before its own time runs out, and the continuation finishes and tells', async () => {
    registerCluster(aws);
    const handler = await loadHandler(aws, { ...notifyingTo(), NOTIFY_ON: 'all' });
    const w = await stuckWorld('h-continue');
    const action = lifecycleAction(aws, w);
    const event = lifecycleEvent(action);
    const invocations = aws.invocations.length;

    const first = await handler(event, context(3_000));

    expect(first.outcome).toBe('continued-in-new-invocation');
    expect(first.lifecycleResult).toBeNull();
    expect(action.result).toBeUndefined();
    const handover = aws.invocations[invocations];
    expect(aws.invocations).toHaveLength(invocations + 1);
    expect(handover?.functionName).toBe(FUNCTION_ARN);
    expect(aws.callsOf('lambda', 'Invoke').at(-1)?.params.type).toBe('Event');
    const payload = handover?.payload as Record<string, unknown>;
    expect(payload.detail).toEqual(event.detail);
    expect(payload[DRAINER_KEY]).toMatchObject({ startedAt: Date.parse(event.time as string), attempt: 2 });
    // the drain goes on: nothing to tell yet
    expect(notificationsOf(action.instanceId)).toEqual([]);

    await w.deletePdb('db');
    const second = await handler(payload, context());

    expect(second.outcome).toBe('drained');
    expect(action.result).toBe('CONTINUE');
    // NOTIFY_ON=all: the invocation that ended the drain told it, once
    const messages = notificationsOf(action.instanceId);
    expect(messages.map((m) => [m.attributes.outcome, m.attributes.severity])).toEqual([['drained', 'info']]);
    expect(JSON.parse(LocalSns.deliveredTo(messages[0] as never, 'sqs'))).toMatchObject({ attempt: 2 });
  });

  it('keeps the drain deadline of the first invocation in a continuation, whatever the event time says', async () => {
    registerCluster(aws);
    const handler = await loadHandler(aws, {
      DRAIN_TIMEOUT_SECONDS: '30',
      ON_DRAIN_TIMEOUT: 'continue',
      MIN_EVICTION_WINDOW_SECONDS: '1',
    });
    const w = await stuckWorld('h-continue-deadline');
    const action = lifecycleAction(aws, w);
    // the lifecycle action began 20 s ago: its drain deadline is 10 s from now
    const began = Date.now() - 20_000;
    const deadline = began + 30_000;
    const invocations = aws.invocations.length;

    const first = await handler(lifecycleEvent(action, new Date(began)), context(3_000));

    expect(first.outcome).toBe('continued-in-new-invocation');
    const payload = aws.invocations[invocations]?.payload as Record<string, unknown>;
    expect(payload[DRAINER_KEY]).toMatchObject({ startedAt: began, attempt: 2 });
    // only the carried start may count: the event's own time now says the action just began
    const continuation = { ...payload, time: new Date().toISOString() };
    const second = await handler(continuation, context());
    const finished = Date.now();

    expect(second.outcome).toBe('deadline-continued');
    expect(action.result).toBe('CONTINUE');
    expect(second.report?.startedAt).toBe(new Date(began).toISOString());
    expect(second.report?.durationMs).toBeGreaterThanOrEqual(30_000);
    // at the original deadline, well before the 30 s the rewritten time would allow
    expect(finished).toBeGreaterThanOrEqual(deadline);
    expect(finished).toBeLessThan(Date.parse(continuation.time) + 20_000);
    expect(await w.podsOn()).toHaveLength(1);
  });

  it('never drains through a server its CA did not sign: no token sent, pods stay, deadline policy applies', async () => {
    // the cluster's endpoint, but a CA that did not sign its certificate
    aws.clusters.set(E2E_CLUSTER_NAME, {
      endpoint: inject('cluster').server,
      certificateAuthority: Buffer.from(unrelatedCa()).toString('base64'),
    });
    const handler = await loadHandler(aws, {
      DRAIN_TIMEOUT_SECONDS: '30',
      ON_DRAIN_TIMEOUT: 'continue',
      MIN_EVICTION_WINDOW_SECONDS: '1',
    });
    const w = await readyWorld('h-wrong-ca');
    const action = lifecycleAction(aws, w);
    const reviewsBefore = ((await webhookControl('/reviews')) as unknown[]).length;
    // 27 s of the 30 s drain budget are gone
    const event = lifecycleEvent(action, new Date(Date.now() - 27_000));

    const summary = await handler(event, context());

    expect(summary.outcome).toBe('deadline-continued');
    expect(action.result).toBe('CONTINUE');
    expect(summary.report?.evicted).toEqual([]);
    expect(summary.report?.errors.join('\n')).toMatch(/certificate/i);
    // the TLS handshake failed before any request: the token never reached the server
    expect(((await webhookControl('/reviews')) as unknown[]).length).toBe(reviewsBefore);
    const pods = await w.podsOn();
    expect(pods).toHaveLength(3);
    expect(pods.every((p) => p.metadata?.deletionTimestamp === undefined)).toBe(true);
    const node = await w.core.readNode({ name: w.node });
    expect(node.spec?.unschedulable).toBeUndefined();
  });
});
