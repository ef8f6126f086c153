/**
 * The AWS services `npm run doctor` reads a deployed drainer from, as the local AWS endpoint answers
 * them (./aws-endpoint.ts routes the requests here):
 * - CloudFormation (Query, XML): DescribeStacks, ListStackResources (paged);
 * - SQS (JSON 1.0, `AmazonSQS.*`): GetQueueAttributes, ReceiveMessage (messages stay in the queue, none
 *   is deleted, but a received one is invisible for its visibility timeout, as in SQS);
 * - CloudWatch (JSON 1.0, `GraniteServiceVersion20100801.*`): DescribeAlarms;
 * - EventBridge (JSON 1.1, `AWSEvents.*`): DescribeRule, TestEventPattern (real matching, ./event-pattern.ts).
 */
import { createHash, randomUUID } from 'node:crypto';
import type { InjectedFault } from './aws-endpoint.js';
import { InvalidPatternError, matchesPattern, REQUIRED_EVENT_FIELDS } from './event-pattern.js';
import { escapeXml } from './loopback-server.js';

export type XmlAnswer = { readonly result: string } | { readonly fault: InjectedFault };
export type JsonAnswer = { readonly result: unknown } | { readonly fault: InjectedFault };

export const CLOUDFORMATION_NS = 'http://cloudformation.amazonaws.com/doc/2010-05-15/';

export interface StackResourceState {
  readonly logicalId: string;
  readonly type: string;
  readonly physicalId: string;
}

export interface StackState {
  /** e.g. CREATE_COMPLETE, UPDATE_ROLLBACK_COMPLETE. */
  readonly status: string;
  readonly outputs?: Readonly<Record<string, string>>;
  readonly tags?: Readonly<Record<string, string>>;
  readonly resources: readonly StackResourceState[];
}

export class LocalCloudFormation {
  readonly stacks = new Map<string, StackState>();

  answer(action: string, params: Readonly<Record<string, string>>): XmlAnswer {
    const name = params.StackName ?? '';
    const stack = this.stacks.get(name);
    if (action !== 'DescribeStacks' && action !== 'ListStackResources') {
      return { fault: { status: 400, code: 'InvalidAction', message: `unsupported action ${action}` } };
    }
    if (!stack)
      return {
        fault: { status: 400, code: 'ValidationError', message: `Stack with id ${name} does not exist` },
      };
    if (action === 'DescribeStacks') return { result: `<Stacks>${stackXml(name, stack)}</Stacks>` };
    // pages of 2, so that a reader that ignores NextToken misses resources
    const start = Number(params.NextToken ?? 0);
    const page = stack.resources.slice(start, start + 2);
    const next = start + 2 < stack.resources.length ? `<NextToken>${start + 2}</NextToken>` : '';
    const items = page
      .map(
        (r) =>
          `<member><LogicalResourceId>${escapeXml(r.logicalId)}</LogicalResourceId><PhysicalResourceId>${escapeXml(r.physicalId)}</PhysicalResourceId><ResourceType>${escapeXml(r.type)}</ResourceType><LastUpdatedTimestamp>2026-01-01T00:00:00Z</LastUpdatedTimestamp><ResourceStatus>CREATE_COMPLETE</ResourceStatus></member>`,
      )
      .join('');
    return { result: `<StackResourceSummaries>${items}</StackResourceSummaries>${next}` };
  }
}

function stackXml(name: string, stack: StackState): string {
  const outputs = Object.entries(stack.outputs ?? {})
    .map(
      ([k, v]) =>
        `<member><OutputKey>${escapeXml(k)}</OutputKey><OutputValue>${escapeXml(v)}</OutputValue></member>`,
    )
    .join('');
  const tags = Object.entries(stack.tags ?? {})
    .map(([k, v]) => `<member><Key>${escapeXml(k)}</Key><Value>${escapeXml(v)}</Value></member>`)
    .join('');
  return `<member><StackId>arn:aws:cloudformation:us-east-1:000000000000:stack/${escapeXml(name)}/${randomUUID()}</StackId><StackName>${escapeXml(name)}</StackName><CreationTime>2026-01-01T00:00:00Z</CreationTime><StackStatus>${escapeXml(stack.status)}</StackStatus><Outputs>${outputs}</Outputs><Tags>${tags}</Tags></member>`;
}

export interface QueueMessage {
  readonly body: string;
  /** epoch ms */
  readonly sentAt: number;
  /**
   * epoch ms until which the message is in flight (received, invisible); undefined or past: visible.
   * ReceiveMessage sets it; a test may set it to start with a message in flight.
   */
  invisibleUntil?: number;
  /** How many times ReceiveMessage returned it (its ApproximateReceiveCount). */
  receiveCount?: number;
}

/** SQS's default visibility timeout of a queue, in seconds. */
export const SQS_DEFAULT_VISIBILITY_TIMEOUT = 30;

/**
 * Queues as SQS keeps them for the actions the doctor uses. ReceiveMessage returns only visible
 * messages (at most MaxNumberOfMessages, default 1, at most 10) and makes each returned one
 * invisible for VisibilityTimeout seconds (default: the queue's, `visibilityTimeouts`, else 30 s;
 * 0: it stays visible); nothing is ever deleted. GetQueueAttributes counts the visible messages as
 * ApproximateNumberOfMessages and those in flight as ApproximateNumberOfMessagesNotVisible. Both
 * answer only the attributes asked for (AttributeNames, MessageSystemAttributeNames; `All`).
 */
export class LocalSqs {
  /** queue URL → its messages, oldest first. */
  readonly queues = new Map<string, QueueMessage[]>();
  /** queue URL → its default visibility timeout in seconds (the queue's VisibilityTimeout attribute); default 30. */
  readonly visibilityTimeouts = new Map<string, number>();
  private readonly messageIds = new WeakMap<QueueMessage, string>();

  /** The queue's messages a ReceiveMessage could return now (not in flight). */
  visibleMessages(url: string, now = Date.now()): QueueMessage[] {
    return (this.queues.get(url) ?? []).filter((m) => isVisible(m, now));
  }

  /** The queue's messages in flight now: received within their visibility timeout. */
  inFlightMessages(url: string, now = Date.now()): QueueMessage[] {
    return (this.queues.get(url) ?? []).filter((m) => !isVisible(m, now));
  }

  answer(action: string, input: Readonly<Record<string, unknown>>): JsonAnswer {
    const url = String(input.QueueUrl ?? '');
    const messages = this.queues.get(url);
    if (!messages) {
      return {
        fault: {
          status: 400,
          code: 'AWS.SimpleQueueService.NonExistentQueue',
          message: 'The specified queue does not exist.',
        },
      };
    }
    const now = Date.now();
    if (action === 'GetQueueAttributes') {
      const all: Record<string, string> = {
        ApproximateNumberOfMessages: String(this.visibleMessages(url, now).length),
        ApproximateNumberOfMessagesNotVisible: String(this.inFlightMessages(url, now).length),
        VisibilityTimeout: String(this.visibilityTimeouts.get(url) ?? SQS_DEFAULT_VISIBILITY_TIMEOUT),
      };
      return { result: { Attributes: requested(all, input.AttributeNames) } };
    }
    if (action === 'ReceiveMessage') {
      const max = Number(input.MaxNumberOfMessages ?? 1);
      if (!Number.isInteger(max) || max < 1 || max > 10) {
        return invalidParameter(
          `Value ${max} for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.`,
        );
      }
      const timeout = Number(
        input.VisibilityTimeout ?? this.visibilityTimeouts.get(url) ?? SQS_DEFAULT_VISIBILITY_TIMEOUT,
      );
      if (!Number.isInteger(timeout) || timeout < 0 || timeout > 43_200) {
        return invalidParameter(
          `Value ${timeout} for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200, if provided.`,
        );
      }
      const received = this.visibleMessages(url, now).slice(0, max);
      for (const m of received) {
        m.receiveCount = (m.receiveCount ?? 0) + 1;
        // 0: the message stays visible
        m.invisibleUntil = timeout > 0 ? now + timeout * 1000 : undefined;
      }
      return {
        result: {
          Messages: received.map((m) => ({
            MessageId: this.messageId(m),
            ReceiptHandle: randomUUID(),
            Body: m.body,
            // the SDK checks it
            MD5OfBody: createHash('md5').update(m.body).digest('hex'),
            Attributes: requested(
              { SentTimestamp: String(m.sentAt), ApproximateReceiveCount: String(m.receiveCount ?? 1) },
              input.MessageSystemAttributeNames ?? input.AttributeNames,
            ),
          })),
        },
      };
    }
    return { fault: { status: 400, code: 'InvalidAction', message: `unsupported action ${action}` } };
  }

  /** A message keeps its id across receives, as in SQS. */
  private messageId(message: QueueMessage): string {
    let id = this.messageIds.get(message);
    if (!id) {
      id = randomUUID();
      this.messageIds.set(message, id);
    }
    return id;
  }
}

/** The attributes named (`All`: every one), as SQS answers only those asked for. */
function requested(attributes: Record<string, string>, names: unknown): Record<string, string> {
  const wanted = Array.isArray(names) ? names.map(String) : [];
  if (wanted.includes('All')) return attributes;
  return Object.fromEntries(Object.entries(attributes).filter(([name]) => wanted.includes(name)));
}

function isVisible(message: QueueMessage, now: number): boolean {
  return message.invisibleUntil === undefined || message.invisibleUntil <= now;
}

function invalidParameter(message: string): JsonAnswer {
  return { fault: { status: 400, code: 'InvalidParameterValue', message } };
}

export interface AlarmState {
  /** OK, ALARM, INSUFFICIENT_DATA */
  readonly state: string;
  readonly reason?: string;
  readonly description?: string;
  /** The ARNs it notifies when it fires (AlarmActions). */
  readonly actions?: readonly string[];
}

export class LocalCloudWatch {
  readonly alarms = new Map<string, AlarmState>();

  answer(action: string, input: Readonly<Record<string, unknown>>): JsonAnswer {
    if (action !== 'DescribeAlarms') {
      return { fault: { status: 400, code: 'InvalidAction', message: `unsupported action ${action}` } };
    }
    const names = Array.isArray(input.AlarmNames) ? (input.AlarmNames as string[]) : [...this.alarms.keys()];
    return {
      result: {
        MetricAlarms: names.flatMap((name) => {
          const alarm = this.alarms.get(name);
          if (!alarm) return [];
          return [
            {
              AlarmName: name,
              StateValue: alarm.state,
              StateReason: alarm.reason ?? '',
              AlarmActions: alarm.actions ?? [],
              ...(alarm.description ? { AlarmDescription: alarm.description } : {}),
            },
          ];
        }),
      },
    };
  }
}

export interface RuleState {
  /** The pattern as the rule stores it (a JSON string). */
  readonly eventPattern: string;
  readonly state: 'ENABLED' | 'DISABLED';
}

export class LocalEventBridge {
  /** rule name (default bus) → the rule. */
  readonly rules = new Map<string, RuleState>();

  answer(action: string, input: Readonly<Record<string, unknown>>): JsonAnswer {
    if (action === 'DescribeRule') {
      const name = String(input.Name ?? '');
      const rule = this.rules.get(name);
      if (!rule)
        return {
          fault: {
            status: 400,
            code: 'ResourceNotFoundException',
            message: `Rule ${name} does not exist on EventBus default.`,
          },
        };
      return {
        result: {
          Name: name,
          Arn: `arn:aws:events:us-east-1:000000000000:rule/${name}`,
          EventPattern: rule.eventPattern,
          State: rule.state,
          EventBusName: 'default',
        },
      };
    }
    if (action === 'TestEventPattern') return testEventPattern(input);
    return { fault: { status: 400, code: 'InvalidAction', message: `unsupported action ${action}` } };
  }
}

function testEventPattern(input: Readonly<Record<string, unknown>>): JsonAnswer {
  let pattern: unknown;
  let event: Record<string, unknown>;
  try {
    pattern = JSON.parse(String(input.EventPattern));
    event = JSON.parse(String(input.Event)) as Record<string, unknown>;
  } catch {
    return {
      fault: {
        status: 400,
        code: 'InvalidEventPatternException',
        message: 'Event pattern is not valid JSON',
      },
    };
  }
  const missing = REQUIRED_EVENT_FIELDS.filter((field) => event[field] === undefined);
  if (missing.length > 0) {
    return {
      fault: {
        status: 400,
        code: 'ValidationException',
        message: `Parameter Event is not valid: missing ${missing.join(', ')}`,
      },
    };
  }
  try {
    return { result: { Result: matchesPattern(pattern, event) } };
  } catch (error) {
    if (!(error instanceof InvalidPatternError)) throw error;
    return { fault: { status: 400, code: error.name, message: error.message } };
  }
}
