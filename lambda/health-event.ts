/**
 * AWS Health events (source `aws.health`) → the EC2 scheduled change the drainer acts on, or why not.
 * Only the fields relied on are checked: the event's ARN (which event a cancellation closes), its
 * type and status, the window's start and the affected instances. Fields AWS may add are ignored.
 */
import { DRAINER_KEY, HEALTH_DETAIL_TYPE, HEALTH_SOURCE, SCHEDULED_EVENT_TYPE_CODES } from './contract.js';
import { INSTANCE_ID, Invalid, type Json, object, show, text } from './event-fields.js';

export const HEALTH_STATUSES = ['upcoming', 'open', 'closed'] as const;

/** An EC2 scheduled change for some instances: they go down in the window from `startTime`. */
export interface ScheduledEvent {
  /** The Health event's ARN: the same for its updates and its closing. */
  readonly eventArn: string;
  readonly eventTypeCode: string;
  /** `upcoming` before the window, `open` in it, `closed` when it is over or cancelled. */
  readonly status: (typeof HEALTH_STATUSES)[number];
  /** The window's start, epoch ms. */
  readonly startTime: number;
  readonly endTime?: number;
  /** The affected instances, without duplicates. */
  readonly instanceIds: readonly string[];
}

/** Health aggregates one event for many instances; more than this in one event is not an EC2 schedule. */
const MAX_INSTANCES = 1_000;
const EVENT_ARN = /^arn:aws[a-z-]*:health:[a-z0-9-]*:\d*:event\/\S{1,1000}$/;

export type ParsedHealthEvent =
  | { readonly kind: 'scheduled'; readonly event: ScheduledEvent }
  | { readonly kind: 'ignored'; readonly reason: string };

export function parseHealthEvent(root: Json): ParsedHealthEvent {
  const detailType = root['detail-type'];
  if (detailType !== HEALTH_DETAIL_TYPE)
    return { kind: 'ignored', reason: `detail-type ${show(detailType)}` };
  const detail = object(root.detail, 'detail');
  if (detail.service !== 'EC2')
    return { kind: 'ignored', reason: `Health event of service ${show(detail.service)}` };
  if (detail.eventTypeCategory !== 'scheduledChange')
    return { kind: 'ignored', reason: `Health event category ${show(detail.eventTypeCategory)}` };
  const eventTypeCode = text(detail, 'eventTypeCode', /^[A-Z0-9_]{1,100}$/);
  if (!(SCHEDULED_EVENT_TYPE_CODES as readonly string[]).includes(eventTypeCode))
    return { kind: 'ignored', reason: `Health event type ${eventTypeCode}` };
  const status = detail.statusCode;
  if (!(HEALTH_STATUSES as readonly unknown[]).includes(status))
    throw new Invalid(
      'detail.statusCode',
      `expected one of ${HEALTH_STATUSES.join(', ')}, got ${show(status)}`,
    );
  const endTime = detail.endTime === undefined ? {} : { endTime: time(detail.endTime, 'detail.endTime') };
  return {
    kind: 'scheduled',
    event: {
      eventArn: text(detail, 'eventArn', EVENT_ARN),
      eventTypeCode,
      status: status as ScheduledEvent['status'],
      startTime: time(detail.startTime, 'detail.startTime'),
      ...endTime,
      instanceIds: affectedInstances(detail, root),
    },
  };
}

/** Health writes times as RFC 1123 ("Sat, 05 Jun 2027 15:10:09 GMT"); ISO 8601 is read too. */
function time(value: unknown, field: string): number {
  const parsed = typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(parsed)) throw new Invalid(field, `expected a time, got ${show(value)}`);
  return parsed;
}

/** `detail.affectedEntities[].entityValue`, else the event's `resources`: each an instance id. */
function affectedInstances(detail: Json, root: Json): string[] {
  const [field, values] =
    detail.affectedEntities === undefined
      ? ['resources', list(root.resources, 'resources')]
      : [
          'detail.affectedEntities',
          list(detail.affectedEntities, 'detail.affectedEntities').map(
            (entity, i) => object(entity, `detail.affectedEntities[${i}]`).entityValue,
          ),
        ];
  if (values.length === 0) throw new Invalid(field, 'expected at least one instance, got none');
  if (values.length > MAX_INSTANCES) throw new Invalid(field, `expected at most ${MAX_INSTANCES} instances`);
  for (const value of values) {
    if (typeof value !== 'string' || !INSTANCE_ID.test(value))
      throw new Invalid(field, `expected EC2 instance ids, got ${show(value)}`);
  }
  return [...new Set(values as string[])];
}

function list(value: unknown, field: string): unknown[] {
  if (!Array.isArray(value)) throw new Invalid(field, `expected a list, got ${show(value)}`);
  return value;
}

/** The schedule's request (`SCHEDULED_REPLACEMENTS_REQUEST`): the drainer's key with that flag, and nothing else. */
export function parseSweepRequest(root: Json): { readonly kind: 'scheduled-sweep' } | undefined {
  const key = root[DRAINER_KEY];
  if (typeof key !== 'object' || key === null || !('scheduledReplacements' in key)) return undefined;
  const { scheduledReplacements, ...rest } = key as Json;
  if (scheduledReplacements !== true)
    throw new Invalid(
      `${DRAINER_KEY}.scheduledReplacements`,
      `expected true, got ${show(scheduledReplacements)}`,
    );
  const extra = [...Object.keys(root).filter((k) => k !== DRAINER_KEY), ...Object.keys(rest)];
  if (extra.length > 0)
    throw new Invalid(extra[0] as string, `a scheduled-replacements request carries nothing else`);
  return { kind: 'scheduled-sweep' };
}

/** An AWS Health retirement event for one instance, as EventBridge delivers it (for npm run invoke and tests). */
export function scheduledHealthEvent(
  instanceId: string,
  startTime: Date,
  options: { readonly region?: string; readonly dryRun?: boolean } = {},
): Record<string, unknown> {
  const region = options.region ?? 'us-east-1';
  const code = SCHEDULED_EVENT_TYPE_CODES[0];
  return {
    version: '0',
    id: globalThis.crypto.randomUUID(),
    'detail-type': HEALTH_DETAIL_TYPE,
    source: HEALTH_SOURCE,
    account: '123456789012',
    time: new Date().toISOString(),
    region,
    resources: [instanceId],
    detail: {
      eventArn: `arn:aws:health:${region}::event/EC2/${code}/${code}_manual_${instanceId}`,
      service: 'EC2',
      statusCode: 'upcoming',
      eventTypeCode: code,
      eventTypeCategory: 'scheduledChange',
      startTime: startTime.toUTCString(),
      affectedEntities: [{ entityValue: instanceId }],
    },
    ...(options.dryRun ? { [DRAINER_KEY]: { dryRun: true } } : {}),
  };
}
