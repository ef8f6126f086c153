/**
 * The notifier decides, builds and publishes once, and a publish that fails or hangs is a warning
 * and a metric, never a throw. The port here is a hand-written fake; the SNS adapter itself is tested
 * against the local endpoint (test/aws/notifications.test.ts).
 */
import { describe, expect, it } from 'vitest';
import type { Notification } from '../../lambda/notify/message.js';
import {
  type DrainEndInput,
  DrainNotifier,
  type NotificationPort,
  type NotifierSettings,
} from '../../lambda/notify/notify.js';
import { type LogEntry, memoryLogger } from '../../scripts/harness/memory-logger.js';
import { VirtualClock } from '../support/fakes.js';

const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:drains';
const SETTINGS: NotifierSettings = {
  clusterName: 'prod',
  metricsNamespace: 'EksNodeDrainer',
  notifications: { topicArn: TOPIC, notifyOn: 'problems' },
};
const INPUT: DrainEndInput = {
  outcome: 'deadline-continued',
  trigger: 'termination',
  instanceId: 'i-0123456789abcdef0',
  node: 'ip-10-0-1-23.ec2.internal',
  lifecycleResult: 'CONTINUE',
  completed: [],
  attempt: 1,
};

class RecordingPort implements NotificationPort {
  readonly sent: Notification[] = [];
  constructor(
    private readonly answer: (signal: AbortSignal) => Promise<string | undefined> = async () => 'm-1',
  ) {}
  publish(notification: Notification, signal: AbortSignal): Promise<string | undefined> {
    this.sent.push(notification);
    return this.answer(signal);
  }
}

function setup(settings: NotifierSettings = SETTINGS, port = new RecordingPort(), timeoutMs?: number) {
  const entries: LogEntry[] = [];
  const records: Record<string, unknown>[] = [];
  const notifier = new DrainNotifier(settings, {
    log: memoryLogger(entries),
    record: (r) => records.push(r),
    clock: new VirtualClock(Date.parse('2026-11-21T10:00:00.000Z')),
    port: async () => port,
    logGroup: '/aws/lambda/drainer',
    ...(timeoutMs ? { timeoutMs } : {}),
  });
  return { notifier, port, entries, records };
}

describe('DrainNotifier', () => {
  it('publishes one notification of a drain that ended at its deadline, and logs its id', async () => {
    const { notifier, port, entries } = setup();

    expect(await notifier.drainEnded(INPUT)).toBe('published');

    expect(port.sent).toHaveLength(1);
    expect(port.sent[0]?.attributes).toMatchObject({ outcome: 'deadline-continued', cluster: 'prod' });
    expect(port.sent[0]?.message).toContain('/aws/lambda/drainer');
    expect(entries).toContainEqual({
      level: 'info',
      message: 'drain notification published',
      data: { topicArn: TOPIC, messageId: 'm-1', subject: port.sent[0]?.subject },
    });
  });

  it('publishes nothing for a clean drain with notifyOn problems, and one with all', async () => {
    const quiet = setup();
    const all = setup({ ...SETTINGS, notifications: { topicArn: TOPIC, notifyOn: 'all' } });
    const drained = { ...INPUT, outcome: 'drained' as const };

    expect(await quiet.notifier.drainEnded(drained)).toBe('not-wanted');
    expect(await all.notifier.drainEnded(drained)).toBe('published');
    expect(quiet.port.sent).toEqual([]);
    expect(all.port.sent).toHaveLength(1);
  });

  it('publishes nothing for an invocation that handed its drain over', async () => {
    const { notifier, port } = setup();

    await notifier.drainEnded({ ...INPUT, outcome: 'continued-in-new-invocation' });

    expect(port.sent).toEqual([]);
  });

  it('publishes nothing without a topic', async () => {
    const { notifier, port } = setup({ clusterName: 'prod', metricsNamespace: 'EksNodeDrainer' });

    expect(await notifier.drainEnded(INPUT)).toBe('not-wanted');
    expect(port.sent).toEqual([]);
  });

  it('warns with the error and counts NotificationsFailed when the publish fails, without throwing', async () => {
    const failing = new RecordingPort(async () => {
      throw Object.assign(new Error('Topic does not exist'), { name: 'NotFoundException' });
    });
    const { notifier, entries, records } = setup(SETTINGS, failing);

    expect(await notifier.drainEnded(INPUT)).toBe('failed');

    expect(entries).toContainEqual({
      level: 'warn',
      message: 'drain notification failed',
      data: { topicArn: TOPIC, error: 'Topic does not exist', errorName: 'NotFoundException' },
    });
    expect(records).toEqual([
      {
        _aws: {
          Timestamp: Date.parse('2026-11-21T10:00:00.000Z'),
          CloudWatchMetrics: [
            {
              Namespace: 'EksNodeDrainer',
              Dimensions: [['Cluster']],
              Metrics: [{ Name: 'NotificationsFailed', Unit: 'Count' }],
            },
          ],
        },
        Cluster: 'prod',
        NotificationsFailed: 1,
      },
    ]);
  });

  it('gives up on a publish that never answers once its time is up', async () => {
    const hanging = new RecordingPort(
      (signal) =>
        new Promise((_, reject) =>
          signal.addEventListener('abort', () => reject(signal.reason), { once: true }),
        ),
    );
    const { notifier, entries } = setup(SETTINGS, hanging, 20);

    expect(await notifier.drainEnded(INPUT)).toBe('failed');
    expect(entries.find((e) => e.level === 'warn')?.data?.error).toMatch(/timeout|aborted/i);
  });

  it('fails softly when the topic’s client cannot be made', async () => {
    const entries: LogEntry[] = [];
    const notifier = new DrainNotifier(SETTINGS, {
      log: memoryLogger(entries),
      record: () => {},
      clock: new VirtualClock(0),
      port: async () => {
        throw new Error('cannot load the SNS client');
      },
    });

    expect(await notifier.drainEnded(INPUT)).toBe('failed');
    expect(entries.at(-1)?.data?.error).toContain('cannot load the SNS client');
  });
});
