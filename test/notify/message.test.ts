import { describe, expect, it } from 'vitest';
import type { DrainReport } from '../../lambda/drain/drain.js';
import { unstartedReport } from '../../lambda/drain/report.js';
import {
  type DrainEndFacts,
  drainNotification,
  logQuery,
  SUBJECT_MAX,
  subjectOf,
} from '../../lambda/notify/message.js';

const STARTED = Date.parse('2026-11-21T10:00:00.000Z');
const ENDED = STARTED + 903_000;
const INSTANCE = 'i-0123456789abcdef0';
const NODE = 'ip-10-0-1-23.eu-west-1.compute.internal';

function report(extra: Partial<DrainReport> = {}): DrainReport {
  return {
    ...unstartedReport('deadline-deleted', { startedAt: STARTED, now: ENDED, dryRun: false, errors: [] }),
    node: NODE,
    evicted: ['shop/web-1', 'shop/web-2'],
    blocked: [
      {
        pod: 'shop/db-0',
        reason: 'pdb',
        message: 'Cannot evict pod as it would violate the pod’s disruption budget.',
        attempts: 14,
        pdbs: [{ name: 'db', disruptionsAllowed: 0 }],
      },
    ],
    deleted: ['shop/db-0'],
    ...extra,
  };
}

function facts(extra: Partial<DrainEndFacts> = {}): DrainEndFacts {
  return {
    cluster: 'prod',
    end: 'problem',
    outcome: 'deadline-deleted',
    trigger: 'termination',
    instanceId: INSTANCE,
    autoScalingGroup: 'prod-ng-a',
    node: NODE,
    lifecycleResult: 'CONTINUE',
    completed: [{ request: 'termination:tok-1', result: 'CONTINUE', completion: 'completed' }],
    attempt: 2,
    report: report(),
    deadline: STARTED + 900_000,
    endedAt: ENDED,
    requestId: 'req-1',
    logGroup: '/aws/lambda/EksNodeDrainer-prod-Function',
    ...extra,
  };
}

/** The string each protocol gets of the message (MessageStructure json). */
function perProtocol(extra: Partial<DrainEndFacts> = {}): Record<string, string> {
  return JSON.parse(drainNotification(facts(extra)).message) as Record<string, string>;
}

describe('drainNotification', () => {
  it('names the cluster, the outcome and the node in a short printable subject', () => {
    expect(drainNotification(facts()).subject).toBe(
      '[prod] drain deadline-deleted: ip-10-0-1-23.eu-west-1.compute.internal',
    );
  });

  it('names the instance in the subject when no node was found', () => {
    expect(subjectOf(facts({ outcome: 'node-not-found', node: undefined }))).toBe(
      `[prod] drain node-not-found: ${INSTANCE}`,
    );
  });

  it('cuts a long subject to 100 characters and replaces what is not printable ASCII', () => {
    const subject = subjectOf(facts({ node: `nöde-${'x'.repeat(200)}` }));

    expect(subject).toHaveLength(SUBJECT_MAX);
    expect(subject).toMatch(/^\[prod\] drain deadline-deleted: n\?de-x+\.\.\.$/);
    expect(subject).toMatch(/^[\x20-\x7e]+$/);
  });

  it('carries the attributes a subscription filters on', () => {
    expect(drainNotification(facts()).attributes).toEqual({
      outcome: 'deadline-deleted',
      cluster: 'prod',
      severity: 'problem',
      trigger: 'termination',
      instanceId: INSTANCE,
      node: NODE,
      autoScalingGroup: 'prod-ng-a',
    });
    expect(drainNotification(facts({ end: 'drained', outcome: 'drained' })).attributes.severity).toBe('info');
  });

  it('leaves out the attributes it does not know (SNS refuses empty values)', () => {
    const { attributes } = drainNotification(facts({ node: undefined, autoScalingGroup: undefined }));

    expect(Object.keys(attributes).sort()).toEqual([
      'cluster',
      'instanceId',
      'outcome',
      'severity',
      'trigger',
    ]);
  });

  it('gives machines the JSON details: the blocked pods with their PDBs, what was deleted, the log query', () => {
    const details = JSON.parse(perProtocol().sqs as string);

    expect(details).toMatchObject({
      source: 'eks-node-drainer',
      severity: 'problem',
      cluster: 'prod',
      outcome: 'deadline-deleted',
      trigger: 'termination',
      instanceId: INSTANCE,
      autoScalingGroup: 'prod-ng-a',
      node: NODE,
      lifecycleResult: 'CONTINUE',
      completedActions: [{ request: 'termination:tok-1', result: 'CONTINUE', completion: 'completed' }],
      attempt: 2,
      startedAt: '2026-11-21T10:00:00.000Z',
      endedAt: '2026-11-21T10:15:03.000Z',
      durationSeconds: 903,
      deadline: '2026-11-21T10:15:00.000Z',
      pods: {
        evicted: 2,
        blocked: [{ pod: 'shop/db-0', reason: 'pdb', pdbs: [{ name: 'db', disruptionsAllowed: 0 }] }],
        deleted: ['shop/db-0'],
        remaining: [],
      },
      logs: {
        logGroup: '/aws/lambda/EksNodeDrainer-prod-Function',
        query: logQuery({ instanceId: INSTANCE }),
        start: '2026-11-21T09:55:00.000Z',
        end: '2026-11-21T10:20:03.000Z',
        requestId: 'req-1',
      },
    });
    for (const protocol of ['lambda', 'firehose', 'email-json'])
      expect(perProtocol()[protocol]).toBe(perProtocol().sqs);
  });

  it('names the drain’s own outcome when the invocation’s differs (a Spot drain)', () => {
    const details = JSON.parse(
      perProtocol({ outcome: 'spot-interrupted', trigger: 'spot-interruption' }).sqs as string,
    );

    expect(details.outcome).toBe('spot-interrupted');
    expect(details.drainOutcome).toBe('deadline-deleted');
  });

  it('queries every log line of the drain by its instance id', () => {
    expect(logQuery({ instanceId: INSTANCE })).toContain(`| filter instanceId = "${INSTANCE}"`);
  });

  it('writes email as text a person reads, the blocked pod with its PDB and what was deleted, JSON after it', () => {
    const email = perProtocol().email as string;
    const [text, json] = email.split('Details (JSON):\n');

    expect(text).toContain(
      `The drain of node ${NODE} (instance ${INSTANCE}) in EKS cluster prod ended deadline-deleted.`,
    );
    expect(text).toContain('deleted past their PDBs');
    expect(text).toMatch(/Lifecycle result: +CONTINUE/);
    expect(text).toMatch(/Auto Scaling group: +prod-ng-a/);
    expect(text).toContain('  - shop/db-0 [pdb; db: 0]');
    expect(text).toContain('Deleted at the deadline (past their PDBs):\n  - shop/db-0');
    expect(text).toContain(
      'More in CloudWatch Logs Insights, log group /aws/lambda/EksNodeDrainer-prod-Function',
    );
    expect(text).toContain(`  | filter instanceId = "${INSTANCE}"`);
    expect(JSON.parse(json as string)).toEqual(JSON.parse(perProtocol().sqs as string));
  });

  it('gives chat (the default, HTTPS) an Amazon Q Developer custom notification', () => {
    const chat = JSON.parse(perProtocol().default as string);

    expect(chat).toMatchObject({
      version: '1.0',
      source: 'custom',
      id: 'req-1',
      content: {
        textType: 'client-markdown',
        title: `:warning: Drain deadline-deleted: ${NODE} (prod)`,
        keywords: ['prod', 'deadline-deleted'],
      },
      metadata: {
        threadId: `prod/${INSTANCE}`,
        additionalContext: { outcome: 'deadline-deleted', cluster: 'prod' },
      },
    });
    expect(chat.content.description).toContain('• shop/db-0 [pdb; db: 0]');
    expect(chat.content.nextSteps[0]).toContain(`filter instanceId = "${INSTANCE}"`);
    expect(perProtocol().https).toBeUndefined();
  });

  it('sends the subject to SMS', () => {
    expect(perProtocol().sms).toBe(drainNotification(facts()).subject);
  });

  it('lists at most 25 pods of each kind and says how many more there were', () => {
    const many = Array.from({ length: 30 }, (_, i) => `shop/pod-${i}`);
    const details = JSON.parse(
      perProtocol({ report: report({ deleted: many, remaining: many }) }).sqs as string,
    );

    expect(details.pods.deleted).toHaveLength(25);
    expect(details.pods.omitted).toEqual({ deleted: 5, remaining: 5 });
    expect(perProtocol({ report: report({ deleted: many }) }).email).toContain('  - … and 5 more');
  });

  it('stays within SNS’s 256 KiB when the pods would not fit', () => {
    const long = (i: number) => `namespace-${'n'.repeat(50)}/pod-${'p'.repeat(240)}-${i}`;
    const blocked = Array.from({ length: 25 }, (_, i) => ({
      pod: long(i),
      reason: 'pdb' as const,
      message: 'm'.repeat(1_000),
      attempts: 1,
      pdbs: Array.from({ length: 10 }, (_, j) => ({
        name: `pdb-${'q'.repeat(200)}-${j}`,
        disruptionsAllowed: 0,
      })),
    }));
    const notification = drainNotification(facts({ report: report({ blocked }) }));

    expect(Buffer.byteLength(notification.message)).toBeLessThanOrEqual(256 * 1024);
    expect(JSON.parse(JSON.parse(notification.message).sqs).pods.omitted.blocked).toBe(20);
  });
});
