/**
 * The SNS message that tells how a node's drain ended, built from the invocation's final summary.
 * One document, three renderings, sent with MessageStructure `json` so that each subscriber gets the
 * one it reads:
 * - `email`: plain text for a person (what happened, the blocked pods and their PDBs, what was
 *   deleted, the log query), the JSON details after it;
 * - `default` (HTTPS, so Amazon Q Developer in chat applications, formerly AWS Chatbot): its custom
 *   notification format, a title and a markdown description;
 * - `sqs`, `lambda`, `firehose`, `email-json`: the JSON details, for machines;
 * - `sms`: the subject.
 * Message attributes (`outcome`, `cluster`, `severity`, `trigger`, `instanceId`, and `node` and
 * `autoScalingGroup` when known) let a subscription filter.
 */
import type { DrainReport } from '../drain/drain.js';
import type { CompletedAction } from '../job/job.js';
import type { ReleaseReport } from '../job/release.js';
import type { HandlerOutcome } from '../outcome.js';
import type { DrainEnd, DrainTrigger } from './policy.js';

/** What the invocation that ended the node's job knows about it. */
export interface DrainEndFacts {
  readonly cluster: string;
  readonly end: DrainEnd;
  readonly outcome: HandlerOutcome;
  readonly trigger: DrainTrigger;
  readonly instanceId: string;
  readonly autoScalingGroup?: string;
  readonly node?: string;
  readonly lifecycleResult: 'CONTINUE' | 'ABANDON' | null;
  readonly completed: readonly CompletedAction[];
  readonly attempt: number;
  readonly report?: DrainReport;
  readonly release?: ReleaseReport;
  /** The job's deadline (epoch ms), and a Spot instance's hard end (ISO 8601). */
  readonly deadline?: number;
  readonly hardEnd?: string;
  /** Epoch ms. */
  readonly endedAt: number;
  readonly requestId?: string;
  /** The function's log group (AWS_LAMBDA_LOG_GROUP_NAME). */
  readonly logGroup?: string;
}

export interface Notification {
  readonly subject: string;
  /** The JSON object of one string per protocol (MessageStructure `json`). */
  readonly message: string;
  readonly attributes: Readonly<Record<string, string>>;
}

/** SNS: the subject has at most 100 printable ASCII characters, the whole message 256 KiB. */
export const SUBJECT_MAX = 100;
const MESSAGE_MAX_BYTES = 256 * 1024;
/** Pod lists shrink until the message fits; a list cut short says how many it left out. */
const LIST_CAPS = [25, 5, 0] as const;
const TEXT_MAX = 300;

const EXPLANATIONS: Partial<Record<HandlerOutcome, string>> = {
  drained: 'Every evictable pod left the node through the Eviction API.',
  'deadline-deleted':
    'The drain deadline came with pods a PodDisruptionBudget (or a failure) still blocked: they were deleted past their PDBs (grace period and preStop still ran).',
  'deadline-continued':
    'The drain deadline came with pods still blocked: they were left on the node, and the instance went on terminating with them.',
  'deadline-abandoned':
    'The drain deadline came with pods still blocked: the termination was abandoned (ABANDON).',
  'action-expired':
    'The lifecycle action expired mid-drain (heartbeats stopped reaching AWS): the instance is terminating with whatever was still on it.',
  'already-completed':
    'The drain ran, then found its lifecycle action already completed or expired: the instance may have gone before the drain ended.',
  'node-not-found':
    'No Kubernetes node belongs to the instance (it never joined, was already deleted, or its name and providerID do not match): nothing was drained.',
  'spot-interrupted': 'EC2 interrupts this Spot instance about two minutes after its warning.',
};

const TRIGGERS: Record<DrainTrigger, string> = {
  termination: 'termination lifecycle action',
  'spot-interruption': 'Spot interruption warning',
  'rebalance-recommendation': 'rebalance recommendation',
};

export function drainNotification(facts: DrainEndFacts): Notification {
  const subject = subjectOf(facts);
  const attributes = attributesOf(facts);
  let message = '';
  for (const cap of LIST_CAPS) {
    message = render(facts, subject, cap);
    if (Buffer.byteLength(message) + attributesBytes(attributes) <= MESSAGE_MAX_BYTES) break;
  }
  return { subject, message, attributes };
}

/** `[prod] drain deadline-deleted: ip-10-0-1-23.ec2.internal`: printable ASCII, cut to 100 characters. */
export function subjectOf(facts: DrainEndFacts): string {
  const subject = `[${facts.cluster}] drain ${facts.outcome}: ${facts.node ?? facts.instanceId}`.replace(
    /[^\x20-\x7e]/g,
    '?',
  );
  return subject.length <= SUBJECT_MAX ? subject : `${subject.slice(0, SUBJECT_MAX - 3)}...`;
}

function attributesOf(facts: DrainEndFacts): Record<string, string> {
  return {
    outcome: facts.outcome,
    cluster: facts.cluster,
    severity: facts.end === 'problem' ? 'problem' : 'info',
    trigger: facts.trigger,
    instanceId: facts.instanceId,
    ...(facts.node ? { node: facts.node } : {}),
    ...(facts.autoScalingGroup ? { autoScalingGroup: facts.autoScalingGroup } : {}),
  };
}

function attributesBytes(attributes: Record<string, string>): number {
  // name, data type ("String") and value count towards the size
  return Object.entries(attributes).reduce((sum, [k, v]) => sum + k.length + 6 + Buffer.byteLength(v), 0);
}

/** The Logs Insights query for every line of this drain (each carries the instance id). */
export function logQuery(facts: Pick<DrainEndFacts, 'instanceId'>): string {
  return [
    'fields @timestamp, level, message, outcome, node, attempt, error',
    `| filter instanceId = "${facts.instanceId}"`,
    '| sort @timestamp asc',
    '| limit 1000',
  ].join('\n');
}

type Listed<T> = { readonly items: readonly T[]; readonly omitted: number };

function capped<T>(items: readonly T[] | undefined, cap: number): Listed<T> {
  const all = items ?? [];
  return { items: all.slice(0, cap), omitted: Math.max(0, all.length - cap) };
}

const short = (text: string): string => (text.length <= TEXT_MAX ? text : `${text.slice(0, TEXT_MAX - 1)}…`);

/** The JSON details: the one document every rendering is made from. */
export function details(facts: DrainEndFacts, cap: number = LIST_CAPS[0]) {
  const report = facts.report;
  const blocked = capped(report?.blocked, cap);
  const deleted = capped(report?.deleted, cap);
  const remaining = capped(report?.remaining, cap);
  const errors = capped(report?.errors, cap);
  const omitted = {
    ...(blocked.omitted ? { blocked: blocked.omitted } : {}),
    ...(deleted.omitted ? { deleted: deleted.omitted } : {}),
    ...(remaining.omitted ? { remaining: remaining.omitted } : {}),
    ...(errors.omitted ? { errors: errors.omitted } : {}),
  };
  const startedAt = report ? Date.parse(report.startedAt) : undefined;
  const left = [...(facts.release?.loadBalancers?.left ?? []), ...(facts.release?.volumes?.left ?? [])];
  return {
    source: 'eks-node-drainer',
    version: 1,
    severity: facts.end === 'problem' ? 'problem' : 'info',
    cluster: facts.cluster,
    outcome: facts.outcome,
    ...(report && report.outcome !== facts.outcome ? { drainOutcome: report.outcome } : {}),
    trigger: facts.trigger,
    instanceId: facts.instanceId,
    ...(facts.autoScalingGroup ? { autoScalingGroup: facts.autoScalingGroup } : {}),
    ...(facts.node ? { node: facts.node } : {}),
    lifecycleResult: facts.lifecycleResult,
    completedActions: facts.completed,
    attempt: facts.attempt,
    ...(startedAt !== undefined ? { startedAt: new Date(startedAt).toISOString() } : {}),
    endedAt: new Date(facts.endedAt).toISOString(),
    ...(report ? { durationSeconds: Math.round(report.durationMs / 1000) } : {}),
    ...(facts.deadline !== undefined ? { deadline: new Date(facts.deadline).toISOString() } : {}),
    ...(facts.hardEnd ? { hardEnd: facts.hardEnd } : {}),
    pods: {
      evicted: report?.evicted.length ?? 0,
      blocked: blocked.items.map((b) => ({
        pod: b.pod,
        reason: b.reason,
        pdbs: b.pdbs,
        ...(b.message ? { message: short(b.message) } : {}),
      })),
      deleted: deleted.items,
      remaining: remaining.items,
      ...(Object.keys(omitted).length > 0 ? { omitted } : {}),
    },
    errors: errors.items.map(short),
    ...(left.length > 0 ? { stillAttached: left.length } : {}),
    logs: {
      ...(facts.logGroup ? { logGroup: facts.logGroup } : {}),
      query: logQuery(facts),
      // a little before the drain began and after it ended: every invocation of it
      start: new Date((startedAt ?? facts.endedAt) - 300_000).toISOString(),
      end: new Date(facts.endedAt + 300_000).toISOString(),
      ...(facts.requestId ? { requestId: facts.requestId } : {}),
    },
  };
}

type Details = ReturnType<typeof details>;

function render(facts: DrainEndFacts, subject: string, cap: number): string {
  const data = details(facts, cap);
  const json = JSON.stringify(data, null, 2);
  return JSON.stringify({
    default: JSON.stringify(chat(facts, data)),
    email: `${text(facts, data)}\nDetails (JSON):\n${json}\n`,
    'email-json': json,
    sqs: json,
    lambda: json,
    firehose: json,
    sms: subject,
  });
}

function headline(facts: DrainEndFacts): string {
  const what = facts.node
    ? `node ${facts.node} (instance ${facts.instanceId})`
    : `instance ${facts.instanceId}`;
  return `The drain of ${what} in EKS cluster ${facts.cluster} ended ${facts.outcome}.`;
}

function podLines(data: Details, bullet: string): string[] {
  const lines: string[] = [];
  const { blocked, deleted, remaining, omitted } = data.pods;
  const more = (n: number | undefined) => (n ? [`${bullet}… and ${n} more`] : []);
  if (blocked.length > 0) {
    lines.push('Blocked pods (PDB: disruptions allowed):');
    for (const b of blocked) {
      const pdbs = b.pdbs.map((p) => `${p.name}: ${p.disruptionsAllowed}`).join(', ') || 'no PDB';
      lines.push(`${bullet}${b.pod} [${b.reason}; ${pdbs}]${b.message ? ` ${b.message}` : ''}`);
    }
    lines.push(...more(omitted?.blocked));
  }
  if (deleted.length > 0) {
    lines.push('Deleted at the deadline (past their PDBs):');
    lines.push(...deleted.map((pod) => `${bullet}${pod}`), ...more(omitted?.deleted));
  }
  if (remaining.length > 0) {
    lines.push('Still on the node when the drain ended:');
    lines.push(...remaining.map((pod) => `${bullet}${pod}`), ...more(omitted?.remaining));
  }
  if (data.errors.length > 0) {
    lines.push('Errors:');
    lines.push(...data.errors.map((e) => `${bullet}${e}`), ...more(omitted?.errors));
  }
  return lines;
}

function text(facts: DrainEndFacts, data: Details): string {
  const row = (name: string, value: string | number | undefined) =>
    value === undefined ? [] : [`${`${name}:`.padEnd(20)}${value}`];
  const completed = facts.completed.map((c) => `${c.request} ${c.result} (${c.completion})`).join('; ');
  const lines = [
    headline(facts),
    ...(EXPLANATIONS[facts.outcome] ? [EXPLANATIONS[facts.outcome] as string] : []),
    '',
    ...row('Cluster', data.cluster),
    ...row('Node', data.node),
    ...row('Instance', data.instanceId),
    ...row('Auto Scaling group', data.autoScalingGroup),
    ...row('Asked by', TRIGGERS[facts.trigger]),
    ...row('Drain outcome', data.drainOutcome),
    ...row('Lifecycle result', facts.lifecycleResult ?? 'none sent'),
    ...row('Actions completed', completed || undefined),
    ...row('Started', data.startedAt),
    ...row('Ended', data.endedAt),
    ...row('Duration (s)', data.durationSeconds),
    ...row('Deadline', data.deadline),
    ...row('Pods evicted', data.pods.evicted),
    '',
    ...podLines(data, '  - '),
    '',
    `More in CloudWatch Logs Insights${data.logs.logGroup ? `, log group ${data.logs.logGroup}` : ''}, from ${data.logs.start} to ${data.logs.end}:`,
    ...data.logs.query.split('\n').map((line) => `  ${line}`),
    '',
  ];
  return lines.join('\n');
}

/** Amazon Q Developer in chat applications' custom notification (version 1.0, source `custom`). */
function chat(facts: DrainEndFacts, data: Details) {
  const icon = facts.end === 'problem' ? ':warning:' : ':white_check_mark:';
  const description = [
    headline(facts),
    ...(EXPLANATIONS[facts.outcome] ? [EXPLANATIONS[facts.outcome] as string] : []),
    `Lifecycle result: ${facts.lifecycleResult ?? 'none sent'}; pods evicted: ${data.pods.evicted}.`,
    ...podLines(data, '• '),
  ].join('\n');
  return {
    version: '1.0',
    source: 'custom',
    ...(facts.requestId ? { id: facts.requestId } : {}),
    content: {
      textType: 'client-markdown',
      title: `${icon} Drain ${facts.outcome}: ${facts.node ?? facts.instanceId} (${facts.cluster})`,
      description,
      nextSteps: [
        `CloudWatch Logs Insights${data.logs.logGroup ? ` on ${data.logs.logGroup}` : ''}: \`${data.logs.query.replaceAll('\n', ' ')}\``,
      ],
      keywords: [facts.cluster, facts.outcome],
    },
    metadata: {
      threadId: `${facts.cluster}/${facts.instanceId}`,
      summary: subjectOf(facts),
      eventType: 'DrainEnded',
      relatedResources: [facts.instanceId, ...(facts.node ? [facts.node] : [])],
      additionalContext: attributesOf(facts),
    },
  };
}
