import { describe, expect, it } from 'vitest';
import { SCHEDULED_EVENT_TYPE_CODES, SCHEDULED_REPLACEMENTS_REQUEST } from '../lambda/contract.js';
import { parseEvent } from '../lambda/event.js';
import { healthEvent, scheduledEventArn } from './support/health-events.js';

const A = 'i-0123456789abcdef0';
const B = 'i-0fedcba9876543210';
const START = Date.parse('2027-06-05T15:10:09Z');

const withDetail = (event: Record<string, unknown>, detail: Record<string, unknown>) => ({
  ...event,
  detail: { ...(event.detail as object), ...detail },
});

describe('parseEvent on AWS Health events', () => {
  it('reads an EC2 retirement: its ARN, type, status, RFC 1123 window and instances', () => {
    expect(parseEvent(healthEvent({ instanceIds: [A, B], startTime: START }))).toEqual({
      kind: 'scheduled',
      event: {
        eventArn: scheduledEventArn(),
        eventTypeCode: 'AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED',
        status: 'upcoming',
        startTime: START,
        endTime: START + 7_200_000,
        instanceIds: [A, B],
      },
    });
  });

  it.each(SCHEDULED_EVENT_TYPE_CODES)('acts on %s', (eventTypeCode) => {
    expect(parseEvent(healthEvent({ instanceIds: [A], startTime: START, eventTypeCode }))).toMatchObject({
      kind: 'scheduled',
      event: { eventTypeCode },
    });
  });

  it('reads a closed event (a cancellation before the window) and ISO 8601 times', () => {
    const event = withDetail(healthEvent({ instanceIds: [A], startTime: START, statusCode: 'closed' }), {
      startTime: '2027-06-05T15:10:09Z',
    });
    expect(parseEvent(event)).toMatchObject({ event: { status: 'closed', startTime: START } });
  });

  it('takes the instances from resources when the event names no affected entities', () => {
    const event = healthEvent({ instanceIds: [A], startTime: START });
    delete (event.detail as Record<string, unknown>).affectedEntities;
    expect(parseEvent({ ...event, resources: [B, B] })).toMatchObject({ event: { instanceIds: [B] } });
  });

  it('ignores events the drainer does not act on: other services, categories and EC2 event types', () => {
    const event = healthEvent({ instanceIds: [A], startTime: START });
    for (const detail of [
      { service: 'RDS' },
      { eventTypeCategory: 'issue' },
      { eventTypeCode: 'AWS_EC2_INSTANCE_NETWORK_MAINTENANCE_SCHEDULED' },
    ]) {
      expect(parseEvent(withDetail(event, detail))).toMatchObject({ kind: 'ignored' });
    }
    expect(parseEvent({ ...event, 'detail-type': 'AWS Health Abuse Event' })).toMatchObject({
      kind: 'ignored',
    });
  });

  it.each([
    ['detail.statusCode', { statusCode: 'cancelled' }],
    ['detail.startTime', { startTime: 'soon' }],
    ['detail.startTime', { startTime: undefined }],
    ['detail.endTime', { endTime: 42 }],
    ['detail.eventArn', { eventArn: 'not-an-arn' }],
    ['detail.affectedEntities', { affectedEntities: [] }],
    ['detail.affectedEntities', { affectedEntities: [{ entityValue: 'vol-0123456789abcdef0' }] }],
    ['detail.affectedEntities[0]', { affectedEntities: ['i-0123456789abcdef0'] }],
  ])('is invalid naming %s when it is malformed', (field, detail) => {
    expect(parseEvent(withDetail(healthEvent({ instanceIds: [A], startTime: START }), detail))).toMatchObject(
      {
        kind: 'invalid',
        field,
      },
    );
  });

  it('carries a dry-run request from the drainer key (npm run invoke)', () => {
    const event = {
      ...healthEvent({ instanceIds: [A], startTime: START }),
      eksNodeDrainer: { dryRun: true },
    };
    expect(parseEvent(event)).toMatchObject({ kind: 'scheduled', dryRun: true });
  });
});

describe('parseEvent on the scheduled-replacements request', () => {
  it("reads the schedule's request", () => {
    expect(parseEvent(structuredClone(SCHEDULED_REPLACEMENTS_REQUEST))).toEqual({ kind: 'scheduled-sweep' });
  });

  it.each([
    [{ eksNodeDrainer: { scheduledReplacements: 'yes' } }, 'eksNodeDrainer.scheduledReplacements'],
    [{ eksNodeDrainer: { scheduledReplacements: true, dryRun: true } }, 'dryRun'],
    [{ eksNodeDrainer: { scheduledReplacements: true }, source: 'aws.health' }, 'source'],
  ])('is invalid when it carries anything else: %j', (event, field) => {
    expect(parseEvent(event)).toMatchObject({ kind: 'invalid', field });
  });
});
