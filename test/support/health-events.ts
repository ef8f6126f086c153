/** AWS Health EC2 scheduled-change events as EventBridge delivers them (AWS's documented example shape). */
import { HEALTH_DETAIL_TYPE, HEALTH_SOURCE } from '../../lambda/contract.js';

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';

/** Health writes the window's times as RFC 1123 dates. */
const rfc1123 = (ms: number): string => new Date(ms).toUTCString();

export interface HealthEventFields {
  readonly instanceIds: readonly string[];
  /** The window's start, epoch ms. */
  readonly startTime: number;
  readonly statusCode?: 'upcoming' | 'open' | 'closed';
  readonly eventTypeCode?: string;
  readonly eventArn?: string;
}

export function scheduledEventArn(code = 'AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED', id = 'abc123'): string {
  return `arn:aws:health:${REGION}::event/EC2/${code}/${code}_${id}`;
}

export function healthEvent(fields: HealthEventFields): Record<string, unknown> {
  const code = fields.eventTypeCode ?? 'AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED';
  return {
    version: '0',
    id: globalThis.crypto.randomUUID(),
    'detail-type': HEALTH_DETAIL_TYPE,
    source: HEALTH_SOURCE,
    account: ACCOUNT,
    time: new Date().toISOString(),
    region: REGION,
    resources: [...fields.instanceIds],
    detail: {
      eventArn: fields.eventArn ?? scheduledEventArn(code),
      service: 'EC2',
      eventScopeCode: 'ACCOUNT_SPECIFIC',
      communicationId: '1234abc01232a4012345678-1',
      lastUpdatedTime: rfc1123(Date.now()),
      statusCode: fields.statusCode ?? 'upcoming',
      eventRegion: REGION,
      eventTypeCode: code,
      eventTypeCategory: 'scheduledChange',
      startTime: rfc1123(fields.startTime),
      endTime: rfc1123(fields.startTime + 2 * 3_600_000),
      eventDescription: [
        {
          language: 'en_US',
          latestDescription: 'EC2 has detected degradation of the underlying hardware hosting your instance.',
        },
      ],
      affectedEntities: fields.instanceIds.map((entityValue) => ({ entityValue })),
    },
  };
}
