import { describe, expect, it } from 'vitest';
import { CHECK_REQUEST, parseEvent } from '../../lambda/event.js';

describe('parseEvent: the check request', () => {
  it('parses { eksNodeDrainer: { check: true } } as a check', () => {
    expect(parseEvent({ eksNodeDrainer: { check: true } })).toEqual({ kind: 'check' });
    expect(parseEvent(CHECK_REQUEST)).toEqual({ kind: 'check' });
  });

  it('fails when check is anything but true', () => {
    expect(parseEvent({ eksNodeDrainer: { check: 'yes' } })).toEqual({
      kind: 'invalid',
      field: 'eksNodeDrainer.check',
      problem: 'expected true or nothing, got "yes"',
    });
  });

  it('fails when a check request carries anything else', () => {
    expect(parseEvent({ source: 'aws.autoscaling', eksNodeDrainer: { check: true } })).toMatchObject({
      kind: 'invalid',
      field: 'source',
    });
    expect(parseEvent({ eksNodeDrainer: { check: true, dryRun: true } })).toMatchObject({
      kind: 'invalid',
      field: 'eksNodeDrainer.dryRun',
      problem: 'a check request carries nothing but eksNodeDrainer.check',
    });
  });
});
