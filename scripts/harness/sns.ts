/**
 * SNS as the local AWS endpoint answers it (./aws-endpoint.ts routes requests signed for `sns` here):
 * the Query protocol (form-encoded request, XML answer, namespace 2010-03-31) that
 * @aws-sdk/client-sns speaks, for the one action the drainer uses, Publish. It validates as SNS does
 * (an unknown topic is 404 NotFound; a bad subject, an empty message, a `json` structure without a
 * `default` entry, an attribute without a value are 400 InvalidParameter) and keeps every message
 * published, for tests.
 */
import { randomUUID } from 'node:crypto';
import type { XmlAnswer } from './stack-services.js';

export const SNS_NS = 'http://sns.amazonaws.com/doc/2010-03-31/';

export interface PublishedMessage {
  readonly messageId: string;
  readonly topicArn: string;
  readonly subject?: string;
  readonly message: string;
  readonly messageStructure?: string;
  /** name → string value (String and Number data types). */
  readonly attributes: Readonly<Record<string, string>>;
  readonly at: number;
}

/** SNS's limits: 256 KiB per message (attributes included), 10 attributes, subjects under 101 characters. */
const MAX_MESSAGE_BYTES = 262_144;
const MAX_ATTRIBUTES = 10;
const MAX_SUBJECT = 100;

export class LocalSns {
  /** The topics that exist, by ARN; Publish to any other is NotFound. */
  readonly topics = new Set<string>();
  readonly published: PublishedMessage[] = [];

  /** What a subscriber of this protocol receives of a published message (`email`, `sqs`, `https`, …). */
  static deliveredTo(message: PublishedMessage, protocol: string): string {
    if (message.messageStructure !== 'json') return message.message;
    const perProtocol = JSON.parse(message.message) as Record<string, string>;
    return perProtocol[protocol] ?? (perProtocol.default as string);
  }

  answer(action: string, params: Readonly<Record<string, string>>): XmlAnswer {
    if (action !== 'Publish')
      return { fault: { status: 400, code: 'InvalidAction', message: `unsupported action ${action}` } };
    const topicArn = params.TopicArn;
    if (!topicArn) return invalid('TopicArn or TargetArn Reason: no value for required parameter');
    const { Subject: subject, Message: message = '', MessageStructure: structure } = params;
    const refused =
      subjectProblem(subject) ?? messageProblem(message, structure) ?? sizeProblem(message, params);
    if (refused) return invalid(refused);
    const attributes = messageAttributes(params);
    if (typeof attributes === 'string') return invalid(attributes);
    if (!this.topics.has(topicArn))
      return { fault: { status: 404, code: 'NotFound', message: 'Topic does not exist' } };
    const messageId = randomUUID();
    this.published.push({
      messageId,
      topicArn,
      ...(subject !== undefined ? { subject } : {}),
      message,
      ...(structure !== undefined ? { messageStructure: structure } : {}),
      attributes,
      at: Date.now(),
    });
    return { result: `<MessageId>${messageId}</MessageId>` };
  }
}

function invalid(reason: string): XmlAnswer {
  return { fault: { status: 400, code: 'InvalidParameter', message: `Invalid parameter: ${reason}` } };
}

/** Printable ASCII (no line breaks or control characters), 1–100 characters. */
function subjectProblem(subject: string | undefined): string | undefined {
  if (subject === undefined) return undefined;
  if (subject.length === 0 || subject.length > MAX_SUBJECT || !/^[\x20-\x7e]+$/.test(subject))
    return 'Subject';
  return undefined;
}

function messageProblem(message: string, structure: string | undefined): string | undefined {
  if (message === '') return 'Empty message';
  if (structure === undefined) return undefined;
  if (structure !== 'json') return 'MessageStructure';
  let parsed: unknown;
  try {
    parsed = JSON.parse(message);
  } catch {
    return 'Message Structure - JSON message body failed to parse';
  }
  const entries = typeof parsed === 'object' && parsed !== null ? Object.values(parsed) : [];
  if (typeof (parsed as { default?: unknown } | null)?.default !== 'string')
    return 'Message Structure - No default entry in JSON message body';
  if (entries.some((value) => typeof value !== 'string'))
    return 'Message Structure - JSON message body failed to parse';
  return undefined;
}

function sizeProblem(message: string, params: Readonly<Record<string, string>>): string | undefined {
  const attributeBytes = Object.entries(params)
    .filter(([key]) => key.startsWith('MessageAttributes.'))
    .reduce((sum, [, value]) => sum + Buffer.byteLength(value), 0);
  return Buffer.byteLength(message) + attributeBytes > MAX_MESSAGE_BYTES ? 'Message too long' : undefined;
}

/** `MessageAttributes.entry.N.{Name, Value.DataType, Value.StringValue}`, as the Query protocol sends a map. */
function messageAttributes(params: Readonly<Record<string, string>>): Record<string, string> | string {
  const attributes: Record<string, string> = {};
  for (let n = 1; params[`MessageAttributes.entry.${n}.Name`] !== undefined; n++) {
    const prefix = `MessageAttributes.entry.${n}`;
    const name = params[`${prefix}.Name`] as string;
    const type = params[`${prefix}.Value.DataType`];
    const value = params[`${prefix}.Value.StringValue`];
    if (type === undefined)
      return `MessageAttributes Reason: The message attribute '${name}' must have a type`;
    if (!/^(String|Number|Binary)(\..+)?$/.test(type))
      return `MessageAttributes Reason: The message attribute '${name}' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String.`;
    if (!type.startsWith('Binary') && (value === undefined || value === ''))
      return `MessageAttributes Reason: The message attribute '${name}' must contain non-empty message attribute value for message attribute type '${type}'.`;
    attributes[name] = value ?? '';
  }
  if (Object.keys(attributes).length > MAX_ATTRIBUTES)
    return `MessageAttributes Reason: Number of message attributes [${Object.keys(attributes).length}] exceeds the allowed maximum [${MAX_ATTRIBUTES}].`;
  return attributes;
}
