import { describe, expect, it } from 'vitest';
import { scheduledEventsLine } from '../../scripts/doctor/scheduled.js';

const FIX = 'npx cdk deploy -c clusterName=demo -c autoScalingGroupNames=<asg-a,asg-b>';
const EVENT = { name: 'ScheduledEventRule', state: 'ENABLED' };
const SWEEP = { name: 'ScheduledReplacementsRule', state: 'ENABLED' };
const replace = { onScheduledEvent: 'replace', scheduledEventLeadSeconds: 3600 } as const;

describe('the doctor on EC2 scheduled events', () => {
  it('passes with both rules enabled, naming the setting and the lead time', () => {
    expect(scheduledEventsLine(replace, { event: EVENT, sweep: SWEEP }, FIX)).toMatchObject({
      status: 'pass',
      title:
        'EC2 scheduled events reach the drainer (ON_SCHEDULED_EVENT=replace, replaced 3600 s before the window (SCHEDULED_EVENT_LEAD_SECONDS))',
    });
  });

  it('passes cordon with the Health rule alone', () => {
    expect(
      scheduledEventsLine({ ...replace, onScheduledEvent: 'cordon' }, { event: EVENT }, FIX),
    ).toMatchObject({ status: 'pass', title: expect.stringContaining('cordoned only') });
  });

  it('warns that ignore lets retired nodes go down undrained', () => {
    expect(scheduledEventsLine({ ...replace, onScheduledEvent: 'ignore' }, {}, FIX)).toMatchObject({
      status: 'warn',
      fix: `${FIX} -c onScheduledEvent=replace`,
    });
  });

  it('fails without the Health rule, or with the schedule of replacements disabled', () => {
    expect(scheduledEventsLine(replace, { sweep: SWEEP }, FIX)).toMatchObject({
      status: 'fail',
      title: expect.stringContaining('no AWS Health rule'),
      fix: FIX,
    });
    expect(
      scheduledEventsLine(replace, { event: EVENT, sweep: { ...SWEEP, state: 'DISABLED' } }, FIX),
    ).toMatchObject({
      status: 'fail',
      fix: 'aws events enable-rule --name ScheduledReplacementsRule',
    });
  });
});
